// SPDX-License-Identifier: GPL-2.0

//! Lock ordering with restarts instead of deadlocks.
//!
//! Locks are ordered by (btree id, path position, level from the root
//! down). A transaction may sleep on a read or intent lock only if every
//! lock it holds comes before it and none is at a lower level of the same
//! btree (an interior node covers many positions, so "ancestors first"
//! must hold whatever the positions). When it may not sleep it tries once,
//! and on failure restarts, naming the lock so that [`Trans::run`] can
//! wait for it holding nothing.
//!
//! A transaction never waits for intent while another of its paths holds a
//! read lock: the intent holder may be about to write-lock that node and
//! wait for our read lock to go. It restarts instead, and raises the
//! `locks_want` of that btree's paths for the next runs, so they take
//! intent from the start and the pattern cannot repeat (the rule of
//! bcachefs's first iterator).
//! A path's own ancestors it simply unlocks before waiting, then checks
//! that the node it got is still alive and still covers its position.
//!
//! Write locks are waited for, with the transaction's own read holds on
//! the node discounted, as long as every other read lock the transaction
//! holds is on a node that comes before it; otherwise it restarts and
//! takes the write lock once, holding nothing, before running again.
//! Documentation/btree.rst has the argument why no cycle of waits can
//! form under these rules.
//!
//! Two paths of one transaction may lock the same node: the second takes
//! an extra hold ([`SixLock::increment`]) rather than waiting for itself.
//!
//! [`SixLock::increment`]: crate::six::SixLock::increment

use super::cache::{BtreeId, CachedNode};
use super::error::{BtreeError, BtreeResult, RestartReason};
use super::trans::Trans;
use super::trans_list::{LockInfo, LockState};
use crate::bkey::Pos;
use crate::platform::sync::Arc;
use crate::platform::vec::Vec;
use crate::six::SixLockType;
use core::cmp::Reverse;

/// Where a lock sorts in the lock order.
type Order = (BtreeId, Pos, Reverse<usize>);

