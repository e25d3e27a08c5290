// SPDX-License-Identifier: GPL-2.0

//! Atomic integers on the kernel's `atomic_t`/`atomic64_t`, through the C
//! helpers: each operation and memory order is the kernel's own, with its
//! KASAN/KCSAN instrumentation. `sync.rs` says when these are used.

use crate::glue::ffi;
use core::cell::UnsafeCell;
use core::sync::atomic::Ordering;
use kernel::bindings;

/// The kernel's variant of a read-modify-write operation for `order`.
#[derive(Clone, Copy)]
enum Variant {
    Relaxed,
    Acquire,
    Release,
    Full,
}

impl Variant {
    /// The weakest kernel variant at least as strong as the pair of orders
    /// (success, failure) of a compare-exchange, or of one RMW `order`.
    fn of(success: Ordering, failure: Ordering) -> Variant {
        use Ordering::*;
        let acquire =
            matches!(success, Acquire | AcqRel | SeqCst) || matches!(failure, Acquire | SeqCst);
        let release = !matches!(success, Relaxed | Acquire);
        match (acquire, release) {
            (false, false) => Variant::Relaxed,
            (true, false) => Variant::Acquire,
            (false, true) => Variant::Release,
            (true, true) => Variant::Full,
        }
    }
}

/// Defines an atomic integer on a kernel `atomic_t`/`atomic64_t`.
macro_rules! kernel_atomic {
    ($(#[$doc:meta])* $atomic:ident, $ty:ty, $raw:ty, $name:ident, $aty:ty) => {
        $(#[$doc])*
        #[repr(transparent)]
        pub struct $atomic(UnsafeCell<$aty>);

        // SAFETY: every access to the cell is one of the kernel's atomic
        // operations, which may run concurrently on any CPU.
        unsafe impl Sync for $atomic {}

        impl Default for $atomic {
            fn default() -> Self {
                Self::new(0)
            }
        }

        kernel::macros::paste! {
            impl $atomic {
                /// A new atomic holding `value`.
                pub const fn new(value: $ty) -> Self {
                    Self(UnsafeCell::new($aty { counter: value as $raw }))
                }

                /// Loads the value. `SeqCst` is served by an acquire load:
                /// the shared core never relies on sequentially consistent
                /// plain loads.
                pub fn load(&self, order: Ordering) -> $ty {
                    let v = self.0.get();
                    // SAFETY: `v` points to this live atomic.
                    (unsafe {
                        match order {
                            Ordering::Relaxed => ffi::atomic::[<sixfs_ $name _read>](v),
                            _ => ffi::atomic::[<sixfs_ $name _read_acquire>](v),
                        }
                    }) as $ty
                }

                /// Stores `value`; any order but `Relaxed` is a release.
                pub fn store(&self, value: $ty, order: Ordering) {
                    let v = self.0.get();
                    // SAFETY: `v` points to this live atomic.
                    unsafe {
                        match order {
                            Ordering::Relaxed => ffi::atomic::[<sixfs_ $name _set>](v, value as $raw),
                            _ => ffi::atomic::[<sixfs_ $name _set_release>](v, value as $raw),
                        }
                    }
                }

                kernel_atomic!(@rmw $ty, $raw, $name, fetch_add, fetch_sub, fetch_or, fetch_and);

                /// Stores `new` if the value is `current`; returns the previous
                /// value, `Ok` when it was `current`.
                pub fn compare_exchange(
                    &self,
                    current: $ty,
                    new: $ty,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$ty, $ty> {
                    let v = self.0.get();
                    let (c, n) = (current as $raw, new as $raw);
                    // SAFETY: `v` points to this live atomic.
                    let old = unsafe {
                        match Variant::of(success, failure) {
                            Variant::Relaxed => ffi::atomic::[<sixfs_ $name _cmpxchg_relaxed>](v, c, n),
                            Variant::Acquire => ffi::atomic::[<sixfs_ $name _cmpxchg_acquire>](v, c, n),
                            Variant::Release => ffi::atomic::[<sixfs_ $name _cmpxchg_release>](v, c, n),
                            Variant::Full => ffi::atomic::[<sixfs_ $name _cmpxchg_full>](v, c, n),
                        }
                    } as $ty;
                    if old == current {
                        Ok(old)
                    } else {
                        Err(old)
                    }
                }

                /// As [`Self::compare_exchange`]: the kernel's cmpxchg never
                /// fails spuriously.
                pub fn compare_exchange_weak(
                    &self,
                    current: $ty,
                    new: $ty,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$ty, $ty> {
                    self.compare_exchange(current, new, success, failure)
                }
            }
        }
    };
    (@rmw $ty:ty, $raw:ty, $name:ident, $($op:ident),*) => {
        kernel::macros::paste! {
            $(
                #[doc = concat!("Atomic `", stringify!($op), "`; returns the previous value.")]
                pub fn $op(&self, value: $ty, order: Ordering) -> $ty {
                    let v = self.0.get();
                    let i = value as $raw;
                    // SAFETY: `v` points to this live atomic.
                    (unsafe {
                        match Variant::of(order, Ordering::Relaxed) {
                            Variant::Relaxed => ffi::atomic::[<sixfs_ $name _ $op _relaxed>](v, i),
                            Variant::Acquire => ffi::atomic::[<sixfs_ $name _ $op _acquire>](v, i),
                            Variant::Release => ffi::atomic::[<sixfs_ $name _ $op _release>](v, i),
                            Variant::Full => ffi::atomic::[<sixfs_ $name _ $op _full>](v, i),
                        }
                    }) as $ty
                }
            )*
        }
    };
}

kernel_atomic!(
    /// A 64-bit atomic on the kernel's `atomic64_t`.
    AtomicU64, u64, i64, atomic64, bindings::atomic64_t
);
kernel_atomic!(
    /// A 32-bit atomic on the kernel's `atomic_t`.
    AtomicU32, u32, i32, atomic, bindings::atomic_t
);
