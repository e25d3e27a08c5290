// SPDX-License-Identifier: GPL-2.0

//! Journal entries: the btree updates of commits, in the order they were
//! made, as the journal's ring on the device holds them.
//!
//! The journal is a ring of blocks in buckets mkfs set aside (the
//! superblock's `journal` location). An entry is a whole number of blocks:
//! a 64-byte header, then records, then zeroes to the block's end. The
//! superblock's *journal cursor* names the first entry to replay: its
//! block in the ring and its sequence number. Entry `s + 1` follows entry
//! `s` directly, or, when it did not fit before the ring's end, starts at
//! block 0. A reader follows that chain and stops at the first block that
//! is not the next entry: wrong magic, filesystem, sequence number or
//! checksum (a torn or never-written entry was never acknowledged).
//!
//! Layout of an entry (little-endian):
//!
//! ```text
//! offset size field
//!      0    8 magic "SIXFSjnl"
//!      8    4 crc32c of bytes 12..64 + payload bytes
//!     12    4 blocks: the entry's length in blocks
//!     16    8 seq: the entry's sequence number
//!     24   16 uuid: the filesystem's (an old filesystem's entries left on
//!             a reformatted device are not this one's)
//!     40    4 payload bytes (after the header)
//!     44    4 records
//!     48   16 reserved, 0
//!     64    . records, each 8-byte aligned:
//!             0  1 btree id
//!             1  7 reserved, 0
//!             8  . the key, in its node encoding (a deleted key deletes)
//! ```

use super::le;
use crate::bkey::{Key, KeyError, KeyRef};
use crate::platform::crc32c::crc32c;

/// The first bytes of every journal entry.
pub const MAGIC: [u8; 8] = *b"SIXFSjnl";
/// Bytes of an entry's header.
pub const HEADER_BYTES: usize = 64;
/// Bytes before a record's key.
pub const RECORD_HEADER_BYTES: usize = 8;

const MAGIC_AT: usize = 0;
const CSUM_AT: usize = 8;
const BLOCKS_AT: usize = 12;
const SEQ_AT: usize = 16;
const UUID_AT: usize = 24;
const PAYLOAD_AT: usize = 40;
const RECORDS_AT: usize = 44;
const RESERVED: core::ops::Range<usize> = 48..HEADER_BYTES;

const _: () = {
    assert!(CSUM_AT == MAGIC_AT + MAGIC.len());
    assert!(BLOCKS_AT == CSUM_AT + 4);
    assert!(SEQ_AT == BLOCKS_AT + 4);
    assert!(UUID_AT == SEQ_AT + 8);
    assert!(PAYLOAD_AT == UUID_AT + 16);
    assert!(RECORDS_AT == PAYLOAD_AT + 4);
    assert!(RESERVED.start == RECORDS_AT + 4);
    assert!(HEADER_BYTES % 8 == 0 && RECORD_HEADER_BYTES % 8 == 0);
};

/// Why bytes are not the journal entry a reader expects next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// Fewer bytes than the header, or than the blocks it claims.
    Truncated,
    /// No journal magic.
    BadMagic,
    /// Another filesystem's entry.
    WrongFilesystem,
    /// Not the sequence number expected.
    WrongSeq {
        /// What the entry says.
        found: u64,
    },
    /// A length that does not fit the entry.
    BadLength,
    /// The checksum does not match: torn, or corrupt.
    BadChecksum,
    /// A reserved byte is not zero.
    ReservedNotZero,
    /// A record is not valid.
    BadRecord {
        /// Which record, from 0.
        index: u32,
        /// Why.
        error: KeyError,
    },
    /// The header's count of records is not what the payload holds.
    WrongRecordCount {
        /// What the header says.
        header: u32,
        /// Records the payload holds.
        found: u32,
    },
}

impl EntryError {
    /// Whether the entry's checksum was right when this was found. Such an
    /// entry was written whole, so what it holds is wrong (corruption or a
    /// bug); every other error is what a torn, stale or never-written
    /// entry shows, which ends the chain normally (fsck tells them apart).
    pub fn under_good_checksum(&self) -> bool {
        matches!(
            self,
            Self::ReservedNotZero | Self::BadRecord { .. } | Self::WrongRecordCount { .. }
        )
    }
}

/// The bytes a record of `key` takes in an entry.
pub fn record_bytes(key: &Key) -> usize {
    RECORD_HEADER_BYTES + key.encoded_len()
}

/// Writes the record of `key` in `btree` at the start of `out`; returns its
/// length.
pub fn encode_record(btree: u8, key: &Key, out: &mut [u8]) -> Result<usize, KeyError> {
    let len = record_bytes(key);
    let out = out.get_mut(..len).ok_or(KeyError::Truncated)?;
    out.fill(0);
    le::put(out, 0, &[btree]);
    let key_out = out
        .get_mut(RECORD_HEADER_BYTES..)
        .ok_or(KeyError::Truncated)?;
    key.encode(key_out)?;
    Ok(len)
}

/// A checked entry, borrowed from the buffer it was read into.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// Its length in blocks.
    pub blocks: u32,
    /// How many records it holds.
    pub records: u32,
    payload: &'a [u8],
}

impl<'a> Entry<'a> {
    /// Its records, in the order they were committed.
    pub fn records(&self) -> Records<'a> {
        Records { rest: self.payload }
    }
}

