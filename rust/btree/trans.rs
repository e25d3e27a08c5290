// SPDX-License-Identifier: GPL-2.0

//! Transactions: many paths (iterators) and queued updates, a restart
//! error that unwinds to [`Trans::run`], which unlocks everything, waits for
//! the lock that caused the restart if there was one, and runs again.

use super::cache::{Btree, BtreeId, CachedNode, NewNode, NodeState, BTREE_ID_NR};
use super::error::{BtreeError, BtreeResult, RestartReason};
use super::node_store::NodeStore;
use super::path::Path;
use super::paths::Paths;
use super::trans_list::Claim;
use super::trans_list::LockInfo;
use super::update::Update;
use crate::bkey::{Key, KeyType, Pos};
use crate::node::{max_key_bytes, Node, NodeError};
use crate::platform::sort::insertion_sort_by_key;
use crate::platform::sync::{cond_resched, Arc, Ordering};
use crate::platform::vec::Vec;
use crate::six::SixLockType;

/// Most paths in one transaction.
pub const MAX_PATHS: usize = 64;
/// Restarts after which [`Trans::run`] gives up.
pub const MAX_RESTARTS: u64 = 1 << 20;

/// Paths a transaction remembers across restarts, to lock first.
const RETRY_PATHS: usize = 4;

/// Where a path pointed, to set it up again in the next run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PathSpec {
    pub(crate) btree: BtreeId,
    pub(crate) pos: Pos,
    pub(crate) level: u8,
    pub(crate) locks_want: u8,
}

impl PathSpec {
    /// Where the path's locks sort in the lock order.
    fn order(&self) -> (BtreeId, Pos, core::cmp::Reverse<u8>) {
        (self.btree, self.pos, core::cmp::Reverse(self.level))
    }
}

/// A transaction on a [`Btree`].
pub struct Trans<'b> {
    /// The trees.
    pub btree: &'b Btree,
    /// Where the nodes live, for a tree on a device.
    pub store: Option<&'b dyn NodeStore>,
    pub(crate) paths: Paths,
    pub(crate) updates: Vec<Update>,
    /// The bytes each leaf of the commit under way takes, in the order of
    /// its updates' leaves: found while making room, reserved when applying.
    pub(crate) leaf_room: Vec<usize>,
    /// Restarts so far, over the transaction's life.
    pub restarts: u64,
    /// Restarts by reason (`RestartReason as usize`).
    pub restarts_by_reason: [u64; RestartReason::NR],
    /// The journal sequence number of the last commit on a store (0
    /// without a journal): the store makes it durable on request.
    pub journal_seq: u64,
    /// Relock failures injected by the debug switch.
    pub injected: u64,
    /// The reason of the last restart.
    pub last_restart: Option<RestartReason>,
    /// The lock to wait for before running again after a restart.
    pub(crate) wait_hint: Option<(Arc<CachedNode>, SixLockType)>,
    /// The lock being waited for right now (for introspection).
    pub(crate) waiting: Option<LockInfo>,
    /// Relocks fail with this probability (parts per million), on top of
    /// the tree's switch.
    pub inject_restarts: u32,
    /// Splits need intent to the root: remembered across restarts.
    pub(crate) want_depth: bool,
    /// Least `locks_want` of new paths, per btree: raised when a read lock
    /// of ours made an intent wait impossible, remembered across restarts.
    pub(crate) locks_want_floor: [u8; BTREE_ID_NR],
    /// Paths that could not wait for a lock in an earlier run: the next
    /// runs lock them first, in lock order (see [`Self::run`]).
    retry_paths: [Option<PathSpec>; RETRY_PATHS],
    rng: u64,
    /// Its slot in the debugfs listing, if it got one.
    pub(crate) listed: Option<Claim>,
}

