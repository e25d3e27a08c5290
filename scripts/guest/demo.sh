#!/bin/sh
# Runs inside the guest for `make run`: shows what sixfs can do so far.
set -u
step() { echo; echo "### $*"; }

step "insmod sixfs.ko"
# The module's KUnit suites would run at load (make check runs them): skip
# them here.
echo sixfs_demo_no_kunit >/sys/module/kunit/parameters/filter_glob 2>/dev/null
insmod /sixfs/sixfs.ko || exit 1
dmesg | grep 'sixfs: filesystem type registered' | tail -n 1

step "grep sixfs /proc/filesystems"
grep sixfs /proc/filesystems || exit 1

step "mount -t sixfs /dev/vda /mnt   (vda holds ext4, not sixfs)"
if mount -t sixfs /dev/vda /mnt; then
	echo "unexpected: the foreign disk mounted"
	exit 1
fi
dmesg | grep 'sixfs:' | tail -n 1

step "mount -t sixfs -o errors=continue /dev/vdb /mnt   (vdb made by mkfs.sixfs)"
mount -t sixfs -o errors=continue /dev/vdb /mnt || exit 1
dmesg | grep 'sixfs:' | tail -n 1
grep ' /mnt ' /proc/mounts
ls -la /mnt
df /mnt

step "touch /mnt/file   (files come with the POSIX layer)"
touch /mnt/file && exit 1

perf=$(ls -d /sys/kernel/debug/sixfs/*-*-*-*-* | head -1)/perf_test
step "echo 'seq_insert 100K 1' > $perf   (keys into the filesystem's test btree)"
echo "seq_insert 100K 1" >"$perf" || exit 1
echo "rand_insert 20K 2" >"$perf" || exit 1
echo sync >"$perf" || exit 1
echo stats >"$perf" || exit 1
dmesg | grep 'sixfs: mounted' | tail -n 4

step "umount /mnt; mount -t sixfs -o ro /dev/vdb /mnt; verify the keys"
umount /mnt || exit 1
mount -t sixfs -o ro /dev/vdb /mnt || exit 1
echo "verify seq_insert 100K 1" >"$perf" || exit 1
echo "verify rand_insert 20K 2" >"$perf" || exit 1
echo check >"$perf" || exit 1
dmesg | grep 'sixfs: mounted' | tail -n 3

step "mount -o remount,rw /mnt; mount -o remount,ro /mnt; touch /mnt/file"
mount -o remount,rw /mnt || exit 1
mount -o remount,ro /mnt || exit 1
grep ' /mnt ' /proc/mounts
touch /mnt/file && exit 1

step "rmmod sixfs   (refused while mounted)"
rmmod sixfs && exit 1

step "umount /mnt"
umount /mnt || exit 1

step "rmmod sixfs"
rmmod sixfs || exit 1
grep -q sixfs /proc/filesystems && exit 1
echo "sixfs is gone from /proc/filesystems"