/// The records of an entry: `(btree id, key)`.
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(u8, KeyRef<'a>), KeyError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let btree = le::u8_at(self.rest, 0);
        let parsed = self
            .rest
            .get(RECORD_HEADER_BYTES..)
            .ok_or(KeyError::Truncated)
            .and_then(|after| {
                let reserved = self.rest.get(1..RECORD_HEADER_BYTES);
                if reserved.is_some_and(|r| r.iter().any(|&b| b != 0)) {
                    return Err(KeyError::Reserved);
                }
                KeyRef::parse(after)
            });
        match parsed {
            Ok((key, rest)) => {
                self.rest = rest;
                Some(Ok((btree, key)))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// The checksum of an entry whose header is at the start of `bytes`.
fn checksum(bytes: &[u8], payload: usize) -> u32 {
    let end = HEADER_BYTES.saturating_add(payload);
    crc32c(bytes.get(BLOCKS_AT..end).unwrap_or(&[]))
}

/// Blocks of `block_size` bytes an entry with `payload` bytes of records
/// takes.
pub fn entry_blocks(payload: usize, block_size: usize) -> usize {
    HEADER_BYTES
        .saturating_add(payload)
        .div_ceil(block_size.max(1))
}

/// Fills in the header of the entry in `buf`, whose records (`payload`
/// bytes of them, `records` records) follow [`HEADER_BYTES`], and zeroes
/// the rest of its last block; returns its length in bytes.
pub fn seal(
    buf: &mut [u8],
    seq: u64,
    uuid: &[u8; 16],
    payload: usize,
    records: u32,
    block_size: usize,
) -> Result<usize, EntryError> {
    let blocks = entry_blocks(payload, block_size);
    let len = blocks.saturating_mul(block_size);
    let buf = buf.get_mut(..len).ok_or(EntryError::Truncated)?;
    let used = HEADER_BYTES.saturating_add(payload);
    if let Some(tail) = buf.get_mut(used..) {
        tail.fill(0);
    }
    if let Some(header) = buf.get_mut(..HEADER_BYTES) {
        header.fill(0);
    }
    le::put(buf, MAGIC_AT, &MAGIC);
    le::put_u32(
        buf,
        BLOCKS_AT,
        u32::try_from(blocks).map_err(|_| EntryError::BadLength)?,
    );
    le::put_u64(buf, SEQ_AT, seq);
    le::put(buf, UUID_AT, uuid);
    le::put_u32(
        buf,
        PAYLOAD_AT,
        u32::try_from(payload).map_err(|_| EntryError::BadLength)?,
    );
    le::put_u32(buf, RECORDS_AT, records);
    let csum = checksum(buf, payload);
    le::put_u32(buf, CSUM_AT, csum);
    Ok(len)
}

/// What the first block of an entry says: its length in blocks, if it
/// starts the entry `seq` of the filesystem `uuid` (checked before the
/// rest of the entry is read).
pub fn peek(block: &[u8], uuid: &[u8; 16], seq: u64) -> Result<u32, EntryError> {
    if block.len() < HEADER_BYTES {
        return Err(EntryError::Truncated);
    }
    if le::bytes::<8>(block, MAGIC_AT) != MAGIC {
        return Err(EntryError::BadMagic);
    }
    if &le::bytes::<16>(block, UUID_AT) != uuid {
        return Err(EntryError::WrongFilesystem);
    }
    let found = le::u64_at(block, SEQ_AT);
    if found != seq {
        return Err(EntryError::WrongSeq { found });
    }
    let blocks = le::u32_at(block, BLOCKS_AT);
    if blocks == 0 {
        return Err(EntryError::BadLength);
    }
    Ok(blocks)
}

/// Decodes and checks the entry at the start of `bytes` (its whole blocks
/// of `block_size`): the entry `seq` of the filesystem `uuid`, every
/// record a valid key.
pub fn decode<'a>(
    bytes: &'a [u8],
    uuid: &[u8; 16],
    seq: u64,
    block_size: usize,
) -> Result<Entry<'a>, EntryError> {
    let blocks = peek(bytes, uuid, seq)?;
    let len = (blocks as usize)
        .checked_mul(block_size)
        .ok_or(EntryError::BadLength)?;
    let bytes = bytes.get(..len).ok_or(EntryError::Truncated)?;
    let payload = le::u32_at(bytes, PAYLOAD_AT) as usize;
    if entry_blocks(payload, block_size) != blocks as usize {
        return Err(EntryError::BadLength);
    }
    if le::u32_at(bytes, CSUM_AT) != checksum(bytes, payload) {
        return Err(EntryError::BadChecksum);
    }
    if le::first_nonzero(bytes, RESERVED).is_some() {
        return Err(EntryError::ReservedNotZero);
    }
    let entry = Entry {
        seq,
        blocks,
        records: le::u32_at(bytes, RECORDS_AT),
        payload: bytes
            .get(HEADER_BYTES..HEADER_BYTES + payload)
            .ok_or(EntryError::Truncated)?,
    };
    let mut count = 0u32;
    for record in entry.records() {
        record.map_err(|error| EntryError::BadRecord {
            index: count,
            error,
        })?;
        count = count.saturating_add(1);
    }
    if count != entry.records {
        return Err(EntryError::WrongRecordCount {
            header: entry.records,
            found: count,
        });
    }
    Ok(entry)
}
