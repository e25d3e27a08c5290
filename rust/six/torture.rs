// SPDX-License-Identifier: GPL-2.0

//! A torture test of the six lock: threads doing random operations on a
//! few shared locks for a bounded number of operations, checking with
//! counters that every hold excludes what it must. It runs on kernel
//! threads from KUnit (under lockdep and KASAN) and on std threads in
//! `cargo test`.

use super::{SixError, SixLock, SixLockType};
use crate::platform::rng::Rng;
use crate::platform::sync::{run_parallel, AtomicU64, LockClass, Ordering};
use crate::platform::vec::Vec;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct TortureConfig {
    /// Threads, each doing `ops` operations.
    pub threads: usize,
    /// Locks shared by all threads: few, so that they contend.
    pub locks: usize,
    /// Operations per thread.
    pub ops: u64,
}

/// What ran, by kind of operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TortureStats {
    /// Operations in all.
    pub ops: u64,
    /// Writes done (intent then write).
    pub writes: u64,
    /// Relocks that succeeded (nothing was written meanwhile).
    pub relocks: u64,
    /// Relocks refused because a write came in between.
    pub stale_relocks: u64,
    /// Read locks upgraded to intent.
    pub upgrades: u64,
    /// Waits abandoned by the should-sleep hook.
    pub aborts: u64,
}

/// Why the torture test failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TortureError {
    /// The locks could not be allocated.
    Alloc,
    /// The threads could not be started.
    Spawn,
    /// A lock operation failed that must not.
    Lock(SixError<()>),
    /// A hold did not exclude what it must (the text says which).
    Violation(&'static str),
}

/// One lock and the counters that check it.
struct Checked {
    lock: SixLock,
    /// Threads inside a read hold.
    readers: AtomicU64,
    /// Threads inside an intent hold: never more than one.
    intents: AtomicU64,
    /// Threads inside a write hold: never more than one, never with readers.
    writers: AtomicU64,
    /// Changed only under the write lock: what relock protects.
    data: AtomicU64,
}

static TORTURE_CLASS: LockClass = LockClass::new();

/// Runs the torture test; the first violation (or failed operation) seen by
/// any thread is returned.
pub fn torture(config: TortureConfig) -> Result<TortureStats, TortureError> {
    let mut locks = Vec::try_with_capacity(config.locks).map_err(|_| TortureError::Alloc)?;
    for _ in 0..config.locks.max(1) {
        locks
            .try_push(Checked {
                lock: SixLock::new(c"six_torture", &TORTURE_CLASS),
                readers: AtomicU64::new(0),
                intents: AtomicU64::new(0),
                writers: AtomicU64::new(0),
                data: AtomicU64::new(0),
            })
            .map_err(|_| TortureError::Alloc)?;
    }
    let locks = &*locks;
    let totals: [AtomicU64; 6] = core::array::from_fn(|_| AtomicU64::new(0));
    let failure = crate::platform::sync::SpinLock::new(None::<TortureError>);

    run_parallel(c"six_torture", config.threads, &|thread| {
        let mut rng = Rng::new(0x5eed ^ thread as u64);
        let mut stats = TortureStats::default();
        for _ in 0..config.ops {
            let lock = locks.get(rng.below(locks.len() as u64) as usize);
            let Some(lock) = lock else { break };
            if let Err(e) = one_op(lock, &mut rng, &mut stats) {
                failure.lock().get_or_insert(e);
                break;
            }
            stats.ops += 1;
        }
        let counts = [
            stats.ops,
            stats.writes,
            stats.relocks,
            stats.stale_relocks,
            stats.upgrades,
            stats.aborts,
        ];
        for (total, n) in totals.iter().zip(counts) {
            total.fetch_add(n, Ordering::Relaxed);
        }
    })
    .map_err(|_| TortureError::Spawn)?;

    if let Some(e) = *failure.lock() {
        return Err(e);
    }
    let [ops, writes, relocks, stale_relocks, upgrades, aborts] =
        totals.map(|t| t.load(Ordering::Relaxed));
    Ok(TortureStats {
        ops,
        writes,
        relocks,
        stale_relocks,
        upgrades,
        aborts,
    })
}

/// Checks a condition of the protocol.
fn ensure(ok: bool, what: &'static str) -> Result<(), TortureError> {
    if ok {
        Ok(())
    } else {
        Err(TortureError::Violation(what))
    }
}

fn lock(c: &Checked, ty: SixLockType) -> Result<(), TortureError> {
    c.lock.lock(ty).map_err(|e| TortureError::Lock(e.widen()))
}

fn unlock(c: &Checked, ty: SixLockType) -> Result<(), TortureError> {
    c.lock.unlock(ty).map_err(|e| TortureError::Lock(e.widen()))
}

