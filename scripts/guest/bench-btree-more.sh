#!/bin/sh
# Runs inside the perf guest: the perf_test workloads that have no maple
# tree counterpart (batched inserts, mixed lookups and updates, deletes,
# overwrites), each on a fresh tree of SIZE keys, for 1 and 2 threads.
# Usage: bench-btree-more.sh SIZE...   (sizes as perf_test counts: 10K 1M ...)
insmod /sixfs/sixfs.ko || exit 1
sixfs=/sys/kernel/debug/sixfs/perf_test
for size in "$@"; do
	for threads in 1 2; do
		for workload in rand_insert_multi rand_mixed rand_delete seq_overwrite seq_delete; do
			echo "$workload $size $threads" >$sixfs || exit 1
		done
	done
done
dmesg | grep -E 'sixfs: [a-z_]+: .* per sec'
