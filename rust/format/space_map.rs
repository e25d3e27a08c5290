// SPDX-License-Identifier: GPL-2.0

//! The space map: what each data bucket holds, as of a checkpoint.
//!
//! mkfs reserves two copies side by side in the data buckets (their place
//! is in the superblock). A checkpoint whose superblock gets sequence
//! number `s` writes copy `s % 2` before it writes that superblock, so the
//! other copy, which the superblock on the device still names, is never
//! touched while it is the durable one; a torn space map write is thus
//! always in the copy nobody trusts yet. A reader takes copy `sb.seq % 2`
//! and refuses it unless its own sequence number is `sb.seq`.
//!
//! Layout of one copy (little-endian):
//!
//! ```text
//! offset size field
//!      0    8 magic "SIXFSmap"
//!      8    4 crc32c of bytes 12..end (end: 32 + 8 * buckets)
//!     12    4 reserved, 0
//!     16    8 seq: the superblock sequence number this copy belongs to
//!     24    8 buckets: how many records follow (the filesystem's buckets)
//!     32    . one 8-byte record per bucket, bucket 0 first:
//!             0  1 kind (BucketKind)
//!             1  3 reserved, 0
//!             4  4 used: node slots of the bucket in use (btree buckets)
//! ```

use super::geometry::Geometry;
use super::le;
use crate::platform::crc32c::crc32c;
use crate::platform::vec::Vec;

/// The first bytes of a space map copy.
pub const MAGIC: [u8; 8] = *b"SIXFSmap";
/// Bytes before the first record.
pub const HEADER_BYTES: usize = 32;
/// Bytes of one bucket's record.
pub const RECORD_BYTES: usize = 8;

const MAGIC_AT: usize = 0;
const CSUM_AT: usize = 8;
const RESERVED_AT: usize = 12;
const SEQ_AT: usize = 16;
const BUCKETS_AT: usize = 24;

const _: () = {
    assert!(CSUM_AT == MAGIC_AT + MAGIC.len());
    assert!(RESERVED_AT == CSUM_AT + 4);
    assert!(SEQ_AT == RESERVED_AT + 4);
    assert!(BUCKETS_AT == SEQ_AT + 8);
    assert!(HEADER_BYTES == BUCKETS_AT + 8);
};

/// What a bucket holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketKind {
    /// Nothing: it may be allocated.
    Free,
    /// The boot area and a superblock copy (the first and last buckets).
    Superblock,
    /// A copy of the space map.
    SpaceMap,
    /// The journal.
    Journal,
    /// Btree nodes; `used` of its node slots are in use.
    Btree,
}

impl BucketKind {
    fn code(self) -> u8 {
        match self {
            Self::Free => 0,
            Self::Superblock => 1,
            Self::SpaceMap => 2,
            Self::Journal => 3,
            Self::Btree => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Free,
            1 => Self::Superblock,
            2 => Self::SpaceMap,
            3 => Self::Journal,
            4 => Self::Btree,
            _ => return None,
        })
    }
}

/// One bucket's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// What it holds.
    pub kind: BucketKind,
    /// Node slots in use (btree buckets only; 0 for the others).
    pub used: u32,
}

impl Bucket {
    /// A free bucket.
    pub const FREE: Bucket = Bucket {
        kind: BucketKind::Free,
        used: 0,
    };
}

/// Where the two copies are: `bucket_count` buckets from `first_bucket`
/// for copy 0, the next `bucket_count` for copy 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpaceMapLocation {
    /// First bucket of copy 0.
    pub first_bucket: u64,
    /// Buckets of one copy.
    pub bucket_count: u64,
}

impl SpaceMapLocation {
    /// Buckets one copy needs on a filesystem of `geometry`.
    pub fn buckets_needed(geometry: &Geometry) -> u64 {
        let bytes = copy_bytes(geometry.bucket_count()) as u64;
        bytes.div_ceil(u64::from(geometry.bucket_size.max(1)))
    }

    /// Whether both copies lie in the data buckets and are large enough.
    pub fn is_valid(&self, geometry: &Geometry) -> bool {
        let data = geometry.data_buckets();
        self.bucket_count >= Self::buckets_needed(geometry)
            && self.first_bucket >= data.start
            && self
                .bucket_count
                .checked_mul(2)
                .and_then(|n| n.checked_add(self.first_bucket))
                .is_some_and(|end| end <= data.end)
    }

    /// The buckets of both copies.
    pub fn buckets(&self) -> core::ops::Range<u64> {
        self.first_bucket
            ..self
                .first_bucket
                .saturating_add(self.bucket_count.saturating_mul(2))
    }

    /// Byte offset of copy `seq % 2`.
    pub fn copy_offset(&self, geometry: &Geometry, seq: u64) -> u64 {
        let bucket = self
            .first_bucket
            .saturating_add(self.bucket_count.saturating_mul(seq & 1));
        bucket.saturating_mul(u64::from(geometry.bucket_size))
    }
}

/// Bytes of a copy for `buckets` records (before rounding to sectors).
pub fn copy_bytes(buckets: u64) -> usize {
    usize::try_from(buckets)
        .unwrap_or(usize::MAX)
        .saturating_mul(RECORD_BYTES)
        .saturating_add(HEADER_BYTES)
}

