// SPDX-License-Identifier: GPL-2.0

//! A growable array whose allocations may fail, on std's `Vec`.

use super::sync::{might_sleep, AllocError};
use core::ops::{Deref, DerefMut};

/// A growable array with fallible growth (same API as the kernel's).
#[derive(Debug, Default)]
pub struct Vec<T>(std::vec::Vec<T>);

impl<T> Vec<T> {
    /// An empty array; allocates nothing.
    pub const fn new() -> Self {
        Self(std::vec::Vec::new())
    }

    /// An empty array with room for `capacity` elements.
    pub fn try_with_capacity(capacity: usize) -> Result<Self, AllocError> {
        if capacity > 0 {
            might_sleep();
        }
        let mut v = std::vec::Vec::new();
        v.try_reserve_exact(capacity).map_err(|_| AllocError)?;
        Ok(Self(v))
    }

    /// Makes room for `additional` more elements, so that pushing them
    /// cannot fail (nor allocate: do this before taking a spinlock).
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), AllocError> {
        self.may_grow(additional);
        self.0.try_reserve(additional).map_err(|_| AllocError)
    }

    /// Appends `value`, growing the array if needed.
    pub fn try_push(&mut self, value: T) -> Result<(), AllocError> {
        self.may_grow(1);
        self.0.try_reserve(1).map_err(|_| AllocError)?;
        self.0.push(value);
        Ok(())
    }

    /// Appends `n` clones of `value`.
    pub fn try_extend_with(&mut self, n: usize, value: T) -> Result<(), AllocError>
    where
        T: Clone,
    {
        self.may_grow(n);
        self.0.try_reserve(n).map_err(|_| AllocError)?;
        self.0.resize(self.0.len() + n, value);
        Ok(())
    }

    /// Appends clones of the elements of `other`.
    pub fn try_extend_from_slice(&mut self, other: &[T]) -> Result<(), AllocError>
    where
        T: Clone,
    {
        self.may_grow(other.len());
        self.0.try_reserve(other.len()).map_err(|_| AllocError)?;
        self.0.extend_from_slice(other);
        Ok(())
    }

    /// Growing by `additional` allocates when the capacity is short: a
    /// point that may sleep, as in the kernel (within the capacity it is
    /// not, and is allowed under a spinlock).
    fn may_grow(&self, additional: usize) {
        if self.0.capacity() - self.0.len() < additional {
            might_sleep();
        }
    }

    /// Removes and returns the last element.
    pub fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }

    /// Elements the array holds without allocating.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Drops the elements from `len` on, keeping the allocation.
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// Drops every element, keeping the allocation.
    pub fn clear(&mut self) {
        self.0.clear();
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
