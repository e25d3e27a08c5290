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

use super::cache::{CachedNode, MAX_DEPTH};
use super::error::{BtreeError, BtreeResult, RestartReason};
use super::trans::Trans;
use crate::bkey::{Pos, Value, BTREE_PTR_BYTES, HEADER_BYTES};
use crate::node::split::{merge_hysteresis, merge_threshold};
use crate::node::{merge, Filter, Node, NodeError, NodeIter, NodeParams};
use crate::platform::sync::Arc;
use crate::six::SixLockType;

/// Room a parent needs for a split: two pointers, each maybe shadowing.
const SPLIT_ROOM: usize = 4 * (HEADER_BYTES + BTREE_PTR_BYTES);

impl Trans<'_> {
    /// The node at `level` of path `idx`, which must be held for intent.
    fn intent_node(&self, idx: usize, level: usize) -> BtreeResult<Option<Arc<CachedNode>>> {
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
    /// `first` is the position of the first update. `mid`, if given, is a
    /// position among the updates where the leaf may be cut when it holds
    /// too little to split by size: a batch too big for one leaf is spread
    /// over two, then more.
    pub(crate) fn make_room(
        &mut self,
        idx: usize,
        needed: usize,
        first: Pos,
        mid: Option<Pos>,
    ) -> BtreeResult<()> {
        let leaf = self
            .intent_node(idx, 0)?
            .ok_or_else(|| BtreeError::bug("leaf not intent locked"))?;
        let (size, live, free, split) =
            leaf.read(|d| (d.size(), d.live_bytes(), d.free_bytes(), d.needs_split()))?;
        if free >= needed {
            return Ok(());
        }
        // A full leaf more than 2/3 live splits at once (compacting it
        // first would copy the whole node to win room for a few inserts);
        // one less live is compacted, which frees a third of it at least.
        if !split && self.compact_leaf(&leaf)? >= needed {
            return Ok(());
        }
        if live < size / 4 && needed > size / 4 {
            // Splitting by size cannot help: cut between the updates.
            return match mid.filter(|&m| leaf.covers(m) && m < leaf.max) {
                Some(m) => self.split_node_at(idx, 0, Some(m)),
                None => Err(BtreeError::TooBig),
            };
        }
        // Appending past the leaf's last key (keys inserted in order): the
        // leaf stays whole and a new, empty one takes the appends, so
        // keys written in order fill their leaves instead of leaving each
        // half empty, with half as many splits.
        let append_cut = leaf
            .read(|d| d.last_pos())?
            .filter(|&last| last < first && last < leaf.max);
        match self.split_node_at(idx, 0, append_cut) {
            // No space for a new node: compacting may still make room (a
            // deletion's whiteout and the key it deletes both go), which a
            // full filesystem needs to free anything.
            Err(BtreeError::NoSpace) if split => {
                if self.compact_leaf(&leaf)? >= needed {
                    return Ok(());
                }
                Err(BtreeError::NoSpace)
            }
            other => other,
        }
    }

    /// Compacts `leaf` (intent-locked) under its write lock; returns its
    /// free bytes after.
    fn compact_leaf(&mut self, leaf: &Arc<CachedNode>) -> BtreeResult<usize> {
        self.lock_write(leaf)?;
        let compacted = leaf.write(|d| d.compact());
        self.unlock_write(leaf);
        compacted??;
        leaf.read(|d| d.free_bytes())
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
            return Err(BtreeError::Restart(RestartReason::Upgrade));
        };
        let is_root = self.btree.is_root(&node);
        let parent = if is_root {
            None
        } else {
            let Some(parent) = self.intent_node(idx, level.saturating_add(1))? else {
                self.want_depth = true;
                return Err(BtreeError::Restart(RestartReason::Upgrade));
            };
            if parent.read(|d| d.free_bytes())? < SPLIT_ROOM {
                self.lock_write(&parent)?;
                let compact = parent.write(|d| d.compact());
                self.unlock_write(&parent);
                compact??;
                if parent.read(|d| d.free_bytes())? < SPLIT_ROOM {
                    return self.split_node(idx, level.saturating_add(1));
                }
            }
            Some(parent)
        };
        if is_root && level.saturating_add(1) >= MAX_DEPTH {
            return Err(BtreeError::TooBig);
        }
        // Write locks before reading the node for the split: the halves
        // are built with the node out of its spinlock (they allocate).
        if let Some(parent) = parent.as_ref() {
            self.lock_write(parent)?;
        }
        if let Err(e) = self.lock_write(&node) {
            if let Some(parent) = parent.as_ref() {
                self.unlock_write(parent);
            }
            return Err(e);
        }
        let result = self.split_locked(&node, parent.as_ref(), at);
        self.unlock_write(&node);
        if let Some(parent) = parent.as_ref() {
            self.unlock_write(parent);
        }
        result?;
        self.drop_node(node.id);
        Err(BtreeError::Restart(RestartReason::Split))
    }

    /// The split proper, with `node` (and `parent`) write-locked.
    fn split_locked(
        &mut self,
        node: &Arc<CachedNode>,
        parent: Option<&Arc<CachedNode>>,
        at: Option<Pos>,
    ) -> BtreeResult<()> {
        let (left, right) = node.write(|data| halves(data, at))??;
        let btree_id = node.btree;
        let lb = self.new_node(btree_id, left)?;
        let rb = match self.new_node(btree_id, right) {
            Ok(rb) => rb,
            Err(e) => {
                self.drop_node(lb.id);
                return Err(e);
            }
        };
        let result = match parent {
            // The right half ends where the node did: its pointer
            // replaces the node's.
            Some(parent) => parent
                .write(|p| {
                    // Both pointers or neither: a parent left pointing at
                    // a half that is then dropped would lose its keys.
                    let need = lb.ptr_key().encoded_len().saturating_mul(2);
                    if p.free_bytes() < need {
                        return Err(NodeError::Full);
                    }
                    p.insert(&lb.ptr_key())?;
                    p.insert(&rb.ptr_key())
                })
                .and_then(|r| Ok(r?)),
            None => self.new_root(node, &lb, &rb),
        };
        match result {
            Ok(()) => {
                node.set_dead();
                Ok(())
            }
            Err(e) => {
                self.drop_node(lb.id);
                self.drop_node(rb.id);
                Err(e)
            }
        }
    }

    /// A new root above the halves of the old root `node` (write-locked).
    fn new_root(
        &mut self,
        node: &Arc<CachedNode>,
        lb: &Arc<CachedNode>,
        rb: &Arc<CachedNode>,
    ) -> BtreeResult<()> {
        let mut root = self.btree.alloc(NodeParams {
            size: self.btree.params.node_size,
            level: node.level.saturating_add(1),
            min: Pos::MIN,
            max: Pos::MAX,
        })?;
        root.insert(&lb.ptr_key())?;
        root.insert(&rb.ptr_key())?;
        let rootb = self.new_node(node.btree, root)?;
        let set = self.btree.set_root(rootb.clone());
        if set.is_err() {
            self.drop_node(rootb.id);
        }
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
            parent.unlock(SixLockType::Intent);
        }
        merged
    }

    fn merge_with_sibling(
        &mut self,
        node: &Arc<CachedNode>,
        parent: &Arc<CachedNode>,
    ) -> BtreeResult<bool> {
        // The next sibling, then the previous one.
        let sibs = parent.read(|data| -> BtreeResult<[Option<Value>; 2]> {
            let next = match node.max.successor().and_then(|s| data.first_from(s)) {
                Some(k) => Some(k.value()?),
                None => None,
            };
            let mut it = NodeIter::new(data, node.min, Filter::Live);
            let prev = match it.prev(data) {
                Some(k) => Some(k.value()?),
                None => None,
            };
            Ok([next, prev])
        })??;
        let mut smallest_sibling = usize::MAX;
        for v in sibs.into_iter().flatten() {
            if let Value::BtreePtr(p) = v {
                match self.merge_with(node, parent, p.node)? {
                    Merge::Done => return Ok(true),
                    Merge::TooBig { sibling_live } => {
                        smallest_sibling = smallest_sibling.min(sibling_live)
                    }
                    Merge::NotNow => smallest_sibling = 0,
                }
            }
        }
        node.set_sibling_live(match smallest_sibling {
            usize::MAX => 0,
            live => live,
        });
        Ok(false)
    }

    fn merge_with(
        &mut self,
        node: &Arc<CachedNode>,
        parent: &Arc<CachedNode>,
        sib_id: u64,
    ) -> BtreeResult<Merge> {
        let Some(sib) = self.btree.find(sib_id) else {
            return Ok(Merge::NotNow);
        };
        if !sib.lock.trylock(SixLockType::Intent) {
            return Ok(Merge::NotNow);
        }
        let result = self.merge_locked(node, &sib, parent);
        sib.unlock(SixLockType::Intent);
        result
    }

    fn merge_locked(
        &mut self,
        node: &Arc<CachedNode>,
        sib: &Arc<CachedNode>,
        parent: &Arc<CachedNode>,
    ) -> BtreeResult<Merge> {
        if sib.is_dead() || sib.level != node.level {
            return Ok(Merge::NotNow);
        }
        let size = self.btree.params.node_size;
        let live = node.read(|d| d.live_bytes())?;
        let sibling_live = sib.read(|d| d.live_bytes())?;
        if live >= merge_threshold(size) {
            return Ok(Merge::NotNow);
        }
        if live.saturating_add(sibling_live) > merge_hysteresis(size) {
            return Ok(Merge::TooBig { sibling_live });
        }
        let (left, right) = if node.max < sib.min {
            (node, sib)
        } else {
            (sib, node)
        };
        // Write locks first: the merged node is built with both nodes out
        // of their spinlocks (it allocates).
        self.lock_write(parent)?;
        if let Err(e) = self.lock_write(left) {
            self.unlock_write(parent);
            return Err(e);
        }
        if let Err(e) = self.lock_write(right) {
            self.unlock_write(left);
            self.unlock_write(parent);
            return Err(e);
        }
        let result = self.merge_write_locked(left, right, parent);
        self.unlock_write(right);
        self.unlock_write(left);
        let collapsed = match result {
            Ok(ref mb) => self.collapse_root(parent, mb),
            Err(_) => false,
        };
        self.unlock_write(parent);
        result?;
        self.drop_node(left.id);
        self.drop_node(right.id);
        if collapsed {
            self.drop_node(parent.id);
        }
        Ok(Merge::Done)
    }

    /// Replaces `left` and `right` (write-locked, as is `parent`) with
    /// their merge; returns it.
    fn merge_write_locked(
        &mut self,
        left: &Arc<CachedNode>,
        right: &Arc<CachedNode>,
        parent: &Arc<CachedNode>,
    ) -> BtreeResult<Arc<CachedNode>> {
        let merged = left.write(|l| right.write(|r| merge(l, r)))???;
        let mb = self.new_node(left.btree, merged)?;
        let linked = parent
            .write(|p| {
                // Room for a whiteout and the pointer, or no change at all.
                let need = mb.ptr_key().encoded_len().saturating_mul(2);
                if p.free_bytes() < need {
                    return Err(NodeError::Full);
                }
                p.delete(left.max)?;
                p.insert(&mb.ptr_key())
            })
            .and_then(|r| Ok(r?));
        match linked {
            Ok(()) => {
                left.set_dead();
                right.set_dead();
                Ok(mb)
            }
            Err(e) => {
                self.drop_node(mb.id);
                Err(e)
            }
        }
    }

    /// If `parent` is a root left with one child `mb`, makes `mb` the root.
    fn collapse_root(&mut self, parent: &Arc<CachedNode>, mb: &Arc<CachedNode>) -> bool {
        if !self.btree.is_root(parent) || parent.level == 0 {
            return false;
        }
        let one = parent
            .read(|d| d.keys(Filter::Live).take(2).count() == 1)
            .unwrap_or(false);
        if one && self.btree.set_root(mb.clone()).is_ok() {
            parent.set_dead();
            return true;
        }
        false
    }
}

/// What came of trying to merge a node with one sibling.
enum Merge {
    Done,
    /// Refused: the two hold too much; the sibling's live bytes.
    TooBig {
        sibling_live: usize,
    },
    /// Not tried: the sibling was busy or gone, or the node not sparse.
    NotNow,
}

/// Whether `node`, holding `live` bytes, should look for a merge: it is
/// sparse, and no sibling was found too big for it since it last looked.
pub(crate) fn wants_merge(node: &CachedNode, live: usize, node_size: usize) -> bool {
    live < merge_threshold(node_size)
        && live.saturating_add(node.sibling_live()) <= merge_hysteresis(node_size)
}

/// The two halves of `data`: by size, or cut after `at`.
fn halves(data: &Node, at: Option<Pos>) -> BtreeResult<(Node, Node)> {
    let Some(at) = at else {
        return Ok(data.split()?);
    };
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
    Ok((left, right))
}
