// SPDX-License-Identifier: GPL-2.0

//! Kernel threads: [`run_parallel`] runs a borrowed closure on several and
//! joins them before returning; [`Periodic`] runs an owned closure every
//! so often until it is dropped.
//!
//! The join is a `struct completion` in the spawner's frame. A thread's last
//! touch of that frame is `complete()`, made by `kthread_complete_and_exit`,
//! core kernel code that never returns to this module. A counter that the
//! spawner polls would not do: a thread still inside `fetch_sub(&self)` when
//! the spawner sees zero and returns holds a reference to a freed frame
//! (rust-lang/rust#55005), and it still runs this module's code after
//! counting itself out, which an unload could then free under it.

use super::ffi;
use core::ffi::{c_void, CStr};
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{bindings, error::from_err_ptr, prelude::*, sync::Arc, types::Opaque};

/// One thread's start record, in the spawner's vector.
struct Start<'a> {
    work: &'a (dyn Fn(usize) + Sync),
    index: usize,
    /// The spawner's completion, completed once by each thread.
    done: *mut bindings::completion,
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
    // `complete()` counts up to UINT_MAX - 1; UINT_MAX means "complete_all".
    let count = u32::try_from(threads)
        .ok()
        .filter(|&n| n < u32::MAX)
        .ok_or(EINVAL)?;
    // Pinned: an initialised completion's wait list points to itself.
    let done = pin!(Opaque::<bindings::completion>::uninit());
    // SAFETY: `done` is valid for writes and pinned, so it stays where it was
    // initialised until it is dropped, after the last wait below.
    unsafe { ffi::sixfs_init_completion(done.get()) };

    let mut starts = KVec::with_capacity(threads, GFP_KERNEL)?;
    for index in 0..threads {
        starts.push(
            Start {
                work,
                index,
                done: done.get(),
            },
            GFP_KERNEL,
        )?;
    }

    // No push after this: the records stay put while threads read them.
    let mut result = Ok(());
    let mut started = 0;
    for (index, start) in (0..count).zip(starts.iter()) {
        let data = (start as *const Start<'_>).cast_mut().cast::<c_void>();
        let name = name.as_ptr().cast();
        // `thread_main` gets a `Start` that stays valid, with the closure and
        // the completion it points to, until the thread's `complete()` of
        // `done` is done with it: this function waits for that below.
        // SAFETY: `data` is valid for the thread's life (above); `name` is a
        // static NUL-terminated string.
        let task = unsafe { ffi::sixfs_kthread_run(Some(thread_main), data, name, index) };
        if let Err(e) = from_err_ptr(task) {
            result = Err(e);
            break;
        }
        started += 1;
    }

    for _ in 0..started {
        // TASK_IDLE: not woken by signals (the threads use this frame until
        // they finish), and not reported as hung: a perf_test write waits
        // here for minutes under the debug kernel.
        // SAFETY: `done` was initialised above and is pinned; we are in
        // process context (the callers may sleep), holding no spinlock.
        unsafe { bindings::wait_for_completion_state(done.get(), bindings::TASK_IDLE) };
    }
    // Every started thread has completed `done`, and each `complete()` has
    // finished with it: the last wait took `done`'s lock and found the
    // `started`-th count there, and each `complete()` counts under that lock
    // and releases it as its last access to `done`, so all of them had
    // released it before (the kernel's `completion_done()` relies on the
    // same). A thread that failed to start never runs `thread_main`. After
    // its `complete()` a thread runs only `kthread_exit`: nothing of this
    // frame, the closure or this module's code. `done`, `starts` and the
    // closure may go.
    result
}

