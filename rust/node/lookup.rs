// SPDX-License-Identifier: GPL-2.0

//! Search within a bset: a lookup table of sampled keys.
//!
//! Keys in a bset have variable length, so a bset cannot be binary
//! searched directly. The table holds the position and offset of one key
//! in every [`SPACING`] bytes or so (about one per cache line or two,
//! like bcachefs's per-cacheline tables); a search binary-searches the
//! table, then scans the few keys between two samples. Positions are
//! copied into the table so the binary search never touches the keys.
//!
//! Samples only speed searches up: a missing sample makes the scan
//! longer, never the answer wrong. That lets insertion keep the table
//! without allocating: it shifts offsets, and only refills a gap that grew
//! too wide when there is room.
//!
//! `Documentation/btree-node.rst` has the measurements behind the choice.

use crate::bkey::{KeyRef, Pos};
use crate::platform::vec::Vec;
use core::ops::Range;

/// Target distance between samples, in bytes.
pub const SPACING: usize = 256;

/// A sampled key: its position and its byte offset in the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// `pos.inode` of the key.
    pub inode: u64,
    /// `pos.offset` of the key.
    pub offset: u64,
    /// `pos.snapshot` of the key.
    pub snapshot: u32,
    /// Offset of the key in the node's memory.
    pub at: u32,
}

impl Sample {
    /// The sample of `key`, which starts at byte `at`.
    pub fn of(key: &KeyRef<'_>, at: usize) -> Sample {
        let pos = key.pos();
        Sample {
            inode: pos.inode,
            offset: pos.offset,
            snapshot: pos.snapshot,
            at: u32::try_from(at).unwrap_or(u32::MAX),
        }
    }

    /// The sampled key's position.
    #[inline]
    pub fn pos(&self) -> Pos {
        Pos::new(self.inode, self.offset, self.snapshot)
    }

    #[inline]
    fn at(&self) -> usize {
        self.at as usize
    }
}

/// Iterates over the keys of `data[start..end]` with their offsets.
pub fn keys(data: &[u8], start: usize, end: usize) -> BsetKeys<'_> {
    BsetKeys {
        data,
        at: start,
        end,
    }
}

/// The keys of one bset, in order, with their offsets.
pub struct BsetKeys<'a> {
    data: &'a [u8],
    at: usize,
    end: usize,
}

impl<'a> Iterator for BsetKeys<'a> {
    type Item = (usize, KeyRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let key = KeyRef::at(self.data, self.at)?;
        let at = self.at;
        self.at = at.saturating_add(key.len());
        Some((at, key))
    }
}

/// Appends to `table` samples of the keys in `data[from..end]`: the first
/// key at least `spacing` bytes after `after` (or the previous sample), and
/// so on. Stops early when `table` reaches `cap` entries.
fn sample_into(
    table: &mut Vec<Sample>,
    cap: usize,
    data: &[u8],
    after: usize,
    end: usize,
    spacing: usize,
) {
    let mut last = after;
    for (at, key) in keys(data, after, end) {
        if at >= last.saturating_add(spacing) {
            if table.len() >= cap || table.try_push(Sample::of(&key, at)).is_err() {
                return;
            }
            last = at;
        }
    }
}

/// Appends the samples of the bset `data[start..end]` to `table`, which
/// must not grow past `cap` entries. At most `(end - start) / spacing`.
pub fn build(
    table: &mut Vec<Sample>,
    cap: usize,
    data: &[u8],
    start: usize,
    end: usize,
    spacing: usize,
) {
    sample_into(table, cap, data, start, end, spacing);
}

/// The offset of the first key in the bset `data[start..end]` whose
/// position is `>= target`, or `end`. `samples` are the bset's samples.
#[inline]
pub fn search(samples: &[Sample], data: &[u8], start: usize, end: usize, target: Pos) -> usize {
    let t = (target.inode, target.offset, target.snapshot);
    let idx = samples.partition_point(|s| (s.inode, s.offset, s.snapshot) < t);
    let at = match idx.checked_sub(1).and_then(|i| samples.get(i)) {
        Some(s) => s.at(),
        None => start,
    };
    // The sample at idx, if any, is >= target: the scan ends there.
    let stop = samples.get(idx).map_or(end, Sample::at);
    scan(data, at, stop, target)
}

/// [`search`] in a bset being merged in place, whose keys from `from` on
/// now lie `shift` bytes further up in `data`: the offset (before the
/// move) of the first key at or after `from` whose position is `>=
/// target`, or `end`. The bytes before `from` are not read: they may have
/// been overwritten already.
#[inline]
pub fn search_moved(
    samples: &[Sample],
    data: &[u8],
    shift: usize,
    Range { start: from, end }: Range<usize>,
    target: Pos,
) -> usize {
    let t = (target.inode, target.offset, target.snapshot);
    let idx = samples.partition_point(|s| (s.inode, s.offset, s.snapshot) < t);
    let at = match idx.checked_sub(1).and_then(|i| samples.get(i)) {
        Some(s) => s.at().max(from),
        None => from,
    };
    let stop = samples.get(idx).map_or(end, Sample::at).max(at);
    scan(
        data,
        at.saturating_add(shift),
        stop.saturating_add(shift),
        target,
    )
    .saturating_sub(shift)
}

