// SPDX-License-Identifier: GPL-2.0

//! Sealing bsets and sorting them together in memory, so that an insert
//! never moves more than a small open bset.
//!
//! Words: *sorting* bsets combines bsets of one node into one (a merge
//! sort: [`BsetSort`], `sort_unwritten`, `sort_in_place`, as bcachefs's
//! `btree_sort`); *merging* nodes combines two sibling nodes (`node::merge`,
//! the btree's `try_merge`).
//!
//! An insert shifts the rest of the open bset, so the open bset is kept
//! small: once it holds more than [`SEAL_BYTES`] it is *sealed* (it stops
//! changing) and a new one is opened, whether or not anything was written,
//! as bcachefs does (`want_new_bset`). If a sealed unwritten bset exists
//! already, the two are sorted into one instead, in place, without
//! allocating (bcachefs sorts into a bounce buffer): so the unwritten keys
//! are in one big sealed bset and a small open one, and a lookup searches
//! two bsets, not three. The sort moves the node's bytes about once per
//! [`SEAL_BYTES`] of inserts, where each insert moved half of them before.
//! Keeping a third bset, or sorting only the newest bsets (size tiers, as
//! in LSM trees), moves fewer bytes but makes every lookup search more:
//! measured slower overall (see `Documentation/btree-node.rst`).
//!
//! A sort keeps the newest key at each position and drops the dead ones:
//! older keys at the same position, and deleted keys that hide nothing. A
//! deleted key hides something when the oldest sorted key at its position
//! has the needs-whiteout flag (an older copy lies in a bset outside the
//! sort, or on disk); the sorted key inherits that flag. Sorts here only
//! ever take unwritten bsets, so the written ones stay as they are on disk
//! and the sorted bset is unwritten; [`Node::compact`] sorts the written
//! bsets among themselves.
//!
//! For persistence: a node write will write bsets `written_sets..nsets`
//! (sealed and open; it may sort them into one on the way, as bcachefs's
//! `btree_node_write` sorts them into its write buffer) and then mark them
//! written, under the same lock as the sorts here: a sort must never
//! combine bsets that are being written with newer ones, because marking
//! them written afterwards would then cover keys that never reached disk.

use super::btree_node::{Bset, Node, MAX_BSETS};
use super::error::NodeError;
use super::lookup::{self, Sample, SPACING};
use crate::bkey::encoding::{FLAG_NEEDS_WHITEOUT, OFF_FLAGS};
use crate::bkey::{KeyRef, KeyType, Pos};
use core::ops::Range;

/// Bytes above which the open bset, if unwritten, is sealed and a new one
/// opened (bcachefs's `btree_write_set_buffer`). Nodes of this size or less
/// never seal: shifting a few KiB per insert is cheaper than sorting.
pub const SEAL_BYTES: usize = 4096;

/// The keys at one position among the bsets being sorted: the bset and
/// offset of the newest and of the oldest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Group {
    pub(crate) pos: Pos,
    pub(crate) newest: (usize, usize),
    pub(crate) oldest: (usize, usize),
}

/// A walk over the bsets `from..to` of a node by position, every key at a
/// position at once. Like `NodeIter` it holds offsets, not a borrow.
pub(crate) struct BsetSort {
    cur: [usize; MAX_BSETS],
    from: usize,
    to: usize,
}

impl BsetSort {
    pub(crate) fn new(node: &Node, from: usize, to: usize) -> BsetSort {
        let mut cur = [0; MAX_BSETS];
        for (i, c) in cur.iter_mut().enumerate() {
            *c = node.bset(i).map_or(0, |b| b.start);
        }
        BsetSort {
            cur,
            from,
            to: to.min(node.nsets),
        }
    }

    /// The next position and where its keys are.
    pub(crate) fn next(&mut self, node: &Node) -> Option<Group> {
        let mut group: Option<Group> = None;
        for i in self.from..self.to {
            let (Some(b), Some(c)) = (node.bset(i), self.cur.get_mut(i)) else {
                continue;
            };
            if *c >= b.end {
                continue;
            }
            let Some(key) = node.key_at(*c) else {
                *c = b.end;
                continue;
            };
            let pos = key.pos();
            match &mut group {
                Some(g) if pos > g.pos => {}
                // Bsets go oldest first: this one is newer.
                Some(g) if pos == g.pos => g.newest = (i, *c),
                _ => {
                    group = Some(Group {
                        pos,
                        newest: (i, *c),
                        oldest: (i, *c),
                    })
                }
            }
        }
        let g = group?;
        for i in self.from..self.to {
            let (Some(b), Some(c)) = (node.bset(i), self.cur.get_mut(i)) else {
                continue;
            };
            if *c < b.end {
                if let Some(key) = node.key_at(*c).filter(|k| k.pos() == g.pos) {
                    *c = c.saturating_add(key.len());
                }
            }
        }
        Some(g)
    }
}

