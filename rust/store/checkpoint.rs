// SPDX-License-Identifier: GPL-2.0

//! Checkpoints: making the tree in memory the durable one.
//!
//! With every transaction held out at the gate:
//!
//! 1. level by level from the leaves up, every dirty node is written; a
//!    node whose slot the durable tree may point to (not *fresh*) is first
//!    moved to a new slot, which changes its parent's pointer, so the
//!    parent is dirty when its level comes;
//! 2. the space map, with the frees of this checkpoint applied, goes to
//!    the copy the new superblock will name, and a flush makes nodes and
//!    space map durable;
//! 3. both superblock copies, with the new roots and the next sequence
//!    number, are written (each flushed): the first that lands switches the
//!    filesystem to the new tree at once;
//! 4. the slots freed since the last checkpoint become reusable, and so
//!    does the journal before the superblock's new cursor.
//!
//! Until step 3, nothing the durable superblock reaches was overwritten
//! (step 1 writes only fresh slots, step 2 only the other space map copy),
//! so a power cut anywhere leaves the last checkpoint whole. A failed write
//! leaves the checkpoint undone and the tree in memory as it was (moved
//! nodes stay moved; the next checkpoint writes them again).
//!
//! A *reclaim* (the journal's ring half full) is a checkpoint that leaves
//! some leaves dirty: those whose every unwritten commit is in the newest
//! entries, which the journal keeps ([`crate::journal::Journal::begin_reclaim`]).
//! Such a leaf stays in the slot the durable tree already points to (it is
//! not fresh); its parent, written, points there still; replay from the
//! new cursor, the entry of the oldest commit such a leaf holds, brings
//! its commits back. Every other dirty node is written as above: interior
//! nodes (their pointers changed), fresh ones (no durable slot), and the
//! leaves that pin older entries. The open entry is written first when a
//! leaf stays dirty, so the device flush of step 2 makes it durable before
//! the superblock names the cursor.

use super::format::write_space_map;
use super::{Store, StoreError, PLACEHOLDER_IDS};
use crate::bkey::Pos;
use crate::btree::node_store::child_node;
use crate::btree::{
    BtreeError, BtreeId, BtreeResult, CachedNode, NewNode, NodeState, NodeStore, BTREE_ID_NR,
    MAX_DEPTH,
};
use crate::device::{Device, SECTOR_SIZE};
use crate::format::btree_root::BtreeRoot;
use crate::format::space_map::Bucket;
use crate::format::superblock::JournalCursor;
use crate::journal::Journal;
use crate::node::disk;
use crate::node::Node;
use crate::platform::sync::{Arc, Ordering};
use crate::platform::vec::Vec;
use crate::six::SixLockType;
use crate::space::SpaceError;

/// Bytes of nodes a checkpoint sends to the device at once: enough to
/// keep it busy, little enough to allocate without trouble.
const BATCH_BYTES: usize = 4 << 20;
/// Nodes a checkpoint sends at once, at most.
const BATCH_NODES: usize = 64;

/// Where a checkpoint puts the journal's cursor.
#[derive(Clone, Copy, Debug)]
enum Reclaim {
    /// Past the open entry: every dirty node is written.
    Whole(JournalCursor),
    /// At the oldest commit of a leaf left dirty: non-fresh leaves whose
    /// unwritten commits are all at or after this sequence number stay
    /// dirty.
    KeepFrom(u64),
}

/// The journal pin of `node` (dirty, alive) if a reclaim keeping the
/// entries from `keep_from` on leaves it dirty: a leaf in a durable slot,
/// every unwritten commit of which is in a kept entry.
fn stays_dirty(node: &CachedNode, keep_from: u64) -> Option<u64> {
    if node.level != 0 || node.is_fresh() {
        return None;
    }
    node.journal_pin().filter(|&pin| pin >= keep_from)
}

/// The cursor of a reclaim whose oldest kept commit is `oldest`: the open
/// entry is written first (it may hold kept commits; the checkpoint's
/// flush makes it durable).
fn kept_cursor<D: Device + Sync>(
    dev: &D,
    journal: &Journal,
    oldest: u64,
) -> Result<JournalCursor, StoreError> {
    journal
        .write_open_for_reclaim(dev)
        .map_err(StoreError::Journal)?;
    journal
        .reclaim_cursor(oldest)
        .ok_or_else(|| BtreeError::bug("a kept journal entry is not known").into())
}

/// Nodes encoded and waiting to be written together.
pub(super) struct WriteBatch {
    nodes: Vec<(Arc<CachedNode>, Vec<u8>)>,
    bytes: usize,
}

