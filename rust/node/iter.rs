// SPDX-License-Identifier: GPL-2.0

//! The node iterator: walks the keys of a node in order, merging its bsets;
//! at equal positions the newest bset's key wins and the older are hidden.
//!
//! A [`NodeIter`] does not borrow the node: it is a cursor passed the node
//! at each call, so the btree iterator above can keep one per level next to
//! a locked node. Keys it returns borrow the node. If the node changed
//! since the last call (its `seq` moved), the cursor seeks again to where
//! it was, so inserts behind its back are seen, never skipped or repeated.

use super::btree_node::{Node, MAX_BSETS};
use super::lookup::Change;
use crate::bkey::{KeyRef, KeyType, Pos};

/// Which keys an iterator returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Every newest key, deleted keys included.
    All,
    /// Skip positions whose newest key is deleted.
    NoDeleted,
    /// Skip deleted keys and whiteouts.
    Live,
}

impl Filter {
    fn shows(self, key: &KeyRef<'_>) -> bool {
        match self {
            Filter::All => true,
            Filter::NoDeleted => key.kind() != KeyType::Deleted,
            Filter::Live => !key.is_deleted_or_whiteout(),
        }
    }
}

/// A cursor between two keys of a node.
///
/// INVARIANT (while `seq` matches the node's): `cur[i]` is the offset of
/// the first key of bset `i` at or after `bound` (`None`: after all).
#[derive(Clone, Debug)]
pub struct NodeIter {
    cur: [usize; MAX_BSETS],
    bound: Option<Pos>,
    seq: u64,
    filter: Filter,
    sets: usize,
}

impl NodeIter {
    /// A cursor before the first key `>= pos`.
    pub fn new(node: &Node, pos: Pos, filter: Filter) -> NodeIter {
        Self::over_sets(node, MAX_BSETS, pos, filter)
    }

    /// A cursor over the first `sets` bsets only (for compaction).
    pub(crate) fn over_sets(node: &Node, sets: usize, pos: Pos, filter: Filter) -> NodeIter {
        let mut it = NodeIter {
            cur: [0; MAX_BSETS],
            bound: Some(pos),
            seq: node.seq(),
            filter,
            sets,
        };
        it.resync(node);
        it
    }

    fn nsets(&self, node: &Node) -> usize {
        node.nsets().min(self.sets)
    }

    /// Moves the cursor before the first key `>= pos`.
    pub fn seek(&mut self, node: &Node, pos: Pos) {
        self.bound = Some(pos);
        self.resync(node);
    }

    /// Moves the cursor before the first key `>= pos`, stepping forward
    /// when `pos` lies a few keys ahead (an iteration's next position)
    /// rather than searching every bset again.
    pub fn seek_ahead(&mut self, node: &Node, pos: Pos) {
        self.check_seq(node);
        match self.bound {
            Some(bound) if bound <= pos => {}
            _ => return self.seek(node, pos),
        }
        for i in 0..self.nsets(node) {
            let (Some(b), Some(c)) = (node.bset(i), self.cur.get_mut(i)) else {
                continue;
            };
            *c = node.search_bset_from(b, *c, pos);
        }
        self.bound = Some(pos);
    }

    /// For each bset of `node`, the offset of its first key `>= pos`, if
    /// the cursor already knows them: it stands at `pos` and the node has
    /// not changed since. Spares an insert at the cursor its searches.
    pub fn offsets_at(&self, node: &Node, pos: Pos) -> Option<[usize; MAX_BSETS]> {
        (self.seq == node.seq() && self.bound == Some(pos) && self.sets >= node.nsets())
            .then_some(self.cur)
    }

    /// Where the cursor is: keys ahead are `>=` this (`None`: at the end).
    pub fn pos(&self) -> Option<Pos> {
        self.bound
    }

    fn resync(&mut self, node: &Node) {
        for i in 0..MAX_BSETS {
            let set = node.bset(i).filter(|_| i < self.sets);
            let at = match (set, self.bound) {
                (Some(b), Some(pos)) => node.search_bset(b, pos),
                (Some(b), None) => b.end,
                (None, _) => 0,
            };
            if let Some(c) = self.cur.get_mut(i) {
                *c = at;
            }
        }
        self.seq = node.seq();
    }

    pub(crate) fn check_seq(&mut self, node: &Node) {
        if self.seq == node.seq() {
            return;
        }
        if self.seq.wrapping_add(1) == node.seq() && self.follow(node) {
            self.seq = node.seq();
            return;
        }
        self.resync(node);
    }

    /// Follows the node's last change, an edit of its last bset made right
    /// after this cursor last looked: the other bsets did not move, and in
    /// the last one only the offset past the edit shifts. `false` if the
    /// node cannot say what changed.
    fn follow(&mut self, node: &Node) -> bool {
        let Some(Change { at, removed, added }) = node.last_change else {
            return false;
        };
        let last = node.nsets().saturating_sub(1);
        if last >= self.sets {
            // A cursor over older bsets only: nothing it sees moved.
            return true;
        }
        let (Some(b), Some(c)) = (node.bset(last), self.cur.get_mut(last)) else {
            return false;
        };
        let Some(bound) = self.bound else {
            *c = b.end;
            return true;
        };
        // `*c` was the first key `>= bound`: keys before it were below
        // `bound`, and so is anything that replaced them or went between
        // them.
        *c = if *c < at {
            *c
        } else if *c == at && removed == 0 {
            // A key went in right where the cursor stood: before it or not.
            match node.key_at(at) {
                Some(k) if k.pos() < bound => at.saturating_add(added),
                _ => at,
            }
        } else if *c < at.saturating_add(removed) {
            // The key at the cursor was replaced by one at its position,
            // or removed and the next one took its place.
            at
        } else {
            c.saturating_sub(removed).saturating_add(added)
        };
        true
    }