/// X's samples from the merge's first changed key on, carried along with
/// their keys through [`Node::interleave`], rewritten in place: a sample
/// whose key moves takes the key's new offset, one whose key goes is
/// dropped, one whose key a copy hides points at the copy (same position).
/// Each write follows a read, so the samples not yet read are still X's,
/// unchanged, for the merge's own searches.
struct CarriedSamples {
    /// The next sample to carry.
    read: usize,
    /// Where the next carried sample goes.
    write: usize,
    /// The end of X's samples.
    end: usize,
}

impl CarriedSamples {
    fn new(samples: &[Sample], x: Bset, first: usize) -> CarriedSamples {
        let seg = samples.get(x.tstart..x.tend).unwrap_or(&[]);
        let read = x
            .tstart
            .saturating_add(seg.partition_point(|s| (s.at as usize) < first));
        CarriedSamples {
            read,
            write: read,
            end: x.tend,
        }
    }

    /// X's samples not carried yet, unchanged.
    fn unread<'a>(&self, samples: &'a [Sample]) -> &'a [Sample] {
        samples.get(self.read..self.end).unwrap_or(&[])
    }

    /// Carries the samples of X's keys at (old) offsets `keys`, which now
    /// start at `to`, or are gone if `to` is `None`.
    fn carry(&mut self, samples: &mut [Sample], keys: Range<usize>, to: Option<usize>) {
        while let Some(sample) = samples.get(self.read).copied() {
            let at = sample.at as usize;
            if self.read >= self.end || at >= keys.end {
                break;
            }
            self.read += 1;
            let Some(to) = to else { continue };
            let moved = at.saturating_sub(keys.start).saturating_add(to);
            if let Some(slot) = samples.get_mut(self.write) {
                *slot = Sample {
                    at: u32::try_from(moved).unwrap_or(u32::MAX),
                    ..sample
                };
                self.write += 1;
            }
        }
    }
}

/// Moves `data[from..to]` to `dst`; refuses a range outside `data`, which
/// the callers' arithmetic rules out (a bug: asserted in debug builds,
/// refused in release builds).
fn move_bytes(
    data: &mut [u8],
    Range {
        start: from,
        end: to,
    }: Range<usize>,
    dst: usize,
) -> Result<(), NodeError> {
    let fits = to
        .checked_sub(from)
        .is_some_and(|len| to <= data.len() && dst.saturating_add(len) <= data.len());
    debug_assert!(fits, "move_bytes {from}..{to} to {dst} in {}", data.len());
    if !fits {
        return Err(NodeError::Full);
    }
    data.copy_within(from..to, dst);
    Ok(())
}

/// Sets or clears the needs-whiteout flag of the key at `at`.
pub(crate) fn set_needs_whiteout(data: &mut [u8], at: usize, on: bool) {
    if let Some(flags) = data.get_mut(at.saturating_add(OFF_FLAGS)) {
        if on {
            *flags |= FLAG_NEEDS_WHITEOUT;
        } else {
            *flags &= !FLAG_NEEDS_WHITEOUT;
        }
    }
}

impl Node {
    /// Whether the open bset is unwritten and big enough to seal, with
    /// enough room left for a new one to be worth it.
    fn open_is_full(&self) -> bool {
        let last = self.last();
        self.written_sets < self.nsets
            && last.end.saturating_sub(last.start) > SEAL_BYTES
            && self.free_bytes() > SEAL_BYTES / 8
    }

    /// Makes sure the last bset can take an insert: starts a new one if the
    /// last is written, or is unwritten and full; a full open bset is sorted
    /// with the sealed unwritten one instead, if there is one.
    pub(crate) fn make_open_bset(&mut self) -> Result<(), NodeError> {
        let last_written = self.written_sets >= self.nsets;
        if !last_written && !self.open_is_full() {
            return Ok(());
        }
        if self.nsets.saturating_sub(self.written_sets) >= 2 {
            if !self.sort_unwritten()? {
                // Too little room to sort in place: the node is about to
                // be compacted or split anyway, so keep inserting into the
                // open bset.
                return Ok(());
            }
        } else if self.nsets >= MAX_BSETS {
            // Written bsets take the slots: sort them together (this allocates,
            // but happens at most once per node write).
            self.compact()?;
        }
        let open = self.written_sets < self.nsets;
        if open && !self.open_is_full() {
            return Ok(());
        }
        if self.nsets >= MAX_BSETS {
            return if open { Ok(()) } else { Err(NodeError::Full) };
        }
        self.start_bset();
        Ok(())
    }

