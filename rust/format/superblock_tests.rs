// SPDX-License-Identifier: GPL-2.0

//! Tests of the superblock's encoding and checks, run by `cargo test` and
//! as the KUnit suite `sixfs_superblock`. The exhaustive bit-flip test and
//! the fuzzer are userspace-only (tools/sixfs-core/tests/superblock_props.rs):
//! too slow for a guest without KVM.

use super::btree_root::{BtreeRoot, RootError, BTREE_ROOT_SLOTS};
use super::features::{Access, Features};
use super::geometry::{Geometry, GeometryError};
use super::label::{Label, LabelError};
use super::space_map::SpaceMapLocation;
use super::superblock::{
    probe, JournalCursor, JournalLocation, ProbeError, Superblock, SuperblockError, MAGIC,
    SUPERBLOCK_SIZE, VERSION,
};
use crate::platform::crc32c::crc32c;
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, ok, test_suite};

/// 64 MiB in 1 MiB buckets of 4 KiB blocks and 64 KiB nodes.
fn geometry() -> Geometry {
    Geometry {
        block_size: 4096,
        bucket_size: 1 << 20,
        node_size: 64 << 10,
        block_count: 16384,
    }
}

fn sample() -> Result<Superblock, LabelError> {
    let mut sb = Superblock::new(geometry(), [0x5a; 16], Label::new("scratch")?);
    sb.seq = 42;
    sb.clean = false;
    // After the space map's two copies (buckets 1 and 2).
    sb.journal = JournalLocation {
        first_bucket: 3,
        bucket_count: 4,
    };
    sb.roots[0] = BtreeRoot::Node {
        sector: (8 << 20) / 512,
        level: 2,
    };
    sb.roots[3] = BtreeRoot::Node {
        sector: (9 << 20) / 512 + 128,
        level: 0,
    };
    Ok(sb)
}

fn image(sb: &Superblock) -> Result<Vec<u8>, SuperblockError> {
    let mut buf = Vec::new();
    buf.try_extend_with(SUPERBLOCK_SIZE, 0u8)
        .map_err(|_| SuperblockError::TooShort(0))?;
    sb.encode(&mut buf)?;
    Ok(buf)
}

/// Sets the little-endian `value` at `offset` and fixes the checksum, as
/// a buggy (or future) writer would produce it.
fn patch(buf: &mut [u8], offset: usize, value: &[u8]) {
    buf[offset..offset + value.len()].copy_from_slice(value);
    let csum = crc32c(&buf[..SUPERBLOCK_SIZE - 4]);
    buf[SUPERBLOCK_SIZE - 4..SUPERBLOCK_SIZE].copy_from_slice(&csum.to_le_bytes());
}