impl<'b> Trans<'b> {
    /// A transaction holding nothing, on a tree in memory.
    pub fn new(btree: &'b Btree) -> Trans<'b> {
        Self::with_store(btree, None)
    }

    /// A transaction on a tree whose nodes live in `store` (see
    /// `node_store.rs`); `None` for a tree in memory.
    pub fn with_store(btree: &'b Btree, store: Option<&'b dyn NodeStore>) -> Trans<'b> {
        static SEED: crate::platform::sync::AtomicU64 = crate::platform::sync::AtomicU64::new(1);
        Trans {
            btree,
            store,
            paths: Paths::new(),
            updates: Vec::new(),
            leaf_room: Vec::new(),
            restarts: 0,
            restarts_by_reason: [0; RestartReason::NR],
            journal_seq: 0,
            injected: 0,
            last_restart: None,
            wait_hint: None,
            waiting: None,
            inject_restarts: 0,
            want_depth: false,
            locks_want_floor: [0; BTREE_ID_NR],
            retry_paths: [None; RETRY_PATHS],
            rng: SEED
                .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
                .wrapping_mul(0x2545_f491_4f6c_dd1d)
                | 1,
            listed: Claim::new(),
        }
    }

    /// Puts `node`, just made, into the cache: under a slot of the store
    /// if there is one.
    pub(crate) fn new_node(&self, btree: BtreeId, node: Node) -> BtreeResult<Arc<CachedNode>> {
        let Some(store) = self.store else {
            return self.btree.add(btree, node);
        };
        let (id, tag) = store.alloc_node()?;
        self.btree
            .add_with_id(NewNode {
                id,
                tag,
                btree,
                node,
                state: NodeState::New,
            })
            .inspect_err(|_| store.free_node(id))
    }

    /// The node `id` left the tree (or never entered it): out of the
    /// cache, and its slot back to the store.
    pub(crate) fn drop_node(&self, id: u64) {
        self.btree.remove(id);
        if let Some(store) = self.store {
            store.free_node(id);
        }
    }

    /// Forgets all paths and updates (after a restart or a commit).
    pub fn begin(&mut self) {
        self.paths.clear();
        self.updates.clear();
    }

    /// Drops every lock; paths keep their nodes for relock.
    pub fn unlock(&mut self) {
        for p in self.paths.iter_mut() {
            p.unlock();
        }
    }

