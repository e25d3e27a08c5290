// SPDX-License-Identifier: GPL-2.0

//! The six lock's waiters: a FIFO queue, sleeping, and the wakeup that
//! grants the lock before waking.
//!
//! A waiter never takes the lock itself once queued: whoever releases what
//! it waits for takes the lock *for* it (an atomic update of the state
//! word), takes it out of the queue and marks it granted, all under the
//! queue's spinlock, and wakes it after dropping the spinlock. So a woken
//! waiter owns the lock already, and nobody can slip in between the wakeup
//! and the waiter running.
//!
//! Waiting allocates nothing. A waiter is a `platform::wait::Waiter` pinned
//! in the waiting thread's frame (`pin!` in [`WaitQueue::wait`]), as
//! bcachefs's lives on the waiting task's stack: in the kernel the queue is
//! an intrusive list of those frames (`platform/kernel/wait.rs`, where the
//! `unsafe` is), in userspace a list of per-thread records allocated once
//! (`platform/user/wait.rs`). So taking a lock cannot fail for want of
//! memory, nor recurse into reclaim under a filesystem; the wakeup's batch
//! of tasks to wake is an array on its stack.

use super::state::{waiting_bit, Refusal, StateWord, READ_WAITING};
use super::types::{SixError, SixLockType};
use crate::platform::sync::{cpu_relax, sleep_until, Task};
use crate::platform::wait::{Grant, WaitList, Waiter};
use core::pin::{pin, Pin};

/// The tag of a waiter waiting for `ty`.
fn tag(ty: SixLockType) -> u32 {
    match ty {
        SixLockType::Read => 0,
        SixLockType::Intent => 1,
        SixLockType::Write => 2,
    }
}

/// How many waiters one pass of a wakeup grants before it drops the
/// spinlock to wake them (readers are all woken, in several passes): the
/// size of the array of tasks to wake on the waker's stack.
const WAKE_BATCH: usize = 8;

/// How many times a thread checks the lock before it queues up, and a
/// queued waiter its grant before it sleeps. Loom explores each pause of a
/// spin (a yield there) as a scheduling choice, so that spinning would
/// hide the queueing paths from its bounded search: there one check, with
/// no pause, keeps the code in the model.
const SPIN_LIMIT: u32 = if cfg!(loom) { 1 } else { 128 };

/// Spins for a while, taking the lock for `ty` as soon as it is free;
/// whether it was taken. Gives up at once while others of `ty` are queued:
/// they are first in line.
pub fn spin_acquire(state: &StateWord, ty: SixLockType) -> bool {
    for spin in 0..SPIN_LIMIT {
        if spin != 0 {
            cpu_relax();
        }
        let now = state.load();
        if now.has(waiting_bit(ty)) {
            return false;
        }
        // Read first, so that spinning does not take the cache line from
        // the holder.
        if now.acquire(ty).is_ok() && state.try_acquire(ty).is_ok() {
            return true;
        }
    }
    false
}

/// Spins for a while until the lock is granted to `waiter`; whether it was.
fn spin_until_granted(waiter: Pin<&Waiter<'_>>) -> bool {
    for spin in 0..SPIN_LIMIT {
        if spin != 0 {
            cpu_relax();
        }
        if waiter.granted() {
            return true;
        }
    }
    false
}

/// What became of a wait.
#[derive(Debug)]
pub enum WaitOutcome<E> {
    /// The lock is held.
    Acquired,
    /// The should-sleep hook failed and the waiter left the queue: the lock
    /// is not held and its state is as if we had never waited.
    Aborted(E),
    /// The should-sleep hook failed, but the lock had been granted first:
    /// it is held, and the caller must give it back (and report `E`).
    AbortedHolding(E),
    /// The wait could not start; the lock is not held.
    Failed(SixError),
}

/// The waiters of one lock.
#[derive(Default)]
pub struct WaitQueue(WaitList);

