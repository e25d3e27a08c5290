// SPDX-License-Identifier: GPL-2.0

//! Wait lists whose waiters live in the waiting task's stack frame: an
//! intrusive doubly linked FIFO under a raw spinlock, as bcachefs's six
//! lock keeps its waiters. Queueing, granting and leaving allocate nothing,
//! so a lock built on it cannot fail for want of memory nor recurse into
//! reclaim. Same API as `platform/user/wait.rs`.
//!
//! A [`Waiter`] is pinned (`core::pin::pin!`) before it can be queued, so
//! its memory stays where it is until it is dropped, and dropping it takes
//! it out of the list first. A waker that grants a waiter takes it out of
//! the list, takes its own reference to the task, and sets the waiter's
//! state to granted as its last access: from then on the waiter may return
//! and its frame be reused.

use super::sync::{AtomicU32, Ordering, SpinLock, SpinLockGuard, Task};
use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr;

/// Never queued, or taken out of the list by its owner.
const IDLE: u32 = 0;
/// In the list.
const QUEUED: u32 = 1;
/// Taken out of the list by a waker, which granted it what it waited for.
const GRANTED: u32 = 2;

/// A node's neighbours in the list (null at either end).
struct Links {
    prev: *const Node,
    next: *const Node,
}

/// The part of a waiter that the list and the wakers see.
struct Node {
    /// Read and written only under the spinlock of the list the waiter
    /// belongs to.
    links: UnsafeCell<Links>,
    /// The waiting task, to wake.
    task: Task,
    /// What the waiter waits for, in its user's terms.
    tag: u32,
    /// `IDLE`, `QUEUED` or `GRANTED`; changed only under the list's
    /// spinlock, so that under it `QUEUED` means linked.
    state: AtomicU32,
}

/// The two ends of the list.
///
/// INVARIANT: `head` and `tail` and the links of every node reachable from
/// them point to live nodes of waiters that borrow this list and whose
/// state is `QUEUED`, in queueing order; all of it is read and written only
/// with the list's spinlock held. Such a node stays alive: its waiter is
/// pinned (its memory is not reused before it is dropped) and its `Drop`
/// takes it out of the list under the spinlock; a waker that takes it out
/// touches it last with the store of `GRANTED`, after which its owner is
/// free to return.
struct Ends {
    head: *const Node,
    tail: *const Node,
}

// SAFETY: the pointers are followed only under the list's spinlock, by
// whichever task holds it; the nodes they reach are touched there only
// through their `UnsafeCell` links, their atomic state, and a clone of their
// task reference, all of which may happen on any CPU.
unsafe impl Send for Ends {}

/// A FIFO of waiters under a raw spinlock. Allocates nothing, ever.
pub struct WaitList(SpinLock<Ends>);

impl WaitList {
    /// An empty list.
    pub fn new() -> Self {
        Self(SpinLock::new(Ends {
            head: ptr::null(),
            tail: ptr::null(),
        }))
    }

    /// Takes the list's spinlock: nothing that may sleep until the guard
    /// is dropped.
    pub fn lock(&self) -> WaitListGuard<'_> {
        WaitListGuard {
            list: self,
            ends: self.0.lock(),
        }
    }
}

