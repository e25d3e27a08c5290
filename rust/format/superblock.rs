// SPDX-License-Identifier: GPL-2.0

//! The superblock: what a device holds, described in 4 KiB at byte 4096
//! and again, as a backup, in the last 4 KiB of the filesystem.
//!
//! The layout below is version 1; Documentation/format.rst describes every
//! field. All integers are little-endian; the structure is read and
//! written field by field at fixed offsets (see `le.rs`), never by casting
//! memory. Decoding checks everything it can without the device and
//! returns why a superblock is refused; it never panics, whatever the
//! bytes.

use super::btree_root::{BtreeRoot, RootError, BTREE_ROOT_BYTES, BTREE_ROOT_SLOTS};
use super::features::Features;
use super::geometry::{Geometry, GeometryError};
use super::label::{Label, LabelError, LABEL_BYTES};
use super::le;
use super::space_map::SpaceMapLocation;
use crate::platform::crc32c::crc32c;
use core::ops::Range;

pub use super::geometry::{SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};

/// The first bytes of every sixfs superblock.
pub const MAGIC: [u8; 8] = *b"SIXFS\0sb";
/// The layout version this code reads and writes.
pub const VERSION: u32 = 1;

/// `flags`: the filesystem was unmounted cleanly (nothing to recover).
pub const FLAG_CLEAN: u64 = 1 << 0;
/// Every flag of version 1.
pub const FLAGS_KNOWN: u64 = FLAG_CLEAN;

/// Bytes of the UUID.
pub const UUID_BYTES: usize = 16;

// Byte offsets of the fields (version 1). Each field starts where the
// previous one ends; the asserts below keep it so.
const MAGIC_AT: usize = 0x000; // [u8; 8]
const VERSION_AT: usize = 0x008; // u32
const BLOCK_SIZE_AT: usize = 0x00c; // u32
const BUCKET_SIZE_AT: usize = 0x010; // u32
const NODE_SIZE_AT: usize = 0x014; // u32
const BLOCK_COUNT_AT: usize = 0x018; // u64
const SEQ_AT: usize = 0x020; // u64
const COMPAT_AT: usize = 0x028; // u64
const RO_COMPAT_AT: usize = 0x030; // u64
const INCOMPAT_AT: usize = 0x038; // u64
const FLAGS_AT: usize = 0x040; // u64
const UUID_AT: usize = 0x048; // [u8; 16]
const LABEL_AT: usize = 0x058; // [u8; 64]
const JOURNAL_FIRST_BUCKET_AT: usize = 0x098; // u64
const JOURNAL_BUCKET_COUNT_AT: usize = 0x0a0; // u64
const SPACE_MAP_FIRST_BUCKET_AT: usize = 0x0a8; // u64
const SPACE_MAP_BUCKET_COUNT_AT: usize = 0x0b0; // u64
const JOURNAL_CURSOR_SEQ_AT: usize = 0x0b8; // u64
const JOURNAL_CURSOR_BLOCK_AT: usize = 0x0c0; // u64
const RESERVED_HEADER: Range<usize> = 0x0c8..0x100; // zero
const ROOTS_AT: usize = 0x100; // [[u8; 16]; 16]
const RESERVED_TAIL: Range<usize> = 0x200..CSUM_AT; // zero
const CSUM_AT: usize = SUPERBLOCK_SIZE - 4; // u32: crc32c of bytes 0..CSUM_AT

