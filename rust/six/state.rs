// SPDX-License-Identifier: GPL-2.0

//! The six lock's state word: every count and flag of the lock in one
//! `u64`, so that each transition is one atomic read-modify-write and each
//! decision reads one consistent value.
//!
//! ```text
//!  63               32  31  30   29   28   27  26        0
//! +-------------------+---+----+----+----+---+-----------+
//! |        seq        | - | IW | RW | WW | I |  readers  |
//! +-------------------+---+----+----+----+---+-----------+
//! ```
//!
//! - `readers`: read holds, from every thread.
//! - `I`: the intent lock is held (its recursion count lives elsewhere:
//!   only the holder touches it).
//! - `WW`, write waiting: the intent holder waits for the readers to leave
//!   so it can write; new readers must wait behind it. It is also the only
//!   write waiter, as only the intent holder may take write.
//! - `RW`, `IW`: read or intent waiters are queued; whoever makes their
//!   lock available must wake them.
//! - `seq`: bumped when write is taken and again when it is released, so
//!   it is odd exactly while write is held and a value seen under read or
//!   intent is still current only if nothing was written since.

use super::types::SixLockType;
use crate::platform::sync::{AtomicU64, Ordering};

/// One read hold.
pub const READER: u64 = 1;
/// The reader count's bits.
pub const READERS: u64 = (1 << 27) - 1;
/// The intent lock is held.
pub const INTENT: u64 = 1 << 27;
/// The intent holder waits to write: new readers are refused.
pub const WRITE_WAITING: u64 = 1 << 28;
/// Read waiters are queued.
pub const READ_WAITING: u64 = 1 << 29;
/// Intent waiters are queued.
pub const INTENT_WAITING: u64 = 1 << 30;
/// One step of the sequence number; its lowest bit is "write held".
pub const SEQ_ONE: u64 = 1 << 32;

/// The flag that says waiters of type `ty` are queued.
#[inline]
pub fn waiting_bit(ty: SixLockType) -> u64 {
    match ty {
        SixLockType::Read => READ_WAITING,
        SixLockType::Intent => INTENT_WAITING,
        SixLockType::Write => WRITE_WAITING,
    }
}

/// Why a lock cannot be granted now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It is held in a conflicting way (or a writer waits): try later.
    Busy,
    /// The reader count is at its maximum.
    Overflow,
    /// Write was asked without intent held, or while write is held.
    NotIntent,
}

/// A value of the state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State(pub u64);

impl State {
    /// Read holds.
    #[inline]
    pub fn readers(self) -> u32 {
        // The mask keeps 27 bits: the cast cannot truncate.
        (self.0 & READERS) as u32
    }

    /// Whether the intent lock is held.
    #[inline]
    pub fn intent(self) -> bool {
        self.0 & INTENT != 0
    }

    /// Whether the write lock is held.
    #[inline]
    pub fn write(self) -> bool {
        self.0 & SEQ_ONE != 0
    }

