#!/bin/sh
# Runs inside the perf guest: sixfs's btree perf_test and the kernel's maple
# tree (sixfs_anchor) doing the same inserts and lookups, for each tree
# size and for 1 and 2 threads, in one boot.
# Usage: bench-btree.sh SIZE...   (sizes as perf_test counts: 10K 1M ...)
# The anchor module also drives bcachefs's six lock: it needs bcachefs.ko.
modprobe bcachefs || exit 1
insmod /sixfs/sixfs.ko || exit 1
insmod /sixfs/sixfs_anchor.ko || exit 1
sixfs=/sys/kernel/debug/sixfs/perf_test
anchor=/sys/kernel/debug/sixfs_anchor/perf_test
for size in "$@"; do
	for threads in 1 2; do
		# sixfs builds a fresh tree per run and fills it untimed before
		# lookups; the maple tree persists, so it is reset before each
		# insert run and looked up once filled.
		for order in rand seq; do
			echo "${order}_insert $size $threads" >$sixfs || exit 1
			echo "${order}_lookup $size $threads" >$sixfs || exit 1
			echo "maple_reset 1 1" >$anchor || exit 1
			echo "maple_${order}_insert $size $threads" >$anchor || exit 1
			echo "maple_${order}_lookup $size $threads" >$anchor || exit 1
		done
		echo "maple_reset 1 1" >$anchor || exit 1
	done
done
dmesg | grep -E 'sixfs(_anchor)?: [a-z_]+: .* per sec'