const _: () = {
    assert!(VERSION_AT == MAGIC_AT + MAGIC.len());
    assert!(BLOCK_SIZE_AT == VERSION_AT + 4);
    assert!(BUCKET_SIZE_AT == BLOCK_SIZE_AT + 4);
    assert!(NODE_SIZE_AT == BUCKET_SIZE_AT + 4);
    assert!(BLOCK_COUNT_AT == NODE_SIZE_AT + 4);
    assert!(SEQ_AT == BLOCK_COUNT_AT + 8);
    assert!(COMPAT_AT == SEQ_AT + 8);
    assert!(RO_COMPAT_AT == COMPAT_AT + 8);
    assert!(INCOMPAT_AT == RO_COMPAT_AT + 8);
    assert!(FLAGS_AT == INCOMPAT_AT + 8);
    assert!(UUID_AT == FLAGS_AT + 8);
    assert!(LABEL_AT == UUID_AT + UUID_BYTES);
    assert!(JOURNAL_FIRST_BUCKET_AT == LABEL_AT + LABEL_BYTES);
    assert!(JOURNAL_BUCKET_COUNT_AT == JOURNAL_FIRST_BUCKET_AT + 8);
    assert!(SPACE_MAP_FIRST_BUCKET_AT == JOURNAL_BUCKET_COUNT_AT + 8);
    assert!(SPACE_MAP_BUCKET_COUNT_AT == SPACE_MAP_FIRST_BUCKET_AT + 8);
    assert!(JOURNAL_CURSOR_SEQ_AT == SPACE_MAP_BUCKET_COUNT_AT + 8);
    assert!(JOURNAL_CURSOR_BLOCK_AT == JOURNAL_CURSOR_SEQ_AT + 8);
    assert!(RESERVED_HEADER.start == JOURNAL_CURSOR_BLOCK_AT + 8);
    assert!(ROOTS_AT == RESERVED_HEADER.end);
    assert!(RESERVED_TAIL.start == ROOTS_AT + BTREE_ROOT_SLOTS * BTREE_ROOT_BYTES);
    assert!(CSUM_AT + 4 == SUPERBLOCK_SIZE);
    // 64-bit fields are 8-byte aligned, for readers that map the structure.
    assert!(BLOCK_COUNT_AT % 8 == 0 && FLAGS_AT % 8 == 0 && JOURNAL_FIRST_BUCKET_AT % 8 == 0);
};

/// Where the journal lives: a run of data buckets, used as a ring of
/// blocks (`format/journal.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalLocation {
    /// First bucket of the journal.
    pub first_bucket: u64,
    /// Buckets of the journal; 0 when there is no journal (then
    /// `first_bucket` is 0 too, and commits are durable only through
    /// checkpoints).
    pub bucket_count: u64,
}

impl JournalLocation {
    fn is_valid(&self, geometry: &Geometry) -> bool {
        if self.bucket_count == 0 {
            return self.first_bucket == 0;
        }
        let data = geometry.data_buckets();
        self.first_bucket >= data.start
            && self
                .first_bucket
                .checked_add(self.bucket_count)
                .is_some_and(|end| end <= data.end)
    }

    /// The journal's ring: its byte offset and its length in blocks.
    pub fn ring(&self, geometry: &Geometry) -> (u64, u64) {
        let bucket = u64::from(geometry.bucket_size);
        let blocks_per_bucket = bucket / u64::from(geometry.block_size.max(1));
        (
            self.first_bucket.saturating_mul(bucket),
            self.bucket_count.saturating_mul(blocks_per_bucket),
        )
    }

    /// mkfs's journal for `geometry`, starting at bucket `first`: a 32nd of
    /// the device, within 256 KiB..256 MiB and at least 4 buckets, but at
    /// most an eighth of the data buckets. Every time it is half full a
    /// checkpoint writes every dirty node, so a larger journal means fewer
    /// of them under a steady stream of commits.
    pub fn default_for(geometry: &Geometry, first: u64) -> Self {
        let bucket = u64::from(geometry.bucket_size.max(1));
        let bytes = (geometry.bytes() / 32).clamp(256 << 10, 256 << 20);
        let data = geometry.data_buckets();
        let data_buckets = data.end.saturating_sub(data.start);
        let count = bytes.div_ceil(bucket).max(4).min(data_buckets / 8);
        if count == 0 || first.saturating_add(count) > data.end {
            return Self::default();
        }
        Self {
            first_bucket: first,
            bucket_count: count,
        }
    }
}