test_suite! {
    sixfs_superblock;

    fn probe_accepts_the_magic() {
        let mut block = [0u8; 64];
        block[..MAGIC.len()].copy_from_slice(&MAGIC);
        check_eq!(probe(&block), Ok(()));
    }

    fn probe_refuses_zeroes_and_near_misses() {
        let mut block = [0u8; 64];
        check_eq!(probe(&block), Err(ProbeError::NoMagic));
        block[..MAGIC.len()].copy_from_slice(&MAGIC);
        block[MAGIC.len() - 1] ^= 1;
        check_eq!(probe(&block), Err(ProbeError::NoMagic));
    }

    fn probe_refuses_a_short_block() {
        check_eq!(probe(&MAGIC[..MAGIC.len() - 1]), Err(ProbeError::TooSmall));
    }

    fn encode_then_decode_gives_the_same_superblock() {
        let sb = ok!(sample());
        let buf = ok!(image(&sb));
        check_eq!(Superblock::decode(&buf), Ok(sb));
        check_eq!(probe(&buf), Ok(()));
        // Fixed places a hexdump reader relies on.
        check_eq!(&buf[..8], &MAGIC[..]);
        check_eq!(&buf[8..12], &VERSION.to_le_bytes()[..]);
        check_eq!(&buf[0x58..0x5f], &b"scratch"[..]);
        check_eq!(&buf[SUPERBLOCK_SIZE - 4..], &crc32c(&buf[..SUPERBLOCK_SIZE - 4]).to_le_bytes()[..]);
    }

    fn a_new_superblock_is_clean_and_empty() {
        let sb = Superblock::new(geometry(), [1; 16], Label::EMPTY);
        let decoded = ok!(Superblock::decode(&ok!(image(&sb))));
        check!(decoded.clean);
        check_eq!(decoded.seq, 1);
        // The journal right after the space map, replay from its start.
        check_eq!(decoded.journal.first_bucket, decoded.space_map.buckets().end);
        check!(decoded.journal.bucket_count >= 4);
        check_eq!(decoded.journal_cursor, JournalCursor { seq: 1, block: 0 });
        check!(decoded.roots.iter().all(|r| *r == BtreeRoot::Empty));
        check_eq!(decoded.label.as_str(), "");
        check_eq!(decoded.features.access(), Ok(Access::ReadWrite));
    }

    fn short_and_foreign_bytes_are_refused() {
        let buf = ok!(image(&ok!(sample())));
        check_eq!(Superblock::decode(&buf[..SUPERBLOCK_SIZE - 1]), Err(SuperblockError::TooShort(SUPERBLOCK_SIZE - 1)));
        check_eq!(Superblock::decode(&[]), Err(SuperblockError::TooShort(0)));
        let zeroes = [0u8; SUPERBLOCK_SIZE];
        check_eq!(Superblock::decode(&zeroes), Err(SuperblockError::BadMagic));
    }

    fn a_flipped_bit_in_the_header_fails_the_checksum() {
        // Every bit of the first 256 bytes and of the checksum (the full
        // 4 KiB runs in userspace, superblock_props.rs).
        let mut buf = ok!(image(&ok!(sample())));
        let mut positions = (0..256).chain(SUPERBLOCK_SIZE - 4..SUPERBLOCK_SIZE);
        for byte in positions.by_ref() {
            for bit in 0..8 {
                buf[byte] ^= 1 << bit;
                let result = Superblock::decode(&buf);
                check!(matches!(
                    result,
                    Err(SuperblockError::BadMagic | SuperblockError::BadChecksum { .. })
                ));
                buf[byte] ^= 1 << bit;
            }
        }
        check_eq!(Superblock::decode(&buf), Ok(ok!(sample())));
    }

    fn each_rule_has_its_error() {
        let cases: [(usize, &[u8], SuperblockError); 15] = [
            (0x08, &2u32.to_le_bytes(), SuperblockError::UnsupportedVersion(2)),
            (0x38, &(1u64 << 63).to_le_bytes(), SuperblockError::UnknownIncompat(1 << 63)),
            (0x0c, &3000u32.to_le_bytes(), SuperblockError::BadGeometry(GeometryError::BlockSize(3000))),
            (0x10, &(1u32 << 27).to_le_bytes(), SuperblockError::BadGeometry(GeometryError::BucketSize(1 << 27))),
            (0x14, &1024u32.to_le_bytes(), SuperblockError::BadGeometry(GeometryError::NodeNotMultipleOfBlock { node_size: 1024, block_size: 4096 })),
            (0x18, &16383u64.to_le_bytes(), SuperblockError::BadGeometry(GeometryError::SizeNotBucketMultiple { bytes: 16383 * 4096, bucket_size: 1 << 20 })),
            (0x18, &u64::MAX.to_le_bytes(), SuperblockError::BadGeometry(GeometryError::SizeOverflow)),
            (0x40, &2u64.to_le_bytes(), SuperblockError::BadFlags(2)),
            (0x58 + 7, &[0, b'x'], SuperblockError::BadLabel(LabelError::Garbage)),
            (0xa0, &100u64.to_le_bytes(), SuperblockError::BadJournal(JournalLocation { first_bucket: 3, bucket_count: 100 })),
            (0xa8, &0u64.to_le_bytes(), SuperblockError::BadSpaceMap(SpaceMapLocation { first_bucket: 0, bucket_count: 1 })),
            (0xa8, &3u64.to_le_bytes(), SuperblockError::BadSpaceMap(SpaceMapLocation { first_bucket: 3, bucket_count: 1 })),
            (0xb0, &0u64.to_le_bytes(), SuperblockError::BadSpaceMap(SpaceMapLocation { first_bucket: 1, bucket_count: 0 })),
            (0x100 + 9, &[7], SuperblockError::BadRoot { slot: 0, error: RootError::BadState(7) }),
            (0x800, &[1], SuperblockError::ReservedNotZero { offset: 0x800 }),
        ];
        for (offset, value, error) in cases {
            let mut buf = ok!(image(&ok!(sample())));
            patch(&mut buf, offset, value);
            check_eq!(Superblock::decode(&buf), Err(error));
        }
    }

    fn roots_must_point_into_the_data_buckets() {
        let mut sb = ok!(sample());
        for (sector, level, error) in [
            (0u64, 0u8, RootError::BadLocation(0)),                    // the superblock's bucket
            ((8 << 20) / 512 + 1, 0, RootError::BadLocation((8 << 20) / 512 + 1)), // not node-aligned
            ((63 << 20) / 512, 0, RootError::BadLocation((63 << 20) / 512)), // the backup's bucket
            (u64::MAX, 0, RootError::BadLocation(u64::MAX)),          // overflows
            ((8 << 20) / 512, 8, RootError::BadLevel(8)),
        ] {
            sb.roots[BTREE_ROOT_SLOTS - 1] = BtreeRoot::Node { sector, level };
            check_eq!(
                image(&sb).map(|_| ()),
                Err(SuperblockError::BadRoot { slot: BTREE_ROOT_SLOTS - 1, error })
            );
        }
    }

    fn unknown_ro_compat_allows_reading_only() {
        let mut sb = ok!(sample());
        sb.features = Features { compat: 1 << 5, ro_compat: 1 << 9, incompat: 0 };
        let mut buf = ok!(image(&sb));
        let decoded = ok!(Superblock::decode(&buf));
        check_eq!(decoded.features.access(), Ok(Access::ReadOnly { unknown_ro_compat: 1 << 9 }));
        // A feature this code does not know may use the reserved bytes.
        patch(&mut buf, 0x800, &[1]);
        check!(Superblock::decode(&buf).is_ok());
        // An unknown compat feature is ignored.
        sb.features.ro_compat = 0;
        let decoded = ok!(Superblock::decode(&ok!(image(&sb))));
        check_eq!(decoded.features.access(), Ok(Access::ReadWrite));
    }

    fn labels_are_utf8_without_nul_up_to_64_bytes() {
        check_eq!(Label::new("é-ok").map(|l| l.as_str().len()), Ok(5));
        const LONGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        check_eq!(Label::new(LONGEST).map(|l| l.as_str().len()), Ok(64));
        check_eq!(Label::new("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefX").map(|_| ()), Err(LabelError::TooLong));
        check_eq!(Label::new("a\0b").map(|_| ()), Err(LabelError::Nul));
        let mut field = [0u8; 64];
        field[0] = 0xff;
        check_eq!(Label::decode(&field).map(|_| ()), Err(LabelError::NotUtf8));
    }
}