impl WaitQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self(WaitList::new())
    }

    /// Waits until the lock is granted for `ty`, or `should_sleep` fails.
    ///
    /// The caller has found the lock busy. Under the queue's spinlock we
    /// flag ourselves as waiting, try once more (an unlock may have come
    /// before the flag) and only then queue up. `should_sleep` runs before
    /// each sleep; in the kernel the task is already marked sleeping then,
    /// so it must not sleep itself.
    pub fn wait<E>(
        &self,
        state: &StateWord,
        ty: SixLockType,
        should_sleep: &mut dyn FnMut() -> Result<(), E>,
    ) -> WaitOutcome<E> {
        // In our frame, pinned: the queue links it until it is granted or we
        // leave, and dropping it takes it out of the queue in any case.
        let waiter = pin!(Waiter::new(&self.0, tag(ty)));
        let waiter = waiter.as_ref();
        let mut list = self.0.lock();
        let bit = waiting_bit(ty);
        state.set(bit);
        match state.try_acquire(ty) {
            Err(Refusal::Busy) => {}
            other => {
                // Granted after all, or not grantable at all: don't wait.
                // The flag stays while older waiters of the type are queued
                // (never for write, whose only waiter would be us).
                if !list.any(tag(ty)) {
                    state.clear(bit);
                }
                return match other {
                    Ok(_) => WaitOutcome::Acquired,
                    Err(Refusal::Overflow) => WaitOutcome::Failed(SixError::Overflow),
                    Err(_) => WaitOutcome::Failed(SixError::Misuse),
                };
            }
        }
        if !waiter.enqueue(&mut list) {
            // Cannot happen: the waiter is new and made for this queue.
            if !list.any(tag(ty)) {
                state.clear(bit);
            }
            return WaitOutcome::Failed(SixError::Misuse);
        }
        let first = list.is_first(waiter);
        drop(list);

        // The first in line spins a little before it sleeps: locks are
        // mostly held briefly, and a sleep costs two trips through the
        // scheduler.
        if first && spin_until_granted(waiter) {
            return WaitOutcome::Acquired;
        }

        let mut aborted = None;
        sleep_until(|| {
            if waiter.granted() {
                return true;
            }
            match should_sleep() {
                Ok(()) => false,
                Err(e) => {
                    aborted = Some(e);
                    true
                }
            }
        });
        let Some(e) = aborted else {
            return WaitOutcome::Acquired;
        };

        // Leave the queue, unless a waker took us out (and granted the
        // lock) since we last looked: under the spinlock, queue membership
        // tells.
        let mut list = self.0.lock();
        if !waiter.dequeue(&mut list) {
            return WaitOutcome::AbortedHolding(e);
        }
        if !list.any(tag(ty)) {
            state.clear(bit);
        }
        drop(list);
        // Readers that queued behind our write-waiting flag may go now.
        if ty == SixLockType::Write && state.load().has(READ_WAITING) {
            self.wake(state, SixLockType::Read);
        }
        WaitOutcome::Aborted(e)
    }

    /// Grants the lock to the oldest waiters of type `ty` it can be granted
    /// to (all readers, or one intent or write waiter), and wakes them.
    ///
    /// Called by whoever made `ty` grantable, having seen the waiting flag
    /// of `ty` in the state word.
    // Out of line: the unlocks that may call it are inlined.
    #[inline(never)]
    pub fn wake(&self, state: &StateWord, ty: SixLockType) {
        let tag = tag(ty);
        loop {
            // References to the tasks to wake: the granted waiters may be
            // gone from their frames by the time we wake them.
            let mut batch: [Option<Task>; WAKE_BATCH] = Default::default();
            let mut list = self.0.lock();
            for slot in batch.iter_mut() {
                match list.grant_oldest(tag, || state.try_acquire(ty).is_ok()) {
                    Grant::Granted(task) => *slot = Some(task),
                    Grant::Nobody | Grant::Refused => break,
                }
                if ty != SixLockType::Read {
                    break;
                }
            }
            let left = list.any(tag);
            // Nobody left to wake: unlockers may take their fast path again.
            // (Write's flag is also cleared by the grant; while it is set
            // with no writer queued, readers would be refused for nothing.)
            if !left {
                state.clear(waiting_bit(ty));
            }
            // A full batch of readers: the rest get the next pass.
            let more = left && batch.iter().all(Option::is_some);
            drop(list);
            for task in batch.iter().flatten() {
                task.wake();
            }
            if !more {
                return;
            }
        }
    }
}
