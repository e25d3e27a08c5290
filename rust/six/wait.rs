// SPDX-License-Identifier: GPL-2.0

//! The six lock's waiters: a FIFO queue under a spinlock, sleeping, and
//! the wakeup that grants the lock before waking.
//!
//! A waiter never takes the lock itself once queued: whoever releases what
//! it waits for takes the lock *for* it (an atomic update of the state
//! word), removes it from the queue and only then sets its `granted` flag
//! and wakes it. So a woken waiter owns the lock already, and nobody can
//! slip in between the wakeup and the waiter running.
//!
//! No allocation or freeing happens under the spinlock (a raw spinlock in
//! the kernel): waiter records and queue room are allocated before it is
//! taken, and whatever is dropped is dropped after it is released.

use super::state::{waiting_bit, Refusal, StateWord, READ_WAITING};
use super::types::{SixError, SixLockType};
use crate::platform::sync::{cpu_relax, sleep_until, Arc, AtomicU32, Ordering};
use crate::platform::sync::{SpinLock, SpinLockGuard, Task};
use crate::platform::vec::Vec;

/// One thread waiting for a lock.
pub struct Waiter {
    /// The thread to wake.
    task: Task,
    /// What it waits for.
    want: SixLockType,
    /// Set (release) by the waker once the lock is ours; checked (acquire)
    /// before each sleep.
    granted: AtomicU32,
}

/// The queue proper. `slots[..len]` are the waiters in arrival order; the
/// rest is room for more, allocated beforehand, all `None`.
#[derive(Default)]
struct WaitList {
    slots: Vec<Option<Arc<Waiter>>>,
    len: usize,
}

impl WaitList {
    /// The queued waiters, oldest first.
    fn queued(&self) -> &[Option<Arc<Waiter>>] {
        self.slots.get(..self.len).unwrap_or(&[])
    }

    /// Whether a waiter of type `ty` is queued.
    fn any(&self, ty: SixLockType) -> bool {
        self.queued().iter().flatten().any(|w| w.want == ty)
    }

    /// The type waited for by the waiter at `index`.
    fn want(&self, index: usize) -> Option<SixLockType> {
        self.queued().get(index)?.as_ref().map(|w| w.want)
    }

    /// Appends `waiter`; fails (giving it back) when there is no room, which
    /// the caller made sure there is.
    fn push(&mut self, waiter: Arc<Waiter>) -> Result<(), Arc<Waiter>> {
        match self.slots.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(waiter);
                self.len += 1;
                Ok(())
            }
            None => Err(waiter),
        }
    }

    /// Takes out the waiter at `index`, keeping the others in order.
    fn remove(&mut self, index: usize) -> Option<Arc<Waiter>> {
        let rest = self.slots.get_mut(index..self.len)?;
        let taken = rest.first_mut()?.take();
        rest.rotate_left(1);
        self.len -= 1;
        taken
    }

    /// Where `waiter` is in the queue, if it is.
    fn position(&self, waiter: &Arc<Waiter>) -> Option<usize> {
        self.queued()
            .iter()
            .position(|w| w.as_ref().is_some_and(|w| Arc::ptr_eq(w, waiter)))
    }
}

/// How many waiters one pass of a wakeup grants before it drops the
/// spinlock to wake them (readers are all woken, in several passes).
const WAKE_BATCH: usize = 8;

