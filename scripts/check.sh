#!/bin/bash
# `make check`: every test of sixfs, then one summary whose last line is
# "N passed, N failed". Exits non-zero when any test failed.
#
# Expects the debug kernel, module and selftests to be built (the Makefile's
# check target builds them first).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

results=$SIXFS_BUILD/check
rm -rf "$results" && mkdir -p "$results"

echo "== static checks"
lint() {
	local name=$1
	shift
	if "$@" >>"$results/lint.out" 2>&1; then
		echo "ok $name" >>"$results/lint.log"
	else
		echo "not ok $name" >>"$results/lint.log"
		echo "check: $name failed (see $results/lint.out)"
	fi
}
rust_sources=$(cd "$SIXFS_ROOT" && git ls-files 'rust/*.rs' 'tools/*.rs' 2>/dev/null || find rust tools -name '*.rs')
lint "layering (scripts/check-layers.py)" python3 "$SIXFS_ROOT/scripts/check-layers.py"
lint "rustfmt" bash -c "cd '$SIXFS_ROOT' && rustfmt --check $(echo $rust_sources)"
lint "cargo clippy" bash -c "cd '$SIXFS_ROOT/tools' && cargo clippy --quiet --all-targets -- -D warnings"
lint "module build (clippy, no warnings)" env CLIPPY=1 "$SIXFS_ROOT/scripts/build-module.sh" debug
lint "module build for the perf kernel (no debug checks, no KUnit)" "$SIXFS_ROOT/scripts/build-module.sh" perf

echo "== userspace: cargo test"
(cd "$SIXFS_ROOT/tools" && cargo test --workspace --no-fail-fast 2>&1) | tee "$results/cargo.log"
cargo_rc=${PIPESTATUS[0]}

echo "== userspace: fuzzing every on-disk parser (${SIXFS_FUZZ_SECS:-15} s each)"
SIXFS_FUZZ_SECS=${SIXFS_FUZZ_SECS:-15} SIXFS_FUZZ_LOG=$results/fuzz.log \
	"$SIXFS_ROOT/scripts/fuzz.sh" 2>&1 | tee "$results/fuzz.out"

echo "== userspace: loom model checking"
# A separate target directory: --cfg loom rebuilds everything.
(cd "$SIXFS_ROOT/tools" && RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
	cargo test --release -p sixfs-core --test six_loom 2>&1) | tee "$results/loom.log"
loom_rc=${PIPESTATUS[0]}

echo "== guest: KUnit and kselftests on the debug kernel"
# A disk with a foreign filesystem for the refused-mount tests.
foreign=$results/ext4.img
truncate -s 64M "$foreign"
mkfs.ext4 -q -F "$foreign"
# The sixfs disks of the mount tests (tools/testing/selftests/sixfs/
# mount_test.c): /dev/vdb made by mkfs.sixfs; /dev/vdc the same with a bit
# of its primary superblock flipped (it mounts from the backup); /dev/vdd a
# second filesystem; /dev/vde with a bit flipped in both copies.
sixfs_disk=$results/sixfs.img backup_disk=$results/sixfs-bad-primary.img
second_disk=$results/sixfs-second.img corrupt_disk=$results/sixfs-corrupt.img
truncate -s 64M "$sixfs_disk" "$second_disk"
(cd "$SIXFS_ROOT/tools" && cargo run --quiet -p sixfs -- mkfs -q -L check "$sixfs_disk" &&
	cargo run --quiet -p sixfs -- mkfs -q -L second "$second_disk")
flip() { printf '\x80' | dd of="$1" bs=1 seek=$(($2 + 0x20)) conv=notrunc status=none; }
cp --sparse=always "$sixfs_disk" "$backup_disk"
flip "$backup_disk" 4096
cp --sparse=always "$backup_disk" "$corrupt_disk"
# The backup of a 64 MiB filesystem is its last 4 KiB.
flip "$corrupt_disk" $((64 * 1024 * 1024 - 4096))
# The disks of the store tests (tools/testing/selftests/sixfs/store_test.c),
# with 4 KiB nodes: /dev/vdf of 512 MiB for a million keys, /dev/vdg of
# 4 MiB to fill, /dev/vdh of 16 MiB for the rest (all sparse).
# /dev/vdi, 16 MiB, is the device-mapper tests' (dm_test.c: dm-linear,
# dm-error and dm-flakey over it).
# The power cuts of logwrites_test.c: /dev/vdj (16 MiB) the filesystem,
# recorded through dm-log-writes onto /dev/vdk (the log, 512 MiB sparse),
# then replayed onto /dev/vdl (16 MiB) up to each point.
big_disk=$results/sixfs-big.img small_disk=$results/sixfs-small.img
scratch_disk=$results/sixfs-scratch.img dm_disk=$results/sixfs-dm.img
lw_disk=$results/sixfs-lw.img lw_log=$results/lw-log.img lw_scratch=$results/sixfs-lw-replay.img
rm -f "$big_disk" "$small_disk" "$scratch_disk" "$dm_disk" "$lw_disk" "$lw_log" "$lw_scratch"
truncate -s 512M "$big_disk" "$lw_log"
truncate -s 4M "$small_disk"
truncate -s 16M "$scratch_disk" "$dm_disk" "$lw_disk" "$lw_scratch"
(cd "$SIXFS_ROOT/tools" &&
	cargo run --quiet -p sixfs -- mkfs -q -L big --node-size 4k --bucket-size 64k "$big_disk" &&
	cargo run --quiet -p sixfs -- mkfs -q -L small --node-size 4k --bucket-size 16k "$small_disk" &&
	cargo run --quiet -p sixfs -- mkfs -q -L scratch --node-size 4k --bucket-size 16k "$scratch_disk" &&
	cargo run --quiet -p sixfs -- mkfs -q -L dm --node-size 4k --bucket-size 16k "$dm_disk" &&
	cargo run --quiet -p sixfs -- mkfs -q -L lw --node-size 4k --bucket-size 16k "$lw_disk")
"$SIXFS_ROOT/scripts/run-guest.sh" -f debug -t 3000 -o "$results/guest" -d "$foreign" \
	-d "$sixfs_disk" -d "$backup_disk" -d "$second_disk" -d "$corrupt_disk" \
	-d "$big_disk" -d "$small_disk" -d "$scratch_disk" -d "$dm_disk" \
	-d "$lw_disk" -d "$lw_log" -d "$lw_scratch" -- sh /sixfs/check.sh
guest_rc=$?
# The disks the guest wrote pass fsck on the host (exit 0: clean); the
# replay disk holds the end of the recording (or the first failing point).
for disk in "$big_disk" "$small_disk" "$scratch_disk" "$dm_disk" "$lw_disk" "$lw_scratch"; do
	if (cd "$SIXFS_ROOT/tools" && cargo run --quiet -p sixfs -- fsck -n "$disk"); then
		echo "ok fsck $(basename "$disk")"
	else
		echo "not ok fsck $(basename "$disk")"
	fi
done | tee "$results/fsck.log"
cp "$results/guest/output.log" "$results/guest.log" 2>/dev/null || : >"$results/guest.log"

python3 "$SIXFS_ROOT/scripts/results.py" --lint "$results/lint.log" --fuzz "$results/fuzz.log" --fsck "$results/fsck.log" \
	--cargo "$results/cargo.log:$cargo_rc" --cargo "$results/loom.log:$loom_rc" \
	--guest "$results/guest.log" --guest-rc "$guest_rc" --kunit-sources "$SIXFS_ROOT/rust"
