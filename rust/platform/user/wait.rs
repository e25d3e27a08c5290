// SPDX-License-Identifier: GPL-2.0

//! Wait lists for userspace, in safe code: the API of
//! `platform/kernel/wait.rs`, where a waiter lives in the waiting task's
//! stack frame. Safe Rust cannot link stack frames, so here a waiter is a
//! reference-counted record, one per thread: allocated the first time the
//! thread waits, kept in a thread-local, and reused by every later wait.
//! The list links the records (`Arc`s) in a singly linked FIFO under the
//! list's lock. So after a thread's first wait, queueing, granting and
//! leaving allocate nothing (std aborts on a failed allocation: there is
//! no error to report either way).
//!
//! Under loom the list's lock and the waiter's state are loom's, so that
//! the handoff is modelled; the links and tags are plain std types, only
//! ever touched under the list's (loom) lock.

use super::sync::{Ordering, SpinLock, SpinLockGuard, Task};
use core::marker::PhantomData;
use core::pin::Pin;
use std::sync::atomic::AtomicU32 as PlainU32;
use std::sync::{Arc, Mutex};

#[cfg(loom)]
use loom::sync::atomic::AtomicU32;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU32;

/// Never queued, or taken out of the list by its owner.
const IDLE: u32 = 0;
/// In the list.
const QUEUED: u32 = 1;
/// Taken out of the list by a waker, which granted it what it waited for.
const GRANTED: u32 = 2;

/// A thread's waiter record.
struct Record {
    /// The thread, to wake.
    task: Task,
    /// What the current wait is for, in the user's terms: set by the owner
    /// before it queues, read under the list's lock.
    tag: PlainU32,
    /// `IDLE`, `QUEUED` or `GRANTED`; changed only under the list's lock.
    state: AtomicU32,
    /// The next record in the list: touched only under the list's lock
    /// (this mutex is never contended; it only makes the link mutable).
    next: Mutex<Option<Arc<Record>>>,
}

impl Record {
    fn next(&self) -> std::sync::MutexGuard<'_, Option<Arc<Record>>> {
        self.next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(not(loom))]
std::thread_local! {
    /// The thread's record while it does not wait.
    static RECORD: core::cell::Cell<Option<Arc<Record>>> = const { core::cell::Cell::new(None) };
}

#[cfg(loom)]
loom::thread_local! {
    static RECORD: core::cell::Cell<Option<Arc<Record>>> = core::cell::Cell::new(None);
}

/// The two ends of the list.
#[derive(Default)]
struct Ends {
    head: Option<Arc<Record>>,
    tail: Option<Arc<Record>>,
}

/// A FIFO of waiters under a lock.
#[derive(Default)]
pub struct WaitList(SpinLock<Ends>);

impl WaitList {
    /// An empty list.
    pub fn new() -> Self {
        Self(SpinLock::new(Ends::default()))
    }

    /// Takes the list's lock.
    pub fn lock(&self) -> WaitListGuard<'_> {
        WaitListGuard {
            list: self,
            ends: self.0.lock(),
        }
    }
}

/// What [`WaitListGuard::grant_oldest`] did.
pub enum Grant {
    /// No waiter with that tag is queued.
    Nobody,
    /// The oldest one's grant was refused; it stays queued.
    Refused,
    /// The oldest one was granted and taken out of the list: wake this task
    /// (after dropping the guard).
    Granted(Task),
}

/// A locked [`WaitList`].
pub struct WaitListGuard<'a> {
    list: &'a WaitList,
    ends: SpinLockGuard<'a, Ends>,
}

