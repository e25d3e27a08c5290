// SPDX-License-Identifier: GPL-2.0

//! Commit: the queued updates go in atomically, in stages (see
//! [`Trans::commit`] and Documentation/btree.rst). Every update gets a
//! path with an intent lock on its leaf; every path that read something
//! must still relock (nothing it read changed); leaves without room are
//! compacted or split (which restarts the transaction); then the leaves are
//! write-locked in order, every leaf reserves room for its updates, and
//! only then are they applied, which cannot fail: all or nothing. Sparse
//! leaves are merged afterwards, as a best effort.
//!
//! Extents are planned before commit ([`Trans::insert_extent`]) against
//! the tree as the commit will leave it: the stored extents overlaid with
//! the queued updates. The keys they trim, split or delete, in any leaf or
//! among the queued updates, become plain updates, and the leaves planned
//! against stay intent-locked until the commit.

use super::cache::{BtreeId, CachedNode, MAX_DEPTH};
use super::error::{BtreeError, BtreeResult, RestartReason};
use super::interior::wants_merge;
use super::iter::{Iter, IterFlags};
use super::path::Uptodate;
use super::trans::Trans;
use super::update::Update;
use crate::bkey::extent::{cut_back, cut_front, overwrite, Overwrite, Span};
use crate::bkey::{Key, KeyType, Pos};
use crate::platform::sort::insertion_sort_by_key;
use crate::platform::sync::Arc;
use crate::platform::vec::Vec;
use crate::six::SixLockType;

