// SPDX-License-Identifier: GPL-2.0

//! Tests of the platform's `Vec`, run by `cargo test` and as the KUnit
//! suite `sixfs_platform_vec`.

use super::sync::{Arc, AtomicU32, Ordering};
use super::vec::Vec;
use crate::platform::{check, check_eq, test_suite};

/// Counts its drops, to check that every element is dropped exactly once.
struct Tracked<'a>(&'a AtomicU32);

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

test_suite! {
    sixfs_platform_vec;

    fn push_pop_and_index() {
        let mut v = Vec::new();
        check!(v.is_empty());
        for i in 0..100u32 {
            check_eq!(v.try_push(i), Ok(()));
        }
        check_eq!(v.len(), 100);
        check_eq!(v[42], 42);
        v[42] = 7;
        check_eq!(v.iter().filter(|&&x| x == 7).count(), 2);
        check_eq!(v.pop(), Some(99));
        check_eq!(v.len(), 99);
        let mut empty = Vec::<u8>::new();
        check_eq!(empty.pop(), None);
    }

    fn extend_appends_clones() {
        let mut v = Vec::new();
        check_eq!(v.try_extend_with(3, 7u8), Ok(()));
        check_eq!(v.try_extend_from_slice(&[1, 2]), Ok(()));
        check_eq!(&v[..], &[7, 7, 7, 1, 2][..]);
        check_eq!(v.try_extend_with(0, 9), Ok(()));
        check_eq!(v.len(), 5);
    }

    fn capacity_is_reserved_up_front() {
        let v = Vec::<u64>::try_with_capacity(10);
        check!(v.is_ok());
        check_eq!(v.map(|v| v.len()).ok(), Some(0));
        let mut w = Vec::new();
        check_eq!(w.try_reserve(3), Ok(()));
        check_eq!(w.try_push(1u8), Ok(()));
        check_eq!(w.len(), 1);
    }

    fn every_element_is_dropped_once() {
        let drops = AtomicU32::new(0);
        {
            let mut v = Vec::new();
            for _ in 0..10 {
                check!(v.try_push(Tracked(&drops)).is_ok());
            }
            drop(v.pop());
            check_eq!(drops.load(Ordering::Relaxed), 1);
            v.clear();
            check_eq!(drops.load(Ordering::Relaxed), 10);
            check!(v.try_push(Tracked(&drops)).is_ok());
        }
        check_eq!(drops.load(Ordering::Relaxed), 11);
        // Shared ownership inside works too.
        let mut arcs = Vec::new();
        if let Ok(a) = Arc::try_new(5u8) {
            check!(arcs.try_push(a.clone()).is_ok());
            check_eq!(*arcs[0], 5);
        }
    }
}