/// The offset of the first key in `data[from..stop]` whose position is
/// `>= target`, or `stop`: the linear part of a search.
#[inline]
pub fn scan(data: &[u8], at: usize, stop: usize, target: Pos) -> usize {
    walk(data, at, stop, target, usize::MAX).unwrap_or(stop)
}

/// Keys a step forward passes before a search is cheaper.
pub const MAX_STEPS: usize = 8;

/// [`scan`] for a target expected a few keys after `at`: the offset of the
/// first key in `data[at..stop]` whose position is `>= target`, or `stop`;
/// `None` if more than [`MAX_STEPS`] keys lie before it (search instead).
#[inline]
pub fn step(data: &[u8], at: usize, stop: usize, target: Pos) -> Option<usize> {
    walk(data, at, stop, target, MAX_STEPS)
}

/// [`scan`] passing at most `max_keys` keys: `None` if the target lies
/// further.
#[inline]
fn walk(data: &[u8], mut at: usize, stop: usize, target: Pos, max_keys: usize) -> Option<usize> {
    for _ in 0..=max_keys {
        if at >= stop {
            return Some(stop);
        }
        let Some(key) = KeyRef::at(data, at) else {
            return Some(stop);
        };
        if key.pos() >= target {
            return Some(at);
        }
        at = at.saturating_add(key.len());
    }
    None
}

/// The offset of the key before the one at `at` in the bset starting at
/// `start`, or `None` if `at` is the first.
pub fn prev(samples: &[Sample], data: &[u8], start: usize, at: usize) -> Option<usize> {
    let idx = samples.partition_point(|s| s.at() < at);
    let from = match idx.checked_sub(1).and_then(|i| samples.get(i)) {
        Some(s) => s.at(),
        None => start,
    };
    keys(data, from, at).last().map(|(off, _)| off)
}

/// A change to a bset's bytes: at byte `at`, `removed` bytes were replaced
/// by `added` bytes.
#[derive(Clone, Copy, Debug)]
pub struct Change {
    /// Where.
    pub at: usize,
    /// Bytes that were there.
    pub removed: usize,
    /// Bytes there now.
    pub added: usize,
}

/// Where a bset's samples are: `table[seg..]`, at most `cap` entries in
/// all, one every `spacing` bytes.
#[derive(Clone, Copy, Debug)]
pub struct SampleSeg {
    /// The first sample of the bset.
    pub seg: usize,
    /// The table's capacity.
    pub cap: usize,
    /// Bytes between samples.
    pub spacing: usize,
}

/// Keeps the samples of the last bset, `data[bset]`, valid after `change`.
/// The key at `change.at` keeps its position unless the removed bytes
/// covered a whole key and none were added (a deletion) or none were
/// removed (an insertion of a new key before the one that was there).
pub fn fix(
    table: &mut Vec<Sample>,
    SampleSeg { seg, cap, spacing }: SampleSeg,
    data: &[u8],
    bset: Range<usize>,
    Change { at, removed, added }: Change,
) {
    if added == removed {
        // A key replaced by one of its size at its position: nothing moved.
        return;
    }
    if added == 0 && removed != 0 {
        // The key at `at` is gone: so is its sample, if any.
        if let Some(i) = table
            .get(seg..)
            .and_then(|s| s.iter().position(|s| s.at() == at))
        {
            if let Some(tail) = table.get_mut(seg + i..) {
                tail.rotate_left(1);
            }
            table.pop();
        }
    }
    // Keys after the change moved; with an insertion (removed == 0) the key
    // that was at `at` moved too.
    let moved_from = if removed == 0 {
        at
    } else {
        at.saturating_add(1)
    };
    for s in table.get_mut(seg..).unwrap_or(&mut []) {
        if s.at() >= moved_from {
            let new = s.at().saturating_sub(removed).saturating_add(added);
            s.at = u32::try_from(new).unwrap_or(u32::MAX);
        }
    }
    refill(table, SampleSeg { seg, cap, spacing }, data, bset, at);
}

/// Re-samples the gap around `at` in `table[seg..]` if it grew wider than
/// twice the spacing; when the table is full, rebuilds the segment.
fn refill(
    table: &mut Vec<Sample>,
    SampleSeg { seg, cap, spacing }: SampleSeg,
    data: &[u8],
    Range { start, end }: Range<usize>,
    at: usize,
) {
    let seg_samples = table.get(seg..).unwrap_or(&[]);
    let i = seg + seg_samples.partition_point(|s| s.at() <= at);
    let lo = i
        .checked_sub(1)
        .filter(|&p| p >= seg)
        .and_then(|p| table.get(p))
        .map_or(start, Sample::at);
    let hi = table.get(i).map_or(end, Sample::at);
    if hi.saturating_sub(lo) <= spacing.saturating_mul(2) {
        return;
    }
    if table.len() >= cap {
        // Dense after many deletions: sample the whole bset again, which
        // needs at most (end - start) / spacing entries.
        while table.len() > seg {
            table.pop();
        }
        build(table, cap, data, start, end, spacing);
        return;
    }
    // Sample the gap into the end of the table, then rotate the new
    // samples into place.
    let old_len = table.len();
    sample_into(table, cap, data, lo, hi, spacing);
    let new = table.len() - old_len;
    if let Some(tail) = table.get_mut(i..) {
        tail.rotate_right(new);
    }
}
