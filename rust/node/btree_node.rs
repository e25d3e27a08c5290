// SPDX-License-Identifier: GPL-2.0

//! A btree node in memory: up to three sorted bsets of keys in one buffer
//! of the node's size, with a lookup table for searching them.
//!
//! The buffer holds the bsets back to back, oldest first: first the
//! written ones, which are (or will be, once nodes are persisted) on disk,
//! then unwritten sealed ones, then the open one, which is the only one an
//! insert changes. Sealed bsets keep the open one small (`sort.rs`); bsets
//! change otherwise only when merged. A key in a newer bset overrides a
//! key at the same position in an older one.
//!
//! Memory is bounded by the node size: the buffer, plus a lookup table of
//! at most `size / SPACING + MAX_BSETS` samples, both allocated when the
//! node is created. Inserting never allocates; compaction allocates a
//! second buffer while it runs.

use super::error::NodeError;
use super::lookup::{self, Change, Sample, SPACING};
use super::search_tree::{self, Block};
use crate::bkey::{KeyRef, Pos, MAX_KEY_BYTES};
use crate::platform::vec::Vec;

/// Bsets in a node in memory: the open one and older ones to merge.
pub const MAX_BSETS: usize = 3;
/// Smallest node size, in bytes.
pub const MIN_NODE_BYTES: usize = 256;

/// The largest key a node of `size` bytes takes: a quarter of it, so that
/// a split always leaves room.
pub const fn max_key_bytes(size: usize) -> usize {
    let quarter = size / 4;
    if quarter < MAX_KEY_BYTES {
        quarter
    } else {
        MAX_KEY_BYTES
    }
}
/// Largest node size, in bytes (bcachefs's default is 256 KiB).
pub const MAX_NODE_BYTES: usize = 1 << 20;

/// What a new node is: its size, level and the key range it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeParams {
    /// Bytes of keys the node may hold: a multiple of 8 in
    /// `[MIN_NODE_BYTES, MAX_NODE_BYTES]`.
    pub size: usize,
    /// 0 for a leaf; interior nodes hold child pointers.
    pub level: u8,
    /// Smallest position a key in the node may have.
    pub min: Pos,
    /// Largest position a key in the node may have.
    pub max: Pos,
}

/// Where one bset lives: bytes `start..end` of the buffer, samples
/// `tstart..tend` of the lookup table, blocks `istart..iend` of the search
/// tree (none for the last bset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bset {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) tstart: usize,
    pub(crate) tend: usize,
    pub(crate) istart: usize,
    pub(crate) iend: usize,
}

/// The newest key at a position, and where it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found<'a> {
    pub(crate) set: usize,
    pub(crate) at: usize,
    pub(crate) key: KeyRef<'a>,
}

/// A btree node in memory: its keys, in bsets.
///
/// # Invariants
///
/// [`Node::check`] verifies all but the last line's `seq`; the node tests,
/// property tests and `Btree::check` call it.
///
/// - `data.len() == params.size`; the bsets `0..nsets` tile `data[0..used]`
///   in order (what lies after `used` means nothing).
/// - Each bset is a sequence of valid keys sorted by strictly increasing
///   position within `[min, max]`; every bset but the last is non-empty.
/// - The first `written_sets` bsets are written, the others unwritten
///   (sealed, then the last, open, unless it is written).
/// - In an unwritten bset, a key has the needs-whiteout flag if an older
///   bset has a key at its position, and a deleted key always has it.
/// - Each bset's samples point at its keys in order; a bset other than the
///   last has either no search tree or the tree of its samples, and the
///   last has none.
/// - `live` is what [`Node::live_bytes`] describes; `seq` changes whenever
///   a key moves (cursors compare it).
pub struct Node {
    pub(crate) params: NodeParams,
    pub(crate) data: Vec<u8>,
    pub(crate) bsets: [Bset; MAX_BSETS],
    pub(crate) nsets: usize,
    pub(crate) written_sets: usize,
    pub(crate) samples: Vec<Sample>,
    pub(crate) sample_cap: usize,
    /// The search trees of the bsets that no longer change.
    pub(crate) tree: Vec<Block>,
    pub(crate) seq: u64,
    /// What the change that made `seq` did, if it only edited the last
    /// bset's bytes: cursors that saw the node just before follow it
    /// instead of searching again (bcachefs's `bch2_btree_node_iter_fix`).
    pub(crate) last_change: Option<Change>,
    /// Kept up to date by every change, so that commits can ask for it
    /// without walking a 256 KiB node.
    pub(crate) live: usize,
}

