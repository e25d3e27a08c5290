// SPDX-License-Identifier: GPL-2.0

//! The debugfs listing of transactions' locks: what a transaction holds
//! shows up under its serial number and goes when it is dropped; a
//! transaction blocked on a lock shows what it waits for.

use super::test_util::{insert, p, tkey, tree, T};
use super::trans_list::{for_each_lock, write_text, ListedLock};
use super::{Iter, IterFlags, LockInfo, LockState, Trans};
use crate::platform::ok;
use crate::platform::sync::{now_ns, run_parallel, yield_now, AtomicU64, Ordering};
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, test_suite};
use crate::six::SixLockType;
use core::fmt;

/// The locks listed for transaction `serial`.
fn listed(serial: u64) -> Vec<ListedLock> {
    let mut out = Vec::new();
    let mut failed = false;
    for_each_lock(|l| {
        if l.trans == serial {
            failed |= out.try_push(*l).is_err();
        }
    });
    if failed {
        out.clear();
    }
    out
}

/// The listing as text.
struct Text(Vec<u8>);

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0
            .try_extend_from_slice(s.as_bytes())
            .map_err(|_| fmt::Error)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Polls `cond` for up to ten seconds.
fn wait_for(cond: impl Fn() -> bool) -> bool {
    let deadline = now_ns().saturating_add(10_000_000_000);
    while !cond() {
        if now_ns() > deadline {
            return false;
        }
        yield_now();
    }
    true
}

test_suite! { sixfs_btree_trans_list;

fn test_held_locks_are_listed() {
    let b = ok!(tree(512));
    // Enough keys for a root above the leaves.
    for i in 0..100 {
        ok!(insert(&b, tkey(i, i)));
    }
    let mut t = Trans::new(&b);
    let serial = t.serial();
    check!(serial.is_some());
    let serial = serial.unwrap_or(0);
    let mut r = ok!(Iter::new(&mut t, T, p(10), IterFlags::NONE));
    check!(ok!(r.peek(&mut t)).is_some());
    let mut w = ok!(Iter::new(&mut t, T, p(90), IterFlags::INTENT));
    check!(ok!(w.peek(&mut t)).is_some());

    // Exactly what the transaction itself says it holds (each lock is
    // distinct: node and level differ).
    let own: Vec<LockInfo> = ok!(t.locks());
    let mut seen: Vec<LockInfo> = Vec::new();
    for l in listed(serial).iter() {
        check!(l.path.is_some());
        ok!(seen.try_push(l.info));
    }
    check!(!own.is_empty());
    check_eq!(own.len(), seen.len());
    for l in own.iter() {
        check!(seen.contains(l));
    }
    check!(seen.iter().any(|l| l.ty == SixLockType::Intent && l.level == 0 && l.pos == p(90)));
    check!(seen.iter().any(|l| l.ty == SixLockType::Read && l.level == 0 && l.pos == p(10)));

    let mut text = Text(Vec::new());
    check!(write_text(&mut text).is_ok());
    let mut line = Text(Vec::new());
    check!(fmt::Write::write_fmt(&mut line, format_args!("trans {serial} task ")).is_ok());
    check!(contains(&text.0, &line.0));
    check!(contains(&text.0, b" pos 1:90:0 level 0 node "));
    check!(contains(&text.0, b" intent held\n"));

    // Unlocked: nothing listed; dropped: the slot is free again.
    t.unlock();
    check!(listed(serial).is_empty());
    drop(t);
    check!(listed(serial).is_empty());
}

fn test_awaited_lock_is_listed() {
    let b = ok!(tree(1024));
    ok!(insert(&b, tkey(10, 1)));
    let leaf = ok!(b.root(T)).id;
    let holding = AtomicU64::new(0);
    let found = AtomicU64::new(0);
    let waited = AtomicU64::new(0);
    let work = |thread: usize| {
        let mut t = Trans::new(&b);
        if thread == 0 {
            // Holds intent on the only leaf until the other transaction
            // is listed waiting for it.
            let mut it = match Iter::new(&mut t, T, p(10), IterFlags::INTENT) {
                Ok(it) => it,
                Err(_) => return,
            };
            if !matches!(it.peek(&mut t), Ok(Some(_))) {
                return;
            }
            holding.store(1, Ordering::Release);
            let ours = t.serial().unwrap_or(0);
            let seen = wait_for(|| {
                let mut hit = false;
                for_each_lock(|l| {
                    hit |= l.trans != ours
                        && l.path.is_none()
                        && l.info.state == LockState::Waiting
                        && l.info.node == leaf
                        && l.info.ty == SixLockType::Intent
                        && l.info.pos == p(10);
                });
                hit
            });
            found.store(u64::from(seen), Ordering::Release);
        } else {
            if !wait_for(|| holding.load(Ordering::Acquire) != 0) {
                return;
            }
            let got = t.run(|t| {
                let mut it = Iter::new(t, T, p(10), IterFlags::INTENT)?;
                Ok(it.peek(t)?.is_some())
            });
            waited.store(u64::from(got == Ok(true)), Ordering::Release);
        }
    };
    check!(run_parallel(c"sixfs_trans_list_test", 2, &work).is_ok());
    check_eq!(found.load(Ordering::Acquire), 1);
    check_eq!(waited.load(Ordering::Acquire), 1);
}

}