    /// The smallest position among the bsets' next keys, newest bset first
    /// on ties: (bset, offset, key).
    fn front<'n>(&self, node: &'n Node) -> Option<(usize, KeyRef<'n>)> {
        let mut best: Option<(usize, KeyRef<'n>)> = None;
        for i in 0..self.nsets(node) {
            let (Some(b), Some(&at)) = (node.bset(i), self.cur.get(i)) else {
                continue;
            };
            if at >= b.end {
                continue;
            }
            let Some(key) = node.key_at(at) else {
                continue;
            };
            // `<=`: a later (newer) bset wins a tie.
            if !matches!(best, Some((_, k)) if key.pos() > k.pos()) {
                best = Some((i, key));
            }
        }
        best
    }

    /// Steps every bset past the keys at `pos` (the front).
    fn advance_past(&mut self, node: &Node, pos: Pos) {
        for i in 0..self.nsets(node) {
            let (Some(&at), Some(b)) = (self.cur.get(i), node.bset(i)) else {
                continue;
            };
            if at < b.end {
                if let Some(key) = node.key_at(at).filter(|k| k.pos() == pos) {
                    if let Some(c) = self.cur.get_mut(i) {
                        *c = at + key.len();
                    }
                }
            }
        }
        self.bound = pos.successor();
        if self.bound.is_none() {
            // Past Pos::MAX: everything is behind.
            self.resync(node);
        }
    }

    /// The next key the filter shows, without moving past it.
    pub fn peek<'n>(&mut self, node: &'n Node) -> Option<KeyRef<'n>> {
        self.check_seq(node);
        loop {
            let (_, key) = self.front(node)?;
            if self.filter.shows(&key) {
                self.bound = Some(key.pos());
                return Some(key);
            }
            self.advance_past(node, key.pos());
        }
    }

    /// The key the filter shows at exactly `pos`, if any; the cursor moves
    /// before `pos`, where an insert there starts. Unlike a seek and a
    /// [`Self::peek`], it never steps over the hidden keys after `pos`: in
    /// a leaf of deleted keys it costs a seek, not a walk to the next live
    /// key.
    pub fn peek_at<'n>(&mut self, node: &'n Node, pos: Pos) -> Option<KeyRef<'n>> {
        self.seek_ahead(node, pos);
        self.front(node)
            .map(|(_, key)| key)
            .filter(|key| key.pos() == pos && self.filter.shows(key))
    }

    /// The next key the filter shows; the cursor moves past it.
    #[allow(clippy::should_implement_trait)]
    pub fn next<'n>(&mut self, node: &'n Node) -> Option<KeyRef<'n>> {
        let key = self.peek(node)?;
        self.advance_past(node, key.pos());
        Some(key)
    }

    /// The previous key the filter shows; the cursor moves before it.
    pub fn prev<'n>(&mut self, node: &'n Node) -> Option<KeyRef<'n>> {
        self.check_seq(node);
        loop {
            // Each bset's key before the cursor; the largest position wins,
            // the newest bset on ties.
            let mut best: Option<(Pos, KeyRef<'n>)> = None;
            let mut prevs = [None; MAX_BSETS];
            for i in 0..self.nsets(node) {
                let (Some(b), Some(&at)) = (node.bset(i), self.cur.get(i)) else {
                    continue;
                };
                let Some(p) = node.prev_in_bset(b, at) else {
                    continue;
                };
                let Some(key) = node.key_at(p) else {
                    continue;
                };
                if let Some(slot) = prevs.get_mut(i) {
                    *slot = Some((p, key.pos()));
                }
                if !matches!(best, Some((bp, _)) if key.pos() < bp) {
                    best = Some((key.pos(), key));
                }
            }
            let (pos, key) = best?;
            for (i, slot) in prevs.iter().enumerate() {
                if let (Some((p, ppos)), Some(c)) = (slot, self.cur.get_mut(i)) {
                    if *ppos == pos {
                        *c = *p;
                    }
                }
            }
            self.bound = Some(pos);
            if self.filter.shows(&key) {
                return Some(key);
            }
        }
    }
}

/// The keys of a node in order, as a Rust iterator borrowing the node.
pub struct Keys<'n> {
    node: &'n Node,
    iter: NodeIter,
}

impl<'n> Iterator for Keys<'n> {
    type Item = KeyRef<'n>;

    fn next(&mut self) -> Option<KeyRef<'n>> {
        self.iter.next(self.node)
    }
}

impl Node {
    /// [`Self::live_bytes`] the slow way, by walking every key.
    pub(crate) fn count_live_bytes(&self) -> usize {
        self.keys(Filter::NoDeleted).map(|k| k.len()).sum()
    }

    /// The keys of the node in order, through `filter`.
    pub fn keys(&self, filter: Filter) -> Keys<'_> {
        Keys {
            node: self,
            iter: NodeIter::new(self, Pos::MIN, filter),
        }
    }

    /// The keys from the first `>= pos` on, through `filter`.
    pub fn keys_from(&self, pos: Pos, filter: Filter) -> Keys<'_> {
        Keys {
            node: self,
            iter: NodeIter::new(self, pos, filter),
        }
    }

    /// The first live key `>= pos`: in an interior node, the pointer to
    /// the child that covers `pos`.
    pub fn first_from(&self, pos: Pos) -> Option<KeyRef<'_>> {
        NodeIter::new(self, pos, Filter::Live).peek(self)
    }
}
