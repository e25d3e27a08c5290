// SPDX-License-Identifier: GPL-2.0

//! Memory shrinkers: the kernel asks a cache to give memory back.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::{c_char, c_ulong};
use kernel::{bindings, prelude::*, str::CStr, sync::Arc};

/// The machine's memory in bytes: what a cache that a shrinker bounds
/// sizes itself by.
pub(crate) fn memory_bytes() -> u64 {
    // SAFETY: reads a counter; no arguments, no state.
    unsafe { crate::glue::ffi::sixfs_totalram_bytes() }
}

/// A cache that can free objects when memory is short.
pub(crate) trait Shrink: Send + Sync {
    /// Roughly how many objects could be freed now.
    fn count(&self) -> usize;
    /// Frees up to `nr` objects without waiting for locks; returns how
    /// many it freed. `may_write`: the allocation that asks allows
    /// filesystem I/O (`__GFP_FS`), so objects may be written to be freed.
    fn scan(&self, nr: usize, may_write: bool) -> usize;
}

/// A registered shrinker over a `T`; unregistered when dropped.
///
/// INVARIANT: `shrinker` is a registered shrinker whose `private_data` is a
/// pointer from `Arc::into_raw` of an `Arc<T>`, owned by this value and
/// given back (after `shrinker_free`, which waits for running callbacks)
/// in `drop`.
pub(crate) struct Shrinker<T: Shrink> {
    shrinker: NonNull<bindings::shrinker>,
    _owner: PhantomData<Arc<T>>,
}

// SAFETY: the shrinker is only registered and freed through this value;
// the `T` it points to is `Send + Sync`.
unsafe impl<T: Shrink> Send for Shrinker<T> {}
// SAFETY: as above; `&Shrinker` offers nothing.
unsafe impl<T: Shrink> Sync for Shrinker<T> {}

impl<T: Shrink> Shrinker<T> {
    /// Registers a shrinker named `name` (as `/sys/kernel/debug/shrinker`
    /// shows it) over `cache`.
    pub(crate) fn register(name: &CStr, cache: Arc<T>) -> Result<Self> {
        // SAFETY: "%s" with a NUL-terminated string is a valid format for
        // the variadic `shrinker_alloc`, which copies the name.
        let raw = unsafe {
            bindings::shrinker_alloc(0, c"%s".as_ptr().cast::<c_char>(), name.as_char_ptr())
        };
        let shrinker = NonNull::new(raw).ok_or(ENOMEM)?;
        let data = Arc::into_raw(cache);
        // SAFETY: `shrinker` was just allocated and is not registered yet:
        // nothing else reads these fields.
        unsafe {
            let s = shrinker.as_ptr();
            (*s).count_objects = Some(count_callback::<T>);
            (*s).scan_objects = Some(scan_callback::<T>);
            (*s).seeks = bindings::DEFAULT_SEEKS as i32;
            (*s).private_data = data.cast_mut().cast();
        }
        // SAFETY: the shrinker is allocated and set up; `drop` frees it.
        unsafe { bindings::shrinker_register(shrinker.as_ptr()) };
        // INVARIANT: registered, with `private_data` from `Arc::into_raw`.
        Ok(Self {
            shrinker,
            _owner: PhantomData,
        })
    }
}

impl<T: Shrink> Drop for Shrinker<T> {
    fn drop(&mut self) {
        // SAFETY: `private_data` is the pointer `register` stored (type
        // invariant); read before the shrinker is freed.
        let data = unsafe { (*self.shrinker.as_ptr()).private_data };
        // SAFETY: the shrinker is registered (type invariant);
        // `shrinker_free` unregisters it and waits for running callbacks.
        unsafe { bindings::shrinker_free(self.shrinker.as_ptr()) };
        // SAFETY: `data` came from `Arc::into_raw` (type invariant), and no
        // callback can use it any more.
        drop(unsafe { Arc::from_raw(data.cast::<T>()) });
    }
}

/// The cache behind a shrinker's callbacks.
///
/// # Safety
///
/// `shrinker` must be one registered by [`Shrinker::register`] for `T`.
unsafe fn cache<'a, T: Shrink>(shrinker: *mut bindings::shrinker) -> &'a T {
    // SAFETY: `private_data` is an `Arc<T>`'s pointer, alive until
    // `shrinker_free` returned, which waits for this callback.
    unsafe { &*(*shrinker).private_data.cast::<T>() }
}

/// `count_objects` of a [`Shrinker`] over `T`.
///
/// # Safety
///
/// Called by the kernel for a shrinker registered by [`Shrinker::register`].
unsafe extern "C" fn count_callback<T: Shrink>(
    shrinker: *mut bindings::shrinker,
    _sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: the kernel calls this only for the shrinker it was set on.
    let cache = unsafe { cache::<T>(shrinker) };
    cache.count() as c_ulong
}

/// `scan_objects` of a [`Shrinker`] over `T`.
///
/// # Safety
///
/// Called by the kernel for a shrinker registered by [`Shrinker::register`],
/// with a valid `sc`.
unsafe extern "C" fn scan_callback<T: Shrink>(
    shrinker: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: the kernel calls this only for the shrinker it was set on.
    let cache = unsafe { cache::<T>(shrinker) };
    // SAFETY: `sc` is the kernel's valid shrink control for this call.
    let (nr, gfp) = unsafe { ((*sc).nr_to_scan, (*sc).gfp_mask) };
    // SAFETY: a plain test of the bits of a `gfp_t` value.
    let may_write = unsafe { crate::glue::ffi::sixfs_gfp_allows_fs_io(gfp) };
    let freed = cache.scan(nr, may_write);
    // SAFETY: as above; the kernel reads back how many were looked at.
    unsafe { (*sc).nr_scanned = nr };
    if freed == 0 {
        bindings::SHRINK_STOP as c_ulong
    } else {
        freed as c_ulong
    }
}
