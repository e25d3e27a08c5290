#!/bin/bash
# Builds sixfs.ko for one kernel flavour. Kbuild writes its objects next to
# the sources, so the sources are mirrored (with their mtimes, to keep the
# build incremental) into a per-flavour directory under the build directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:-debug}
check_flavour "$flavour"
if [ -n "${KDIR:-}" ]; then
	# Someone's own kernel tree: it must be configured (with CONFIG_RUST)
	# and built, as for any out-of-tree module.
	kout=$(cd "$KDIR" && pwd) || die "KDIR=$KDIR: no such directory"
	[ -f "$kout/.config" ] || die "KDIR=$KDIR: not a configured kernel tree (no .config)"
	grep -q '^CONFIG_RUST=y' "$kout/.config" || die "KDIR=$KDIR: the kernel is configured without CONFIG_RUST"
	[ -f "$kout/Module.symvers" ] || die "KDIR=$KDIR: the kernel is not built (no Module.symvers)"
	mout=$SIXFS_BUILD/module-kdir
else
	kout=$(kernel_out "$flavour")
	mout=$(module_out "$flavour")
	[ -f "$kout/.sixfs-stamp" ] || die "the $flavour kernel is not built: run scripts/build-kernel.sh $flavour"
fi

mkdir -p "$mout"
rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='*.mod*' \
	--exclude='Module.symvers' --exclude='modules.order' --exclude='.tmp*' \
	--include='/Kbuild' --include='/rust/***' --include='/include/***' --exclude='/*' \
	"$SIXFS_ROOT/" "$mout/"

log=$mout/build.log
if ! make -C "$kout" M="$mout" LLVM=1 -j"$JOBS" ${CLIPPY:+CLIPPY=1} modules >"$log" 2>&1; then
	cat "$log" >&2
	die "module build failed for the $flavour kernel"
fi
# The module must build without a single compiler or clippy warning.
if grep -E '^(warning|error)|: warning:|^ERROR|^WARNING' "$log" >&2; then
	die "the module build printed warnings (full log: $log)"
fi
echo "build-module: $mout/sixfs.ko"
