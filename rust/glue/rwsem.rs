// SPDX-License-Identifier: GPL-2.0

//! The kernel's rw_semaphore, as a benchmark anchor for the six lock.

use super::ffi;
use kernel::{alloc::KBox, bindings, prelude::*, types::Opaque};

/// A reader/writer semaphore with explicit lock and unlock calls.
///
/// It lives in its own allocation: an rw_semaphore points to itself (its
/// wait list) and must not move. Unlocking a semaphore one does not hold is
/// a bug the kernel reports (with lockdep), not memory unsafety.
pub(crate) struct RwSemaphore(KBox<Opaque<bindings::rw_semaphore>>);

// SAFETY: an rw_semaphore is made to be shared between tasks.
unsafe impl Send for RwSemaphore {}
// SAFETY: as above.
unsafe impl Sync for RwSemaphore {}

impl RwSemaphore {
    /// A new, unlocked semaphore.
    pub(crate) fn new() -> Result<Self> {
        let sem = KBox::new(Opaque::uninit(), GFP_KERNEL)?;
        // SAFETY: `sem` is a valid, never moved allocation for the semaphore.
        unsafe { ffi::sixfs_init_rwsem(sem.get()) };
        Ok(Self(sem))
    }

    /// Takes it shared; may sleep.
    pub(crate) fn down_read(&self) {
        // SAFETY: the semaphore was initialised by `new`.
        unsafe { bindings::down_read(self.0.get()) };
    }

    /// Releases a shared hold.
    pub(crate) fn up_read(&self) {
        // SAFETY: as above; holding it is the caller's contract.
        unsafe { bindings::up_read(self.0.get()) };
    }

    /// Takes it exclusive; may sleep.
    pub(crate) fn down_write(&self) {
        // SAFETY: the semaphore was initialised by `new`.
        unsafe { bindings::down_write(self.0.get()) };
    }

    /// Releases an exclusive hold.
    pub(crate) fn up_write(&self) {
        // SAFETY: as above; holding it is the caller's contract.
        unsafe { bindings::up_write(self.0.get()) };
    }
}
