// SPDX-License-Identifier: GPL-2.0

//! Tests of the six lock's guards, run by `cargo test` and as the KUnit
//! suite `sixfs_six_guard`.

use super::test_util::counts;
use super::types::SixLockType::{Intent, Read};
use super::{SixError, SixLock};
use crate::platform::sync::{AllocError, LockClass};
use crate::platform::{check, check_eq, ok, test_suite};

static CLASS: LockClass = LockClass::new();

fn new_lock() -> Result<SixLock, AllocError> {
    SixLock::new(c"sixfs_six_guard_test", &CLASS)
}

test_suite! {
    sixfs_six_guard;

    fn guards_release_on_drop() {
        let lock = ok!(new_lock());
        {
            let _a = lock.read();
            let _b = lock.try_read();
            let _i = lock.try_intent(); // no blocking on intent while holding read
            check_eq!(lock.counts(), counts(2, 1, false));
            check!(lock.try_intent().is_none());
        }
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn write_goes_through_intent() {
        let lock = ok!(new_lock());
        let seq = lock.seq();
        if let Ok(mut intent) = lock.intent() {
            {
                let write = intent.write();
                check!(write.is_ok());
                check_eq!(lock.counts(), counts(0, 1, true));
                check!(lock.try_read().is_none());
            }
            check_eq!(lock.counts(), counts(0, 1, false));
            check_eq!(intent.seq(), seq + 2);
            // A reader keeps try_write out.
            let reader = lock.try_read();
            check!(reader.is_some());
            check!(intent.try_write().is_none());
            drop(reader);
            check!(intent.try_write().is_some());
        } else {
            check!(false);
        }
        check_eq!(lock.counts(), counts(0, 0, false));
        check_eq!(lock.seq(), seq + 4);
    }

    fn upgrade_and_downgrade_move_one_hold() {
        let lock = ok!(new_lock());
        let read = lock.try_read();
        check!(read.is_some());
        let Some(read) = read else { return Ok(()) };
        let other = lock.try_intent();
        // Upgrade fails while someone else holds intent.
        let read = match read.try_upgrade() {
            Ok(_) => {
                check!(false);
                return Ok(());
            }
            Err(read) => read,
        };
        drop(other);
        let intent = read.try_upgrade();
        check!(intent.is_ok());
        check_eq!(lock.counts(), counts(0, 1, false));
        if let Ok(intent) = intent {
            let read = intent.downgrade();
            check!(read.is_ok());
            check_eq!(lock.counts(), counts(1, 0, false));
        }
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn relock_guards_follow_the_sequence_number() {
        let lock = ok!(new_lock());
        let seq = match lock.try_read() {
            Some(read) => read.seq(),
            None => return Ok(()),
        };
        check!(lock.relock_read(seq).is_some());
        if let Some(mut intent) = lock.relock_intent(seq) {
            drop(intent.write());
        }
        check!(lock.relock_read(seq).is_none());
        check!(lock.relock_intent(seq).is_none());
        check!(lock.relock_read(seq + 2).is_some());
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn into_raw_keeps_the_hold() {
        let lock = ok!(new_lock());
        if let Ok(intent) = lock.intent() {
            let raw = intent.into_raw();
            check_eq!(raw.counts(), counts(0, 1, false));
        }
        check_eq!(lock.counts(), counts(0, 1, false));
        check_eq!(lock.unlock(Intent), Ok(()));
        if let Some(read) = lock.try_read() {
            let _ = read.into_raw();
        }
        check_eq!(lock.unlock(Read), Ok(()));
        check_eq!(lock.counts(), counts(0, 0, false));
    }

    fn hooks_abort_guarded_waits() {
        let lock = ok!(new_lock());
        if let Ok(mut intent) = lock.intent() {
            let reader = lock.try_read();
            check!(reader.is_some());
            let write = intent.write_with(|| Err(3));
            check!(matches!(write, Err(SixError::Aborted(3))));
            drop(write);
            drop(reader);
            check!(matches!(lock.intent_with(|| Err(4)), Err(SixError::Aborted(4))));
            if let Ok(write) = intent.write() {
                check!(matches!(lock.read_with(|| Err(5)), Err(SixError::Aborted(5))));
                drop(write);
            }
        }
        check_eq!(lock.counts(), counts(0, 0, false));
        check_eq!(lock.seq(), 2);
    }
}
