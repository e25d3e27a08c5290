// SPDX-License-Identifier: GPL-2.0

//! Tests of extent overwrite classification, run by `cargo test` and as the
//! KUnit suite `sixfs_bkey_extent`.

use super::extent::{cut_back, cut_front, overwrite, Overwrite, Span};
use super::{Key, Value};
use crate::platform::{check_eq, test_suite};

fn span(start: u64, end: u64) -> Span {
    Span { start, end }
}

test_suite! {
    sixfs_bkey_extent;

    // The cases of bcachefs's test_extent_overwrite_{front,back,middle,all}.
    fn overwrite_front() {
        check_eq!(overwrite(span(0, 64), span(0, 32)), Overwrite::Front);
        check_eq!(overwrite(span(8, 64), span(0, 32)), Overwrite::Front);
    }

    fn overwrite_back() {
        check_eq!(overwrite(span(0, 64), span(32, 64)), Overwrite::Back);
        check_eq!(overwrite(span(0, 64), span(32, 72)), Overwrite::Back);
    }

    fn overwrite_middle() {
        check_eq!(overwrite(span(0, 64), span(32, 40)), Overwrite::Middle);
    }

    fn overwrite_all() {
        check_eq!(overwrite(span(32, 64), span(0, 64)), Overwrite::All);
        check_eq!(overwrite(span(32, 64), span(0, 128)), Overwrite::All);
        check_eq!(overwrite(span(32, 64), span(32, 64)), Overwrite::All);
        check_eq!(overwrite(span(32, 64), span(32, 128)), Overwrite::All);
    }

    fn touching_extents_do_not_overlap() {
        check_eq!(overwrite(span(0, 64), span(64, 128)), Overwrite::None);
        check_eq!(overwrite(span(64, 128), span(0, 64)), Overwrite::None);
        check_eq!(overwrite(span(0, 64), span(10, 10)), Overwrite::None);
    }

    fn cuts_keep_or_move_the_position() {
        let k = Key::extent(3, 10, 50, 1, Value::Whiteout).unwrap_or(Key::deleted(super::Pos::MIN));
        let front = cut_front(&k, 20);
        check_eq!(front.map(|f| (f.start(), f.pos.offset)), Some((20, 50)));
        let back = cut_back(&k, 20);
        check_eq!(back.map(|b| (b.start(), b.pos.offset)), Some((10, 20)));
        check_eq!(cut_front(&k, 10), None);
        check_eq!(cut_front(&k, 50), None);
        check_eq!(cut_back(&k, 50), None);
        check_eq!(cut_back(&k, 9), None);
    }
}
