// SPDX-License-Identifier: GPL-2.0

//! A read-only search tree over the samples of a bset that no longer
//! changes, laid out so that a search touches few cache lines.
//!
//! The flat sample table (`lookup.rs`) is binary searched: with about 1000
//! samples in a 256 KiB leaf, a lookup makes about ten dependent loads, nine
//! of them to different cache lines, and in a tree too big for the caches
//! each is a miss. Here the same samples are stored as an implicit B-tree
//! of [`Block`]s of [`KEYS`] positions each (an "S-tree"): block `b` has
//! children `b * (KEYS + 1) + 1 + i` for `i` in `0..=KEYS`, and the
//! positions of a block are stored by field (inodes, then offsets, then
//! snapshots), so one block is three adjacent cache lines and a search
//! reads one block per level: four levels for 1000 samples instead of ten
//! probes. Every comparison is on the whole position, so the answer never
//! depends on how the keys are distributed (bcachefs's auxiliary tree
//! compares truncated keys and falls back when they tie).
//!
//! The tree only speeds searches up: a bset without one (the open bset,
//! which inserts change, or a node whose tree did not fit) is searched in
//! the flat table, which stays the reference.

use super::lookup::Sample;
use crate::bkey::Pos;
use crate::platform::vec::Vec;

/// Positions in a block: a power of two, for the binary search in a block.
pub const KEYS: usize = 8;
const _: () = assert!(KEYS.is_power_of_two());

/// Children of a block.
const FANOUT: usize = KEYS + 1;

/// Sorted positions and the offsets of their keys; unused slots hold
/// [`Pos::MAX`], which no search target is above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Block {
    inode: [u64; KEYS],
    offset: [u64; KEYS],
    snapshot: [u32; KEYS],
    at: [u32; KEYS],
}

impl Block {
    const EMPTY: Block = Block {
        inode: [Pos::MAX.inode; KEYS],
        offset: [Pos::MAX.offset; KEYS],
        snapshot: [Pos::MAX.snapshot; KEYS],
        at: [u32::MAX; KEYS],
    };

    fn set(&mut self, i: usize, s: &Sample) {
        if let (Some(inode), Some(offset), Some(snapshot), Some(at)) = (
            self.inode.get_mut(i),
            self.offset.get_mut(i),
            self.snapshot.get_mut(i),
            self.at.get_mut(i),
        ) {
            (*inode, *offset, *snapshot, *at) = (s.inode, s.offset, s.snapshot, s.at);
        }
    }

    /// How many of the block's positions are below `t`: a binary search
    /// of the block, four comparisons for eight positions, each a
    /// conditional move rather than a branch, so a lookup does not pay
    /// for mispredictions on random targets.
    #[inline]
    fn count_below(&self, t: Pos) -> usize {
        // (inode, offset) as one 128-bit number: two instructions to compare.
        let wide = |inode: u64, offset: u64| (u128::from(inode) << 64) | u128::from(offset);
        let target = wide(t.inode, t.offset);
        let below = |i: usize| match (self.inode.get(i), self.offset.get(i), self.snapshot.get(i)) {
            (Some(&inode), Some(&offset), Some(&snapshot)) => {
                let key = wide(inode, offset);
                (key < target) | ((key == target) & (snapshot < t.snapshot))
            }
            _ => false,
        };
        let mut count = 0;
        let mut half = KEYS / 2;
        while half > 0 {
            if below(count + half - 1) {
                count += half;
            }
            half /= 2;
        }
        count + usize::from(below(count))
    }
}

/// Blocks needed for `samples` samples.
pub const fn blocks_for(samples: usize) -> usize {
    samples.div_ceil(KEYS)
}

/// Appends the tree of `samples`, which are sorted, to `blocks`: exactly
/// [`blocks_for`] blocks. Returns `false`, appending nothing, if `blocks`
/// has too little capacity left: building never allocates.
pub fn build(blocks: &mut Vec<Block>, samples: &[Sample]) -> bool {
    let base = blocks.len();
    let count = blocks_for(samples.len());
    if blocks.capacity().saturating_sub(base) < count {
        return false;
    }
    for _ in 0..count {
        if blocks.try_push(Block::EMPTY).is_err() {
            return false;
        }
    }
    let Some(tree) = blocks.get_mut(base..) else {
        return false;
    };
    // An in-order walk of the implicit tree hands out the samples in order.
    let mut next = samples.iter();
    fill(tree, &mut next, 0);
    true
}

/// Fills the subtree of block `b` in order. Recursion depth is the tree's
/// height: at most 5 for the largest node's 4096 samples.
fn fill<'s>(tree: &mut [Block], next: &mut impl Iterator<Item = &'s Sample>, b: usize) {
    if b >= tree.len() {
        return;
    }
    for i in 0..KEYS {
        fill(tree, next, child(b, i));
        if let (Some(s), Some(block)) = (next.next(), tree.get_mut(b)) {
            block.set(i, s);
        }
    }
    fill(tree, next, child(b, KEYS));
}

#[inline]
fn child(b: usize, i: usize) -> usize {
    b.saturating_mul(FANOUT).saturating_add(i + 1)
}

/// The offset of the last sampled key whose position is below `t`, or
/// `None` if there is none: a scan for `t` starts there.
#[inline]
pub fn search(tree: &[Block], t: Pos) -> Option<usize> {
    let mut below = None;
    let mut b = 0;
    while let Some(block) = tree.get(b) {
        let count = block.count_below(t);
        if let Some(at) = count.checked_sub(1).and_then(|i| block.at.get(i)) {
            // Deeper blocks on the path lie between this sample and the
            // next: a later hit is closer to `t`.
            below = Some(*at as usize);
        }
        b = child(b, count);
    }
    below
}

/// Checks that `tree` is the tree of `samples`: it holds as many, and a
/// search for each sample's position finds the sample before it. For
/// [`super::Node::check`].
pub fn check(tree: &[Block], samples: &[Sample]) -> Result<(), &'static str> {
    if tree.len() != blocks_for(samples.len()) {
        return Err("search tree size");
    }
    let held = tree
        .iter()
        .flat_map(|b| b.at.iter())
        .filter(|&&at| at != u32::MAX)
        .count();
    if held != samples.len() {
        return Err("search tree sample count");
    }
    let mut before = None;
    for s in samples {
        if search(tree, s.pos()) != before {
            return Err("search tree order");
        }
        before = Some(s.at as usize);
    }
    if search(tree, Pos::MAX) != before && samples.last().map(Sample::pos) != Some(Pos::MAX) {
        return Err("search tree end");
    }
    Ok(())
}
