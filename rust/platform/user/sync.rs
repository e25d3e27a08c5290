// SPDX-License-Identifier: GPL-2.0

//! Synchronisation primitives on std, or on loom for model checking.

pub use core::sync::atomic::Ordering;

#[cfg(loom)]
use loom as base;
#[cfg(not(loom))]
use std as base;

pub use base::sync::atomic::{AtomicU32, AtomicU64};

/// A failed allocation. Userspace aborts on out-of-memory instead, so this
/// is never produced here; the kernel build returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

/// A reference-counted pointer whose allocation may fail.
#[derive(Debug)]
pub struct Arc<T>(base::sync::Arc<T>);

impl<T> Arc<T> {
    /// Allocates `value`; fails only in the kernel build.
    pub fn try_new(value: T) -> Result<Self, AllocError> {
        might_sleep();
        Ok(Self(base::sync::Arc::new(value)))
    }

    /// Whether both point to the same allocation.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        base::sync::Arc::ptr_eq(&a.0, &b.0)
    }
}

impl<T> Clone for Arc<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> core::ops::Deref for Arc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A lock for short critical sections that never sleep.
///
/// In the kernel it is a raw spinlock, under which allocating or waiting
/// is a bug the debug kernel reports; here each thread counts the ones it
/// holds, and [`might_sleep`] (which the allocating calls of
/// `platform::vec` and [`Arc::try_new`] make) fails a test that does so.
#[derive(Debug, Default)]
pub struct SpinLock<T>(base::sync::Mutex<T>);

/// Access to the data of a locked [`SpinLock`].
#[derive(Debug)]
pub struct SpinLockGuard<'a, T>(base::sync::MutexGuard<'a, T>);

impl<T> core::ops::Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> core::ops::DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        spinlocks_held(-1);
    }
}

/// A spinlock that readers share (see the kernel's); here a std `RwLock`,
/// counted as a spinlock held like [`SpinLock`].
#[derive(Debug, Default)]
pub struct RwSpinLock<T>(base::sync::RwLock<T>);

/// Shared access to the data of a read-held [`RwSpinLock`].
#[derive(Debug)]
pub struct RwSpinLockReadGuard<'a, T>(base::sync::RwLockReadGuard<'a, T>);

/// Exclusive access to the data of a write-held [`RwSpinLock`].
#[derive(Debug)]
pub struct RwSpinLockWriteGuard<'a, T>(base::sync::RwLockWriteGuard<'a, T>);

impl<T> RwSpinLock<T> {
    /// A new unlocked lock.
    pub fn new(value: T) -> Self {
        Self(base::sync::RwLock::new(value))
    }

    /// Spins until no writer holds it; other readers may hold it too.
    pub fn read(&self) -> RwSpinLockReadGuard<'_, T> {
        let guard = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        spinlocks_held(1);
        RwSpinLockReadGuard(guard)
    }

    /// Spins until nobody else holds it.
    pub fn write(&self) -> RwSpinLockWriteGuard<'_, T> {
        let guard = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        spinlocks_held(1);
        RwSpinLockWriteGuard(guard)
    }
}

impl<T> core::ops::Deref for RwSpinLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Drop for RwSpinLockReadGuard<'_, T> {
    fn drop(&mut self) {
        spinlocks_held(-1);
    }
}

impl<T> core::ops::Deref for RwSpinLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> core::ops::DerefMut for RwSpinLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> Drop for RwSpinLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        spinlocks_held(-1);
    }
}

#[cfg(not(loom))]
std::thread_local! {
    /// Spinlocks the thread holds now.
    static SPINLOCKS_HELD: core::cell::Cell<i32> = const { core::cell::Cell::new(0) };
}

/// Adds `delta` to the count of spinlocks the thread holds; returns it.
#[cfg(not(loom))]
fn spinlocks_held(delta: i32) -> i32 {
    SPINLOCKS_HELD.with(|held| {
        let n = held.get().saturating_add(delta);
        held.set(n);
        n
    })
}

#[cfg(loom)]
fn spinlocks_held(_delta: i32) -> i32 {
    0
}

impl<T> SpinLock<T> {
    /// A new unlocked lock. Not `const`: the kernel's must be initialised.
    pub fn new(value: T) -> Self {
        Self(base::sync::Mutex::new(value))
    }

    /// Spins until the lock is ours.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        // A panic while holding the lock (only in a failing test) must not
        // hide the original failure behind a poison error.
        let guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        spinlocks_held(1);
        SpinLockGuard(guard)
    }
}

/// A thread that may sleep in [`sleep_until`] and be woken by another.
#[cfg(not(loom))]
#[derive(Clone, Debug)]
pub struct Task(std::thread::Thread);

#[cfg(not(loom))]
impl Task {
    /// The calling thread.
    pub fn current() -> Self {
        Self(std::thread::current())
    }

    /// Wakes the thread if it sleeps in [`sleep_until`]; if it is about to,
    /// it will not sleep (the wakeup is not lost).
    pub fn wake(&self) {
        self.0.unpark();
    }
}

