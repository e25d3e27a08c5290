// SPDX-License-Identifier: GPL-2.0

//! Tests of the six lock's raw operations, run by `cargo test` and as the
//! KUnit suite `sixfs_six`. One thread only: waits are made to end (or be
//! abandoned) by the should-sleep hook, which runs on the waiting thread.
//! (No `check!` inside a hook: in KUnit it returns from the enclosing
//! function, which there is the hook.)

use super::test_util::counts;
use super::types::SixLockType::{Intent, Read, Write};
use super::{SixError, SixLock};
use crate::platform::sync::{AllocError, LockClass};
use crate::platform::{check, check_eq, ok, test_suite};

static CLASS: LockClass = LockClass::new();

fn new_lock() -> Result<SixLock, AllocError> {
    SixLock::new(c"sixfs_six_test", &CLASS)
}

test_suite! {
    sixfs_six;

    fn starts_unlocked() {
        let lock = ok!(new_lock());
        check_eq!(lock.counts(), counts(0, 0, false));
        check_eq!(lock.seq(), 0);
        check!(!lock.has_waiters());
    }

    fn readers_share_with_readers_and_intent() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Read));
        check!(lock.trylock(Read));
        check!(lock.trylock(Intent));
        check!(lock.trylock(Read));
        check_eq!(lock.counts(), counts(3, 1, false));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn trylock_fails_for_each_incompatible_pair() {
        let lock = ok!(new_lock());
        // intent / intent
        check!(lock.trylock(Intent));
        check!(!lock.trylock(Intent));
        // read / write: a reader keeps the intent holder from writing
        check!(lock.trylock(Read));
        check!(!lock.trylock(Write));
        check_eq!(lock.unlock(Read), Ok(()));
        // write / read and write / intent
        check!(lock.trylock(Write));
        check!(!lock.trylock(Read));
        check!(!lock.trylock(Intent));
        // write / write
        check!(!lock.trylock(Write));
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
        // write without intent
        check!(!lock.trylock(Write));
        check_eq!(lock.lock(Write), Err(SixError::Misuse));
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn blocking_lock_of_a_free_lock_takes_it() {
        let lock = ok!(new_lock());
        // One at a time: blocking on intent while holding read is the
        // deadlock lockdep reports.
        check_eq!(lock.lock(Read), Ok(()));
        check_eq!(lock.counts(), counts(1, 0, false));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.lock(Intent), Ok(()));
        check_eq!(lock.lock(Write), Ok(()));
        check_eq!(lock.counts(), counts(0, 1, true));
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn seq_is_odd_exactly_while_write_is_held() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        let seq = lock.seq();
        check!(lock.trylock(Write));
        check_eq!(lock.seq(), seq + 1);
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.seq(), seq + 2);
        // Intent and read alone leave it alone.
        check_eq!(lock.unlock(Intent), Ok(()));
        check!(lock.trylock(Read));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.seq(), seq + 2);
    }

    fn relock_without_a_write_succeeds() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Read));
        let seq = lock.seq();
        check_eq!(lock.unlock(Read), Ok(()));
        // Intent taken and dropped in between writes nothing.
        check!(lock.trylock(Intent));
        check_eq!(lock.unlock(Intent), Ok(()));
        check!(lock.relock(Read, seq));
        check!(lock.relock(Intent, seq));
        check_eq!(lock.counts(), counts(1, 1, false));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn relock_after_a_write_fails() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Read));
        let seq = lock.seq();
        check_eq!(lock.unlock(Read), Ok(()));
        check!(lock.trylock(Intent));
        check!(lock.trylock(Write));
        // Not while the write is going on...
        check!(!lock.relock(Read, seq));
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
        // ...nor after it.
        check!(!lock.relock(Read, seq));
        check!(!lock.relock(Intent, seq));
        check_eq!(lock.counts(), counts(0, 0, false));
        // The new sequence number works.
        check!(lock.relock(Read, seq + 2));
        check_eq!(lock.unlock(Read), Ok(()));
    }

    fn relock_fails_when_the_lock_is_busy() {
        let lock = ok!(new_lock());
        let seq = lock.seq();
        check!(lock.trylock(Intent));
        check!(!lock.relock(Intent, seq));
        check!(lock.trylock(Write));
        check!(!lock.relock(Read, lock.seq()));
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn upgrade_fails_while_another_intent_is_held() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Read));
        check!(lock.trylock(Intent));
        check!(!lock.tryupgrade());
        check!(!lock.trylock_convert(Read, Intent));
        check_eq!(lock.counts(), counts(1, 1, false));
        check_eq!(lock.unlock(Intent), Ok(()));
        check!(lock.tryupgrade());
        check_eq!(lock.counts(), counts(0, 1, false));
        // Without a read hold there is nothing to upgrade.
        check_eq!(lock.unlock(Intent), Ok(()));
        check!(!lock.tryupgrade());
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn downgrade_then_relock() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        check!(lock.trylock(Write));
        check_eq!(lock.unlock(Write), Ok(()));
        let seq = lock.seq();
        check_eq!(lock.downgrade(), Ok(()));
        check_eq!(lock.counts(), counts(1, 0, false));
        // Intent is free for someone else now.
        check!(lock.trylock(Intent));
        check_eq!(lock.unlock(Intent), Ok(()));
        check_eq!(lock.unlock(Read), Ok(()));
        check!(lock.relock(Intent, seq));
        check_eq!(lock.counts(), counts(0, 1, false));
        check_eq!(lock.unlock(Intent), Ok(()));
        // Nothing to downgrade, or not while writing.
        check_eq!(lock.downgrade(), Err(SixError::Misuse));
        check!(lock.trylock(Intent));
        check!(lock.trylock(Write));
        check_eq!(lock.downgrade(), Err(SixError::Misuse));
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn trylock_convert_covers_every_pair() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        check!(lock.trylock_convert(Intent, Intent));
        check!(lock.trylock_convert(Intent, Read));
        check_eq!(lock.counts(), counts(1, 0, false));
        check!(lock.trylock_convert(Read, Read));
        check!(lock.trylock_convert(Read, Intent));
        check_eq!(lock.counts(), counts(0, 1, false));
        check!(!lock.trylock_convert(Intent, Write));
        check!(!lock.trylock_convert(Write, Intent));
        check_eq!(lock.counts(), counts(0, 1, false));
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn increment_counts_holds_that_each_need_an_unlock() {
        let lock = ok!(new_lock());
        check_eq!(lock.increment(Read), Err(SixError::Misuse));
        check_eq!(lock.increment(Intent), Err(SixError::Misuse));
        check!(lock.trylock(Read));
        check_eq!(lock.increment(Read), Ok(()));
        check_eq!(lock.counts(), counts(2, 0, false));
        check!(lock.trylock(Intent));
        check_eq!(lock.increment(Intent), Ok(()));
        check_eq!(lock.increment(Intent), Ok(()));
        check_eq!(lock.counts(), counts(2, 3, false));
        check_eq!(lock.increment(Write), Err(SixError::Misuse));
        // The incremented intent stays held until its last unlock.
        check_eq!(lock.unlock(Intent), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
        check!(!lock.trylock(Intent));
        check_eq!(lock.counts(), counts(2, 1, false));
        check_eq!(lock.unlock(Intent), Ok(()));
        check!(lock.trylock(Intent));
        check_eq!(lock.unlock(Intent), Ok(()));
        // Intent alone allows incrementing read.
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Read), Ok(()));
        check!(lock.trylock(Intent));
        check_eq!(lock.increment(Read), Ok(()));
        check_eq!(lock.counts(), counts(1, 1, false));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn downgrade_of_an_incremented_intent_keeps_intent() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        check_eq!(lock.increment(Intent), Ok(()));
        check_eq!(lock.downgrade(), Ok(()));
        check_eq!(lock.counts(), counts(1, 1, false));
        check_eq!(lock.unlock(Intent), Ok(()));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn unlock_of_what_is_not_held_is_refused() {
        let lock = ok!(new_lock());
        check_eq!(lock.unlock(Read), Err(SixError::Misuse));
        check_eq!(lock.unlock(Intent), Err(SixError::Misuse));
        check_eq!(lock.unlock(Write), Err(SixError::Misuse));
        check!(lock.trylock(Intent));
        check_eq!(lock.unlock(Write), Err(SixError::Misuse));
        check!(lock.trylock(Write));
        // Intent cannot go from under a write.
        check_eq!(lock.unlock(Intent), Err(SixError::Misuse));
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
        check_eq!(lock.counts(), counts(0, 0, false));
        check_eq!(lock.seq(), 2);
    }

    fn readers_add_lets_a_reader_take_write() {
        let lock = ok!(new_lock());
        // We hold intent and two reads (say, through two btree paths).
        check!(lock.trylock(Intent));
        check!(lock.trylock(Read));
        check!(lock.trylock(Read));
        check!(!lock.trylock(Write));
        check_eq!(lock.readers_add(-2), Ok(()));
        check!(lock.trylock(Write));
        check_eq!(lock.readers_add(2), Ok(()));
        check_eq!(lock.counts(), counts(2, 1, true));
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.counts(), counts(2, 1, false));
        check_eq!(lock.readers_add(-3), Err(SixError::Overflow));
        check_eq!(lock.counts(), counts(2, 1, false));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn should_sleep_error_aborts_the_wait() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        let mut calls = 0;
        let result = lock.lock_with(Intent, || {
            calls += 1;
            Err(-11)
        });
        check_eq!(result, Err(SixError::Aborted(-11)));
        check_eq!(calls, 1);
        // As before: intent held once, nothing flagged as waiting.
        check_eq!(lock.counts(), counts(0, 1, false));
        check!(!lock.has_waiters());
        check_eq!(lock.unlock(Intent), Ok(()));
        check!(lock.trylock(Intent));
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn should_sleep_runs_until_the_lock_is_granted() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        let mut calls = 0;
        let mut unlocked = Err(SixError::Misuse);
        // The hook releases the lock, which grants it to us: the sleep that
        // follows ends at once, and the hook is not asked again.
        let result = lock.lock_with(Intent, || {
            calls += 1;
            unlocked = lock.unlock(Intent);
            Ok::<(), i32>(())
        });
        check_eq!(unlocked, Ok(()));
        check_eq!(result, Ok(()));
        check_eq!(calls, 1);
        check_eq!(lock.counts(), counts(0, 1, false));
        check!(!lock.has_waiters());
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn abort_after_the_grant_gives_the_lock_back() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        // The hook releases the lock (granting it to us), then fails.
        let mut unlocked = Err(SixError::Misuse);
        let result = lock.lock_with(Intent, || {
            unlocked = lock.unlock(Intent);
            Err("abort")
        });
        check_eq!(unlocked, Ok(()));
        check_eq!(result, Err(SixError::Aborted("abort")));
        check_eq!(lock.counts(), counts(0, 0, false));
        check!(!lock.has_waiters());
    }

    fn read_wait_aborts_cleanly() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        check!(lock.trylock(Write));
        let result = lock.lock_with(Read, || Err(1));
        check_eq!(result, Err(SixError::Aborted(1)));
        check!(!lock.has_waiters());
        // Granted then abandoned: the read hold is dropped again.
        let mut unlocked = Err(SixError::Misuse);
        let result = lock.lock_with(Read, || {
            unlocked = lock.unlock(Write);
            Err(2)
        });
        check_eq!(unlocked, Ok(()));
        check_eq!(result, Err(SixError::Aborted(2)));
        check_eq!(lock.counts(), counts(0, 1, false));
        check!(!lock.has_waiters());
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn waiting_writer_blocks_new_readers_until_it_aborts() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        check!(lock.trylock(Read));
        let seq = lock.seq();
        let mut reader_refused = false;
        let result = lock.lock_with(Write, || {
            reader_refused = !lock.trylock(Read);
            Err(())
        });
        check_eq!(result, Err(SixError::Aborted(())));
        check!(reader_refused);
        // Readers are welcome again, and nothing was written.
        check!(!lock.has_waiters());
        check!(lock.trylock(Read));
        check_eq!(lock.counts(), counts(2, 1, false));
        check_eq!(lock.seq(), seq);
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn write_granted_when_the_last_reader_leaves() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        check!(lock.trylock(Read));
        let seq = lock.seq();
        let mut unlocked = Err(SixError::Misuse);
        let result = lock.lock_with(Write, || {
            // The reader leaves; its unlock grants write to us.
            unlocked = lock.unlock(Read);
            Ok::<(), ()>(())
        });
        check_eq!(unlocked, Ok(()));
        check_eq!(result, Ok(()));
        check_eq!(lock.counts(), counts(0, 1, true));
        check_eq!(lock.seq(), seq + 1);
        check!(!lock.has_waiters());
        check_eq!(lock.unlock(Write), Ok(()));
        check_eq!(lock.seq(), seq + 2);
        check_eq!(lock.unlock(Intent), Ok(()));
    }

    fn write_abort_after_the_grant_leaves_seq_as_it_was() {
        let lock = ok!(new_lock());
        check!(lock.trylock(Intent));
        check!(lock.trylock(Read));
        let seq = lock.seq();
        let mut unlocked = Err(SixError::Misuse);
        let result = lock.lock_with(Write, || {
            unlocked = lock.unlock(Read);
            Err(5)
        });
        check_eq!(unlocked, Ok(()));
        check_eq!(result, Err(SixError::Aborted(5)));
        check_eq!(lock.counts(), counts(0, 1, false));
        check_eq!(lock.seq(), seq);
        check!(!lock.has_waiters());
        // Nothing was written: a relock with the old seq still works.
        check!(lock.relock(Read, seq));
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.unlock(Intent), Ok(()));
    }
}
