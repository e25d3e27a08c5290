// SPDX-License-Identifier: GPL-2.0

//! Commits and extents, case by case: each case is a sequence that once
//! failed (issue 9 of the tracker), kept so it cannot come back.

use super::test_util::{all_keys, ext, insert, insert_extent, p, tkey, tree, T};
use super::{Iter, IterFlags, RestartReason, Trans, MAX_DEPTH};
use crate::bkey::{BtreePtr, Key, TestVal, Value, TEST_VAL_MAX};
use crate::platform::ok;
use crate::platform::rng::Rng;
use crate::platform::sync::{now_ns, run_parallel, yield_now, AtomicU32, AtomicU64, Ordering};
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, test_suite};

/// The value of a test key, if it is one.
fn val(k: &Key) -> Option<u64> {
    match k.value {
        Value::Test(v) => v.as_u64(),
        _ => None,
    }
}

/// The extents of inode 1 as (start, end, value).
fn extents(b: &super::Btree) -> super::BtreeResult<Vec<(u64, u64, u64)>> {
    let mut out = Vec::new();
    for k in all_keys(b, IterFlags::EXTENTS)?.iter() {
        out.try_push((k.start(), k.pos.offset, val(k).unwrap_or(u64::MAX)))?;
    }
    Ok(out)
}

/// Whether the extents of inode 1 are exactly `model` (the value of each
/// sector, 0 for none).
fn extents_match(b: &super::Btree, model: &[u64]) -> super::BtreeResult<bool> {
    let mut seen = Vec::new();
    seen.try_extend_with(model.len(), 0u64)?;
    let mut last_end = 0;
    for (start, end, v) in extents(b)?.iter().copied() {
        if start < last_end || v == 0 {
            return Ok(false);
        }
        last_end = end;
        for s in start..end {
            match usize::try_from(s).ok().and_then(|s| seen.get_mut(s)) {
                Some(slot) => *slot = v,
                None => return Ok(false),
            }
        }
    }
    Ok(seen.iter().eq(model.iter()))
}

