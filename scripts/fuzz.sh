#!/bin/bash
# Coverage-guided fuzzing of every sixfs parser of on-disk bytes: libFuzzer
# (the libfuzzer-sys crate, built from crates.io) over each target of
# tools/sixfs-fuzz, for SIXFS_FUZZ_SECS seconds each (default 15).
#
#   scripts/fuzz.sh [TARGET...]     all targets when none is named
#
# Writes "ok fuzz TARGET" / "not ok fuzz TARGET" lines to $SIXFS_FUZZ_LOG
# (if set) for scripts/results.py, and exits non-zero when any target
# failed. A failing input is copied to tools/sixfs-fuzz/regressions/TARGET/,
# where cargo test replays it from then on: commit it with the fix. The
# corpus grows across runs in build/fuzz/corpus/ (never committed).
#
# No nightly toolchain and no cargo-fuzz: sanitizer coverage comes from
# stable -C flags. Built with --target so that build scripts and proc
# macros stay uninstrumented. No AddressSanitizer: the core has no unsafe,
# so every out-of-bounds access is already a panic.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

secs=${SIXFS_FUZZ_SECS:-15}
log=${SIXFS_FUZZ_LOG:-/dev/null}
out=$SIXFS_BUILD/fuzz
tools=$SIXFS_ROOT/tools
triple=$(rustc -vV | sed -n 's/^host: //p')
driver=$tools/target/libfuzzer/$triple/release/sixfs-fuzz-libfuzzer
mkdir -p "$out"

report() { echo "$1 fuzz $2" >>"$log"; }

coverage_flags=(
	-Cpasses=sancov-module
	-Cllvm-args=-sanitizer-coverage-level=4
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters
	-Cllvm-args=-sanitizer-coverage-pc-table
	-Cllvm-args=-sanitizer-coverage-trace-compares
	--cfg fuzzing
)
echo "fuzz: building the libFuzzer driver (tools/target/libfuzzer)"
if ! (cd "$tools/sixfs-fuzz/libfuzzer" &&
	RUSTFLAGS="${coverage_flags[*]}" CARGO_TARGET_DIR="$tools/target/libfuzzer" \
		cargo build --quiet --locked --release --target "$triple") ||
	! (cd "$tools" && cargo build --quiet -p sixfs-fuzz); then
	report "not ok" "build"
	exit 1
fi
helper=$tools/target/debug/sixfs-fuzz

targets=("$@")
((${#targets[@]})) || mapfile -t targets < <("$helper" list | cut -d' ' -f1)
"$helper" seeds "$out/corpus" || { report "not ok" "seeds"; exit 1; }

failed=0
for target in "${targets[@]}"; do
	max_len=$("$helper" list | awk -v t="$target" '$1 == t { print $2 }')
	if [ -z "$max_len" ]; then
		echo "fuzz: no target $target"
		report "not ok" "$target (no such target)"
		failed=1
		continue
	fi
	regressions=$tools/sixfs-fuzz/regressions/$target
	artifacts=$out/artifacts/$target
	rm -rf "$artifacts" && mkdir -p "$artifacts" "$regressions"
	seed=${SIXFS_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
	# The first directory takes new corpus entries; the regressions are
	# read only. -timeout catches a loop, -rss_limit_mb a runaway size.
	SIXFS_FUZZ_TARGET=$target "$driver" -max_total_time="$secs" -timeout=5 \
		-rss_limit_mb=2048 -max_len="$max_len" -seed="$seed" -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$out/corpus/$target" "$regressions" \
		>"$out/$target.log" 2>&1
	rc=$?
	stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$out/$target.log" | tail -1 | sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+/\1 runs, /')
	if [ "$rc" -eq 0 ]; then
		echo "fuzz: $target ok in ${secs} s (seed $seed): $stats"
		report "ok" "$target"
		continue
	fi
	failed=1
	echo "fuzz: $target FAILED (seed $seed; log $out/$target.log)"
	grep -E 'panicked at|^SUMMARY|ERROR: libFuzzer' "$out/$target.log" -A1 | head -8 | sed 's/^/    /'
	for artifact in "$artifacts"/*; do
		[ -f "$artifact" ] || continue
		"$helper" save "$target" "$artifact" | sed 's/^/    kept /'
	done
	echo "    replay: cd tools && cargo run -p sixfs-fuzz -- replay $target FILE"
	report "not ok" "$target"
done
exit "$failed"