/// Room the queue gets the first time it needs any.
const FIRST_ROOM: usize = 4;

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
fn spin_until_granted(waiter: &Waiter) -> bool {
    for spin in 0..SPIN_LIMIT {
        if spin != 0 {
            cpu_relax();
        }
        if waiter.granted.load(Ordering::Acquire) != 0 {
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
pub struct WaitQueue(SpinLock<WaitList>);

impl WaitQueue {
    /// An empty queue; allocates nothing until a thread has to wait.
    pub fn new() -> Self {
        Self(SpinLock::new(WaitList::default()))
    }

    /// Locks the queue, first making sure it has room for one more waiter.
    fn lock_with_room(&self) -> Result<SpinLockGuard<'_, WaitList>, SixError> {
        loop {
            let list = self.0.lock();
            let room = list.slots.len();
            if list.len < room {
                return Ok(list);
            }
            drop(list);
            let want = room.checked_mul(2).ok_or(SixError::Overflow)?;
            let want = want.max(FIRST_ROOM);
            let mut bigger = Vec::try_with_capacity(want)?;
            for _ in 0..want {
                bigger.try_push(None)?;
            }
            let mut list = self.0.lock();
            if list.slots.len() < want {
                // Move the queue over in order; `bigger` ends up holding the
                // old, empty storage.
                for (new, old) in bigger.iter_mut().zip(list.slots.iter_mut()) {
                    core::mem::swap(new, old);
                }
                core::mem::swap(&mut list.slots, &mut bigger);
            }
            drop(list);
            // Freed here, outside the spinlock.
            drop(bigger);
        }
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
        let waiter = match Arc::try_new(Waiter {
            task: Task::current(),
            want: ty,
            granted: AtomicU32::new(0),
        }) {
            Ok(waiter) => waiter,
            Err(_) => return WaitOutcome::Failed(SixError::Alloc),
        };
        let mut list = match self.lock_with_room() {
            Ok(list) => list,
            Err(e) => return WaitOutcome::Failed(e),
        };
        let bit = waiting_bit(ty);
        state.set(bit);
        match state.try_acquire(ty) {
            Err(Refusal::Busy) => {}
            other => {
                // Granted after all, or not grantable at all: don't wait.
                // The flag stays while older waiters of the type are queued
                // (never for write, whose only waiter would be us).
                if !list.any(ty) {
                    state.clear(bit);
                }
                return match other {
                    Ok(_) => WaitOutcome::Acquired,
                    Err(Refusal::Overflow) => WaitOutcome::Failed(SixError::Overflow),
                    Err(_) => WaitOutcome::Failed(SixError::Misuse),
                };
            }
        }
        if list.push(waiter.clone()).is_err() {
            // Cannot happen: `lock_with_room` made room. Undo the flag as
            // a failed allocation would.
            if !list.any(ty) {
                state.clear(bit);
            }
            return WaitOutcome::Failed(SixError::Alloc);
        }
        let first = list.len == 1;
        drop(list);

        // The first in line spins a little before it sleeps: locks are
        // mostly held briefly, and a sleep costs two trips through the
        // scheduler.
        if first && spin_until_granted(&waiter) {
            return WaitOutcome::Acquired;
        }

        let mut aborted = None;
        sleep_until(|| {
            if waiter.granted.load(Ordering::Acquire) != 0 {
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
        // lock) before we got the spinlock: membership, not the flag, is
        // what tells, as the waker sets the flag after unlocking.
        let mut list = self.0.lock();
        let Some(index) = list.position(&waiter) else {
            return WaitOutcome::AbortedHolding(e);
        };
        let ours = list.remove(index);
        if !list.any(ty) {
            state.clear(bit);
        }
        drop(list);
        drop(ours);
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
        loop {
            let mut batch: [Option<Arc<Waiter>>; WAKE_BATCH] = Default::default();
            let mut more = false;
            let mut list = self.0.lock();
            let mut index = 0;
            let mut taken = 0;
            while let Some(want) = list.want(index) {
                if want != ty {
                    index += 1;
                    continue;
                }
                let Some(slot) = batch.get_mut(taken) else {
                    more = true;
                    break;
                };
                if state.try_acquire(ty).is_err() {
                    break;
                }
                *slot = list.remove(index);
                taken += 1;
                if ty != SixLockType::Read {
                    break;
                }
            }
            // Nobody left to wake: unlockers may take their fast path again.
            // (Write's flag is also cleared by the grant; while it is set
            // with no writer queued, readers would be refused for nothing.)
            if !list.any(ty) {
                state.clear(waiting_bit(ty));
            }
            drop(list);
            for waiter in batch.iter().flatten() {
                waiter.granted.store(1, Ordering::Release);
                waiter.task.wake();
            }
            if !more {
                return;
            }
        }
    }
}
