// SPDX-License-Identifier: GPL-2.0

//! The lockdep annotations, checked against what lockdep records: the KUnit
//! suite `sixfs_lockdep`, built only in kernels with lockdep.

use super::sync::{lockdep_held_locks, LockClass, LockdepMap};
use crate::platform::{check_eq, ok, test_suite};

static TEST_CLASS: LockClass = LockClass::new();

test_suite! {
    sixfs_lockdep;

    fn lockdep_sees_balanced_acquire_and_release() {
        let map = ok!(LockdepMap::new(c"sixfs_test_lock", &TEST_CLASS));
        // Counted along the way, checked once all is released: a check
        // failing while the lock is held would leave lockdep a held lock.
        let before = lockdep_held_locks();
        map.acquire(false, true);
        let read = lockdep_held_locks();
        map.acquire(true, true);
        let read_twice = lockdep_held_locks();
        map.release();
        let one_released = lockdep_held_locks();
        map.release();
        let released = lockdep_held_locks();
        map.acquire(false, false);
        let write = lockdep_held_locks();
        map.release();
        let after = lockdep_held_locks();
        // Lockdep off (after an earlier report) counts nothing: fails here.
        check_eq!(
            [read, read_twice, one_released, released, write, after],
            [before + 1, before + 2, before + 1, before, before + 1, before]
        );
    }
}
