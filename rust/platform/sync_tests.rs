// SPDX-License-Identifier: GPL-2.0

//! Tests of the platform's synchronisation primitives, run by `cargo test`
//! and as the KUnit suite `sixfs_platform_sync` (where they exercise the
//! kernel atomics, raw spinlocks and scheduler through the glue). The
//! lockdep annotations are tested only in the kernel, by
//! `platform/kernel/lockdep_tests.rs`.

use super::sync::{cpu_relax, might_sleep, now_ns, run_parallel, sleep_until, yield_now};
use super::sync::{Arc, AtomicU32, AtomicU64, Ordering, RwSpinLock, SpinLock, Task};
use crate::platform::{check, check_eq, test_suite};

test_suite! {
    sixfs_platform_sync;

    fn atomic64_round_trips_every_bit() {
        let a = AtomicU64::new(u64::MAX);
        check_eq!(a.load(Ordering::Relaxed), u64::MAX);
        a.store(1 << 63, Ordering::Release);
        check_eq!(a.load(Ordering::Acquire), 1 << 63);
        a.store(0, Ordering::Relaxed);
        check_eq!(a.load(Ordering::SeqCst), 0);
    }

    fn atomic64_rmw_returns_the_previous_value() {
        let a = AtomicU64::new(5);
        check_eq!(a.fetch_add(3, Ordering::Relaxed), 5);
        check_eq!(a.fetch_sub(1, Ordering::Acquire), 8);
        check_eq!(a.fetch_or(0x100, Ordering::Release), 7);
        check_eq!(a.fetch_and(0x0ff, Ordering::AcqRel), 0x107);
        check_eq!(a.load(Ordering::Relaxed), 7);
        // Wraps like the hardware does.
        let b = AtomicU64::new(u64::MAX);
        check_eq!(b.fetch_add(2, Ordering::SeqCst), u64::MAX);
        check_eq!(b.load(Ordering::Relaxed), 1);
    }

    fn atomic64_compare_exchange_reports_the_value_seen() {
        let a = AtomicU64::new(10);
        check_eq!(a.compare_exchange(10, 11, Ordering::Acquire, Ordering::Relaxed), Ok(10));
        check_eq!(a.compare_exchange(10, 12, Ordering::AcqRel, Ordering::Acquire), Err(11));
        check_eq!(a.compare_exchange_weak(11, u64::MAX, Ordering::Release, Ordering::Relaxed), Ok(11));
        check_eq!(a.load(Ordering::Relaxed), u64::MAX);
    }

    fn atomic32_behaves_like_atomic64() {
        let a = AtomicU32::new(u32::MAX);
        check_eq!(a.fetch_add(1, Ordering::Relaxed), u32::MAX);
        check_eq!(a.load(Ordering::Relaxed), 0);
        check_eq!(a.compare_exchange(0, 1 << 31, Ordering::SeqCst, Ordering::SeqCst), Ok(0));
        check_eq!(a.fetch_and(!0, Ordering::Relaxed), 1 << 31);
        check_eq!(a.fetch_or(1, Ordering::Relaxed), 1 << 31);
        check_eq!(a.fetch_sub(1, Ordering::Relaxed), (1 << 31) | 1);
    }

    fn spinlock_guards_its_data() {
        let lock = SpinLock::new(1u32);
        {
            let mut guard = lock.lock();
            *guard += 1;
        }
        check_eq!(*lock.lock(), 2);
    }

    fn rw_spinlock_readers_never_see_a_write_half_done() {
        // Writers set both halves under the write lock; readers, on other
        // threads at the same time, must always find them equal.
        let lock = RwSpinLock::new((0u64, 0u64));
        let torn = AtomicU64::new(0);
        let result = run_parallel(c"sixfs_test", 4, &|index| {
            for i in 0..2000u64 {
                if (i + index as u64) % 4 == 0 {
                    let mut w = lock.write();
                    w.0 = w.0.wrapping_add(1);
                    cpu_relax();
                    w.1 = w.1.wrapping_add(1);
                } else {
                    let r = lock.read();
                    if r.0 != r.1 {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        check_eq!(result, Ok(()));
        check_eq!(torn.load(Ordering::Relaxed), 0);
        let r = lock.read();
        check_eq!(*r, (2000, 2000));
    }

    fn arc_shares_one_allocation() {
        let a = Arc::try_new(7u32);
        check!(a.is_ok());
        if let Ok(a) = a {
            let b = a.clone();
            check!(Arc::ptr_eq(&a, &b));
            check_eq!(*b, 7);
            if let Ok(c) = Arc::try_new(7u32) {
                check!(!Arc::ptr_eq(&a, &c));
            }
        }
    }

    fn sleep_until_returns_when_already_ready() {
        might_sleep();
        let flag = AtomicU32::new(0);
        Task::current().wake();
        flag.store(1, Ordering::Release);
        let mut checks = 0;
        sleep_until(|| {
            checks += 1;
            flag.load(Ordering::Acquire) == 1
        });
        check_eq!(checks, 1);
        cpu_relax();
    }

    fn run_parallel_runs_every_index_once_and_joins() {
        let seen = AtomicU64::new(0);
        let sum = AtomicU64::new(0);
        let result = run_parallel(c"sixfs_test", 4, &|index| {
            seen.fetch_or(1 << index, Ordering::Relaxed);
            sum.fetch_add(index as u64, Ordering::Relaxed);
        });
        check_eq!(result, Ok(()));
        // Every thread has finished: nothing changes after the join.
        check_eq!(seen.load(Ordering::Relaxed), 0b1111);
        check_eq!(sum.load(Ordering::Relaxed), 6);
    }

    fn run_parallel_joins_again_and_again() {
        // Many short joins: each returns only once its threads are done
        // with its frame, which the next call reuses at once (the kernel's
        // join is a completion in that frame; KASAN watches it).
        for round in 0..100u64 {
            let sum = AtomicU64::new(0);
            let result = run_parallel(c"sixfs_test", 3, &|index| {
                sum.fetch_add(round + index as u64, Ordering::Relaxed);
            });
            check_eq!(result, Ok(()));
            check_eq!(sum.load(Ordering::Relaxed), 3 * round + 3);
        }
        // No threads: nothing to wait for.
        check_eq!(run_parallel(c"sixfs_test", 0, &|_| {}), Ok(()));
    }

    fn run_parallel_threads_wake_each_other() {
        // Thread 0 sleeps until thread 1 wakes it: sleeping and waking
        // across threads, as the six lock does.
        let sleeper = SpinLock::new(None::<Task>);
        let flag = AtomicU32::new(0);
        let result = run_parallel(c"sixfs_test", 2, &|index| {
            if index == 0 {
                *sleeper.lock() = Some(Task::current());
                sleep_until(|| flag.load(Ordering::Acquire) == 1);
            } else {
                let task = loop {
                    if let Some(task) = sleeper.lock().clone() {
                        break task;
                    }
                    yield_now();
                };
                flag.store(1, Ordering::Release);
                task.wake();
            }
        });
        check_eq!(result, Ok(()));
        check_eq!(flag.load(Ordering::Relaxed), 1);
    }

    fn clock_is_monotonic() {
        let a = now_ns();
        let b = now_ns();
        check!(b >= a);
    }
}
