// SPDX-License-Identifier: GPL-2.0

//! A btree node on a device: a header, then the node's bsets back to back,
//! in one node-sized slot of a btree bucket.
//!
//! Nodes are copy-on-write (Documentation/format.rst, "Btree nodes"): a
//! node is written whole, to a slot no durable tree points to, so the
//! header describes the node completely and one checksum covers it all.
//!
//! ```text
//! offset size field
//!      0    8 magic "SIXFSnod"
//!      8    4 crc32c of bytes 12..bytes
//!     12    4 bytes: header plus bsets (what the checksum covers)
//!     16    8 sector: where the node was written (a misdirected write or
//!             a stale slot shows here)
//!     24    8 tag: a number the parent's pointer repeats; a slot reused
//!             by another node does not match it
//!     32    1 btree id
//!     33    1 level (0: leaf)
//!     34    1 bsets that follow (0 to 3)
//!     35    1 reserved, 0
//!     36   12 bytes of each bset (u32 each; unused ones 0)
//!     48   24 min position: inode u64, offset u64, snapshot u32, 0 u32
//!     72   24 max position, the same
//!     96    . the bsets: keys in their byte form (bkey/encoding.rs)
//! ```

use super::btree_node::{Node, NodeParams, MAX_BSETS};
use super::error::NodeError;
use crate::bkey::Pos;
use crate::format::le;
use crate::platform::crc32c::crc32c;

/// The first bytes of a node on disk.
pub const MAGIC: [u8; 8] = *b"SIXFSnod";
/// Bytes of the header; the bsets follow.
pub const HEADER_BYTES: usize = 96;

const MAGIC_AT: usize = 0;
const CSUM_AT: usize = 8;
const BYTES_AT: usize = 12;
const SECTOR_AT: usize = 16;
const TAG_AT: usize = 24;
const BTREE_AT: usize = 32;
const LEVEL_AT: usize = 33;
const NSETS_AT: usize = 34;
const RESERVED_AT: usize = 35;
const BSET_BYTES_AT: usize = 36;
const MIN_AT: usize = 48;
const MAX_AT: usize = 72;
const POS_BYTES: usize = 24;

const _: () = {
    assert!(CSUM_AT == MAGIC_AT + MAGIC.len());
    assert!(BYTES_AT == CSUM_AT + 4);
    assert!(SECTOR_AT == BYTES_AT + 4);
    assert!(TAG_AT == SECTOR_AT + 8);
    assert!(BTREE_AT == TAG_AT + 8);
    assert!(LEVEL_AT == BTREE_AT + 1 && NSETS_AT == LEVEL_AT + 1);
    assert!(RESERVED_AT == NSETS_AT + 1);
    assert!(BSET_BYTES_AT == RESERVED_AT + 1);
    assert!(MIN_AT == BSET_BYTES_AT + 4 * MAX_BSETS);
    assert!(MAX_AT == MIN_AT + POS_BYTES);
    assert!(HEADER_BYTES == MAX_AT + POS_BYTES);
};

/// What a node's header says: written from the node, and compared, when
/// a node is read, with what the pointer followed and the parent's keys
/// around it say the node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeHeader {
    /// The node's first sector on the device.
    pub sector: u64,
    /// The tag of the pointer.
    pub tag: u64,
    /// The btree id.
    pub btree: u8,
    /// The level.
    pub level: u8,
    /// The first position it covers.
    pub min: Pos,
    /// The last position it covers.
    pub max: Pos,
}

