// SPDX-License-Identifier: GPL-2.0

//! Nodes in memory: each with its six lock, found by the number in the
//! parent's pointer; a root per btree id; allocation of new nodes.
//!
//! The six lock is the protocol lock: who may read, who may change, and the
//! sequence number that tells a relock whether anything was written. The
//! node's bytes sit behind a reader-writer spinlock as well, because safe
//! Rust cannot hand out `&mut Node` from a six lock. Readers share it for
//! one short access;
//! the write-lock holder takes the node out of it (no reader can be inside
//! while write is held), changes it without the spinlock, so it may
//! allocate, and puts it back.

use super::error::{BtreeError, BtreeResult};
use crate::bkey::{BtreePtr, Key, Pos, Value};
use crate::node::disk::NodeHeader;
use crate::node::{Node, NodeParams};
use crate::platform::sync::{
    AllocError, Arc, AtomicU32, AtomicU64, Ordering, RwSpinLock, RwSpinLockReadGuard,
    RwSpinLockWriteGuard,
};
use crate::platform::vec::Vec;
use crate::six::{SixLock, SixLockType};

/// Btree ids a [`Btree`] has roots for.
pub const BTREE_ID_NR: usize = 4;
/// Deepest tree: levels `0..MAX_DEPTH`.
pub const MAX_DEPTH: usize = 8;

/// Which btree of the filesystem: all share the node cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BtreeId(pub u8);

impl BtreeId {
    /// The id as an index, if in range.
    pub fn index(self) -> Option<usize> {
        let i = usize::from(self.0);
        (i < BTREE_ID_NR).then_some(i)
    }
}

/// Parameters of a set of btrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtreeParams {
    /// Bytes per node (bcachefs: 256 KiB); tests use tiny nodes.
    pub node_size: usize,
}

impl Default for BtreeParams {
    fn default() -> Self {
        BtreeParams {
            node_size: 256 << 10,
        }
    }
}

/// A node in memory.
pub struct CachedNode {
    /// The protocol lock: read, intent, write, sequence numbers.
    pub lock: SixLock,
    /// The cache key, which parents' pointers name.
    pub id: u64,
    /// The tree it belongs to.
    pub btree: BtreeId,
    /// Its level; fixed for its life.
    pub level: u8,
    /// First position it covers; fixed for its life.
    pub min: Pos,
    /// Last position it covers; fixed for its life.
    pub max: Pos,
    /// The tag its parent's pointer carries (0 in memory-only trees).
    pub tag: u64,
    /// Set (under its write lock) once it left the tree.
    dead: AtomicU32,
    /// Set by every change; cleared when the store wrote it.
    dirty: AtomicU32,
    /// The journal sequence number of the oldest commit it holds that is
    /// not written (0 if none): the journal keeps that entry and the ones
    /// after it while the node is dirty (bcachefs's journal pin).
    journal_pin: AtomicU64,
    /// Set while its slot is one no durable tree points to (allocated
    /// since the last checkpoint), so writing it there in place is safe.
    fresh: AtomicU32,
    /// Set when a path finds it in the cache; the store's eviction clears
    /// it and evicts nodes found clear (CLOCK, an approximate LRU).
    touched: AtomicU32,
    /// The live bytes of its smaller sibling when a merge was last refused
    /// as too big, 0 if none was (bcachefs's `sib_u64s`): a sparse node
    /// does not try again while its own live bytes and these are too many
    /// (a sibling that shrinks tries from its side).
    sibling_live: AtomicU64,
    /// `None` only while a write-lock holder has the node out. Readers
    /// share it: every lookup searches the root and the nodes below it.
    data: RwSpinLock<Option<Node>>,
}

/// The error for a node whose data is out with its writer: a reader that
/// sees it broke the locking protocol.
pub fn taken() -> BtreeError {
    BtreeError::bug("node data out with its writer")
}

impl CachedNode {
    /// Drops a hold of type `ty` that the caller knows it has. The six
    /// lock refuses an unlock of a hold that is not there; here that would
    /// be a bug in the btree's bookkeeping: a debug build stops, a release
    /// build carries on.
    pub(crate) fn unlock(&self, ty: SixLockType) {
        let unlocked = self.lock.unlock(ty);
        debug_assert!(unlocked.is_ok(), "unlock of a hold not held: {unlocked:?}");
    }

