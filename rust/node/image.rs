// SPDX-License-Identifier: GPL-2.0

//! A node's bsets as bytes: the interface persistence builds on.
//!
//! A node write takes the bytes of the bsets as a device stores them
//! ([`Node::disk_bset`]: the keys of [`Node::bset_bytes`] less those
//! deleted in place) and, once they are on the device, calls
//! [`Node::mark_written`]. A node read starts from an
//! empty node with the parameters the parent's pointer gives, and hands it
//! each bset found on the device, oldest first ([`Node::read_bset`]).
//! Keys are the same bytes in memory and on disk (`bkey/encoding.rs`), so
//! neither direction converts anything but dead keys; what a read must do
//! is distrust the
//! bytes: every key is parsed and checked (length, type, reserved bits,
//! value, order, range, level) before the node takes the bset, and a bad
//! one is refused with an error, the node unchanged.

use super::btree_node::{Bset, Node, MAX_BSETS};
use super::error::NodeError;
use super::sort::set_needs_whiteout;
use crate::bkey::{KeyRef, KeyType, Pos};

impl Node {
    /// The bytes of bset `i` in memory: its keys back to back, dead ones
    /// included.
    pub fn bset_bytes(&self, i: usize) -> Option<&[u8]> {
        let b = self.bset(i)?;
        self.data.get(b.start..b.end)
    }

    /// Writes bset `i` to `out` as a device stores it: its keys less the
    /// dead ones, each dead key that hides an older copy written as a
    /// deleted key instead. Returns the bytes written.
    pub fn disk_bset(&self, i: usize, out: &mut [u8]) -> Result<usize, NodeError> {
        let bytes = self.bset_bytes(i).ok_or(NodeError::BadParams)?;
        let mut len = 0;
        // Runs of live keys go as one copy.
        let (mut run, mut at) = (0, 0);
        while at < bytes.len() {
            let key = KeyRef::at(bytes, at).ok_or(NodeError::Corrupt("a bset's keys"))?;
            let next = at.saturating_add(key.len());
            if key.is_dead() {
                len = put_bytes(out, len, bytes.get(run..at).unwrap_or(&[]))?;
                run = next;
                if key.needs_whiteout() {
                    let dst = out.get_mut(len..).ok_or(NodeError::Full)?;
                    let end = len.saturating_add(key.whiteout().encode(dst)?);
                    set_needs_whiteout(out, len, true);
                    len = end;
                }
            }
            at = next;
        }
        put_bytes(out, len, bytes.get(run..).unwrap_or(&[]))
    }

    /// Appends `bytes`, a bset read from a device, as the newest written
    /// bset, after checking every key. Only a node that holds nothing
    /// unwritten can take it (a read fills the node before anyone inserts).
    /// When the bset slots are full, the written bsets are compacted into
    /// one first, as bcachefs sorts the bsets of a node it reads. An empty
    /// bset changes nothing.
    pub fn read_bset(&mut self, bytes: &[u8]) -> Result<(), NodeError> {
        if !self.is_fresh() && self.written_sets != self.nsets {
            return Err(NodeError::BadParams);
        }
        self.check_bset(bytes)?;
        // An empty bset adds no key. Taken as a bset of its own it would
        // end up before the next one read, and only the last bset may be
        // empty.
        if bytes.is_empty() {
            return Ok(());
        }
        if bytes.len() > self.free_bytes() {
            return Err(NodeError::Full);
        }
        if !self.is_fresh() && self.nsets >= MAX_BSETS {
            self.compact()?;
        }
        // Asked again: a compaction of bsets that deleted every key they
        // hold leaves a fresh node, whose empty bset this one replaces.
        let fresh = self.is_fresh();
        let start = if fresh { 0 } else { self.used_bytes() };
        let end = start + bytes.len();
        self.data
            .get_mut(start..end)
            .ok_or(NodeError::Full)?
            .copy_from_slice(bytes);
        let slot = if fresh { 0 } else { self.nsets };
        let b = self.bsets.get_mut(slot).ok_or(NodeError::Full)?;
        *b = Bset {
            start,
            end,
            ..Default::default()
        };
        self.nsets = slot + 1;
        self.written_sets = self.nsets;
        self.rebuild_samples();
        self.live = self.count_live_bytes();
        self.changed();
        Ok(())
    }

    /// Whether the node is as [`Node::new`] made it: one empty, unwritten
    /// bset.
    fn is_fresh(&self) -> bool {
        let last = self.last();
        self.nsets == 1 && self.written_sets == 0 && last.end == last.start
    }

    /// Checks that `bytes` are keys this node may hold, sorted by strictly
    /// increasing position.
    fn check_bset(&self, mut bytes: &[u8]) -> Result<(), NodeError> {
        let mut prev: Option<Pos> = None;
        while !bytes.is_empty() {
            let (key, rest) = KeyRef::parse(bytes)?;
            let pos = key.pos();
            if prev.is_some_and(|p| p >= pos) {
                return Err(NodeError::Corrupt("bset not sorted"));
            }
            if pos < self.params.min || pos > self.params.max {
                return Err(NodeError::Corrupt("key outside the node's range"));
            }
            let ptr = key.kind() == KeyType::BtreePtr;
            if key.kind() != KeyType::Deleted && ptr != (self.params.level > 0) {
                return Err(NodeError::Corrupt("key type does not fit the level"));
            }
            if key.len() > self.max_key_bytes() {
                return Err(NodeError::Corrupt("key larger than the node allows"));
            }
            prev = Some(pos);
            bytes = rest;
        }
        Ok(())
    }
}

/// Copies `from` to byte `at` of `out`; returns where it ends.
fn put_bytes(out: &mut [u8], at: usize, from: &[u8]) -> Result<usize, NodeError> {
    let end = at.saturating_add(from.len());
    out.get_mut(at..end)
        .ok_or(NodeError::Full)?
        .copy_from_slice(from);
    Ok(end)
}
