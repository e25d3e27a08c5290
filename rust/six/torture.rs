// SPDX-License-Identifier: GPL-2.0

//! A torture test of the six lock: threads doing random operations on a
//! few shared locks for a bounded number of operations, checking with
//! counters that every hold excludes what it must. It runs on kernel
//! threads from KUnit (under lockdep and KASAN) and on std threads in
//! `cargo test`.
//!
//! Besides plain locking, relocks and conversions, the threads take write
//! with their own readers taken out of the count (`readers_add`), and
//! abandon read, intent and write waits from the should-sleep hook, some of
//! them after the hook itself released what blocked them (so the lock was
//! granted before the abort and must be given back). After an abandoned
//! write wait the thread still holds intent, so nobody else can have
//! written: it checks that the sequence number is as before and that new
//! readers are let in again. After the run every lock must be idle: no
//! hold, no waiting flag, and a sequence number that counts exactly the
//! writes done.

use super::{SixError, SixLock, SixLockCounts, SixLockType};
use crate::platform::rng::Rng;
use crate::platform::sync::{run_parallel, AtomicU64, LockClass, Ordering, SpinLock};
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
    /// Intent waits abandoned by the should-sleep hook.
    pub aborts: u64,
    /// Read waits abandoned by the should-sleep hook.
    pub read_aborts: u64,
    /// Write waits abandoned by the should-sleep hook.
    pub write_aborts: u64,
    /// Writes taken with the writer's own readers taken out of the count
    /// (`readers_add`), or abandoned that way.
    pub readers_adds: u64,
}

/// How many counters [`TortureStats`] has.
const STATS: usize = 9;

impl TortureStats {
    /// Every counter, to add up or fill in one loop.
    fn counters(&mut self) -> [&mut u64; STATS] {
        [
            &mut self.ops,
            &mut self.writes,
            &mut self.relocks,
            &mut self.stale_relocks,
            &mut self.upgrades,
            &mut self.aborts,
            &mut self.read_aborts,
            &mut self.write_aborts,
            &mut self.readers_adds,
        ]
    }
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
    /// The first violation of the protocol seen on this lock.
    violation: SpinLock<Option<&'static str>>,
}

static TORTURE_CLASS: LockClass = LockClass::new();

/// Runs the torture test; the first violation (or failed operation) seen by
/// any thread is returned.
pub fn torture(config: TortureConfig) -> Result<TortureStats, TortureError> {
    let mut locks = Vec::try_with_capacity(config.locks).map_err(|_| TortureError::Alloc)?;
    for _ in 0..config.locks.max(1) {
        locks
            .try_push(Checked {
                lock: SixLock::new(c"six_torture", &TORTURE_CLASS)
                    .map_err(|_| TortureError::Alloc)?,
                readers: AtomicU64::new(0),
                intents: AtomicU64::new(0),
                writers: AtomicU64::new(0),
                data: AtomicU64::new(0),
                violation: SpinLock::new(None),
            })
            .map_err(|_| TortureError::Alloc)?;
    }
    let locks = &*locks;
    let totals: [AtomicU64; STATS] = core::array::from_fn(|_| AtomicU64::new(0));
    let failure = SpinLock::new(None::<TortureError>);

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
        for (total, n) in totals.iter().zip(stats.counters()) {
            total.fetch_add(*n, Ordering::Relaxed);
        }
    })
    .map_err(|_| TortureError::Spawn)?;

    if let Some(e) = *failure.lock() {
        return Err(e);
    }
    // Every hold was given back, aborted waits included: nothing held, no
    // waiting flag left, and the sequence number moved by two per write
    // (a write granted to an abandoned wait was unwound).
    for c in locks {
        if let Some(what) = *c.violation.lock() {
            return Err(TortureError::Violation(what));
        }
        ensure(
            c.lock.counts() == SixLockCounts::default(),
            "lock held after the run",
        )?;
        ensure(!c.lock.has_waiters(), "waiting flag left after the run")?;
        let writes = c.data.load(Ordering::Relaxed);
        ensure(
            u64::from(c.lock.seq()) == writes.wrapping_mul(2) & u64::from(u32::MAX),
            "sequence number does not count the writes",
        )?;
    }
    let mut stats = TortureStats::default();
    for (n, total) in stats.counters().into_iter().zip(&totals) {
        *n = total.load(Ordering::Relaxed);
    }
    Ok(stats)
}

