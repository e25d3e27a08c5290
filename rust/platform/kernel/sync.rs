// SPDX-License-Identifier: GPL-2.0

//! Synchronisation primitives on the kernel's atomics, raw spinlocks,
//! scheduler and lockdep. Same API as `platform/user/sync.rs`.

use crate::glue::ffi;
use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::{bindings, types::ARef, types::Opaque};

pub use core::sync::atomic::Ordering;

// Where the kernel's atomics are plain instructions, use them inline.
//
// On x86-64 without KASAN or KCSAN, `atomic64_*` compile to exactly what
// Rust emits for `core::sync::atomic`: lock-prefixed read-modify-writes
// (full barriers either way) and plain loads and stores (acquire and
// release under x86's TSO), with no instrumentation around them. Going
// through the C helpers then adds only a call per operation, which doubled
// the cost of an uncontended six lock (measured in the perf kernel under
// QEMU; see bench/results). With KASAN or KCSAN the kernel's atomics are
// instrumented, and on other architectures their orderings are built
// differently: there, the C helpers are used (`atomic.rs`). The debug
// kernel runs the helpers, so the tests exercise them.
#[cfg(all(CONFIG_X86_64, not(CONFIG_KASAN), not(CONFIG_KCSAN)))]
pub use core::sync::atomic::{AtomicU32, AtomicU64};

#[cfg(not(all(CONFIG_X86_64, not(CONFIG_KASAN), not(CONFIG_KCSAN))))]
pub use super::atomic::{AtomicU32, AtomicU64};

/// A failed allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

impl From<AllocError> for kernel::error::Error {
    fn from(_: AllocError) -> Self {
        kernel::error::code::ENOMEM
    }
}

/// A reference-counted pointer whose allocation may fail.
pub struct Arc<T>(kernel::sync::Arc<T>);

impl<T> Arc<T> {
    /// Allocates `value` (`GFP_KERNEL`: may sleep).
    pub fn try_new(value: T) -> Result<Self, AllocError> {
        kernel::sync::Arc::new(value, kernel::alloc::flags::GFP_KERNEL)
            .map(Self)
            .map_err(|_| AllocError)
    }

    /// Whether both point to the same allocation.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        kernel::sync::Arc::ptr_eq(&a.0, &b.0)
    }
}

impl<T> Clone for Arc<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Deref for Arc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Arc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A lock for short critical sections that never sleep: a raw spinlock,
/// which lockdep watches (all of sixfs's share one class).
pub struct SpinLock<T> {
    lock: Opaque<bindings::raw_spinlock>,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard, while the lock is held.
unsafe impl<T: Send> Send for SpinLock<T> {}
// SAFETY: as above: the lock serialises all access to the data.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new unlocked lock.
    pub fn new(value: T) -> Self {
        let lock = Opaque::uninit();
        // Moving the lock afterwards (into `Self`, and wherever `Self` goes)
        // is sound: a `raw_spinlock_t` is the lock word, with DEBUG_SPINLOCK
        // a magic, an owner CPU and an owner task, with lockdep a
        // `lockdep_map` whose key and name point to static data and whose
        // class cache points into lockdep's class table. Nothing points into
        // the lock itself, and lockdep records the lock by its address only
        // while it is held, when `SpinLockGuard` borrows the `SpinLock`.
        // SAFETY: initialises the raw spinlock in place; `lock.get()` is
        // valid for writes.
        unsafe { ffi::sixfs_raw_spin_lock_init(lock.get()) };
        Self {
            lock,
            data: UnsafeCell::new(value),
        }
    }

    /// Spins until the lock is ours.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        // SAFETY: the lock was initialised by `new`.
        unsafe { ffi::sixfs_raw_spin_lock(self.lock.get()) };
        SpinLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }
}

impl<T: Default> Default for SpinLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpinLock")
    }
}