/// A zeroed buffer of `len` bytes.
pub(crate) fn zeroed(len: usize) -> Result<Vec<u8>, NodeError> {
    let mut data = Vec::try_with_capacity(len)?;
    data.try_extend_with(len, 0)?;
    Ok(data)
}

impl Node {
    /// An empty node.
    pub fn new(params: NodeParams) -> Result<Node, NodeError> {
        if params.size < MIN_NODE_BYTES
            || params.size > MAX_NODE_BYTES
            || params.size % 8 != 0
            || params.min > params.max
        {
            return Err(NodeError::BadParams);
        }
        let sample_cap = params.size / SPACING + MAX_BSETS;
        Ok(Node {
            params,
            data: zeroed(params.size)?,
            bsets: [Bset::default(); MAX_BSETS],
            nsets: 1,
            written_sets: 0,
            samples: Vec::try_with_capacity(sample_cap)?,
            sample_cap,
            // Each bset's tree rounds up to a whole block.
            tree: Vec::try_with_capacity(search_tree::blocks_for(sample_cap) + MAX_BSETS)?,
            seq: 0,
            last_change: None,
            live: 0,
        })
    }

    /// The parameters the node was created with.
    pub fn params(&self) -> NodeParams {
        self.params
    }

    /// Bytes the node may hold.
    pub fn size(&self) -> usize {
        self.params.size
    }

    /// 0 for a leaf.
    pub fn level(&self) -> u8 {
        self.params.level
    }

    /// Smallest position a key in the node may have.
    pub fn min(&self) -> Pos {
        self.params.min
    }

    /// Largest position a key in the node may have.
    pub fn max(&self) -> Pos {
        self.params.max
    }

    /// Bytes of keys in all bsets, dead ones included.
    pub fn used_bytes(&self) -> usize {
        self.last().end
    }

    /// Bytes still free.
    pub fn free_bytes(&self) -> usize {
        self.params.size.saturating_sub(self.used_bytes())
    }

    /// Number of bsets.
    pub fn nsets(&self) -> usize {
        self.nsets
    }

    /// The written watermark: bytes at the start of the buffer that belong
    /// to written bsets.
    pub fn written(&self) -> usize {
        self.written_sets
            .checked_sub(1)
            .and_then(|i| self.bset(i))
            .map_or(0, |b| b.end)
    }

    /// Number of written bsets; they come first.
    pub fn written_sets(&self) -> usize {
        self.written_sets
    }

    /// Changes with every modification: an iterator that saw another value
    /// seeks again.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The largest key the node accepts: a quarter of it, so that a split
    /// always leaves room for it.
    pub fn max_key_bytes(&self) -> usize {
        max_key_bytes(self.params.size)
    }

    /// Marks everything in the node as written, sealed bsets included:
    /// the next insert starts a new bset. Persistence will call this when
    /// it writes the unwritten bsets (see `sort.rs`).
    pub fn mark_written(&mut self) {
        let last = self.last();
        // An empty last bset has nothing to write and stays open.
        self.written_sets = if last.end > last.start {
            self.nsets
        } else {
            self.nsets.saturating_sub(1)
        };
        self.changed();
    }

    /// Notes a change that cursors cannot follow: they search again.
    pub(crate) fn changed(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        self.last_change = None;
    }

    /// Whether a deletion here may need room: only one of a key in a
    /// written bset, which gets a whiteout in the open bset. A key of an
    /// unwritten bset is marked dead where it is (bcachefs marks such a
    /// key deleted in place too).
    pub fn deletions_need_room(&self) -> bool {
        self.written_sets > 0
    }

