// SPDX-License-Identifier: GPL-2.0

//! Where nodes come from and go to when the btree lives on a device.
//!
//! A [`Btree`](super::Btree) alone is a tree in memory: node ids are
//! numbers handed out in order, and every node is in the cache. A
//! transaction given a [`NodeStore`] (`Trans::with_store`) works on a tree
//! whose nodes live on a device: a new node's id is the first sector of a
//! slot the store allocated, a node that leaves the tree gives its slot
//! back, and a node that is not in the cache is read from the device when
//! a path follows a pointer to it. The store (`crate::store`) also decides
//! when dirty nodes are written, which needs every transaction out of the
//! way for a moment: [`NodeStore::enter`] and [`NodeStore::leave`] bracket
//! each run of a transaction.

use super::cache::{Btree, CachedNode, NewNode, NodeState};
use super::error::{BtreeError, BtreeResult};
use super::update::Update;
use crate::bkey::{Pos, Value};
use crate::node::disk::NodeHeader;
use crate::node::{Filter, Node, NodeIter};
use crate::platform::sync::Arc;

/// What a pointer says about the node it points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeRef {
    /// The btree id.
    pub btree: u8,
    /// The node's level.
    pub level: u8,
    /// Its id: the first sector of its slot.
    pub id: u64,
    /// The tag the pointer carries.
    pub tag: u64,
    /// The first position it covers (from the parent's previous key).
    pub min: Pos,
    /// The last (the pointer's position).
    pub max: Pos,
}

impl NodeRef {
    /// The header the node must have on the device.
    pub fn header(&self) -> NodeHeader {
        NodeHeader {
            sector: self.id,
            tag: self.tag,
            btree: self.btree,
            level: self.level,
            min: self.min,
            max: self.max,
        }
    }
}

/// A device-backed home for a btree's nodes.
pub trait NodeStore: Sync {
    /// `Ok` if the tree may change; [`BtreeError::ReadOnly`] on a
    /// read-only store (a commit asks first).
    ///
    /// [`BtreeError::ReadOnly`]: super::BtreeError::ReadOnly
    fn check_writable(&self) -> BtreeResult<()>;

    /// A slot for a new node: its id (first sector) and a fresh tag. None
    /// free: [`RestartReason::Space`] if a checkpoint would free some (the
    /// run calls [`Self::make_room`], once), else [`BtreeError::NoSpace`].
    ///
    /// [`RestartReason::Space`]: super::RestartReason::Space
    /// [`BtreeError::NoSpace`]: super::BtreeError::NoSpace
    fn alloc_node(&self) -> BtreeResult<(u64, u64)>;

    /// The node `id` left the tree: its slot is free once nothing durable
    /// points to it.
    fn free_node(&self, id: u64);

    /// Reads and checks the node `r` names, and says whether its slot is
    /// part of the durable tree ([`NodeState::Read`]) or was written since
    /// ([`NodeState::Written`]). A node that fails a check is reported
    /// (with device, btree, level and position) and refused.
    fn read_node(&self, r: &NodeRef) -> BtreeResult<(Node, NodeState)>;

    /// A transaction run starts: waits while nodes are being written.
    fn enter(&self);

    /// The run that [`Self::enter`] started is over (it holds no lock).
    fn leave(&self);

    /// After a run, outside the gate: the store may write and evict nodes
    /// to keep its cache bounded. Its own errors it reports itself (the
    /// run's result stands: a commit that landed did land).
    fn after_run(&self) {}

    /// Journals a commit's updates, with their leaves write-locked and
    /// nothing applied yet; returns the journal sequence number they got.
    /// No room: [`RestartReason::Journal`], and the run calls
    /// [`Self::make_room`] once it holds no lock.
    ///
    /// [`RestartReason::Journal`]: super::RestartReason::Journal
    fn log_commit(&self, updates: &[Update]) -> BtreeResult<u64> {
        let _ = updates;
        Ok(0)
    }

    /// Makes the room a restart for `reason` ([`RestartReason::Journal`]
    /// or [`RestartReason::Space`]) asked for: writes the journal's open
    /// entry, or checkpoints; outside the gate. An error ends the run with
    /// it.
    ///
    /// [`RestartReason::Journal`]: super::RestartReason::Journal
    /// [`RestartReason::Space`]: super::RestartReason::Space
    fn make_room(&self, reason: super::RestartReason) -> BtreeResult<()> {
        let _ = reason;
        Ok(())
    }
}

/// The child of `parent` (locked, or in a tree no one changes) whose range
/// holds `pos`: from the cache, or else read from `store` and added.
pub fn child_node(
    btree: &Btree,
    store: Option<&dyn NodeStore>,
    parent: &CachedNode,
    pos: Pos,
) -> BtreeResult<Arc<CachedNode>> {
    let (ptr, max) = {
        let guard = parent.data();
        let data = guard.as_ref().ok_or_else(super::cache::taken)?;
        let key = data
            .first_from(pos)
            .ok_or(BtreeError::Corrupt("no child pointer"))?;
        match key.value()? {
            Value::BtreePtr(p) => (p, key.pos()),
            _ => return Err(BtreeError::Corrupt("not a pointer")),
        }
    };
    if let Some(child) = btree.find(ptr.node) {
        child.touch();
        return Ok(child);
    }
    let store = store.ok_or(BtreeError::Corrupt("pointer to no node"))?;
    // The child starts after the parent's previous pointer.
    let min = {
        let guard = parent.data();
        let data = guard.as_ref().ok_or_else(super::cache::taken)?;
        let mut it = NodeIter::new(data, max, Filter::Live);
        match it.prev(data) {
            Some(k) => k
                .pos()
                .successor()
                .ok_or(BtreeError::Corrupt("pointer after the last position"))?,
            None => parent.min,
        }
    };
    let r = NodeRef {
        btree: parent.btree.0,
        level: parent.level.saturating_sub(1),
        id: ptr.node,
        tag: ptr.seq,
        min,
        max,
    };
    let (node, state) = store.read_node(&r)?;
    btree.add_with_id(NewNode {
        id: r.id,
        tag: r.tag,
        btree: parent.btree,
        node,
        state,
    })
}
