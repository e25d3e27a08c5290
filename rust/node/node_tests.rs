// SPDX-License-Identifier: GPL-2.0

//! Tests of node insert, delete, bsets and compaction, run by `cargo test`
//! and as the KUnit suite `sixfs_node`.

use super::test_util::{holds, leaf, p, ptr, tkey, val};
use super::{Filter, Node, NodeError, NodeParams};
use crate::bkey::{Key, KeyType, Pos, TestVal, Value};
use crate::platform::ok;
use crate::platform::{check, check_eq, test_suite};

test_suite! {
    sixfs_node;

    fn insert_keeps_keys_sorted() {
        let mut node = ok!(Node::new(leaf(4096)));
        for i in 0..40u64 {
            ok!(node.insert(&tkey(i * 7 % 40, i)));
            check_eq!(node.check(), Ok(()));
        }
        let mut want = [(0u64, 0u64); 40];
        for i in 0..40u64 {
            want[(i * 7 % 40) as usize] = (i * 7 % 40, i);
        }
        check!(holds(&node, &want));
        check_eq!(node.nsets(), 1);
    }

    fn overwrite_replaces_in_place() {
        let mut node = ok!(Node::new(leaf(1024)));
        ok!(node.insert(&tkey(5, 1)));
        ok!(node.insert(&tkey(6, 1)));
        let used = node.used_bytes();
        ok!(node.insert(&tkey(5, 2)));
        check_eq!(node.used_bytes(), used);
        check!(holds(&node, &[(5, 2), (6, 1)]));
        // A longer value moves the keys after it.
        let long = Value::Test(TestVal::new(&[7u8; 24]).unwrap_or_default());
        ok!(node.insert(&Key::new(p(5), long)));
        check_eq!(node.used_bytes(), used + 16);
        check_eq!(node.get(p(5)).map(|k| k.val_bytes().len()), Some(24));
        check_eq!(node.get(p(6)).map(|k| val(&k)), Some(1));
        check_eq!(node.check(), Ok(()));
    }

    fn delete_in_an_unwritten_bset_marks_the_key_dead() {
        let mut node = ok!(Node::new(leaf(1024)));
        ok!(node.insert(&tkey(1, 1)));
        ok!(node.insert(&tkey(2, 2)));
        ok!(node.delete(p(1)));
        // Its bytes stay, dead, until a compaction.
        check_eq!(node.used_bytes(), 96);
        check_eq!(node.live_bytes(), 48);
        check!(node.get(p(1)).is_none());
        check!(holds(&node, &[(2, 2)]));
        check_eq!(node.check(), Ok(()));
        // Deleting what is not there, or is dead, changes nothing.
        ok!(node.delete(p(9)));
        ok!(node.delete(p(1)));
        check_eq!(node.used_bytes(), 96);
        ok!(node.compact());
        check_eq!(node.used_bytes(), 48);
        check!(holds(&node, &[(2, 2)]));
    }

    fn delete_of_written_key_leaves_a_whiteout() {
        let mut node = ok!(Node::new(leaf(1024)));
        ok!(node.insert(&tkey(1, 1)));
        node.mark_written();
        ok!(node.delete(p(1)));
        check_eq!(node.nsets(), 2);
        check!(node.get(p(1)).is_none());
        check!(holds(&node, &[]));
        let open: Option<KeyType> = node.bset_keys(1).map(|k| k.kind()).next();
        check_eq!(open, Some(KeyType::Deleted));
        check!(node.bset_keys(1).all(|k| k.needs_whiteout()));
        check_eq!(node.keys(Filter::All).count(), 1);
        // Written again and deleted again: the whiteout must stay.
        ok!(node.insert(&tkey(1, 3)));
        check!(holds(&node, &[(1, 3)]));
        ok!(node.delete(p(1)));
        check!(holds(&node, &[]));
        check_eq!(node.keys(Filter::All).count(), 1);
    }

    fn newest_bset_wins_and_old_bsets_stay() {
        let mut node = ok!(Node::new(leaf(1024)));
        ok!(node.insert(&tkey(1, 1)));
        ok!(node.insert(&tkey(2, 1)));
        node.mark_written();
        check_eq!(node.written(), 96);
        ok!(node.insert(&tkey(1, 2)));
        check_eq!(node.nsets(), 2);
        check!(holds(&node, &[(1, 2), (2, 1)]));
        check_eq!(node.bset_keys(0).map(|k| val(&k)).sum::<u64>(), 2);
        check!(node.bset_written(0));
        check!(!node.bset_written(1));
    }

    fn full_bsets_compact_before_a_fourth() {
        let mut node = ok!(Node::new(leaf(2048)));
        for round in 0..3u64 {
            ok!(node.insert(&tkey(1, round)));
            ok!(node.insert(&tkey(10 + round, round)));
            node.mark_written();
        }
        check_eq!(node.nsets(), 3);
        ok!(node.insert(&tkey(20, 20)));
        check_eq!(node.nsets(), 2);
        check_eq!(node.written_sets(), 1);
        check!(holds(&node, &[(1, 2), (10, 0), (11, 1), (12, 2), (20, 20)]));
    }

    fn compact_drops_hidden_and_deleted_keys() {
        let mut node = ok!(Node::new(leaf(2048)));
        for i in 0..6 {
            ok!(node.insert(&tkey(i, i)));
        }
        node.mark_written();
        ok!(node.insert(&tkey(0, 100)));
        ok!(node.delete(p(1)));
        node.mark_written();
        ok!(node.delete(p(2)));
        ok!(node.insert(&tkey(3, 300)));
        let want = [(0, 100), (3, 300), (4, 4), (5, 5)];
        check!(holds(&node, &want));
        let used = node.used_bytes();
        ok!(node.compact());
        check!(holds(&node, &want));
        check_eq!(node.nsets(), 2);
        check!(node.used_bytes() < used);
        // The merged written bset has neither deleted keys nor old copies,
        // nor the keys the open bset hides (2 and 3).
        check!(node.bset_keys(0).all(|k| k.kind() != KeyType::Deleted));
        check!(node.bset_keys(0).map(|k| val(&k)).eq([100, 4, 5]));
        // The open bset keeps its whiteout: position 2 is on disk.
        check!(node.bset_keys(1).any(|k| k.kind() == KeyType::Deleted));
        let fresh = ok!(node.rewrite());
        check!(holds(&fresh, &want));
        check_eq!(fresh.nsets(), 1);
        check_eq!(fresh.written(), 0);
        check_eq!(fresh.used_bytes(), fresh.live_bytes());
        check!(fresh.keys(Filter::All).all(|k| !k.needs_whiteout()));
    }

    fn whiteouts_survive_compaction() {
        let mut node = ok!(Node::new(leaf(1024)));
        ok!(node.insert(&tkey(1, 1)));
        ok!(node.insert(&Key::new(p(2), Value::Whiteout)));
        node.mark_written();
        ok!(node.compact());
        check!(holds(&node, &[(1, 1)]));
        check_eq!(node.keys(Filter::NoDeleted).count(), 2);
        let fresh = ok!(node.rewrite());
        check_eq!(fresh.get(p(2)).map(|k| k.kind()), Some(KeyType::Whiteout));
    }

    fn rewrite_drops_nothing_only_when_all_is_live_and_unwritten() {
        let mut node = ok!(Node::new(leaf(1024)));
        check!(node.rewrite_drops_nothing());
        ok!(node.insert(&tkey(1, 1)));
        ok!(node.insert(&tkey(2, 2)));
        // Overwritten in place: still nothing to drop.
        ok!(node.insert(&tkey(1, 11)));
        check!(node.rewrite_drops_nothing());
        // A deletion of an unwritten key marks it dead in place.
        let mut deleted = ok!(node.rewrite());
        ok!(deleted.insert(&Key::deleted(p(2))));
        check!(!deleted.rewrite_drops_nothing());
        let fresh = ok!(deleted.rewrite());
        check!(fresh.rewrite_drops_nothing());
        check!(holds(&fresh, &[(1, 11)]));
        // Written bsets: an overwrite hides an old copy, which goes.
        node.mark_written();
        check!(!node.rewrite_drops_nothing());
        ok!(node.insert(&tkey(2, 22)));
        let fresh = ok!(node.rewrite());
        check!(fresh.rewrite_drops_nothing());
        check!(holds(&fresh, &[(1, 11), (2, 22)]));
    }

    fn full_node_refuses_and_stays_unchanged() {
        let mut node = ok!(Node::new(leaf(256)));
        let mut n = 0;
        let err = loop {
            match node.insert(&tkey(n, n)) {
                Ok(()) => n += 1,
                Err(e) => break e,
            }
        };
        check_eq!(err, NodeError::Full);
        check_eq!(n, 5);
        check!(holds(&node, &[(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]));
        // Overwriting with the same size still fits.
        ok!(node.insert(&tkey(2, 22)));
        check_eq!(node.get(p(2)).map(|k| val(&k)), Some(22));
    }

    fn bad_keys_and_params_are_refused() {
        check_eq!(Node::new(leaf(100)).err(), Some(NodeError::BadParams));
        check_eq!(Node::new(leaf(1001)).err(), Some(NodeError::BadParams));
        let backwards = NodeParams { min: Pos::MAX, max: Pos::MIN, ..leaf(512) };
        check_eq!(Node::new(backwards).err(), Some(NodeError::BadParams));
        let mut node = ok!(Node::new(NodeParams { min: p(10), max: p(20), ..leaf(512) }));
        check_eq!(node.insert(&tkey(9, 0)), Err(NodeError::OutOfRange));
        check_eq!(node.insert(&tkey(21, 0)), Err(NodeError::OutOfRange));
        check_eq!(node.insert(&ptr(15, 0)), Err(NodeError::WrongLevel));
        let big = Value::Test(TestVal::new(&[0; 32]).unwrap_or_default());
        ok!(node.insert(&Key::new(p(10), big)));
        let mut small = ok!(Node::new(leaf(256)));
        check_eq!(small.insert(&Key::new(p(10), big)), Err(NodeError::KeyTooBig));
        let mut interior = ok!(Node::new(NodeParams { level: 1, ..leaf(512) }));
        check_eq!(interior.insert(&tkey(1, 1)), Err(NodeError::WrongLevel));
        ok!(interior.insert(&ptr(1, 7)));
        check_eq!(interior.first_from(p(0)).map(|k| val(&k)), Some(7));
        check_eq!(node.check(), Ok(()));
    }
}
