// SPDX-License-Identifier: GPL-2.0

//! A growable array whose allocations may fail, on the kernel's `KVec`.

use super::sync::AllocError;
use core::ops::{Deref, DerefMut};
use kernel::alloc::{flags::GFP_KERNEL, KVec};

/// A growable array with fallible growth (same API as userspace's).
/// Allocations use `GFP_KERNEL`: they may sleep.
pub struct Vec<T>(KVec<T>);

impl<T: core::fmt::Debug> core::fmt::Debug for Vec<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<T> Vec<T> {
    /// An empty array; allocates nothing.
    pub const fn new() -> Self {
        Self(KVec::new())
    }

    /// An empty array with room for `capacity` elements.
    pub fn try_with_capacity(capacity: usize) -> Result<Self, AllocError> {
        KVec::with_capacity(capacity, GFP_KERNEL)
            .map(Self)
            .map_err(|_| AllocError)
    }

    /// Makes room for `additional` more elements, so that pushing them
    /// cannot fail (nor allocate: do this before taking a spinlock).
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), AllocError> {
        self.0
            .reserve(additional, GFP_KERNEL)
            .map_err(|_| AllocError)
    }

    /// Appends `value`, growing the array if needed.
    pub fn try_push(&mut self, value: T) -> Result<(), AllocError> {
        self.0.push(value, GFP_KERNEL).map_err(|_| AllocError)
    }

    /// Appends `n` clones of `value`.
    pub fn try_extend_with(&mut self, n: usize, value: T) -> Result<(), AllocError>
    where
        T: Clone,
    {
        self.0
            .extend_with(n, value, GFP_KERNEL)
            .map_err(|_| AllocError)
    }

    /// Appends clones of the elements of `other`.
    pub fn try_extend_from_slice(&mut self, other: &[T]) -> Result<(), AllocError>
    where
        T: Clone,
    {
        self.0
            .extend_from_slice(other, GFP_KERNEL)
            .map_err(|_| AllocError)
    }

    /// Removes and returns the last element.
    pub fn pop(&mut self) -> Option<T> {
        let last = self.0.len().checked_sub(1)?;
        // SAFETY: element `last` is initialised. Shrinking the length first
        // hands its ownership to us, so it is moved out exactly once.
        unsafe {
            self.0.set_len(last);
            Some(self.0.as_ptr().add(last).read())
        }
    }

    /// Elements the array holds without allocating.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Drops the elements from `len` on, keeping the allocation.
    pub fn truncate(&mut self, len: usize) {
        while self.len() > len && self.pop().is_some() {}
    }

    /// Drops every element, keeping the allocation.
    pub fn clear(&mut self) {
        while self.pop().is_some() {}
    }
}

impl<T> Default for Vec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Deref for Vec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for Vec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}
