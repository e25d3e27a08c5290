// SPDX-License-Identifier: GPL-2.0

//! Tests of the node iterator and search, run by `cargo test` and as the
//! KUnit suite `sixfs_node_iter`.

use super::test_util::{holds, leaf, p, tkey, val};
use super::{Filter, Node, NodeIter};
use crate::bkey::{Key, KeyType, Pos, Value};
use crate::platform::ok;
use crate::platform::rng::Rng;
use crate::platform::{check, check_eq, test_suite};

/// Three bsets: offsets 0..30 step 3 (value 1), then 0..30 step 2 (value
/// 2), then 0..30 step 5 (value 3) and a delete of 9.
fn three_bsets() -> Result<Node, super::NodeError> {
    let mut node = Node::new(leaf(4096))?;
    for (step, v) in [(3, 1), (2, 2), (5, 3)] {
        for off in (0..30).step_by(step) {
            node.insert(&tkey(off, v))?;
        }
        if v == 3 {
            node.delete(p(9))?;
        } else {
            node.mark_written();
        }
    }
    Ok(node)
}

/// What `three_bsets` holds at `off`: the newest value, 0 if none.
fn expected(off: u64) -> u64 {
    if off >= 30 || off == 9 {
        0
    } else if off % 5 == 0 {
        3
    } else if off % 2 == 0 {
        2
    } else if off % 3 == 0 {
        1
    } else {
        0
    }
}

