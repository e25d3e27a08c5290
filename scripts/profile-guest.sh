#!/bin/bash
# `make profile`: one perf_test workload on a mounted sixfs in the perf
# guest under `perf record -a -g -e cpu-clock`, and perf report summaries
# of its timed part (scripts/guest/profile.sh), saved under build/profile/.
#
#   PROFILE_WORKLOAD=rand_insert   the perf_test workload (any of the nine)
#   PROFILE_KEYS=1M                its count (as perf_test's: 1M is 10^6)
#   PROFILE_THREADS=1              its threads
#   PROFILE_FREQ=1000              samples per second per vCPU
#   PROFILE_TIMEOUT=3600           seconds the guest may run
#
# The guest is the one `make bench` boots for its mounted rows (the perf
# kernel and module, 2 vCPUs, 4 GiB, a fresh sparse 4 GiB mkfs.sixfs
# image), with the host's perf and the libraries it needs copied in
# (run-guest.sh -b): perf's version need not match the guest kernel for
# cpu-clock samples, the only event under TCG (no hardware counters).
# Writes build/profile/NAME.txt (the guest's output, perf's reports as
# printed, Rust symbols mangled), NAME.demangled.txt (the same through
# c++filt) and NAME/ (perf.data and the guest's kallsyms, for more
# reports on the host: perf report -i NAME/perf.data --kallsyms
# NAME/kallsyms ...), NAME being WORKLOAD-KEYS-THREADS.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

workload=${PROFILE_WORKLOAD:-rand_insert}
keys=${PROFILE_KEYS:-1M}
threads=${PROFILE_THREADS:-1}
freq=${PROFILE_FREQ:-1000}
perf=$(command -v perf) || die "no perf on the host: apt-get install linux-perf"
command -v c++filt >/dev/null || die "no c++filt on the host: apt-get install binutils"
out=$SIXFS_BUILD/profile
name=$workload-$keys-$threads
mkdir -p "$out"

# As make bench's mounted rows: a fresh filesystem with 256 KiB nodes on a
# sparse image; and a scratch disk the guest writes perf.data to (a tar
# archive on the raw device: the guest has no other way out but its
# serial ports).
disk=$out/profile.img data=$out/profile-data.img
rm -f "$disk" "$data"
truncate -s 4G "$disk"
truncate -s 2G "$data"
(cd "$SIXFS_ROOT/tools" && cargo run --quiet --release -p sixfs -- mkfs -q -L profile "$disk")

# The tree may be shared: name the sources the module was built from.
commit=$(git -C "$SIXFS_ROOT" rev-parse --short HEAD)
[ -z "$(git -C "$SIXFS_ROOT" status --porcelain -- rust Kbuild include)" ] || commit+=" with uncommitted changes"
{
	echo "# make profile PROFILE_WORKLOAD=$workload PROFILE_KEYS=$keys PROFILE_THREADS=$threads PROFILE_FREQ=$freq"
	echo "# sixfs at $commit, perf kernel $(cat "$(kernel_out perf)/include/config/kernel.release"), host $("$perf" --version), $(date -u '+%Y-%m-%d %H:%M UTC')"
} >"$out/$name.txt"
guest_rc=0
"$SIXFS_ROOT/scripts/run-guest.sh" -f perf -m 4G -o "$out/guest" -t "${PROFILE_TIMEOUT:-3600}" \
	-b "$perf" -d "$disk" -d "$data" -- sh /sixfs/profile.sh "$workload" "$keys" "$threads" "$freq" |
	tee -a "$out/$name.txt" || guest_rc=$?
echo "# accel $(cat "$out/guest/accel")" >>"$out/$name.txt"
# The module's symbols are Rust's v0 mangling, which this perf does not
# demangle; binutils' c++filt does (and the crates' hashes go: one crate
# of each name).
c++filt <"$out/$name.txt" | sed 's/\[[0-9a-f]\{16\}\]//g' >"$out/$name.demangled.txt"
rm -rf "${out:?}/$name" && mkdir -p "$out/$name"
tar -xf "$data" -C "$out/$name" 2>/dev/null || :
[ -f "$out/$name/perf.data" ] || echo "profile-guest: no perf.data came back from the guest" >&2
rm -f "$disk" "$data"
[ "$guest_rc" = 0 ] || die "the guest failed (exit $guest_rc, see $out/guest/)"
echo "profile-guest: $out/$name.demangled.txt"
