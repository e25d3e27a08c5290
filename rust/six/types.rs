// SPDX-License-Identifier: GPL-2.0

//! The vocabulary of the six lock's API: lock types, counts and errors.

use core::convert::Infallible;

/// The three ways to hold a six lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SixLockType {
    /// Shared: compatible with other readers and with one intent holder.
    Read,
    /// Compatible with readers, exclusive with other intent holders; the
    /// only way to a write lock.
    Intent,
    /// Exclusive; taken only by the intent holder, once readers are gone.
    Write,
}

/// How often a lock is held in each way, for introspection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SixLockCounts {
    /// Read holds, from all threads (including [`SixLock::increment`]s).
    ///
    /// [`SixLock::increment`]: super::SixLock::increment
    pub read: u32,
    /// Intent holds: 0, or 1 plus the holder's increments.
    pub intent: u32,
    /// Whether the write lock is held.
    pub write: bool,
}

/// Why a six lock operation failed. `E` is the error of a should-sleep hook
/// (none for the operations that take no hook).
///
/// Running out of memory is not among them: no operation allocates (a
/// waiter lives in the waiting thread's frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SixError<E = Infallible> {
    /// The call breaks the lock's rules: write without intent, unlocking a
    /// type that is not held, incrementing the write lock. Nothing changed.
    Misuse,
    /// The reader count would overflow (or, for
    /// [`SixLock::readers_add`], go below zero). Nothing changed.
    ///
    /// [`SixLock::readers_add`]: super::SixLock::readers_add
    Overflow,
    /// The should-sleep hook returned this error: the wait was abandoned
    /// and the lock is not held.
    Aborted(E),
}

impl SixError {
    /// The same error, for a caller whose hook errors are `E`.
    pub fn widen<E>(self) -> SixError<E> {
        match self {
            SixError::Misuse => SixError::Misuse,
            SixError::Overflow => SixError::Overflow,
            SixError::Aborted(never) => match never {},
        }
    }
}