    /// The node's contents, for one short access under its six lock
    /// (read, intent or write): no sleeping, no allocating while the guard
    /// lives.
    pub fn data(&self) -> RwSpinLockReadGuard<'_, Option<Node>> {
        self.data.read()
    }

    /// The slot of the node's contents, to take them out or put them back
    /// (under the six write lock, or with no transaction running).
    pub fn data_mut(&self) -> RwSpinLockWriteGuard<'_, Option<Node>> {
        self.data.write()
    }

    /// Runs `f` on the node under its spinlock (see [`Self::data`]).
    pub fn read<R>(&self, f: impl FnOnce(&Node) -> R) -> BtreeResult<R> {
        self.data.read().as_ref().map(f).ok_or_else(taken)
    }

    /// Runs `f` on the node with the spinlock *not* held, so `f` may
    /// allocate (compaction, splits). The caller holds the six write lock:
    /// no reader can look while the node is out.
    pub fn write<R>(&self, f: impl FnOnce(&mut Node) -> R) -> BtreeResult<R> {
        let mut node = self.data.write().take().ok_or_else(taken)?;
        self.dirty.store(1, Ordering::Release);
        let r = f(&mut node);
        *self.data.write() = Some(node);
        Ok(r)
    }

    /// Whether the node was replaced (split, merged, rewritten).
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire) != 0
    }

    /// The smaller sibling's live bytes at the last merge refused as too
    /// big, 0 if none was.
    pub fn sibling_live(&self) -> usize {
        usize::try_from(self.sibling_live.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// Notes a merge attempt's outcome: the smaller sibling's live bytes
    /// if every sibling was too big, or 0.
    pub fn set_sibling_live(&self, live: usize) {
        self.sibling_live
            .store(u64::try_from(live).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Marks the node replaced; the caller holds its write lock.
    pub fn set_dead(&self) {
        self.dead.store(1, Ordering::Release);
    }

    /// Whether it changed since the store last wrote it.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire) != 0
    }

    /// The store wrote it (the caller holds a lock that excludes writers).
    pub fn set_clean(&self) {
        self.dirty.store(0, Ordering::Release);
        self.journal_pin.store(0, Ordering::Release);
    }

    /// A commit journaled at `seq` changed it (the caller holds its write
    /// lock, so commits to it come in sequence order): the first since it
    /// was written pins `seq`.
    pub fn pin_journal(&self, seq: u64) {
        if self.journal_pin.load(Ordering::Relaxed) == 0 {
            self.journal_pin.store(seq, Ordering::Release);
        }
    }

    /// The oldest journal sequence number of a commit it holds unwritten,
    /// if any is known (a node made dirty otherwise has none: a split's
    /// or a compaction's).
    pub fn journal_pin(&self) -> Option<u64> {
        match self.journal_pin.load(Ordering::Acquire) {
            0 => None,
            seq => Some(seq),
        }
    }

    /// A path found it: it was used recently.
    pub fn touch(&self) {
        if self.touched.load(Ordering::Relaxed) == 0 {
            self.touched.store(1, Ordering::Relaxed);
        }
    }

    /// Clears the recently-used mark; returns whether it was set.
    pub fn clear_touched(&self) -> bool {
        self.touched.fetch_and(0, Ordering::Relaxed) != 0
    }

    /// Whether its slot was allocated since the last checkpoint.
    pub fn is_fresh(&self) -> bool {
        self.fresh.load(Ordering::Acquire) != 0
    }

    /// A checkpoint made its slot part of the durable tree.
    pub fn set_durable(&self) {
        self.fresh.store(0, Ordering::Release);
    }

    /// Whether `pos` is in the node's range.
    pub fn covers(&self, pos: Pos) -> bool {
        self.min <= pos && pos <= self.max
    }

    /// The header it has on the device.
    pub fn header(&self) -> NodeHeader {
        NodeHeader {
            sector: self.id,
            tag: self.tag,
            btree: self.btree.0,
            level: self.level,
            min: self.min,
            max: self.max,
        }
    }

    /// The pointer key a parent holds for this node.
    pub fn ptr_key(&self) -> Key {
        Key::new(
            self.max,
            Value::BtreePtr(BtreePtr {
                node: self.id,
                seq: self.tag,
            }),
        )
    }
}

/// Where a node put into the cache comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Made in memory (a split, a merge, a new root): dirty, in a slot no
    /// durable tree points to.
    New,
    /// Read from the device: clean, part of the durable tree.
    Read,
    /// Read back from a slot written since the last checkpoint (its parent
    /// is dirty and points to it): clean, in a slot no durable tree points
    /// to, so it is written there again in place.
    Written,
}

/// A node to put into the cache with [`Btree::add_with_id`].
pub struct NewNode {
    /// Its id (a store's slot sector).
    pub id: u64,
    /// The tag of pointers to it.
    pub tag: u64,
    /// Its btree.
    pub btree: BtreeId,
    /// The keys.
    pub node: Node,
    /// New or read.
    pub state: NodeState,
}

/// The cache's table: (id, node) sorted by id, and the room allocated for
/// it, so that adding under the spinlock never allocates.
pub struct NodeTable {
    entries: Vec<(u64, Arc<CachedNode>)>,
    cap: usize,
}

/// Puts `(id, node)` into `entries`, sorted by id, keeping the order; no
/// allocation while there is capacity. If `id` is there already, returns
/// the node that has it and adds nothing.
fn insert_sorted(
    entries: &mut Vec<(u64, Arc<CachedNode>)>,
    id: u64,
    node: Arc<CachedNode>,
) -> Result<Option<Arc<CachedNode>>, AllocError> {
    let at = entries.partition_point(|(k, _)| *k < id);
    if let Some((k, existing)) = entries.get(at) {
        if *k == id {
            return Ok(Some(existing.clone()));
        }
    }
    entries.try_push((id, node))?;
    if let Some(tail) = entries.get_mut(at..) {
        tail.rotate_right(1);
    }
    Ok(None)
}

/// A set of btrees: the node cache and the roots.
pub struct Btree {
    /// Parameters.
    pub params: BtreeParams,
    nodes: RwSpinLock<NodeTable>,
    roots: RwSpinLock<[Option<Arc<CachedNode>>; BTREE_ID_NR]>,
    /// The roots' ids, so that checking whether a node is a root takes no
    /// lock (ids are never reused).
    root_ids: [AtomicU64; BTREE_ID_NR],
    next_id: AtomicU64,
    /// Debug switch: relocks fail with this probability, in parts per
    /// million (0: never), in every transaction.
    pub inject_restarts: AtomicU32,
}

impl Btree {
    /// A set of empty btrees: every root an empty leaf.
    pub fn new(params: BtreeParams) -> BtreeResult<Btree> {
        let tree = Self::without_roots(params);
        for i in 0..BTREE_ID_NR {
            let id = BtreeId(u8::try_from(i).map_err(|_| BtreeError::TooBig)?);
            let root = tree.alloc(NodeParams {
                size: params.node_size,
                level: 0,
                min: Pos::MIN,
                max: Pos::MAX,
            })?;
            let root = tree.add(id, root)?;
            tree.set_root(root)?;
        }
        Ok(tree)
    }

    /// A set of btrees with no roots yet: a store sets them
    /// ([`Self::set_root`]) before any transaction runs.
    pub fn without_roots(params: BtreeParams) -> Btree {
        Btree {
            params,
            nodes: RwSpinLock::new(NodeTable {
                entries: Vec::new(),
                cap: 0,
            }),
            roots: RwSpinLock::new([None, None, None, None]),
            root_ids: core::array::from_fn(|_| AtomicU64::new(0)),
            next_id: AtomicU64::new(1),
            inject_restarts: AtomicU32::new(0),
        }
    }

    /// A new empty node (not yet in the cache).
    pub fn alloc(&self, params: NodeParams) -> BtreeResult<Node> {
        Ok(Node::new(params)?)
    }

    /// Puts a node into the cache under a fresh id.
    pub fn add(&self, btree: BtreeId, node: Node) -> BtreeResult<Arc<CachedNode>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.add_with_id(NewNode {
            id,
            tag: 0,
            btree,
            node,
            state: NodeState::New,
        })
    }

    /// Puts a node into the cache under the id (slot) and tag a store gave
    /// it. The caller makes sure no node with that id is in the cache.
    pub fn add_with_id(&self, new: NewNode) -> BtreeResult<Arc<CachedNode>> {
        let NewNode {
            id,
            tag,
            btree,
            node,
            state,
        } = new;
        let p = node.params();
        let bn = Arc::try_new(CachedNode {
            // Untracked by lockdep, as bcachefs's node locks: the btree
            // holds many at once (a commit may lock more than lockdep's 48)
            // and avoids deadlocks by its own order and restarts.
            lock: SixLock::new_untracked(c"sixfs_btree_node"),
            id,
            btree,
            level: p.level,
            min: p.min,
            max: p.max,
            tag,
            dead: AtomicU32::new(0),
            dirty: AtomicU32::new(u32::from(state == NodeState::New)),
            journal_pin: AtomicU64::new(0),
            fresh: AtomicU32::new(u32::from(state != NodeState::Read)),
            touched: AtomicU32::new(1),
            sibling_live: AtomicU64::new(0),
            data: RwSpinLock::new(Some(node)),
        })?;
        match self.insert_entry(id, bn.clone())? {
            None => Ok(bn),
            // Two paths read the same node at once: the first one's copy
            // is the one in the cache.
            Some(existing) if state != NodeState::New => Ok(existing),
            Some(_) => Err(BtreeError::bug("a new node's id is in the cache")),
        }
    }

    /// Adds an entry in id order. Ids are handed out in order but threads
    /// add their nodes in any order, so the entry goes where it sorts, not
    /// at the end. A full table is grown into a new array allocated with
    /// the spinlock released (allocation may sleep), whose elements are
    /// moved over under the lock.
    pub(super) fn insert_entry(
        &self,
        id: u64,
        node: Arc<CachedNode>,
    ) -> BtreeResult<Option<Arc<CachedNode>>> {
        loop {
            let len = {
                let mut t = self.nodes.write();
                if t.entries.len() < t.cap {
                    // Within the capacity: no allocation.
                    return Ok(insert_sorted(&mut t.entries, id, node)?);
                }
                t.entries.len()
            };
            let cap = len.saturating_mul(2).max(16);
            let mut new = Vec::try_with_capacity(cap)?;
            let old = {
                let mut t = self.nodes.write();
                if t.entries.len() < t.cap || t.entries.len() >= cap {
                    // Someone else grew it meanwhile: try again.
                    continue;
                }
                while let Some(e) = t.entries.pop() {
                    new.try_push(e)?;
                }
                new.reverse();
                let existing = insert_sorted(&mut new, id, node)?;
                t.cap = cap;
                (core::mem::replace(&mut t.entries, new), existing)
            };
            // The old, empty array is freed outside the lock.
            drop(old.0);
            return Ok(old.1);
        }
    }

    /// The node a pointer names.
    pub fn find(&self, id: u64) -> Option<Arc<CachedNode>> {
        let t = self.nodes.read();
        let i = t.entries.binary_search_by_key(&id, |(k, _)| *k).ok()?;
        t.entries.get(i).map(|(_, n)| n.clone())
    }

    /// Drops a replaced node from the cache (paths may still hold it).
    pub fn remove(&self, id: u64) {
        let gone = {
            let mut t = self.nodes.write();
            match t.entries.binary_search_by_key(&id, |(k, _)| *k) {
                Ok(i) => {
                    if let Some(tail) = t.entries.get_mut(i..) {
                        tail.rotate_left(1);
                    }
                    t.entries.pop()
                }
                Err(_) => None,
            }
        };
        // The last reference to a node may go here: free it unlocked.
        drop(gone);
    }

    /// Nodes in the cache.
    pub fn nr_nodes(&self) -> usize {
        self.nodes.read().entries.len()
    }

    /// Every node in the cache now, in id order (allocated outside the
    /// spinlock; nodes added meanwhile may be missed).
    pub fn snapshot(&self) -> BtreeResult<Vec<Arc<CachedNode>>> {
        let mut out = Vec::new();
        loop {
            let want = self.nr_nodes();
            out.try_reserve(want)?;
            let t = self.nodes.read();
            if t.entries.len() > out.capacity() {
                continue;
            }
            for (_, n) in t.entries.iter() {
                out.try_push(n.clone())?;
            }
            return Ok(out);
        }
    }

    /// The root of `btree`.
    pub fn root(&self, btree: BtreeId) -> BtreeResult<Arc<CachedNode>> {
        let i = btree.index().ok_or(BtreeError::TooBig)?;
        self.roots
            .read()
            .get(i)
            .and_then(|r| r.clone())
            .ok_or(BtreeError::Corrupt("no root"))
    }

    /// Makes `node` the root of its btree; the caller holds the old root's
    /// intent lock.
    pub fn set_root(&self, node: Arc<CachedNode>) -> BtreeResult<()> {
        let i = node.btree.index().ok_or(BtreeError::TooBig)?;
        let id = node.id;
        let old = {
            let mut roots = self.roots.write();
            if let Some(root_id) = self.root_ids.get(i) {
                root_id.store(id, Ordering::Release);
            }
            roots
                .get_mut(i)
                .map(|slot| core::mem::replace(slot, Some(node)))
        };
        // Dropped outside the spinlock.
        drop(old);
        Ok(())
    }

    /// Whether `node` is the root of its btree now.
    pub fn is_root(&self, node: &Arc<CachedNode>) -> bool {
        let Some(i) = node.btree.index() else {
            return false;
        };
        self.root_ids
            .get(i)
            .is_some_and(|r| r.load(Ordering::Acquire) == node.id)
    }
}