impl WriteBatch {
    pub(super) fn new() -> Self {
        WriteBatch {
            nodes: Vec::new(),
            bytes: 0,
        }
    }

    /// Encodes `node` (its header and bsets, to a whole sector) and keeps
    /// it for the next write.
    pub(super) fn add<D: Device + Sync>(
        &mut self,
        store: &Store<D>,
        node: Arc<CachedNode>,
    ) -> Result<(), StoreError> {
        let mut buf = store.slot_buffer()?;
        let header = node.header();
        let len = node
            .read(|n| disk::encode(n, &header, &mut buf))?
            .map_err(|_| BtreeError::bug("a node larger than its slot"))?;
        buf.truncate(len.next_multiple_of(SECTOR_SIZE).min(buf.len()));
        self.bytes = self.bytes.saturating_add(buf.len());
        self.nodes.try_push((node, buf))?;
        Ok(())
    }

    pub(super) fn is_full(&self) -> bool {
        self.bytes >= BATCH_BYTES || self.nodes.len() >= BATCH_NODES
    }

    /// The nodes in it.
    pub(super) fn nodes(&self) -> impl Iterator<Item = &Arc<CachedNode>> {
        self.nodes.iter().map(|(node, _)| node)
    }

    /// How many nodes are in it.
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Empties it.
    pub(super) fn clear(&mut self) {
        self.nodes.clear();
        self.bytes = 0;
    }
}

impl<D: Device + Sync> Store<D> {
    /// Writes every dirty node and a new superblock; `clean` sets the
    /// superblock's clean flag (unmount). Waits for running transaction
    /// runs to end and holds new ones off meanwhile.
    pub fn checkpoint(&self, clean: bool) -> Result<(), StoreError> {
        if self.is_read_only() {
            return Err(StoreError::ReadOnly);
        }
        self.lock_gate();
        let result = self.checkpoint_locked(clean);
        self.unlock_gate();
        result
    }

    pub(super) fn checkpoint_locked(&self, clean: bool) -> Result<(), StoreError> {
        // Journal writers wait; the new superblock says where replay
        // starts. Only a written superblock moves the journal's cursor.
        let Some(journal) = &self.journal else {
            return self.write_checkpoint(clean, None).map(|_| ());
        };
        let cursor = journal.begin_checkpoint();
        let result = self.write_checkpoint(clean, Some(Reclaim::Whole(cursor)));
        journal.end_checkpoint(match result {
            Ok(Some(_)) => Some(cursor),
            _ => None,
        });
        result.map(|_| ())
    }

    /// Frees journal space: a checkpoint that leaves dirty the leaves
    /// whose commits are all in the newest entries (see the module's
    /// documentation). Without a journal, a checkpoint.
    pub fn reclaim(&self) -> Result<(), StoreError> {
        let Some(journal) = &self.journal else {
            return self.checkpoint(false);
        };
        if self.is_read_only() {
            return Err(StoreError::ReadOnly);
        }
        self.lock_gate();
        let reclaim = match journal.begin_reclaim() {
            Some(seq) => Reclaim::KeepFrom(seq),
            None => Reclaim::Whole(journal.checkpoint_cursor()),
        };
        let result = self.write_checkpoint(false, Some(reclaim));
        journal.end_reclaim(result.as_ref().ok().copied().flatten());
        self.unlock_gate();
        result.map(|_| ())
    }

