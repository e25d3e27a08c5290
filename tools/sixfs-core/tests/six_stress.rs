// SPDX-License-Identifier: GPL-2.0

//! Stress tests of the six lock on std threads, each bounded in work and
//! guarded by a watchdog that fails the run if it stops making progress (a
//! lost wakeup or a deadlock):
//!
//! - more threads than cores doing random operations (guards and raw,
//!   relocks, upgrades, downgrades, increments, readers_add, waits that
//!   give up in the should-sleep hook) on a few locks, checking exclusion
//!   and relock invariants as they go;
//! - a writer that gives up its wait while readers queue behind it;
//! - a write unlock waking more queued readers than one wakeup pass takes.

#![cfg(not(loom))]

use sixfs_core::perf::Rng;
use sixfs_core::platform::sync::LockClass;
use sixfs_core::six::{SixError, SixLock, SixLockCounts, SixLockType};
use std::cmp::Ordering::{Equal, Greater, Less};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

static CLASS: LockClass = LockClass::new();

const THREADS: usize = 6;
const LOCKS: usize = 3;
const ITERATIONS: u64 = 80_000;
/// The run fails if it takes longer than this (it takes about a second).
const DEADLINE: Duration = Duration::from_secs(20);

/// One reader inside.
const READER: u64 = 1;
/// The reader bits.
const READERS: u64 = INTENT - 1;
/// The intent holder inside.
const INTENT: u64 = 1 << 20;
/// The writer inside.
const WRITER: u64 = 1 << 21;

/// A lock and what it guards.
struct Guarded {
    lock: SixLock,
    /// Who is inside (see the constants above), entered and left with
    /// read-modify-writes, which see each other exactly.
    inside: AtomicU64,
    /// The data: the number of writes, bumped under write.
    version: AtomicU64,
}

/// What the threads count, to check against the locks at the end.
#[derive(Default)]
struct Totals {
    writes: AtomicU64,
    aborts: AtomicU64,
    relocks: AtomicU64,
    relock_failures: AtomicU64,
    upgrades: AtomicU64,
    sleeps: AtomicU64,
}

impl Guarded {
    fn new() -> Self {
        Self {
            lock: SixLock::new(c"six_stress", &CLASS).expect("six lock"),
            inside: AtomicU64::new(0),
            version: AtomicU64::new(0),
        }
    }

    /// Under read or intent: the data matches the sequence number.
    fn check_stable(&self) {
        let seq = u64::from(self.lock.seq());
        assert_eq!(seq % 2, 0, "seq odd without write");
        assert_eq!(
            self.version.load(Ordering::Relaxed),
            seq / 2,
            "data and seq disagree"
        );
    }

    fn enter_read(&self) {
        let before = self.inside.fetch_add(READER, Ordering::Relaxed);
        assert_eq!(before & WRITER, 0, "reader next to a writer");
        self.check_stable();
    }

    fn leave_read(&self) {
        self.inside.fetch_sub(READER, Ordering::Relaxed);
    }

    fn enter_intent(&self) {
        let before = self.inside.fetch_add(INTENT, Ordering::Relaxed);
        assert_eq!(before & (INTENT | WRITER), 0, "two intent holders");
        self.check_stable();
    }

    fn leave_intent(&self) {
        self.inside.fetch_sub(INTENT, Ordering::Relaxed);
    }

    /// Under write, holding intent and `own_readers` read locks (taken out
    /// of the count with readers_add).
    fn write(&self, own_readers: u64, totals: &Totals) {
        let before = self.inside.fetch_add(WRITER, Ordering::Relaxed);
        assert_eq!(before & WRITER, 0, "two writers");
        assert_ne!(before & INTENT, 0, "writer without intent");
        assert_eq!(before & READERS, own_readers, "writer next to a reader");
        assert_eq!(self.lock.seq() % 2, 1, "seq even under write");
        self.version.fetch_add(1, Ordering::Relaxed);
        // Let others pile up behind us now and then.
        if self.version.load(Ordering::Relaxed) % 4 == 0 {
            std::thread::yield_now();
        }
        totals.writes.fetch_add(1, Ordering::Relaxed);
        self.inside.fetch_sub(WRITER, Ordering::Relaxed);
    }
}

