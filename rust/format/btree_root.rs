// SPDX-License-Identifier: GPL-2.0

//! The roots of the btrees, as the superblock records them: where each
//! btree's root node is on the device, and its level.
//!
//! Until the journal exists, the superblock is where a clean unmount
//! leaves the roots. Once it does, the journal will carry the newest roots
//! and these slots will be the ones as of the last superblock write, as in
//! bcachefs.

use super::geometry::Geometry;
use super::le;

/// Root slots in the superblock, one per btree id: room for more btrees
/// than the filesystem has today, so adding one does not change the layout.
pub const BTREE_ROOT_SLOTS: usize = 16;
/// Bytes of one root slot.
pub const BTREE_ROOT_BYTES: usize = 16;
/// Levels a btree may have (a root's level is below this).
pub const MAX_BTREE_LEVELS: u8 = 8;

// Layout of a slot.
const SECTOR: usize = 0; // u64: the root node's first sector
const LEVEL: usize = 8; // u8: the root node's level (0: a leaf)
const STATE: usize = 9; // u8: STATE_EMPTY or STATE_PRESENT
const RESERVED: core::ops::Range<usize> = 10..BTREE_ROOT_BYTES; // zero

const STATE_EMPTY: u8 = 0;
const STATE_PRESENT: u8 = 1;

/// The root of one btree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BtreeRoot {
    /// The btree has no node on disk (it is empty, or does not exist yet).
    Empty,
    /// The root node.
    Node {
        /// The node's first 512-byte sector on the device.
        sector: u64,
        /// Its level: 0 for a leaf, the tree's depth minus one.
        level: u8,
    },
}

/// Why a root slot is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootError {
    /// The state byte is neither empty nor present.
    BadState(u8),
    /// An empty slot with non-zero bytes, or non-zero reserved bytes.
    NotZero,
    /// Level not below [`MAX_BTREE_LEVELS`].
    BadLevel(u8),
    /// Not at a node-aligned position of the data buckets, or the node
    /// does not end inside them.
    BadLocation(u64),
}

impl BtreeRoot {
    /// Decodes the slot `bytes` ([`BTREE_ROOT_BYTES`] long) and checks it
    /// against `geometry` (which must be valid).
    pub fn decode(bytes: &[u8], geometry: &Geometry) -> Result<Self, RootError> {
        let state = le::u8_at(bytes, STATE);
        match state {
            STATE_EMPTY => match le::first_nonzero(bytes, 0..BTREE_ROOT_BYTES) {
                None => Ok(Self::Empty),
                Some(_) => Err(RootError::NotZero),
            },
            STATE_PRESENT => {
                if le::first_nonzero(bytes, RESERVED).is_some() {
                    return Err(RootError::NotZero);
                }
                let level = le::u8_at(bytes, LEVEL);
                if level >= MAX_BTREE_LEVELS {
                    return Err(RootError::BadLevel(level));
                }
                let sector = le::u64_at(bytes, SECTOR);
                let node = u64::from(geometry.node_size);
                let data = geometry.data_bytes();
                let start = sector.checked_mul(512);
                let fits = start.is_some_and(|start| {
                    start.checked_rem(node) == Some(0)
                        && start >= data.start
                        && start.saturating_add(node) <= data.end
                });
                if !fits {
                    return Err(RootError::BadLocation(sector));
                }
                Ok(Self::Node { sector, level })
            }
            other => Err(RootError::BadState(other)),
        }
    }

    /// Writes the slot into `bytes` ([`BTREE_ROOT_BYTES`] long).
    pub fn encode(&self, bytes: &mut [u8]) {
        let mut slot = [0u8; BTREE_ROOT_BYTES];
        if let Self::Node { sector, level } = *self {
            le::put_u64(&mut slot, SECTOR, sector);
            le::put(&mut slot, LEVEL, &[level]);
            le::put(&mut slot, STATE, &[STATE_PRESENT]);
        }
        le::put(bytes, 0, &slot);
    }
}