    /// The checkpoint itself, with the journal's cursor `reclaim` gives
    /// (`None` without a journal). Returns the cursor its superblock
    /// names, `None` if it wrote none (nothing had changed).
    fn write_checkpoint(
        &self,
        clean: bool,
        reclaim: Option<Reclaim>,
    ) -> Result<Option<JournalCursor>, StoreError> {
        // Nothing changed since the last checkpoint: the durable state is
        // the current one; a flush still makes what others wrote durable,
        // as sync promises.
        let dirty = self
            .btree
            .snapshot()?
            .iter()
            .any(|n| n.is_dirty() && !n.is_dead());
        let journaled = self.journal.as_ref().is_some_and(|j| !j.is_empty());
        if !dirty && !journaled && !self.space.has_pending() && self.superblock().clean == clean {
            self.dev.flush()?;
            return Ok(None);
        }
        let keep_from = match reclaim {
            Some(Reclaim::KeepFrom(seq)) => Some(seq),
            _ => None,
        };
        // The oldest commit a leaf left dirty holds.
        let mut oldest_kept: Option<u64> = None;
        let mut kept = 0u64;
        for level in 0..MAX_DEPTH {
            // Taken again for each level: moving a node may have read its
            // parent into the cache.
            let mut batch = WriteBatch::new();
            for node in self.btree.snapshot()?.iter() {
                if usize::from(node.level) != level || node.is_dead() || !node.is_dirty() {
                    continue;
                }
                if let Some(pin) = keep_from.and_then(|from| stays_dirty(node, from)) {
                    oldest_kept = Some(oldest_kept.map_or(pin, |o| o.min(pin)));
                    kept += 1;
                    continue;
                }
                let node = if node.is_fresh() {
                    node.clone()
                } else {
                    self.move_node(node, true)?
                };
                batch.add(self, node)?;
                if batch.is_full() {
                    self.write_batch(&mut batch)?;
                }
            }
            self.write_batch(&mut batch)?;
        }
        let cursor = match (reclaim, oldest_kept) {
            (None, _) => None,
            (Some(Reclaim::Whole(cursor)), _) => Some(cursor),
            (Some(Reclaim::KeepFrom(_)), oldest) => {
                let journal = self
                    .journal
                    .as_ref()
                    .ok_or_else(|| BtreeError::bug("no journal"))?;
                Some(match oldest {
                    Some(oldest) => kept_cursor(&self.dev, journal, oldest)?,
                    None => journal.checkpoint_cursor(),
                })
            }
        };
        self.dev.flush()?;
        let mut sb = self.superblock();
        let mut records = Vec::new();
        records.try_extend_with(sb.geometry.bucket_count() as usize, Bucket::FREE)?;
        self.space.image(&mut records);
        let seq = sb.seq.wrapping_add(1);
        write_space_map(&self.dev, &sb, &records, seq)?;
        self.dev.flush()?;
        sb.seq = seq;
        sb.clean = clean;
        if let Some(cursor) = cursor {
            sb.journal_cursor = cursor;
        }
        for i in 0..BTREE_ID_NR {
            let btree = BtreeId(u8::try_from(i).unwrap_or(u8::MAX));
            let root = self.btree.root(btree)?;
            if let Some(slot) = sb.roots.get_mut(i) {
                *slot = if root.id >= PLACEHOLDER_IDS {
                    BtreeRoot::Empty
                } else {
                    BtreeRoot::Node {
                        sector: root.id,
                        level: root.level,
                    }
                };
            }
        }
        crate::format::superblock_io::write_superblocks(&self.dev, &sb)
            .map_err(StoreError::SuperblockWrite)?;
        *self.sb.lock() = sb;
        self.space.checkpoint_done();
        for node in self.btree.snapshot()?.iter() {
            node.set_durable();
        }
        self.written_back.lock().clear();
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        if kept > 0 {
            self.counters.reclaims.fetch_add(1, Ordering::Relaxed);
            self.counters
                .nodes_kept_dirty
                .fetch_add(kept, Ordering::Relaxed);
        }
        Ok(Some(cursor.unwrap_or(sb.journal_cursor)))
    }

    /// Writes the nodes of `batch` (see [`Self::write_nodes`]) and
    /// empties it.
    fn write_batch(&self, batch: &mut WriteBatch) -> Result<(), StoreError> {
        self.write_nodes(batch)?;
        for node in batch.nodes() {
            // Written, the node is sorted into one bset (as bcachefs sorts
            // a node after writing it): a search looks in one place.
            self.resort(node);
        }
        batch.clear();
        Ok(())
    }

