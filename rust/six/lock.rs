// SPDX-License-Identifier: GPL-2.0

//! The six lock and its raw operations: lock, unlock, relock, increment
//! and conversions by lock type, for callers (the btree paths) that track
//! what they hold themselves and keep locks across calls. The guards in
//! `guard.rs` are the typed face of the same operations.

use super::state::{Refusal, StateWord, INTENT_WAITING, READ_WAITING, WRITE_WAITING};
use super::types::{SixError, SixLockCounts, SixLockType};
use super::wait::{spin_acquire, WaitOutcome, WaitQueue};
use crate::platform::sync::{might_sleep, AllocError, AtomicU32, LockClass, LockdepMap, Ordering};
use core::ffi::CStr;
use core::fmt;

/// A shared/intent/exclusive lock, as bcachefs's six lock.
///
/// Readers share it with each other and with one intent holder; intent
/// excludes intent; write is taken by the intent holder once no reader is
/// left, and excludes readers. A sequence number changes with every write,
/// so that a lock dropped can be taken again by [`Self::relock`] only if
/// nothing was written in between.
///
/// The lock does not know who holds it: callers must pair each lock with
/// one unlock of the same type, take write only while holding intent, and
/// the like. The raw operations check what the state word can tell (an
/// unlock of a type nobody holds, write without intent) and refuse with
/// [`SixError::Misuse`]; the guards make those mistakes impossible.
pub struct SixLock {
    state: StateWord,
    /// Intent holds beyond the first, by the intent holder (through
    /// [`Self::increment`]): only the holder touches it.
    intent_recurse: AtomicU32,
    waiters: WaitQueue,
    dep_map: LockdepMap,
}

impl SixLock {
    /// An unlocked lock named `name` for lockdep, in lock class `class`.
    /// In the kernel its lockdep map gets an allocation of its own, so that
    /// the lock may move even while held through the raw operations.
    pub fn new(name: &'static CStr, class: &'static LockClass) -> Result<Self, AllocError> {
        Ok(Self {
            state: StateWord::new(),
            intent_recurse: AtomicU32::new(0),
            waiters: WaitQueue::new(),
            dep_map: LockdepMap::new(name, class)?,
        })
    }

    /// An unlocked lock that lockdep does not track: for users with their own
    /// deadlock avoidance that hold many at once (btree nodes).
    pub fn new_untracked(name: &'static CStr) -> Self {
        Self {
            state: StateWord::new(),
            intent_recurse: AtomicU32::new(0),
            waiters: WaitQueue::new(),
            dep_map: LockdepMap::untracked(name),
        }
    }

    /// The sequence number: changed by each write lock and unlock. Read it
    /// while holding read or intent, to give to [`Self::relock`] later.
    pub fn seq(&self) -> u32 {
        self.state.load().seq()
    }

    /// How often the lock is held in each way, right now.
    pub fn counts(&self) -> SixLockCounts {
        let state = self.state.load();
        let recurse = if state.intent() {
            self.intent_recurse.load(Ordering::Relaxed)
        } else {
            0
        };
        SixLockCounts {
            read: state.readers(),
            intent: u32::from(state.intent()).saturating_add(recurse),
            write: state.write(),
        }
    }

    /// Whether threads are flagged as waiting for the lock (for listings of
    /// who waits on what, and for tests that check no flag is left over).
    pub fn has_waiters(&self) -> bool {
        self.state
            .load()
            .has(READ_WAITING | INTENT_WAITING | WRITE_WAITING)
    }

    /// Tells lockdep about a new hold (nothing for write: only the intent
    /// holder takes it, so it can't add a dependency intent has not).
    #[inline]
    fn lockdep_acquire(&self, ty: SixLockType, trylock: bool) {
        if ty != SixLockType::Write {
            self.dep_map.acquire(trylock, ty == SixLockType::Read);
        }
    }

    /// Tells lockdep a hold of type `ty` is gone.
    #[inline]
    fn lockdep_release(&self, ty: SixLockType) {
        if ty != SixLockType::Write {
            self.dep_map.release();
        }
    }

    /// Takes the lock as `ty` if that is possible without waiting. Write
    /// needs intent held (by the caller); without it this fails.
    #[inline]
    pub fn trylock(&self, ty: SixLockType) -> bool {
        let taken = self.state.try_acquire(ty).is_ok();
        if taken {
            self.lockdep_acquire(ty, true);
        }
        taken
    }

    /// Takes the lock as `ty`, sleeping until it is granted. See
    /// [`Self::lock_with`].
    #[inline]
    pub fn lock(&self, ty: SixLockType) -> Result<(), SixError> {
        self.lock_annotated(ty, &mut || Ok(()), false)
    }

