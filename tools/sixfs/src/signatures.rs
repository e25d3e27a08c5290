// SPDX-License-Identifier: GPL-2.0

//! Recognising a filesystem already on a device, so that mkfs does not
//! destroy one by mistake: ext2/3/4, XFS, btrfs and sixfs, by their magic
//! numbers (the places libblkid looks at too).

use sixfs_core::device::Device;
use sixfs_core::format::superblock::{probe, SUPERBLOCK_OFFSET};
use sixfs_core::format::superblock_io::read_superblocks;
use std::ops::Range;

/// A filesystem signature found on a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The filesystem's name, as `blkid` says it.
    pub name: &'static str,
    /// The bytes to clear so that nobody recognises it any more (the
    /// sector holding its magic).
    pub wipe: Range<u64>,
}

/// One known magic number: `magic` at byte `offset`.
struct Magic {
    name: &'static str,
    offset: u64,
    magic: &'static [u8],
}

const MAGICS: [Magic; 3] = [
    // The ext2/3/4 superblock is at 1024; s_magic (0xEF53, little-endian)
    // at 0x38 in it.
    Magic {
        name: "ext2/3/4",
        offset: 1024 + 0x38,
        magic: &[0x53, 0xef],
    },
    // XFS: "XFSB" at the start of its superblock, at byte 0.
    Magic {
        name: "xfs",
        offset: 0,
        magic: b"XFSB",
    },
    // btrfs: "_BHRfS_M" at 0x40 in its superblock, at 64 KiB.
    Magic {
        name: "btrfs",
        offset: 64 * 1024 + 0x40,
        magic: b"_BHRfS_M",
    },
];

/// Reads the sector holding `offset`, if the device has it.
fn sector_at(dev: &dyn Device, offset: u64) -> Option<(u64, [u8; 512])> {
    let start = offset - offset % 512;
    let mut sector = [0u8; 512];
    dev.read(start, &mut sector).ok()?;
    Some((start, sector))
}

/// Every filesystem signature on `dev`.
pub fn find(dev: &dyn Device) -> Vec<Signature> {
    let mut found = Vec::new();
    for magic in &MAGICS {
        let Some((start, sector)) = sector_at(dev, magic.offset) else {
            continue;
        };
        let at = (magic.offset - start) as usize;
        if sector.get(at..at + magic.magic.len()) == Some(magic.magic) {
            found.push(Signature {
                name: magic.name,
                wipe: start..start + 512,
            });
        }
    }
    // sixfs: a magic at the primary's place, or a valid backup (a
    // filesystem fsck could bring back). mkfs rewrites the primary and
    // clears every place a backup may be, so the primary's sector is what
    // to name here.
    let primary_magic =
        sector_at(dev, SUPERBLOCK_OFFSET).is_some_and(|(_, sector)| probe(&sector).is_ok());
    if primary_magic || read_superblocks(dev).newest().is_some() {
        found.push(Signature {
            name: "sixfs",
            wipe: SUPERBLOCK_OFFSET..SUPERBLOCK_OFFSET + 512,
        });
    }
    found
}
