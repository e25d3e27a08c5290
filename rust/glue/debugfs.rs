// SPDX-License-Identifier: GPL-2.0

//! debugfs: command files for tests and benchmarks.
//!
//! A command file runs a Rust function on each line written to it, as
//! bcachefs's `perf_test` does; results go to the kernel log.

use super::ffi;
use core::ffi::{c_void, CStr};
use core::ptr::NonNull;
use kernel::{bindings, error::from_err_ptr, error::from_result, prelude::*, uaccess::UserSlice};

/// The longest command accepted.
const MAX_COMMAND: usize = 4096;

/// What a command file runs: the written text, trimmed.
pub(crate) struct Command {
    /// Runs one command; an error is the write's result.
    pub(crate) run: fn(&str) -> Result,
}

/// A debugfs directory, removed with everything in it when dropped.
///
/// INVARIANT: `dentry` is a live debugfs directory owned by this value.
pub(crate) struct Dir {
    dentry: NonNull<bindings::dentry>,
}

// SAFETY: debugfs directories may be created in and removed from any thread.
unsafe impl Send for Dir {}
// SAFETY: `&Dir` only creates files, which debugfs serialises.
unsafe impl Sync for Dir {}

impl Dir {
    /// Creates `/sys/kernel/debug/NAME`.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated; a null parent is the debugfs root.
        let dentry =
            unsafe { ffi::sixfs_debugfs_create_dir(name.as_ptr().cast(), core::ptr::null_mut()) };
        let dentry = from_err_ptr(dentry)?;
        Ok(Self {
            dentry: NonNull::new(dentry).ok_or(ENOMEM)?,
        })
    }

    /// Creates a write-only file `name` in this directory that runs
    /// `command` on each write. The file goes away with the directory.
    pub(crate) fn command_file(&self, name: &'static CStr, command: &'static Command) -> Result {
        let data = (command as *const Command).cast_mut().cast::<c_void>();
        // SAFETY: `name` is NUL-terminated, the directory is live (type
        // invariant), `command` and `COMMAND_FOPS` are static, so they
        // outlive the file.
        let file = unsafe {
            ffi::sixfs_debugfs_create_file(
                name.as_ptr().cast(),
                0o200,
                self.dentry.as_ptr(),
                data,
                &COMMAND_FOPS.0,
            )
        };
        from_err_ptr(file)?;
        Ok(())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: the directory is ours (type invariant). debugfs waits for
        // running file operations before removing a file.
        unsafe { ffi::sixfs_debugfs_remove(self.dentry.as_ptr()) };
    }
}

/// A `file_operations` table that can live in a `static`.
#[repr(transparent)]
struct FileOperations(bindings::file_operations);

// SAFETY: the table is never written after initialisation; its only pointers
// are to functions and a null owner.
unsafe impl Sync for FileOperations {}

/// The file operations of every command file.
static COMMAND_FOPS: FileOperations = FileOperations(bindings::file_operations {
    write: Some(command_write),
    llseek: Some(bindings::noop_llseek),
    // SAFETY: all-zero is a valid `file_operations`: no other operations.
    ..unsafe { core::mem::zeroed() }
});

/// `write` of a command file: runs the command with the written text.
///
/// # Safety
///
/// Called by the VFS on a file made by [`Dir::command_file`].
unsafe extern "C" fn command_write(
    file: *mut bindings::file,
    buf: *const kernel::ffi::c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        if count > MAX_COMMAND {
            return Err(EINVAL);
        }
        // SAFETY: `file` is open, so its inode is live; debugfs stores the
        // `data` of `debugfs_create_file` in `i_private`, and
        // `Dir::command_file` passed a `&'static Command`.
        let command = unsafe { &*(*(*file).f_inode).i_private.cast::<Command>() };
        let mut text = KVec::with_capacity(count, GFP_KERNEL)?;
        UserSlice::new(buf as usize, count).read_all(&mut text, GFP_KERNEL)?;
        let text = core::str::from_utf8(&text).map_err(|_| EINVAL)?;
        (command.run)(text.trim())?;
        isize::try_from(count).map_err(|_| EINVAL)
    })
}