    pub(crate) fn last(&self) -> Bset {
        self.bsets
            .get(self.nsets.saturating_sub(1))
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn bset(&self, i: usize) -> Option<Bset> {
        if i < self.nsets {
            self.bsets.get(i).copied()
        } else {
            None
        }
    }

    /// Whether bset `i` is written (below the watermark).
    pub fn bset_written(&self, i: usize) -> bool {
        i < self.written_sets
    }

    /// Samples of bset `b`.
    pub(crate) fn samples_of(&self, b: Bset) -> &[Sample] {
        let samples = self.samples.get(b.tstart..b.tend);
        debug_assert!(samples.is_some(), "a bset's samples outside the table");
        samples.unwrap_or(&[])
    }

    /// Offset of the first key `>= pos` in bset `b`, or `b.end`.
    #[inline]
    pub(crate) fn search_bset(&self, b: Bset, pos: Pos) -> usize {
        match self.tree.get(b.istart..b.iend) {
            Some(tree) if !tree.is_empty() => {
                let from = search_tree::search(tree, pos).unwrap_or(b.start);
                lookup::scan(&self.data, from, b.end, pos)
            }
            _ => lookup::search(self.samples_of(b), &self.data, b.start, b.end, pos),
        }
    }

    /// [`Self::search_bset`] for a position at or after the key at `from`,
    /// likely close to it (a cursor moving forward, a merge walking two
    /// bsets): steps forward over a few keys, else searches.
    #[inline]
    pub(crate) fn search_bset_from(&self, b: Bset, from: usize, pos: Pos) -> usize {
        match lookup::step(&self.data, from, b.end, pos) {
            Some(at) => at,
            None => self.search_bset(b, pos),
        }
    }

    /// Offset of the key before the one at `at` in bset `b`.
    pub(crate) fn prev_in_bset(&self, b: Bset, at: usize) -> Option<usize> {
        lookup::prev(self.samples_of(b), &self.data, b.start, at)
    }

    /// The position of the node's last key, live or deleted: the largest
    /// of its bsets' last keys.
    pub fn last_pos(&self) -> Option<Pos> {
        (0..self.nsets)
            .filter_map(|i| {
                let b = self.bset(i)?;
                let at = self.prev_in_bset(b, b.end)?;
                self.key_at(at).map(|k| k.pos())
            })
            .max()
    }

    pub(crate) fn key_at(&self, at: usize) -> Option<KeyRef<'_>> {
        KeyRef::at(&self.data, at)
    }