    /// Takes the lock as `ty`, sleeping until it is granted, or until
    /// `should_sleep` fails: it runs before every sleep (after the caller is
    /// queued; in the kernel, with the task already marked sleeping, so it
    /// must not sleep itself). Its error is returned, and the lock is then
    /// not held and as it would be had we never asked; if the lock had been
    /// granted first, it is released again, and passed on to the next
    /// waiter.
    ///
    /// Write needs intent held by the caller ([`SixError::Misuse`]
    /// otherwise); while it waits for the readers to leave, new readers
    /// wait too. Waiting allocates nothing: the waiter lives in this call's
    /// frame.
    ///
    /// Lockdep sees this as a trylock: the hook is the caller's deadlock
    /// avoidance (the btree refuses waits that would deadlock, and
    /// restarts), which lockdep cannot follow. [`Self::lock`] is checked.
    #[inline]
    pub fn lock_with<E>(
        &self,
        ty: SixLockType,
        mut should_sleep: impl FnMut() -> Result<(), E>,
    ) -> Result<(), SixError<E>> {
        self.lock_annotated(ty, &mut should_sleep, true)
    }

    /// [`Self::lock_with`], telling lockdep a trylock or a checked lock.
    ///
    /// Inline, so that an uncontended lock is one compare-exchange in the
    /// caller, with no call (calls and returns are costly under QEMU's TCG
    /// and add up on the btree's many node locks); the rest is out of line.
    #[inline]
    fn lock_annotated<E>(
        &self,
        ty: SixLockType,
        should_sleep: &mut dyn FnMut() -> Result<(), E>,
        lockdep_trylock: bool,
    ) -> Result<(), SixError<E>> {
        might_sleep();
        self.lockdep_acquire(ty, lockdep_trylock);
        match self.state.try_acquire(ty) {
            Ok(_) => Ok(()),
            Err(refusal) => self.lock_refused(ty, refusal, should_sleep),
        }
    }

    /// The lock was refused (lockdep already told): spins, then waits in
    /// the queue, if it is busy; fails otherwise.
    #[inline(never)]
    fn lock_refused<E>(
        &self,
        ty: SixLockType,
        refusal: Refusal,
        should_sleep: &mut dyn FnMut() -> Result<(), E>,
    ) -> Result<(), SixError<E>> {
        let result = match refusal {
            Refusal::Busy if spin_acquire(&self.state, ty) => Ok(()),
            Refusal::Busy => self.lock_slow(ty, should_sleep),
            Refusal::Overflow => Err(SixError::Overflow),
            Refusal::NotIntent => Err(SixError::Misuse),
        };
        if result.is_err() {
            self.lockdep_release(ty);
        }
        result
    }

    /// Waits in the queue for `ty`.
    fn lock_slow<E>(
        &self,
        ty: SixLockType,
        should_sleep: &mut dyn FnMut() -> Result<(), E>,
    ) -> Result<(), SixError<E>> {
        match self.waiters.wait(&self.state, ty, should_sleep) {
            WaitOutcome::Acquired => Ok(()),
            WaitOutcome::Aborted(e) => Err(SixError::Aborted(e)),
            WaitOutcome::AbortedHolding(e) => {
                if ty == SixLockType::Write {
                    // Nobody could see the write lock but us: undo it
                    // entirely, sequence number included.
                    if self
                        .state
                        .update(Ordering::Release, |s| s.unwind_write().ok_or(()))
                        .is_ok()
                    {
                        self.wake_if(READ_WAITING, SixLockType::Read);
                    }
                } else {
                    // The grant can only be undone by an unlock, which hands
                    // the lock on; nothing can fail here.
                    let _ = self.release(ty);
                }
                Err(SixError::Aborted(e))
            }
            WaitOutcome::Failed(e) => Err(e.widen()),
        }
    }

    /// Wakes waiters of type `ty` if the state word flags `bit`.
    fn wake_if(&self, bit: u64, ty: SixLockType) {
        if self.state.load().has(bit) {
            self.waiters.wake(&self.state, ty);
        }
    }

    /// Takes the lock as `ty` if it can be had without waiting and nothing
    /// was written since the sequence number was `seq`.
    pub fn relock(&self, ty: SixLockType, seq: u32) -> bool {
        let taken = self
            .state
            .update(Ordering::Acquire, |s| {
                if s.seq() == seq {
                    s.acquire(ty).map_err(|_| ())
                } else {
                    Err(())
                }
            })
            .is_ok();
        if taken {
            self.lockdep_acquire(ty, true);
        }
        taken
    }

    /// Drops one hold of type `ty` in the state word and wakes whoever
    /// that lets in. No lockdep, no intent recursion.
    #[inline]
    fn release(&self, ty: SixLockType) -> Result<(), SixError> {
        let new = self.state.release(ty).ok_or(SixError::Misuse)?;
        match ty {
            // The last reader out lets the waiting writer in.
            SixLockType::Read => {
                if new.readers() == 0 && new.has(WRITE_WAITING) {
                    self.waiters.wake(&self.state, SixLockType::Write);
                }
            }
            SixLockType::Intent => {
                if new.has(INTENT_WAITING) {
                    self.waiters.wake(&self.state, SixLockType::Intent);
                }
            }
            SixLockType::Write => {
                if new.has(READ_WAITING) {
                    self.waiters.wake(&self.state, SixLockType::Read);
                }
            }
        }
        Ok(())
    }

