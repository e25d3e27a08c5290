// SPDX-License-Identifier: GPL-2.0

//! Keeping the node cache within its size.
//!
//! Clean nodes go first, by CLOCK: a node a path found since the last
//! sweep gets a second chance, the others are evicted. When the clean ones
//! are not enough, a checkpoint writes the dirty ones (making them clean)
//! and the sweep runs again. Roots stay. An evicted node is marked dead
//! under its write lock, so a path that still names it cannot relock it
//! and walks down again, reading the node anew.

use super::{Store, StoreError};
use crate::device::Device;
use crate::platform::sync::Ordering;
use crate::six::SixLockType;

impl<D: Device + Sync> Store<D> {
    /// Nodes the cache holds before [`Self::maintain`] shrinks it.
    pub fn cache_limit(&self) -> usize {
        self.cache_limit
    }

    /// Checkpoints when the journal is half full (reclaim), and brings the
    /// cache back within its limit if it is over: to three quarters of it,
    /// writing dirty nodes if needed. Callers run it
    /// between transactions (it waits for the running ones to end).
    pub fn maintain(&self) -> Result<(), StoreError> {
        if self.journal_wants_checkpoint() {
            self.checkpoint(false)?;
        }
        if self.btree.nr_nodes() <= self.cache_limit {
            return Ok(());
        }
        self.lock_gate();
        let result = self.shrink_locked();
        self.unlock_gate();
        result
    }

    fn shrink_locked(&self) -> Result<(), StoreError> {
        let target = self.cache_limit.saturating_mul(3) / 4;
        if self.evict_locked(target)? > target && !self.is_read_only() {
            self.checkpoint_locked(false)?;
            self.evict_locked(target)?;
        }
        Ok(())
    }

    /// For a memory shrinker: evicts up to `nr` clean nodes, unless a
    /// transaction runs right now (it never waits). Returns how many.
    pub fn shrink(&self, nr: usize) -> usize {
        if !self.gate.trylock(SixLockType::Intent) {
            return 0;
        }
        if !self.gate.trylock(SixLockType::Write) {
            let _ = self.gate.unlock(SixLockType::Intent);
            return 0;
        }
        let before = self.btree.nr_nodes();
        let target = before.saturating_sub(nr);
        let left = self.evict_locked(target).unwrap_or(before);
        self.unlock_gate();
        before.saturating_sub(left)
    }

    /// Nodes a shrinker could free now: the clean ones that are not roots.
    pub fn evictable(&self) -> usize {
        self.btree
            .snapshot()
            .map(|nodes| {
                nodes
                    .iter()
                    .filter(|n| !n.is_dirty() && !self.btree.is_root(n))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Evicts clean nodes until at most `target` are cached (the gate
    /// held); returns how many are cached after.
    fn evict_locked(&self, target: usize) -> Result<usize, StoreError> {
        let nodes = self.btree.snapshot()?;
        let mut cached = nodes.len();
        // Two sweeps: the first spares (and unmarks) recently used nodes.
        for sweep in 0..2 {
            for node in nodes.iter() {
                if cached <= target {
                    return Ok(cached);
                }
                if node.is_dirty() || node.is_dead() || self.btree.is_root(node) {
                    continue;
                }
                if node.clear_touched() && sweep == 0 {
                    continue;
                }
                // The gate is held: no path holds a lock.
                if !node.lock.trylock(SixLockType::Intent) {
                    continue;
                }
                if node.lock.trylock(SixLockType::Write) {
                    node.set_dead();
                    node.unlock(SixLockType::Write);
                    self.btree.remove(node.id);
                    cached = cached.saturating_sub(1);
                    self.counters.nodes_evicted.fetch_add(1, Ordering::Relaxed);
                }
                node.unlock(SixLockType::Intent);
            }
        }
        Ok(cached)
    }
}
