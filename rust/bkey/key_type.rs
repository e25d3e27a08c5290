// SPDX-License-Identifier: GPL-2.0

//! Key types: what the value of a key means.

/// The type of a key, stored in one byte of its header.
///
/// The numbers are part of the on-disk format: never renumber, only add.
/// Types for inodes, directory entries and extents come with the
/// filesystem layer and take the next free numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeyType {
    /// A deleted key: inside a node it hides older keys at its position;
    /// compaction drops it once nothing it hides can reappear.
    Deleted = 0,
    /// A tombstone that the btree layer needs to see (hash tables,
    /// snapshots). Unlike [`KeyType::Deleted`] the node keeps it.
    Whiteout = 1,
    /// A pointer to a child node, in interior nodes.
    BtreePtr = 2,
    /// A small opaque value, for tests and benchmarks.
    Test = 3,
}

impl KeyType {
    /// The type with number `raw`, if there is one.
    pub const fn from_raw(raw: u8) -> Option<KeyType> {
        match raw {
            0 => Some(KeyType::Deleted),
            1 => Some(KeyType::Whiteout),
            2 => Some(KeyType::BtreePtr),
            3 => Some(KeyType::Test),
            _ => None,
        }
    }

    /// Whether the key marks an absence: deleted or whiteout.
    pub const fn is_deleted_or_whiteout(self) -> bool {
        matches!(self, KeyType::Deleted | KeyType::Whiteout)
    }
}
