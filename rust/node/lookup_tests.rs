// SPDX-License-Identifier: GPL-2.0

//! Tests of the lookup table, run by `cargo test` and as the KUnit suite
//! `sixfs_node_lookup`.

use super::lookup::{build, prev, search, SPACING};
use super::test_util::{leaf, p, tkey};
use super::Node;
use crate::bkey::encoding::MAX_KEY_BYTES;
use crate::bkey::Pos;
use crate::platform::ok;
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, test_suite};

/// The widest distance between neighbouring samples of the open bset,
/// counting the bset's start and end.
fn widest_gap(node: &Node) -> usize {
    let b = node.last();
    let mut last = b.start;
    let mut widest = 0;
    for s in node.samples_of(b) {
        widest = widest.max(s.at as usize - last);
        last = s.at as usize;
    }
    widest.max(b.end - last)
}

test_suite! {
    sixfs_node_lookup;

    fn samples_are_spaced() {
        let mut node = ok!(Node::new(leaf(8192)));
        for i in 0..150 {
            ok!(node.insert(&tkey(i, i)));
        }
        // In one bset (inserting sealed some).
        let node = ok!(node.rewrite());
        check_eq!(node.nsets(), 1);
        let b = node.last();
        let mut table = ok!(Vec::try_with_capacity(64));
        build(&mut table, 64, &node.data, b.start, b.end, SPACING);
        // 48-byte keys: one sample every 6 keys (288 bytes), none at 0.
        check_eq!(table.len(), 24);
        check_eq!(table.first().map(|s| s.at), Some(288));
        check!(table.windows(2).all(|w| w[1].at - w[0].at == 288));
        // A full table stops sampling rather than growing.
        let mut small = ok!(Vec::try_with_capacity(4));
        build(&mut small, 4, &node.data, b.start, b.end, SPACING);
        check_eq!(small.len(), 4);
        check_eq!(search(&small, &node.data, b.start, b.end, p(149)), b.end - 48);
    }

    fn inserts_and_deletes_keep_gaps_bounded() {
        let mut node = ok!(Node::new(leaf(16384)));
        // Inserting at the front shifts every sample; deleting every other
        // key leaves holes; both must keep the table valid and dense.
        for i in (0..200).rev() {
            ok!(node.insert(&tkey(i, i)));
            check!(widest_gap(&node) <= 2 * SPACING + MAX_KEY_BYTES);
        }
        check_eq!(node.check(), Ok(()));
        for i in (0..200).step_by(2) {
            ok!(node.delete(p(i)));
        }
        check_eq!(node.check(), Ok(()));
        check!(widest_gap(&node) <= 2 * SPACING + 48);
        for i in 0..200 {
            check_eq!(node.get(p(i)).is_some(), i % 2 == 1);
        }
    }

    fn search_and_prev_at_the_edges() {
        let node = ok!(Node::new(leaf(512)));
        let b = node.last();
        check_eq!(search(&[], &node.data, b.start, b.end, Pos::MIN), b.end);
        check_eq!(prev(&[], &node.data, b.start, b.end), None);
        let mut node = ok!(Node::new(leaf(512)));
        ok!(node.insert(&tkey(5, 5)));
        ok!(node.insert(&tkey(7, 7)));
        let b = node.last();
        check_eq!(search(&[], &node.data, b.start, b.end, p(6)), 48);
        check_eq!(search(&[], &node.data, b.start, b.end, p(8)), 96);
        check_eq!(prev(&[], &node.data, b.start, 96), Some(48));
        check_eq!(prev(&[], &node.data, b.start, 48), Some(0));
        check_eq!(prev(&[], &node.data, b.start, 0), None);
    }
}
