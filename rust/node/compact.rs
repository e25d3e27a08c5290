// SPDX-License-Identifier: GPL-2.0

//! Compaction: rewriting bsets into fewer, without the keys that newer ones
//! hide and without deleted keys that hide nothing any more.
//!
//! Two forms, as in bcachefs:
//! - [`Node::compact`] works on a node whose written bsets stay on disk: it
//!   merges the written bsets into one and the unwritten ones (sealed and
//!   open) into another. The written one loses its deleted keys (they are
//!   on disk already, and what they hid is dropped with them) and the keys
//!   newer bsets hide; the unwritten one keeps the deleted keys that hide
//!   a copy on disk. That is everything a node that is not written whole
//!   can reclaim.
//! - [`Node::rewrite`] makes a new node image with one unwritten bset and
//!   no deleted keys at all, for a node that will be written whole (after a
//!   split or merge, or to reclaim the space of a node whose written bsets
//!   are full of dead keys).

use super::btree_node::{zeroed, Bset, Node, NodeParams};
use super::error::NodeError;
use super::iter::Filter;
use super::sort::{set_needs_whiteout, BsetSort};
use crate::bkey::encoding::{FLAG_NEEDS_WHITEOUT, OFF_FLAGS};
use crate::bkey::{KeyRef, KeyType, Pos};

impl Node {
    /// Merges the written bsets into one and the unwritten ones into
    /// another, in a new buffer; the node then has at most two bsets. Only
    /// dead keys go, so the live bytes stay as they are.
    pub fn compact(&mut self) -> Result<(), NodeError> {
        let (w, n) = (self.written_sets, self.nsets);
        if w == 0 && n <= 1 && self.used_bytes() == self.live_bytes() {
            // One unwritten bset of live keys only: nothing to drop.
            return Ok(());
        }
        let mut out = zeroed(self.params.size)?;
        let mut written_end = 0;
        if w > 0 {
            let mut all = BsetSort::new(self, 0, n);
            while let Some(g) = all.next(self) {
                // A written key that an unwritten one hides goes too: the
                // unwritten key has the needs-whiteout flag for the copy
                // on disk.
                if g.newest.0 >= w {
                    continue;
                }
                match self.key_at(g.newest.1) {
                    Some(key) if key.kind() != KeyType::Deleted => {
                        written_end = append(&mut out, written_end, &key)?;
                    }
                    _ => {}
                }
            }
        }
        let mut end = written_end;
        let mut unwritten = BsetSort::new(self, w, n);
        while let Some(g) = unwritten.next(self) {
            let (Some(newest), Some(oldest)) = (self.key_at(g.newest.1), self.key_at(g.oldest.1))
            else {
                continue;
            };
            // Whether an older copy lies outside the unwritten bsets, in a
            // written one or on disk.
            let below = oldest.needs_whiteout();
            if newest.kind() == KeyType::Deleted && !below {
                continue;
            }
            let at = end;
            end = append(&mut out, end, &newest)?;
            set_needs_whiteout(&mut out, at, below);
        }
        self.data = out;
        self.bsets = Default::default();
        let mut sets = 0;
        if written_end > 0 {
            self.bsets[0] = span(0, written_end);
            sets = 1;
        }
        self.written_sets = sets;
        if end > written_end || sets == 0 {
            if let Some(b) = self.bsets.get_mut(sets) {
                *b = span(written_end, end);
                sets += 1;
            }
        }
        self.nsets = sets;
        self.rebuild_samples();
        self.changed();
        Ok(())
    }

    /// Whether [`Self::rewrite`] would only merge the bsets: none is
    /// written, and every byte is a live key (no key an overwrite hid, no
    /// deleted key; with nothing written, no key carries a whiteout flag).
    pub fn rewrite_drops_nothing(&self) -> bool {
        self.written_sets == 0 && self.used_bytes() == self.live_bytes()
    }

    /// A new node image with the same parameters, one unwritten bset and
    /// only the live keys (deleted keys dropped, whiteout flags cleared:
    /// nothing lies under the new image). Its sequence number follows
    /// this node's, so a cursor into this node seeks again in it.
    pub fn rewrite(&self) -> Result<Node, NodeError> {
        let mut node = Node::from_sorted(self.params, self.keys(Filter::NoDeleted))?;
        node.seq = self.seq.wrapping_add(1);
        Ok(node)
    }

    /// A new node holding `keys`, which come from nodes (their values were
    /// checked on the way in), must be sorted by strictly increasing
    /// position and fit the parameters. Deleted keys are dropped;
    /// whiteout flags are cleared (nothing lies under them).
    pub fn from_sorted<'k>(
        params: NodeParams,
        keys: impl Iterator<Item = KeyRef<'k>>,
    ) -> Result<Node, NodeError> {
        let mut node = Node::new(params)?;
        let mut end = 0;
        let mut prev: Option<Pos> = None;
        for key in keys {
            if key.kind() == KeyType::Deleted {
                continue;
            }
            // Copied as bytes: decoding each value again would cost a
            // rewrite of a full node (each checkpoint's) more than the
            // copy itself.
            node.check_stored_key(&key)?;
            let pos = key.pos();
            if prev.is_some_and(|p| p >= pos) {
                return Err(NodeError::BadParams);
            }
            prev = Some(pos);
            end = append(&mut node.data, end, &key)?;
        }
        node.bsets[0] = span(0, end);
        node.live = end;
        node.rebuild_samples();
        Ok(node)
    }
}

fn span(start: usize, end: usize) -> Bset {
    Bset {
        start,
        end,
        ..Default::default()
    }
}

/// Copies `key` to byte `at` of `out` without its in-memory flags (a dead
/// key as the deleted key it stands for) and returns the end.
fn append(out: &mut [u8], at: usize, key: &KeyRef<'_>) -> Result<usize, NodeError> {
    if key.is_dead() {
        let dst = out.get_mut(at..).ok_or(NodeError::Full)?;
        return Ok(at.saturating_add(key.whiteout().encode(dst)?));
    }
    let end = at.checked_add(key.len()).ok_or(NodeError::Full)?;
    let dst = out.get_mut(at..end).ok_or(NodeError::Full)?;
    dst.copy_from_slice(key.as_bytes());
    if let Some(flags) = dst.get_mut(OFF_FLAGS) {
        *flags &= !FLAG_NEEDS_WHITEOUT;
    }
    Ok(end)
}
