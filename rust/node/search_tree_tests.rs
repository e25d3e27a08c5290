// SPDX-License-Identifier: GPL-2.0

//! Tests of the bsets' search trees, run by `cargo test` and as the KUnit
//! suite `sixfs_node_search_tree`.

use super::lookup::Sample;
use super::search_tree::{self, blocks_for, Block, KEYS};
use super::test_util::{leaf, p, tkey};
use super::Node;
use crate::bkey::Pos;
use crate::platform::ok;
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, test_suite};

/// `n` samples at positions spread over inodes, offsets and snapshots,
/// at offsets `8 * i`: neighbours differ in one field or another, the
/// way keys of a filesystem's btrees do.
fn samples(n: usize) -> Result<Vec<Sample>, crate::platform::sync::AllocError> {
    let mut v = Vec::try_with_capacity(n)?;
    for i in 0..n as u64 {
        v.try_push(Sample {
            inode: i / 7,
            offset: (i % 7) / 2 * 1000,
            snapshot: (i % 7 % 2) as u32,
            at: (8 * i) as u32,
        })?;
    }
    Ok(v)
}

/// The offset of the last sample below `t`: what a search must answer.
fn last_below(samples: &[Sample], t: Pos) -> Option<usize> {
    samples
        .iter()
        .rev()
        .find(|s| s.pos() < t)
        .map(|s| s.at as usize)
}

test_suite! {
    sixfs_node_search_tree;

    fn search_agrees_with_a_scan_for_every_size() {
        // Sizes around whole blocks and whole levels (9, 81, 729 blocks).
        for n in [0usize, 1, 7, 8, 9, 63, 64, 65, 72, 81 * 8, 81 * 8 + 1, 1000] {
            let all = ok!(samples(n));
            let mut tree: Vec<Block> = ok!(Vec::try_with_capacity(blocks_for(n)));
            check!(search_tree::build(&mut tree, &all));
            check_eq!(tree.len(), blocks_for(n));
            check_eq!(search_tree::check(&tree, &all), Ok(()));
            // Every sample's position, and the positions just around it.
            for s in all.iter() {
                let pos = s.pos();
                for t in [Some(pos), pos.successor(), pos.predecessor()].into_iter().flatten() {
                    check_eq!(search_tree::search(&tree, t), last_below(&all, t));
                }
            }
            for t in [Pos::MIN, Pos::MAX, Pos::new(3, 500, 0), Pos::new(u64::MAX, 0, 0)] {
                check_eq!(search_tree::search(&tree, t), last_below(&all, t));
            }
        }
    }

    fn build_never_grows_the_array() {
        let all = ok!(samples(100));
        let mut tree: Vec<Block> = ok!(Vec::try_with_capacity(blocks_for(100) - 1));
        check!(!search_tree::build(&mut tree, &all));
        check_eq!(tree.len(), 0);
        check_eq!(KEYS, 8);
    }

    fn sealed_bsets_are_searched_through_their_trees() {
        // 16 KiB nodes seal their open bset at 4 KiB: the first bset then
        // stops changing and gets a tree; the last never has one.
        let mut node = ok!(Node::new(leaf(32768)));
        for i in 0..120 {
            ok!(node.insert(&tkey(i * 2, i)));
        }
        check!(node.nsets() >= 2);
        let first = ok!(node.bset(0).ok_or("bset 0"));
        check!(first.iend > first.istart);
        let last = node.last();
        check_eq!(last.iend, last.istart);
        check_eq!(node.check(), Ok(()));
        for i in 0..240 {
            check_eq!(node.get(p(i)).is_some(), i % 2 == 0);
        }
        // Merging the open bset into the sealed one makes the merged bset
        // the last: its tree goes, and comes back when it is sealed again.
        for i in 0..120 {
            ok!(node.insert(&tkey(i * 2 + 1, i)));
            check_eq!(node.check(), Ok(()));
        }
        for i in 0..240 {
            check!(node.get(p(i)).is_some());
        }
    }
}
