// SPDX-License-Identifier: GPL-2.0

//! Inserting into a node: always into the last bset, the open one, which
//! is started anew once the previous one is written or sealed (see
//! `sort.rs`).
//!
//! A key replaces an older one at the same position: in place if that one
//! is in the open bset, by shadowing it otherwise. Deleting works the same
//! way, with one twist: a key that nothing older lies under can simply be
//! removed, but one that hides an older copy (in an older bset, or on disk)
//! must leave a deleted key behind, or the older copy would come back. So
//! must a key in a sealed bset, which cannot change. A
//! flag in the key header remembers which keys need that, so deleting
//! never searches the older bsets again.

use super::btree_node::{Node, MAX_BSETS};
use super::error::NodeError;
use super::iter::NodeIter;
use super::lookup::{self, SPACING};
use crate::bkey::encoding::{FLAG_NEEDS_WHITEOUT, OFF_FLAGS};
use crate::bkey::{Key, KeyType, Value};

impl Node {
    /// Checks that `key` may go into this node.
    pub(crate) fn check_key(&self, key: &Key) -> Result<(), NodeError> {
        key.validate()?;
        if key.pos < self.params.min || key.pos > self.params.max {
            return Err(NodeError::OutOfRange);
        }
        let ptr = key.kind() == KeyType::BtreePtr;
        if key.kind() != KeyType::Deleted && ptr != (self.params.level > 0) {
            return Err(NodeError::WrongLevel);
        }
        if key.encoded_len() > self.max_key_bytes() {
            return Err(NodeError::KeyTooBig);
        }
        Ok(())
    }

    /// Readies the node for inserts whose keys, checked with
    /// [`Self::check_key`], take `bytes` encoded bytes in all: once this
    /// succeeds, those inserts cannot fail. The open bset is started now
    /// and the room is there; a batch that later seals the open bset merges
    /// the unwritten bsets in place (never allocating), and a node whose
    /// bset slots could run out is compacted here rather than halfway.
    pub fn reserve(&mut self, bytes: usize) -> Result<(), NodeError> {
        // With every slot but one written, sealing the open bset would
        // have to compact (which allocates): do it before the batch.
        if self.written_sets.saturating_add(1) >= MAX_BSETS {
            self.compact()?;
        }
        self.make_open_bset()?;
        if self.free_bytes() < bytes {
            return Err(NodeError::Full);
        }
        Ok(())
    }

    /// Inserts `key`, replacing any key at its position; a deleted key
    /// deletes. Fails with [`NodeError::Full`] if there is no room, and
    /// leaves the node's contents unchanged on every error.
    pub fn insert(&mut self, key: &Key) -> Result<(), NodeError> {
        self.insert_near(key, None)
    }

    /// [`Self::insert`] with a node cursor that may stand at the key's
    /// position (a btree path's): then the node is not searched again.
    pub fn insert_near(&mut self, key: &Key, cursor: Option<&NodeIter>) -> Result<(), NodeError> {
        self.check_key(key)?;
        self.make_open_bset()?;
        let last_set = self.nsets.saturating_sub(1);
        let offsets = cursor.and_then(|c| c.offsets_at(self, key.pos));
        // Where the key goes in the open bset.
        let open_at = |node: &Node| match offsets.and_then(|o| o.get(last_set).copied()) {
            Some(at) => at,
            None => node.search_bset(node.last(), key.pos),
        };
        let found = self.find_near(key.pos, offsets).map(|f| {
            (
                f.set,
                f.at,
                f.key.len(),
                f.key.needs_whiteout(),
                f.key.kind(),
            )
        });

        // What the key at the position adds to the live bytes, for
        // `Node::live` (a deleted key is not live).
        let old_live = match found {
            Some((_, _, len, _, kind)) if kind != KeyType::Deleted => len,
            _ => 0,
        };
        if key.kind() == KeyType::Deleted {
            match found {
                None | Some((_, _, _, _, KeyType::Deleted)) => {}
                Some((set, at, old_len, needs_whiteout, _)) if set == last_set => {
                    if needs_whiteout {
                        self.put(&Self::whiteout_of(key), at, old_len, true)?;
                    } else {
                        self.remove(at, old_len);
                    }
                }
                Some(_) => {
                    let at = open_at(self);
                    self.put(&Self::whiteout_of(key), at, 0, true)?;
                }
            }
            self.live = self.live.saturating_sub(old_live);
            return Ok(());
        }
        match found {
            Some((set, at, old_len, needs_whiteout, _)) if set == last_set => {
                self.put(key, at, old_len, needs_whiteout)?;
            }
            Some(_) => {
                let at = open_at(self);
                self.put(key, at, 0, true)?;
            }
            None => {
                let at = open_at(self);
                self.put(key, at, 0, false)?;
            }
        }
        self.live = self
            .live
            .saturating_sub(old_live)
            .saturating_add(key.encoded_len());
        Ok(())
    }

