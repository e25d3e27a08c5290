// SPDX-License-Identifier: GPL-2.0

//! Transactions: restarts with named reasons, relock by sequence number,
//! injected relock failures, iterators held across commits, atomic
//! commits, splits and merges, lock introspection.

use super::test_util::{all_keys, insert, p, tkey, tree, T};
use super::{BtreeError, Iter, IterFlags, LockState, RestartReason, Trans};
use crate::bkey::Pos;
use crate::platform::ok;
use crate::platform::{check, check_eq, test_suite};
use crate::six::SixLockType;

test_suite! { sixfs_btree_trans;

fn test_relock_after_unlock() {
    let b = ok!(tree(1024));
    for i in 0..50 {
        ok!(insert(&b, tkey(i, i)));
    }
    let mut t = Trans::new(&b);
    let mut it = ok!(Iter::new(&mut t, T, p(10), IterFlags::NONE));
    check!(ok!(it.peek(&mut t)).is_some());
    let idx = it.path_idx();
    let leaf_seq = ok!(t.path(idx)).l[0].seq;
    t.unlock();
    check_eq!(ok!(t.path(idx)).nodes_locked(), 0);
    // Nothing changed: relock by sequence number works.
    check!(ok!(t.relock_path(idx)));
    check_eq!(ok!(t.path(idx)).l[0].seq, leaf_seq);
    t.unlock();
    // A commit elsewhere in the same leaf moves the sequence number.
    ok!(insert(&b, tkey(10, 99)));
    check!(!ok!(t.relock_path(idx)));
    // The iterator re-traverses and sees the new value.
    let k = ok!(it.peek(&mut t)).copied();
    check_eq!(k.map(|k| k.pos), Some(p(10)));
    check_eq!(k.and_then(|k| match k.value { crate::bkey::Value::Test(v) => v.as_u64(), _ => None }), Some(99));
}

fn test_an_iterator_relocks_after_its_own_commit() {
    let b = ok!(tree(1024));
    // Out of order: leaves split in halves, with room for the update.
    for i in 0..50 {
        ok!(insert(&b, tkey(i * 7 % 50, i * 7 % 50)));
    }
    let value = |k: Option<crate::bkey::Key>| {
        k.and_then(|k| match k.value {
            crate::bkey::Value::Test(v) => v.as_u64(),
            _ => None,
        })
    };
    let mut t = Trans::new(&b);
    let mut it = ok!(Iter::new(&mut t, T, p(10), IterFlags::INTENT));
    check!(ok!(it.peek(&mut t)).is_some());
    let idx = it.path_idx();
    let paths = t.nr_paths();
    // The update goes through the iterator's path: the commit walks no
    // path of its own down to the leaf.
    ok!(it.update(&mut t, tkey(10, 77)));
    ok!(t.commit());
    check_eq!(t.nr_paths(), paths);
    // Only its own write changed the leaf while it held it: the path
    // relocks by sequence number and finds the new value in place.
    check!(ok!(t.relock_path(idx)));
    check_eq!(value(ok!(it.peek(&mut t)).copied()), Some(77));
    // Another transaction's write is another matter.
    t.unlock();
    ok!(insert(&b, tkey(10, 5)));
    check!(!ok!(t.relock_path(idx)));
    check_eq!(value(ok!(it.peek(&mut t)).copied()), Some(5));
    t.unlock();
    ok!(b.check(T));
}

fn test_an_iterator_whose_leaf_a_commit_merged_away_sees_the_new_leaf() {
    // 512-byte leaves: deleting keys from the front empties leaf after
    // leaf, and each sparse one is merged into its sibling by the commit
    // that deleted from it, while the iterator's path holds it.
    let b = ok!(tree(512));
    for i in 0..200 {
        ok!(insert(&b, tkey(i, i)));
    }
    let before = ok!(b.check(T)).nodes;
    let mut t = Trans::new(&b);
    let mut it = ok!(Iter::new(&mut t, T, p(0), IterFlags::INTENT));
    let mut wrong = None;
    for i in 0..150 {
        let found = ok!(it.peek(&mut t)).map(|k| k.pos);
        if found != Some(p(i)) {
            wrong = Some((i, found));
            break;
        }
        ok!(it.update(&mut t, crate::bkey::Key::deleted(p(i))));
        ok!(t.commit());
        // Where the key was, the iterator finds the next one: not the
        // deleted key in a replaced leaf it kept holding.
        ok!(it.set_pos(&mut t, p(i)));
    }
    check_eq!(wrong, None);
    t.unlock();
    let after = ok!(b.check(T));
    check_eq!(after.keys, 50);
    check!(after.nodes < before);
}

fn test_write_lock_restart() {
    // 512-byte leaves: keys 0..40 fill a few, so p(1) and p(35) are in
    // different leaves.
    let b = ok!(tree(512));
    // Out of order: leaves split in halves, with room for the update.
    for i in 0..40 {
        ok!(insert(&b, tkey(i * 7 % 40, i * 7 % 40)));
    }
    // Another transaction reads the first leaf.
    let mut reader = Trans::new(&b);
    let mut r = ok!(Iter::new(&mut reader, T, p(1), IterFlags::NONE));
    check!(ok!(r.peek(&mut reader)).is_some());
    // The writer holds a read lock on a later leaf and updates the first:
    // waiting for the reader there could close a cycle (the reader may
    // wait for the later leaf), so it restarts instead.
    let mut writer = Trans::new(&b);
    let mut later = ok!(Iter::new(&mut writer, T, p(35), IterFlags::NONE));
    check!(ok!(later.peek(&mut writer)).is_some());
    ok!(writer.update(T, tkey(2, 2)));
    let r = writer.commit();
    check_eq!(r, Err(BtreeError::Restart(RestartReason::WriteLock)));
    // The next run first takes the write lock holding nothing.
    reader.unlock();
    writer.restart_wait(RestartReason::WriteLock);
    ok!(writer.update(T, tkey(2, 2)));
    ok!(writer.commit());
    check_eq!(ok!(all_keys(&b, IterFlags::NONE)).len(), 40);
}

fn test_lock_order_restart() {
    let b = ok!(tree(1024));
    ok!(insert(&b, tkey(1, 1)));
    ok!(insert(&b, tkey(2, 2)));
    // Another transaction holds intent on the only leaf.
    let mut other = Trans::new(&b);
    let mut oit = ok!(Iter::new(&mut other, T, p(1), IterFlags::INTENT));
    check!(ok!(oit.peek(&mut other)).is_some());
    // We hold a read lock for a later position, then want intent for an
    // earlier one: waiting would break the order, so a restart.
    let mut t = Trans::new(&b);
    let mut r = ok!(Iter::new(&mut t, T, p(2), IterFlags::NONE));
    check!(ok!(r.peek(&mut t)).is_some());
    let mut w = ok!(Iter::new(&mut t, T, p(1), IterFlags::INTENT));
    check_eq!(w.peek(&mut t).err(), Some(BtreeError::Restart(RestartReason::LockOrder)));
    // Introspection: our read lock, held.
    let locks = ok!(t.locks());
    check!(locks.iter().any(|l| l.ty == SixLockType::Read && l.state == LockState::Held && l.level == 0));
    let theirs = ok!(other.locks());
    check!(theirs.iter().any(|l| l.ty == SixLockType::Intent && l.pos == p(1)));
    other.unlock();
    t.restart_wait(RestartReason::LockOrder);
    let mut w = ok!(Iter::new(&mut t, T, p(1), IterFlags::INTENT));
    check!(ok!(w.peek(&mut t)).is_some());
}

fn test_shared_intent_in_one_trans() {
    let b = ok!(tree(1024));
    ok!(insert(&b, tkey(1, 1)));
    let mut t = Trans::new(&b);
    let r = t.run(|t| {
        // Two intent iterators on one leaf: the second takes an extra hold.
        let mut a = Iter::new(t, T, p(1), IterFlags::INTENT)?;
        let mut c = Iter::new(t, T, p(1), IterFlags::INTENT)?;
        a.peek(t)?;
        c.peek(t)?;
        t.update(T, tkey(3, 3))?;
        t.commit()
    });
    ok!(r);
    check_eq!(ok!(all_keys(&b, IterFlags::NONE)).len(), 2);
}

fn test_injected_restarts() {
    let b = ok!(tree(1024));
    let mut t = Trans::new(&b);
    t.inject_restarts = 300_000;
    for i in 0..200 {
        let r = t.run(|t| {
            // Read first, so the commit has a path to relock.
            let mut it = Iter::new(t, T, p(i), IterFlags::NONE)?;
            it.peek(t)?;
            t.unlock();
            t.update(T, tkey(i, i))?;
            t.commit()
        });
        ok!(r);
    }
    check!(t.restarts > 0);
    check!(t.injected > 0);
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check_eq!(keys.len(), 200);
    ok!(b.check(T));
}

fn test_iter_across_updates() {
    let b = ok!(tree(512));
    for i in 0..100 {
        ok!(insert(&b, tkey(i * 10, i)));
    }
    let mut t = Trans::new(&b);
    let mut it = ok!(Iter::new(&mut t, T, Pos::MIN, IterFlags::NONE));
    let mut seen = 0u64;
    loop {
        let k = match it.next(&mut t) {
            Ok(Some(k)) => *k,
            Ok(None) => break,
            Err(BtreeError::Restart(r)) => {
                t.restart_wait(r);
                it = ok!(Iter::new(&mut t, T, it.pos, IterFlags::NONE));
                continue;
            }
            Err(e) => {
                check_eq!(Some(e), None);
                break;
            }
        };
        seen += 1;
        // Insert just after the key seen, in the same transaction: the
        // iterator, held across the commit, must see it next.
        if k.pos.offset % 10 == 0 && k.pos.offset < 1000 {
            loop {
                ok!(t.update(T, tkey(k.pos.offset + 5, 0)));
                match t.commit() {
                    Ok(()) => break,
                    Err(BtreeError::Restart(r)) => {
                        // A restart forgets the transaction's iterators.
                        t.restart_wait(r);
                        it = ok!(Iter::new(&mut t, T, it.pos, IterFlags::NONE));
                    }
                    Err(e) => {
                        check_eq!(Some(e), None);
                        break;
                    }
                }
            }
        }
    }
    check_eq!(seen, 200);
    // The check locks from the root down: holding the iterator's leaf
    // while it waits would invert the lock order (lockdep says so).
    t.unlock();
    ok!(b.check(T));
}

fn test_atomic_commit() {
    let b = ok!(tree(512));
    for i in 0..60 {
        ok!(insert(&b, tkey(i * 2, i)));
    }
    // Many updates in one commit, over many leaves, with splits.
    let r = Trans::new(&b).run(|t| {
        for i in 0..60 {
            t.update(T, tkey(i * 2 + 1, i))?;
            t.delete(T, p(i * 2))?;
        }
        t.commit()
    });
    ok!(r);
    let stats = ok!(b.check(T));
    check_eq!(stats.keys, 60);
    check!(stats.depth > 1);
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check!(keys.iter().all(|k| k.pos.offset % 2 == 1));
    // A batch no leaf can hold is spread over new leaves.
    let big = ok!(tree(512));
    let r = Trans::new(&big).run(|t| {
        for i in 0..60 {
            t.update(T, tkey(i, i))?;
        }
        t.commit()
    });
    ok!(r);
    let stats = ok!(big.check(T));
    check_eq!(stats.keys, 60);
    check!(stats.depth > 1);
}

fn test_split_and_merge() {
    let b = ok!(tree(512));
    for i in 0..600 {
        ok!(insert(&b, tkey(i, i)));
    }
    let full = ok!(b.check(T));
    check_eq!(full.keys, 600);
    check!(full.depth >= 3);
    for i in 0..600 {
        let r = Trans::new(&b).run(|t| {
            t.delete(T, p(i))?;
            t.commit()
        });
        ok!(r);
        if i % 50 == 0 {
            ok!(b.check(T));
        }
    }
    let empty = ok!(b.check(T));
    check_eq!(empty.keys, 0);
    // Merges (and root collapses) shrank the tree.
    check!(empty.nodes < full.nodes / 4);
    check!(empty.depth < full.depth);
}

fn test_overwrites_do_not_split_a_leaf_but_new_keys_do() {
    // 1 KiB leaves: 8 keys of 48 bytes are 3/8 live. Overwriting them
    // again and again replaces them in place: the tree does not grow.
    let b = ok!(tree(1024));
    for round in 0..40 {
        for i in 0..8 {
            ok!(insert(&b, tkey(i, round)));
        }
    }
    let stats = ok!(b.check(T));
    check_eq!(stats.keys, 8);
    check_eq!(stats.nodes, 1);
    // Distinct keys until the leaf is full and more than 2/3 live (21 keys
    // fill 1008 bytes): the next one splits it.
    for i in 8..24 {
        ok!(insert(&b, tkey(i, i)));
    }
    let stats = ok!(b.check(T));
    check_eq!(stats.keys, 24);
    check!(stats.nodes > 1);
}

}
