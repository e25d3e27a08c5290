// SPDX-License-Identifier: GPL-2.0

//! A btree path: the nodes from a level up to the root that lead to one
//! position, the locks held on them and the sequence numbers seen.

use super::cache::{BtreeId, CachedNode, MAX_DEPTH};
use super::trans_list::PathSlot;
use crate::bkey::Pos;
use crate::node::NodeIter;
use crate::platform::sync::Arc;
use crate::six::SixLockType;

/// How much of a path can be trusted.
// The names are those of bcachefs's first iterator (BTREE_ITER_UPTODATE,
// BTREE_ITER_NEED_PEEK, ...), which readers of bcachefs will know.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uptodate {
    /// Locked and positioned.
    Uptodate,
    /// Locked, but the key at the position must be looked up again.
    NeedPeek,
    /// Its locks were dropped; relocking by sequence number may restore it.
    NeedRelock,
    /// It must walk up and down again.
    NeedTraverse,
    /// Past the end (a node walk beyond the root).
    End,
}

/// One level of a path.
#[derive(Default)]
pub struct Level {
    /// The node, kept after unlocking so it can be relocked.
    pub node: Option<Arc<CachedNode>>,
    /// Its lock sequence number when last locked.
    pub seq: u32,
    /// How it is locked now, if at all.
    pub held: Option<SixLockType>,
    /// A cursor in the node at the path's position.
    pub iter: Option<NodeIter>,
}

/// A path from the root down to `level` for position `pos`.
///
/// # Invariants
///
/// - A level holds a lock (`held`) only if it has a node, and the six
///   lock's count includes that hold: dropping a level's hold goes through
///   `unlock_level`, which releases it.
/// - Every node the path holds locked covers `pos` (`set_pos` unlocks the
///   levels that stop covering it): the lock order compares paths by their
///   positions, which is sound only for nodes that cover them (see
///   Documentation/btree.rst, "Why no wait can deadlock").
/// - Levels below `level` hold nothing once traversed.
pub struct Path {
    /// Which tree.
    pub btree: BtreeId,
    /// Where it points.
    pub pos: Pos,
    /// The level it walks down to (0: leaves).
    pub level: u8,
    /// Levels below this take intent locks (and keep them).
    pub locks_want: u8,
    /// Levels, leaf first.
    pub l: [Level; MAX_DEPTH],
    /// See [`Uptodate`].
    pub uptodate: Uptodate,
    /// Where its locks are published for debugfs, if listed.
    pub(crate) published: Option<&'static PathSlot>,
}

impl Path {
    /// A path not yet traversed.
    pub fn new(btree: BtreeId, pos: Pos, level: u8, locks_want: u8) -> Path {
        Path {
            btree,
            pos,
            level,
            locks_want,
            l: core::array::from_fn(|_| Level::default()),
            uptodate: Uptodate::NeedTraverse,
            published: None,
        }
    }

    /// Makes a retired path a new one, in place (see `paths.rs`).
    pub(crate) fn reset(
        &mut self,
        btree: BtreeId,
        pos: Pos,
        (level, locks_want): (u8, u8),
        published: Option<&'static PathSlot>,
    ) {
        self.btree = btree;
        self.pos = pos;
        self.level = level;
        self.locks_want = locks_want;
        self.uptodate = Uptodate::NeedTraverse;
        self.published = published;
    }

    /// Ends the path: drops its locks, nodes and cursors, which a new path
    /// in the same slot must not inherit.
    pub(crate) fn retire(&mut self) {
        for level in 0..self.l.len() {
            self.forget_level(level);
            if let Some(l) = self.l.get_mut(level) {
                l.iter = None;
            }
        }
        self.uptodate = Uptodate::NeedTraverse;
        self.published = None;
    }

    /// The lock type level `level` wants.
    pub fn want(&self, level: usize) -> SixLockType {
        if level < usize::from(self.locks_want) {
            SixLockType::Intent
        } else {
            SixLockType::Read
        }
    }

    /// Bitmap of locked levels.
    pub fn nodes_locked(&self) -> u32 {
        self.bitmap(|h| h.is_some())
    }

    /// Bitmap of levels locked for intent.
    pub fn nodes_intent_locked(&self) -> u32 {
        self.bitmap(|h| h == Some(SixLockType::Intent))
    }

    fn bitmap(&self, f: impl Fn(Option<SixLockType>) -> bool) -> u32 {
        let mut bits = 0u32;
        for (i, l) in self.l.iter().enumerate() {
            if f(l.held) {
                bits |= 1u32
                    .checked_shl(u32::try_from(i).unwrap_or(31))
                    .unwrap_or(0);
            }
        }
        bits
    }

    /// The node at the path's own level.
    pub fn node(&self) -> Option<&Arc<CachedNode>> {
        self.l
            .get(usize::from(self.level))
            .and_then(|l| l.node.as_ref())
    }

    /// Whether the node at the path's level is locked and covers `pos`.
    pub fn leaf_locked(&self) -> bool {
        self.l.get(usize::from(self.level)).is_some_and(|l| {
            l.held.is_some() && l.node.as_ref().is_some_and(|n| n.covers(self.pos))
        })
    }

    /// Drops every lock, keeping nodes and sequence numbers for relock.
    pub fn unlock(&mut self) {
        for level in 0..self.l.len() {
            self.unlock_level(level);
        }
        if self.uptodate == Uptodate::Uptodate || self.uptodate == Uptodate::NeedPeek {
            self.uptodate = Uptodate::NeedRelock;
        }
    }

    /// Unlocks level `level`, keeping the node for relock.
    pub fn unlock_level(&mut self, level: usize) {
        if let Some(l) = self.l.get_mut(level) {
            if let (Some(ty), Some(node)) = (l.held.take(), l.node.as_ref()) {
                node.unlock(ty);
                if let Some(slot) = self.published {
                    slot.dropped(level);
                }
            }
        }
    }

    /// Unlocks level `level` and forgets its node.
    pub(crate) fn forget_level(&mut self, level: usize) {
        self.unlock_level(level);
        if let Some(l) = self.l.get_mut(level) {
            l.node = None;
        }
    }

    /// Records that level `level`, whose node is set, is now held as `ty`.
    pub(crate) fn set_held(&mut self, level: usize, ty: SixLockType) {
        if let Some(l) = self.l.get_mut(level) {
            l.held = Some(ty);
            if let (Some(slot), Some(node)) = (self.published, l.node.as_ref()) {
                slot.held(self.btree, self.pos, level, node.id, ty);
            }
        }
    }

    /// Moves the path. It keeps the locks of the levels whose nodes still
    /// cover `pos`; the others are unlocked (kept for relock), since the
    /// lock order places a path's locks by its position. A path that left
    /// its node has read nothing at its new position: it needs a traverse,
    /// and a commit does not ask it to relock.
    pub fn set_pos(&mut self, pos: Pos) {
        self.pos = pos;
        let covered = self.node().is_some_and(|n| n.covers(pos));
        if !covered {
            for level in 0..self.l.len() {
                let stale = self
                    .l
                    .get(level)
                    .and_then(|l| l.node.as_ref())
                    .is_some_and(|n| !n.covers(pos));
                if stale {
                    self.unlock_level(level);
                }
            }
            self.uptodate = Uptodate::NeedTraverse;
        } else if self.uptodate == Uptodate::Uptodate {
            self.uptodate = Uptodate::NeedPeek;
        }
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        self.unlock();
    }
}