test_suite! {
    sixfs_node_iter;

    fn merge_order_and_newest_wins() {
        let node = ok!(three_bsets());
        check_eq!(node.nsets(), 3);
        let mut it = node.keys(Filter::Live);
        for off in 0..32 {
            if expected(off) != 0 {
                let k = it.next();
                check_eq!(k.map(|k| (k.pos(), val(&k))), Some((p(off), expected(off))));
            }
        }
        check!(it.next().is_none());
        // With deleted keys shown, 9 appears as deleted.
        let nine = node.keys(Filter::All).find(|k| k.pos() == p(9));
        check_eq!(nine.map(|k| k.kind()), Some(KeyType::Deleted));
    }

    fn backwards_is_forwards_reversed() {
        let node = ok!(three_bsets());
        let mut it = NodeIter::new(&node, Pos::MAX, Filter::Live);
        check!(it.peek(&node).is_none());
        for off in (0..32).rev() {
            if expected(off) != 0 {
                let k = it.prev(&node);
                check_eq!(k.map(|k| (k.pos(), val(&k))), Some((p(off), expected(off))));
            }
        }
        check!(it.prev(&node).is_none());
        // At the start, next returns the first key again.
        check_eq!(it.next(&node).map(|k| k.pos()), Some(p(0)));
    }

    fn next_and_prev_cross_the_same_key() {
        let node = ok!(three_bsets());
        let mut it = NodeIter::new(&node, p(10), Filter::Live);
        check_eq!(it.next(&node).map(|k| k.pos()), Some(p(10)));
        check_eq!(it.prev(&node).map(|k| k.pos()), Some(p(10)));
        check_eq!(it.prev(&node).map(|k| k.pos()), Some(p(8)));
        check_eq!(it.prev(&node).map(|k| k.pos()), Some(p(6)));
        check_eq!(it.next(&node).map(|k| k.pos()), Some(p(6)));
        check_eq!(it.peek(&node).map(|k| k.pos()), Some(p(8)));
    }

    fn seek_finds_every_position() {
        let node = ok!(three_bsets());
        for off in 0..34 {
            let want = (off..30).find(|&o| expected(o) != 0);
            let got = NodeIter::new(&node, p(off), Filter::Live).peek(&node).map(|k| k.pos());
            check_eq!(got, want.map(p));
            let at = node.get(p(off)).map(|k| val(&k)).unwrap_or(0);
            check_eq!(at, expected(off));
        }
    }

    fn search_finds_every_position_in_a_large_bset() {
        // Enough keys for many samples per bset, in three bsets.
        let mut node = ok!(Node::new(leaf(16384)));
        for round in 0..3u64 {
            for i in 0..80u64 {
                ok!(node.insert(&tkey(i * 6 + round * 2, round)));
            }
            if round < 2 {
                node.mark_written();
            }
        }
        check_eq!(node.check(), Ok(()));
        for off in 0..482u64 {
            let want = (off..480).find(|o| o % 2 == 0);
            let got = node.first_from(p(off)).map(|k| k.pos());
            check_eq!(got, want.map(p));
            if off % 2 == 0 && off < 480 {
                check_eq!(node.get(p(off)).map(|k| val(&k)), Some(off % 6 / 2));
            } else {
                check!(node.get(p(off)).is_none());
            }
        }
    }

    fn iterator_follows_inserts_behind_its_back() {
        let mut node = ok!(Node::new(leaf(2048)));
        for off in [10, 20, 30] {
            ok!(node.insert(&tkey(off, off)));
        }
        let mut it = NodeIter::new(&node, Pos::MIN, Filter::Live);
        check_eq!(it.next(&node).map(|k| k.pos()), Some(p(10)));
        ok!(node.insert(&tkey(5, 5)));
        ok!(node.insert(&tkey(15, 15)));
        ok!(node.delete(p(20)));
        check_eq!(it.next(&node).map(|k| k.pos()), Some(p(15)));
        check_eq!(it.next(&node).map(|k| k.pos()), Some(p(30)));
        check!(it.next(&node).is_none());
        check_eq!(it.prev(&node).map(|k| k.pos()), Some(p(30)));
    }

    fn filters_hide_deleted_and_whiteouts() {
        let mut node = ok!(Node::new(leaf(1024)));
        ok!(node.insert(&tkey(1, 1)));
        ok!(node.insert(&Key::new(p(2), Value::Whiteout)));
        ok!(node.insert(&tkey(3, 3)));
        node.mark_written();
        ok!(node.delete(p(3)));
        check!(holds(&node, &[(1, 1)]));
        check_eq!(node.keys(Filter::NoDeleted).count(), 2);
        check_eq!(node.keys(Filter::All).count(), 3);
        let mut back = NodeIter::new(&node, Pos::MAX, Filter::Live);
        check_eq!(back.prev(&node).map(|k| k.pos()), Some(p(1)));
        check!(back.prev(&node).is_none());
    }

    fn iteration_ends_at_pos_max() {
        let mut node = ok!(Node::new(leaf(1024)));
        ok!(node.insert(&Key::new(Pos::MAX, Value::Whiteout)));
        ok!(node.insert(&Key::new(Pos::MIN, Value::Whiteout)));
        let mut it = NodeIter::new(&node, Pos::MIN, Filter::All);
        check_eq!(it.next(&node).map(|k| k.pos()), Some(Pos::MIN));
        check_eq!(it.next(&node).map(|k| k.pos()), Some(Pos::MAX));
        check!(it.next(&node).is_none());
        check!(it.pos().is_none());
        check_eq!(it.prev(&node).map(|k| k.pos()), Some(Pos::MAX));
    }

    fn inserts_at_a_cursor_match_plain_inserts() {
        // Two copies of the same node, one changed through a cursor at each
        // key's position (used or ignored when stale), one without.
        let (mut a, mut b) = (ok!(three_bsets()), ok!(three_bsets()));
        let mut stale = NodeIter::new(&a, p(0), Filter::Live);
        for (i, off) in (0..40u64).rev().chain(0..40).enumerate() {
            let key = if i % 7 == 3 {
                Key::deleted(p(off))
            } else {
                tkey(off, 10 + i as u64)
            };
            let cursor = if i % 3 == 0 {
                &stale
            } else {
                stale = NodeIter::new(&a, p(off), Filter::Live);
                &stale
            };
            // A fresh cursor is used; a stale one (the node changed) not.
            check_eq!(cursor.offsets_at(&a, p(off)).is_some(), i % 3 != 0);
            ok!(a.insert_near(&key, Some(cursor)));
            ok!(b.insert(&key));
            check_eq!(a.check(), Ok(()));
        }
        for off in 0..40 {
            let (x, y) = (a.get(p(off)), b.get(p(off)));
            check_eq!(x.map(|k| val(&k)), y.map(|k| val(&k)));
        }
        check!(a.keys(Filter::All).map(|k| k.pos()).eq(b.keys(Filter::All).map(|k| k.pos())));
    }

    fn cursors_follow_edits_of_the_open_bset() {
        // Cursors that saw the node just before an insert, overwrite or
        // delete follow it without searching; each must then stand where
        // a fresh search puts it, in every bset.
        let mut node = ok!(Node::new(leaf(65536)));
        let mut rng = Rng::new(11);
        let mut cursors = [0u64; 6].map(|_| NodeIter::new(&node, p(0), Filter::All));
        let mut followed = 0;
        for step in 0..4000u64 {
            let o = rng.below(600);
            if rng.below(4) == 0 {
                ok!(node.delete(p(o)));
            } else {
                ok!(node.insert(&tkey(o, step)));
            }
            followed += usize::from(node.last_change.is_some());
            for (i, c) in cursors.iter_mut().enumerate() {
                if rng.below(8) == 0 {
                    c.seek(&node, p(rng.below(620)));
                    continue;
                }
                c.check_seq(&node);
                let Some(bound) = c.pos() else { continue };
                let fresh = NodeIter::new(&node, bound, Filter::All);
                check_eq!(c.offsets_at(&node, bound), fresh.offsets_at(&node, bound));
                // Now and then a cursor moves on, as an iteration does.
                if i % 2 == 0 && c.peek(&node).is_some() {
                    c.next(&node);
                }
            }
            if step % 700 == 0 {
                ok!(node.compact());
            }
        }
        check!(followed > 2000);
    }
}