/// Access to the data of a locked [`SpinLock`]; unlocks when dropped.
///
/// INVARIANT: the lock is held by this CPU for as long as the guard lives.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    // A raw spinlock must be released by the context that took it.
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held (type invariant), so nobody else accesses
        // the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the lock is held by this context (type invariant).
        unsafe { ffi::sixfs_raw_spin_unlock(self.lock.lock.get()) };
    }
}

/// A spinlock that readers share: a `rwlock_t`, which lockdep watches (all
/// of sixfs's share one class). For data many CPUs read at once under
/// short critical sections that never sleep (a node's keys, searched by
/// every lookup that passes through it).
pub struct RwSpinLock<T> {
    lock: Opaque<bindings::rwlock_t>,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a guard: shared references
// while read-held, the only reference while write-held.
unsafe impl<T: Send> Send for RwSpinLock<T> {}
// SAFETY: as above; readers only get `&T`, so `T: Sync` is needed for them
// to share it.
unsafe impl<T: Send + Sync> Sync for RwSpinLock<T> {}

impl<T> RwSpinLock<T> {
    /// A new unlocked lock.
    pub fn new(value: T) -> Self {
        let lock = Opaque::uninit();
        // Moving it afterwards is sound for the reasons given in
        // `SpinLock::new`: nothing points into an unheld `rwlock_t`.
        // SAFETY: initialises the rwlock in place; `lock.get()` is valid for
        // writes.
        unsafe { ffi::sixfs_rwlock_init(lock.get()) };
        Self {
            lock,
            data: UnsafeCell::new(value),
        }
    }

    /// Spins until no writer holds it; other readers may hold it too.
    pub fn read(&self) -> RwSpinLockReadGuard<'_, T> {
        // SAFETY: the lock was initialised by `new`.
        unsafe { ffi::sixfs_read_lock(self.lock.get()) };
        RwSpinLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Spins until nobody else holds it.
    pub fn write(&self) -> RwSpinLockWriteGuard<'_, T> {
        // SAFETY: the lock was initialised by `new`.
        unsafe { ffi::sixfs_write_lock(self.lock.get()) };
        RwSpinLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }
}

impl<T> fmt::Debug for RwSpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RwSpinLock")
    }
}

/// Shared access to the data of a read-held [`RwSpinLock`].
///
/// INVARIANT: this context holds the lock for reading while the guard lives.
pub struct RwSpinLockReadGuard<'a, T> {
    lock: &'a RwSpinLock<T>,
    // Released by the context that took it.
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for RwSpinLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is read-held (type invariant): no writer has the
        // data, and readers only take shared references.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for RwSpinLockReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this context holds the lock for reading (type invariant).
        unsafe { ffi::sixfs_read_unlock(self.lock.lock.get()) };
    }
}

/// Exclusive access to the data of a write-held [`RwSpinLock`].
///
/// INVARIANT: this context holds the lock for writing while the guard lives.
pub struct RwSpinLockWriteGuard<'a, T> {
    lock: &'a RwSpinLock<T>,
    // Released by the context that took it.
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for RwSpinLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is write-held (type invariant): nobody else
        // reaches the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for RwSpinLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for RwSpinLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this context holds the lock for writing (type invariant).
        unsafe { ffi::sixfs_write_unlock(self.lock.lock.get()) };
    }
}

/// A task that may sleep in [`sleep_until`] and be woken by another.
#[derive(Clone)]
pub struct Task(ARef<kernel::task::Task>);

impl Task {
    /// The calling task (holding a reference to it).
    pub fn current() -> Self {
        Self(ARef::from(kernel::current!()))
    }

    /// Wakes the task if it sleeps in [`sleep_until`]; if it is about to,
    /// it will not sleep (the wakeup is not lost).
    ///
    /// Call it on a `Task` the sleeper cannot free under the waker: the
    /// waker's own clone, or one in an `Arc` it holds (see [`sleep_until`]).
    pub fn wake(&self) {
        self.0.wake_up();
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Task({})", self.0.pid())
    }
}

