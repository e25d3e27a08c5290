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
use super::lookup::{self, Change, SampleSeg, SPACING};
use crate::bkey::encoding::{FLAG_NEEDS_WHITEOUT, OFF_FLAGS};
use crate::bkey::{Key, KeyType, Pos, Value};

/// The newest key at a position, before an insert there.
#[derive(Clone, Copy, Debug)]
struct Existing {
    /// Its bset.
    set: usize,
    /// Its offset.
    at: usize,
    /// Its bytes.
    len: usize,
    needs_whiteout: bool,
    deleted: bool,
}

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
    ///
    /// A caller counts no room for the deletions of a batch where
    /// [`Self::deletes_in_place`]; `deleted` is what they would take as
    /// whiteouts. Sealing the open bset (before or during the batch) would
    /// make them need it: if it is not free, the open bset stays open,
    /// unsealed, until [`Self::end_batch`], and they stay in place.
    pub fn reserve(&mut self, bytes: usize, deleted: usize) -> Result<(), NodeError> {
        let in_place = self.deletes_in_place();
        if in_place && deleted > 0 && self.free_bytes() < bytes.saturating_add(deleted) {
            self.no_seal = true;
            return if self.free_bytes() < bytes {
                Err(NodeError::Full)
            } else {
                Ok(())
            };
        }
        // With every slot but one written, sealing the open bset would
        // have to compact (which allocates): do it before the batch.
        if self.written_sets.saturating_add(1) >= MAX_BSETS {
            self.compact()?;
        }
        self.make_open_bset()?;
        let deletions = if in_place && !self.deletes_in_place() {
            deleted
        } else {
            0
        };
        if self.free_bytes() < bytes.saturating_add(deletions) {
            return Err(NodeError::Full);
        }
        Ok(())
    }

    /// Ends the batch a [`Self::reserve`] readied: the open bset may be
    /// sealed again.
    pub fn end_batch(&mut self) {
        self.no_seal = false;
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
        // A deletion in a node of one open bset without a whiteout's room
        // goes in place, as its caller counted: sealing first would make
        // it need that room.
        let tight = self.free_bytes() < key.encoded_len();
        if !(key.kind() == KeyType::Deleted && self.deletes_in_place() && tight) {
            self.make_open_bset()?;
        }
        let offsets = cursor.and_then(|c| c.offsets_at(self, key.pos));
        let found = self.find_near(key.pos, offsets).map(|f| Existing {
            set: f.set,
            at: f.at,
            len: f.key.len(),
            needs_whiteout: f.key.needs_whiteout(),
            deleted: f.key.kind() == KeyType::Deleted,
        });
        // What the key at the position added to the live bytes, for
        // `Node::live` (a deleted key is not live).
        let old_live = found.filter(|f| !f.deleted).map_or(0, |f| f.len);
        if key.kind() == KeyType::Deleted {
            self.delete_existing(key, found, offsets)?;
            self.live = self.live.saturating_sub(old_live);
        } else {
            self.put_over(key, found, offsets)?;
            self.live = self
                .live
                .saturating_sub(old_live)
                .saturating_add(key.encoded_len());
        }
        Ok(())
    }

    /// Where a key at `pos` goes in the open bset: the cursor's offset
    /// there if it has one, else a search.
    fn open_at(&self, pos: Pos, offsets: Option<[usize; MAX_BSETS]>) -> usize {
        let last_set = self.nsets.saturating_sub(1);
        match offsets.and_then(|o| o.get(last_set).copied()) {
            Some(at) => at,
            None => self.search_bset(self.last(), pos),
        }
    }

    /// Deletes what `found` describes at `key`'s position: a key of the
    /// open bset goes, or becomes a whiteout if something lies under it; a
    /// key of an older bset gets a whiteout in the open one.
    fn delete_existing(
        &mut self,
        key: &Key,
        found: Option<Existing>,
        offsets: Option<[usize; MAX_BSETS]>,
    ) -> Result<(), NodeError> {
        let last_set = self.nsets.saturating_sub(1);
        match found {
            None => Ok(()),
            Some(f) if f.deleted => Ok(()),
            Some(f) if f.set == last_set && f.needs_whiteout => {
                self.put(&Self::whiteout_of(key), f.at, f.len, true)
            }
            Some(f) if f.set == last_set => {
                self.remove(f.at, f.len);
                Ok(())
            }
            Some(_) => {
                let at = self.open_at(key.pos, offsets);
                self.put(&Self::whiteout_of(key), at, 0, true)
            }
        }
    }

    /// Puts live `key` in: over the key of the open bset at its position,
    /// or new in the open bset, shadowing (and so flagged as hiding) a key
    /// of an older bset.
    fn put_over(
        &mut self,
        key: &Key,
        found: Option<Existing>,
        offsets: Option<[usize; MAX_BSETS]>,
    ) -> Result<(), NodeError> {
        let last_set = self.nsets.saturating_sub(1);
        match found {
            Some(f) if f.set == last_set => self.put(key, f.at, f.len, f.needs_whiteout),
            shadowed => {
                let at = self.open_at(key.pos, offsets);
                self.put(key, at, 0, shadowed.is_some())
            }
        }
    }

    /// Deletes the key at `key_pos`, if any.
    pub fn delete(&mut self, pos: Pos) -> Result<(), NodeError> {
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
        self.resized_last(
            new_used,
            Change {
                at,
                removed: old,
                added: len,
            },
        );
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
        self.resized_last(
            used - len,
            Change {
                at,
                removed: len,
                added: 0,
            },
        );
    }

    /// Records that the last bset now ends at `end` after `change`, and
    /// keeps its samples up to date.
    fn resized_last(&mut self, end: usize, change: Change) {
        let i = self.nsets.saturating_sub(1);
        let Some(b) = self.bsets.get_mut(i) else {
            debug_assert!(false, "a node without bsets");
            return;
        };
        b.end = end;
        let b = *b;
        let seg = SampleSeg {
            seg: b.tstart,
            cap: self.sample_cap,
            spacing: SPACING,
        };
        lookup::fix(&mut self.samples, seg, &self.data, b.start..b.end, change);
        if let Some(b) = self.bsets.get_mut(i) {
            b.tend = self.samples.len();
        }
        self.seq = self.seq.wrapping_add(1);
        self.last_change = Some(change);
    }
}