/// Inside a read hold: no writer may be in.
fn enter_read(c: &Checked) -> Result<(), TortureError> {
    c.readers.fetch_add(1, Ordering::Relaxed);
    ensure(
        c.writers.load(Ordering::Relaxed) == 0,
        "a reader met a writer",
    )
}

fn leave_read(c: &Checked) {
    c.readers.fetch_sub(1, Ordering::Relaxed);
}

/// Inside an intent hold: no other intent holder may be in.
fn enter_intent(c: &Checked) -> Result<(), TortureError> {
    ensure(
        c.intents.fetch_add(1, Ordering::Relaxed) == 0,
        "two intent holders",
    )
}

fn leave_intent(c: &Checked) {
    c.intents.fetch_sub(1, Ordering::Relaxed);
}

/// Takes write (intent held), checks it is alone, changes the data.
fn write(c: &Checked, stats: &mut TortureStats) -> Result<(), TortureError> {
    lock(c, SixLockType::Write)?;
    ensure(
        c.writers.fetch_add(1, Ordering::Relaxed) == 0,
        "two writers",
    )?;
    ensure(
        c.readers.load(Ordering::Relaxed) == 0,
        "a writer met a reader",
    )?;
    c.data.fetch_add(1, Ordering::Relaxed);
    c.writers.fetch_sub(1, Ordering::Relaxed);
    stats.writes += 1;
    unlock(c, SixLockType::Write)
}

/// One random operation on `c`; every path leaves the lock as it found it.
fn one_op(c: &Checked, rng: &mut Rng, stats: &mut TortureStats) -> Result<(), TortureError> {
    match rng.below(8) {
        // Read, or read taken twice (increment).
        0 | 1 => {
            lock(c, SixLockType::Read)?;
            enter_read(c)?;
            let twice = rng.below(2) == 0;
            if twice {
                c.lock
                    .increment(SixLockType::Read)
                    .map_err(|e| TortureError::Lock(e.widen()))?;
                unlock(c, SixLockType::Read)?;
            }
            leave_read(c);
            unlock(c, SixLockType::Read)
        }
        // Intent, sometimes writing.
        2 | 3 => {
            lock(c, SixLockType::Intent)?;
            enter_intent(c)?;
            if rng.below(2) == 0 {
                write(c, stats)?;
            }
            leave_intent(c);
            unlock(c, SixLockType::Intent)
        }
        // Read, note the sequence and the data, let go, relock: a relock
        // that succeeds must find the data unchanged.
        4 => {
            lock(c, SixLockType::Read)?;
            enter_read(c)?;
            let seq = c.lock.seq();
            let data = c.data.load(Ordering::Relaxed);
            leave_read(c);
            unlock(c, SixLockType::Read)?;
            if c.lock.relock(SixLockType::Read, seq) {
                enter_read(c)?;
                ensure(
                    c.data.load(Ordering::Relaxed) == data,
                    "relock succeeded after a write",
                )?;
                stats.relocks += 1;
                leave_read(c);
                unlock(c, SixLockType::Read)
            } else {
                stats.stale_relocks += 1;
                Ok(())
            }
        }
        // Read, upgraded to intent when nobody else has intent.
        5 => {
            lock(c, SixLockType::Read)?;
            enter_read(c)?;
            leave_read(c);
            if c.lock.tryupgrade() {
                enter_intent(c)?;
                stats.upgrades += 1;
                leave_intent(c);
                unlock(c, SixLockType::Intent)
            } else {
                unlock(c, SixLockType::Read)
            }
        }
        // Intent, write, then downgraded to read.
        6 => {
            lock(c, SixLockType::Intent)?;
            enter_intent(c)?;
            write(c, stats)?;
            leave_intent(c);
            c.lock
                .downgrade()
                .map_err(|e| TortureError::Lock(e.widen()))?;
            enter_read(c)?;
            leave_read(c);
            unlock(c, SixLockType::Read)
        }
        // Intent with a should-sleep hook that gives up after a few sleeps:
        // either held (and released) or not held at all.
        _ => {
            let mut sleeps = rng.below(3);
            let taken = c
                .lock
                .lock_with(SixLockType::Intent, || match sleeps.checked_sub(1) {
                    Some(left) => {
                        sleeps = left;
                        Ok(())
                    }
                    None => Err(()),
                });
            match taken {
                Ok(()) => {
                    enter_intent(c)?;
                    leave_intent(c);
                    unlock(c, SixLockType::Intent)
                }
                Err(SixError::Aborted(())) => {
                    stats.aborts += 1;
                    Ok(())
                }
                Err(e) => Err(TortureError::Lock(e)),
            }
        }
    }
}