    /// Drops one hold of type `ty`. Unlocking write bumps the sequence
    /// number; unlocking an incremented intent lock only drops the
    /// increment. Fails with [`SixError::Misuse`] if the lock is not held
    /// that way (or for intent, while write is held).
    #[inline]
    pub fn unlock(&self, ty: SixLockType) -> Result<(), SixError> {
        if ty == SixLockType::Intent {
            let recurse = self.intent_recurse.load(Ordering::Relaxed);
            if let Some(fewer) = recurse.checked_sub(1) {
                // Only the intent holder may drop an increment.
                let state = self.state.load();
                if !state.intent() || state.write() {
                    return Err(SixError::Misuse);
                }
                self.intent_recurse.store(fewer, Ordering::Relaxed);
                self.lockdep_release(ty);
                return Ok(());
            }
        }
        self.release(ty)?;
        self.lockdep_release(ty);
        Ok(())
    }

    /// Takes one more hold of type `ty` on a lock the caller holds: read on
    /// a lock held for read or intent, intent on a lock held for intent.
    /// Each needs its own unlock. Write cannot be held twice.
    pub fn increment(&self, ty: SixLockType) -> Result<(), SixError> {
        match ty {
            SixLockType::Read => {
                // Ordering: the caller holds the lock already.
                self.state
                    .update(Ordering::Relaxed, |s| {
                        if s.readers() == 0 && !s.intent() {
                            Err(SixError::Misuse)
                        } else {
                            s.add_reader().ok_or(SixError::Overflow)
                        }
                    })
                    .map_err(|(_, e)| e)?;
            }
            SixLockType::Intent => {
                if !self.state.load().intent() {
                    return Err(SixError::Misuse);
                }
                let recurse = self.intent_recurse.load(Ordering::Relaxed);
                let more = recurse.checked_add(1).ok_or(SixError::Overflow)?;
                self.intent_recurse.store(more, Ordering::Relaxed);
            }
            SixLockType::Write => return Err(SixError::Misuse),
        }
        // A trylock to lockdep: taking a lock already held cannot block.
        self.lockdep_acquire(ty, true);
        Ok(())
    }

    /// Turns one intent hold into a read hold, letting the next intent
    /// waiter in (unless the intent was incremented: then it stays held).
    pub fn downgrade(&self) -> Result<(), SixError> {
        let state = self.state.load();
        if !state.intent() || state.write() {
            return Err(SixError::Misuse);
        }
        let recurse = self.intent_recurse.load(Ordering::Relaxed);
        if let Some(fewer) = recurse.checked_sub(1) {
            self.increment(SixLockType::Read)?;
            self.intent_recurse.store(fewer, Ordering::Relaxed);
            self.lockdep_release(SixLockType::Intent);
            return Ok(());
        }
        // Release: what we did under intent happens before the next intent
        // holder.
        let (_, new) = self
            .state
            .update(Ordering::Release, |s| {
                let s = s.release(SixLockType::Intent).ok_or(SixError::Misuse)?;
                s.add_reader().ok_or(SixError::Overflow)
            })
            .map_err(|(_, e)| e)?;
        // A trylock to lockdep: a downgrade never blocks.
        self.lockdep_acquire(SixLockType::Read, true);
        self.lockdep_release(SixLockType::Intent);
        if new.has(INTENT_WAITING) {
            self.waiters.wake(&self.state, SixLockType::Intent);
        }
        Ok(())
    }

    /// Turns one read hold into an intent hold, if intent is free.
    pub fn tryupgrade(&self) -> bool {
        self.state
            .update(Ordering::Acquire, |s| {
                let s = s.release(SixLockType::Read).ok_or(())?;
                s.acquire(SixLockType::Intent).map_err(|_| ())
            })
            .is_ok()
    }

    /// Converts a hold from `from` to `to` (read or intent): a downgrade
    /// always works, an upgrade if intent is free.
    pub fn trylock_convert(&self, from: SixLockType, to: SixLockType) -> bool {
        match (from, to) {
            (SixLockType::Read, SixLockType::Read) | (SixLockType::Intent, SixLockType::Intent) => {
                true
            }
            (SixLockType::Intent, SixLockType::Read) => self.downgrade().is_ok(),
            (SixLockType::Read, SixLockType::Intent) => self.tryupgrade(),
            _ => false,
        }
    }

    /// Adds `nr` (which may be negative) to the reader count.
    ///
    /// For a caller that holds intent and some read locks and wants write:
    /// it takes its own readers out, locks write and puts them back. The
    /// count may not go below zero or above its maximum
    /// ([`SixError::Overflow`]).
    pub fn readers_add(&self, nr: i32) -> Result<(), SixError> {
        let (_, new) = self
            .state
            .update(Ordering::AcqRel, |s| s.add_readers(nr).ok_or(()))
            .map_err(|_| SixError::Overflow)?;
        if new.readers() == 0 && new.has(WRITE_WAITING) {
            self.waiters.wake(&self.state, SixLockType::Write);
        }
        Ok(())
    }
}

impl fmt::Debug for SixLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load();
        f.debug_struct("SixLock")
            .field("seq", &state.seq())
            .field("counts", &self.counts())
            .field("has_waiters", &self.has_waiters())
            .finish()
    }
}
