#!/bin/sh
# Runs inside the test guest: the KUnit suites of sixfs.ko, then every
# kselftest. Each part starts with a SIXFS_SECTION line that
# scripts/results.py uses to count results.
cd /sixfs || exit 1

echo "SIXFS_SECTION kunit"
# KUnit runs the module's suites when it is loaded; read their KTAP back
# from debugfs before unloading.
if insmod /sixfs/sixfs.ko; then
	for suite in /sys/kernel/debug/kunit/sixfs_*; do
		[ -f "$suite/results" ] && cat "$suite/results"
	done
	rmmod sixfs || echo "not ok - rmmod sixfs failed"
else
	echo "not ok - insmod sixfs.ko failed"
fi
# The selftests load the module many times: don't run the suites again.
echo sixfs_suites_already_ran >/sys/module/kunit/parameters/filter_glob

for test in /sixfs/selftests/*; do
	[ -x "$test" ] || continue
	echo "SIXFS_SECTION kselftest $(basename "$test")"
	"$test"
	echo "SIXFS_EXIT $?"
done
