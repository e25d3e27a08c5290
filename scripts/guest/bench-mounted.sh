#!/bin/sh
# Runs inside the perf guest: the perf_test workloads on a mounted sixfs
# (its test btree on /dev/vda, a fresh mkfs.sixfs disk) beside the same
# workloads on the in-memory btree, for each size and for 1 and 2 threads,
# in one boot; then node write and read throughput against the raw
# sequential throughput of /dev/vdb, a scratch disk of the same kind.
# Usage: bench-mounted.sh SIZE[:WORKLOAD,...]...   (sizes as perf_test
# counts: 10K 1M ...; a size may name its own workloads, as 1M:rand_insert,
# seq_insert, for sizes too slow for all nine under emulation).
# BENCH_MOUNTED_IO_KEYS: the random keys inserted for the node write and
# read measurement (default: the last size); keep the tree within the node
# cache, or the inserts thrash it (see bench/results/btree-mounted.md).
all_workloads=${BENCH_WORKLOADS:-"rand_insert rand_insert_multi rand_lookup rand_mixed rand_delete seq_insert seq_lookup seq_overwrite seq_delete"}
insmod /sixfs/sixfs.ko || exit 1
mkdir -p /mnt/sixfs
mount -t sixfs /dev/vda /mnt/sixfs || exit 1
mounted=$(ls -d /sys/kernel/debug/sixfs/*-*-*-*-* | head -1)/perf_test
memory=/sys/kernel/debug/sixfs/perf_test
last=
for spec in "$@"; do
	size=${spec%%:*}
	workloads=$all_workloads
	case $spec in *:*) workloads=$(echo "${spec#*:}" | tr ',' ' ') ;; esac
	for threads in 1 2; do
		for w in $workloads; do
			# Each mounted run starts from an empty tree, as the
			# in-memory one does (reset is not timed).
			echo reset >"$mounted" || exit 1
			echo "$w $size $threads" >"$mounted" || exit 1
			echo "$w $size $threads" >"$memory" || exit 1
		done
	done
	last=$size
done
io_keys=${BENCH_MOUNTED_IO_KEYS:-$last}
# Node writes: the nodes a random insert left dirty, written by one sync;
# node reads: every node of the tree, read cold after a remount.
echo reset >"$mounted" || exit 1
echo "rand_insert $io_keys 1" >"$mounted" || exit 1
echo sync >"$mounted" || exit 1
echo stats >"$mounted" || exit 1
umount /mnt/sixfs || exit 1
echo 3 >/proc/sys/vm/drop_caches
mount -t sixfs -o ro /dev/vda /mnt/sixfs || exit 1
echo check >"$mounted" || exit 1
umount /mnt/sixfs || exit 1
# The raw device, sequentially, 128 MiB 1 MiB at a time. Timed here from
# /proc/uptime (10 ms steps): busybox's dd may print no rate.
timed_dd() {
	what=$1
	shift
	start=$(cut -d' ' -f1 /proc/uptime)
	dd "$@" bs=1M count=128 2>/dev/null || return 1
	end=$(cut -d' ' -f1 /proc/uptime)
	awk -v w="$what" -v s="$start" -v e="$end" 'BEGIN {
		t = e - s; if (t < 0.01) t = 0.01
		printf "raw %s: 134217728 bytes copied, %.2f seconds, %.1f MB/s\n", w, t, 134.217728 / t
	}'
}
timed_dd write if=/dev/zero of=/dev/vdb conv=fsync || exit 1
echo 3 >/proc/sys/vm/drop_caches
timed_dd read if=/dev/vdb of=/dev/null || exit 1
dmesg | grep -E 'sixfs: (mounted )?[a-z_]+: '
