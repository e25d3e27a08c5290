// SPDX-License-Identifier: GPL-2.0

//! Lock workloads: the same operation sequences for every lock measured
//! (sixfs's six lock, the kernel's rw_semaphore, std and parking_lot locks
//! in userspace). bench/anchor runs the identical workloads in C for
//! bcachefs's six lock, so all of them are compared in one boot.

use super::{measure, Measurement, Rng};
use crate::platform::sync::{AllocError, AtomicU64, LockClass, Ordering, SpawnError};
use crate::platform::vec::Vec;
use crate::six::{SixLock, SixLockType};

/// A lock with read, intent and write modes, each running a closure with
/// the lock held. Locks without an intent mode (rw_semaphore, RwLock) take
/// it as exclusive, and write as exclusive too.
///
/// Each returns whether the lock was taken (a sleeping lock may fail to
/// allocate what it needs to wait; then `f` does not run); a failure fails
/// the run. The closures are generic, so they inline: the measured code is
/// the lock and unlock.
pub trait BenchLock: Sync {
    /// Runs `f` holding read.
    fn read(&self, f: impl FnOnce()) -> bool;
    /// Runs `f` holding intent (excluding other intents and writers).
    fn intent(&self, f: impl FnOnce()) -> bool;
    /// Runs `f` holding intent, then write on top of it.
    fn write(&self, f: impl FnOnce()) -> bool;
}

/// The workloads, by name suffix (the command is "LOCK_WORKLOAD").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Read lock+unlock of the thread's own lock (uncontended).
    Read,
    /// Intent lock+unlock of the thread's own lock.
    Intent,
    /// Intent+write lock, then unlock both, on the thread's own lock.
    Write,
    /// 70% read, 20% intent, 10% write, all threads on one lock.
    MixedOne,
    /// The same mix on a random one of [`MANY_LOCKS`] locks.
    MixedMany,
}

/// How many locks `MixedMany` spreads over.
pub const MANY_LOCKS: usize = 1024;

impl Workload {
    /// Every workload with its name.
    pub const ALL: [(&'static str, Workload); 5] = [
        ("read", Workload::Read),
        ("intent", Workload::Intent),
        ("write", Workload::Write),
        ("mixed_one", Workload::MixedOne),
        ("mixed_many", Workload::MixedMany),
    ];

    /// The workload named `name`.
    pub fn from_name(name: &str) -> Option<Workload> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|&(_, w)| w)
    }
}

/// The lock class of the benchmark's six locks.
pub static BENCH_SIX_CLASS: LockClass = LockClass::new();

/// sixfs's six lock through its raw operations, as the btree uses it: the
/// one implementation both the kernel's perf_test and sixfs-bench measure.
/// Unlocking what the workload just locked cannot fail.
impl BenchLock for SixLock {
    fn read(&self, f: impl FnOnce()) -> bool {
        held(self, SixLockType::Read, f)
    }
    fn intent(&self, f: impl FnOnce()) -> bool {
        held(self, SixLockType::Intent, f)
    }
    fn write(&self, f: impl FnOnce()) -> bool {
        let mut wrote = false;
        held(self, SixLockType::Intent, || {
            wrote = held(self, SixLockType::Write, f)
        }) && wrote
    }
}

/// Runs `f` with `lock` held as `ty`; false if it could not be taken.
#[inline]
fn held(lock: &SixLock, ty: SixLockType, f: impl FnOnce()) -> bool {
    if lock.lock(ty).is_err() {
        return false;
    }
    f();
    let _ = lock.unlock(ty);
    true
}

/// Why a workload did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError {
    /// Locks could not be allocated.
    Alloc,
    /// Threads could not be started.
    Spawn,
    /// The locks let two writers in, or a reader next to a writer, or a
    /// lock could not be taken.
    ExclusionViolated,
}

impl From<AllocError> for RunError {
    fn from(_: AllocError) -> Self {
        RunError::Alloc
    }
}

impl From<SpawnError> for RunError {
    fn from(_: SpawnError) -> Self {
        RunError::Spawn
    }
}

/// A lock and the data it guards: the writer count checks exclusion.
///
/// Each on its own cache line (64 bytes on x86), whatever the lock's size,
/// so that threads on their own locks never share a line; the C anchor
/// (bench/anchor/sixfs_anchor.c) aligns its `struct guarded` the same way,
/// so that both harnesses compare the locks, not their layouts.
#[repr(align(64))]
struct Guarded<L> {
    lock: L,
    writers: AtomicU64,
}

/// Runs `workload` for `count` iterations on `threads` threads, over locks
/// made by `new_lock`, and checks that the locks excluded what they must.
pub fn run<L: BenchLock>(
    workload: Workload,
    count: u64,
    threads: u32,
    mut new_lock: impl FnMut() -> Result<L, AllocError>,
) -> Result<Measurement, RunError> {
    let nr_locks = match workload {
        Workload::MixedOne => 1,
        Workload::MixedMany => MANY_LOCKS,
        _ => threads as usize,
    };
    let mut locks = Vec::try_with_capacity(nr_locks)?;
    for _ in 0..nr_locks {
        locks.try_push(Guarded {
            lock: new_lock()?,
            writers: AtomicU64::new(0),
        })?;
    }
    let violations = AtomicU64::new(0);
    let locks = &*locks;
    let m = measure(c"sixfs_perf", count, threads, &|thread, iters| {
        let mut rng = Rng::new(thread as u64 + 1);
        let mut bad = 0;
        for _ in 0..iters {
            let (guarded, op) = match workload {
                Workload::Read => (&locks[thread], 0),
                Workload::Intent => (&locks[thread], 70),
                Workload::Write => (&locks[thread], 90),
                Workload::MixedOne => (&locks[0], rng.below(100)),
                Workload::MixedMany => (
                    &locks[rng.below(MANY_LOCKS as u64) as usize],
                    rng.below(100),
                ),
            };
            bad += one_op(guarded, op);
        }
        violations.fetch_add(bad, Ordering::Relaxed);
    })?;
    if violations.load(Ordering::Relaxed) != 0 {
        return Err(RunError::ExclusionViolated);
    }
    Ok(m)
}

/// One operation: `op` < 70 reads, < 90 takes intent, else writes.
/// Returns 1 if the lock failed to exclude a writer or to be taken.
#[inline]
fn one_op<L: BenchLock>(g: &Guarded<L>, op: u64) -> u64 {
    let mut bad = 0;
    let taken = if op < 70 {
        g.lock
            .read(|| bad = u64::from(g.writers.load(Ordering::Relaxed) != 0))
    } else if op < 90 {
        g.lock.intent(|| {})
    } else {
        g.lock.write(|| {
            bad = g.writers.fetch_add(1, Ordering::Relaxed);
            g.writers.fetch_sub(1, Ordering::Relaxed);
        })
    };
    if taken {
        bad
    } else {
        1
    }
}