test_suite! { sixfs_btree_commit;

fn set_pos_into_another_leaf_then_commit() {
    // A path moved to a position its leaf does not cover has read nothing
    // there: the commit must not insist on relocking it (it restarted
    // forever, ending in TooManyRestarts).
    let b = ok!(tree(512));
    for i in 0..300 {
        ok!(insert(&b, tkey(i, i)));
    }
    let mut t = Trans::new(&b);
    let r = t.run(|t| {
        let mut it = Iter::new(t, T, p(5), IterFlags::NONE)?;
        it.peek(t)?;
        it.set_pos(t, p(290))?;
        t.update(T, tkey(290, 1000))?;
        t.commit()
    });
    ok!(r);
    check!(t.restarts < 10);
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check_eq!(keys.iter().find(|k| k.pos == p(290)).and_then(val), Some(1000));
}

fn overlapping_extents_in_one_transaction() {
    // The second extent must trim the first, which is only queued.
    let b = ok!(tree(1024));
    let r = Trans::new(&b).run(|t| {
        t.insert_extent(T, ext(0, 10, 1))?;
        t.insert_extent(T, ext(5, 15, 2))?;
        t.commit()
    });
    ok!(r);
    check_eq!(&ok!(extents(&b))[..], &[(0, 5, 1), (5, 15, 2)][..]);
    // Over keys already in the tree too: the middle of a queued extent
    // that itself split a stored one.
    ok!(insert_extent(&b, ext(20, 40, 3)));
    let r = Trans::new(&b).run(|t| {
        t.insert_extent(T, ext(25, 35, 4))?;
        t.insert_extent(T, ext(28, 30, 5))?;
        t.insert_extent(T, ext(2, 22, 6))?;
        t.commit()
    });
    ok!(r);
    check_eq!(
        &ok!(extents(&b))[..],
        &[(0, 2, 1), (2, 22, 6), (22, 25, 3), (25, 28, 4), (28, 30, 5), (30, 35, 4), (35, 40, 3)][..]
    );
    ok!(b.check(T));
}

fn extents_in_one_transaction_match_a_model() {
    // Random batches of overlapping extents, each batch one commit,
    // against a sector model; small nodes so batches span leaves.
    let b = ok!(tree(512));
    let mut model = Vec::new();
    ok!(model.try_extend_with(256, 0u64));
    let mut rng = Rng::new(0xe7e7);
    let mut v = 0u64;
    for _ in 0..150 {
        let n = rng.below(4) + 1;
        let mut batch = [(0u64, 0u64, 0u64); 4];
        for slot in batch.iter_mut().take(n as usize) {
            let start = rng.below(250);
            let len = rng.below(24).saturating_add(1).min(256 - start);
            v += 1;
            *slot = (start, start + len, v);
        }
        let r = Trans::new(&b).run(|t| {
            for &(s, e, v) in batch.iter().take(n as usize) {
                t.insert_extent(T, ext(s, e, v))?;
            }
            t.commit()
        });
        ok!(r);
        for &(s, e, v) in batch.iter().take(n as usize) {
            for sector in s..e {
                if let Some(m) = model.get_mut(sector as usize) {
                    *m = v;
                }
            }
        }
        check!(ok!(extents_match(&b, &model)));
    }
    ok!(b.check(T));
}

fn small_extent_in_front_of_many() {
    // The scan for extents to trim stops at the first one that starts at
    // or after the new end: it used to intent-lock every later leaf and
    // run out of paths (TooBig).
    let b = ok!(tree(512));
    for i in 0..3000 {
        ok!(insert_extent(&b, ext(10 + 2 * i, 11 + 2 * i, 1)));
    }
    let mut t = Trans::new(&b);
    let r = t.run(|t| {
        t.insert_extent(T, ext(0, 3, 2))?;
        t.commit()
    });
    ok!(r);
    // One that does overlap a few, in front of the rest.
    ok!(insert_extent(&b, ext(2, 15, 3)));
    let got = ok!(extents(&b));
    check_eq!(got.len(), 3000 - 3 + 2);
    check_eq!(got.first().copied(), Some((0, 2, 2)));
    check_eq!(got.get(1).copied(), Some((2, 15, 3)));
    check_eq!(got.get(2).copied(), Some((16, 17, 1)));
    ok!(b.check(T));
}

fn a_commit_that_fails_changes_nothing() {
    // The second update cannot go into a leaf (a child pointer): the
    // commit fails, and the first must not have landed either.
    let b = ok!(tree(1024));
    ok!(insert(&b, tkey(1, 1)));
    let ptr = Key::new(p(3), Value::BtreePtr(BtreePtr { node: 1, seq: 0 }));
    let mut t = Trans::new(&b);
    let r = t.run(|t| {
        t.update(T, tkey(2, 2))?;
        t.update(T, ptr)?;
        t.commit()
    });
    check!(r.is_err());
    check!(!r.is_err_and(|e| e.is_restart()));
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check_eq!(keys.len(), 1);
    check_eq!(keys.first().map(|k| k.pos), Some(p(1)));
    ok!(b.check(T));
    // A key too big for the tree's nodes, after one that fits.
    let small = ok!(tree(256));
    let big = TestVal::new(&[7; TEST_VAL_MAX]).map(|v| Key::new(p(3), Value::Test(v)));
    let big = ok!(big.ok_or(()));
    let r = Trans::new(&small).run(|t| {
        t.update(T, tkey(2, 2))?;
        t.update(T, big)?;
        t.commit()
    });
    check!(r.is_err());
    check_eq!(ok!(all_keys(&small, IterFlags::NONE)).len(), 0);
}

fn a_reader_never_makes_a_writer_restart() {
    // A writer waits for another transaction's read lock to go instead of
    // restarting (it used to spin, then restart with WriteLock).
    let b = ok!(tree(1024));
    ok!(insert(&b, tkey(1, 1)));
    let reading = AtomicU32::new(0);
    let write_restarts = AtomicU64::new(u64::MAX);
    let work = |i: usize| {
        if i == 0 {
            let mut reader = Trans::new(&b);
            if let Ok(mut it) = Iter::new(&mut reader, T, p(1), IterFlags::NONE) {
                let _ = it.peek(&mut reader);
            }
            reading.store(1, Ordering::Release);
            // Hold the read lock while the writer comes.
            let until = now_ns().saturating_add(500_000_000);
            while now_ns() < until {
                yield_now();
            }
        } else {
            while reading.load(Ordering::Acquire) == 0 {
                yield_now();
            }
            let mut writer = Trans::new(&b);
            let r = writer.run(|t| {
                t.update(T, tkey(2, 2))?;
                t.commit()
            });
            if r.is_ok() {
                let n = writer.restarts_by_reason[RestartReason::WriteLock as usize];
                write_restarts.store(n, Ordering::Relaxed);
            }
        }
    };
    check!(run_parallel(c"sixfs_write_wait", 2, &work).is_ok());
    check_eq!(write_restarts.load(Ordering::Relaxed), 0);
    check_eq!(ok!(all_keys(&b, IterFlags::NONE)).len(), 2);
}

fn a_leaf_held_across_commits_goes_to_a_waiter_at_the_next_commit() {
    // An iterator that commits key after key keeps its leaf locked from
    // one commit to the next, but not from another thread that waits for
    // it: that one gets the leaf after the holder's next commit, not when
    // the holder's whole run ends.
    const COMMITS: u64 = 200_000;
    let b = ok!(tree(1024));
    for i in 0..8 {
        ok!(insert(&b, tkey(i, i)));
    }
    let waiting = AtomicU32::new(0);
    let written = AtomicU32::new(0);
    let seen_written = AtomicU32::new(0);
    let work = |i: usize| {
        if i == 0 {
            let mut holder = Trans::new(&b);
            let seen = holder.run(|t| {
                let mut it = Iter::new(t, T, p(0), IterFlags::INTENT)?;
                it.peek(t)?;
                // The leaf is held: the other thread may come.
                waiting.store(1, Ordering::Release);
                for round in 0..COMMITS {
                    if written.load(Ordering::Acquire) != 0 {
                        return Ok(1);
                    }
                    it.set_pos(t, p(round % 4))?;
                    it.peek(t)?;
                    it.update(t, tkey(round % 4, round))?;
                    t.commit()?;
                    if round % 64 == 0 {
                        // Even on one CPU the other thread gets to wait.
                        yield_now();
                    }
                }
                Ok(0)
            });
            seen_written.store(seen.unwrap_or(0), Ordering::Release);
        } else {
            while waiting.load(Ordering::Acquire) == 0 {
                yield_now();
            }
            let r = Trans::new(&b).run(|t| {
                t.update(T, tkey(6, 66))?;
                t.commit()
            });
            if r.is_ok() {
                written.store(1, Ordering::Release);
            }
        }
    };
    check!(run_parallel(c"sixfs_hold_commit", 2, &work).is_ok());
    check_eq!(written.load(Ordering::Acquire), 1);
    check_eq!(seen_written.load(Ordering::Acquire), 1);
    ok!(b.check(T));
}

fn lock_order_restart_raises_locks_want() {
    // A read path and an intent path in one transaction, while another
    // thread keeps taking intent on the leaf: after one LockOrder restart
    // the read path takes intent too, so the pattern cannot repeat.
    let b = ok!(tree(1024));
    for i in 0..8 {
        ok!(insert(&b, tkey(i, i)));
    }
    let stop = AtomicU32::new(0);
    let worst = AtomicU64::new(0);
    let work = |i: usize| {
        if i == 0 {
            let mut other = Trans::new(&b);
            while stop.load(Ordering::Acquire) == 0 {
                let _ = other.run(|t| {
                    let mut it = Iter::new(t, T, p(4), IterFlags::INTENT)?;
                    it.peek(t)?;
                    yield_now();
                    Ok(())
                });
            }
        } else {
            let mut most = 0;
            for round in 0..200u64 {
                let mut t = Trans::new(&b);
                let _ = t.run(|t| {
                    let mut r = Iter::new(t, T, p(2), IterFlags::NONE)?;
                    r.peek(t)?;
                    let mut w = Iter::new(t, T, p(3), IterFlags::INTENT)?;
                    w.peek(t)?;
                    t.update(T, tkey(3, round))?;
                    t.commit()
                });
                most = most.max(t.restarts_by_reason[RestartReason::LockOrder as usize]);
            }
            worst.store(most, Ordering::Relaxed);
            stop.store(1, Ordering::Release);
        }
    };
    check!(run_parallel(c"sixfs_locks_want", 2, &work).is_ok());
    check!(worst.load(Ordering::Relaxed) <= 1);
}


fn a_commit_lets_raised_locks_want_down_again() {
    // A raised locks_want (a read holder that waited for intent, or a
    // split) lasts until the next commit, not for the rest of the run:
    // otherwise every later path of a long run wants intent up to the
    // root, and threads writing leaves of their own take turns at it.
    let b = ok!(tree(512));
    for i in 0..200 {
        ok!(insert(&b, tkey(i, i)));
    }
    let mut t = Trans::new(&b);
    let (raised, after_commits, later) = ok!(t.run(|t| {
        let mut it = Iter::new(t, T, p(0), IterFlags::INTENT)?;
        t.raise_locks_want(T, MAX_DEPTH as u8);
        let mut raised = Iter::new(t, T, p(5), IterFlags::INTENT)?;
        raised.peek(t)?;
        let raised = t.path(raised.path_idx())?.locks_want;
        let mut after_commits = true;
        for i in 0..20u64 {
            it.set_pos(t, p(i))?;
            it.peek(t)?;
            it.update(t, tkey(i, i + 1))?;
            t.commit()?;
            after_commits &= t.paths.iter().all(|p| p.locks_want <= p.level + 1);
        }
        let later = Iter::new(t, T, p(30), IterFlags::INTENT)?;
        Ok((raised, after_commits, t.path(later.path_idx())?.locks_want))
    }));
    check_eq!(raised, MAX_DEPTH as u8);
    check!(after_commits);
    check_eq!(later, 1);
}

fn an_extent_written_into_a_leaf_the_trim_scan_passed_is_trimmed() {
    // The scan for extents a new one overlaps passes leaves with nothing
    // in range. If another transaction then writes an overlapping extent
    // into one of them before the commit, the commit must see that leaf
    // change (and run again), or both extents stay, overlapping.
    let b = ok!(tree(512));
    for i in 0..300 {
        ok!(insert_extent(&b, ext(10 * i, 10 * i + 5, i + 1)));
    }
    // A leaf boundary `m`, the end of the last extent of a leaf.
    let m = ok!(Trans::new(&b).run(|t| {
        let mut it = Iter::new(t, T, p(0), IterFlags::EXTENTS)?;
        let first_leaf_max = loop {
            if it.next(t)?.is_none() {
                return Ok(None);
            }
            let max = t.path(it.path_idx())?.node().map(|n| n.max);
            if max.is_some_and(|m| m.offset > 1000) {
                break max;
            }
        };
        Ok(first_leaf_max.map(|m| m.offset))
    }));
    let Some(m) = m else {
        check!(false);
        return Ok(());
    };
    check_eq!(m % 10, 5);
    // The leaf keeps covering up to `m`, with nothing after `m - 10`.
    ok!(insert(&b, Key::deleted(p(m))));
    let mut first_run = true;
    let r = Trans::new(&b).run(|t| {
        t.insert_extent(T, ext(m - 4, m + 7, 1000))?;
        if first_run {
            // Between the scan and the commit (held locks dropped, as a
            // wait would): an extent inside the scanned range, in the
            // leaf that ends at `m`.
            first_run = false;
            t.unlock();
            insert_extent(&b, ext(m - 3, m - 1, 2000))?;
        }
        t.commit()
    });
    ok!(r);
    let mut last_end = 0;
    for (start, end, _) in ok!(extents(&b)).iter().copied() {
        check!(start >= last_end);
        last_end = end;
    }
    check_eq!(
        ok!(extents(&b)).iter().find(|e| e.0 <= m - 4 && e.1 > m - 4).map(|e| e.2),
        Some(1000)
    );
}

fn keys_written_in_order_fill_their_leaves() {
    // An insert past a full leaf's last key starts a new leaf instead of
    // halving the full one: the leaves of keys written in order end up
    // full, not half empty. Test keys take 48 bytes.
    const KEYS: u64 = 3000;
    let b = ok!(tree(1024));
    for i in 0..KEYS {
        ok!(insert(&b, tkey(i, i)));
    }
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check_eq!(keys.len() as u64, KEYS);
    check!(keys.iter().enumerate().all(|(i, k)| k.pos == p(i as u64) && val(k) == Some(i as u64)));
    // Halving every full leaf takes about twice the bytes of the keys in
    // leaves alone; full leaves, with interior nodes, well under 1.5x.
    let node_bytes = b.nr_nodes() as u64 * 1024;
    check!(node_bytes * 2 < KEYS * 48 * 3);
    // Overwrites of the same size and deletions fit in the full leaves:
    // no split.
    let nodes = b.nr_nodes();
    for i in (0..KEYS).step_by(7) {
        ok!(insert(&b, tkey(i, i + 1)));
    }
    for i in (3..KEYS).step_by(7) {
        ok!(insert(&b, Key::deleted(p(i))));
    }
    check_eq!(b.nr_nodes(), nodes);
    let keys = ok!(all_keys(&b, IterFlags::NONE));
    check_eq!(keys.len() as u64, KEYS - KEYS.div_ceil(7));
    check!(keys.iter().all(|k| k.pos.offset % 7 != 3
        && val(k) == Some(k.pos.offset + u64::from(k.pos.offset % 7 == 0))));
    ok!(b.check(T));
}
}
