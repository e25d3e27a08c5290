// SPDX-License-Identifier: GPL-2.0

//! Compaction: rewriting bsets into one, without the keys that newer ones
//! hide and without deleted keys that hide nothing any more.
//!
//! Two forms, as in bcachefs:
//! - [`Node::compact`] works in place on a node whose written bsets stay on
//!   disk: it merges the written bsets into one (their deleted keys are on
//!   disk already, and what they hid is dropped with them) and keeps the
//!   open bset as it is, since its deleted keys still hide written ones.
//! - [`Node::rewrite`] makes a new node image with one unwritten bset and
//!   no deleted keys at all, for a node that will be written whole (after a
//!   split or merge, or to reclaim the space of a node whose written bsets
//!   are full of dead keys).

use super::btree_node::{zeroed, Bset, Node, NodeParams};
use super::error::NodeError;
use super::iter::{Filter, NodeIter};
use crate::bkey::encoding::{FLAG_NEEDS_WHITEOUT, OFF_FLAGS};
use crate::bkey::{KeyRef, Pos};

impl Node {
    /// Merges the written bsets into one, in place. The open bset, if any,
    /// stays; the node then has at most two bsets. Only dead keys go, so
    /// the live bytes stay as they are.
    pub fn compact(&mut self) -> Result<(), NodeError> {
        let w = self.written_sets;
        if w == 0 {
            // Nothing written: the one bset has no dead keys (a delete
            // there removes the key it needs no whiteout for).
            return Ok(());
        }
        let mut out = zeroed(self.params.size)?;
        let mut m = 0;
        let mut it = NodeIter::over_sets(self, w, Pos::MIN, Filter::NoDeleted);
        while let Some(key) = it.next(self) {
            m = append(&mut out, m, &key)?;
        }
        // The open bset, if any, follows unchanged.
        let open = (w < self.nsets).then(|| self.last());
        let mut end = m;
        if let Some(b) = open {
            let src = self.data.get(b.start..b.end).ok_or(NodeError::Full)?;
            let dst = out.get_mut(m..m + src.len()).ok_or(NodeError::Full)?;
            dst.copy_from_slice(src);
            end = m + src.len();
        }
        self.data = out;
        self.bsets = Default::default();
        if m > 0 {
            self.bsets[0] = span(0, m);
            self.written_sets = 1;
            self.nsets = 1;
            if open.is_some() {
                self.bsets[1] = span(m, end);
                self.nsets = 2;
            }
        } else {
            // Everything written was deleted: only the open bset remains
            // (its whiteout flags still speak of what is on disk).
            self.bsets[0] = span(0, end);
            self.written_sets = 0;
            self.nsets = 1;
        }
        self.rebuild_samples();
        self.seq = self.seq.wrapping_add(1);
        Ok(())
    }

    /// A new node image with the same parameters, one unwritten bset and
    /// only the live keys (whiteouts kept, deleted keys dropped).
    pub fn rewrite(&self) -> Result<Node, NodeError> {
        Node::from_sorted(self.params, self.keys(Filter::NoDeleted))
    }

    /// A new node holding `keys`, which must be sorted by strictly
    /// increasing position and fit the parameters. Deleted keys are
    /// dropped; whiteout flags are cleared (nothing lies under them).
    pub fn from_sorted<'k>(
        params: NodeParams,
        keys: impl Iterator<Item = KeyRef<'k>>,
    ) -> Result<Node, NodeError> {
        let mut node = Node::new(params)?;
        let mut end = 0;
        let mut prev: Option<Pos> = None;
        for key in keys {
            if key.kind() == crate::bkey::KeyType::Deleted {
                continue;
            }
            let owned = key.to_key()?;
            node.check_key(&owned)?;
            if prev.is_some_and(|p| p >= owned.pos) {
                return Err(NodeError::BadParams);
            }
            prev = Some(owned.pos);
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
        tstart: 0,
        tend: 0,
    }
}

/// Copies `key` to byte `at` of `out` without its in-memory flags and
/// returns the end.
fn append(out: &mut [u8], at: usize, key: &KeyRef<'_>) -> Result<usize, NodeError> {
    let end = at.checked_add(key.len()).ok_or(NodeError::Full)?;
    let dst = out.get_mut(at..end).ok_or(NodeError::Full)?;
    dst.copy_from_slice(key.as_bytes());
    if let Some(flags) = dst.get_mut(OFF_FLAGS) {
        *flags &= !FLAG_NEEDS_WHITEOUT;
    }
    Ok(end)
}
