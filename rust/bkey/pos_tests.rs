// SPDX-License-Identifier: GPL-2.0

//! Tests of [`Pos`], run by `cargo test` and as the KUnit suite `sixfs_pos`.

use super::Pos;
use crate::platform::{check, check_eq, test_suite};

test_suite! {
    sixfs_pos;

    fn orders_by_inode_then_offset_then_snapshot() {
        check!(Pos::new(1, 9, 9) < Pos::new(2, 0, 0));
        check!(Pos::new(1, 1, 9) < Pos::new(1, 2, 0));
        check!(Pos::new(1, 1, 1) < Pos::new(1, 1, 2));
        check_eq!(Pos::new(3, 4, 5), Pos::new(3, 4, 5));
        check!(Pos::MIN < Pos::new(0, 0, 1));
        check!(Pos::new(u64::MAX, u64::MAX, u32::MAX - 1) < Pos::MAX);
    }

    fn successor_carries_into_offset_and_inode() {
        check_eq!(Pos::new(1, 2, 3).successor(), Some(Pos::new(1, 2, 4)));
        check_eq!(Pos::new(1, 2, u32::MAX).successor(), Some(Pos::new(1, 3, 0)));
        check_eq!(Pos::new(1, u64::MAX, u32::MAX).successor(), Some(Pos::new(2, 0, 0)));
        check_eq!(Pos::MAX.successor(), None);
    }

    fn predecessor_borrows_from_offset_and_inode() {
        check_eq!(Pos::new(1, 2, 3).predecessor(), Some(Pos::new(1, 2, 2)));
        check_eq!(Pos::new(1, 2, 0).predecessor(), Some(Pos::new(1, 1, u32::MAX)));
        check_eq!(Pos::new(2, 0, 0).predecessor(), Some(Pos::new(1, u64::MAX, u32::MAX)));
        check_eq!(Pos::MIN.predecessor(), None);
    }

    fn successor_and_predecessor_are_inverse() {
        let samples = [
            Pos::new(0, 0, 1),
            Pos::new(7, 0, 0),
            Pos::new(7, 1, 0),
            Pos::new(7, u64::MAX, u32::MAX),
            Pos::MAX,
        ];
        for pos in samples {
            let before = pos.predecessor();
            check!(before.is_some());
            if let Some(before) = before {
                check!(before < pos);
                check_eq!(before.successor(), Some(pos));
            }
        }
    }
}
