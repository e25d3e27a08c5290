// SPDX-License-Identifier: GPL-2.0

//! The position of a key: every btree is sorted by it.

use core::fmt;

/// A point in a btree's key space: (inode, offset, snapshot).
///
/// Positions order by inode, then offset, then snapshot, so all the keys of
/// one inode are adjacent and, within it, sorted by offset; the versions of
/// one (inode, offset) in different snapshots sit next to each other.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Pos {
    /// The inode number, or for inode-less btrees the major key.
    pub inode: u64,
    /// The offset within the inode: a byte/sector offset, a dirent hash...
    pub offset: u64,
    /// The snapshot the key belongs to.
    pub snapshot: u32,
}

impl Pos {
    /// The smallest position: before every key.
    pub const MIN: Pos = Pos::new(0, 0, 0);
    /// The largest position: after every key.
    pub const MAX: Pos = Pos::new(u64::MAX, u64::MAX, u32::MAX);

    /// A position from its three components.
    pub const fn new(inode: u64, offset: u64, snapshot: u32) -> Pos {
        Pos {
            inode,
            offset,
            snapshot,
        }
    }

    /// The next position in key order, or `None` after [`Pos::MAX`].
    pub const fn successor(self) -> Option<Pos> {
        if let Some(snapshot) = self.snapshot.checked_add(1) {
            return Some(Pos { snapshot, ..self });
        }
        if let Some(offset) = self.offset.checked_add(1) {
            return Some(Pos::new(self.inode, offset, 0));
        }
        match self.inode.checked_add(1) {
            Some(inode) => Some(Pos::new(inode, 0, 0)),
            None => None,
        }
    }

    /// The previous position in key order, or `None` before [`Pos::MIN`].
    pub const fn predecessor(self) -> Option<Pos> {
        if let Some(snapshot) = self.snapshot.checked_sub(1) {
            return Some(Pos { snapshot, ..self });
        }
        if let Some(offset) = self.offset.checked_sub(1) {
            return Some(Pos::new(self.inode, offset, u32::MAX));
        }
        match self.inode.checked_sub(1) {
            Some(inode) => Some(Pos::new(inode, u64::MAX, u32::MAX)),
            None => None,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |f: &mut fmt::Formatter<'_>, v: u64, max: u64| {
            if v == max {
                f.write_str("MAX")
            } else {
                write!(f, "{v}")
            }
        };
        show(f, self.inode, u64::MAX)?;
        f.write_str(":")?;
        show(f, self.offset, u64::MAX)?;
        f.write_str(":")?;
        show(f, self.snapshot.into(), u32::MAX.into())
    }
}