impl Default for WaitList {
    fn default() -> Self {
        Self::new()
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
    /// The oldest queued node tagged `tag`, or null.
    fn oldest(&self, tag: u32) -> *const Node {
        let mut node = self.ends.head;
        while !node.is_null() {
            // SAFETY: `node` is linked in this list, whose spinlock we hold,
            // so it is alive and its links are ours to read (invariant of
            // `Ends`).
            let (node_tag, next) = unsafe { ((*node).tag, (*(*node).links.get()).next) };
            if node_tag == tag {
                return node;
            }
            node = next;
        }
        ptr::null()
    }

    /// Whether a waiter tagged `tag` is queued.
    pub fn any(&self, tag: u32) -> bool {
        !self.oldest(tag).is_null()
    }

    /// Whether `waiter` is the oldest in the list.
    pub fn is_first(&self, waiter: Pin<&Waiter<'_>>) -> bool {
        ptr::eq(self.ends.head, &waiter.node)
    }

    /// Finds the oldest waiter tagged `tag` and, if `take` (which acquires
    /// what it waits for on its behalf) succeeds, takes it out of the list
    /// and marks it granted. Its task is returned, to be woken once the
    /// guard is dropped.
    pub fn grant_oldest(&mut self, tag: u32, take: impl FnOnce() -> bool) -> Grant {
        let node = self.oldest(tag);
        if node.is_null() {
            return Grant::Nobody;
        }
        if !take() {
            return Grant::Refused;
        }
        // SAFETY: `node` is linked in this list and we hold its spinlock.
        unsafe { self.unlink(node) };
        // SAFETY: the node is still alive: its owner can free it only after
        // it sees `GRANTED` (stored below) or after taking it out of the list
        // under the spinlock, which we hold. The task is never changed.
        let task = unsafe { (*node).task.clone() };
        // INVARIANT: unlinked above, no longer `QUEUED`, under the spinlock.
        // This store is our last access: once the owner sees it (acquire),
        // it may return and its frame be reused, so nothing of the node is
        // used after it (the reference made for the call is dead once the
        // store is done, as in `Arc`'s last decrement).
        // SAFETY: the node is alive, as above, until this store is done.
        unsafe { (*node).state.store(GRANTED, Ordering::Release) };
        Grant::Granted(task)
    }

    /// Appends `node` to the list.
    ///
    /// # Safety
    ///
    /// `node` belongs to a pinned waiter that borrows this list and is not
    /// linked; the caller then sets its state to `QUEUED`.
    unsafe fn push(&mut self, node: *const Node) {
        let tail = self.ends.tail;
        // SAFETY: `node` is alive (pinned, caller's promise) and not linked,
        // so nobody else reads its links; we hold the spinlock.
        unsafe {
            *(*node).links.get() = Links {
                prev: tail,
                next: ptr::null(),
            }
        };
        if tail.is_null() {
            self.ends.head = node;
        } else {
            // SAFETY: `tail` is linked in this list (invariant of `Ends`).
            unsafe { (*(*tail).links.get()).next = node };
        }
        self.ends.tail = node;
    }

    /// Takes `node` out of the list.
    ///
    /// # Safety
    ///
    /// `node` is linked in this list; the caller then changes its state
    /// from `QUEUED`.
    unsafe fn unlink(&mut self, node: *const Node) {
        // SAFETY: `node` is linked in this list, whose spinlock we hold
        // (caller's promise and invariant of `Ends`).
        let Links { prev, next } = unsafe {
            core::mem::replace(
                &mut *(*node).links.get(),
                Links {
                    prev: ptr::null(),
                    next: ptr::null(),
                },
            )
        };
        if prev.is_null() {
            self.ends.head = next;
        } else {
            // SAFETY: `prev` is linked in this list (invariant of `Ends`).
            unsafe { (*(*prev).links.get()).next = next };
        }
        if next.is_null() {
            self.ends.tail = prev;
        } else {
            // SAFETY: `next` is linked in this list (invariant of `Ends`).
            unsafe { (*(*next).links.get()).prev = prev };
        }
    }
}

/// One task waiting in a [`WaitList`], living in the task's stack frame.
/// Pin it (`core::pin::pin!`) to queue it; dropping it takes it out of the
/// list if it is still there.
///
/// Not `Send` nor `Sync` (its links are raw pointers in an `UnsafeCell`):
/// only the task that made it queues, watches and drops it.
pub struct Waiter<'l> {
    node: Node,
    list: &'l WaitList,
    // Linked nodes must not move.
    _pin: PhantomPinned,
}

impl<'l> Waiter<'l> {
    /// A waiter of the calling task for `list`, tagged `tag`; not queued.
    pub fn new(list: &'l WaitList, tag: u32) -> Self {
        Self {
            node: Node {
                links: UnsafeCell::new(Links {
                    prev: ptr::null(),
                    next: ptr::null(),
                }),
                task: Task::current(),
                tag,
                state: AtomicU32::new(IDLE),
            },
            list,
            _pin: PhantomPinned,
        }
    }

    /// Appends the waiter to its list, locked by `guard`. Fails if `guard`
    /// locks another list or the waiter is queued already.
    pub fn enqueue(self: Pin<&Self>, guard: &mut WaitListGuard<'_>) -> bool {
        if !ptr::eq(guard.list, self.list) || self.node.state.load(Ordering::Relaxed) == QUEUED {
            return false;
        }
        // SAFETY: the waiter is pinned and borrows this list, whose spinlock
        // `guard` holds; not `QUEUED` under the spinlock means not linked.
        unsafe { guard.push(&self.node) };
        // INVARIANT: linked, hence `QUEUED`, still under the spinlock.
        self.node.state.store(QUEUED, Ordering::Relaxed);
        true
    }

    /// Takes the waiter out of its list, locked by `guard`; whether it was
    /// still there (false: a waker took it out and granted it, or it was
    /// never queued).
    pub fn dequeue(self: Pin<&Self>, guard: &mut WaitListGuard<'_>) -> bool {
        if !ptr::eq(guard.list, self.list) || self.node.state.load(Ordering::Relaxed) != QUEUED {
            return false;
        }
        // SAFETY: `QUEUED` under the spinlock of its list means linked there.
        unsafe { guard.unlink(&self.node) };
        // INVARIANT: unlinked, hence no longer `QUEUED`, under the spinlock.
        self.node.state.store(IDLE, Ordering::Relaxed);
        true
    }

    /// Whether a waker granted the waiter. Acquire: what the waker did
    /// before granting happens before what we do after seeing it.
    pub fn granted(self: Pin<&Self>) -> bool {
        self.node.state.load(Ordering::Acquire) == GRANTED
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        // Only `QUEUED` needs the spinlock: a waker may be granting us right
        // now. `GRANTED` (acquire) means the waker is done with us.
        if self.node.state.load(Ordering::Acquire) != QUEUED {
            return;
        }
        let mut guard = self.list.lock();
        if self.node.state.load(Ordering::Relaxed) == QUEUED {
            // SAFETY: `QUEUED` under the spinlock of its list means linked
            // there.
            unsafe { guard.unlink(&self.node) };
            // INVARIANT: as in `dequeue`.
            self.node.state.store(IDLE, Ordering::Relaxed);
        }
    }
}
