// SPDX-License-Identifier: GPL-2.0

//! Tests of extent inserts into a node, run by `cargo test` and as the
//! KUnit suite `sixfs_node_extent`: bcachefs's test_extent_overwrite_*.

use super::test_util::leaf;
use super::{Filter, Node, NodeError, NodeParams};
use crate::bkey::{Key, Pos, TestVal, Value};
use crate::platform::ok;
use crate::platform::{check, check_eq, test_suite};

fn ext(start: u64, end: u64, v: u64) -> Option<Key> {
    Key::extent(1, start, end, 0, Value::Test(TestVal::from_u64(v)))
}

/// Inserts `e1` then `e2` into an empty node; whether the node then holds
/// exactly the `(start, end)` extents in `want`.
fn overwrite(e1: (u64, u64), e2: (u64, u64), want: &[(u64, u64)]) -> Result<bool, NodeError> {
    let mut node = Node::new(leaf(1024))?;
    for (start, end) in [e1, e2] {
        let key = ext(start, end, start).ok_or(NodeError::BadParams)?;
        node.insert_extent(&key)?;
    }
    let got = node.keys(Filter::Live).map(|k| (k.start(), k.pos().offset));
    Ok(got.eq(want.iter().copied()) && node.check().is_ok())
}

test_suite! {
    sixfs_node_extent;

    fn extent_overwrite_front() {
        check_eq!(overwrite((0, 64), (0, 32), &[(0, 32), (32, 64)]), Ok(true));
        check_eq!(overwrite((8, 64), (0, 32), &[(0, 32), (32, 64)]), Ok(true));
    }

    fn extent_overwrite_back() {
        check_eq!(overwrite((0, 64), (32, 64), &[(0, 32), (32, 64)]), Ok(true));
        check_eq!(overwrite((0, 64), (32, 72), &[(0, 32), (32, 72)]), Ok(true));
    }

    fn extent_overwrite_middle() {
        check_eq!(overwrite((0, 64), (32, 40), &[(0, 32), (32, 40), (40, 64)]), Ok(true));
    }

    fn extent_overwrite_all() {
        check_eq!(overwrite((32, 64), (0, 64), &[(0, 64)]), Ok(true));
        check_eq!(overwrite((32, 64), (0, 128), &[(0, 128)]), Ok(true));
        check_eq!(overwrite((32, 64), (32, 64), &[(32, 64)]), Ok(true));
        check_eq!(overwrite((32, 64), (32, 128), &[(32, 128)]), Ok(true));
    }

    fn overwrite_keeps_values_and_other_snapshots() {
        let mut node = ok!(Node::new(leaf(2048)));
        let other = Key::extent(1, 0, 100, 7, Value::Whiteout);
        for k in [ext(0, 10, 1), ext(10, 20, 2), ext(20, 30, 3), other].into_iter().flatten() {
            ok!(node.insert_extent(&k));
        }
        node.mark_written();
        if let Some(k) = ext(5, 25, 9) {
            ok!(node.insert_extent(&k));
        }
        let got = node
            .keys(Filter::Live)
            .filter(|k| k.pos().snapshot == 0)
            .map(|k| (k.start(), k.pos().offset, super::test_util::val(&k)));
        check!(got.eq([(0, 5, 1), (5, 25, 9), (25, 30, 3)]));
        check_eq!(node.get(Pos::new(1, 100, 7)).map(|k| k.size()), Some(100));
        check_eq!(node.check(), Ok(()));
    }

    fn deleted_extent_punches_a_hole() {
        let mut node = ok!(Node::new(leaf(1024)));
        if let Some(k) = ext(0, 64, 1) {
            ok!(node.insert_extent(&k));
        }
        node.mark_written();
        if let Some(hole) = Key::extent(1, 16, 32, 0, Value::Deleted) {
            ok!(node.insert_extent(&hole));
        }
        let got = node.keys(Filter::Live).map(|k| (k.start(), k.pos().offset));
        check!(got.eq([(0, 16), (32, 64)]));
        check_eq!(node.check(), Ok(()));
    }

    fn extent_reaching_out_of_the_node_is_refused() {
        let params = NodeParams { min: Pos::new(1, 50, 0), ..leaf(1024) };
        let mut node = ok!(Node::new(params));
        if let Some(k) = ext(40, 60, 1) {
            ok!(node.insert_extent(&k));
        }
        let used = node.used_bytes();
        // Its front part would end at 45, before the node's min.
        if let Some(k) = ext(45, 55, 2) {
            check_eq!(node.insert_extent(&k), Err(NodeError::OutOfRange));
        }
        check_eq!(node.used_bytes(), used);
        check_eq!(node.keys(Filter::Live).count(), 1);
    }
}
