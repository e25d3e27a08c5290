// SPDX-License-Identifier: GPL-2.0

//! Model checking of the six lock with loom: every interleaving of a few
//! threads (up to a preemption bound), with loom's weak memory model.
//!
//! RUSTFLAGS="--cfg loom" cargo test --release --test six_loom
//!
//! Each model checks
//! - exclusion: every holder enters and leaves one shared word with
//!   read-modify-writes, which see each other in one total order, so a
//!   writer next to anyone, or two intent holders, are seen for sure;
//! - visibility: writers bump `version` (a relaxed store) under write;
//!   holders check it against the count of writes in the shared word,
//!   which read-modify-writes always see current: only the lock's
//!   acquire/release orderings make the plain load agree;
//! - no lost wakeup or deadlock: loom fails a model in which every thread
//!   sleeps;
//! - cleanliness: at the end no hold and no waiting flag (a flag is
//!   cleared only when no waiter of its type is queued, so none is).

#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use sixfs_core::platform::sync::LockClass;
use sixfs_core::six::{SixError, SixLock, SixLockCounts, SixLockType};

static CLASS: LockClass = LockClass::new();

/// One reader inside.
const READER: usize = 1;
/// The reader bits.
const READERS: usize = INTENT - 1;
/// The intent holder inside.
const INTENT: usize = 1 << 16;
/// The writer inside.
const WRITER: usize = 1 << 24;
/// The number of writes done, from this bit up.
const WRITES_SHIFT: u32 = 32;
/// The number of intent sections done, from this bit up.
const INTENTS_SHIFT: u32 = 48;
/// The bits of who is inside now.
const HOLDERS: usize = (1 << WRITES_SHIFT) - 1;

/// A lock and what it guards.
struct Shared {
    lock: SixLock,
    /// Who is inside, by the constants above, and the writes done.
    inside: AtomicUsize,
    /// The data: the writes done, written under write (relaxed).
    version: AtomicUsize,
    /// Data of the intent holders: the intent sections done, written under
    /// intent (relaxed).
    intent_data: AtomicUsize,
}

impl Shared {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            lock: SixLock::new(c"six_loom", &CLASS).expect("six lock"),
            inside: AtomicUsize::new(0),
            version: AtomicUsize::new(0),
            intent_data: AtomicUsize::new(0),
        })
    }

    /// Checks that what we see under read or intent is current: the
    /// version read plainly agrees with the writes counted by the
    /// read-modify-write that let us in (which sees the latest value), and
    /// so does the sequence number.
    fn check_current(&self, inside_before: usize) {
        let writes = (inside_before >> WRITES_SHIFT) & 0xffff;
        assert_eq!(self.version.load(Ordering::Relaxed), writes, "stale data");
        assert_eq!(self.lock.seq() as usize, 2 * writes, "seq disagrees");
    }

    fn enter_read(&self) {
        let before = self.inside.fetch_add(READER, Ordering::Relaxed);
        assert_eq!(before & WRITER, 0, "reader next to a writer");
        self.check_current(before);
    }

    fn leave_read(&self) {
        self.inside.fetch_sub(READER, Ordering::Relaxed);
    }

    fn enter_intent(&self) {
        let before = self.inside.fetch_add(INTENT, Ordering::Relaxed);
        assert_eq!(before & (INTENT | WRITER), 0, "two intent holders");
        self.check_current(before);
        // What the previous intent holders wrote is visible to us.
        let sections = before >> INTENTS_SHIFT;
        assert_eq!(
            self.intent_data.load(Ordering::Relaxed),
            sections,
            "stale intent data"
        );
    }

    fn leave_intent(&self) {
        let v = self.intent_data.load(Ordering::Relaxed);
        self.intent_data.store(v + 1, Ordering::Relaxed);
        let done = (1 << INTENTS_SHIFT) - INTENT;
        self.inside.fetch_add(done, Ordering::Relaxed);
    }

    /// Under write: no reader, and we are the intent holder.
    fn write(&self) {
        let before = self.inside.fetch_add(WRITER, Ordering::Relaxed);
        assert_eq!(before & (READERS | WRITER), 0, "writer next to a reader");
        assert_ne!(before & INTENT, 0, "writer without intent");
        let v = self.version.load(Ordering::Relaxed);
        assert_eq!(
            v,
            (before >> WRITES_SHIFT) & 0xffff,
            "stale data under write"
        );
        self.version.store(v + 1, Ordering::Relaxed);
        let done = (1 << WRITES_SHIFT) - WRITER;
        self.inside.fetch_add(done, Ordering::Relaxed);
    }

    /// Checks that the lock is free and clean once every thread is done.
    fn check_idle(&self, writes: usize) {
        assert_eq!(self.lock.counts(), SixLockCounts::default());
        assert!(!self.lock.has_waiters(), "waiting flag left over");
        assert_eq!(self.lock.seq() as usize, 2 * writes);
        assert_eq!(self.version.load(Ordering::Relaxed), writes);
        let inside = self.inside.load(Ordering::Relaxed);
        assert_eq!(inside & HOLDERS, 0, "someone still inside");
        assert_eq!((inside >> WRITES_SHIFT) & 0xffff, writes);
        assert_eq!(
            inside >> INTENTS_SHIFT,
            self.intent_data.load(Ordering::Relaxed)
        );
    }
}

/// Runs `f` with loom, within a preemption bound (LOOM_MAX_PREEMPTIONS
/// overrides it), and prints how many executions were explored.
fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = runs.clone();
    let bound = builder.preemption_bound;
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    let name = std::thread::current().name().unwrap_or("?").to_owned();
    let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("{name}: {runs} executions, preemption bound {bound:?}");
}

