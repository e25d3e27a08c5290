// SPDX-License-Identifier: GPL-2.0

//! Extents: keys that cover a range of offsets, and what happens to an
//! existing extent when a new one is written over part of it.
//!
//! An extent key sorts by its end: it covers `[pos.offset - size,
//! pos.offset)`. Extents of one inode and snapshot never overlap in the
//! btree, so inserting one first trims, splits or removes the extents it
//! overlaps.

use super::key::Key;

/// A half-open range of offsets `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Span {
    /// First offset covered.
    pub start: u64,
    /// First offset after the range.
    pub end: u64,
}

impl Span {
    /// The range covered by extent key `k`.
    pub const fn of(k: &Key) -> Span {
        Span {
            start: k.start(),
            end: k.pos.offset,
        }
    }

    /// Whether the two ranges share an offset.
    pub const fn overlaps(self, other: Span) -> bool {
        self.start < other.end
            && other.start < self.end
            && self.start < self.end
            && other.start < other.end
    }
}

/// What an insert does to one existing extent of the same inode and
/// snapshot (names as in bcachefs's tests: the insert overwrites the
/// existing extent's front, back, middle or all of it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Overwrite {
    /// No overlap: the existing extent stays.
    None,
    /// The insert covers its front: it keeps `[insert.end, end)`, and its
    /// key keeps its position.
    Front,
    /// The insert covers its back: it keeps `[start, insert.start)`, so its
    /// key moves to `insert.start`.
    Back,
    /// The insert lies strictly inside: it becomes `[start, insert.start)`
    /// and `[insert.end, end)`.
    Middle,
    /// The insert covers all of it: it goes.
    All,
}

/// How `insert` overwrites `existing`.
pub const fn overwrite(existing: Span, insert: Span) -> Overwrite {
    if !existing.overlaps(insert) {
        return Overwrite::None;
    }
    let covers_start = insert.start <= existing.start;
    let covers_end = insert.end >= existing.end;
    match (covers_start, covers_end) {
        (true, true) => Overwrite::All,
        (true, false) => Overwrite::Front,
        (false, true) => Overwrite::Back,
        (false, false) => Overwrite::Middle,
    }
}

/// `k` without the offsets before `new_start`: its position stays, its
/// size shrinks. `None` if `new_start` is not strictly inside `k`.
///
/// Values that point at data (not yet defined) will also advance here.
pub fn cut_front(k: &Key, new_start: u64) -> Option<Key> {
    if new_start <= k.start() || new_start >= k.pos.offset {
        return None;
    }
    let size = u32::try_from(k.pos.offset - new_start).ok()?;
    Some(Key { size, ..*k })
}

/// `k` without the offsets from `new_end` on: its position moves to
/// `new_end`. `None` if `new_end` is not strictly inside `k`.
pub fn cut_back(k: &Key, new_end: u64) -> Option<Key> {
    if new_end <= k.start() || new_end >= k.pos.offset {
        return None;
    }
    let size = u32::try_from(new_end - k.start()).ok()?;
    let mut out = *k;
    out.pos.offset = new_end;
    out.size = size;
    Some(out)
}