/// Checks a condition of the protocol.
fn ensure(ok: bool, what: &'static str) -> Result<(), TortureError> {
    if ok {
        Ok(())
    } else {
        Err(TortureError::Violation(what))
    }
}

/// Checks a condition of the protocol inside an operation: a violation is
/// recorded (the first one per lock) and the operation carries on, so that
/// it still releases what it holds and the other threads are not left
/// waiting on it forever; the run reports it at the end.
fn check(c: &Checked, ok: bool, what: &'static str) {
    if !ok {
        c.violation.lock().get_or_insert(what);
    }
}

fn lock(c: &Checked, ty: SixLockType) -> Result<(), TortureError> {
    c.lock.lock(ty).map_err(|e| TortureError::Lock(e.widen()))
}

fn unlock(c: &Checked, ty: SixLockType) -> Result<(), TortureError> {
    c.lock.unlock(ty).map_err(|e| TortureError::Lock(e.widen()))
}

/// Inside a read hold: no writer may be in.
fn enter_read(c: &Checked) {
    c.readers.fetch_add(1, Ordering::Relaxed);
    check(
        c,
        c.writers.load(Ordering::Relaxed) == 0,
        "a reader met a writer",
    );
}

fn leave_read(c: &Checked) {
    c.readers.fetch_sub(1, Ordering::Relaxed);
}

/// Inside an intent hold: no other intent holder may be in.
fn enter_intent(c: &Checked) {
    check(
        c,
        c.intents.fetch_add(1, Ordering::Relaxed) == 0,
        "two intent holders",
    );
}

fn leave_intent(c: &Checked) {
    c.intents.fetch_sub(1, Ordering::Relaxed);
}

/// Takes write (intent held), checks it is alone, changes the data.
fn write(c: &Checked, stats: &mut TortureStats) -> Result<(), TortureError> {
    lock(c, SixLockType::Write)?;
    written(c, stats);
    unlock(c, SixLockType::Write)
}

/// With write held: checks that no other writer and no reader is in, and
/// changes the data.
fn written(c: &Checked, stats: &mut TortureStats) {
    check(
        c,
        c.writers.fetch_add(1, Ordering::Relaxed) == 0,
        "two writers",
    );
    check(
        c,
        c.readers.load(Ordering::Relaxed) == 0,
        "a writer met a reader",
    );
    c.data.fetch_add(1, Ordering::Relaxed);
    c.writers.fetch_sub(1, Ordering::Relaxed);
    stats.writes += 1;
}

fn lock_error(e: SixError) -> TortureError {
    TortureError::Lock(e.widen())
}

/// A should-sleep hook's plan: run `act` (once) at the first call, then
/// let the wait sleep `sleeps` times, then abandon it.
fn hook(mut sleeps: u64, mut act: Option<&mut dyn FnMut()>) -> impl FnMut() -> Result<(), ()> + '_ {
    move || {
        if let Some(act) = act.take() {
            act();
        }
        match sleeps.checked_sub(1) {
            Some(left) => {
                sleeps = left;
                Ok(())
            }
            None => Err(()),
        }
    }
}