/// The body of each kernel thread.
///
/// # Safety
///
/// `data` must point to a `Start` whose closure, record and completion stay
/// valid until this thread's `complete()` of `Start::done` is done with it.
unsafe extern "C" fn thread_main(data: *mut c_void) -> kernel::ffi::c_int {
    let done = {
        // SAFETY: `run_parallel` passes a valid `Start` (the caller's
        // promise). The reference and `start.work` live only in this block,
        // before `done` is completed.
        let start = unsafe { &*data.cast::<Start<'_>>() };
        (start.work)(start.index);
        start.done
    };
    // `complete()` is the last access to the spawner's frame, made with no
    // reference to it alive in this thread; `kthread_complete_and_exit` is
    // core kernel code that never returns, so no module code runs after it.
    // SAFETY: `done` is the spawner's initialised completion, valid until
    // `complete()` here is done with it (the caller's promise).
    unsafe { bindings::kthread_complete_and_exit(done, 0) }
}

/// What a [`Periodic`] thread runs, boxed so that it stays put.
struct PeriodicWork {
    work: Arc<dyn Fn() + Send + Sync>,
    period_ms: u32,
}

/// A kernel thread that runs a closure every `period_ms` milliseconds
/// until it is dropped; the drop stops it and waits for it to end.
///
/// # Invariants
///
/// `task` is the thread started by [`Periodic::start`] on `work`; unless
/// `stopped` is set it runs, reading `work`, until `kthread_stop` returns.
pub(crate) struct Periodic {
    task: *mut bindings::task_struct,
    /// Set by the first [`Periodic::stop`]: the thread is stopped.
    stopped: AtomicBool,
    /// Freed after `drop` has stopped the thread (fields drop last).
    _work: KBox<PeriodicWork>,
}

// SAFETY: the thread's work is `Send + Sync`; the task pointer is used only
// by `drop`, for `kthread_stop`, which any task may call.
unsafe impl Send for Periodic {}
// SAFETY: `&Periodic` gives access to nothing.
unsafe impl Sync for Periodic {}

impl Periodic {
    /// Starts the thread `name/0`, which runs `work` every `period_ms`
    /// milliseconds (sleeping in between, not counted as load or hung).
    pub(crate) fn start(
        name: &'static CStr,
        period_ms: u32,
        work: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Self> {
        let work = KBox::new(PeriodicWork { work, period_ms }, GFP_KERNEL)?;
        let data = (&*work as *const PeriodicWork).cast_mut().cast::<c_void>();
        let name = name.as_ptr().cast();
        // SAFETY: `data` points to the boxed work, which `Self` keeps (it
        // does not move with the box) until `drop` has stopped the thread;
        // `name` is a static NUL-terminated string.
        let task = unsafe { ffi::sixfs_kthread_run(Some(periodic_main), data, name, 0) };
        from_err_ptr(task)?;
        // INVARIANT: `task` was started on `work`, and is not stopped.
        Ok(Self {
            task,
            stopped: AtomicBool::new(false),
            _work: work,
        })
    }

    /// Stops the thread and waits until it has finished its last run of
    /// the work; later calls do nothing.
    pub(crate) fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        // `kthread_stop` wakes the thread and waits until it has returned
        // from `periodic_main`: after it, nothing reads the work.
        // SAFETY: `self.task` is our running thread (the invariant: it is
        // stopped only here, once, as the swap above makes sure).
        unsafe { bindings::kthread_stop(self.task) };
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        // Stopped before the fields' drop frees the work.
        self.stop();
    }
}

/// The body of a [`Periodic`] thread.
///
/// # Safety
///
/// `data` must point to a `PeriodicWork` that stays valid until
/// `kthread_stop` of this thread returns.
unsafe extern "C" fn periodic_main(data: *mut c_void) -> kernel::ffi::c_int {
    // SAFETY: valid until the thread is stopped (the caller's promise),
    // and this function returns only after it was asked to stop.
    let periodic = unsafe { &*data.cast::<PeriodicWork>() };
    loop {
        // SAFETY: called from a kernel thread started by kthread_run.
        unsafe { ffi::sixfs_kthread_sleep_idle(periodic.period_ms) };
        // SAFETY: called from a kernel thread started by kthread_run.
        if unsafe { bindings::kthread_should_stop() } {
            return 0;
        }
        (periodic.work)();
    }
}
