// SPDX-License-Identifier: GPL-2.0

//! Iterators: a position, flags and a path of a transaction.
//!
//! An [`Iter`] does not borrow its transaction, so a transaction can have
//! many, held across updates and commits; every call takes the transaction.
//! A key returned borrows the iterator mutably (it is a copy kept in the
//! iterator), so it cannot outlive the next call.

use super::cache::{BtreeId, CachedNode};
use super::error::{BtreeError, BtreeResult};
use super::path::Uptodate;
use super::trans::Trans;
use crate::bkey::{Key, Pos};
use crate::node::{Filter, NodeIter};
use crate::platform::sync::Arc;

/// Iterator flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IterFlags(pub u32);

impl IterFlags {
    /// No flags: keys of a plain btree, read locks.
    pub const NONE: IterFlags = IterFlags(0);
    /// Return holes as deleted keys ([`Iter::peek_slot`] semantics).
    pub const SLOTS: IterFlags = IterFlags(1);
    /// The btree holds extents: a key covers `[pos.offset - size, pos.offset)`.
    pub const EXTENTS: IterFlags = IterFlags(2);
    /// Take intent locks on leaves (for updating through the iterator).
    pub const INTENT: IterFlags = IterFlags(4);
    /// Hint that the next nodes will be wanted (nodes are in memory: a
    /// no-op until nodes are read from disk).
    pub const PREFETCH: IterFlags = IterFlags(8);

    /// Whether all of `other`'s flags are set.
    pub const fn contains(self, other: IterFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags.
    pub const fn with(self, other: IterFlags) -> IterFlags {
        IterFlags(self.0 | other.0)
    }
}

/// An iterator over one btree of a transaction.
pub struct Iter {
    path: usize,
    /// The iterator's position.
    pub pos: Pos,
    /// The btree.
    pub btree: BtreeId,
    /// Flags.
    pub flags: IterFlags,
    level: u8,
    key: Key,
}

/// The first position an extent search from `pos` looks at: extents end
/// after `pos.offset`.
fn extent_search(pos: Pos) -> Pos {
    match pos.offset.checked_add(1) {
        Some(o) => Pos::new(pos.inode, o, 0),
        None => match pos.inode.checked_add(1) {
            Some(i) => Pos::new(i, 0, 0),
            None => Pos::MAX,
        },
    }
}

impl Iter {
    /// An iterator at `pos` in `btree`.
    pub fn new(
        trans: &mut Trans<'_>,
        btree: BtreeId,
        pos: Pos,
        flags: IterFlags,
    ) -> BtreeResult<Iter> {
        Self::new_level(trans, btree, pos, flags, 0)
    }

    /// An iterator over the nodes at `level`.
    pub fn new_level(
        trans: &mut Trans<'_>,
        btree: BtreeId,
        pos: Pos,
        flags: IterFlags,
        level: u8,
    ) -> BtreeResult<Iter> {
        let want = if flags.contains(IterFlags::INTENT) {
            level.saturating_add(1)
        } else {
            0
        };
        let path = trans.path_get(btree, pos, level, want)?;
        Ok(Iter {
            path,
            pos,
            btree,
            flags,
            level,
            key: Key::deleted(pos),
        })
    }

    /// The index of the iterator's path in the transaction.
    pub fn path_idx(&self) -> usize {
        self.path
    }

    /// Moves the iterator, forwards or backwards.
    pub fn set_pos(&mut self, trans: &mut Trans<'_>, pos: Pos) -> BtreeResult<()> {
        self.pos = pos;
        trans.path_mut(self.path)?.set_pos(pos);
        Ok(())
    }

    fn is_extents(&self) -> bool {
        self.flags.contains(IterFlags::EXTENTS)
    }

    /// The leaf at the path's position, traversed.
    fn leaf(&self, trans: &mut Trans<'_>, search: Pos) -> BtreeResult<Arc<CachedNode>> {
        self.traverse_to(trans, search)?;
        trans
            .path(self.path)?
            .node()
            .cloned()
            .ok_or_else(|| BtreeError::bug("traversed path without node"))
    }

