#!/bin/bash
# `make run`: boots the debug kernel with a disk and shows sixfs at work.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

disk=$SIXFS_BUILD/disk.img
if [ ! -f "$disk" ]; then
	# A sparse disk holding another filesystem, which sixfs must refuse.
	truncate -s 1G "$disk"
	mkfs.ext4 -q -F "$disk"
fi
# A sixfs disk, made afresh by the tools (`make run` builds them).
sixfs_disk=$SIXFS_BUILD/sixfs-disk.img
truncate -s 1G "$sixfs_disk"
(cd "$SIXFS_ROOT/tools" && cargo run --quiet -p sixfs -- mkfs -f -L demo "$sixfs_disk")
"$SIXFS_ROOT/scripts/run-guest.sh" -f debug -o "$SIXFS_BUILD/run" -d "$disk" -d "$sixfs_disk" \
	-- sh /sixfs/demo.sh
# What the guest wrote, checked on the host.
echo
echo "### fsck.sixfs -v $sixfs_disk   (on the host, after the guest)"
(cd "$SIXFS_ROOT/tools" && cargo run --quiet -p sixfs -- fsck -v "$sixfs_disk")
(cd "$SIXFS_ROOT/tools" && cargo run --quiet -p sixfs -- dump "$sixfs_disk" space | head -n 12)