/// A should-sleep hook that gives up at its `patience`-th call (never if
/// `patience` is 0), and counts the sleeps.
fn hook(patience: u64, totals: &Totals) -> impl FnMut() -> Result<(), u64> + '_ {
    let mut calls = 0;
    move || {
        calls += 1;
        totals.sleeps.fetch_add(1, Ordering::Relaxed);
        if patience != 0 && calls >= patience {
            Err(calls)
        } else {
            Ok(())
        }
    }
}

/// Read, remember the sequence number and data, drop, maybe relock.
fn read_then_relock(g: &Guarded, rng: &mut Rng, totals: &Totals) {
    let Ok(guard) = g.lock.read() else {
        panic!("read failed");
    };
    g.enter_read();
    if rng.below(4) == 0 {
        std::thread::yield_now();
    }
    let seq = guard.seq();
    let version = g.version.load(Ordering::Relaxed);
    g.leave_read();
    drop(guard);
    if rng.below(2) == 0 {
        std::thread::yield_now();
    }
    let ty = if rng.below(2) == 0 {
        SixLockType::Read
    } else {
        SixLockType::Intent
    };
    if g.lock.relock(ty, seq) {
        // Nothing was written in between.
        assert_eq!(
            g.version.load(Ordering::Relaxed),
            version,
            "relock after a write"
        );
        totals.relocks.fetch_add(1, Ordering::Relaxed);
        if ty == SixLockType::Read {
            g.enter_read();
            g.leave_read();
        } else {
            g.enter_intent();
            g.leave_intent();
        }
        g.lock.unlock(ty).unwrap();
    } else {
        totals.relock_failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// Intent, write (maybe with our own read holds taken out of the count, or
/// giving up in the should-sleep hook), then maybe downgrade.
fn intent_write(g: &Guarded, rng: &mut Rng, totals: &Totals) {
    let intent = match g.lock.intent_with(hook(rng.below(4), totals)) {
        Ok(intent) => intent,
        Err(SixError::Aborted(_)) => {
            totals.aborts.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(e) => panic!("intent: {e:?}"),
    };
    let mut intent = intent;
    g.enter_intent();
    // Readers of our own, as a btree path holding read on the same node.
    let own = rng.below(3);
    for _ in 0..own {
        g.lock.increment(SixLockType::Read).unwrap();
        g.inside.fetch_add(READER, Ordering::Relaxed);
    }
    g.lock.readers_add(-(own as i32)).unwrap();
    match intent.write_with(hook(rng.below(4), totals)) {
        Ok(_write) => {
            g.lock.readers_add(own as i32).unwrap();
            g.write(own, totals);
            g.lock.readers_add(-(own as i32)).unwrap();
        }
        Err(SixError::Aborted(_)) => {
            totals.aborts.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => panic!("write: {e:?}"),
    }
    g.lock.readers_add(own as i32).unwrap();
    for _ in 0..own {
        g.inside.fetch_sub(READER, Ordering::Relaxed);
        g.lock.unlock(SixLockType::Read).unwrap();
    }
    g.check_stable();
    if rng.below(2) == 0 {
        g.leave_intent();
        drop(intent);
        return;
    }
    g.leave_intent();
    let read = intent.downgrade().ok().expect("downgrade");
    g.enter_read();
    g.leave_read();
    drop(read);
}

/// Read, then try to upgrade and write.
fn read_upgrade(g: &Guarded, totals: &Totals) {
    let guard = match g.lock.read_with(hook(3, totals)) {
        Ok(guard) => guard,
        Err(SixError::Aborted(_)) => {
            totals.aborts.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(e) => panic!("read: {e:?}"),
    };
    g.enter_read();
    g.leave_read();
    match guard.try_upgrade() {
        Ok(mut intent) => {
            totals.upgrades.fetch_add(1, Ordering::Relaxed);
            g.enter_intent();
            if let Some(_write) = intent.try_write() {
                g.write(0, totals);
            }
            g.leave_intent();
        }
        Err(guard) => drop(guard),
    }
}

/// Raw operations: read held on a lower lock while taking intent on a
/// higher one (lock order by index, so no deadlock), with increments.
fn raw_two_locks(low: &Guarded, high: &Guarded, totals: &Totals) {
    low.lock.lock(SixLockType::Read).unwrap();
    low.enter_read();
    low.lock.increment(SixLockType::Read).unwrap();
    high.lock.lock(SixLockType::Intent).unwrap();
    high.enter_intent();
    high.lock.increment(SixLockType::Intent).unwrap();
    high.lock.lock(SixLockType::Write).unwrap();
    high.write(0, totals);
    high.lock.unlock(SixLockType::Write).unwrap();
    high.lock.unlock(SixLockType::Intent).unwrap();
    high.leave_intent();
    high.lock.unlock(SixLockType::Intent).unwrap();
    low.lock.unlock(SixLockType::Read).unwrap();
    low.leave_read();
    low.lock.unlock(SixLockType::Read).unwrap();
}

/// Runs `f` with a watchdog that aborts the process (printing `locks`) if
/// `f` has not returned by the deadline.
fn with_watchdog<R>(locks: &[&SixLock], progress: &AtomicU64, f: impl FnOnce() -> R) -> R {
    let done = AtomicBool::new(false);
    let start = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if start.elapsed() > DEADLINE {
                    eprintln!(
                        "six_stress: stuck after {} operations: {locks:?}",
                        progress.load(Ordering::Relaxed),
                    );
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let result = f();
        done.store(true, Ordering::Relaxed);
        result
    })
}

#[test]
fn six_lock_under_contention() {
    let locks: Vec<Guarded> = (0..LOCKS).map(|_| Guarded::new()).collect();
    let totals = Totals::default();
    let progress = AtomicU64::new(0);
    let start = Instant::now();
    let all: Vec<&SixLock> = locks.iter().map(|g| &g.lock).collect();
    with_watchdog(&all, &progress, || {
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let (locks, totals, progress) = (&locks, &totals, &progress);
                scope.spawn(move || {
                    let mut rng = Rng::new(thread as u64 + 1);
                    for _ in 0..ITERATIONS {
                        let a = rng.below(LOCKS as u64) as usize;
                        let g = &locks[a];
                        match rng.below(10) {
                            0..=3 => read_then_relock(g, &mut rng, totals),
                            4..=6 => intent_write(g, &mut rng, totals),
                            7..=8 => read_upgrade(g, totals),
                            _ => {
                                // In index order, which prevents deadlocks.
                                let b = rng.below(LOCKS as u64) as usize;
                                match a.cmp(&b) {
                                    Less => raw_two_locks(g, &locks[b], totals),
                                    Greater => raw_two_locks(&locks[b], g, totals),
                                    Equal => {}
                                }
                            }
                        }
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
    });

    let writes: u64 = locks
        .iter()
        .map(|g| g.version.load(Ordering::Relaxed))
        .sum();
    for g in &locks {
        assert_eq!(g.lock.counts(), SixLockCounts::default());
        assert!(!g.lock.has_waiters(), "waiting flag left over");
        assert_eq!(
            u64::from(g.lock.seq()),
            2 * g.version.load(Ordering::Relaxed)
        );
        assert_eq!(g.inside.load(Ordering::Relaxed), 0);
    }
    assert_eq!(writes, totals.writes.load(Ordering::Relaxed));
    eprintln!(
        "six_stress: {} threads, {} operations in {:?}: {} writes, {} relocks ({} refused), \
         {} upgrades, {} sleeps, {} aborted waits",
        THREADS,
        THREADS as u64 * ITERATIONS,
        start.elapsed(),
        writes,
        totals.relocks.load(Ordering::Relaxed),
        totals.relock_failures.load(Ordering::Relaxed),
        totals.upgrades.load(Ordering::Relaxed),
        totals.sleeps.load(Ordering::Relaxed),
        totals.aborts.load(Ordering::Relaxed),
    );
    // Every kind of event happened, or the test tested less than it says.
    assert!(writes > 0 && totals.relocks.load(Ordering::Relaxed) > 0);
    assert!(totals.relock_failures.load(Ordering::Relaxed) > 0);
    assert!(totals.upgrades.load(Ordering::Relaxed) > 0);
    assert!(totals.aborts.load(Ordering::Relaxed) > 0);
}

/// A writer that gives up its wait must let in the readers that queued
/// behind it, even if nothing else happens to the lock afterwards.
#[test]
fn aborted_writer_lets_queued_readers_in() {
    const ROUNDS: u64 = 300;
    let lock = SixLock::new(c"six_stress_abort", &CLASS).expect("six lock");
    let progress = AtomicU64::new(0);
    with_watchdog(&[&lock], &progress, || {
        for _ in 0..ROUNDS {
            // We hold read throughout the round: the writer must wait.
            let first = lock.read().expect("read");
            let reader_started = AtomicBool::new(false);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    let mut intent = lock.intent().expect("intent");
                    let result = intent.write_with(|| {
                        // Give the reader time to queue behind us.
                        while !reader_started.load(Ordering::Acquire) {
                            std::thread::yield_now();
                        }
                        for _ in 0..20 {
                            std::thread::yield_now();
                        }
                        Err(())
                    });
                    assert!(matches!(result, Err(SixError::Aborted(()))));
                });
                scope.spawn(|| {
                    // Wait for the writer to be waiting, then read.
                    while !lock.has_waiters() {
                        std::thread::yield_now();
                    }
                    reader_started.store(true, Ordering::Release);
                    drop(lock.read().expect("read"));
                });
            });
            drop(first);
            progress.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert_eq!(lock.counts(), SixLockCounts::default());
    assert!(!lock.has_waiters());
    assert_eq!(lock.seq(), 0);
}

/// A write unlock wakes every reader queued behind it, more than one
/// wakeup pass holds.
#[test]
fn write_unlock_wakes_every_queued_reader() {
    const ROUNDS: u64 = 40;
    const READERS: usize = 12;
    let lock = SixLock::new(c"six_stress_readers", &CLASS).expect("six lock");
    let progress = AtomicU64::new(0);
    with_watchdog(&[&lock], &progress, || {
        for _ in 0..ROUNDS {
            let mut intent = lock.intent().expect("intent");
            let write = intent.write().expect("write");
            let started = AtomicU64::new(0);
            let inside = AtomicU64::new(0);
            std::thread::scope(|scope| {
                for _ in 0..READERS {
                    scope.spawn(|| {
                        started.fetch_add(1, Ordering::Relaxed);
                        let guard = lock.read().expect("read");
                        inside.fetch_add(1, Ordering::Relaxed);
                        drop(guard);
                    });
                }
                // Let them all queue up, then let them all in at once.
                while started.load(Ordering::Relaxed) < READERS as u64 {
                    std::thread::yield_now();
                }
                std::thread::sleep(Duration::from_millis(2));
                assert_eq!(inside.load(Ordering::Relaxed), 0, "reader next to a writer");
                drop(write);
            });
            assert_eq!(inside.load(Ordering::Relaxed), READERS as u64);
            drop(intent);
            progress.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert_eq!(lock.counts(), SixLockCounts::default());
    assert!(!lock.has_waiters());
    assert_eq!(u64::from(lock.seq()), 2 * ROUNDS);
}