    /// Appends an empty bset: the new open one.
    fn start_bset(&mut self) {
        let last = self.last();
        if let Some(slot) = self.bsets.get_mut(self.nsets) {
            slot.start = last.end;
            slot.end = last.end;
            slot.tstart = last.tend;
            slot.tend = last.tend;
            self.nsets += 1;
            // The old last bset stops changing: it gets its search tree.
            self.rebuild_trees(self.nsets - 2);
        }
        self.changed();
    }

    /// Bytes of bset `i`.
    fn bset_len(&self, i: usize) -> usize {
        self.bset(i).map_or(0, |b| b.end.saturating_sub(b.start))
    }

    /// Merges the unwritten bsets into one. `Ok(false)` if there are not
    /// two, or too little free space to sort them in place.
    fn sort_unwritten(&mut self) -> Result<bool, NodeError> {
        let (w, n) = (self.written_sets, self.nsets);
        // The keys of the bsets above the oldest sorted one go to the free
        // space first.
        let above: usize = (w + 1..n).map(|i| self.bset_len(i)).sum();
        if n < w + 2 || above > self.free_bytes() {
            return Ok(false);
        }
        self.sort_in_place(w)?;
        Ok(true)
    }

    /// Merges the unwritten bsets `s..nsets` into one at `s`, without
    /// allocating; needs as much free space as bsets `s + 1..` take.
    ///
    /// Call the oldest bset X and the newer ones Y. First Y's newest key at
    /// each position goes to the free space (with its needs-whiteout flag
    /// set to whether it hides something outside the sort), skipping
    /// deleted keys that cancel out entirely. Then X's keys from the first
    /// one Y touches on move up by what was copied, which opens a gap
    /// before them that the output, written forwards from there, never
    /// overtakes: it grows by at most the copied bytes more than X shrinks.
    /// Runs of X go as whole copies, their samples shifted along; X is
    /// never walked key by key, except to sample again gaps the copies
    /// widened too much.
    pub(crate) fn sort_in_place(&mut self, s: usize) -> Result<(), NodeError> {
        let n = self.nsets;
        let x = self.bset(s).ok_or(NodeError::Full)?;
        if s < self.written_sets || s + 1 >= n {
            return Ok(());
        }
        let used = self.used_bytes();
        if used.saturating_sub(x.end) > self.free_bytes() {
            return Err(NodeError::Full);
        }
        let (copies, first) = self.copy_newer_keys(x, s + 1, n)?;
        let end = self.interleave(x, first, copies)?;
        self.finish_sorted(s, x, end);
        Ok(())
    }

    /// Copies the newest key at each position of bsets `from..to` (Y)
    /// after the used bytes, flagged whether something outside lies under
    /// it, dropping deletes of keys nothing lies under. Returns the copies'
    /// byte range and the first byte of bset `x` (X) that a copy falls
    /// into (X's end if none).
    fn copy_newer_keys(
        &mut self,
        x: Bset,
        from: usize,
        to: usize,
    ) -> Result<(Range<usize>, usize), NodeError> {
        let copied_from = self.used_bytes();
        let mut copied_end = copied_from;
        let mut first = x.end;
        let mut y = BsetSort::new(self, from, to);
        // Y's keys come in order, so each is found in X from the last.
        let mut x_at = x.start;
        while let Some(g) = y.next(self) {
            x_at = self.search_bset_from(x, x_at, g.pos);
            let in_x = self
                .key_at(x_at)
                .filter(|k| x_at < x.end && k.pos() == g.pos);
            let oldest = in_x.or_else(|| self.key_at(g.oldest.1));
            let below = oldest.is_some_and(|k| k.needs_whiteout());
            let Some(newest) = self.key_at(g.newest.1) else {
                continue;
            };
            let len = newest.len();
            if newest.kind() == KeyType::Deleted && !below && in_x.is_none() {
                // Deletes a key of Y that nothing lies under: both go.
                continue;
            }
            first = first.min(x_at);
            move_bytes(
                &mut self.data,
                g.newest.1..g.newest.1.saturating_add(len),
                copied_end,
            )?;
            set_needs_whiteout(&mut self.data, copied_end, below);
            copied_end = copied_end.saturating_add(len);
        }
        Ok((copied_from..copied_end, first))
    }

