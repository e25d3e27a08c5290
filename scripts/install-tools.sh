#!/bin/bash
# `make install` (second half): installs the sixfs tools as
# $DESTDIR$PREFIX/sbin/sixfs with the links mkfs.sixfs and fsck.sixfs, the
# names under which mkfs(8) and fsck(8) look for them (PREFIX defaults to
# /usr/local, whose sbin is on root's PATH).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

prefix=${PREFIX:-/usr/local}
sbin=${DESTDIR:-}$prefix/sbin
(cd "$SIXFS_ROOT/tools" && cargo build --release --quiet -p sixfs)
install -D -m 0755 "$SIXFS_ROOT/tools/target/release/sixfs" "$sbin/sixfs"
for name in mkfs.sixfs fsck.sixfs; do
	ln -sf sixfs "$sbin/$name"
done
echo "install-tools: sixfs, mkfs.sixfs and fsck.sixfs in $sbin"