    /// Runs `f` until it returns something other than a restart: each run
    /// starts with no paths, no updates and no locks of its own.
    ///
    /// A path that had to restart rather than wait for a lock (the lock
    /// order forbade it) is remembered, and the next runs lock the
    /// remembered paths before calling `f`, in lock order, which lets them
    /// wait: `f`'s own paths then share those holds. This is the closure
    /// form of bcachefs's sorting a restarted transaction's paths and
    /// traversing them in order; without it, two transactions taking the
    /// same locks in opposite orders could restart each other for a long
    /// time.
    pub fn run<T>(
        &mut self,
        mut f: impl FnMut(&mut Trans<'b>) -> BtreeResult<T>,
    ) -> BtreeResult<T> {
        let mut restarts = 0u64;
        // A checkpoint for space is tried once: it may take as much room
        // (moving nodes) as it gives.
        let mut made_space = false;
        let result = loop {
            self.begin();
            if let Some(store) = self.store {
                store.enter();
            }
            let result = self.lock_retry_paths().and_then(|()| f(self));
            // Unlocked before leaving: the store may write nodes once no
            // run holds any.
            self.begin();
            if let Some(store) = self.store {
                store.leave();
            }
            match result {
                Err(BtreeError::Restart(RestartReason::Space)) if made_space => {
                    break Err(BtreeError::NoSpace);
                }
                Err(BtreeError::Restart(
                    reason @ (RestartReason::Journal | RestartReason::Space),
                )) if self.store.is_some() => {
                    made_space |= reason == RestartReason::Space;
                    self.restart_wait(reason);
                    if let Some(Err(e)) = self.store.map(|s| s.make_room(reason)) {
                        break Err(e);
                    }
                }
                Err(BtreeError::Restart(reason)) => {
                    self.restart_wait(reason);
                    restarts = restarts.saturating_add(1);
                    if restarts > MAX_RESTARTS {
                        break Err(BtreeError::TooManyRestarts);
                    }
                    // However the restarts go, a kernel without preemption
                    // must get to schedule.
                    cond_resched();
                }
                other => break other,
            }
        };
        self.wait_hint = None;
        if let Some(store) = self.store {
            store.after_run();
        }
        self.want_depth = false;
        self.locks_want_floor = [0; BTREE_ID_NR];
        self.retry_paths = [None; RETRY_PATHS];
        result
    }

    /// Sets up and traverses the remembered paths, in lock order. They are
    /// hints: one that no longer fits the tree (a level above a root that
    /// shrank) is dropped.
    fn lock_retry_paths(&mut self) -> BtreeResult<()> {
        if self.retry_paths.iter().all(Option::is_none) {
            return Ok(());
        }
        let mut specs = self.retry_paths;
        insertion_sort_by_key(&mut specs, |s| s.map(|s| s.order()));
        for spec in specs.iter().flatten() {
            let idx = self.path_get(spec.btree, spec.pos, spec.level, spec.locks_want)?;
            match self.traverse(idx) {
                Ok(()) => {}
                Err(e @ BtreeError::Restart(_)) => return Err(e),
                Err(_) => {
                    self.paths.pop();
                }
            }
        }
        Ok(())
    }

    /// Remembers path `idx`, which could not wait for a lock, for the next
    /// runs (up to a few; the oldest goes first).
    pub(crate) fn remember_path(&mut self, idx: usize) -> BtreeResult<()> {
        let p = self.path(idx)?;
        let spec = PathSpec {
            btree: p.btree,
            pos: p.pos,
            level: p.level,
            locks_want: p.locks_want,
        };
        if self.retry_paths.contains(&Some(spec)) {
            return Ok(());
        }
        self.retry_paths.rotate_left(1);
        if let Some(last) = self.retry_paths.last_mut() {
            *last = Some(spec);
        }
        Ok(())
    }

    /// Bookkeeping of a restart: unlock, then wait (holding nothing, which
    /// cannot deadlock) for the lock whose wait would have broken the lock
    /// order, so the next run is likely to get it.
    pub fn restart_wait(&mut self, reason: RestartReason) {
        self.restarts = self.restarts.saturating_add(1);
        if let Some(n) = self.restarts_by_reason.get_mut(reason as usize) {
            *n = n.saturating_add(1);
        }
        self.last_restart = Some(reason);
        if reason == RestartReason::Upgrade || reason == RestartReason::Split {
            self.want_depth = true;
        }
        self.begin();
        let Some((node, ty)) = self.wait_hint.take() else {
            return;
        };
        // Holding nothing, waiting cannot close a cycle.
        match ty {
            SixLockType::Write => {
                if node.lock.lock(SixLockType::Intent).is_ok() {
                    if node.lock.lock(SixLockType::Write).is_ok() {
                        node.unlock(SixLockType::Write);
                    }
                    node.unlock(SixLockType::Intent);
                }
            }
            _ => {
                if node.lock.lock(ty).is_ok() {
                    node.unlock(ty);
                }
            }
        }
    }

    /// After a commit: the split that asked for intent locks up to the
    /// root is done, and so is the lock pattern that raised `locks_want`,
    /// so paths want intent on their own level again (bcachefs downgrades
    /// its paths after a commit too). Kept, a raise had every path of a
    /// long run (perf_test's chunks of 1024 commits) want intent up to the
    /// root, and two threads appending to leaves of their own took turns
    /// at it, restarting on each other's root locks.
    pub(crate) fn downgrade(&mut self) {
        self.want_depth = false;
        self.locks_want_floor = [0; BTREE_ID_NR];
        self.retry_paths = [None; RETRY_PATHS];
        for p in self.paths.iter_mut() {
            p.locks_want = p.locks_want.min(p.level.saturating_add(1));
        }
    }

    /// New paths of `btree` want intent on at least `want` levels, for
    /// the rest of this [`Self::run`] or until the next commit.
    pub(crate) fn raise_locks_want(&mut self, btree: BtreeId, want: u8) {
        if let Some(floor) = btree.index().and_then(|i| self.locks_want_floor.get_mut(i)) {
            *floor = (*floor).max(want);
        }
    }

    /// A new path; returns its index.
    pub fn path_get(
        &mut self,
        btree: BtreeId,
        pos: Pos,
        level: u8,
        locks_want: u8,
    ) -> BtreeResult<usize> {
        if self.paths.len() >= MAX_PATHS || btree.index().is_none() {
            return Err(BtreeError::TooBig);
        }
        let published = self
            .listed
            .as_ref()
            .and_then(|c| c.slot().path(self.paths.len()));
        let floor = btree
            .index()
            .and_then(|i| self.locks_want_floor.get(i))
            .copied()
            .unwrap_or(0);
        let locks_want = locks_want.max(floor);
        Ok(self
            .paths
            .push(btree, pos, (level, locks_want), published)?)
    }

    /// A path by index.
    pub fn path(&self, idx: usize) -> BtreeResult<&Path> {
        self.paths
            .get(idx)
            .ok_or(BtreeError::Corrupt("no such path"))
    }

    /// A path by index.
    pub fn path_mut(&mut self, idx: usize) -> BtreeResult<&mut Path> {
        self.paths
            .get_mut(idx)
            .ok_or(BtreeError::Corrupt("no such path"))
    }

    /// Its serial number in the debugfs listing, if listed.
    pub fn serial(&self) -> Option<u64> {
        self.listed.as_ref().map(|c| c.slot().serial())
    }

    /// Paths in the transaction.
    pub fn nr_paths(&self) -> usize {
        self.paths.len()
    }

    /// Queues `key` for `btree`: a deleted key deletes. It takes effect at
    /// [`Self::commit`]. A key no leaf could take is refused here, so that
    /// a commit never finds out halfway.
    pub fn update(&mut self, btree: BtreeId, key: Key) -> BtreeResult<()> {
        self.update_via(btree, key, None)
    }

    /// [`Self::update`], naming the path of an iterator at the key's
    /// position: if it still holds the leaf intent-locked when the commit
    /// comes, the commit uses it instead of walking down again.
    pub(crate) fn update_via(
        &mut self,
        btree: BtreeId,
        key: Key,
        path: Option<usize>,
    ) -> BtreeResult<()> {
        if btree.index().is_none() {
            return Err(BtreeError::TooBig);
        }
        key.validate()?;
        if key.kind() == KeyType::BtreePtr {
            return Err(NodeError::WrongLevel.into());
        }
        if key.encoded_len() > max_key_bytes(self.btree.params.node_size) {
            return Err(NodeError::KeyTooBig.into());
        }
        self.updates.try_push(Update { btree, key, path })?;
        Ok(())
    }

    /// Queues the deletion of the key at `pos`.
    pub fn delete(&mut self, btree: BtreeId, pos: Pos) -> BtreeResult<()> {
        self.update(btree, Key::deleted(pos))
    }

    /// Whether a relock should fail now (the debug switch).
    pub(crate) fn inject(&mut self) -> bool {
        let ppm = self
            .inject_restarts
            .max(self.btree.inject_restarts.load(Ordering::Relaxed));
        if ppm == 0 {
            return false;
        }
        // xorshift64: cheap, and any quality will do.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        let hit = (x % 1_000_000) < u64::from(ppm);
        if hit {
            self.injected = self.injected.saturating_add(1);
        }
        hit
    }
}

impl Drop for Trans<'_> {
    fn drop(&mut self) {
        self.begin();
    }
}
