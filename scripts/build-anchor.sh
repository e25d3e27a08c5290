#!/bin/bash
# Builds bench/anchor (sixfs_anchor.ko, the C benchmark anchors) for the perf
# kernel, which has bcachefs as a module.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kout=$(kernel_out perf)
out=$SIXFS_BUILD/anchor-perf
[ -f "$kout/.sixfs-stamp" ] || die "the perf kernel is not built: run scripts/build-kernel.sh perf"
grep -q '^CONFIG_BCACHEFS_FS=m' "$kout/.config" || die "the perf kernel has no bcachefs module"
mkdir -p "$out"
rsync -a "$SIXFS_ROOT/bench/anchor/" "$out/"
make -C "$kout" M="$out" LLVM=1 -j"$JOBS" modules >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; die "anchor build failed"; }
if grep -E ': warning:|^WARNING|^ERROR' "$out/build.log" >&2; then
	die "the anchor build printed warnings"
fi
echo "build-anchor: $out/sixfs_anchor.ko"