/// Sleeps the calling thread until `ready` returns true.
///
/// `ready` is checked before each sleep; whoever makes it true must then
/// call [`Task::wake`] on this thread, after publishing the change with
/// release ordering (or stronger).
#[cfg(not(loom))]
pub fn sleep_until(mut ready: impl FnMut() -> bool) {
    while !ready() {
        std::thread::park();
    }
}

// Under loom, a thread sleeps on a condition variable of its own rather
// than in `park`: loom 0.7's `unpark` also resumes a thread blocked on a
// mutex or a join, which std's never does, so a late wakeup (harmless with
// std and in the kernel) would break loom's model.

/// A thread's wakeup flag and what it sleeps on.
#[cfg(loom)]
#[derive(Debug, Default)]
struct Parker {
    woken: loom::sync::Mutex<bool>,
    wakeup: loom::sync::Condvar,
}

#[cfg(loom)]
loom::thread_local! {
    static PARKER: loom::sync::Arc<Parker> = loom::sync::Arc::new(Parker::default());
}

/// A thread that may sleep in [`sleep_until`] and be woken by another.
#[cfg(loom)]
#[derive(Clone, Debug)]
pub struct Task(loom::sync::Arc<Parker>);

#[cfg(loom)]
impl Task {
    /// The calling thread.
    pub fn current() -> Self {
        Self(PARKER.with(|parker| parker.clone()))
    }

    /// Wakes the thread if it sleeps in [`sleep_until`]; if it is about to,
    /// it will not sleep (the wakeup is not lost).
    pub fn wake(&self) {
        let mut woken = self.0.woken.lock().unwrap_or_else(|p| p.into_inner());
        *woken = true;
        self.0.wakeup.notify_one();
    }
}

/// Sleeps the calling thread until `ready` returns true (see the std
/// version above).
#[cfg(loom)]
pub fn sleep_until(mut ready: impl FnMut() -> bool) {
    let parker = PARKER.with(|parker| parker.clone());
    while !ready() {
        let mut woken = parker.woken.lock().unwrap_or_else(|p| p.into_inner());
        while !*woken {
            woken = parker.wakeup.wait(woken).unwrap_or_else(|p| p.into_inner());
        }
        *woken = false;
    }
}

/// Hints the CPU that we are spinning.
#[inline]
pub fn cpu_relax() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    core::hint::spin_loop();
}

/// Lets other threads run; for polling loops.
pub fn yield_now() {
    base::thread::yield_now();
}

/// Lets the scheduler run something else: nothing to do in userspace,
/// where threads are preempted.
#[inline]
pub fn cond_resched() {}

/// Marks a point that may sleep (or allocate): the kernel's
/// DEBUG_ATOMIC_SLEEP checks it; here a debug build fails when the thread
/// holds a [`SpinLock`], as the debug kernel would report.
#[inline]
pub fn might_sleep() {
    debug_assert!(
        spinlocks_held(0) == 0,
        "sleeping or allocating while holding a spinlock"
    );
}

/// A lockdep lock class: one per kind of lock. Nothing in userspace.
#[derive(Debug)]
pub struct LockClass;

impl LockClass {
    /// A new class; it must be stored in a `static`.
    pub const fn new() -> Self {
        Self
    }
}

impl Default for LockClass {
    fn default() -> Self {
        Self::new()
    }
}

/// What lockdep knows of one lock instance. Nothing in userspace.
#[derive(Debug)]
pub struct LockdepMap;

impl LockdepMap {
    /// A map for a lock named `name` in class `class`.
    pub fn new(
        _name: &'static core::ffi::CStr,
        _class: &'static LockClass,
    ) -> Result<Self, AllocError> {
        Ok(Self)
    }

    /// A map for a lock lockdep does not track at all.
    pub fn untracked(_name: &'static core::ffi::CStr) -> Self {
        Self
    }

    /// Tells lockdep the lock is being taken (`read`: shared).
    #[inline]
    pub fn acquire(&self, _trylock: bool, _read: bool) {}

    /// Tells lockdep the lock was released.
    #[inline]
    pub fn release(&self) {}
}

/// A thread could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnError;

/// Runs `work(0)` .. `work(threads - 1)` on as many threads named
/// `name/INDEX`, and returns when all have finished.
#[cfg(not(loom))]
pub fn run_parallel(
    name: &'static core::ffi::CStr,
    threads: usize,
    work: &(dyn Fn(usize) + Sync),
) -> Result<(), SpawnError> {
    let name = name.to_string_lossy();
    std::thread::scope(|scope| {
        let mut result = Ok(());
        for index in 0..threads {
            let spawned = std::thread::Builder::new()
                .name(format!("{name}/{index}"))
                .spawn_scoped(scope, move || work(index));
            if spawned.is_err() {
                result = Err(SpawnError);
                break;
            }
        }
        result
    })
}

/// Nanoseconds on a monotonic clock.
#[cfg(not(loom))]
pub fn now_ns() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let elapsed = START.get_or_init(std::time::Instant::now).elapsed();
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

/// A number naming the calling thread, for introspection (the kernel
/// reports the pid).
#[cfg(not(loom))]
pub fn task_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    std::thread_local! {
        static ID: u64 = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    ID.with(|id| *id)
}
