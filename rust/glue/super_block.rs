// SPDX-License-Identifier: GPL-2.0

//! Superblocks: the VFS's handle on one mounted filesystem.

use super::block::BlockDevice;
use super::ffi;
use core::ptr::NonNull;
use kernel::{bindings, prelude::*, str::CStr, types::Opaque};

/// A superblock while the VFS runs one of our callbacks on it.
///
/// INVARIANT: wraps a live `struct super_block` whose `s_umount` is held by
/// the VFS for as long as a reference to this type exists.
#[repr(transparent)]
pub(crate) struct SuperBlock(Opaque<bindings::super_block>);

impl SuperBlock {
    /// Wraps a superblock handed to a VFS callback.
    ///
    /// # Safety
    ///
    /// `sb` must be valid and locked by the VFS for `'a`.
    pub(crate) unsafe fn from_raw<'a>(sb: *mut bindings::super_block) -> &'a SuperBlock {
        // SAFETY: `SuperBlock` is a transparent wrapper of the C struct, and
        // the caller guarantees the pointer is valid for `'a`.
        unsafe { &*sb.cast() }
    }

    /// The name the kernel gave the filesystem's device, e.g. `vda`.
    pub(crate) fn id(&self) -> &CStr {
        // SAFETY: `s_id` is a NUL-terminated string set up by `sget` before
        // any filesystem callback runs, and it lives as long as `self`.
        unsafe { CStr::from_char_ptr((*self.0.get()).s_id.as_ptr()) }
    }

    /// Whether the filesystem is mounted read-only now.
    pub(crate) fn read_only(&self) -> bool {
        // SAFETY: `self` is a live superblock (type invariant).
        unsafe { ffi::sixfs_sb_rdonly(self.0.get()) }
    }

    /// The block device the filesystem lives on, with a reference of its
    /// own that keeps the device open after the superblock lets it go.
    pub(crate) fn block_device(&self) -> Result<BlockDevice> {
        // SAFETY: `self` is a live superblock (type invariant).
        let (file, bdev) = unsafe { ((*self.0.get()).s_bdev_file, (*self.0.get()).s_bdev) };
        let file = NonNull::new(file).ok_or(ENOTBLK)?;
        let bdev = NonNull::new(bdev).ok_or(ENOTBLK)?;
        // A block superblock holds its device's file open, with `s_bdev`
        // its device, until `kill_block_super`, which cannot run while the
        // VFS holds `s_umount` for the callback that borrowed `self`.
        // SAFETY: so `file` is open and `bdev` is its device (above).
        Ok(unsafe { BlockDevice::from_open_file(file, bdev) })
    }

    /// Writes out everything dirty of the filesystem and waits
    /// (`sync_filesystem`): what remount to read-only does first.
    pub(crate) fn sync(&self) -> Result {
        // SAFETY: `self` is live and its `s_umount` held (type invariant),
        // as `sync_filesystem` requires.
        kernel::error::to_result(unsafe { bindings::sync_filesystem(self.0.get()) })
    }
}