    /// Moves the path to `search` and traverses it to its leaf.
    fn traverse_to(&self, trans: &mut Trans<'_>, search: Pos) -> BtreeResult<()> {
        trans.path_mut(self.path)?.set_pos(search);
        trans.traverse(self.path)
    }

    /// The first live key at or after `search` in the path's leaf (`exact`:
    /// the live key at `search`, if any), found by the path's cursor
    /// there, which moves to it (the cursor an insert at that position
    /// starts from), and the last position the leaf covers. Traversal left
    /// the cursor at the path's position or a walk just behind this one,
    /// so the seek is short. The leaf is borrowed from the path, not
    /// cloned: this runs for every key an iterator steps on.
    fn cursor_peek(
        &self,
        trans: &mut Trans<'_>,
        search: Pos,
        exact: bool,
    ) -> BtreeResult<(Option<Key>, Pos)> {
        let path = trans.path_mut(self.path)?;
        let level = usize::from(path.level);
        let l = path.l.get_mut(level).ok_or(BtreeError::TooBig)?;
        let leaf = l
            .node
            .as_ref()
            .ok_or_else(|| BtreeError::bug("traversed path without node"))?;
        let guard = leaf.data();
        let data = guard.as_ref().ok_or_else(super::cache::taken)?;
        let it = l
            .iter
            .get_or_insert_with(|| NodeIter::new(data, search, Filter::Live));
        let found = if exact {
            it.peek_at(data, search)
        } else {
            it.seek_ahead(data, search);
            it.peek(data)
        };
        let key = match found {
            Some(k) => Some(k.to_key()?),
            None => None,
        };
        Ok((key, leaf.max))
    }

    /// The first live key at or after `search`, in any leaf.
    fn peek_from(&mut self, trans: &mut Trans<'_>, mut search: Pos) -> BtreeResult<Option<Key>> {
        loop {
            self.traverse_to(trans, search)?;
            let (found, leaf_max) = self.cursor_peek(trans, search, false)?;
            if found.is_some() {
                return Ok(found);
            }
            match leaf_max.successor() {
                Some(next) => search = next,
                None => return Ok(None),
            }
        }
    }

    /// The next key at or after the position, without moving past it.
    /// For extents: the first extent that ends after the position.
    pub fn peek<'i>(&'i mut self, trans: &mut Trans<'_>) -> BtreeResult<Option<&'i Key>> {
        if self.flags.contains(IterFlags::SLOTS) {
            return self.peek_slot(trans).map(Some);
        }
        self.find_and_move(trans, |it, k| {
            if it.is_extents() {
                it.pos.max(Pos::new(k.pos.inode, k.start(), k.pos.snapshot))
            } else {
                k.pos
            }
        })
    }