/// Sleeps the calling task until `ready` returns true.
///
/// `ready` is checked after the task is marked sleeping and before each
/// `schedule()`, so a [`Task::wake`] that follows a change making `ready`
/// true is never lost. `ready` must not sleep.
///
/// Once `ready` can see the change, this may return and its caller free
/// what `ready` reads: the store making `ready` true must be the waker's
/// last touch of memory the sleeper may free, and [`Task::wake`] must then
/// use a `Task` the waker keeps alive itself (the six lock's waker holds an
/// `Arc` of each waiter). Joining threads is not built on this, as a thread
/// would still run module code after its last store: [`run_parallel`]
/// uses a completion.
pub fn sleep_until(mut ready: impl FnMut() -> bool) {
    loop {
        // SAFETY: changes only the state of the current task; the barrier it
        // implies orders the store before the check below.
        unsafe { ffi::sixfs_set_current_state_uninterruptible() };
        if ready() {
            break;
        }
        // SAFETY: we are in process context and hold no spinlock (the callers
        // of a sleeping primitive are checked by `might_sleep`).
        unsafe { bindings::schedule() };
    }
    // SAFETY: changes only the state of the current task.
    unsafe { ffi::sixfs_set_current_state_running() };
}

/// Hints the CPU that we are spinning.
#[inline]
pub fn cpu_relax() {
    core::hint::spin_loop();
}

/// Lets other tasks run; for polling loops that must not hog a CPU (the
/// test kernels do not preempt kernel code).
pub fn yield_now() {
    might_sleep();
    // SAFETY: process context, task running: this only reschedules.
    unsafe { bindings::schedule() };
}

/// Lets the scheduler run something else if it wants to: for long loops
/// in kernels that do not preempt kernel code.
#[inline]
pub fn cond_resched() {
    // SAFETY: process context; it only reschedules when needed.
    unsafe { ffi::sixfs_cond_resched() };
}

/// Marks a point that may sleep: DEBUG_ATOMIC_SLEEP complains when it is
/// reached in atomic context.
/// Without DEBUG_ATOMIC_SLEEP it does nothing (and costs no call).
#[inline]
pub fn might_sleep() {
    #[cfg(CONFIG_DEBUG_ATOMIC_SLEEP)]
    // SAFETY: no preconditions; it only checks and reports.
    unsafe {
        ffi::sixfs_might_sleep()
    };
}

/// A lockdep lock class: one per kind of lock. Must live in a `static`,
/// as lockdep requires.
pub struct LockClass(Opaque<bindings::lock_class_key>);

// SAFETY: lockdep serialises its own use of class keys.
unsafe impl Sync for LockClass {}

impl LockClass {
    /// A new class; it must be stored in a `static`.
    pub const fn new() -> Self {
        // SAFETY: an all-zero `lock_class_key` is what static storage holds
        // in C, and what lockdep expects of a static key.
        Self(Opaque::new(unsafe { core::mem::zeroed() }))
    }
}

impl Default for LockClass {
    fn default() -> Self {
        Self::new()
    }
}

/// What lockdep knows of one lock instance.
///
/// # Invariants
///
/// The `lockdep_map` was initialised for lockdep (by `new` or `untracked`),
/// and a tracked map never moves: it lives in its own allocation.
pub struct LockdepMap(MapCell);

/// Where a map lives. lockdep records a held lock by its map's address
/// and, when a lock below one in the task's held stack is released first,
/// acquires the ones above again through those addresses: a tracked map
/// must not move while held. The six lock's raw operations hold a lock
/// without borrowing it, so safe code could move it then; its tracked map
/// is therefore on the heap, where the lock's moves do not take it. An
/// untracked map (class `__lockdep_no_track__`) is never recorded as held
/// and may move with its lock.
enum MapCell {
    Untracked(Opaque<bindings::lockdep_map>),
    Tracked(KBox<Opaque<bindings::lockdep_map>>),
}

// SAFETY: lockdep's own locking covers its updates of the map; the map's
// owner only passes its address to lockdep.
unsafe impl Send for LockdepMap {}
// SAFETY: as above.
unsafe impl Sync for LockdepMap {}