    /// The sequence number.
    #[inline]
    pub fn seq(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Whether any of `bits` is set.
    #[inline]
    pub fn has(self, bits: u64) -> bool {
        self.0 & bits != 0
    }

    /// The state once a new holder of type `ty` is let in.
    #[inline]
    pub fn acquire(self, ty: SixLockType) -> Result<State, Refusal> {
        match ty {
            SixLockType::Read => {
                if self.write() || self.has(WRITE_WAITING) {
                    Err(Refusal::Busy)
                } else {
                    self.add_reader().ok_or(Refusal::Overflow)
                }
            }
            SixLockType::Intent => {
                if self.intent() {
                    Err(Refusal::Busy)
                } else {
                    Ok(State(self.0 | INTENT))
                }
            }
            SixLockType::Write => {
                if !self.intent() || self.write() {
                    Err(Refusal::NotIntent)
                } else if self.readers() != 0 {
                    Err(Refusal::Busy)
                } else {
                    // Taking write ends the wait for it, if there was one.
                    Ok(State((self.0 & !WRITE_WAITING).wrapping_add(SEQ_ONE)))
                }
            }
        }
    }

    /// The state once one hold of type `ty` is dropped, or `None` if there
    /// is none to drop. Dropping intent while write is held is refused.
    #[inline]
    pub fn release(self, ty: SixLockType) -> Option<State> {
        match ty {
            SixLockType::Read => (self.readers() != 0).then(|| State(self.0 - READER)),
            SixLockType::Intent => {
                (self.intent() && !self.write()).then_some(State(self.0 & !INTENT))
            }
            // The sequence number wraps around, as it is only ever compared
            // for equality.
            SixLockType::Write => self.write().then(|| State(self.0.wrapping_add(SEQ_ONE))),
        }
    }

    /// The state as if a write lock that was granted had never been: the
    /// sequence number goes back to its value before the grant.
    #[inline]
    pub fn unwind_write(self) -> Option<State> {
        self.write().then(|| State(self.0.wrapping_sub(SEQ_ONE)))
    }

    /// One more reader, if the count has room.
    #[inline]
    pub fn add_reader(self) -> Option<State> {
        (self.readers() < READERS as u32).then(|| State(self.0 + READER))
    }

    /// The reader count changed by `nr`, if it stays within its bits.
    #[inline]
    pub fn add_readers(self, nr: i32) -> Option<State> {
        let readers = i64::from(self.readers()).checked_add(i64::from(nr))?;
        let readers = u64::try_from(readers).ok()?;
        (readers <= READERS).then_some(State((self.0 & !READERS) | readers))
    }
}

/// The atomic state word.
///
/// # Invariants
///
/// - `seq` is odd exactly while write is held, and write is held only
///   with `I` set (only the intent holder writes).
/// - While write is held, `readers` is zero but for the write holder's
///   own read holds discounted with `readers_add`, which it gives back
///   before it releases write.
/// - `WW` is set only with `I` set (the intent holder is the only write
///   waiter), and no new reader is admitted while it is.
/// - `RW` (`IW`) is set while read (intent) waiters are queued in the
///   lock's wait list, and whoever clears it wakes them; it is only ever
///   set or cleared under the wait list's spinlock.
///
/// The loom models (tools/sixfs-core/tests/six_loom.rs) and the torture
/// test check these through the lock's behaviour (exclusion, grants,
/// sequence numbers); `SixLock::counts` exposes them to tests.
pub struct StateWord(AtomicU64);

impl StateWord {
    /// An unlocked word: no holders, no waiters, sequence number 0.
    #[inline]
    pub fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// The current value, with no ordering: for decisions that an atomic
    /// update confirms, and for introspection.
    #[inline]
    pub fn load(&self) -> State {
        State(self.0.load(Ordering::Relaxed))
    }

    /// Replaces the value `s` by `f(s)` atomically, until `f` refuses.
    /// Returns the old and the new value, or the refusal with the value
    /// that caused it. `order` applies on success.
    #[inline]
    pub fn update<R>(
        &self,
        order: Ordering,
        mut f: impl FnMut(State) -> Result<State, R>,
    ) -> Result<(State, State), (State, R)> {
        let mut old = self.0.load(Ordering::Relaxed);
        loop {
            let new = f(State(old)).map_err(|refusal| (State(old), refusal))?;
            match self
                .0
                .compare_exchange_weak(old, new.0, order, Ordering::Relaxed)
            {
                Ok(_) => return Ok((State(old), new)),
                Err(seen) => old = seen,
            }
        }
    }

    /// Takes the lock for a new holder of type `ty`, if it can be granted
    /// now. Acquire: the previous holder's release happens before.
    #[inline]
    pub fn try_acquire(&self, ty: SixLockType) -> Result<State, Refusal> {
        self.update(Ordering::Acquire, |s| s.acquire(ty))
            .map(|(_, new)| new)
            .map_err(|(_, refusal)| refusal)
    }

    /// Drops one hold of type `ty`; the new value, or `None` if it was not
    /// held. Release: our critical section happens before the next holder.
    #[inline]
    pub fn release(&self, ty: SixLockType) -> Option<State> {
        let old = match ty {
            // Readers come and go concurrently: only a compare-exchange can
            // refuse to take away a reader that is not there.
            SixLockType::Read => {
                return self
                    .update(Ordering::Release, |s| s.release(ty).ok_or(()))
                    .map(|(_, new)| new)
                    .ok();
            }
            // The intent and write bits change only in their holder's
            // hands: a plain check, then one atomic operation, suffice.
            // Subtracting the intent bit, which is set, clears it without a
            // borrow: unlike `fetch_and`, whose old value x86 can only get
            // from a compare-exchange loop, this is one `lock xadd`.
            SixLockType::Intent => {
                self.load().release(ty)?;
                self.0.fetch_sub(INTENT, Ordering::Release)
            }
            SixLockType::Write => {
                self.load().release(ty)?;
                self.0.fetch_add(SEQ_ONE, Ordering::Release)
            }
        };
        State(old).release(ty)
    }

    /// Sets `bits`. Relaxed: the flags are only read by atomic operations on
    /// this same word, whose single modification order is all they need.
    #[inline]
    pub fn set(&self, bits: u64) {
        self.0.fetch_or(bits, Ordering::Relaxed);
    }

    /// Clears `bits` (relaxed, as for [`Self::set`]).
    #[inline]
    pub fn clear(&self, bits: u64) {
        self.0.fetch_and(!bits, Ordering::Relaxed);
    }
}

impl Default for StateWord {
    fn default() -> Self {
        Self::new()
    }
}
