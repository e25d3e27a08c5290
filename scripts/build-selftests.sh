#!/bin/bash
# Builds the kselftests in tools/testing/selftests/sixfs with the kernel
# tree's lib.mk, into $SIXFS_BUILD/selftests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -f "$KERNEL_SRC/tools/testing/selftests/lib.mk" ] || die "no kernel source: run scripts/build-kernel.sh"
mkdir -p "$SIXFS_BUILD/selftests"
make -s -C "$SIXFS_ROOT/tools/testing/selftests/sixfs" KSRC="$KERNEL_SRC" OUTPUT="$SIXFS_BUILD/selftests" all
echo "build-selftests: $SIXFS_BUILD/selftests"
