// SPDX-License-Identifier: GPL-2.0

//! Tests of the platform's wait lists, run by `cargo test` and as the KUnit
//! suite `sixfs_platform_wait` (where they exercise the kernel's intrusive
//! list of waiters in stack frames, under KASAN and lockdep).

use super::sync::{run_parallel, sleep_until, yield_now, AtomicU32, Ordering};
use super::wait::{Grant, WaitList, Waiter};
use crate::platform::{check, check_eq, test_suite};
use core::pin::pin;

/// Grants the oldest waiter tagged `tag`; whether there was one.
fn grant(list: &WaitList, tag: u32) -> bool {
    let granted = list.lock().grant_oldest(tag, || true);
    match granted {
        Grant::Granted(task) => {
            // Woken after the list is unlocked, as the six lock does (a
            // wakeup of a running task, ours in most cases, is harmless).
            task.wake();
            true
        }
        Grant::Nobody | Grant::Refused => false,
    }
}

test_suite! {
    sixfs_platform_wait;

    fn grants_go_to_the_oldest_of_a_tag() {
        let list = WaitList::new();
        let a = pin!(Waiter::new(&list, 0));
        let b = pin!(Waiter::new(&list, 1));
        let c = pin!(Waiter::new(&list, 0));
        let (a, b, c) = (a.as_ref(), b.as_ref(), c.as_ref());
        let mut guard = list.lock();
        check!(!guard.any(0));
        check!(a.enqueue(&mut guard));
        check!(b.enqueue(&mut guard));
        check!(c.enqueue(&mut guard));
        check!(guard.is_first(a));
        check!(!guard.is_first(b));
        check!(guard.any(0) && guard.any(1) && !guard.any(2));
        // A refused grant leaves the waiter queued.
        check!(matches!(guard.grant_oldest(0, || false), Grant::Refused));
        check!(!a.granted());
        check!(matches!(guard.grant_oldest(2, || true), Grant::Nobody));
        drop(guard);

        check!(grant(&list, 0));
        check!(a.granted() && !b.granted() && !c.granted());
        check!(list.lock().is_first(b));
        // The next of tag 0 is behind b.
        check!(grant(&list, 0));
        check!(c.granted() && !b.granted());
        check!(!grant(&list, 0));
        let mut guard = list.lock();
        check!(!guard.any(0));
        check!(guard.is_first(b));
        // Granted ones are out of the list; b leaves by itself.
        check!(!a.dequeue(&mut guard));
        check!(b.dequeue(&mut guard));
        check!(!b.dequeue(&mut guard));
        check!(!guard.any(1));
        check!(!b.granted());
    }

    fn leaving_keeps_the_others_in_order() {
        let list = WaitList::new();
        let a = pin!(Waiter::new(&list, 7));
        let b = pin!(Waiter::new(&list, 7));
        let c = pin!(Waiter::new(&list, 7));
        let d = pin!(Waiter::new(&list, 7));
        let (a, b, c, d) = (a.as_ref(), b.as_ref(), c.as_ref(), d.as_ref());
        let mut guard = list.lock();
        for waiter in [a, b, c, d] {
            check!(waiter.enqueue(&mut guard));
        }
        // Out of the middle, the head and the tail.
        check!(b.dequeue(&mut guard));
        check!(guard.is_first(a));
        check!(a.dequeue(&mut guard));
        check!(guard.is_first(c));
        check!(d.dequeue(&mut guard));
        check!(guard.is_first(c));
        // And back in at the tail.
        check!(a.enqueue(&mut guard));
        drop(guard);
        check!(grant(&list, 7));
        check!(c.granted() && !a.granted());
        check!(grant(&list, 7));
        check!(a.granted());
        check!(!grant(&list, 7));
    }

    fn a_dropped_waiter_leaves_the_list() {
        let list = WaitList::new();
        let first = pin!(Waiter::new(&list, 1));
        let first = first.as_ref();
        check!(first.enqueue(&mut list.lock()));
        {
            let gone = pin!(Waiter::new(&list, 2));
            check!(gone.as_ref().enqueue(&mut list.lock()));
            check!(list.lock().any(2));
        }
        // Its frame is gone: the list no longer reaches it.
        check!(!list.lock().any(2));
        let last = pin!(Waiter::new(&list, 1));
        let last = last.as_ref();
        check!(last.enqueue(&mut list.lock()));
        check!(grant(&list, 1));
        check!(grant(&list, 1));
        check!(first.granted() && last.granted());
        check!(!grant(&list, 2));
    }

    fn a_waiter_belongs_to_one_list_once() {
        let list = WaitList::new();
        let other = WaitList::new();
        let w = pin!(Waiter::new(&list, 0));
        let w = w.as_ref();
        check!(!w.enqueue(&mut other.lock()));
        check!(!other.lock().any(0));
        let mut guard = list.lock();
        check!(w.enqueue(&mut guard));
        check!(!w.enqueue(&mut guard));
        drop(guard);
        check!(!w.dequeue(&mut other.lock()));
        check!(list.lock().any(0));
    }

    fn threads_hand_off_through_the_list() {
        // Two threads queue up again and again, sometimes leaving at once
        // (racing with the grant); a third grants whoever is queued. A
        // waiter's frame is reused for the next wait as soon as it sees its
        // grant, while the granter may still be on its way out.
        const WAITS: u32 = 1000;
        let list = WaitList::new();
        let finished = AtomicU32::new(0);
        let failures = AtomicU32::new(0);
        let granted = AtomicU32::new(0);
        let left = AtomicU32::new(0);
        let spawned = run_parallel(c"sixfs_wait_test", 3, &|thread| {
            if thread == 0 {
                while finished.load(Ordering::Acquire) < 2 {
                    if grant(&list, 0) {
                        granted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        yield_now();
                    }
                }
                return;
            }
            for i in 0..WAITS {
                let waiter = pin!(Waiter::new(&list, 0));
                let waiter = waiter.as_ref();
                if !waiter.enqueue(&mut list.lock()) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                if i % 4 == 0 && waiter.dequeue(&mut list.lock()) {
                    left.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                sleep_until(|| waiter.granted());
            }
            finished.fetch_add(1, Ordering::Release);
        });
        check!(spawned.is_ok());
        check_eq!(failures.load(Ordering::Relaxed), 0);
        check_eq!(
            granted.load(Ordering::Relaxed) + left.load(Ordering::Relaxed),
            2 * WAITS
        );
        check!(!list.lock().any(0));
    }
}
