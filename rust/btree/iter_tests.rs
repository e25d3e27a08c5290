// SPDX-License-Identifier: GPL-2.0

//! The iterator against bcachefs's unit cases (tests.c): deletes, forward
//! and backward iteration over keys, extents and slots, the end of the
//! tree, and extent overwrites.

use super::test_util::{all_keys, ext, insert, insert_extent, p, tkey, tree, T};
use super::{Iter, IterFlags, Trans};
use crate::bkey::{Key, Pos};
use crate::platform::ok;
use crate::platform::{check, check_eq, test_suite};

const NR: u64 = 400;

test_suite! { sixfs_btree_iter;

fn test_delete() {
    let b = ok!(tree(1024));
    ok!(insert(&b, tkey(5, 1)));
    let mut t = Trans::new(&b);
    // Delete through an intent iterator, twice: the second is a no-op.
    for _ in 0..2 {
        let r = t.run(|t| {
            let mut it = Iter::new(t, T, p(5), IterFlags::INTENT)?;
            it.peek(t)?;
            t.delete(T, p(5))?;
            t.commit()
        });
        ok!(r);
    }
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check_eq!(keys.len(), 0);
    ok!(b.check(T));
}

fn test_delete_written() {
    let b = ok!(tree(1024));
    ok!(insert(&b, tkey(5, 1)));
    // Pretend the leaf went to disk: the delete must leave a whiteout.
    let root = ok!(b.root(T));
    ok!(root.write(|n| n.mark_written()));
    ok!(Trans::new(&b).run(|t| {
        t.delete(T, p(5))?;
        t.commit()
    }));
    check_eq!(ok!(all_keys(&b, IterFlags::NONE)).len(), 0);
    let mut t = Trans::new(&b);
    let slot = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, p(5), IterFlags::SLOTS)?;
        Ok(*it.peek_slot(t)?)
    }));
    check!(slot.value.kind().is_deleted_or_whiteout());
    ok!(b.check(T));
}

fn test_iterate() {
    let b = ok!(tree(1024));
    for i in 0..NR {
        ok!(insert(&b, tkey(i, i)));
    }
    let stats = ok!(b.check(T));
    check_eq!(stats.keys, NR as usize);
    check!(stats.depth > 1);
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check_eq!(keys.len(), NR as usize);
    for (i, k) in keys.iter().enumerate() {
        check_eq!(k.pos, p(i as u64));
    }
    // And backwards.
    let mut t = Trans::new(&b);
    let n = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, Pos::MAX, IterFlags::NONE)?;
        let mut i = NR;
        while let Some(k) = it.prev(t)? {
            i -= 1;
            if k.pos != p(i) {
                return Ok(u64::MAX);
            }
        }
        Ok(i)
    }));
    check_eq!(n, 0);
}

fn test_iterate_extents() {
    let b = ok!(tree(1024));
    let mut i = 0;
    while i < NR {
        ok!(insert_extent(&b, ext(i, i + 8, i)));
        i += 8;
    }
    let keys = ok!(all_keys(&b, IterFlags::EXTENTS));
    check_eq!(keys.len(), (NR / 8) as usize);
    for (n, k) in keys.iter().enumerate() {
        check_eq!(k.start(), n as u64 * 8);
        check_eq!(k.pos.offset, n as u64 * 8 + 8);
    }
    let mut t = Trans::new(&b);
    let n = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, Pos::MAX, IterFlags::EXTENTS)?;
        let mut i = NR;
        while let Some(k) = it.prev(t)? {
            if k.pos.offset != i || k.start() != i - 8 {
                return Ok(u64::MAX);
            }
            i -= 8;
        }
        Ok(i)
    }));
    check_eq!(n, 0);
    ok!(b.check(T));
}

fn test_iterate_slots() {
    let b = ok!(tree(1024));
    for i in 0..NR {
        ok!(insert(&b, tkey(i * 2, i)));
    }
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check_eq!(keys.len(), NR as usize);
    let mut t = Trans::new(&b);
    let bad = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, p(0), IterFlags::SLOTS)?;
        let mut bad = 0u64;
        for i in 0..NR * 2 {
            let k = it.next_slot(t)?;
            let want_live = i % 2 == 0;
            if k.pos != p(i) || k.value.kind().is_deleted_or_whiteout() == want_live {
                bad += 1;
            }
        }
        Ok(bad)
    }));
    check_eq!(bad, 0);
}

fn test_iterate_slots_extents() {
    let b = ok!(tree(1024));
    let mut i = 0;
    while i < NR {
        ok!(insert_extent(&b, ext(i + 8, i + 16, i)));
        i += 16;
    }
    let mut t = Trans::new(&b);
    let bad = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, p(0), IterFlags::SLOTS.with(IterFlags::EXTENTS))?;
        let mut bad = 0u64;
        let mut at = 0;
        while at < NR {
            let k = it.next_slot(t)?;
            // Holes [16n, 16n+8), extents [16n+8, 16n+16).
            let hole = (at / 8) % 2 == 0;
            if k.start() != at || k.pos.offset != at + 8 || k.value.kind().is_deleted_or_whiteout() != hole {
                bad += 1;
            }
            at += 8;
        }
        Ok(bad)
    }));
    check_eq!(bad, 0);
}

