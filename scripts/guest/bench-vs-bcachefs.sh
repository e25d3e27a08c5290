#!/bin/sh
# Runs inside the perf guest: the perf_test workloads on a mounted sixfs
# (/dev/vda, a fresh mkfs.sixfs disk) beside bcachefs's own perf_test on a
# mounted bcachefs (/dev/vdb, a fresh copy of an empty filesystem; left out
# when there is no second disk), 1 and 2 threads, in one boot.
# Usage: bench-vs-bcachefs.sh SIZE[:WORKLOAD,...]...   (sizes as sixfs's
# perf_test counts: 1M is 10^6; a size may name its own workloads, as
# 1M:seq_insert,seq_lookup, for sizes too slow for all nine; the others
# run BENCH_WORKLOADS, default all nine)
#
# Each row starts both filesystems from an empty tree and gives them the
# keys the workload needs, untimed; then bcachefs runs "NAME SIZE THREADS",
# then sixfs the same line. Every measured line is printed as
# "vs FS NAME SIZE THREADS: <kernel log line>" (or "...: failed").
[ $# -gt 0 ] || { echo "usage: bench-vs-bcachefs.sh SIZE[:WORKLOAD,...]..."; exit 1; }
all_workloads=${BENCH_WORKLOADS:-"rand_insert rand_insert_multi rand_lookup rand_mixed rand_delete seq_insert seq_lookup seq_overwrite seq_delete"}
threads_list=${BENCH_VS_THREADS:-1 2}

insmod /sixfs/sixfs.ko || exit 1
mkdir -p /mnt/sixfs /mnt/bcachefs
mount -t sixfs /dev/vda /mnt/sixfs || exit 1
sixfs=$(ls -d /sys/kernel/debug/sixfs/*-*-*-*-* | head -1)/perf_test
# The node cache's bound (in nodes) depends on the guest's memory and the
# device: the table's notes quote it.
echo stats >"$sixfs" || exit 1
echo "vs: sixfs $(dmesg | grep -o 'stats: cached .*' | tail -1)"
bcachefs=
if [ -b /dev/vdb ]; then
	modprobe bcachefs || exit 1
	mount -t bcachefs /dev/vdb /mnt/bcachefs || exit 1
	bcachefs=$(ls -d /sys/fs/bcachefs/*-*-*-*-* | head -1)/perf_test
	[ -e "$bcachefs" ] || {
		echo "no $bcachefs: the kernel lacks CONFIG_BCACHEFS_TESTS"
		exit 1
	}
	echo "vs: bcachefs on /dev/vdb"
else
	echo "vs: no bcachefs disk: sixfs alone"
fi

# measure FS FILE LINE: runs one perf_test line with the kernel log cleared
# first, so that the report is the only line naming the workload after it
# (both print "NAME: COUNT with N threads in ...").
measure() {
	fs=$1 file=$2 line=$3 name=${3%% *}
	dmesg -c >/dev/null
	if echo "$line" >"$file"; then
		report=$(dmesg | grep -E "$name: .* nsec per iter" | tail -1)
		echo "vs $fs $line: ${report:-no report}"
	else
		echo "vs $fs $line: failed"
	fi
}

for spec in "$@"; do
	size=${spec%%:*}
	workloads=$all_workloads
	case $spec in *:*) workloads=$(echo "${spec#*:}" | tr ',' ' ') ;; esac
	# Both files get the count in digits: bcachefs reads "1M" as 2^20
	# and refuses "10K" (its suffixes are k, M, G in powers of 1024).
	case $size in
	*[Kk]) size=$((${size%?} * 1000)) ;;
	*[Mm]) size=$((${size%?} * 1000000)) ;;
	*[Gg]) size=$((${size%?} * 1000000000)) ;;
	esac
	for threads in $threads_list; do
		for w in $workloads; do
			if [ -n "$bcachefs" ]; then
				# Empty, as bcachefs's own ktest perf tests do
				# between runs (seq_delete deletes every test key,
				# whatever its count), then the keys the workload
				# looks for, by bcachefs's own insert with the same
				# count and threads.
				echo "seq_delete $size 1" >"$bcachefs" || exit 1
				case $w in
				rand_lookup | rand_mixed | rand_delete)
					echo "rand_insert $size $threads" >"$bcachefs" || exit 1 ;;
				seq_lookup | seq_overwrite | seq_delete)
					echo "seq_insert $size $threads" >"$bcachefs" || exit 1 ;;
				esac
				measure bcachefs "$bcachefs" "$w $size $threads"
			fi
			# sixfs's workloads fill the tree themselves, untimed.
			echo reset >"$sixfs" || exit 1
			measure sixfs "$sixfs" "$w $size $threads"
		done
	done
done
umount /mnt/sixfs || exit 1
[ -z "$bcachefs" ] || umount /mnt/bcachefs || exit 1
