// SPDX-License-Identifier: GPL-2.0

//! Filesystem types: what `mount -t NAME` looks up.

use super::super_block::SuperBlock;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::ffi::{c_char, c_int, c_void};
use kernel::{bindings, error::from_result, prelude::*, str::CStr, types::Opaque, ThisModule};

/// A filesystem on a block device.
pub(crate) trait FileSystem {
    /// The name given to `mount -t`.
    const NAME: &'static CStr;

    /// Reads the device and sets up `sb`; an error refuses the mount.
    fn fill_super(sb: &SuperBlock) -> Result;
}

/// Storage for a `struct file_system_type`.
///
/// It must be a `static`: lockdep requires the lock class keys embedded in
/// it to live in static memory.
///
/// INVARIANT: `registered` is true while the VFS may hold a pointer to
/// `inner`; `inner` is written only by the registration that flipped it.
pub(crate) struct FileSystemType {
    inner: Opaque<bindings::file_system_type>,
    registered: AtomicBool,
}

// SAFETY: `inner` is written only while `registered` guards it (see the type
// invariant); the VFS serialises its own accesses.
unsafe impl Sync for FileSystemType {}

impl FileSystemType {
    /// An unregistered filesystem type.
    pub(crate) const fn new() -> Self {
        Self {
            inner: Opaque::uninit(),
            registered: AtomicBool::new(false),
        }
    }
}

/// Keeps a filesystem type registered with the VFS until dropped.
pub(crate) struct Registration<T: FileSystem> {
    fs_type: &'static FileSystemType,
    _fs: PhantomData<T>,
}

impl<T: FileSystem> Registration<T> {
    /// Registers `T` with the VFS, using `fs_type` as its storage.
    pub(crate) fn new(
        fs_type: &'static FileSystemType,
        module: &'static ThisModule,
    ) -> Result<Self> {
        if fs_type.registered.swap(true, Ordering::Acquire) {
            return Err(EBUSY);
        }
        // SAFETY: all-zero is a valid `file_system_type` (null pointers, no
        // callbacks, zeroed lock class keys), and nothing else accesses
        // `inner` while it is not registered (type invariant).
        unsafe {
            fs_type.inner.get().write(bindings::file_system_type {
                name: T::NAME.as_char_ptr(),
                owner: module.as_ptr(),
                fs_flags: bindings::FS_REQUIRES_DEV as c_int,
                mount: Some(mount_callback::<T>),
                kill_sb: Some(bindings::kill_block_super),
                ..core::mem::zeroed()
            })
        };
        // SAFETY: `inner` is initialised and, being in a `static`, outlives
        // the registration, which `drop` undoes.
        let ret = unsafe { bindings::register_filesystem(fs_type.inner.get()) };
        if ret != 0 {
            fs_type.registered.store(false, Ordering::Release);
            return Err(Error::from_errno(ret));
        }
        Ok(Self {
            fs_type,
            _fs: PhantomData,
        })
    }
}

impl<T: FileSystem> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `inner` was registered by `new`. Unregistering waits for
        // nothing, but the module cannot be unloaded while a superblock of
        // this type exists, since `owner` pins the module.
        unsafe { bindings::unregister_filesystem(self.fs_type.inner.get()) };
        self.fs_type.registered.store(false, Ordering::Release);
    }
}

/// `file_system_type.mount`: mounts a block device, calling back into `T`.
///
/// # Safety
///
/// Called only by the VFS, with the arguments of `file_system_type.mount`.
unsafe extern "C" fn mount_callback<T: FileSystem>(
    fs_type: *mut bindings::file_system_type,
    flags: c_int,
    dev_name: *const c_char,
    data: *mut c_void,
) -> *mut bindings::dentry {
    // SAFETY: the VFS passes its own valid arguments straight through.
    unsafe {
        bindings::mount_bdev(
            fs_type,
            flags,
            dev_name,
            data,
            Some(fill_super_callback::<T>),
        )
    }
}

/// The `fill_super` callback of `mount_bdev`.
///
/// # Safety
///
/// Called only by `mount_bdev`, with a new superblock that it holds locked.
unsafe extern "C" fn fill_super_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
    _data: *mut c_void,
    _silent: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: `mount_bdev` passes a new superblock that it holds locked
        // for the duration of this callback.
        let sb = unsafe { SuperBlock::from_raw(sb) };
        T::fill_super(sb)?;
        Ok(0)
    })
}
