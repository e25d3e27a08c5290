// SPDX-License-Identifier: GPL-2.0

//! Guards: the typed face of the six lock. A guard is one hold, released
//! when it is dropped; write is only reachable from an intent guard, which
//! it borrows mutably, so write without intent, or intent released under a
//! write, cannot be written.
//!
//! Guards are not `Send`: lockdep wants a lock released by the thread that
//! took it.

use super::lock::SixLock;
use super::types::{SixError, SixLockType};
use core::marker::PhantomData;

/// Keeps a guard on its thread.
type NotSend = PhantomData<*mut ()>;

/// A read hold of a [`SixLock`].
#[must_use = "the lock is released when the guard is dropped"]
pub struct ReadGuard<'a> {
    lock: &'a SixLock,
    _not_send: NotSend,
}

/// An intent hold of a [`SixLock`]: readers may share the lock, other
/// intent holders may not.
#[must_use = "the lock is released when the guard is dropped"]
pub struct IntentGuard<'a> {
    lock: &'a SixLock,
    _not_send: NotSend,
}

/// A write hold of a [`SixLock`], taken through an [`IntentGuard`] that
/// stays borrowed until it is dropped.
#[must_use = "the lock is released when the guard is dropped"]
pub struct WriteGuard<'g> {
    lock: &'g SixLock,
    _not_send: NotSend,
}

/// What every guard has: a constructor for a hold just taken, the lock, and
/// the unlock when it is dropped, which cannot fail (the guard is a hold
/// of that type, and no write guard outlives the intent guard it borrows).
macro_rules! guard_basics {
    ($guard:ident, $ty:expr) => {
        impl<'a> $guard<'a> {
            fn new(lock: &'a SixLock) -> Self {
                Self {
                    lock,
                    _not_send: PhantomData,
                }
            }

            /// The lock held.
            pub fn lock(&self) -> &'a SixLock {
                self.lock
            }
        }

        impl Drop for $guard<'_> {
            fn drop(&mut self) {
                let _ = self.lock.unlock($ty);
            }
        }
    };
}

/// What read and intent guards have besides: the sequence number to relock
/// with later, and giving the guard up without the hold.
macro_rules! relockable_guard {
    ($guard:ident) => {
        impl<'a> $guard<'a> {
            /// The lock's sequence number, for a later relock.
            pub fn seq(&self) -> u32 {
                self.lock.seq()
            }

            /// Gives up the guard but not the hold: the caller must unlock
            /// the hold's type itself.
            pub fn into_raw(self) -> &'a SixLock {
                let lock = self.lock;
                core::mem::forget(self);
                lock
            }
        }
    };
}

guard_basics!(ReadGuard, SixLockType::Read);
guard_basics!(IntentGuard, SixLockType::Intent);
guard_basics!(WriteGuard, SixLockType::Write);
relockable_guard!(ReadGuard);
relockable_guard!(IntentGuard);

impl<'a> ReadGuard<'a> {
    /// Turns this read hold into an intent hold, if intent is free.
    pub fn try_upgrade(self) -> Result<IntentGuard<'a>, Self> {
        if self.lock.tryupgrade() {
            Ok(IntentGuard::new(self.into_raw()))
        } else {
            Err(self)
        }
    }
}

impl<'a> IntentGuard<'a> {
    /// Takes write, sleeping until the readers have left (new ones wait
    /// meanwhile).
    pub fn write(&mut self) -> Result<WriteGuard<'_>, SixError> {
        self.lock.lock(SixLockType::Write)?;
        Ok(WriteGuard::new(self.lock))
    }

    /// As [`Self::write`], giving up when `should_sleep` fails (see
    /// [`SixLock::lock_with`]).
    pub fn write_with<E>(
        &mut self,
        should_sleep: impl FnMut() -> Result<(), E>,
    ) -> Result<WriteGuard<'_>, SixError<E>> {
        self.lock.lock_with(SixLockType::Write, should_sleep)?;
        Ok(WriteGuard::new(self.lock))
    }

    /// Takes write if no reader is in.
    pub fn try_write(&mut self) -> Option<WriteGuard<'_>> {
        self.lock
            .trylock(SixLockType::Write)
            .then(|| WriteGuard::new(self.lock))
    }

    /// Turns this intent hold into a read hold, letting the next intent
    /// waiter in. Fails only if the reader count is full.
    pub fn downgrade(self) -> Result<ReadGuard<'a>, Self> {
        if self.lock.downgrade().is_ok() {
            Ok(ReadGuard::new(self.into_raw()))
        } else {
            Err(self)
        }
    }
}

impl SixLock {
    /// Takes a read hold, sleeping as long as it takes.
    pub fn read(&self) -> Result<ReadGuard<'_>, SixError> {
        // Not `read_with`: a wait without a hook is one lockdep checks.
        self.lock(SixLockType::Read)?;
        Ok(ReadGuard::new(self))
    }

    /// Takes a read hold, or gives up when `should_sleep` fails (see
    /// [`Self::lock_with`]).
    pub fn read_with<E>(
        &self,
        should_sleep: impl FnMut() -> Result<(), E>,
    ) -> Result<ReadGuard<'_>, SixError<E>> {
        self.lock_with(SixLockType::Read, should_sleep)?;
        Ok(ReadGuard::new(self))
    }

    /// Takes a read hold if that needs no waiting.
    pub fn try_read(&self) -> Option<ReadGuard<'_>> {
        self.trylock(SixLockType::Read)
            .then(|| ReadGuard::new(self))
    }

    /// Takes a read hold if that needs no waiting and nothing was written
    /// since the sequence number was `seq`.
    pub fn relock_read(&self, seq: u32) -> Option<ReadGuard<'_>> {
        self.relock(SixLockType::Read, seq)
            .then(|| ReadGuard::new(self))
    }

    /// Takes an intent hold, sleeping as long as it takes.
    pub fn intent(&self) -> Result<IntentGuard<'_>, SixError> {
        self.lock(SixLockType::Intent)?;
        Ok(IntentGuard::new(self))
    }

    /// Takes an intent hold, or gives up when `should_sleep` fails (see
    /// [`Self::lock_with`]).
    pub fn intent_with<E>(
        &self,
        should_sleep: impl FnMut() -> Result<(), E>,
    ) -> Result<IntentGuard<'_>, SixError<E>> {
        self.lock_with(SixLockType::Intent, should_sleep)?;
        Ok(IntentGuard::new(self))
    }

    /// Takes an intent hold if that needs no waiting.
    pub fn try_intent(&self) -> Option<IntentGuard<'_>> {
        self.trylock(SixLockType::Intent)
            .then(|| IntentGuard::new(self))
    }

    /// Takes an intent hold if that needs no waiting and nothing was
    /// written since the sequence number was `seq`.
    pub fn relock_intent(&self, seq: u32) -> Option<IntentGuard<'_>> {
        self.relock(SixLockType::Intent, seq)
            .then(|| IntentGuard::new(self))
    }
}