    /// Deletes the key at `key_pos`, if any.
    pub fn delete(&mut self, pos: crate::bkey::Pos) -> Result<(), NodeError> {
        self.insert(&Key::deleted(pos))
    }

    /// The deleted key stored for a delete: no size, no value.
    fn whiteout_of(key: &Key) -> Key {
        Key {
            size: 0,
            value: Value::Deleted,
            ..*key
        }
    }

    /// Writes `key` at byte `at` of the last bset in place of the `old`
    /// bytes there (0: insert before the key at `at`).
    fn put(
        &mut self,
        key: &Key,
        at: usize,
        old: usize,
        needs_whiteout: bool,
    ) -> Result<(), NodeError> {
        let len = key.encoded_len();
        let used = self.used_bytes();
        let new_used = (used - old).checked_add(len).ok_or(NodeError::Full)?;
        if new_used > self.params.size {
            return Err(NodeError::Full);
        }
        let tail_from = at + old;
        if tail_from > used || at < self.last().start {
            // Not a key of the open bset: a bug, refused in a release build.
            debug_assert!(false, "put outside the open bset: {at}+{old} of {used}");
            return Err(NodeError::Full);
        }
        if len != old {
            self.data.copy_within(tail_from..used, at + len);
        }
        let dst = self.data.get_mut(at..at + len).ok_or(NodeError::Full)?;
        key.encode(dst)?;
        if needs_whiteout {
            if let Some(flags) = self.data.get_mut(at + OFF_FLAGS) {
                *flags |= FLAG_NEEDS_WHITEOUT;
            }
        }
        self.resized_last(new_used, at, (old, len));
        Ok(())
    }

    /// Removes the `len` bytes of the key at `at` in the last bset.
    fn remove(&mut self, at: usize, len: usize) {
        let used = self.used_bytes();
        if at + len > used || at < self.last().start {
            debug_assert!(false, "remove outside the open bset: {at}+{len} of {used}");
            return;
        }
        self.data.copy_within(at + len..used, at);
        if let Some(tail) = self.data.get_mut(used - len..used) {
            tail.fill(0);
        }
        self.resized_last(used - len, at, (len, 0));
    }

    /// Records that the last bset now ends at `end` after `removed` bytes
    /// at `at` became `added`, and keeps its samples up to date.
    fn resized_last(&mut self, end: usize, at: usize, (removed, added): (usize, usize)) {
        let i = self.nsets.saturating_sub(1);
        let Some(b) = self.bsets.get_mut(i) else {
            return;
        };
        b.end = end;
        let b = *b;
        lookup::fix(
            &mut self.samples,
            b.tstart,
            self.sample_cap,
            &self.data,
            (b.start, b.end),
            at,
            (removed, added),
            SPACING,
        );
        if let Some(b) = self.bsets.get_mut(i) {
            b.tend = self.samples.len();
        }
        self.seq = self.seq.wrapping_add(1);
    }
}
