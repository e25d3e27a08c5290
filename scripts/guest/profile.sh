#!/bin/sh
# Runs inside the perf guest (scripts/profile-guest.sh): one perf_test
# workload on a mounted sixfs (/dev/vda, a fresh mkfs.sixfs disk) under
# `perf record -a -g -e cpu-clock`, then perf report summaries of the
# timed part of the run. /dev/vdb, when there, is a scratch disk: perf.data
# and the guest's kallsyms are written to it as a tar archive, for perf
# report on the host.
# Usage: profile.sh WORKLOAD COUNT THREADS [FREQ]   (COUNT as perf_test's:
# 1M is 10^6; FREQ samples per second per CPU, default 1000)
[ $# -ge 3 ] || { echo "usage: profile.sh WORKLOAD COUNT THREADS [FREQ]"; exit 1; }
workload=$1 count=$2 threads=$3 freq=${4:-1000}
perf=/usr/bin/perf
[ -x "$perf" ] || { echo "no $perf in the guest (run-guest.sh -b /usr/bin/perf)"; exit 1; }
case $count in
*[Kk]) count=$((${count%?} * 1000)) ;;
*[Mm]) count=$((${count%?} * 1000000)) ;;
*[Gg]) count=$((${count%?} * 1000000000)) ;;
esac

# perf resolves kernel and module symbols from /proc/kallsyms (the guest
# has no vmlinux and no debug info): it must show addresses.
sysctl -qw kernel.kptr_restrict=0 kernel.perf_event_paranoid=-1 || exit 1
insmod /sixfs/sixfs.ko || exit 1
mkdir -p /mnt/sixfs
mount -t sixfs /dev/vda /mnt/sixfs || exit 1
file=$(ls -d /sys/kernel/debug/sixfs/*-*-*-*-* | head -1)/perf_test
echo reset >"$file" || exit 1

# The workloads that need keys insert them themselves, untimed, in the
# same write to perf_test, on threads of the same name: the whole write is
# recorded, and the reports below keep only the timed part, the window
# that ends at the kernel's report line (printk's timestamp and perf's
# sample times are both local_clock) and lasts the measured wall time.
dmesg -c >/dev/null
cd /tmp || exit 1
echo "profile: perf record -e cpu-clock -F $freq -a -g -- echo '$workload $count $threads' > $file"
# -N -B: no build-id cache or build-id collection: nothing here looks
# them up, and collecting them reads every object a sample hit, at exit.
$perf record -q -e cpu-clock -F "$freq" -a -g -N -B -o /tmp/perf.data \
	-- sh -c "echo '$workload $count $threads' >'$file'" || exit 1
line=$(dmesg | grep -E "mounted $workload: .* nsec per iter" | tail -1)
[ -n "$line" ] || { echo "profile: no report from perf_test:"; dmesg | tail -20; exit 1; }
echo "profile: $line"
window=$(echo "$line" | awk -v n="$count" -v t="$threads" '{
	ts = $0; sub(/^\[ */, "", ts); sub(/\].*/, "", ts)
	ns = $0; sub(/ nsec per iter.*/, "", ns); sub(/.* /, "", ns)
	secs = ns * int(n / t) / 1e9
	printf "%.6f,%.6f", ts - secs, ts
}')
echo "profile: timed window $window (seconds of local_clock)"
cp /proc/kallsyms /tmp/kallsyms
# The timed run's threads: the last THREADS kernel threads forked (by
# kthreadd, pid 2) before the window opens, since the clock starts once
# they all run. Found by tid, not name: 6.12 names a kthread as it forks
# it, with no COMM event, so perf knows them all as "kthreadd".
start=${window%,*}
tids=$($perf script -i /tmp/perf.data --show-task-events -F tid,time,event 2>/dev/null | awk -v s="$start" -v n="$threads" '
	/PERF_RECORD_FORK\(/ && /\):\(2:2\)/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) t = substr($i, 1, length($i) - 1)
		if (t + 0 > s + 0) next
		c = $0; sub(/.*PERF_RECORD_FORK\(/, "", c); sub(/:.*/, "", c)
		last[k++] = c
	}
	END { for (i = (k > n ? k - n : 0); i < k; i++) printf "%s%s", (i > (k > n ? k - n : 0) ? "," : ""), last[i] }')
[ -n "$tids" ] || { echo "profile: no sixfs_perf thread forked before the window"; exit 1; }
echo "profile: writer threads (sixfs_perf/0..$((threads - 1))): tid $tids"

# The reports: where the samples of both vCPUs went, by thread; then the
# writer threads, by module and by symbol, self and inclusive (children),
# in percent of their own samples (inclusive: the first lines are the
# kthread's frames, at 100%, hence more of them). Their keys hold the pid:
# perf report's --tid drops or keeps whole entries by the thread of their
# first sample, so an entry merged across threads (a symbol alone, as
# __memmove or kthread) would count the other threads' samples too.
# report LINES ARGS...: the first LINES entries of one perf report.
report() {
	lines=$1
	shift
	$perf report -i /tmp/perf.data --stdio --time "$window" -g none "$@" 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -n "$lines"
}
echo "profile: == all CPUs, by thread (% of all samples) =="
report 20 --sort pid --no-children
echo "profile: == all CPUs, self (% of all samples) =="
report 40 --sort sym --no-children
echo "profile: == writer, by module (% of its samples) =="
report 10 --tid "$tids" --percentage relative --sort pid,dso --no-children
echo "profile: == writer, self (% of its samples) =="
report 40 --tid "$tids" --percentage relative --sort pid,sym --no-children
echo "profile: == writer, children (inclusive, % of its samples) =="
report 60 --tid "$tids" --percentage relative --sort pid,sym --children
echo "profile: == end =="
if [ -b /dev/vdb ]; then
	echo "window $window" >/tmp/profile.info
	echo "$line" >>/tmp/profile.info
	tar -cf /dev/vdb -C /tmp perf.data kallsyms profile.info || exit 1
	sync
fi
umount /mnt/sixfs || exit 1