/// Where replay starts: the first journal entry the last checkpoint's tree
/// does not hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalCursor {
    /// The sequence number that entry has (or will have).
    pub seq: u64,
    /// Its first block in the ring.
    pub block: u64,
}

/// A decoded, checked superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Sizes and extent.
    pub geometry: Geometry,
    /// Incremented by every superblock write: of two valid copies, the one
    /// with the higher sequence number is newer.
    pub seq: u64,
    /// Feature flags.
    pub features: Features,
    /// Unmounted cleanly.
    pub clean: bool,
    /// The filesystem's UUID (what `blkid` reports).
    pub uuid: [u8; UUID_BYTES],
    /// The filesystem's label.
    pub label: Label,
    /// The journal.
    pub journal: JournalLocation,
    /// Where replay starts.
    pub journal_cursor: JournalCursor,
    /// The two copies of the space map.
    pub space_map: SpaceMapLocation,
    /// One root per btree id.
    pub roots: [BtreeRoot; BTREE_ROOT_SLOTS],
}

/// Why bytes are not a valid superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuperblockError {
    /// Fewer than [`SUPERBLOCK_SIZE`] bytes.
    TooShort(usize),
    /// No sixfs magic: not a sixfs superblock at all.
    BadMagic,
    /// The checksum does not match: a torn write or corruption.
    BadChecksum {
        /// The checksum stored in the superblock.
        stored: u32,
        /// The checksum of its bytes.
        computed: u32,
    },
    /// A layout version this code does not read.
    UnsupportedVersion(u32),
    /// Incompat features this code does not know.
    UnknownIncompat(u64),
    /// The sizes break a rule.
    BadGeometry(GeometryError),
    /// Flag bits this code does not know.
    BadFlags(u64),
    /// The label is not valid.
    BadLabel(LabelError),
    /// The journal lies outside the data buckets.
    BadJournal(JournalLocation),
    /// The journal cursor lies outside the journal.
    BadJournalCursor(JournalCursor),
    /// The space map lies outside the data buckets, is too small for
    /// them, or overlaps the journal.
    BadSpaceMap(SpaceMapLocation),
    /// A btree root is not valid.
    BadRoot {
        /// The root's slot (btree id).
        slot: usize,
        /// What is wrong.
        error: RootError,
    },
    /// A byte that must be zero is not.
    ReservedNotZero {
        /// Its offset in the superblock.
        offset: usize,
    },
}

/// Why a device is not a mountable sixfs filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// The device is smaller than the superblock's end.
    TooSmall,
    /// No sixfs magic where the superblock should be.
    NoMagic,
}

/// Checks that `block` (the [`SUPERBLOCK_SIZE`] bytes at
/// [`SUPERBLOCK_OFFSET`]) starts a sixfs superblock: a quick look, before
/// [`Superblock::decode`] checks the rest.
pub fn probe(block: &[u8]) -> Result<(), ProbeError> {
    match block.get(..MAGIC.len()) {
        None => Err(ProbeError::TooSmall),
        Some(magic) if magic == MAGIC => Ok(()),
        Some(_) => Err(ProbeError::NoMagic),
    }
}

/// The checksum of a superblock image: crc32c of everything before the
/// checksum field.
fn checksum(bytes: &[u8]) -> u32 {
    crc32c(bytes.get(..CSUM_AT).unwrap_or(&[]))
}

impl Superblock {
    /// A new filesystem's superblock: sequence 1, clean, every btree
    /// empty, the space map in the first data buckets and the journal
    /// (empty, replay starting at its first block) after it.
    pub fn new(geometry: Geometry, uuid: [u8; UUID_BYTES], label: Label) -> Self {
        let space_map = SpaceMapLocation {
            first_bucket: geometry.data_buckets().start,
            bucket_count: SpaceMapLocation::buckets_needed(&geometry),
        };
        Self {
            journal: JournalLocation::default_for(&geometry, space_map.buckets().end),
            journal_cursor: JournalCursor { seq: 1, block: 0 },
            space_map,
            geometry,
            seq: 1,
            features: Features::default(),
            clean: true,
            uuid,
            label,
            roots: [BtreeRoot::Empty; BTREE_ROOT_SLOTS],
        }
    }

