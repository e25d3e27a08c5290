#!/bin/sh
# Runs inside the perf guest: every lock workload for sixfs's six lock and
# the rw_semaphore (sixfs perf_test), and for bcachefs's six lock and the
# rw_semaphore again (sixfs_anchor, in C), three rounds, same boot.
# Usage: bench-locks.sh COUNT
count=${1:-2M}
modprobe bcachefs || exit 1
insmod /sixfs/sixfs.ko || exit 1
insmod /sixfs/sixfs_anchor.ko || exit 1
sixfs=/sys/kernel/debug/sixfs/perf_test
anchor=/sys/kernel/debug/sixfs_anchor/perf_test
for round in 1 2 3; do
	for workload in read intent write mixed_one mixed_many; do
		for threads in 1 2; do
			for lock in six rwsem; do
				echo "${lock}_$workload $count $threads" >$sixfs || exit 1
			done
			for lock in bch_six rwsem; do
				echo "${lock}_$workload $count $threads" >$anchor || exit 1
			done
		done
	done
done
# sixfs's perf_test reports through the kernel log under "sixfs:", the
# anchor module under "sixfs_anchor:".
dmesg | grep -E 'sixfs(_anchor)?: [a-z_]+: .* per sec'