fn test_peek_end() {
    let b = ok!(tree(1024));
    let mut t = Trans::new(&b);
    let r = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, Pos::MIN, IterFlags::NONE)?;
        let a = it.peek(t)?.is_none();
        let c = it.peek(t)?.is_none();
        Ok(a && c)
    }));
    check!(r);
}

fn test_peek_end_extents() {
    let b = ok!(tree(1024));
    let mut t = Trans::new(&b);
    let r = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, Pos::MIN, IterFlags::EXTENTS)?;
        let a = it.peek(t)?.is_none();
        let c = it.peek(t)?.is_none();
        Ok(a && c)
    }));
    check!(r);
}

fn test_extent_overwrite_front() {
    let b = ok!(tree(1024));
    ok!(insert_extent(&b, ext(0, 64, 1)));
    ok!(insert_extent(&b, ext(0, 32, 2)));
    let keys = ok!(all_keys(&b, IterFlags::EXTENTS));
    check_eq!(keys.len(), 2);
    check_eq!((keys[0].start(), keys[0].pos.offset), (0, 32));
    check_eq!((keys[1].start(), keys[1].pos.offset), (32, 64));
}

fn test_extent_overwrite_back() {
    let b = ok!(tree(1024));
    ok!(insert_extent(&b, ext(0, 64, 1)));
    ok!(insert_extent(&b, ext(32, 64, 2)));
    let keys = ok!(all_keys(&b, IterFlags::EXTENTS));
    check_eq!(keys.len(), 2);
    check_eq!((keys[0].start(), keys[0].pos.offset), (0, 32));
    check_eq!((keys[1].start(), keys[1].pos.offset), (32, 64));
    check_eq!(keys[1].value, ext(32, 64, 2).value);
}

fn test_extent_overwrite_middle() {
    let b = ok!(tree(1024));
    ok!(insert_extent(&b, ext(0, 64, 1)));
    ok!(insert_extent(&b, ext(16, 48, 2)));
    let keys = ok!(all_keys(&b, IterFlags::EXTENTS));
    check_eq!(keys.len(), 3);
    check_eq!((keys[0].start(), keys[0].pos.offset), (0, 16));
    check_eq!((keys[1].start(), keys[1].pos.offset), (16, 48));
    check_eq!((keys[2].start(), keys[2].pos.offset), (48, 64));
}

fn test_extent_overwrite_all() {
    let b = ok!(tree(1024));
    ok!(insert_extent(&b, ext(32, 64, 1)));
    ok!(insert_extent(&b, ext(0, 128, 2)));
    let keys = ok!(all_keys(&b, IterFlags::EXTENTS));
    check_eq!(keys.len(), 1);
    check_eq!((keys[0].start(), keys[0].pos.offset), (0, 128));
}

fn test_extent_overwrite_across_nodes() {
    let b = ok!(tree(1024));
    let mut i = 0;
    while i < NR {
        ok!(insert_extent(&b, ext(i, i + 4, i)));
        i += 4;
    }
    check!(ok!(b.check(T)).depth > 1);
    // One extent over all but the first and last 2 sectors.
    ok!(insert_extent(&b, ext(2, NR - 2, 7)));
    let keys = ok!(all_keys(&b, IterFlags::EXTENTS));
    check_eq!(keys.len(), 3);
    check_eq!((keys[0].start(), keys[0].pos.offset), (0, 2));
    check_eq!((keys[1].start(), keys[1].pos.offset), (2, NR - 2));
    check_eq!((keys[2].start(), keys[2].pos.offset), (NR - 2, NR));
    ok!(b.check(T));
}

fn test_iter_set_pos_and_prev() {
    let b = ok!(tree(1024));
    for i in 0..NR {
        ok!(insert(&b, tkey(i * 3, i)));
    }
    let mut t = Trans::new(&b);
    let r: (Key, Key, Option<Key>) = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, p(0), IterFlags::NONE)?;
        it.set_pos(t, p(301))?;
        let a = *it.peek(t)?.ok_or(super::BtreeError::Corrupt("none"))?;
        it.set_pos(t, p(31))?;
        let c = *it.prev(t)?.ok_or(super::BtreeError::Corrupt("none"))?;
        it.set_pos(t, p(0))?;
        let d = it.prev(t)?.copied();
        Ok((a, c, d))
    }));
    check_eq!(r.0.pos, p(303));
    check_eq!(r.1.pos, p(30));
    check!(r.2.is_none());
}

fn test_peek_node() {
    let b = ok!(tree(1024));
    for i in 0..NR {
        ok!(insert(&b, tkey(i, i)));
    }
    let stats = ok!(b.check(T));
    let mut t = Trans::new(&b);
    let (leaves, last) = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, Pos::MIN, IterFlags::NONE)?;
        let mut n = 0usize;
        let mut last = Pos::MIN;
        let mut node = it.peek_node(t)?;
        while let Some(x) = node {
            n += 1;
            last = x.max;
            node = it.next_node(t)?;
        }
        Ok((n, last))
    }));
    check!(leaves > 1);
    check!(leaves < stats.nodes);
    check_eq!(last, Pos::MAX);
}

}