    /// Writes the nodes of `batch` to their slots, all in flight at once;
    /// they are clean afterwards.
    pub(super) fn write_nodes(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        let mut writes = Vec::try_with_capacity(batch.nodes.len())?;
        for (node, bytes) in batch.nodes.iter() {
            let offset = node.id.checked_mul(512).ok_or(BtreeError::BadNode)?;
            writes.try_push((offset, &bytes[..]))?;
        }
        self.dev.write_many(&writes)?;
        drop(writes);
        for (node, bytes) in batch.nodes.iter() {
            node.set_clean();
            self.counters.nodes_written.fetch_add(1, Ordering::Relaxed);
            self.counters
                .bytes_written
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Replaces `node`'s keys by one sorted bset of its live keys, with
    /// no whiteouts: copy-on-write rewrites a node whole, so nothing on
    /// the device lies under them, and a deletion then frees its key's
    /// room at once (on a full device that is what lets deletions in).
    /// Outside the node's spinlock, to allocate; only while no
    /// transaction runs (a checkpoint). No memory: it stays as it is,
    /// which is as correct.
    fn resort(&self, node: &CachedNode) {
        // A node that is all live keys in unwritten bsets stays: rewriting
        // it would only merge those, at the cost of copying every key of
        // every node each checkpoint writes.
        if node.read(|n| n.rewrite_drops_nothing()).unwrap_or(true) {
            return;
        }
        let taken = node.data_mut().take();
        if let Some(n) = taken {
            let fresh = n.rewrite().unwrap_or(n);
            *node.data_mut() = Some(fresh);
        }
    }

    /// Moves `node` to a new slot (from the reserve if `use_reserve`): a
    /// new cached node with its keys, its parent's pointer (or the root)
    /// changed to it, the old one dead and its slot freed at the end of the
    /// next checkpoint. The gate is held.
    pub(super) fn move_node(
        &self,
        node: &Arc<CachedNode>,
        use_reserve: bool,
    ) -> Result<Arc<CachedNode>, StoreError> {
        let id = self.space.alloc_slot(use_reserve).map_err(|e| match e {
            SpaceError::NoSpace => BtreeError::NoSpace,
            SpaceError::NotInUse(_) => BtreeError::bug("allocator refused a slot"),
        })?;
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        let parent = if self.btree.is_root(node) {
            None
        } else {
            Some(self.parent_of(node)?)
        };
        // No transaction runs (the gate is held) and idle ones hold no
        // lock: every trylock succeeds. The write lock changes the node's
        // sequence number, so a path that still names it cannot relock.
        let locked = [Some(node), parent.as_ref()];
        for n in locked.iter().flatten() {
            if !(n.lock.trylock(SixLockType::Intent) && n.lock.trylock(SixLockType::Write)) {
                return Err(BtreeError::bug("a node locked during a checkpoint").into());
            }
        }
        let result = self.relink(node, parent.as_ref(), id, tag);
        for n in locked.iter().flatten() {
            n.unlock(SixLockType::Write);
            n.unlock(SixLockType::Intent);
        }
        if result.is_err() {
            self.free_node(id);
        }
        result
    }

    fn relink(
        &self,
        node: &Arc<CachedNode>,
        parent: Option<&Arc<CachedNode>>,
        id: u64,
        tag: u64,
    ) -> Result<Arc<CachedNode>, StoreError> {
        let empty = Node::new(node.read(|n| n.params())?).map_err(BtreeError::from)?;
        let keys = node.write(|n| core::mem::replace(n, empty))?;
        let moved = self.btree.add_with_id(NewNode {
            id,
            tag,
            btree: node.btree,
            node: keys,
            state: NodeState::New,
        })?;
        let linked = match parent {
            Some(parent) => parent
                .write(|p| {
                    let ptr = moved.ptr_key();
                    match p.insert(&ptr) {
                        // The pointer replaces one of the same size; a
                        // compacted node has room for it.
                        Err(crate::node::NodeError::Full) => {
                            p.compact()?;
                            p.insert(&ptr)
                        }
                        other => other,
                    }
                })
                .and_then(|r| Ok(r?)),
            None => self.btree.set_root(moved.clone()),
        };
        if let Err(e) = linked {
            // Put the keys back: the tree is as it was.
            let keys = moved
                .write(|n| {
                    let empty = Node::new(n.params())?;
                    Ok::<_, crate::node::NodeError>(core::mem::replace(n, empty))
                })?
                .map_err(BtreeError::from)?;
            node.write(|n| *n = keys)?;
            self.btree.remove(id);
            return Err(e.into());
        }
        node.set_dead();
        self.btree.remove(node.id);
        self.free_node(node.id);
        self.counters.nodes_moved.fetch_add(1, Ordering::Relaxed);
        Ok(moved)
    }

    /// The parent of `node` (not a root): found from the root down by its
    /// last position, reading nodes the cache no longer holds.
    fn parent_of(&self, node: &CachedNode) -> BtreeResult<Arc<CachedNode>> {
        let mut at = self.btree.root(node.btree)?;
        while at.level > node.level.saturating_add(1) {
            at = self.child_of(&at, node.max)?;
        }
        if at.level != node.level.saturating_add(1) {
            return Err(BtreeError::Corrupt("node below no parent"));
        }
        Ok(at)
    }

    /// The child of `parent` covering `pos`, read if not cached (no
    /// transaction runs: the store holds its gate).
    pub(super) fn child_of(&self, parent: &CachedNode, pos: Pos) -> BtreeResult<Arc<CachedNode>> {
        child_node(&self.btree, Some(self), parent, pos)
    }
}
