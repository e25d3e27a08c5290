// SPDX-License-Identifier: GPL-2.0

//! Changing the tree's shape: compaction, splits (above 2/3 full, into
//! halves), new roots, merges of siblings below 1/3 (with hysteresis, see
//! `node::split`), and collapsing a root left with one child.
//!
//! A replaced node is write-locked once more before it leaves the tree, so
//! its sequence number moves and every path that saw it fails to relock
//! and re-traverses; its `dead` flag stops a path that still holds it from
//! trusting it. A split restarts the transaction, so that everything it
//! planned is planned again against the new nodes.

use super::cache::{BtreeNode, MAX_DEPTH};
use super::error::{BtreeError, BtreeResult, RestartReason};
use super::trans::Trans;
use crate::bkey::{Pos, Value, BTREE_PTR_BYTES, HEADER_BYTES};
use crate::node::split::{merge_hysteresis, merge_threshold};
use crate::node::{merge, Filter, Node, NodeIter, NodeParams};
use crate::platform::sync::Arc;
use crate::six::SixLockType;

/// Room a parent needs for a split: two pointers, each maybe shadowing.
const SPLIT_ROOM: usize = 4 * (HEADER_BYTES + BTREE_PTR_BYTES);

impl Trans<'_> {
    /// The node at `level` of path `idx`, which must be held for intent.
    fn intent_node(&self, idx: usize, level: usize) -> BtreeResult<Option<Arc<BtreeNode>>> {
        let p = self.path(idx)?;
        let Some(l) = p.l.get(level) else {
            return Ok(None);
        };
        match (&l.node, l.held) {
            (Some(n), Some(SixLockType::Intent)) => Ok(Some(n.clone())),
            _ => Ok(None),
        }
    }

    /// Makes `needed` bytes free in the leaf of path `idx`: compacts it,
    /// or splits it and restarts.
    ///
    /// `mid`, if given, is a position among the updates where the leaf may
    /// be cut when it holds too little to split by size: a batch too big
    /// for one leaf is spread over two, then more.
    pub(crate) fn make_room(
        &mut self,
        idx: usize,
        needed: usize,
        mid: Option<Pos>,
    ) -> BtreeResult<()> {
        let leaf = self
            .intent_node(idx, 0)?
            .ok_or(BtreeError::Corrupt("leaf not intent locked"))?;
        if leaf.data().free_bytes() >= needed {
            return Ok(());
        }
        self.lock_write(&leaf)?;
        let compacted = leaf.data().compact();
        self.unlock_write(&leaf);
        compacted?;
        if leaf.data().free_bytes() >= needed {
            return Ok(());
        }
        let (size, live) = {
            let d = leaf.data();
            (d.size(), d.live_bytes())
        };
        if live < size / 4 && needed > size / 4 {
            // Splitting by size cannot help: cut between the updates.
            return match mid.filter(|&m| leaf.covers(m) && m < leaf.max) {
                Some(m) => self.split_node_at(idx, 0, Some(m)),
                None => Err(BtreeError::TooBig),
            };
        }
        self.split_node(idx, 0)
    }

    /// Splits the node at `level` of path `idx` in two (a new root above
    /// it if it was the root), then restarts: [`RestartReason::Split`].
    pub(crate) fn split_node(&mut self, idx: usize, level: usize) -> BtreeResult<()> {
        self.split_node_at(idx, level, None)
    }

    /// Splits the node at `level` of path `idx` after position `at`, or in
    /// halves by size; restarts.
    pub(crate) fn split_node_at(
        &mut self,
        idx: usize,
        level: usize,
        at: Option<Pos>,
    ) -> BtreeResult<()> {
        let Some(node) = self.intent_node(idx, level)? else {
            self.want_depth = true;
            return Err(self.restart(RestartReason::Upgrade));
        };
        let is_root = self.btree.is_root(&node);
        let parent = if is_root {
            None
        } else {
            let Some(parent) = self.intent_node(idx, level.saturating_add(1))? else {
                self.want_depth = true;
                return Err(self.restart(RestartReason::Upgrade));
            };
            if parent.data().free_bytes() < SPLIT_ROOM {
                let compact = {
                    self.lock_write(&parent)?;
                    let r = parent.data().compact();
                    self.unlock_write(&parent);
                    r
                };
                compact?;
                if parent.data().free_bytes() < SPLIT_ROOM {
                    return self.split_node(idx, level.saturating_add(1));
                }
            }
            Some(parent)
        };
        if is_root && level.saturating_add(1) >= MAX_DEPTH {
            return Err(BtreeError::TooBig);
        }
        let (left, right) = {
            let data = node.data();
            match at {
                None => data.split()?,
                Some(at) => {
                    let right_min = at.successor().ok_or(BtreeError::TooBig)?;
                    let left = Node::from_sorted(
                        NodeParams {
                            max: at,
                            ..data.params()
                        },
                        data.keys(Filter::NoDeleted).take_while(|k| k.pos() <= at),
                    )?;
                    let right = Node::from_sorted(
                        NodeParams {
                            min: right_min,
                            ..data.params()
                        },
                        data.keys_from(right_min, Filter::NoDeleted),
                    )?;
                    (left, right)
                }
            }
        };
        let btree_id = node.btree;
        let lb = self.btree.add(btree_id, left)?;
        let rb = match self.btree.add(btree_id, right) {
            Ok(rb) => rb,
            Err(e) => {
                self.btree.remove(lb.id);
                return Err(e);
            }
        };
        let result = match parent {
            Some(parent) => self.link_split(&parent, &node, &lb, &rb),
            None => self.new_root(&node, &lb, &rb),
        };
        if let Err(e) = result {
            self.btree.remove(lb.id);
            self.btree.remove(rb.id);
            return Err(e);
        }
        self.btree.remove(node.id);
        Err(self.restart(RestartReason::Split))
    }

    /// Points `parent` at the halves of `node` instead of at `node`.
    fn link_split(
        &mut self,
        parent: &Arc<BtreeNode>,
        node: &Arc<BtreeNode>,
        lb: &Arc<BtreeNode>,
        rb: &Arc<BtreeNode>,
    ) -> BtreeResult<()> {
        self.lock_write(parent)?;
        if let Err(e) = self.lock_write(node) {
            self.unlock_write(parent);
            return Err(e);
        }
        let linked = {
            let mut p = parent.data();
            // The right half ends where the node did: its pointer
            // replaces the node's.
            p.insert(&lb.ptr_key())
                .and_then(|_| p.insert(&rb.ptr_key()))
        };
        if linked.is_ok() {
            node.set_dead();
        }
        self.unlock_write(node);
        self.unlock_write(parent);
        Ok(linked?)
    }

    /// A new root above the halves of the old root `node`.
    fn new_root(
        &mut self,
        node: &Arc<BtreeNode>,
        lb: &Arc<BtreeNode>,
        rb: &Arc<BtreeNode>,
    ) -> BtreeResult<()> {
        let mut root = self.btree.alloc(NodeParams {
            size: self.btree.params.node_size,
            level: node.level.saturating_add(1),
            min: Pos::MIN,
            max: Pos::MAX,
        })?;
        root.insert(&lb.ptr_key())?;
        root.insert(&rb.ptr_key())?;
        let rootb = self.btree.add(node.btree, root)?;
        if let Err(e) = self.lock_write(node) {
            self.btree.remove(rootb.id);
            return Err(e);
        }
        let set = self.btree.set_root(rootb.clone());
        if set.is_ok() {
            node.set_dead();
        } else {
            self.btree.remove(rootb.id);
        }
        self.unlock_write(node);
        set
    }

    /// Merges the node at `level` of path `idx` with a sibling if both are
    /// sparse enough; never waits (a busy sibling means no merge). True if
    /// the tree changed.
    pub(crate) fn try_merge(&mut self, idx: usize, level: usize) -> BtreeResult<bool> {
        let Some(node) = self.intent_node(idx, level)? else {
            return Ok(false);
        };
        if self.btree.is_root(&node) {
            return Ok(false);
        }
        // The parent, for intent, unchanged since the path went through it.
        let plevel = level.saturating_add(1);
        let (parent, seq, held) = {
            let p = self.path(idx)?;
            let Some(l) = p.l.get(plevel) else {
                return Ok(false);
            };
            let Some(parent) = l.node.clone() else {
                return Ok(false);
            };
            (parent, l.seq, l.held)
        };
        let took_parent = match held {
            Some(SixLockType::Intent) => false,
            Some(_) => return Ok(false),
            None => {
                if !parent.lock.relock(SixLockType::Intent, seq) {
                    return Ok(false);
                }
                true
            }
        };
        let merged = self.merge_with_sibling(&node, &parent);
        if took_parent {
            let _ = parent.lock.unlock(SixLockType::Intent);
        }
        merged
    }

    fn merge_with_sibling(
        &mut self,
        node: &Arc<BtreeNode>,
        parent: &Arc<BtreeNode>,
    ) -> BtreeResult<bool> {
        // The next sibling, then the previous one.
        let sibs = {
            let data = parent.data();
            let next = match node.max.successor().and_then(|s| data.first_from(s)) {
                Some(k) => Some(k.value()?),
                None => None,
            };
            let mut it = NodeIter::new(&data, node.min, Filter::Live);
            let prev = match it.prev(&data) {
                Some(k) => Some(k.value()?),
                None => None,
            };
            [next, prev]
        };
        for v in sibs.into_iter().flatten() {
            if let Value::BtreePtr(p) = v {
                if self.merge_with(node, parent, p.node)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn merge_with(
        &mut self,
        node: &Arc<BtreeNode>,
        parent: &Arc<BtreeNode>,
        sib_id: u64,
    ) -> BtreeResult<bool> {
        let Some(sib) = self.btree.find(sib_id) else {
            return Ok(false);
        };
        if !sib.lock.trylock(SixLockType::Intent) {
            return Ok(false);
        }
        let result = self.merge_locked(node, &sib, parent);
        let _ = sib.lock.unlock(SixLockType::Intent);
        result
    }

    fn merge_locked(
        &mut self,
        node: &Arc<BtreeNode>,
        sib: &Arc<BtreeNode>,
        parent: &Arc<BtreeNode>,
    ) -> BtreeResult<bool> {
        if sib.is_dead() || sib.level != node.level {
            return Ok(false);
        }
        let size = self.btree.params.node_size;
        let live = node.data().live_bytes();
        let sib_live = sib.data().live_bytes();
        if live >= merge_threshold(size) || live.saturating_add(sib_live) > merge_hysteresis(size) {
            return Ok(false);
        }
        let (left, right) = if node.max < sib.min {
            (node, sib)
        } else {
            (sib, node)
        };
        // One node's data at a time: copy the left one out.
        let left_copy = left.data().rewrite()?;
        let merged = {
            let r = right.data();
            merge(&left_copy, &r)?
        };
        let mb = self.btree.add(node.btree, merged)?;
        let locked = self.lock_write(parent).and_then(|_| {
            self.lock_write(left)
                .inspect_err(|_| self.unlock_write(parent))
        });
        if let Err(e) = locked.and_then(|_| {
            self.lock_write(right).inspect_err(|_| {
                self.unlock_write(left);
                self.unlock_write(parent);
            })
        }) {
            self.btree.remove(mb.id);
            return Err(e);
        }
        let linked = {
            let mut p = parent.data();
            p.delete(left.max).and_then(|_| p.insert(&mb.ptr_key()))
        };
        if linked.is_ok() {
            left.set_dead();
            right.set_dead();
        }
        self.unlock_write(right);
        self.unlock_write(left);
        let mut collapsed = false;
        if linked.is_ok() && self.btree.is_root(parent) && parent.level > 0 {
            let children = parent.data().keys(Filter::Live).take(2).count();
            if children == 1 {
                // A root with one child: the child becomes the root.
                if self.btree.set_root(mb.clone()).is_ok() {
                    parent.set_dead();
                    collapsed = true;
                }
            }
        }
        self.unlock_write(parent);
        if let Err(e) = linked {
            self.btree.remove(mb.id);
            return Err(e.into());
        }
        self.btree.remove(left.id);
        self.btree.remove(right.id);
        if collapsed {
            self.btree.remove(parent.id);
        }
        Ok(true)
    }
}
