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

impl<'a> ReadGuard<'a> {
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

    /// The lock's sequence number, for a later [`SixLock::relock_read`].
    pub fn seq(&self) -> u32 {
        self.lock.seq()
    }

    /// Turns this read hold into an intent hold, if intent is free.
    pub fn try_upgrade(self) -> Result<IntentGuard<'a>, Self> {
        if self.lock.tryupgrade() {
            Ok(IntentGuard::new(self.into_raw()))
        } else {
            Err(self)
        }
    }

    /// Gives up the guard but not the hold: the caller must unlock
    /// [`SixLockType::Read`] itself.
    pub fn into_raw(self) -> &'a SixLock {
        let lock = self.lock;
        core::mem::forget(self);
        lock
    }
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        // Cannot fail: the guard is a read hold.
        let _ = self.lock.unlock(SixLockType::Read);
    }
}

impl<'a> IntentGuard<'a> {
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

    /// The lock's sequence number, for a later [`SixLock::relock_intent`].
    pub fn seq(&self) -> u32 {
        self.lock.seq()
    }

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

    /// Gives up the guard but not the hold: the caller must unlock
    /// [`SixLockType::Intent`] itself.
    pub fn into_raw(self) -> &'a SixLock {
        let lock = self.lock;
        core::mem::forget(self);
        lock
    }
}

impl Drop for IntentGuard<'_> {
    fn drop(&mut self) {
        // Cannot fail: the guard is an intent hold, and no write guard can
        // outlive it.
        let _ = self.lock.unlock(SixLockType::Intent);
    }
}

impl<'g> WriteGuard<'g> {
    fn new(lock: &'g SixLock) -> Self {
        Self {
            lock,
            _not_send: PhantomData,
        }
    }

    /// The lock held.
    pub fn lock(&self) -> &'g SixLock {
        self.lock
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        // Cannot fail: the guard is the write hold.
        let _ = self.lock.unlock(SixLockType::Write);
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
