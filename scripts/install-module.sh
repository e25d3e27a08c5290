#!/bin/bash
# `make install`: installs sixfs.ko the way the kernel installs modules
# (`modules_install`: /lib/modules/RELEASE/updates/, then depmod), for the
# kernel it was built against: the FLAVOUR kernel, or KDIR's.
# INSTALL_MOD_PATH=/some/root installs under another root (a guest image,
# a package staging directory).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:-debug}
check_flavour "$flavour"
if [ -n "${KDIR:-}" ]; then
	kout=$(cd "$KDIR" && pwd)
	mout=$SIXFS_BUILD/module-kdir
else
	kout=$(kernel_out "$flavour")
	mout=$(module_out "$flavour")
fi
[ -f "$mout/sixfs.ko" ] || die "no sixfs.ko in $mout: run make module first"
make -C "$kout" M="$mout" LLVM=1 INSTALL_MOD_DIR=updates \
	${INSTALL_MOD_PATH:+INSTALL_MOD_PATH="$INSTALL_MOD_PATH"} modules_install
echo "install-module: sixfs.ko for $(cat "$kout/include/config/kernel.release") under ${INSTALL_MOD_PATH:-}/lib/modules"
