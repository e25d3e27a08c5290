#!/bin/bash
# `make bench`: boots the perf kernel and runs the benchmarks, writing
# tables under bench/results/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

count=${BENCH_COUNT:-2M}
out=$SIXFS_BUILD/bench
mkdir -p "$out" "$SIXFS_ROOT/bench/results"
"$SIXFS_ROOT/scripts/run-guest.sh" -f perf -o "$out/guest" -t 3000 -a "$SIXFS_BUILD/anchor-perf/sixfs_anchor.ko" -- sh /sixfs/bench-locks.sh "$count" | tee "$out/locks.log"
python3 "$SIXFS_ROOT/scripts/bench-table.py" locks "$out/locks.log" \
	--command "make bench (BENCH_COUNT=$count)" --accel "$(cat "$out/guest/accel")" >"$SIXFS_ROOT/bench/results/six-kernel.md"
cat "$SIXFS_ROOT/bench/results/six-kernel.md"