impl Trans<'_> {
    /// The locks the transaction holds and the one it waits for.
    pub fn locks(&self) -> BtreeResult<Vec<LockInfo>> {
        let mut out = Vec::new();
        for p in self.paths.iter() {
            for (level, l) in p.l.iter().enumerate() {
                if let (Some(ty), Some(node)) = (l.held, l.node.as_ref()) {
                    out.try_push(LockInfo {
                        btree: p.btree,
                        level: u8::try_from(level).unwrap_or(u8::MAX),
                        pos: p.pos,
                        node: node.id,
                        ty,
                        state: LockState::Held,
                    })?;
                }
            }
        }
        if let Some(w) = self.waiting {
            out.try_push(w)?;
        }
        Ok(out)
    }

    /// Records the lock being waited for, here and for debugfs.
    fn set_waiting(&mut self, info: Option<LockInfo>) {
        if let Some(claim) = self.listed.as_ref() {
            match info.as_ref() {
                Some(info) => claim.slot().wait(info),
                None => claim.slot().waited(),
            }
        }
        self.waiting = info;
    }

    /// Another path of ours holding `node` in a way that lets us take an
    /// extra hold of type `ty`.
    fn shared_hold(&self, node: &Arc<CachedNode>, ty: SixLockType) -> bool {
        self.paths.iter().any(|p| {
            p.l.iter().any(|l| {
                // The hold first: most levels hold nothing.
                matches!(
                    (l.held, ty),
                    (Some(SixLockType::Intent), _) | (Some(SixLockType::Read), SixLockType::Read)
                ) && l.node.as_ref().is_some_and(|n| Arc::ptr_eq(n, node))
            })
        })
    }

    /// Whether a path other than `except` holds a read lock.
    fn holds_read(&self, except: Option<usize>) -> bool {
        self.paths.iter().enumerate().any(|(i, p)| {
            Some(i) != except && p.l.iter().any(|l| l.held == Some(SixLockType::Read))
        })
    }

    /// Whether sleeping on a lock at `order` keeps the order.
    fn may_block(&self, order: Order) -> bool {
        for p in self.paths.iter() {
            for (level, l) in p.l.iter().enumerate() {
                if l.held.is_none() {
                    continue;
                }
                // A node at one level covers many positions, so position
                // order alone is not enough: never wait for an ancestor
                // level while holding a lower one.
                let Reverse(want_level) = order.2;
                if (p.btree == order.0 && level < want_level)
                    || (p.btree, p.pos, Reverse(level)) > order
                {
                    return false;
                }
            }
        }
        true
    }

    /// Locks `node` as level `level` of path `idx` wants, sleeping only if
    /// that keeps the lock order. On success the level records the node,
    /// its sequence number and the hold.
    pub(crate) fn lock_node(
        &mut self,
        idx: usize,
        level: usize,
        node: &Arc<CachedNode>,
    ) -> BtreeResult<()> {
        let (btree, pos, ty) = {
            let p = self.path(idx)?;
            (p.btree, p.pos, p.want(level))
        };
        if self.shared_hold(node, ty) {
            node.lock.increment(ty)?;
        } else if !node.lock.trylock(ty) {
            let reads_elsewhere = ty == SixLockType::Intent && self.holds_read(Some(idx));
            if reads_elsewhere {
                // Next time the paths of this btree take intent at the
                // levels we want it, as bcachefs's first iterator raised
                // `locks_want`.
                let want = self.path(idx)?.locks_want;
                self.raise_locks_want(btree, want);
            }
            if reads_elsewhere || !self.may_block((btree, pos, Reverse(level))) {
                self.remember_path(idx)?;
                self.wait_hint = Some((node.clone(), ty));
                return Err(BtreeError::Restart(RestartReason::LockOrder));
            }
            if ty == SixLockType::Intent {
                // Our own ancestors' read locks go before we wait: the
                // intent holder may be splitting and need them gone. The
                // node is checked once we have it.
                let p = self.path_mut(idx)?;
                for i in 0..p.l.len() {
                    if p.l
                        .get(i)
                        .is_some_and(|l| l.held == Some(SixLockType::Read))
                    {
                        p.unlock_level(i);
                    }
                }
            }
            self.set_waiting(Some(LockInfo {
                btree,
                level: u8::try_from(level).unwrap_or(u8::MAX),
                pos,
                node: node.id,
                ty,
                state: LockState::Waiting,
            }));
            let locked = node.lock.lock(ty);
            self.set_waiting(None);
            locked?;
            if node.is_dead() || !node.covers(pos) {
                // Replaced while we waited without the parent locked.
                node.unlock(ty);
                return Err(BtreeError::Restart(RestartReason::Relock));
            }
        }
        let seq = node.lock.seq();
        let p = self.path_mut(idx)?;
        p.unlock_level(level);
        let l = p.l.get_mut(level).ok_or(BtreeError::TooBig)?;
        l.node = Some(node.clone());
        l.seq = seq;
        l.iter = None;
        p.set_held(level, ty);
        Ok(())
    }

    /// Relocks level `level` of path `idx` by its sequence number, without
    /// sleeping; true if it is now held as the path wants.
    pub(crate) fn relock_level(&mut self, idx: usize, level: usize) -> BtreeResult<bool> {
        let (node, seq, held, ty) = {
            let p = self.path(idx)?;
            let Some(l) = p.l.get(level) else {
                return Ok(false);
            };
            let ty = p.want(level);
            if l.node.is_some() && (l.held == Some(ty) || l.held == Some(SixLockType::Intent)) {
                return Ok(true);
            }
            let Some(node) = l.node.clone() else {
                return Ok(false);
            };
            (node, l.seq, l.held, ty)
        };
        if self.inject() {
            return Ok(false);
        }
        let ok = if held == Some(SixLockType::Read) {
            // Upgrade in place; fails if someone (maybe we) holds intent.
            node.lock.seq() == seq && node.lock.trylock_convert(SixLockType::Read, ty)
        } else if self.shared_hold(&node, ty) && node.lock.seq() == seq {
            node.lock.increment(ty).is_ok()
        } else {
            node.lock.relock(ty, seq)
        };
        if ok {
            self.path_mut(idx)?.set_held(level, ty);
            if node.is_dead() {
                self.path_mut(idx)?.unlock_level(level);
                return Ok(false);
            }
        }
        Ok(ok)
    }

    /// Our own read holds on `node`, which its write lock must not wait
    /// for.
    fn own_reads(&self, node: &Arc<CachedNode>) -> i32 {
        let mut n = 0i32;
        for p in self.paths.iter() {
            for l in p.l.iter() {
                if l.held == Some(SixLockType::Read)
                    && l.node.as_ref().is_some_and(|x| Arc::ptr_eq(x, node))
                {
                    n = n.saturating_add(1);
                }
            }
        }
        n
    }

    /// Whether every read lock of ours, but those on `node`, is on a node
    /// that comes before `node` in the lock order (see the module docs).
    fn reads_before(&self, node: &CachedNode) -> bool {
        self.paths.iter().all(|p| {
            p.l.iter().all(|l| match (l.held, l.node.as_ref()) {
                (Some(SixLockType::Read), Some(n)) => {
                    core::ptr::eq(&**n, node) || node_order(n) < node_order(node)
                }
                _ => true,
            })
        })
    }

    /// Takes the write lock of `node`, whose intent lock we hold. It waits
    /// for other transactions' readers unless one of our own read locks
    /// comes after `node` in the lock order: then a reader we wait for
    /// might wait for that lock, so it restarts instead
    /// ([`RestartReason::WriteLock`]), and [`Trans::run`] takes the write
    /// lock once, holding nothing, before running again.
    pub(crate) fn lock_write(&mut self, node: &Arc<CachedNode>) -> BtreeResult<()> {
        if node.lock.trylock(SixLockType::Write) {
            return Ok(());
        }
        if !self.reads_before(node) {
            self.wait_hint = Some((node.clone(), SixLockType::Write));
            return Err(BtreeError::Restart(RestartReason::WriteLock));
        }
        // Our own read holds would keep us waiting for ourselves.
        let own = self.own_reads(node);
        if own > 0 {
            node.lock.readers_add(-own)?;
        }
        self.set_waiting(Some(LockInfo {
            btree: node.btree,
            level: node.level,
            pos: node.min,
            node: node.id,
            ty: SixLockType::Write,
            state: LockState::Waiting,
        }));
        let locked = node.lock.lock(SixLockType::Write);
        self.set_waiting(None);
        if own > 0 {
            node.lock.readers_add(own)?;
        }
        locked?;
        Ok(())
    }

    /// Drops a write lock taken with [`Self::lock_write`].
    pub(crate) fn unlock_write(&mut self, node: &Arc<CachedNode>) {
        node.unlock(SixLockType::Write);
    }
}

/// Where a node sorts in the lock order: btree id, then interior levels
/// before the levels below them, then position (nodes of one level never
/// overlap, so their `min` orders them).
fn node_order(node: &CachedNode) -> (BtreeId, Reverse<u8>, Pos) {
    (node.btree, Reverse(node.level), node.min)
}
