// SPDX-License-Identifier: GPL-2.0

//! Commit: the queued updates go in atomically. Every update gets a path
//! with an intent lock on its leaf; every path of the transaction must
//! still relock (nothing it read changed); leaves without room are
//! compacted or split (which restarts the transaction); then the leaves are
//! write-locked in order, all updates applied, and the locks dropped.
//! Sparse leaves are merged afterwards, as a best effort.
//!
//! Extents are planned before commit ([`Trans::insert_extent`]): the keys
//! they trim, split or delete, in any leaf, become plain updates, and the
//! leaves planned against stay intent-locked until the commit.

use super::cache::{BtreeId, MAX_DEPTH};
use super::error::{BtreeError, BtreeResult, RestartReason};
use super::iter::{Iter, IterFlags};
use super::path::Uptodate;
use super::trans::Trans;
use crate::bkey::extent::{cut_back, cut_front, overwrite, Overwrite, Span};
use crate::bkey::{Key, Pos};
use crate::node::split::merge_threshold;
use crate::platform::vec::Vec;

impl Trans<'_> {
    /// Queues extent `key`, with the trimming, splitting and deleting of
    /// the extents it overlaps (same inode and snapshot), across leaves.
    pub fn insert_extent(&mut self, btree: BtreeId, key: Key) -> BtreeResult<()> {
        let new = Span::of(&key);
        let (inode, snapshot) = (key.pos.inode, key.pos.snapshot);
        let mut iter = Iter::new(
            self,
            btree,
            Pos::new(inode, new.start, 0),
            IterFlags::EXTENTS.with(IterFlags::INTENT),
        )?;
        let mut last_leaf = None;
        loop {
            let Some(k) = iter.next(self)?.copied() else {
                break;
            };
            if k.pos.inode != inode || k.pos.offset.saturating_sub(u64::from(u32::MAX)) >= new.end {
                break;
            }
            // Keep the leaf planned against locked until commit.
            let leaf = self.path(iter.path_idx())?.node().map(|n| n.id);
            if leaf != last_leaf {
                last_leaf = leaf;
                let p = self.path_get(btree, k.pos, 0, 1)?;
                self.traverse(p)?;
            }
            if k.pos.snapshot != snapshot || k.size == 0 || k.value.kind().is_deleted_or_whiteout()
            {
                continue;
            }
            let old = Span::of(&k);
            if old.start >= new.end {
                continue;
            }
            match overwrite(old, new) {
                Overwrite::None => {}
                Overwrite::All => self.delete(btree, k.pos)?,
                Overwrite::Front => {
                    let cut = cut_front(&k, new.end).ok_or(BtreeError::Corrupt("cut front"))?;
                    self.update(btree, cut)?;
                }
                Overwrite::Back => {
                    self.delete(btree, k.pos)?;
                    let cut = cut_back(&k, new.start).ok_or(BtreeError::Corrupt("cut back"))?;
                    self.update(btree, cut)?;
                }
                Overwrite::Middle => {
                    let back = cut_back(&k, new.start).ok_or(BtreeError::Corrupt("cut back"))?;
                    let front = cut_front(&k, new.end).ok_or(BtreeError::Corrupt("cut front"))?;
                    self.update(btree, back)?;
                    self.update(btree, front)?;
                }
            }
        }
        self.update(btree, key)
    }

    /// Sorts the updates by (btree, position), the last queued winning at
    /// equal positions.
    fn sort_updates(&mut self) -> BtreeResult<()> {
        // Insertion sort: stable, allocation free, and updates are few.
        let u = &mut self.updates[..];
        for i in 1..u.len() {
            let mut j = i;
            while j > 0 {
                let (Some(a), Some(b)) = (u.get(j - 1), u.get(j)) else {
                    break;
                };
                if (a.btree, a.key.pos) <= (b.btree, b.key.pos) {
                    break;
                }
                u.swap(j - 1, j);
                j -= 1;
            }
        }
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

    /// The path of update `i` if it is the first update of its leaf (the
    /// updates are sorted, so each leaf's are together).
    fn first_of_leaf(&self, i: usize) -> Option<usize> {
        let idx = self.updates.get(i)?.path?;
        let prev = i.checked_sub(1).and_then(|p| self.updates.get(p)?.path);
        (prev != Some(idx)).then_some(idx)
    }

    /// Commits the queued updates atomically; they are gone afterwards.
    #[must_use = "a restart must be propagated"]
    pub fn commit(&mut self) -> BtreeResult<()> {
        if self.updates.is_empty() {
            return Ok(());
        }
        self.sort_updates()?;
        let first_path = self.paths.len();
        let result = self.do_commit();
        // The commit's own paths go; the callers' paths keep their
        // positions and re-traverse on their next use.
        while self.paths.len() > first_path {
            self.paths.pop();
        }
        self.unlock();
        if result.is_ok() {
            self.updates.clear();
        }
        result
    }

    fn do_commit(&mut self) -> BtreeResult<()> {
        let locks_want = if self.want_depth {
            u8::try_from(MAX_DEPTH).unwrap_or(u8::MAX)
        } else {
            1
        };
        // A path per leaf, shared by the updates that fall into it.
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
            let idx = match shared {
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
        // Nothing read may have changed.
        for idx in 0..self.paths.len() {
            let p = self.path(idx)?;
            if p.node().is_none() || p.uptodate == Uptodate::End {
                continue;
            }
            if !self.relock_path(idx)? {
                return Err(self.restart(RestartReason::Relock));
            }
        }
        // Room in every leaf.
        let mut i = 0;
        while let Some(up) = self.updates.get(i).copied() {
            let idx = up.path.ok_or(BtreeError::Corrupt("update without path"))?;
            let mut needed = 0usize;
            let mut j = i;
            while let Some(u) = self.updates.get(j).filter(|u| u.path == Some(idx)) {
                // At most the key itself: what it replaces stays until
                // compaction.
                needed = needed.saturating_add(u.key.encoded_len());
                j += 1;
            }
            // The last update of the first half: a cut there leaves
            // updates on both sides.
            let half = i.saturating_add(j.saturating_sub(i) / 2).saturating_sub(1);
            let mid = (j.saturating_sub(i) >= 2)
                .then(|| self.updates.get(half.max(i)).map(|u| u.key.pos))
                .flatten();
            self.make_room(idx, needed, mid)?;
            i = j;
        }
        // Write-lock the leaves in order and apply.
        let mut result = Ok(());
        // Updates `..locked` are those whose leaves are write-locked.
        let mut locked = 0;
        while locked < self.updates.len() {
            if let Some(idx) = self.first_of_leaf(locked) {
                let node = self
                    .path(idx)?
                    .node()
                    .cloned()
                    .ok_or(BtreeError::Corrupt("no leaf"))?;
                if let Err(e) = self.lock_write(&node) {
                    result = Err(e);
                    break;
                }
            }
            locked += 1;
        }
        if result.is_ok() {
            for up in self.updates.iter() {
                let path = up.path.and_then(|idx| self.paths.get(idx));
                // The leaf cursor traversal left at the path's position.
                let cursor = path.and_then(|p| p.l.first()).and_then(|l| l.iter.as_ref());
                let node = path
                    .and_then(|p| p.node())
                    .ok_or(BtreeError::Corrupt("no leaf"));
                match node {
                    Ok(node) => {
                        let inserted = node.write(|n| n.insert_near(&up.key, cursor));
                        if let Err(e) = inserted.and_then(|r| Ok(r?)) {
                            // Room was checked: this is a bug, and the
                            // commit is no longer atomic.
                            result = Err(e);
                            break;
                        }
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        for i in 0..locked {
            let leaf = self.first_of_leaf(i);
            if let Some(node) = leaf.and_then(|idx| self.paths.get(idx)?.node().cloned()) {
                self.unlock_write(&node);
            }
        }
        result?;
        // Merge sparse nodes, best effort: a restart here would undo
        // nothing, the updates are in.
        let mut spots: Vec<(BtreeId, Pos)> = Vec::new();
        for i in 0..locked {
            let Some(idx) = self.first_of_leaf(i) else {
                continue;
            };
            let p = self.path(idx)?;
            let sparse = p.node().is_some_and(|n| {
                n.read(|d| d.live_bytes())
                    .is_ok_and(|live| live < merge_threshold(self.btree.params.node_size))
            });
            if sparse {
                spots.try_push((p.btree, p.pos))?;
            }
        }
        for &(btree, pos) in spots.iter() {
            match self.merge_up(btree, pos) {
                // A merge that fails changes nothing: the commit stands.
                Ok(()) | Err(BtreeError::Restart(_)) | Err(BtreeError::Node(_)) => {}
                Err(e) => return Err(e),
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
            let sparse = self.path(idx)?.node().is_some_and(|n| {
                n.read(|d| d.live_bytes())
                    .is_ok_and(|live| live < merge_threshold(self.btree.params.node_size))
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
