// SPDX-License-Identifier: GPL-2.0

//! Tests of split and merge, run by `cargo test` and as the KUnit suite
//! `sixfs_node_split`.

use super::split::{merge_hysteresis, merge_threshold, split_threshold};
use super::test_util::{leaf, p, ptr, tkey, val};
use super::{merge, should_merge, Filter, Node, NodeError, NodeParams};
use crate::bkey::Pos;
use crate::platform::ok;
use crate::platform::{check, check_eq, test_suite};

fn filled(size: usize, keys: u64) -> Result<Node, NodeError> {
    let mut node = Node::new(NodeParams {
        min: p(0),
        max: p(1000),
        ..leaf(size)
    })?;
    for i in 0..keys {
        node.insert(&tkey(i * 3, i))?;
    }
    Ok(node)
}

test_suite! {
    sixfs_node_split;

    fn split_halves_are_continuous() {
        let mut node = ok!(filled(1024, 16));
        node.mark_written();
        ok!(node.delete(p(0)));
        check!(node.needs_split());
        let (left, right) = ok!(node.split());
        check_eq!(left.min(), p(0));
        check_eq!(right.max(), p(1000));
        check_eq!(left.max().successor(), Some(right.min()));
        let last_left = left.keys(Filter::Live).last().map(|k| k.pos());
        check_eq!(last_left, Some(left.max()));
        check_eq!(left.live_bytes() + right.live_bytes(), node.live_bytes());
        check!(left.live_bytes().abs_diff(right.live_bytes()) <= 48);
        // Nothing lost, nothing resurrected, order kept.
        let joined = left.keys(Filter::Live).chain(right.keys(Filter::Live));
        check!(joined.map(|k| val(&k)).eq(1..16u64));
        check_eq!(left.check(), Ok(()));
        check_eq!(right.check(), Ok(()));
        check!(!should_merge(&left, &right));
        check!(!should_merge(&right, &left));
    }

    fn merge_undoes_a_split() {
        let node = ok!(filled(1024, 6));
        let (left, right) = ok!(node.split());
        check!(should_merge(&left, &right));
        let merged = ok!(merge(&left, &right));
        check_eq!(merged.min(), node.min());
        check_eq!(merged.max(), node.max());
        check!(merged.keys(Filter::Live).map(|k| val(&k)).eq(0..6u64));
        check_eq!(merge(&right, &left).err(), Some(NodeError::NotSiblings));
    }

    fn merge_respects_thresholds() {
        check_eq!(split_threshold(1200), 800);
        check_eq!(merge_threshold(1200), 400);
        check_eq!(merge_hysteresis(1200), 500);
        // 48-byte keys in a 1200-byte node: 8 keys are 384 (below 400),
        // 10 keys 480 (below 500), 11 keys 528.
        let a = ok!(filled(1200, 8));
        let two = ok!(filled(1200, 2));
        let three = ok!(filled(1200, 3));
        check!(should_merge(&a, &two));
        check!(!should_merge(&a, &three));
        check!(!should_merge(&ok!(filled(1200, 9)), &two));
    }

    fn split_needs_two_keys() {
        let one = ok!(filled(512, 1));
        check_eq!(one.split().err(), Some(NodeError::TooFewKeys));
        let mut at_max = ok!(Node::new(leaf(512)));
        ok!(at_max.insert(&tkey(1, 1)));
        ok!(at_max.insert(&crate::bkey::Key::new(Pos::MAX, crate::bkey::Value::Whiteout)));
        let (l, r) = ok!(at_max.split());
        check_eq!(l.max(), p(1));
        check_eq!(r.min(), Pos::new(1, 1, 1));
    }

    fn interior_nodes_split_by_child_max() {
        let mut node = ok!(Node::new(NodeParams { level: 1, ..leaf(512) }));
        for i in 1..=8u64 {
            ok!(node.insert(&ptr(i * 100, i)));
        }
        check_eq!(node.first_from(p(150)).map(|k| val(&k)), Some(2));
        check_eq!(node.first_from(p(800)).map(|k| val(&k)), Some(8));
        check!(node.first_from(p(801)).is_none());
        let (left, right) = ok!(node.split());
        check_eq!(left.level(), 1);
        check_eq!(left.max(), p(400));
        check_eq!(right.min(), Pos::new(1, 400, 1));
        check_eq!(right.first_from(p(401)).map(|k| val(&k)), Some(5));
    }
}
