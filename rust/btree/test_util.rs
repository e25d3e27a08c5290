// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the btree test suites (both builds).

use super::{Btree, BtreeId, BtreeParams, BtreeResult, Iter, IterFlags, Trans};
use crate::bkey::{Key, Pos, TestVal, Value};
use crate::platform::vec::Vec;

/// The tree the tests use.
pub(crate) const T: BtreeId = BtreeId(0);

/// Trees with nodes of `size` bytes.
pub(crate) fn tree(size: usize) -> BtreeResult<Btree> {
    Btree::new(BtreeParams { node_size: size })
}

/// Position `offset` of inode 1.
pub(crate) fn p(offset: u64) -> Pos {
    Pos::new(1, offset, 0)
}

/// A test key at `p(offset)` holding `v`.
pub(crate) fn tkey(offset: u64, v: u64) -> Key {
    Key::new(p(offset), Value::Test(TestVal::from_u64(v)))
}

/// An extent `[start, end)` of inode 1 holding `v`.
pub(crate) fn ext(start: u64, end: u64, v: u64) -> Key {
    Key::extent(1, start, end, 0, Value::Test(TestVal::from_u64(v))).unwrap_or(Key::deleted(p(0)))
}

/// Commits `key` alone.
pub(crate) fn insert(b: &Btree, key: Key) -> BtreeResult<()> {
    Trans::new(b).run(|t| {
        t.update(T, key)?;
        t.commit()
    })
}

/// Commits extent `key` alone.
pub(crate) fn insert_extent(b: &Btree, key: Key) -> BtreeResult<()> {
    Trans::new(b).run(|t| {
        t.insert_extent(T, key)?;
        t.commit()
    })
}

/// Every key of tree `T`, in order, through `flags`.
pub(crate) fn all_keys(b: &Btree, flags: IterFlags) -> BtreeResult<Vec<Key>> {
    Trans::new(b).run(|t| {
        let mut out = Vec::new();
        let mut it = Iter::new(t, T, Pos::MIN, flags)?;
        while let Some(k) = it.next(t)? {
            out.try_push(*k)?;
        }
        Ok(out)
    })
}