    /// Decodes and checks the superblock at the start of `bytes`.
    ///
    /// The checks run in this order, so that the error says the most
    /// useful thing: length, magic, checksum, version, incompat features,
    /// geometry, flags, label, journal, roots, reserved bytes. Unknown
    /// flags and non-zero reserved bytes are allowed when the superblock
    /// has read-only-compat features this code does not know (they may
    /// be what uses them; see features.rs); unknown compat features may
    /// not use them.
    pub fn decode(bytes: &[u8]) -> Result<Self, SuperblockError> {
        let Some(sb) = bytes.get(..SUPERBLOCK_SIZE) else {
            return Err(SuperblockError::TooShort(bytes.len()));
        };
        if le::bytes::<8>(sb, MAGIC_AT) != MAGIC {
            return Err(SuperblockError::BadMagic);
        }
        let stored = le::u32_at(sb, CSUM_AT);
        let computed = checksum(sb);
        if stored != computed {
            return Err(SuperblockError::BadChecksum { stored, computed });
        }
        let version = le::u32_at(sb, VERSION_AT);
        if version != VERSION {
            return Err(SuperblockError::UnsupportedVersion(version));
        }
        let features = Features {
            compat: le::u64_at(sb, COMPAT_AT),
            ro_compat: le::u64_at(sb, RO_COMPAT_AT),
            incompat: le::u64_at(sb, INCOMPAT_AT),
        };
        let unknown = features.unknown_incompat();
        if unknown != 0 {
            return Err(SuperblockError::UnknownIncompat(unknown));
        }
        let strict = features.unknown_ro_compat() == 0;
        let geometry = Geometry {
            block_size: le::u32_at(sb, BLOCK_SIZE_AT),
            bucket_size: le::u32_at(sb, BUCKET_SIZE_AT),
            node_size: le::u32_at(sb, NODE_SIZE_AT),
            block_count: le::u64_at(sb, BLOCK_COUNT_AT),
        };
        geometry.validate().map_err(SuperblockError::BadGeometry)?;
        let flags = le::u64_at(sb, FLAGS_AT);
        if strict && flags & !FLAGS_KNOWN != 0 {
            return Err(SuperblockError::BadFlags(flags & !FLAGS_KNOWN));
        }
        let label = Label::decode(&le::bytes(sb, LABEL_AT)).map_err(SuperblockError::BadLabel)?;
        let journal = JournalLocation {
            first_bucket: le::u64_at(sb, JOURNAL_FIRST_BUCKET_AT),
            bucket_count: le::u64_at(sb, JOURNAL_BUCKET_COUNT_AT),
        };
        if !journal.is_valid(&geometry) {
            return Err(SuperblockError::BadJournal(journal));
        }
        let journal_cursor = JournalCursor {
            seq: le::u64_at(sb, JOURNAL_CURSOR_SEQ_AT),
            block: le::u64_at(sb, JOURNAL_CURSOR_BLOCK_AT),
        };
        let (_, ring_blocks) = journal.ring(&geometry);
        let cursor_ok = if journal.bucket_count == 0 {
            journal_cursor.block == 0
        } else {
            journal_cursor.block < ring_blocks && journal_cursor.seq != 0
        };
        if !cursor_ok {
            return Err(SuperblockError::BadJournalCursor(journal_cursor));
        }
        let space_map = SpaceMapLocation {
            first_bucket: le::u64_at(sb, SPACE_MAP_FIRST_BUCKET_AT),
            bucket_count: le::u64_at(sb, SPACE_MAP_BUCKET_COUNT_AT),
        };
        let journal_buckets =
            journal.first_bucket..journal.first_bucket.saturating_add(journal.bucket_count);
        let overlap = space_map.buckets().start < journal_buckets.end
            && journal_buckets.start < space_map.buckets().end;
        if !space_map.is_valid(&geometry) || overlap {
            return Err(SuperblockError::BadSpaceMap(space_map));
        }
        let mut roots = [BtreeRoot::Empty; BTREE_ROOT_SLOTS];
        for (slot, root) in roots.iter_mut().enumerate() {
            let at = ROOTS_AT + slot * BTREE_ROOT_BYTES;
            let bytes = sb.get(at..at + BTREE_ROOT_BYTES).unwrap_or(&[]);
            *root = BtreeRoot::decode(bytes, &geometry)
                .map_err(|error| SuperblockError::BadRoot { slot, error })?;
        }
        if strict {
            for range in [RESERVED_HEADER, RESERVED_TAIL] {
                if let Some(offset) = le::first_nonzero(sb, range) {
                    return Err(SuperblockError::ReservedNotZero { offset });
                }
            }
        }
        Ok(Self {
            geometry,
            seq: le::u64_at(sb, SEQ_AT),
            features,
            clean: flags & FLAG_CLEAN != 0,
            uuid: le::bytes(sb, UUID_AT),
            label,
            journal,
            journal_cursor,
            space_map,
            roots,
        })
    }

