// SPDX-License-Identifier: GPL-2.0

//! Traversal: relock a path by sequence numbers if nothing changed;
//! otherwise walk up to the lowest node that relocks and still covers the
//! position (or the root), and down again with lock coupling: a child is
//! locked before its parent is let go, so the pointer followed stays valid.

use super::cache::CachedNode;
use super::error::{BtreeError, BtreeResult};
use super::node_store::child_node;
use super::path::Uptodate;
use super::trans::Trans;
use crate::bkey::Pos;
use crate::node::{Filter, NodeIter};
use crate::platform::sync::Arc;

impl Trans<'_> {
    /// Relocks every level path `idx` wants locked; true if all did and
    /// the node at its level still covers its position.
    pub fn relock_path(&mut self, idx: usize) -> BtreeResult<bool> {
        let (level, want, covers) = {
            let p = self.path(idx)?;
            (
                usize::from(p.level),
                usize::from(p.locks_want),
                p.node().is_some_and(|n| n.covers(p.pos) && !n.is_dead()),
            )
        };
        if !covers {
            return Ok(false);
        }
        let top = want.max(level.saturating_add(1));
        for l in level..top {
            let has_node = self.path(idx)?.l.get(l).is_some_and(|x| x.node.is_some());
            if !has_node {
                // Above the root: nothing to lock.
                break;
            }
            if !self.relock_level(idx, l)? {
                return Ok(false);
            }
        }
        let p = self.path_mut(idx)?;
        if p.uptodate == Uptodate::NeedRelock {
            p.uptodate = Uptodate::NeedPeek;
        }
        Ok(true)
    }

    /// Makes path `idx` locked and positioned at its `pos`: still locked
    /// and in place, or relocked by sequence number, or walked up to a
    /// node that relocks and covers the position (or the root) and down
    /// again with lock coupling.
    #[must_use = "a restart must be propagated"]
    pub fn traverse(&mut self, idx: usize) -> BtreeResult<()> {
        let up = self.path(idx)?.uptodate;
        if matches!(up, Uptodate::Uptodate | Uptodate::NeedPeek) && self.path(idx)?.leaf_locked() {
            return Ok(());
        }
        if up != Uptodate::NeedTraverse && self.relock_path(idx)? {
            self.path_mut(idx)?.uptodate = Uptodate::Uptodate;
            return self.init_iter(idx);
        }
        self.path_mut(idx)?.unlock();
        let top = match self.walk_up(idx)? {
            Some(level) => level,
            None => {
                self.path_mut(idx)?.unlock();
                self.lock_root(idx)?
            }
        };
        self.walk_down(idx, top)?;
        self.init_iter(idx)
    }

    /// The lowest level, not below the ones the path wants intent-locked,
    /// whose node is alive, covers the position and relocks; `None` if
    /// that is none (start from the root).
    fn walk_up(&mut self, idx: usize) -> BtreeResult<Option<usize>> {
        let (level, want, pos) = {
            let p = self.path(idx)?;
            (usize::from(p.level), usize::from(p.locks_want), p.pos)
        };
        let from = level.max(want.saturating_sub(1));
        for l in from..super::cache::MAX_DEPTH {
            let usable = self
                .path(idx)?
                .l
                .get(l)
                .and_then(|x| x.node.as_ref())
                .is_some_and(|n| n.covers(pos) && !n.is_dead());
            if usable {
                // Only the lowest usable level is tried: a higher one that
                // relocked while this one did not would mean walking down
                // past a node that changed anyway.
                return Ok(self.relock_level(idx, l)?.then_some(l));
            }
        }
        Ok(None)
    }

    /// Walks path `idx` down from level `top`, which it holds, to its own
    /// level: each child is locked before the parent is let go, so the
    /// pointer followed stays valid.
    fn walk_down(&mut self, idx: usize, top: usize) -> BtreeResult<()> {
        let (level, want, pos) = {
            let p = self.path(idx)?;
            (usize::from(p.level), usize::from(p.locks_want), p.pos)
        };
        let mut l = top;
        while l > level {
            // The parent is borrowed, not cloned: it is the root on every
            // walk, and its reference count is a cache line all CPUs
            // would write.
            let parent = self
                .path(idx)?
                .l
                .get(l)
                .and_then(|x| x.node.as_ref())
                .ok_or_else(|| BtreeError::bug("no parent"))?;
            let child = self.child_at(parent, pos)?;
            let child_level = l.saturating_sub(1);
            if usize::from(child.level) != child_level || !child.covers(pos) {
                return Err(BtreeError::Corrupt("child does not fit"));
            }
            self.lock_node(idx, child_level, &child)?;
            if l >= want {
                self.path_mut(idx)?.unlock_level(l);
            }
            l = child_level;
        }
        // Levels below the path's are not part of it.
        let p = self.path_mut(idx)?;
        for below in 0..level {
            p.forget_level(below);
        }
        p.uptodate = Uptodate::Uptodate;
        Ok(())
    }

    /// The child of `parent` (locked) whose range holds `pos`; read from
    /// the store if it is not in the cache.
    fn child_at(&self, parent: &CachedNode, pos: Pos) -> BtreeResult<Arc<CachedNode>> {
        child_node(self.btree, self.store, parent, pos)
    }

    /// Locks the root of the path's tree at its level; returns the level.
    fn lock_root(&mut self, idx: usize) -> BtreeResult<usize> {
        let btree = self.path(idx)?.btree;
        loop {
            let root = self.btree.root(btree)?;
            let level = usize::from(root.level);
            if level < usize::from(self.path(idx)?.level) {
                self.path_mut(idx)?.uptodate = Uptodate::End;
                return Err(BtreeError::Corrupt("path below the root"));
            }
            self.lock_node(idx, level, &root)?;
            if self.btree.is_root(&root) && !root.is_dead() {
                let p = self.path_mut(idx)?;
                // Levels above the root are stale.
                for above in level.saturating_add(1)..p.l.len() {
                    p.forget_level(above);
                }
                return Ok(level);
            }
            self.path_mut(idx)?.unlock_level(level);
        }
    }

    /// Positions the node cursor at the path's level.
    fn init_iter(&mut self, idx: usize) -> BtreeResult<()> {
        let p = self.path_mut(idx)?;
        let pos = p.pos;
        let level = usize::from(p.level);
        let l = p.l.get_mut(level).ok_or(BtreeError::TooBig)?;
        if let Some(node) = l.node.as_ref() {
            let guard = node.data();
            let data = guard.as_ref().ok_or_else(super::cache::taken)?;
            match l.iter.as_mut() {
                Some(it) => it.seek_ahead(data, pos),
                None => l.iter = Some(NodeIter::new(data, pos, Filter::Live)),
            }
        }
        Ok(())
    }
}
