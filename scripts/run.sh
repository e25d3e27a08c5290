#!/bin/bash
# `make run`: boots the debug kernel with a disk and shows sixfs at work.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

disk=$SIXFS_BUILD/disk.img
if [ ! -f "$disk" ]; then
	# A sparse default disk; it holds ext4 until mkfs.sixfs exists.
	truncate -s 1G "$disk"
	mkfs.ext4 -q -F "$disk"
fi
exec "$SIXFS_ROOT/scripts/run-guest.sh" -f debug -o "$SIXFS_BUILD/run" -d "$disk" -- sh /sixfs/demo.sh