    /// Writes the superblock into the first [`SUPERBLOCK_SIZE`] bytes of
    /// `out`, checksum included. Refuses (with the error [`decode`] would
    /// give) a superblock that breaks a rule, so nothing invalid is ever
    /// written.
    ///
    /// [`decode`]: Superblock::decode
    pub fn encode(&self, out: &mut [u8]) -> Result<(), SuperblockError> {
        let len = out.len();
        let sb = out
            .get_mut(..SUPERBLOCK_SIZE)
            .ok_or(SuperblockError::TooShort(len))?;
        sb.fill(0);
        le::put(sb, MAGIC_AT, &MAGIC);
        le::put_u32(sb, VERSION_AT, VERSION);
        le::put_u32(sb, BLOCK_SIZE_AT, self.geometry.block_size);
        le::put_u32(sb, BUCKET_SIZE_AT, self.geometry.bucket_size);
        le::put_u32(sb, NODE_SIZE_AT, self.geometry.node_size);
        le::put_u64(sb, BLOCK_COUNT_AT, self.geometry.block_count);
        le::put_u64(sb, SEQ_AT, self.seq);
        le::put_u64(sb, COMPAT_AT, self.features.compat);
        le::put_u64(sb, RO_COMPAT_AT, self.features.ro_compat);
        le::put_u64(sb, INCOMPAT_AT, self.features.incompat);
        le::put_u64(sb, FLAGS_AT, if self.clean { FLAG_CLEAN } else { 0 });
        le::put(sb, UUID_AT, &self.uuid);
        le::put(sb, LABEL_AT, self.label.field());
        le::put_u64(sb, JOURNAL_FIRST_BUCKET_AT, self.journal.first_bucket);
        le::put_u64(sb, JOURNAL_BUCKET_COUNT_AT, self.journal.bucket_count);
        le::put_u64(sb, SPACE_MAP_FIRST_BUCKET_AT, self.space_map.first_bucket);
        le::put_u64(sb, SPACE_MAP_BUCKET_COUNT_AT, self.space_map.bucket_count);
        le::put_u64(sb, JOURNAL_CURSOR_SEQ_AT, self.journal_cursor.seq);
        le::put_u64(sb, JOURNAL_CURSOR_BLOCK_AT, self.journal_cursor.block);
        for (slot, root) in self.roots.iter().enumerate() {
            let at = ROOTS_AT + slot * BTREE_ROOT_BYTES;
            if let Some(bytes) = sb.get_mut(at..at + BTREE_ROOT_BYTES) {
                root.encode(bytes);
            }
        }
        let csum = checksum(sb);
        le::put_u32(sb, CSUM_AT, csum);
        // Every field round-trips (the property tests check it), so this
        // refuses exactly the superblocks that break a rule.
        Self::decode(sb)?;
        Ok(())
    }
}
