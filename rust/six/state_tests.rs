// SPDX-License-Identifier: GPL-2.0

//! Tests of the six lock's state word transitions, run by `cargo test` and
//! as the KUnit suite `sixfs_six_state`.

use super::state::{Refusal, State, StateWord, INTENT, INTENT_WAITING, READER, READERS};
use super::state::{READ_WAITING, SEQ_ONE, WRITE_WAITING};
use super::types::SixLockType::{Intent, Read, Write};
use crate::platform::sync::Ordering;
use crate::platform::{check, check_eq, test_suite};

test_suite! {
    sixfs_six_state;

    fn fields_do_not_overlap() {
        let fields = [READERS, INTENT, WRITE_WAITING, READ_WAITING, INTENT_WAITING, SEQ_ONE];
        for (i, a) in fields.iter().enumerate() {
            for b in fields.iter().skip(i + 1) {
                check_eq!(a & b, 0);
            }
        }
        check_eq!(READER & READERS, READER);
        check_eq!(State(u64::MAX << 32).seq(), u32::MAX);
    }

    fn read_is_refused_by_write_and_by_a_waiting_writer() {
        let free = State(0);
        check_eq!(free.acquire(Read), Ok(State(1)));
        check_eq!(State(SEQ_ONE | INTENT).acquire(Read), Err(Refusal::Busy));
        check_eq!(State(WRITE_WAITING | INTENT | 2).acquire(Read), Err(Refusal::Busy));
        // Intent and the other waiting flags let readers in.
        check_eq!(State(INTENT | READ_WAITING | INTENT_WAITING).acquire(Read).map(|s| s.readers()), Ok(1));
    }

    fn reader_count_saturates_instead_of_overflowing() {
        let full = State(READERS);
        check_eq!(full.acquire(Read), Err(Refusal::Overflow));
        check_eq!(full.add_reader(), None);
        check_eq!(full.add_readers(1), None);
        check_eq!(full.add_readers(-1), Some(State(READERS - 1)));
        check_eq!(State(2).add_readers(-3), None);
        check_eq!(State(2 | INTENT).add_readers(-2), Some(State(INTENT)));
        check_eq!(State(0).add_readers(i32::MIN), None);
        check_eq!(State(0).add_readers(i32::MAX), None);
    }

    fn intent_excludes_intent_only() {
        check_eq!(State(3).acquire(Intent), Ok(State(3 | INTENT)));
        check_eq!(State(INTENT).acquire(Intent), Err(Refusal::Busy));
        check_eq!(State(WRITE_WAITING).acquire(Intent), Ok(State(WRITE_WAITING | INTENT)));
    }

    fn write_needs_intent_and_no_readers() {
        check_eq!(State(0).acquire(Write), Err(Refusal::NotIntent));
        check_eq!(State(INTENT | 1).acquire(Write), Err(Refusal::Busy));
        check_eq!(State(INTENT | SEQ_ONE).acquire(Write), Err(Refusal::NotIntent));
        let held = State(INTENT | WRITE_WAITING | READ_WAITING).acquire(Write);
        // Seq becomes odd and the waiting writer's flag goes.
        check_eq!(held, Ok(State(INTENT | READ_WAITING | SEQ_ONE)));
        check!(held.map(|s| s.write()).unwrap_or(false));
    }

    fn release_undoes_acquire_and_refuses_what_is_not_held() {
        check_eq!(State(0).release(Read), None);
        check_eq!(State(0).release(Intent), None);
        check_eq!(State(0).release(Write), None);
        check_eq!(State(2).release(Read), Some(State(1)));
        check_eq!(State(INTENT | 1).release(Intent), Some(State(1)));
        // Intent cannot go while write is held.
        check_eq!(State(INTENT | SEQ_ONE).release(Intent), None);
        // Write unlock moves seq on to the next even value.
        check_eq!(State(INTENT | SEQ_ONE).release(Write), Some(State(INTENT | (2 * SEQ_ONE))));
    }

    fn seq_wraps_around() {
        let last = State((u64::from(u32::MAX) << 32) | INTENT);
        check!(last.write());
        check_eq!(last.release(Write), Some(State(INTENT)));
        check_eq!(State(INTENT).unwind_write(), None);
        check_eq!(last.unwind_write().map(|s| s.seq()), Some(u32::MAX - 1));
    }

    fn word_updates_atomically_and_reports_refusals() {
        let word = StateWord::new();
        check_eq!(word.try_acquire(Intent), Ok(State(INTENT)));
        check_eq!(word.try_acquire(Intent), Err(Refusal::Busy));
        check_eq!(word.try_acquire(Read), Ok(State(INTENT | 1)));
        check_eq!(word.try_acquire(Write), Err(Refusal::Busy));
        check_eq!(word.release(Read), Some(State(INTENT)));
        check_eq!(word.release(Read), None);
        word.set(READ_WAITING | WRITE_WAITING);
        check_eq!(word.load(), State(INTENT | READ_WAITING | WRITE_WAITING));
        word.clear(WRITE_WAITING);
        check_eq!(word.load(), State(INTENT | READ_WAITING));
        let refused = word.update(Ordering::Relaxed, |_| Err::<State, u8>(9));
        check_eq!(refused, Err((State(INTENT | READ_WAITING), 9)));
    }
}
