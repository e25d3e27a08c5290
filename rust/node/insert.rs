// SPDX-License-Identifier: GPL-2.0

//! Inserting into a node: always into the last bset, the open one, which
//! is started anew once the previous one is written or sealed (see
//! `sort.rs`).
//!
//! A key replaces an older one at the same position: in place if that one
//! is in the open bset, by shadowing it otherwise. Deleting a key of an
//! unwritten bset, sealed or open, marks it dead where it is: no byte
//! moves and no room is needed (bcachefs does the same). A dead key reads
//! as deleted, so if it hides an older copy (in an older bset, or on disk)
//! it is the deleted key that must stay behind, or the older copy would
//! come back; a flag in the key header remembers which keys hide one, so
//! deleting never searches the older bsets again. Merges and compaction
//! drop dead keys that hide nothing, and a node write leaves them out. A
//! key of a written bset cannot change: deleting it puts a deleted key in
//! the open bset.

use super::btree_node::{Node, MAX_BSETS};
use super::error::NodeError;
use super::iter::NodeIter;
use super::lookup::{self, Change, SampleSeg, SPACING};
use super::sort::set_needs_whiteout;
use crate::bkey::encoding::{FLAG_DEAD, OFF_FLAGS};
use crate::bkey::{Key, KeyRef, KeyType, Pos};

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

    /// Checks that `key`, already in a node (so its value was checked when
    /// it went in), may go into this one: its position, level and size,
    /// without decoding its value.
    pub(crate) fn check_stored_key(&self, key: &KeyRef<'_>) -> Result<(), NodeError> {
        let pos = key.pos();
        if pos < self.params.min || pos > self.params.max {
            return Err(NodeError::OutOfRange);
        }
        let kind = key.kind();
        if kind != KeyType::Deleted && (kind == KeyType::BtreePtr) != (self.params.level > 0) {
            return Err(NodeError::WrongLevel);
        }
        if key.len() > self.max_key_bytes() {
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
    /// Deletions count only where [`Self::deletions_need_room`]: a key of
    /// an unwritten bset is marked dead in place.
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

    /// The room inserting `key` takes at most, found exactly: none to
    /// write over a live key of an unwritten bset of the same size or to
    /// delete one (or nothing), the key's bytes otherwise (a whiteout's
    /// for a deletion of a written key). A deleted key is no place to
    /// write over: the merge that starts an open bset may drop it.
    /// `offsets` are each bset's first key at or after its position, if
    /// known ([`NodeIter::offsets_at`]).
    pub fn room_for(&self, key: &Key, offsets: Option<[usize; MAX_BSETS]>) -> usize {
        let found = self.find_near(key.pos, offsets);
        let unwritten = found.as_ref().is_some_and(|f| f.set >= self.written_sets);
        let deleted = found
            .as_ref()
            .is_some_and(|f| f.key.kind() == KeyType::Deleted);
        let free = if key.kind() == KeyType::Deleted {
            found.is_none() || unwritten || deleted
        } else {
            unwritten && !deleted && found.is_some_and(|f| f.key.len() == key.encoded_len())
        };
        if free {
            0
        } else {
            key.encoded_len()
        }
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
        // A deletion marks a key of an unwritten bset dead where it is:
        // the open bset need not change.
        if key.kind() != KeyType::Deleted {
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

    /// Deletes what `found` describes at `key`'s position: a key of an
    /// unwritten bset is marked dead in place; a key of a written one gets
    /// a whiteout in the open bset.
    fn delete_existing(
        &mut self,
        key: &Key,
        found: Option<Existing>,
        offsets: Option<[usize; MAX_BSETS]>,
    ) -> Result<(), NodeError> {
        match found {
            None => Ok(()),
            Some(f) if f.deleted => Ok(()),
            Some(f) if f.set >= self.written_sets => {
                self.mark_dead(f.at);
                Ok(())
            }
            Some(_) => {
                // Starting the open bset may move the unwritten bsets (a
                // merge), so the cursor's offsets are stale if it did.
                let seq = self.seq;
                self.make_open_bset()?;
                let offsets = offsets.filter(|_| self.seq == seq);
                let at = self.open_at(key.pos, offsets);
                self.put(&key.whiteout(), at, 0, true)
            }
        }
    }

    /// Writes `key` over `old`, a key of the same size in a sealed
    /// unwritten bset, keeping its needs-whiteout flag. No byte moves and
    /// the position is the same, so cursors and samples stay right.
    fn overwrite_sealed(&mut self, key: &Key, old: Existing) -> Result<(), NodeError> {
        let end = old.at.saturating_add(old.len);
        let dst = self.data.get_mut(old.at..end).ok_or(NodeError::Full)?;
        key.encode(dst)?;
        set_needs_whiteout(&mut self.data, old.at, old.needs_whiteout);
        Ok(())
    }

    /// Marks the key at `at` (in an unwritten bset) dead. Its bytes stay
    /// where they are, so cursors and samples need no fixing.
    fn mark_dead(&mut self, at: usize) {
        if let Some(flags) = self.data.get_mut(at.saturating_add(OFF_FLAGS)) {
            *flags |= FLAG_DEAD;
        }
    }

    /// Puts live `key` in: over the key of the open bset at its position,
    /// over one of the same size in a sealed unwritten bset (its bytes,
    /// not its place, change), or new in the open bset, shadowing (and so
    /// flagged as hiding) a key of an older bset.
    fn put_over(
        &mut self,
        key: &Key,
        found: Option<Existing>,
        offsets: Option<[usize; MAX_BSETS]>,
    ) -> Result<(), NodeError> {
        let last_set = self.nsets.saturating_sub(1);
        match found {
            Some(f) if f.set == last_set => self.put(key, f.at, f.len, f.needs_whiteout),
            Some(f) if f.set >= self.written_sets && f.len == key.encoded_len() => {
                self.overwrite_sealed(key, f)
            }
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
        set_needs_whiteout(&mut self.data, at, needs_whiteout);
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