/// Holding intent, after a write wait was abandoned: nobody can have
/// written since `seq` (only we could), and the flag that kept new readers
/// out is gone (only our wait sets it), so a new reader gets in.
fn check_write_abandoned(c: &Checked, seq: u32) -> Result<(), TortureError> {
    check(
        c,
        !c.lock.counts().write,
        "write held after an abandoned wait",
    );
    check(
        c,
        c.lock.seq() == seq,
        "an abandoned write wait changed seq",
    );
    if c.lock.trylock(SixLockType::Read) {
        unlock(c, SixLockType::Read)
    } else {
        check(c, false, "readers refused after an abandoned write wait");
        Ok(())
    }
}

/// Read, waiting with a hook that may give up.
fn read_or_abort(c: &Checked, rng: &mut Rng, stats: &mut TortureStats) -> Result<(), TortureError> {
    match c
        .lock
        .lock_with(SixLockType::Read, hook(rng.below(3), None))
    {
        Ok(()) => {
            enter_read(c);
            leave_read(c);
            unlock(c, SixLockType::Read)
        }
        Err(SixError::Aborted(())) => {
            stats.read_aborts += 1;
            Ok(())
        }
        Err(e) => Err(TortureError::Lock(e)),
    }
}

/// Holding intent and write, asks for read: a wait that only ends by
/// giving up, unless the hook releases our write first, which grants the
/// read to us (and whoever queued) before we give up; either way the read
/// must be given back.
fn read_abort_under_write(
    c: &Checked,
    rng: &mut Rng,
    stats: &mut TortureStats,
) -> Result<(), TortureError> {
    lock(c, SixLockType::Intent)?;
    enter_intent(c);
    lock(c, SixLockType::Write)?;
    written(c, stats);
    let seq = c.lock.seq();
    let release = rng.below(2) == 0;
    let mut released = Ok(());
    let mut release_write = || released = c.lock.unlock(SixLockType::Write);
    let act: Option<&mut dyn FnMut()> = if release {
        Some(&mut release_write)
    } else {
        None
    };
    let result = c.lock.lock_with(SixLockType::Read, hook(0, act));
    released.map_err(lock_error)?;
    match result {
        Err(SixError::Aborted(())) => stats.read_aborts += 1,
        Err(e) => return Err(TortureError::Lock(e)),
        Ok(()) => {
            check(c, false, "a read wait under write succeeded");
            unlock(c, SixLockType::Read)?;
        }
    }
    if release {
        // The hook released write, which bumped seq once more.
        check(
            c,
            c.lock.seq() == seq.wrapping_add(1),
            "seq after a write released in the hook",
        );
    } else {
        // Nobody can read under our write: the read count is back to 0.
        let counts = c.lock.counts();
        check(
            c,
            counts.read == 0 && counts.write,
            "an abandoned read wait left a reader",
        );
        check(c, c.lock.seq() == seq, "an abandoned read wait changed seq");
        unlock(c, SixLockType::Write)?;
    }
    leave_intent(c);
    unlock(c, SixLockType::Intent)
}

/// Holding intent, waits for write with a hook that gives up after a few
/// sleeps. Sometimes we hold a read lock of our own, which keeps us waiting
/// until the hook releases it (granting us write, unless others read) or
/// gives up.
fn write_or_abort(
    c: &Checked,
    rng: &mut Rng,
    stats: &mut TortureStats,
) -> Result<(), TortureError> {
    lock(c, SixLockType::Intent)?;
    enter_intent(c);
    let own_read = rng.below(2) == 0;
    if own_read {
        c.lock.increment(SixLockType::Read).map_err(lock_error)?;
    }
    let release = own_read && rng.below(2) == 0;
    let seq = c.lock.seq();
    let mut released = None;
    let mut release_read = || released = Some(c.lock.unlock(SixLockType::Read));
    let act: Option<&mut dyn FnMut()> = if release {
        Some(&mut release_read)
    } else {
        None
    };
    // Kept out by our own reader, nobody would wake us from a sleep: then
    // the hook gives up at once.
    let sleeps = if own_read && !release {
        0
    } else {
        rng.below(3)
    };
    let result = c.lock.lock_with(SixLockType::Write, hook(sleeps, act));
    let own_read = match released {
        Some(r) => {
            r.map_err(lock_error)?;
            false
        }
        None => own_read,
    };
    match result {
        Ok(()) => {
            check(c, !own_read, "write granted next to our own reader");
            written(c, stats);
            unlock(c, SixLockType::Write)?;
        }
        Err(SixError::Aborted(())) => {
            stats.write_aborts += 1;
            check_write_abandoned(c, seq)?;
        }
        Err(e) => return Err(TortureError::Lock(e)),
    }
    if own_read {
        unlock(c, SixLockType::Read)?;
    }
    leave_intent(c);
    unlock(c, SixLockType::Intent)
}