/// Takes intent (blocking), writes once, releases.
fn intent_write(s: &Shared) {
    let mut intent = s.lock.intent().expect("intent");
    s.enter_intent();
    let write = intent.write().expect("write");
    s.write();
    drop(write);
    s.leave_intent();
}

/// Takes read (blocking), checks, releases.
fn read(s: &Shared) {
    let guard = s.lock.read().expect("read");
    s.enter_read();
    s.leave_read();
    drop(guard);
}

#[test]
fn reader_and_writer_exclude_each_other() {
    model(4, || {
        let s = Shared::new();
        let t = {
            let s = s.clone();
            thread::spawn(move || intent_write(&s))
        };
        read(&s);
        t.join().unwrap();
        s.check_idle(1);
    });
}

#[test]
fn intent_holders_take_turns() {
    model(4, || {
        let s = Shared::new();
        let t = {
            let s = s.clone();
            thread::spawn(move || intent_write(&s))
        };
        intent_write(&s);
        t.join().unwrap();
        s.check_idle(2);
    });
}

#[test]
fn writer_waits_for_readers_and_blocks_new_ones() {
    model(3, || {
        let s = Shared::new();
        // A reader is in when the writer comes.
        let first = s.lock.read().expect("read");
        s.enter_read();
        let writer = {
            let s = s.clone();
            thread::spawn(move || intent_write(&s))
        };
        let reader = {
            let s = s.clone();
            thread::spawn(move || read(&s))
        };
        s.leave_read();
        drop(first);
        writer.join().unwrap();
        reader.join().unwrap();
        s.check_idle(1);
    });
}

#[test]
fn relock_succeeds_only_without_a_write() {
    model(4, || {
        let s = Shared::new();
        let seq = s.lock.seq();
        let t = {
            let s = s.clone();
            thread::spawn(move || intent_write(&s))
        };
        if s.lock.relock(SixLockType::Read, seq) {
            // Nothing was written since seq: the version agrees.
            s.enter_read();
            assert_eq!(s.lock.seq(), seq);
            s.leave_read();
            s.lock.unlock(SixLockType::Read).unwrap();
        }
        t.join().unwrap();
        assert!(!s.lock.relock(SixLockType::Read, seq));
        s.check_idle(1);
    });
}

#[test]
fn upgrade_and_downgrade_race_with_a_writer() {
    model(4, || {
        let s = Shared::new();
        let t = {
            let s = s.clone();
            thread::spawn(move || {
                // intent, write, then downgrade to read.
                let mut intent = s.lock.intent().expect("intent");
                s.enter_intent();
                if let Ok(_write) = intent.write() {
                    s.write();
                }
                s.leave_intent();
                let read = intent.downgrade().ok().expect("downgrade");
                s.enter_read();
                s.leave_read();
                drop(read);
            })
        };
        // read, then try to upgrade and write.
        let read = s.lock.read().expect("read");
        s.enter_read();
        s.leave_read();
        let mut writes = 1;
        if let Ok(mut intent) = read.try_upgrade() {
            s.enter_intent();
            if let Ok(_write) = intent.write() {
                s.write();
            }
            writes += 1;
            s.leave_intent();
        }
        t.join().unwrap();
        s.check_idle(writes);
    });
}

#[test]
fn downgrade_lets_the_next_intent_in() {
    model(4, || {
        let s = Shared::new();
        let t = {
            let s = s.clone();
            thread::spawn(move || {
                // Waits for intent, then for the reader to leave to write.
                intent_write(&s);
            })
        };
        let intent = s.lock.intent().expect("intent");
        s.enter_intent();
        s.leave_intent();
        let read = intent.downgrade().ok().expect("downgrade");
        s.enter_read();
        s.leave_read();
        drop(read);
        t.join().unwrap();
        s.check_idle(1);
    });
}

#[test]
fn intent_abort_hands_a_late_grant_on() {
    model(3, || {
        let s = Shared::new();
        let holder = s.lock.intent().expect("intent");
        // Queues, then gives up before sleeping; the grant may come before,
        // during or after that.
        let quitter = {
            let s = s.clone();
            thread::spawn(move || {
                let result = s.lock.intent_with(|| Err("quit"));
                match result {
                    Ok(mut intent) => {
                        s.enter_intent();
                        if let Ok(_write) = intent.write() {
                            s.write();
                        }
                        s.leave_intent();
                        1
                    }
                    Err(e) => {
                        assert_eq!(e, SixError::Aborted("quit"));
                        0
                    }
                }
            })
        };
        // Waits for as long as it takes: whoever gets the lock must pass it
        // on to us.
        let patient = {
            let s = s.clone();
            thread::spawn(move || intent_write(&s))
        };
        drop(holder);
        let writes = quitter.join().unwrap() + 1;
        patient.join().unwrap();
        s.check_idle(writes);
    });
}

#[test]
fn write_abort_lets_blocked_readers_in() {
    model(3, || {
        let s = Shared::new();
        let first = s.lock.read().expect("read");
        // Gives up at its first chance; granted write if the reader left
        // before that.
        let writer = {
            let s = s.clone();
            thread::spawn(move || {
                let mut intent = s.lock.intent().expect("intent");
                s.enter_intent();
                let written = match intent.write_with(|| Err(())) {
                    Ok(_w) => {
                        s.write();
                        1
                    }
                    Err(e) => {
                        assert_eq!(e, SixError::Aborted(()));
                        0
                    }
                };
                s.leave_intent();
                written
            })
        };
        // May queue behind the waiting writer; must get in either way.
        let reader = {
            let s = s.clone();
            thread::spawn(move || read(&s))
        };
        drop(first);
        let writes = writer.join().unwrap();
        reader.join().unwrap();
        s.check_idle(writes);
    });
}
