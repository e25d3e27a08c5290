// SPDX-License-Identifier: GPL-2.0

//! The platform layer: the only part of the shared core that differs between
//! the kernel module and the userspace build.
//!
//! Everything above it (six locks, keys, nodes, iterators, journal) is plain
//! safe Rust that names `crate::platform::...` and compiles unchanged in
//! both. The kernel build passes `--cfg sixfs_kernel` (see `Kbuild`); the
//! userspace build may pass `--cfg loom` to model-check with loom.
//!
//! Both implementations offer the same API:
//!
//! - `sync`: `Ordering`, `AtomicU64`, `AtomicU32` (kernel atomics in the
//!   module), `SpinLock<T>` (a raw spinlock in the kernel: nothing that may
//!   sleep while it is held — no allocation, no blocking lock; userspace
//!   cannot catch this, the debug kernel does), `RwSpinLock<T>` (the
//!   same for data that readers share: a `rwlock_t` in the kernel),
//!   `Task` (a handle
//!   that can wake a sleeping thread) and `sleep_until`, `Arc<T>` with
//!   fallible `try_new`, `AllocError`, `cpu_relax`, `might_sleep`, and
//!   `LockClass`/`LockdepMap` for lockdep (no-ops in userspace),
//!   `run_parallel` on threads, `yield_now`, `now_ns`.
//! - `vec`: `Vec<T>`, a growable array with fallible growth.
//! - `rng`: `Rng`, the one pseudo-random generator of workloads and tests
//!   (plain Rust, the same in both builds).
//! - `sort`: `insertion_sort_by_key` for small slices (no `core` sort).
//! - `wait`: `WaitList`, a FIFO of `Waiter`s that allocates nothing: in
//!   the kernel an intrusive list of pinned waiters in the waiting tasks'
//!   stack frames, under a raw spinlock; in userspace the same API over a
//!   record per thread, allocated at its first wait.
//! - `crc32c`: the checksum of the on-disk format (`crc32c`,
//!   `crc32c_update`), the same function in both builds.
//! - the test harness: `test_suite!`, `check!`, `check_eq!`, `ok!`,
//!   `TestResult`.

#[cfg(sixfs_kernel)]
mod kernel;
#[cfg(sixfs_kernel)]
pub use kernel::*;

#[cfg(not(sixfs_kernel))]
#[forbid(unsafe_code)]
mod user;
#[cfg(not(sixfs_kernel))]
pub use user::*;

#[forbid(unsafe_code)]
pub mod crc32c;
#[forbid(unsafe_code)]
pub mod rng;
#[forbid(unsafe_code)]
pub mod sort;

/// Unwraps a `Result` in a test case: on `Err`, reports it and fails the
/// case (a kernel test must not panic).
#[cfg(any(test, CONFIG_KUNIT))]
macro_rules! ok {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => {
                $crate::platform::check_eq!(Some(e), None);
                return Err($crate::platform::TestFailed);
            }
        }
    };
}
#[cfg(any(test, CONFIG_KUNIT))]
pub(crate) use ok;

// With KUnit, `deny` rather than `forbid` (see rust/sixfs.rs).
#[cfg(any(test, CONFIG_KUNIT))]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod crc32c_tests;
#[cfg(any(test, CONFIG_KUNIT))]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod sync_tests;
#[cfg(any(test, CONFIG_KUNIT))]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod vec_tests;
#[cfg(any(test, CONFIG_KUNIT))]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod wait_tests;