impl Trans<'_> {
    /// Queues extent `key`, with the trimming, splitting and deleting of
    /// the extents it overlaps (same inode and snapshot), across leaves
    /// and among the updates already queued: the tree as this commit will
    /// leave it never holds two extents over one offset.
    pub fn insert_extent(&mut self, btree: BtreeId, key: Key) -> BtreeResult<()> {
        // Queued updates come first: each position once, the last queued.
        self.sort_updates()?;
        self.trim_queued(btree, &key)?;
        self.sort_updates()?;
        self.trim_stored(btree, &key)?;
        self.update(btree, key)
    }

    /// Trims the queued extents that `key` overlaps.
    fn trim_queued(&mut self, btree: BtreeId, key: &Key) -> BtreeResult<()> {
        let new = Span::of(key);
        for i in 0..self.updates.len() {
            let Some(up) = self.updates.get(i).copied() else {
                break;
            };
            let old = up.key;
            if up.btree != btree || !same_file(&old, key) || old.size == 0 {
                continue;
            }
            if old.value.kind().is_deleted_or_whiteout() {
                continue;
            }
            let (stays, moved) = trimmed(&old, new)?;
            if let Some(slot) = self.updates.get_mut(i) {
                slot.key = stays;
            }
            if let Some(moved) = moved {
                self.update(btree, moved)?;
            }
        }
        Ok(())
    }

    /// Queues the trims of the extents in the tree that `key` overlaps,
    /// but of those whose position has a queued update: that update
    /// already stands for them.
    ///
    /// Leaf by leaf, each held by a path, intent-locked until the commit,
    /// *before* it is read: the commit's relock then catches any change to
    /// a leaf since the scan read it. Holding only the leaves where the
    /// scan found extents is not enough: it also read the leaves it found
    /// nothing in (an iterator steps over them and lets them go), and an
    /// extent another transaction writes into one of them before the
    /// commit overlaps the new one, or the trimmed front of an extent (keyed
    /// at its new end, maybe in an earlier leaf) is missed.
    fn trim_stored(&mut self, btree: BtreeId, key: &Key) -> BtreeResult<()> {
        let new = Span::of(key);
        let queued = self.updates.len();
        // Extents ending after `from`, in the leaf holding `leaf_at`.
        let mut from = Pos::new(key.pos.inode, new.start, 0);
        let mut leaf_at = from;
        let mut iter = Iter::new(
            self,
            btree,
            from,
            IterFlags::EXTENTS.with(IterFlags::INTENT),
        )?;
        loop {
            let hold = self.path_get(btree, leaf_at, 0, 1)?;
            self.traverse(hold)?;
            let leaf_max = self
                .path(hold)?
                .node()
                .map(|n| n.max)
                .ok_or_else(|| BtreeError::bug("traversed path without node"))?;
            iter.set_pos(self, from)?;
            while let Some(k) = iter.next(self)?.copied() {
                if k.pos > leaf_max {
                    // A later leaf, read unheld: read it again, held.
                    break;
                }
                if k.pos.inode != key.pos.inode
                    || k.pos.offset.saturating_sub(u64::from(u32::MAX)) >= new.end
                {
                    // No later extent can start before the new end.
                    return Ok(());
                }
                let live = k.size != 0 && !k.value.kind().is_deleted_or_whiteout();
                if live && same_file(&k, key) && k.start() >= new.end {
                    // Extents of one file do not overlap, so they start in
                    // the order they end: none after this one reaches back.
                    return Ok(());
                }
                if !live || !same_file(&k, key) || self.queued_at(btree, k.pos, queued) {
                    continue;
                }
                let (stays, moved) = trimmed(&k, new)?;
                if stays != k {
                    self.update(btree, stays)?;
                }
                if let Some(moved) = moved {
                    self.update(btree, moved)?;
                }
            }
            match leaf_max.successor() {
                Some(next) if leaf_max.inode == key.pos.inode => {
                    from = leaf_max;
                    leaf_at = next;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Whether one of the first `sorted` updates, which are sorted, is at
    /// `pos` of `btree`.
    fn queued_at(&self, btree: BtreeId, pos: Pos, sorted: usize) -> bool {
        self.updates.get(..sorted).is_some_and(|u| {
            u.binary_search_by(|u| (u.btree, u.key.pos).cmp(&(btree, pos)))
                .is_ok()
        })
    }

    /// Sorts the updates by (btree, position), the last queued winning at
    /// equal positions.
    pub(crate) fn sort_updates(&mut self) -> BtreeResult<()> {
        // Stable, allocation free, and updates are few.
        insertion_sort_by_key(&mut self.updates[..], |u| (u.btree, u.key.pos));
        // Then keep the last of each position, in place.
        let mut kept = 0;
        for i in 0..self.updates.len() {
            let Some(up) = self.updates.get(i).copied() else {
                break;
            };
            let same = kept > 0
                && self
                    .updates
                    .get(kept - 1)
                    .is_some_and(|last| (last.btree, last.key.pos) == (up.btree, up.key.pos));
            if !same {
                kept += 1;
            }
            if let Some(slot) = self.updates.get_mut(kept - 1) {
                *slot = up;
            }
        }
        self.updates.truncate(kept);
        Ok(())
    }

    /// The leaf of the updates from `i` on: the path they share and where
    /// the next leaf's updates start (the updates are sorted, so each
    /// leaf's are together).
    fn leaf_group(&self, i: usize) -> BtreeResult<Option<(usize, usize)>> {
        let Some(first) = self.updates.get(i) else {
            return Ok(None);
        };
        let idx = first
            .path
            .ok_or_else(|| BtreeError::bug("update without path"))?;
        let mut end = i + 1;
        while self.updates.get(end).is_some_and(|u| u.path == Some(idx)) {
            end += 1;
        }
        Ok(Some((idx, end)))
    }

    /// The leaf of path `idx`.
    fn leaf_of(&self, idx: usize) -> BtreeResult<Arc<CachedNode>> {
        self.path(idx)?
            .node()
            .cloned()
            .ok_or_else(|| BtreeError::bug("no leaf"))
    }

    /// The bytes updates `i..end` add to their leaf `idx` at most: what
    /// they replace stays until compaction. A deletion adds nothing unless
    /// the leaf has written bsets (it marks the key dead in place): a full
    /// leaf takes deletions without a split, which on a full device is
    /// what frees space.
    ///
    /// When that is more than the leaf's free room, each update is looked
    /// up for what it really takes ([`crate::node::Node::room_for`]): an
    /// overwrite of a key of the same size in an unwritten bset takes
    /// nothing, so a full leaf (keys written in order fill them) takes
    /// overwrites without a split.
    fn bytes_of(&self, idx: usize, i: usize, end: usize) -> BtreeResult<usize> {
        let updates = self.updates.get(i..end).unwrap_or(&[]);
        let path = self.path(idx)?;
        let leaf = path.node().ok_or_else(|| BtreeError::bug("no leaf"))?;
        let cursor = path.l.first().and_then(|l| l.iter.as_ref());
        leaf.read(|n| {
            let deletions_count = n.deletions_need_room();
            let at_most: usize = updates
                .iter()
                .filter(|u| deletions_count || u.key.kind() != KeyType::Deleted)
                .map(|u| u.key.encoded_len())
                .sum();
            if at_most <= n.free_bytes() {
                return at_most;
            }
            updates
                .iter()
                .map(|u| n.room_for(&u.key, cursor.and_then(|c| c.offsets_at(n, u.key.pos))))
                .sum()
        })
    }

    /// Commits the queued updates atomically; they are gone afterwards.
    #[must_use = "a restart must be propagated"]
    pub fn commit(&mut self) -> BtreeResult<()> {
        if self.updates.is_empty() {
            return Ok(());
        }
        if let Some(store) = self.store {
            store.check_writable()?;
        }
        self.sort_updates()?;
        let first_path = self.paths.len();
        let result = self.do_commit();
        // The commit's own paths go; the callers' paths keep their
        // positions.
        while self.paths.len() > first_path {
            self.paths.pop();
        }
        if result.is_ok() {
            self.updates.clear();
            self.downgrade();
            self.keep_locks_after_commit();
        } else {
            self.unlock();
        }
        result
    }

    /// After a commit that landed, the callers' paths keep their locks, as
    /// bcachefs's do until the transaction begins again: an iterator that
    /// commits key after key goes on in its leaf without relocking it.
    /// What they no longer want goes (levels above `locks_want` after
    /// [`Self::downgrade`]), and so does every lock of a path whose node a
    /// merge replaced (it must traverse again) or that another thread
    /// waits for (it gets its turn after each commit, not after the run).
    fn keep_locks_after_commit(&mut self) {
        for p in self.paths.iter_mut() {
            let must_go = p.l.iter().any(|l| {
                l.held.is_some()
                    && l.node
                        .as_ref()
                        .is_some_and(|n| n.is_dead() || n.lock.has_waiters())
            });
            if must_go {
                p.unlock();
                continue;
            }
            let kept =
                usize::from(p.level)..usize::from(p.locks_want.max(p.level.saturating_add(1)));
            for level in 0..p.l.len() {
                let held = p.l.get(level).is_some_and(|l| l.held.is_some());
                if held && !kept.contains(&level) {
                    p.unlock_level(level);
                }
            }
        }
    }

    /// The stages of a commit; see the module docs.
    fn do_commit(&mut self) -> BtreeResult<()> {
        self.leaf_paths()?;
        self.relock_read_paths()?;
        self.room_in_leaves()?;
        let (locked, result) = self.write_lock_leaves();
        let applied = result.and_then(|()| self.apply());
        // Each leaf once: its updates share it.
        let mut i = 0;
        while let Ok(Some((idx, end))) = self.leaf_group(i) {
            if i >= locked {
                break;
            }
            if let Ok(node) = self.leaf_of(idx) {
                self.unlock_write(&node);
                self.own_write_seen(&node);
            }
            i = end;
        }
        applied?;
        self.merge_sparse_leaves(locked)
    }

    /// Gives every update a path to its leaf, intent-locked, shared by the
    /// updates of one leaf.
    fn leaf_paths(&mut self) -> BtreeResult<()> {
        let locks_want = if self.want_depth {
            u8::try_from(MAX_DEPTH).unwrap_or(u8::MAX)
        } else {
            1
        };
        let mut i = 0;
        while let Some(up) = self.updates.get(i).copied() {
            let shared = match i.checked_sub(1).and_then(|p| self.updates.get(p)) {
                Some(prev) if prev.btree == up.btree => prev.path.filter(|&idx| {
                    self.paths
                        .get(idx)
                        .and_then(|p| p.node())
                        .is_some_and(|n| n.covers(up.key.pos))
                }),
                _ => None,
            };
            let lent = up
                .path
                .filter(|&idx| self.leaf_path_for(idx, &up, locks_want));
            let idx = match shared.or(lent) {
                Some(idx) => idx,
                None => {
                    let idx = self.path_get(up.btree, up.key.pos, 0, locks_want)?;
                    self.traverse(idx)?;
                    idx
                }
            };
            if let Some(u) = self.updates.get_mut(i) {
                u.path = Some(idx);
            }
            i += 1;
        }
        Ok(())
    }

    /// Whether path `idx` (an iterator's) can carry update `up` as
    /// [`Self::leaf_paths`] would: the same tree, at the leaf level, with
    /// the locks wanted, its leaf alive, intent-locked and covering the
    /// key.
    fn leaf_path_for(&self, idx: usize, up: &Update, locks_want: u8) -> bool {
        self.paths.get(idx).is_some_and(|p| {
            p.btree == up.btree
                && p.level == 0
                && p.locks_want >= locks_want
                && p.l.first().is_some_and(|l| {
                    l.held == Some(SixLockType::Intent)
                        && l.node
                            .as_ref()
                            .is_some_and(|n| n.covers(up.key.pos) && !n.is_dead())
                })
        })
    }

    /// Relocks every path that read something: nothing it read may have
    /// changed. A path that moved out of its node and was not traversed
    /// since has read nothing where it is.
    fn relock_read_paths(&mut self) -> BtreeResult<()> {
        for idx in 0..self.paths.len() {
            let p = self.path(idx)?;
            if p.node().is_none() || matches!(p.uptodate, Uptodate::End | Uptodate::NeedTraverse) {
                continue;
            }
            if !self.relock_path(idx)? {
                return Err(BtreeError::Restart(RestartReason::Relock));
            }
        }
        Ok(())
    }

    /// Makes room in every leaf for its updates: compaction, or a split
    /// and a restart. Notes what each leaf takes in `leaf_room`: the leaf
    /// stays intent-locked until the updates are in, and a compaction only
    /// lowers what they take.
    fn room_in_leaves(&mut self) -> BtreeResult<()> {
        self.leaf_room.clear();
        let mut i = 0;
        while let Some((idx, end)) = self.leaf_group(i)? {
            // The last update of the first half: a cut there leaves
            // updates on both sides.
            let half = i
                .saturating_add(end.saturating_sub(i) / 2)
                .saturating_sub(1);
            let mid = (end.saturating_sub(i) >= 2)
                .then(|| self.updates.get(half.max(i)).map(|u| u.key.pos))
                .flatten();
            let first = self
                .updates
                .get(i)
                .map(|u| u.key.pos)
                .ok_or_else(|| BtreeError::bug("a leaf group without updates"))?;
            let bytes = self.bytes_of(idx, i, end)?;
            self.make_room(idx, bytes, first, mid)?;
            self.leaf_room.try_push(bytes)?;
            i = end;
        }
        Ok(())
    }

    /// Write-locks the leaves in order (the lock order); returns how many
    /// updates have their leaf write-locked, and the error that stopped it.
    fn write_lock_leaves(&mut self) -> (usize, BtreeResult<()>) {
        let mut i = 0;
        loop {
            let (idx, end) = match self.leaf_group(i) {
                Ok(Some(group)) => group,
                Ok(None) => return (i, Ok(())),
                Err(e) => return (i, Err(e)),
            };
            let locked = self.leaf_of(idx).and_then(|node| self.lock_write(&node));
            if let Err(e) = locked {
                return (i, Err(e));
            }
            i = end;
        }
    }

    /// After this transaction's own write to `node`: every path of it that
    /// holds a lock on the node takes the node's new sequence number, as
    /// nothing but this write changed the node while it held that lock
    /// (bcachefs does the same when it unlocks a node it wrote). So a
    /// caller's iterator relocks after the commit by sequence number, and
    /// looks the node up again where it is, instead of walking down from
    /// the root.
    fn own_write_seen(&mut self, node: &Arc<CachedNode>) {
        let seq = node.lock.seq();
        for p in self.paths.iter_mut() {
            for l in p.l.iter_mut() {
                if l.held.is_some() && l.node.as_ref().is_some_and(|n| Arc::ptr_eq(n, node)) {
                    l.seq = seq;
                }
            }
        }
    }

    /// Applies the updates, all leaves write-locked. Everything that can
    /// fail is done first (every leaf reserves room for its updates, then
    /// the journal takes them), so either all updates land or none.
    fn apply(&mut self) -> BtreeResult<()> {
        let one_leaf = self
            .leaf_group(0)?
            .is_some_and(|(_, end)| end == self.updates.len());
        if one_leaf {
            return self.apply_to_one_leaf();
        }
        // What the journal took must land: reserve before it.
        let mut i = 0;
        let mut leaf = 0;
        while let Some((idx, end)) = self.leaf_group(i)? {
            let bytes = self.room_of_leaf(leaf)?;
            self.leaf_of(idx)?.write(|n| n.reserve(bytes))??;
            i = end;
            leaf += 1;
        }
        if let Some(store) = self.store {
            self.journal_seq = store.log_commit(&self.updates)?;
        }
        let mut i = 0;
        while let Some((idx, end)) = self.leaf_group(i)? {
            let path = self.path(idx)?;
            let leaf = path.node().ok_or_else(|| BtreeError::bug("no leaf"))?;
            // The leaf cursor traversal left at the path's position.
            let cursor = path.l.first().and_then(|l| l.iter.as_ref());
            let updates = self.updates.get(i..end).unwrap_or(&[]);
            leaf.write(|n| {
                updates
                    .iter()
                    .try_for_each(|up| n.insert_near(&up.key, cursor))
            })?
            .map_err(|_| BtreeError::bug("an insert after the reserve failed"))?;
            if self.journal_seq != 0 {
                leaf.pin_journal(self.journal_seq);
            }
            i = end;
        }
        Ok(())
    }

    /// [`Self::apply`] for updates of one leaf: reserve, journal and
    /// insert with the node out of its spinlock once. A single update
    /// without a journal needs no reserve: an insert that fails changes
    /// nothing.
    fn apply_to_one_leaf(&mut self) -> BtreeResult<()> {
        let idx = self
            .updates
            .first()
            .and_then(|u| u.path)
            .ok_or_else(|| BtreeError::bug("update without path"))?;
        let alone = self.updates.len() == 1 && self.store.is_none();
        let bytes = self.room_of_leaf(0)?;
        let path = self.path(idx)?;
        let leaf = path.node().ok_or_else(|| BtreeError::bug("no leaf"))?;
        // The leaf cursor traversal left at the path's position.
        let cursor = path.l.first().and_then(|l| l.iter.as_ref());
        let updates = &self.updates[..];
        let store = self.store;
        let mut journal_seq = 0;
        leaf.write(|n| {
            if !alone {
                n.reserve(bytes)?;
            }
            if let Some(store) = store {
                journal_seq = store.log_commit(updates)?;
                leaf.pin_journal(journal_seq);
            }
            for (i, up) in updates.iter().enumerate() {
                match n.insert_near(&up.key, cursor) {
                    Ok(()) => {}
                    // Nothing is in yet, nor journaled: the commit fails
                    // whole.
                    Err(e) if i == 0 && journal_seq == 0 => return Err(e.into()),
                    // Keys were checked by `update`, room reserved.
                    Err(_) => return Err(BtreeError::bug("an insert after the reserve failed")),
                }
            }
            Ok(())
        })??;
        self.journal_seq = journal_seq;
        Ok(())
    }

    /// What the `n`th leaf's updates take, as [`Self::room_in_leaves`]
    /// found.
    fn room_of_leaf(&self, n: usize) -> BtreeResult<usize> {
        self.leaf_room
            .get(n)
            .copied()
            .ok_or_else(|| BtreeError::bug("a leaf without its room"))
    }

    /// Merges the sparse leaves of the first `locked` updates, best effort:
    /// the updates are in, and a merge that fails changes nothing.
    fn merge_sparse_leaves(&mut self, locked: usize) -> BtreeResult<()> {
        let mut spots: Vec<(BtreeId, Pos)> = Vec::new();
        let mut i = 0;
        while let Some((idx, end)) = self.leaf_group(i)? {
            if i >= locked {
                break;
            }
            let p = self.path(idx)?;
            let size = self.btree.params.node_size;
            let sparse = p.node().is_some_and(|n| {
                n.read(|d| d.live_bytes())
                    .is_ok_and(|live| wants_merge(n, live, size))
            });
            // No room to note it: no merge, which is allowed.
            if sparse && spots.try_push((p.btree, p.pos)).is_err() {
                break;
            }
            i = end;
        }
        for &(btree, pos) in spots.iter() {
            match self.merge_up(btree, pos) {
                Ok(()) => {}
                // The lock it would have waited for is nobody's business
                // now.
                Err(BtreeError::Restart(_)) => self.wait_hint = None,
                // No room or memory for the merged node: no merge.
                Err(
                    BtreeError::Node(_)
                    | BtreeError::Alloc
                    | BtreeError::NoSpace
                    | BtreeError::TooBig,
                ) => {}
                Err(e) => debug_assert!(false, "merge after commit: {e:?}"),
            }
        }
        Ok(())
    }
}

impl Trans<'_> {
    /// Merges the sparse nodes on the way from the leaf at `pos` up.
    fn merge_up(&mut self, btree: BtreeId, pos: Pos) -> BtreeResult<()> {
        for level in 0..MAX_DEPTH.saturating_sub(1) {
            let level8 = u8::try_from(level).map_err(|_| BtreeError::TooBig)?;
            if self.btree.root(btree)?.level <= level8 {
                break;
            }
            let idx = self.path_get(btree, pos, level8, level8.saturating_add(1))?;
            self.traverse(idx)?;
            let size = self.btree.params.node_size;
            let sparse = self.path(idx)?.node().is_some_and(|n| {
                n.read(|d| d.live_bytes())
                    .is_ok_and(|live| wants_merge(n, live, size))
            });
            let merged = sparse && self.try_merge(idx, level)?;
            self.paths.pop();
            if !merged && !sparse {
                break;
            }
        }
        Ok(())
    }
}

/// Whether two extents belong to one file: same inode and snapshot.
fn same_file(a: &Key, b: &Key) -> bool {
    a.pos.inode == b.pos.inode && a.pos.snapshot == b.pos.snapshot
}

/// What writing `new` over extent `old` leaves: the key at `old`'s
/// position (cut, or deleted) and, when `old`'s front survives, that front
/// at its new position `new.start`.
fn trimmed(old: &Key, new: Span) -> BtreeResult<(Key, Option<Key>)> {
    let front = || cut_front(old, new.end).ok_or_else(|| BtreeError::bug("cut front"));
    let back = || cut_back(old, new.start).ok_or_else(|| BtreeError::bug("cut back"));
    Ok(match overwrite(Span::of(old), new) {
        Overwrite::None => (*old, None),
        Overwrite::All => (Key::deleted(old.pos), None),
        Overwrite::Front => (front()?, None),
        Overwrite::Back => (Key::deleted(old.pos), Some(back()?)),
        Overwrite::Middle => (front()?, Some(back()?)),
    })
}