/// Why bytes are not the space map a superblock names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceMapError {
    /// No magic.
    BadMagic,
    /// Fewer bytes than the header says.
    TooShort,
    /// The checksum does not match.
    BadChecksum {
        /// Stored.
        stored: u32,
        /// Computed.
        computed: u32,
    },
    /// The copy is of another checkpoint (a stale or torn copy).
    WrongSeq {
        /// What the copy says.
        found: u64,
        /// What the superblock says.
        expected: u64,
    },
    /// Not one record per bucket of the filesystem.
    WrongBucketCount(u64),
    /// A record with an unknown kind, reserved bits set, or a use count
    /// where there can be none.
    BadRecord(u64),
    /// No memory for the records.
    NoMemory,
}

/// Decodes the copy in `bytes`, expecting `buckets` records and sequence
/// number `seq`.
pub fn decode(bytes: &[u8], buckets: u64, seq: u64) -> Result<Vec<Bucket>, SpaceMapError> {
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(SpaceMapError::BadMagic);
    }
    if bytes.len() < HEADER_BYTES {
        return Err(SpaceMapError::TooShort);
    }
    let found = le::u64_at(bytes, BUCKETS_AT);
    if found != buckets {
        return Err(SpaceMapError::WrongBucketCount(found));
    }
    let end = copy_bytes(buckets);
    let body = bytes.get(RESERVED_AT..end).ok_or(SpaceMapError::TooShort)?;
    let stored = le::u32_at(bytes, CSUM_AT);
    let computed = crc32c(body);
    if stored != computed {
        return Err(SpaceMapError::BadChecksum { stored, computed });
    }
    let found = le::u64_at(bytes, SEQ_AT);
    if found != seq {
        return Err(SpaceMapError::WrongSeq {
            found,
            expected: seq,
        });
    }
    if le::u32_at(bytes, RESERVED_AT) != 0 {
        return Err(SpaceMapError::BadRecord(0));
    }
    let mut out = Vec::try_with_capacity(usize::try_from(buckets).unwrap_or(usize::MAX))
        .map_err(|_| SpaceMapError::NoMemory)?;
    for i in 0..buckets {
        // Fixed-size records by offset: `chunks_exact` leaves a panic
        // path (a zero chunk size) that the kernel's objtool refuses.
        let at = HEADER_BYTES + i as usize * RECORD_BYTES;
        let r = bytes
            .get(at..at + RECORD_BYTES)
            .ok_or(SpaceMapError::TooShort)?;
        let kind = BucketKind::from_code(le::u8_at(r, 0)).ok_or(SpaceMapError::BadRecord(i))?;
        let used = le::u32_at(r, 4);
        if le::first_nonzero(r, 1..4).is_some() || (kind != BucketKind::Btree && used != 0) {
            return Err(SpaceMapError::BadRecord(i));
        }
        out.try_push(Bucket { kind, used })
            .map_err(|_| SpaceMapError::NoMemory)?;
    }
    Ok(out)
}

/// Writes a copy of `records` with sequence number `seq` into `out`, which
/// must hold [`copy_bytes`] of them (bytes after are left alone).
pub fn encode(records: &[Bucket], seq: u64, out: &mut [u8]) -> Result<(), SpaceMapError> {
    let end = copy_bytes(records.len() as u64);
    let out = out.get_mut(..end).ok_or(SpaceMapError::TooShort)?;
    out.fill(0);
    le::put(out, MAGIC_AT, &MAGIC);
    le::put_u64(out, SEQ_AT, seq);
    le::put_u64(out, BUCKETS_AT, records.len() as u64);
    for (i, b) in records.iter().enumerate() {
        let at = HEADER_BYTES + i * RECORD_BYTES;
        let Some(r) = out.get_mut(at..at + RECORD_BYTES) else {
            break;
        };
        le::put(r, 0, &[b.kind.code()]);
        le::put_u32(r, 4, b.used);
    }
    let csum = crc32c(out.get(RESERVED_AT..).unwrap_or(&[]));
    le::put_u32(out, CSUM_AT, csum);
    Ok(())
}

/// The space map of a new filesystem: the superblock buckets, the space
/// map's own buckets and the journal's marked, everything else free.
pub fn initial(
    geometry: &Geometry,
    location: &SpaceMapLocation,
    journal: core::ops::Range<u64>,
) -> Result<Vec<Bucket>, SpaceMapError> {
    let count = geometry.bucket_count();
    let mut out = Vec::try_with_capacity(usize::try_from(count).unwrap_or(usize::MAX))
        .map_err(|_| SpaceMapError::NoMemory)?;
    let data = geometry.data_buckets();
    for b in 0..count {
        let kind = if !data.contains(&b) {
            BucketKind::Superblock
        } else if location.buckets().contains(&b) {
            BucketKind::SpaceMap
        } else if journal.contains(&b) {
            BucketKind::Journal
        } else {
            BucketKind::Free
        };
        out.try_push(Bucket { kind, used: 0 })
            .map_err(|_| SpaceMapError::NoMemory)?;
    }
    Ok(out)
}