impl LockdepMap {
    /// A map for a lock named `name` in class `class`, in an allocation of
    /// its own (see [`MapCell`]).
    pub fn new(name: &'static CStr, class: &'static LockClass) -> Result<Self, AllocError> {
        // SAFETY: all-zero is a valid, not yet initialised `lockdep_map`.
        let zeroed = Opaque::new(unsafe { core::mem::zeroed() });
        let map = KBox::new(zeroed, GFP_KERNEL).map_err(|_| AllocError)?;
        // SAFETY: `map` is valid for writes and stays where it is until the
        // box is dropped; `name` and `class` are static, as lockdep
        // requires.
        unsafe { ffi::sixfs_lockdep_init_map(map.get(), name.as_ptr().cast(), class.0.get()) };
        Ok(Self(MapCell::Tracked(map)))
    }

    /// A map for a lock lockdep does not track at all: for locks whose users
    /// avoid deadlocks by other means (the btree's node locks, taken in its
    /// own order with restarts, many at a time, as bcachefs's are).
    pub fn untracked(name: &'static CStr) -> Self {
        // SAFETY: all-zero is a valid, not yet initialised `lockdep_map`.
        let map = Opaque::new(unsafe { core::mem::zeroed() });
        // SAFETY: `map` is valid for writes; `name` is static. Moving the
        // map later is sound: it is never recorded as held, and its
        // pointers go to static data and lockdep's tables.
        unsafe { ffi::sixfs_lockdep_init_map_untracked(map.get(), name.as_ptr().cast()) };
        Self(MapCell::Untracked(map))
    }

    /// The map for lockdep's calls.
    #[inline]
    fn as_ptr(&self) -> *mut bindings::lockdep_map {
        match &self.0 {
            MapCell::Untracked(map) => map.get(),
            MapCell::Tracked(map) => map.get(),
        }
    }

    /// Tells lockdep the lock is being taken (`read`: shared). Without
    /// lockdep it does nothing (and costs no call).
    #[inline]
    pub fn acquire(&self, trylock: bool, read: bool) {
        #[cfg(CONFIG_LOCKDEP)]
        // SAFETY: the map was initialised (type invariant) and, if tracked,
        // stays at this address while held.
        unsafe {
            ffi::sixfs_lock_acquire(self.as_ptr(), trylock, read)
        };
        #[cfg(not(CONFIG_LOCKDEP))]
        let _ = (trylock, read);
    }

    /// Tells lockdep the lock was released.
    #[inline]
    pub fn release(&self) {
        #[cfg(CONFIG_LOCKDEP)]
        // SAFETY: as in `acquire`.
        unsafe {
            ffi::sixfs_lock_release(self.as_ptr())
        };
    }
}

/// How many locks lockdep sees the calling task hold, for tests of the
/// annotations; 0 once lockdep has turned itself off after a report.
#[cfg(CONFIG_LOCKDEP)]
pub fn lockdep_held_locks() -> u32 {
    // SAFETY: reads the current task's own count; no preconditions.
    let depth = unsafe { ffi::sixfs_lockdep_depth() };
    u32::try_from(depth).unwrap_or(0)
}

/// A thread could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnError;

/// Runs `work(0)` .. `work(threads - 1)` on as many kernel threads named
/// `name/INDEX`, and returns when all have finished: when no thread touches
/// `work` or runs this module's code any more (`glue::kthread`).
pub fn run_parallel(
    name: &'static CStr,
    threads: usize,
    work: &(dyn Fn(usize) + Sync),
) -> Result<(), SpawnError> {
    crate::glue::kthread::run_parallel(name, threads, work).map_err(|_| SpawnError)
}

/// Nanoseconds on a monotonic clock.
pub fn now_ns() -> u64 {
    // SAFETY: reads the monotonic clock; no preconditions.
    let ns = unsafe { bindings::ktime_get() };
    u64::try_from(ns).unwrap_or(0)
}

/// The calling task's pid, for introspection.
pub fn task_id() -> u64 {
    u64::try_from(kernel::current!().pid()).unwrap_or(0)
}