/// Holding intent and a few read locks of our own, takes write as
/// bcachefs does: our readers out of the count, write, readers back. The
/// write waits for everyone else's readers only; sometimes it gives up.
fn readers_add_write(
    c: &Checked,
    rng: &mut Rng,
    stats: &mut TortureStats,
) -> Result<(), TortureError> {
    lock(c, SixLockType::Intent)?;
    enter_intent(c);
    let own = 1 + rng.below(3);
    for _ in 0..own {
        c.lock.increment(SixLockType::Read).map_err(lock_error)?;
    }
    // At most 3.
    let n = own as i32;
    let seq = c.lock.seq();
    c.lock.readers_add(-n).map_err(lock_error)?;
    let result = if rng.below(2) == 0 {
        c.lock
            .lock_with(SixLockType::Write, hook(rng.below(3), None))
    } else {
        c.lock.lock(SixLockType::Write).map_err(SixError::widen)
    };
    stats.readers_adds += 1;
    match result {
        Ok(()) => {
            written(c, stats);
            // Back under write: then they are the only readers there are.
            c.lock.readers_add(n).map_err(lock_error)?;
            check(
                c,
                c.lock.counts().read == own as u32,
                "readers_add under write miscounted",
            );
            unlock(c, SixLockType::Write)?;
        }
        Err(SixError::Aborted(())) => {
            stats.write_aborts += 1;
            c.lock.readers_add(n).map_err(lock_error)?;
            check_write_abandoned(c, seq)?;
        }
        Err(e) => return Err(TortureError::Lock(e)),
    }
    // Our readers are real holds again.
    enter_read(c);
    leave_read(c);
    for _ in 0..own {
        unlock(c, SixLockType::Read)?;
    }
    leave_intent(c);
    unlock(c, SixLockType::Intent)
}

/// One random operation on `c`; every path leaves the lock as it found it.
fn one_op(c: &Checked, rng: &mut Rng, stats: &mut TortureStats) -> Result<(), TortureError> {
    match rng.below(12) {
        // Read, or read taken twice (increment).
        0 | 1 => {
            lock(c, SixLockType::Read)?;
            enter_read(c);
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
            enter_intent(c);
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
            enter_read(c);
            let seq = c.lock.seq();
            let data = c.data.load(Ordering::Relaxed);
            leave_read(c);
            unlock(c, SixLockType::Read)?;
            if c.lock.relock(SixLockType::Read, seq) {
                enter_read(c);
                check(
                    c,
                    c.data.load(Ordering::Relaxed) == data,
                    "relock succeeded after a write",
                );
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
            enter_read(c);
            leave_read(c);
            if c.lock.tryupgrade() {
                enter_intent(c);
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
            enter_intent(c);
            write(c, stats)?;
            leave_intent(c);
            c.lock
                .downgrade()
                .map_err(|e| TortureError::Lock(e.widen()))?;
            enter_read(c);
            leave_read(c);
            unlock(c, SixLockType::Read)
        }
        8 => read_or_abort(c, rng, stats),
        9 => read_abort_under_write(c, rng, stats),
        10 => write_or_abort(c, rng, stats),
        11 => readers_add_write(c, rng, stats),
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
                    enter_intent(c);
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