    /// The first key from the position (for extents: the first extent
    /// ending after it); the iterator moves to `moved(self, key)`, or to
    /// the end if there is none.
    fn find_and_move<'i>(
        &'i mut self,
        trans: &mut Trans<'_>,
        moved: fn(&Self, &Key) -> Pos,
    ) -> BtreeResult<Option<&'i Key>> {
        let search = if self.is_extents() {
            extent_search(self.pos)
        } else {
            self.pos
        };
        match self.peek_from(trans, search)? {
            Some(k) => {
                self.pos = moved(self, &k);
                self.key = k;
                Ok(Some(&self.key))
            }
            None => {
                self.pos = Pos::MAX;
                Ok(None)
            }
        }
    }

    /// The next key, moving past it.
    #[allow(clippy::should_implement_trait)]
    pub fn next<'i>(&'i mut self, trans: &mut Trans<'_>) -> BtreeResult<Option<&'i Key>> {
        if self.flags.contains(IterFlags::SLOTS) {
            return self.next_slot(trans).map(Some);
        }
        self.find_and_move(trans, |it, k| {
            if it.is_extents() {
                k.pos
            } else {
                k.pos.successor().unwrap_or(Pos::MAX)
            }
        })
    }

    /// The last key before the position; the iterator moves to it.
    pub fn prev<'i>(&'i mut self, trans: &mut Trans<'_>) -> BtreeResult<Option<&'i Key>> {
        let mut before = self.pos;
        loop {
            // Search in the leaf holding the position just before.
            let Some(at) = before.predecessor() else {
                return Ok(None);
            };
            let leaf = self.leaf(trans, at)?;
            let found = {
                let guard = leaf.data();
                let data = guard.as_ref().ok_or_else(super::cache::taken)?;
                let mut it = NodeIter::new(data, before, Filter::Live);
                match it.prev(data) {
                    Some(k) => Some(k.to_key()?),
                    None => None,
                }
            };
            if let Some(k) = found {
                self.pos = k.pos;
                self.key = k;
                return Ok(Some(&self.key));
            }
            before = leaf.min;
        }
    }

    /// The key at the position, or a deleted key standing for the hole
    /// there; for extents, the extent covering the position or a hole up
    /// to the next extent (at most `u32::MAX` long, within the inode).
    pub fn peek_slot<'i>(&'i mut self, trans: &mut Trans<'_>) -> BtreeResult<&'i Key> {
        let pos = self.pos;
        if self.is_extents() {
            let next = self.peek_from(trans, extent_search(pos))?;
            let key = match next {
                Some(k) if k.pos.inode == pos.inode && k.start() <= pos.offset => k,
                other => {
                    let end = match other {
                        Some(k) if k.pos.inode == pos.inode => k.start(),
                        _ => u64::MAX,
                    };
                    let end = end.min(pos.offset.saturating_add(u64::from(u32::MAX)));
                    let size = u32::try_from(end.saturating_sub(pos.offset)).unwrap_or(u32::MAX);
                    Key {
                        pos: Pos::new(pos.inode, end, pos.snapshot),
                        size,
                        ..Key::deleted(pos)
                    }
                }
            };
            self.key = key;
            return Ok(&self.key);
        }
        self.traverse_to(trans, pos)?;
        // A deleted key or a whiteout at the slot: an empty slot.
        let (found, _) = self.cursor_peek(trans, pos, true)?;
        self.key = found.unwrap_or(Key::deleted(pos));
        Ok(&self.key)
    }

    /// The slot at the position, moving past it.
    pub fn next_slot<'i>(&'i mut self, trans: &mut Trans<'_>) -> BtreeResult<&'i Key> {
        self.peek_slot(trans)?;
        self.pos = if self.is_extents() {
            self.key.pos
        } else {
            // Slots are offsets: the next one keeps inode and snapshot.
            match self.key.pos.offset.checked_add(1) {
                Some(o) => Pos::new(self.key.pos.inode, o, self.key.pos.snapshot),
                None => extent_search(self.key.pos),
            }
        };
        Ok(&self.key)
    }

    /// The node at the iterator's level holding its position.
    pub fn peek_node(&mut self, trans: &mut Trans<'_>) -> BtreeResult<Option<Arc<CachedNode>>> {
        let root = trans.btree.root(self.btree)?;
        if root.level < self.level {
            return Ok(None);
        }
        trans.path_mut(self.path)?.set_pos(self.pos);
        trans.traverse(self.path)?;
        Ok(trans.path(self.path)?.node().cloned())
    }

    /// The node after the current one at the iterator's level.
    pub fn next_node(&mut self, trans: &mut Trans<'_>) -> BtreeResult<Option<Arc<CachedNode>>> {
        let Some(cur) = self.peek_node(trans)? else {
            return Ok(None);
        };
        match cur.max.successor() {
            Some(next) => {
                self.pos = next;
                self.peek_node(trans)
            }
            None => {
                trans.path_mut(self.path)?.uptodate = Uptodate::End;
                Ok(None)
            }
        }
    }

    /// Queues `key` as an update through this iterator's transaction; an
    /// intent iterator lends the commit its path to the leaf.
    pub fn update(&self, trans: &mut Trans<'_>, key: Key) -> BtreeResult<()> {
        trans.update_via(self.btree, key, Some(self.path))
    }
}
