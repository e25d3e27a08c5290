// SPDX-License-Identifier: GPL-2.0

//! Taking a six lock never allocates: not on its fast path, not when it
//! queues up and sleeps, not when it abandons a wait, and releasing it
//! (which grants the lock to waiters and wakes them) neither.
//!
//! In the kernel a waiter is a node in the waiting task's stack frame. In
//! userspace it is a record per thread, allocated the first time the thread
//! waits and reused for every wait after that: so each thread here waits
//! once before it measures.
//!
//! The allocations of each thread are counted by `allocation-counter`'s
//! global allocator, which counts per thread.

#![cfg(not(loom))]

use allocation_counter::measure;
use sixfs_core::platform::sync::LockClass;
use sixfs_core::six::{SixError, SixLock, SixLockType};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use SixLockType::{Intent, Read, Write};

static CLASS: LockClass = LockClass::new();

/// Waits (politely) until `done` says so.
fn until(done: impl Fn() -> bool) {
    while !done() {
        std::thread::yield_now();
    }
}

/// Another thread takes the lock with `hold`; this one then runs `wait`,
/// which must block on it. Once this thread is queued (and, after a pause,
/// asleep), the other one runs `release`, which must grant the lock to
/// this one. Neither `wait` nor `release` may allocate (`wait` only if
/// `check`: see the module's docs).
fn contended(
    check: bool,
    lock: &SixLock,
    hold: impl FnOnce() + Send,
    release: impl FnOnce() + Send,
    wait: impl FnOnce(),
) {
    let held = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let holder = scope.spawn(|| {
            hold();
            held.store(true, Ordering::Release);
            until(|| lock.has_waiters());
            std::thread::sleep(Duration::from_millis(20));
            let info = measure(release);
            assert_eq!(info.count_total, 0, "a release that wakes allocated");
        });
        until(|| held.load(Ordering::Acquire));
        let info = measure(wait);
        assert!(!check || info.count_total == 0, "a blocking lock allocated");
        holder.join().expect("holder");
    });
}

#[test]
fn blocking_locks_and_wakeups_do_not_allocate() {
    let lock = SixLock::new(c"six_alloc", &CLASS).expect("six lock");
    let lock = &lock;
    let ok = |r: Result<(), SixError>| r.expect("six lock operation");
    for round in 0..3 {
        // The first round lets userspace allocate this thread's waiter
        // record; after it, nothing may allocate.
        let check = round > 0;
        let wait = |ty| ok(lock.lock(ty));

        // Intent waits for intent.
        contended(
            check,
            lock,
            || ok(lock.lock(Intent)),
            || ok(lock.unlock(Intent)),
            || wait(Intent),
        );
        ok(lock.unlock(Intent));

        // Read waits for write.
        contended(
            check,
            lock,
            || {
                ok(lock.lock(Intent));
                ok(lock.lock(Write));
            },
            || {
                ok(lock.unlock(Write));
                ok(lock.unlock(Intent));
            },
            || wait(Read),
        );
        ok(lock.unlock(Read));

        // Write waits for a reader.
        ok(lock.lock(Intent));
        contended(
            check,
            lock,
            || ok(lock.lock(Read)),
            || ok(lock.unlock(Read)),
            || wait(Write),
        );
        ok(lock.unlock(Write));
        ok(lock.unlock(Intent));
        assert!(!lock.has_waiters());
    }
}

#[test]
fn abandoned_waits_do_not_allocate() {
    let lock = SixLock::new(c"six_alloc", &CLASS).expect("six lock");
    for round in 0..3 {
        let check = round > 0;
        let info = measure(|| {
            // Queued, then abandoned: read behind write, intent behind
            // intent, write behind a reader.
            assert!(lock.trylock(Intent));
            assert!(lock.trylock(Write));
            assert_eq!(lock.lock_with(Read, || Err(1)), Err(SixError::Aborted(1)));
            assert_eq!(lock.unlock(Write), Ok(()));
            assert_eq!(lock.lock_with(Intent, || Err(2)), Err(SixError::Aborted(2)));
            assert!(lock.trylock(Read));
            assert_eq!(lock.lock_with(Write, || Err(3)), Err(SixError::Aborted(3)));
            // Granted, then abandoned: the grant is given back (write
            // unwound), which wakes nobody here but runs the same code.
            let mut unlocked = Ok(());
            let result = lock.lock_with(Write, || {
                unlocked = lock.unlock(Read);
                Err(4)
            });
            assert_eq!(unlocked, Ok(()));
            assert_eq!(result, Err(SixError::Aborted(4)));
            assert_eq!(lock.unlock(Intent), Ok(()));
        });
        assert!(
            !check || info.count_total == 0,
            "an abandoned wait allocated"
        );
        assert!(!lock.has_waiters());
        assert_eq!(lock.counts(), Default::default());
    }
}
