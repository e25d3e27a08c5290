#!/bin/sh
# Runs inside the perf guest: the perf_test workloads on a mounted sixfs
# (its test btree on /dev/vda, a fresh mkfs.sixfs disk) beside the same
# workloads on the in-memory btree, for each size and for 1 and 2 threads,
# in one boot; then node write and read throughput against the raw
# sequential throughput of /dev/vdb, a scratch disk of the same kind.
# Usage: bench-mounted.sh SIZE...   (sizes as perf_test counts: 10K 1M ...)
workloads=${BENCH_WORKLOADS:-"rand_insert rand_insert_multi rand_lookup rand_mixed rand_delete seq_insert seq_lookup seq_overwrite seq_delete"}
insmod /sixfs/sixfs.ko || exit 1
mkdir -p /mnt/sixfs
mount -t sixfs /dev/vda /mnt/sixfs || exit 1
mounted=$(ls -d /sys/kernel/debug/sixfs/*-*-*-*-* | head -1)/perf_test
memory=/sys/kernel/debug/sixfs/perf_test
last=
for size in "$@"; do
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
# Node writes: the nodes a random insert left dirty, written by one sync;
# node reads: every node of the tree, read cold after a remount.
echo reset >"$mounted" || exit 1
echo "rand_insert $last 1" >"$mounted" || exit 1
echo sync >"$mounted" || exit 1
echo stats >"$mounted" || exit 1
umount /mnt/sixfs || exit 1
echo 3 >/proc/sys/vm/drop_caches
mount -t sixfs -o ro /dev/vda /mnt/sixfs || exit 1
echo check >"$mounted" || exit 1
umount /mnt/sixfs || exit 1
# The raw device, sequentially, 1 MiB at a time.
echo "raw write: $(dd if=/dev/zero of=/dev/vdb bs=1M count=128 conv=fsync 2>&1 | tail -1)"
echo 3 >/proc/sys/vm/drop_caches
echo "raw read: $(dd if=/dev/vdb of=/dev/null bs=1M count=128 2>&1 | tail -1)"
dmesg | grep -E 'sixfs: (mounted )?[a-z_]+: '