    /// Moves X's keys from `first` on up by the copies' length (they then
    /// end where Y ended, at most) and writes them back down interleaved
    /// with the copies, a copy replacing X's key at its position and
    /// deletes that hide nothing dropped. X's samples go along with their
    /// keys (see [`CarriedSamples`]). Returns the new end of X.
    fn interleave(
        &mut self,
        x: Bset,
        first: usize,
        copies: Range<usize>,
    ) -> Result<usize, NodeError> {
        let shift = copies.end.saturating_sub(copies.start);
        move_bytes(&mut self.data, first..x.end, first.saturating_add(shift))?;
        let mut carried = CarriedSamples::new(&self.samples, x, first);
        let mut out = first;
        let mut read = first;
        let mut at_copy = copies.start;
        while at_copy < copies.end {
            let Some(key) = KeyRef::at(&self.data, at_copy) else {
                return Err(NodeError::Full);
            };
            let (pos, len) = (key.pos(), key.len());
            let dropped = key.kind() == KeyType::Deleted && !key.needs_whiteout();
            let moved = (read.saturating_add(shift), x.end.saturating_add(shift));
            let at = match lookup::step(&self.data, moved.0, moved.1, pos) {
                Some(at) => at.saturating_sub(shift),
                None => lookup::search_moved(
                    carried.unread(&self.samples),
                    &self.data,
                    shift,
                    read..x.end,
                    pos,
                ),
            };
            let run = at.saturating_sub(read);
            move_bytes(
                &mut self.data,
                read.saturating_add(shift)..at.saturating_add(shift),
                out,
            )?;
            carried.carry(&mut self.samples, read..at, Some(out));
            out = out.saturating_add(run);
            read = at;
            if read < x.end {
                // X's key at the same position is hidden: its sample, if
                // any, goes to the copy.
                if let Some(k) =
                    KeyRef::at(&self.data, read.saturating_add(shift)).filter(|k| k.pos() == pos)
                {
                    let hidden = read..read.saturating_add(k.len());
                    carried.carry(&mut self.samples, hidden.clone(), (!dropped).then_some(out));
                    read = hidden.end;
                }
            }
            if !dropped {
                move_bytes(&mut self.data, at_copy..at_copy.saturating_add(len), out)?;
                out = out.saturating_add(len);
            }
            at_copy = at_copy.saturating_add(len);
        }
        move_bytes(
            &mut self.data,
            read.saturating_add(shift)..x.end.saturating_add(shift),
            out,
        )?;
        carried.carry(&mut self.samples, read..x.end, Some(out));
        out = out.saturating_add(x.end.saturating_sub(read));
        if let Some(garbage) = self.data.get_mut(out..copies.end) {
            garbage.fill(0);
        }
        // The samples left behind were X's that did not carry over, and
        // those of the bsets merged into it.
        self.samples.truncate(carried.write);
        Ok(out)
    }

    /// Makes bset `s` (was `x`) the last one, ending at `end`: the bsets
    /// after it go, and it loses its search tree (it is the last bset now).
    /// Its samples, carried through the merge, still point at their keys,
    /// but the copies widened the gaps between them: from the first gap
    /// grown past twice the spacing on, it is sampled again. Random inserts
    /// widen every gap a little per merge, so that happens about once per
    /// `SPACING / SEAL_BYTES` merges rather than at each.
    fn finish_sorted(&mut self, s: usize, x: Bset, end: usize) {
        for (i, b) in self.bsets.iter_mut().enumerate() {
            if i > s {
                *b = Default::default();
            }
        }
        self.nsets = s + 1;
        let seg = self.samples.get(x.tstart..).unwrap_or(&[]);
        let too_wide = |lo: usize, hi: usize| hi.saturating_sub(lo) > SPACING.saturating_mul(2);
        let mut lo = x.start;
        let mut resample = None;
        for (i, sample) in seg.iter().enumerate() {
            if too_wide(lo, sample.at as usize) {
                resample = Some((x.tstart.saturating_add(i), lo));
                break;
            }
            lo = sample.at as usize;
        }
        if resample.is_none() && too_wide(lo, end) {
            resample = Some((self.samples.len(), lo));
        }
        if let Some((keep, from)) = resample {
            self.samples.truncate(keep);
            lookup::build(
                &mut self.samples,
                self.sample_cap,
                &self.data,
                from,
                end,
                SPACING,
            );
        }
        if let Some(b) = self.bsets.get_mut(s) {
            b.end = end;
            b.tend = self.samples.len();
        }
        self.rebuild_trees(s);
        self.changed();
    }
}