    /// The newest key at exactly `pos`, deleted or not, and where it is.
    pub(crate) fn find(&self, pos: Pos) -> Option<Found<'_>> {
        self.find_near(pos, None)
    }

    /// [`Self::find`], given each bset's first key `>= pos` if known
    /// (`NodeIter::offsets_at`).
    pub(crate) fn find_near(
        &self,
        pos: Pos,
        offsets: Option<[usize; MAX_BSETS]>,
    ) -> Option<Found<'_>> {
        (0..self.nsets).rev().find_map(|set| {
            let b = self.bset(set)?;
            let at = match offsets.and_then(|o| o.get(set).copied()) {
                Some(at) => at,
                None => self.search_bset(b, pos),
            };
            let key = self.key_at(at).filter(|k| at < b.end && k.pos() == pos)?;
            Some(Found { set, at, key })
        })
    }

    /// The key at `pos`, unless there is none or it is deleted.
    pub fn get(&self, pos: Pos) -> Option<KeyRef<'_>> {
        self.find(pos)
            .map(|f| f.key)
            .filter(|k| k.kind() != crate::bkey::KeyType::Deleted)
    }

    /// The keys of bset `i` in order, dead ones included (for debugging and
    /// for writing the bset out).
    pub fn bset_keys(&self, i: usize) -> impl Iterator<Item = KeyRef<'_>> {
        let b = self.bset(i).unwrap_or_default();
        lookup::keys(&self.data, b.start, b.end).map(|(_, k)| k)
    }

    /// Bytes of the keys that a compaction into a new node keeps: the
    /// newest key at each position, unless deleted. Constant time.
    pub fn live_bytes(&self) -> usize {
        self.live
    }

    /// Rebuilds the search trees of bsets `first..` from their samples:
    /// all but the last get one. Call it when bset `first` changed, or
    /// stopped being the last. Never allocates: a tree that does not fit
    /// is left out, and its bset is searched in the flat table.
    pub(crate) fn rebuild_trees(&mut self, first: usize) {
        let from = self.bset(first).map_or(0, |b| b.istart);
        self.tree.truncate(from);
        for i in first..self.nsets {
            let Some(b) = self.bsets.get(i).copied() else {
                break;
            };
            let istart = self.tree.len();
            if i + 1 < self.nsets {
                let samples = self.samples.get(b.tstart..b.tend).unwrap_or(&[]);
                if !search_tree::build(&mut self.tree, samples) {
                    self.tree.truncate(istart);
                }
            }
            if let Some(b) = self.bsets.get_mut(i) {
                b.istart = istart;
                b.iend = self.tree.len();
            }
        }
    }

    /// Rebuilds the lookup table and the search trees from the bsets.
    pub(crate) fn rebuild_samples(&mut self) {
        self.samples.clear();
        for i in 0..self.nsets {
            let Some(b) = self.bsets.get(i).copied() else {
                break;
            };
            let tstart = self.samples.len();
            lookup::build(
                &mut self.samples,
                self.sample_cap,
                &self.data,
                b.start,
                b.end,
                SPACING,
            );
            if let Some(b) = self.bsets.get_mut(i) {
                b.tstart = tstart;
                b.tend = self.samples.len();
            }
        }
        self.rebuild_trees(0);
    }

    /// Checks the needs-whiteout flag of `key`, in unwritten bset `set`.
    fn check_needs_whiteout(&self, set: usize, key: &KeyRef<'_>) -> Result<(), &'static str> {
        if key.needs_whiteout() || key.is_dead() {
            // Set for a copy on disk too, which is not in memory; a dead
            // key that hides nothing is garbage until the next merge.
            return Ok(());
        }
        if key.kind() == crate::bkey::KeyType::Deleted {
            return Err("a deleted key that hides nothing");
        }
        let pos = key.pos();
        let hides = (0..set).any(|older| {
            self.bset(older).is_some_and(|b| {
                let at = self.search_bset(b, pos);
                at < b.end && self.key_at(at).is_some_and(|k| k.pos() == pos)
            })
        });
        if hides {
            return Err("a key over an older one without the needs-whiteout flag");
        }
        Ok(())
    }

    /// Checks every invariant; for tests and debugging.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.data.len() != self.params.size {
            return Err("buffer size");
        }
        if self.nsets == 0 || self.nsets > MAX_BSETS {
            return Err("bset count");
        }
        let mut expect_start = 0;
        let mut expect_tstart = 0;
        if self.written_sets > self.nsets {
            return Err("more written bsets than bsets");
        }
        for i in 0..self.nsets {
            let b = self.bset(i).ok_or("bset index")?;
            if b.start != expect_start || b.end < b.start || b.end > self.params.size {
                return Err("bsets do not tile the buffer");
            }
            if b.tstart != expect_tstart || b.tend < b.tstart {
                return Err("samples do not tile the table");
            }
            if i + 1 < self.nsets && b.end == b.start {
                return Err("an empty bset other than the last");
            }
            expect_start = b.end;
            expect_tstart = b.tend;
            let mut prev: Option<Pos> = None;
            let mut samples = self.samples_of(b).iter().peekable();
            let mut at = b.start;
            while at < b.end {
                let rest = self.data.get(at..b.end).ok_or("key range")?;
                let (key, _) = KeyRef::parse_in_memory(rest).map_err(|_| "key does not parse")?;
                let pos = key.pos();
                if prev.is_some_and(|p| p >= pos) {
                    return Err("bset not sorted");
                }
                if pos < self.params.min || pos > self.params.max {
                    return Err("key outside the node's range");
                }
                let ptr = key.kind() == crate::bkey::KeyType::BtreePtr;
                let deleted = key.kind() == crate::bkey::KeyType::Deleted;
                if !deleted && ptr != (self.params.level > 0) {
                    return Err("key type does not fit the level");
                }
                if !self.bset_written(i) {
                    self.check_needs_whiteout(i, &key)?;
                }
                if samples.peek().is_some_and(|s| s.at as usize == at)
                    && samples.next().map(Sample::pos) != Some(pos)
                {
                    return Err("sample position");
                }
                prev = Some(pos);
                at += key.len();
            }
            if at != b.end {
                return Err("bset end");
            }
            if samples.next().is_some() {
                return Err("sample not at a key");
            }
            if let Some(tree) = self.tree.get(b.istart..b.iend).filter(|t| !t.is_empty()) {
                if i + 1 == self.nsets {
                    return Err("a search tree for the last bset");
                }
                search_tree::check(tree, self.samples_of(b))?;
            }
        }
        if expect_tstart != self.samples.len() || self.samples.len() > self.sample_cap {
            return Err("sample table length");
        }
        if self.live != self.count_live_bytes() {
            return Err("live byte count");
        }
        if self.data.len() != self.params.size {
            return Err("buffer size");
        }
        Ok(())
    }
}