impl WaitListGuard<'_> {
    /// The oldest queued record tagged `tag`.
    fn oldest(&self, tag: u32) -> Option<Arc<Record>> {
        let mut node = self.ends.head.clone();
        while let Some(record) = node {
            if record.tag.load(Ordering::Relaxed) == tag {
                return Some(record);
            }
            node = record.next().clone();
        }
        None
    }

    /// Whether a waiter tagged `tag` is queued.
    pub fn any(&self, tag: u32) -> bool {
        self.oldest(tag).is_some()
    }

    /// Whether `waiter` is the oldest in the list.
    pub fn is_first(&self, waiter: Pin<&Waiter<'_>>) -> bool {
        self.ends
            .head
            .as_ref()
            .is_some_and(|head| Arc::ptr_eq(head, &waiter.record))
    }

    /// Finds the oldest waiter tagged `tag` and, if `take` (which acquires
    /// what it waits for on its behalf) succeeds, takes it out of the list
    /// and marks it granted. Its task is returned, to be woken once the
    /// guard is dropped.
    pub fn grant_oldest(&mut self, tag: u32, take: impl FnOnce() -> bool) -> Grant {
        let Some(record) = self.oldest(tag) else {
            return Grant::Nobody;
        };
        if !take() {
            return Grant::Refused;
        }
        self.unlink(&record);
        let task = record.task.clone();
        record.state.store(GRANTED, Ordering::Release);
        Grant::Granted(task)
    }

    /// Appends `record`, which is not linked.
    fn push(&mut self, record: &Arc<Record>) {
        *record.next() = None;
        match &self.ends.tail {
            Some(tail) => *tail.next() = Some(record.clone()),
            None => self.ends.head = Some(record.clone()),
        }
        self.ends.tail = Some(record.clone());
    }

    /// Takes `record` out of the list, if it is there.
    fn unlink(&mut self, record: &Arc<Record>) {
        let mut prev: Option<Arc<Record>> = None;
        let mut node = self.ends.head.clone();
        while let Some(current) = node {
            let next = current.next().clone();
            if Arc::ptr_eq(&current, record) {
                match &prev {
                    Some(prev) => *prev.next() = next.clone(),
                    None => self.ends.head = next.clone(),
                }
                if next.is_none() {
                    self.ends.tail = prev;
                }
                *current.next() = None;
                return;
            }
            prev = Some(current);
            node = next;
        }
    }
}

/// One thread waiting in a [`WaitList`]: its record, for one wait. Pin it
/// (`core::pin::pin!`, as the kernel's must be) to queue it; dropping it
/// takes it out of the list if it is still there.
pub struct Waiter<'l> {
    record: Arc<Record>,
    list: &'l WaitList,
    // Only the thread that made it queues, watches and drops it, as in the
    // kernel.
    _not_send: PhantomData<*mut ()>,
}

impl<'l> Waiter<'l> {
    /// A waiter of the calling thread for `list`, tagged `tag`; not queued.
    /// Allocates the thread's record the first time, and for a wait nested
    /// in another (from a should-sleep hook), which has it in use.
    pub fn new(list: &'l WaitList, tag: u32) -> Self {
        let record = RECORD
            .try_with(|cell| cell.take())
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                Arc::new(Record {
                    task: Task::current(),
                    tag: PlainU32::new(0),
                    state: AtomicU32::new(IDLE),
                    next: Mutex::new(None),
                })
            });
        record.tag.store(tag, Ordering::Relaxed);
        record.state.store(IDLE, Ordering::Relaxed);
        Self {
            record,
            list,
            _not_send: PhantomData,
        }
    }

    /// Appends the waiter to its list, locked by `guard`. Fails if `guard`
    /// locks another list or the waiter is queued already.
    pub fn enqueue(self: Pin<&Self>, guard: &mut WaitListGuard<'_>) -> bool {
        if !core::ptr::eq(guard.list, self.list)
            || self.record.state.load(Ordering::Relaxed) == QUEUED
        {
            return false;
        }
        guard.push(&self.record);
        self.record.state.store(QUEUED, Ordering::Relaxed);
        true
    }

    /// Takes the waiter out of its list, locked by `guard`; whether it was
    /// still there (false: a waker took it out and granted it, or it was
    /// never queued).
    pub fn dequeue(self: Pin<&Self>, guard: &mut WaitListGuard<'_>) -> bool {
        if !core::ptr::eq(guard.list, self.list)
            || self.record.state.load(Ordering::Relaxed) != QUEUED
        {
            return false;
        }
        guard.unlink(&self.record);
        self.record.state.store(IDLE, Ordering::Relaxed);
        true
    }

    /// Whether a waker granted the waiter. Acquire: what the waker did
    /// before granting happens before what we do after seeing it.
    pub fn granted(self: Pin<&Self>) -> bool {
        self.record.state.load(Ordering::Acquire) == GRANTED
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.record.state.load(Ordering::Acquire) == QUEUED {
            let mut guard = self.list.lock();
            if self.record.state.load(Ordering::Relaxed) == QUEUED {
                guard.unlink(&self.record);
                self.record.state.store(IDLE, Ordering::Relaxed);
            }
        }
        // Out of every list now: the thread's next wait may reuse it. (A
        // thread being torn down has no thread-local left: then it goes.)
        let record = self.record.clone();
        let _ = RECORD.try_with(|cell| cell.set(Some(record)));
    }
}