/// Why bytes are not the node a pointer names. Each names the field, so
/// that the message a reader prints says what is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskNodeError {
    /// The slot is shorter than a header, or the header says more bytes
    /// than the slot has.
    TooShort,
    /// No magic: not a node (never written, or overwritten).
    BadMagic,
    /// The checksum does not match: torn or corrupt.
    BadChecksum {
        /// Stored.
        stored: u32,
        /// Computed.
        computed: u32,
    },
    /// The header is not the one expected: which field.
    Mismatch(&'static str),
    /// Reserved bytes not zero, or bset lengths that do not add up.
    BadHeader(&'static str),
    /// The keys are not valid (see `Node::read_bset`).
    BadKeys(NodeError),
}

fn put_pos(out: &mut [u8], at: usize, pos: Pos) {
    le::put_u64(out, at, pos.inode);
    le::put_u64(out, at + 8, pos.offset);
    le::put_u32(out, at + 16, pos.snapshot);
}

fn pos_at(bytes: &[u8], at: usize) -> Result<Pos, DiskNodeError> {
    if le::u32_at(bytes, at + POS_BYTES - 4) != 0 {
        return Err(DiskNodeError::BadHeader("reserved bytes of a position"));
    }
    Ok(Pos {
        inode: le::u64_at(bytes, at),
        offset: le::u64_at(bytes, at + 8),
        snapshot: le::u32_at(bytes, at + 16),
    })
}

/// Bytes of keys a node in a slot of `slot_bytes` may hold.
pub fn key_bytes(slot_bytes: usize) -> usize {
    slot_bytes.saturating_sub(HEADER_BYTES)
}

/// Writes `node` into `out` (its slot, at least [`HEADER_BYTES`] plus the
/// node's size) with `header`; returns how many bytes of `out` matter (the
/// rest need not be written). Empty bsets are left out.
pub fn encode(node: &Node, header: &NodeHeader, out: &mut [u8]) -> Result<usize, DiskNodeError> {
    let mut lens = [0u32; MAX_BSETS];
    let mut nsets = 0usize;
    let mut at = HEADER_BYTES;
    for i in 0..node.nsets() {
        let dst = out.get_mut(at..).ok_or(DiskNodeError::TooShort)?;
        let written = node
            .disk_bset(i, dst)
            .map_err(|_| DiskNodeError::TooShort)?;
        if written == 0 {
            continue;
        }
        if let Some(len) = lens.get_mut(nsets) {
            *len = u32::try_from(written).map_err(|_| DiskNodeError::TooShort)?;
        }
        nsets += 1;
        at = at.checked_add(written).ok_or(DiskNodeError::TooShort)?;
    }
    let head = out.get_mut(..HEADER_BYTES).ok_or(DiskNodeError::TooShort)?;
    head.fill(0);
    le::put(head, MAGIC_AT, &MAGIC);
    le::put_u32(
        head,
        BYTES_AT,
        u32::try_from(at).map_err(|_| DiskNodeError::TooShort)?,
    );
    le::put_u64(head, SECTOR_AT, header.sector);
    le::put_u64(head, TAG_AT, header.tag);
    le::put(head, BTREE_AT, &[header.btree, header.level, nsets as u8]);
    for (i, len) in lens.iter().enumerate() {
        le::put_u32(head, BSET_BYTES_AT + 4 * i, *len);
    }
    put_pos(head, MIN_AT, header.min);
    put_pos(head, MAX_AT, header.max);
    let csum = crc32c(out.get(BYTES_AT..at).unwrap_or(&[]));
    le::put_u32(out, CSUM_AT, csum);
    Ok(at)
}

/// Reads the node in `slot` (the slot's bytes, node-sized), checking it
/// against `expect` (its tag too, unless `check_tag` is false: a root's
/// slot in the superblock has no tag) and every key it holds. Nothing in
/// `slot` can make it panic. Returns the node and its header.
pub fn decode(
    slot: &[u8],
    expect: &NodeHeader,
    check_tag: bool,
) -> Result<(Node, NodeHeader), DiskNodeError> {
    if slot.len() < HEADER_BYTES {
        return Err(DiskNodeError::TooShort);
    }
    if le::bytes::<8>(slot, MAGIC_AT) != MAGIC {
        return Err(DiskNodeError::BadMagic);
    }
    let bytes = le::u32_at(slot, BYTES_AT) as usize;
    if bytes < HEADER_BYTES {
        return Err(DiskNodeError::BadHeader("byte count below the header's"));
    }
    let covered = slot.get(BYTES_AT..bytes).ok_or(DiskNodeError::TooShort)?;
    let stored = le::u32_at(slot, CSUM_AT);
    let computed = crc32c(covered);
    if stored != computed {
        return Err(DiskNodeError::BadChecksum { stored, computed });
    }
    let found = NodeHeader {
        sector: le::u64_at(slot, SECTOR_AT),
        tag: le::u64_at(slot, TAG_AT),
        btree: le::u8_at(slot, BTREE_AT),
        level: le::u8_at(slot, LEVEL_AT),
        min: pos_at(slot, MIN_AT)?,
        max: pos_at(slot, MAX_AT)?,
    };
    for (what, ok) in [
        ("sector", found.sector == expect.sector),
        ("tag", !check_tag || found.tag == expect.tag),
        ("btree id", found.btree == expect.btree),
        ("level", found.level == expect.level),
        ("min position", found.min == expect.min),
        ("max position", found.max == expect.max),
    ] {
        if !ok {
            return Err(DiskNodeError::Mismatch(what));
        }
    }
    if le::u8_at(slot, RESERVED_AT) != 0 {
        return Err(DiskNodeError::BadHeader("reserved byte"));
    }
    let nsets = usize::from(le::u8_at(slot, NSETS_AT));
    if nsets > MAX_BSETS {
        return Err(DiskNodeError::BadHeader("too many bsets"));
    }
    let mut node = Node::new(NodeParams {
        size: key_bytes(slot.len()),
        level: found.level,
        min: found.min,
        max: found.max,
    })
    .map_err(DiskNodeError::BadKeys)?;
    let mut at = HEADER_BYTES;
    for i in 0..MAX_BSETS {
        let len = le::u32_at(slot, BSET_BYTES_AT + 4 * i) as usize;
        if i >= nsets {
            if len != 0 {
                return Err(DiskNodeError::BadHeader("length of an unused bset"));
            }
            continue;
        }
        if len == 0 {
            return Err(DiskNodeError::BadHeader("empty bset"));
        }
        let end = at
            .checked_add(len)
            .filter(|&end| end <= bytes)
            .ok_or(DiskNodeError::BadHeader("bsets past the byte count"))?;
        let bset = slot.get(at..end).ok_or(DiskNodeError::TooShort)?;
        node.read_bset(bset).map_err(DiskNodeError::BadKeys)?;
        at = end;
    }
    if at != bytes {
        return Err(DiskNodeError::BadHeader("bsets short of the byte count"));
    }
    Ok((node, found))
}
