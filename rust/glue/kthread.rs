// SPDX-License-Identifier: GPL-2.0

//! Kernel threads running a borrowed closure, joined before returning.

use super::ffi;
use crate::platform::sync::{AtomicU32, Ordering, Task};
use core::ffi::{c_void, CStr};
use kernel::{error::from_err_ptr, prelude::*};

/// What every thread of one [`run_parallel`] call shares.
struct Shared<'a> {
    work: &'a (dyn Fn(usize) + Sync),
    /// Threads started and not yet finished, plus one while spawning.
    running: AtomicU32,
    spawner: Task,
}

/// One thread's start record: its index and the shared state.
struct Start<'a> {
    shared: &'a Shared<'a>,
    index: usize,
}

impl Shared<'_> {
    /// Counts one finished thread (or the spawner) out; wakes the spawner
    /// when it was the last. Touches nothing of `self` after the decrement
    /// but a task reference taken before it: the spawner may return at once.
    fn finish(&self) {
        let spawner = self.spawner.clone();
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            spawner.wake();
        }
    }
}

/// Runs `work(0)` .. `work(threads - 1)` on as many kernel threads named
/// `name/INDEX`, and returns when all have finished.
///
/// When a thread cannot be started, the ones already running are still
/// waited for, and the error is returned.
pub(crate) fn run_parallel(
    name: &'static CStr,
    threads: usize,
    work: &(dyn Fn(usize) + Sync),
) -> Result {
    let count = u32::try_from(threads).map_err(|_| EINVAL)?;
    let shared = Shared {
        work,
        running: AtomicU32::new(1),
        spawner: Task::current(),
    };
    let mut starts = KVec::with_capacity(threads, GFP_KERNEL)?;
    for index in 0..threads {
        starts.push(
            Start {
                shared: &shared,
                index,
            },
            GFP_KERNEL,
        )?;
    }

    let mut result = Ok(());
    for (index, start) in (0..count).zip(starts.iter()) {
        shared.running.fetch_add(1, Ordering::Relaxed);
        let data = (start as *const Start<'_>).cast_mut().cast::<c_void>();
        // `thread_main` gets a `Start` that outlives the thread: this
        // function does not return before every started thread has called
        // `finish`, after which the thread no longer touches it.
        let name = name.as_ptr().cast();
        // SAFETY: `data` is valid until the thread's `finish` (above); `name`
        // is a static NUL-terminated string.
        let task = unsafe { ffi::sixfs_kthread_run(Some(thread_main), data, name, index) };
        if let Err(e) = from_err_ptr(task) {
            shared.running.fetch_sub(1, Ordering::Relaxed);
            result = Err(e);
            break;
        }
    }
    // Count the spawner out, then wait for the threads.
    shared.finish();
    crate::platform::sync::sleep_until(|| shared.running.load(Ordering::Acquire) == 0);
    result
}

/// The body of each kernel thread.
///
/// # Safety
///
/// `data` must point to a `Start` that stays valid until `finish` is called.
unsafe extern "C" fn thread_main(data: *mut c_void) -> kernel::ffi::c_int {
    // SAFETY: the caller (`run_parallel`) passes a valid `Start`.
    let start = unsafe { &*data.cast::<Start<'_>>() };
    (start.shared.work)(start.index);
    start.shared.finish();
    0
}
