// SPDX-License-Identifier: GPL-2.0

//! Keeping the node cache within its size.
//!
//! Clean nodes go first, by CLOCK: a node a path found since the last
//! sweep gets a second chance, the others are evicted. When the clean ones
//! are not enough, dirty nodes are *written back*, leaves first, by the
//! same CLOCK, and evicted: each goes to a fresh slot (copy-on-write: moved
//! first unless its slot is already one no durable tree points to), which
//! dirties its parent (cached: a parent is read before its child's pointer
//! changes, and stays while dirty). Written back is not durable:
//! the durable tree still has the old copy and the journal the keys, until
//! the next checkpoint writes the parents. A node read back from such a
//! slot before then is written there again in place (the store remembers
//! the slots), so a tree larger than the cache does not eat a slot per
//! eviction. Only when that is not enough (no space for a fresh slot
//! outside the checkpoints' reserve) does a checkpoint write everything.
//!
//! Roots stay. An evicted node is marked dead under its write lock, so a
//! path that still names it cannot relock it and walks down again, reading
//! the node anew.

use super::checkpoint::WriteBatch;
use super::{Store, StoreError};
use crate::btree::{BtreeError, CachedNode, MAX_DEPTH};
use crate::device::Device;
use crate::platform::sort::heap_sort_by_key;
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
            self.reclaim()?;
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
        if self.evict_locked(target)? <= target || self.is_read_only() {
            return Ok(());
        }
        if self.write_back_locked(target)? > target {
            self.checkpoint_locked(false)?;
            self.evict_locked(target)?;
        }
        Ok(())
    }

    /// For a memory shrinker: evicts up to `nr` nodes, unless a transaction
    /// runs right now (it never waits): clean ones, then, if `may_write`
    /// (the allocation that asks may wait for a filesystem's I/O), dirty
    /// ones written back. Returns how many.
    pub fn shrink(&self, nr: usize, may_write: bool) -> usize {
        if !self.gate.trylock(SixLockType::Intent) {
            return 0;
        }
        if !self.gate.trylock(SixLockType::Write) {
            let _ = self.gate.unlock(SixLockType::Intent);
            return 0;
        }
        let before = self.btree.nr_nodes();
        let target = before.saturating_sub(nr);
        let mut left = self.evict_locked(target).unwrap_or(before);
        if left > target && may_write && !self.is_read_only() {
            // A failed write is reported (errors=) and frees nothing more.
            left = self
                .write_back_locked(target)
                .inspect_err(|e| self.runtime_error("writing nodes back for the shrinker", e))
                .unwrap_or(left);
        }
        self.unlock_gate();
        before.saturating_sub(left)
    }

    /// Nodes a shrinker could free now: those that are not roots (clean
    /// ones at once, dirty ones once written back).
    pub fn evictable(&self) -> usize {
        self.btree
            .snapshot()
            .map(|nodes| nodes.iter().filter(|n| !self.btree.is_root(n)).count())
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
                if self.evict_node(node) {
                    cached = cached.saturating_sub(1);
                }
            }
        }
        Ok(cached)
    }

    /// Takes `node` out of the cache (the gate held, so no path holds a
    /// lock on it); returns whether it did.
    fn evict_node(&self, node: &CachedNode) -> bool {
        if !node.lock.trylock(SixLockType::Intent) {
            return false;
        }
        let evicted = node.lock.trylock(SixLockType::Write);
        if evicted {
            node.set_dead();
            node.unlock(SixLockType::Write);
            self.btree.remove(node.id);
            self.counters.nodes_evicted.fetch_add(1, Ordering::Relaxed);
        }
        node.unlock(SixLockType::Intent);
        evicted
    }

    /// Writes back dirty nodes and evicts them until at most `target`
    /// nodes are cached (the gate held, the store writable); returns how
    /// many are cached after. Stops early, without an error, when no slot
    /// is free outside the checkpoints' reserve.
    fn write_back_locked(&self, target: usize) -> Result<usize, StoreError> {
        let nodes = self.btree.snapshot()?;
        let mut cached = self.btree.nr_nodes();
        let mut batch = WriteBatch::new();
        // Leaves first: a node moved dirties its parent, which is better
        // written after. Two sweeps a level, as eviction's; the batch is
        // written when full and at the end, and its nodes evicted then.
        let sweeps = (0..MAX_DEPTH).flat_map(|level| [(level, 0), (level, 1)]);
        'sweeps: for (level, sweep) in sweeps {
            for node in nodes.iter() {
                if cached.saturating_sub(batch.len()) <= target {
                    break 'sweeps;
                }
                if usize::from(node.level) != level
                    || !node.is_dirty()
                    || node.is_dead()
                    || self.btree.is_root(node)
                {
                    continue;
                }
                if node.clear_touched() && sweep == 0 {
                    continue;
                }
                let node = if node.is_fresh() {
                    node.clone()
                } else {
                    match self.move_node(node, false) {
                        Ok(moved) => moved,
                        Err(StoreError::Btree(BtreeError::NoSpace)) => break 'sweeps,
                        Err(e) => return Err(e),
                    }
                };
                batch.add(self, node)?;
                if batch.is_full() {
                    cached = cached.saturating_sub(self.write_back_batch(&mut batch)?);
                }
            }
        }
        Ok(cached.saturating_sub(self.write_back_batch(&mut batch)?))
    }

    /// Writes `batch`, remembers its slots as written back and evicts its
    /// nodes; returns how many it evicted.
    fn write_back_batch(&self, batch: &mut WriteBatch) -> Result<usize, StoreError> {
        self.write_nodes(batch)?;
        self.remember_written_back(batch);
        let evicted = batch.nodes().filter(|node| self.evict_node(node)).count();
        self.counters
            .nodes_written_back
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
        Ok(evicted)
    }

    /// Adds the slots of `nodes` to the set read_node consults. No memory:
    /// they are left out, and a node read back from one is taken for part
    /// of the durable tree (moved again before its next write: a slot
    /// spent, nothing wrong).
    fn remember_written_back(&self, batch: &WriteBatch) {
        // Out of the spinlock to allocate; no transaction runs to look.
        let mut slots = core::mem::take(&mut *self.written_back.lock());
        if slots.try_reserve(batch.len()).is_ok() {
            for node in batch.nodes() {
                let _ = slots.try_push(node.id);
            }
            heap_sort_by_key(&mut slots, |&id| id);
        }
        *self.written_back.lock() = slots;
    }
}
