// SPDX-License-Identifier: GPL-2.0

//! debugfs: command files for tests and benchmarks, text files for
//! introspection.
//!
//! A command file runs a Rust function on each line written to it, as
//! bcachefs's `perf_test` does; results go to the kernel log. A text file
//! renders its contents when opened; reads of that open file see that
//! snapshot. A mount's directory ([`MountDir`], under the module's) holds
//! handler files, whose writes run a closure that owns what it works on.

use super::ffi;
use core::ffi::{c_void, CStr};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{
    bindings, error::from_err_ptr, error::from_result, prelude::*, sync::Arc, uaccess::UserSlice,
};

/// The longest command accepted.
const MAX_COMMAND: usize = 4096;

/// What a command file runs: the written text, trimmed.
pub(crate) struct Command {
    /// Runs one command; an error is the write's result.
    pub(crate) run: fn(&str) -> Result,
}

/// What a text file shows: a function writing its current contents.
pub(crate) struct Text {
    /// Renders the file.
    pub(crate) show: fn(&mut dyn core::fmt::Write) -> core::fmt::Result,
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
        // SAFETY: `command_write` reads `i_private` as a `Command`.
        unsafe { self.file(name, 0o200, command, &COMMAND_FOPS) }
    }

    /// Creates a read-only file `name` in this directory showing `text`.
    /// The file goes away with the directory.
    pub(crate) fn text_file(&self, name: &'static CStr, text: &'static Text) -> Result {
        // SAFETY: `text_open` reads `i_private` as a `Text`.
        unsafe { self.file(name, 0o400, text, &TEXT_FOPS) }
    }

    /// Creates file `name` whose operations find `data` in `i_private`.
    ///
    /// # Safety
    ///
    /// `fops` must use `i_private` only as a shared `&T`.
    unsafe fn file<T>(
        &self,
        name: &'static CStr,
        mode: bindings::umode_t,
        data: &'static T,
        fops: &'static FileOperations,
    ) -> Result {
        let data = (data as *const T).cast_mut().cast::<c_void>();
        // `data` and `fops` are statics of this module and outlive the file:
        // it is removed before the module goes (`Dir` is dropped at unload),
        // and an open file pins the module (`owner` of `fops`).
        // SAFETY: `name` is NUL-terminated, the directory is live (type
        // invariant), `data` and `fops` outlive the file (above), and `fops`
        // reads `data` as the `T` it is (the caller's promise).
        let file = unsafe {
            ffi::sixfs_debugfs_create_file(
                name.as_ptr().cast(),
                mode,
                self.dentry.as_ptr(),
                data,
                &fops.0,
            )
        };
        from_err_ptr(file)?;
        Ok(())
    }
}

/// The module's directory (`/sys/kernel/debug/sixfs`) while it exists:
/// where mounts make theirs.
static ROOT: AtomicPtr<bindings::dentry> = AtomicPtr::new(core::ptr::null_mut());

impl Dir {
    /// Makes this the directory mounts put theirs in ([`MountDir::new`]),
    /// until it is dropped.
    pub(crate) fn set_as_root(&self) {
        ROOT.store(self.dentry.as_ptr(), Ordering::Release);
    }
}

/// What a handler file runs on each write: the text, trimmed.
pub(crate) type Handler = Arc<dyn Fn(&str) -> Result + Send + Sync>;

/// A mount's debugfs directory, under the module's, with handler files.
///
/// INVARIANT: each file of `dir` made by [`Self::handler_file`] has as its
/// `i_private` a pointer to one of the boxed `handlers`, which are dropped
/// only after `dir` (fields drop in declaration order), whose removal waits
/// for running file operations.
pub(crate) struct MountDir {
    dir: Dir,
    handlers: KVec<KBox<Handler>>,
}

impl MountDir {
    /// Creates `/sys/kernel/debug/sixfs/NAME`.
    pub(crate) fn new(name: &CStr) -> Result<Self> {
        let root = ROOT.load(Ordering::Acquire);
        if root.is_null() {
            return Err(ENOENT);
        }
        // SAFETY: `name` is NUL-terminated and `root` is the module's live
        // directory: it goes only at module unload, which mounts prevent.
        let dentry = unsafe { ffi::sixfs_debugfs_create_dir(name.as_ptr().cast(), root) };
        let dentry = from_err_ptr(dentry)?;
        // INVARIANT: no handler files yet.
        Ok(Self {
            dir: Dir {
                dentry: NonNull::new(dentry).ok_or(ENOMEM)?,
            },
            handlers: KVec::new(),
        })
    }

    /// Creates a write-only file `name` whose writes run `handler`, which
    /// lives as long as the directory.
    pub(crate) fn handler_file(&mut self, name: &'static CStr, handler: Handler) -> Result {
        self.handlers.reserve(1, GFP_KERNEL)?;
        let boxed = KBox::new(handler, GFP_KERNEL)?;
        let data = (&*boxed as *const Handler).cast_mut().cast::<c_void>();
        // `data` points into the box kept in `handlers` (pushed below, room
        // reserved above) until after the directory is removed (type
        // invariant); `HANDLER_FOPS` reads it as a `&Handler`.
        // SAFETY: `name` is NUL-terminated, the directory is live, `data`
        // outlives the file (above).
        let file = unsafe {
            ffi::sixfs_debugfs_create_file(
                name.as_ptr().cast(),
                0o200,
                self.dir.dentry.as_ptr(),
                data,
                &HANDLER_FOPS.0,
            )
        };
        self.handlers.push(boxed, GFP_KERNEL)?;
        from_err_ptr(file)?;
        Ok(())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = ROOT.compare_exchange(
            self.dentry.as_ptr(),
            core::ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        // SAFETY: the directory is ours (type invariant). debugfs waits for
        // running file operations before removing a file; files still open
        // get only `release` afterwards, and they keep the module loaded.
        unsafe { ffi::sixfs_debugfs_remove(self.dentry.as_ptr()) };
    }
}

/// A `file_operations` table that can live in a `static`.
///
/// Its `owner` is this module: opening a file takes a reference to the
/// module (debugfs's `full_proxy_open` calls `fops_get`), so the module
/// cannot be unloaded while a file is open. Without it, a file opened
/// before `rmmod` and closed after would run `release` (which debugfs calls
/// even on a removed file) from unloaded code.
#[repr(transparent)]
struct FileOperations(bindings::file_operations);

// SAFETY: the table is never written after initialisation; its only pointers
// are to functions and to this module's `struct module`, which the table
// never writes through.
unsafe impl Sync for FileOperations {}

/// The file operations of every command file.
static COMMAND_FOPS: FileOperations = FileOperations(bindings::file_operations {
    owner: crate::THIS_MODULE.as_ptr(),
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
        // SAFETY: `file` is open, so its inode is live; debugfs stores the
        // `data` of `debugfs_create_file` in `i_private`, and
        // `Dir::command_file` passed a `&'static Command`.
        let command = unsafe { &*(*(*file).f_inode).i_private.cast::<Command>() };
        let text = read_command(buf, count)?;
        let text = core::str::from_utf8(&text).map_err(|_| EINVAL)?;
        (command.run)(text.trim())?;
        isize::try_from(count).map_err(|_| EINVAL)
    })
}

/// The file operations of every text file.
static HANDLER_FOPS: FileOperations = FileOperations(bindings::file_operations {
    owner: crate::THIS_MODULE.as_ptr(),
    write: Some(handler_write),
    llseek: Some(bindings::noop_llseek),
    // SAFETY: all-zero is a valid `file_operations` (no other callbacks).
    ..unsafe { core::mem::zeroed() }
});

/// `write` of a [`MountDir`]'s handler file.
///
/// # Safety
///
/// Called by debugfs for a file made by [`MountDir::handler_file`].
unsafe extern "C" fn handler_write(
    file: *mut bindings::file,
    buf: *const kernel::ffi::c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        // SAFETY: `file` is open, so its inode is live; this file was made
        // by `MountDir::handler_file`, whose `i_private` is a `Handler` that
        // outlives every running file operation (`MountDir`'s invariant).
        let handler = unsafe { &*(*(*file).f_inode).i_private.cast::<Handler>() };
        let text = read_command(buf, count)?;
        let text = core::str::from_utf8(&text).map_err(|_| EINVAL)?;
        handler(text.trim())?;
        isize::try_from(count).map_err(|_| EINVAL)
    })
}

/// Copies a command of `count` bytes from user memory at `buf`.
fn read_command(buf: *const kernel::ffi::c_char, count: usize) -> Result<KVec<u8>> {
    if count > MAX_COMMAND {
        return Err(EINVAL);
    }
    let mut text = KVec::with_capacity(count, GFP_KERNEL)?;
    UserSlice::new(buf as usize, count).read_all(&mut text, GFP_KERNEL)?;
    Ok(text)
}

static TEXT_FOPS: FileOperations = FileOperations(bindings::file_operations {
    owner: crate::THIS_MODULE.as_ptr(),
    open: Some(text_open),
    read: Some(text_read),
    release: Some(text_release),
    llseek: Some(bindings::default_llseek),
    // SAFETY: all-zero is a valid `file_operations`: no other operations.
    ..unsafe { core::mem::zeroed() }
});

/// A `fmt::Write` into a kernel vector; it fails once an allocation does.
struct TextBuf(KVec<u8>);

impl core::fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

/// `open` of a text file: renders the text once, so that every read of
/// this open file sees the same snapshot, and keeps it in `private_data`.
///
/// # Safety
///
/// Called by the VFS on a file made by [`Dir::text_file`].
unsafe extern "C" fn text_open(inode: *mut bindings::inode, file: *mut bindings::file) -> i32 {
    from_result(|| {
        // SAFETY: the inode is live while it is being opened; `i_private`
        // holds the `&'static Text` that `Dir::text_file` passed.
        let text = unsafe { &*(*inode).i_private.cast::<Text>() };
        let mut out = TextBuf(KVec::new());
        (text.show)(&mut out).map_err(|_| ENOMEM)?;
        let rendered = KBox::new(out, GFP_KERNEL)?;
        // SAFETY: `file` is being opened and is ours until `release`;
        // `text_release` takes the box back.
        unsafe { (*file).private_data = KBox::into_raw(rendered).cast() };
        Ok(0)
    })
}

/// `read` of a text file: copies from the snapshot taken at open.
///
/// # Safety
///
/// Called by the VFS on a file opened by [`text_open`].
unsafe extern "C" fn text_read(
    file: *mut bindings::file,
    buf: *mut kernel::ffi::c_char,
    count: usize,
    ppos: *mut bindings::loff_t,
) -> isize {
    from_result(|| {
        // SAFETY: `text_open` stored a live `TextBuf` in `private_data`,
        // freed only at release, after the last read.
        let rendered = unsafe { &*(*file).private_data.cast::<TextBuf>() };
        // SAFETY: `buf` and `count` come from the read system call and
        // `ppos` from the VFS; the source is our live buffer of that length.
        let copied = unsafe {
            bindings::simple_read_from_buffer(
                buf.cast(),
                count,
                ppos,
                rendered.0.as_ptr().cast(),
                rendered.0.len(),
            )
        };
        if copied < 0 {
            // Its only failure: the user buffer could not be written.
            return Err(EFAULT);
        }
        Ok(copied)
    })
}

/// `release` of a text file: frees the snapshot.
///
/// # Safety
///
/// Called by the VFS once, on a file opened by [`text_open`].
unsafe extern "C" fn text_release(_inode: *mut bindings::inode, file: *mut bindings::file) -> i32 {
    // SAFETY: `text_open` stored a box made by `KBox::into_raw`; release
    // runs once, after every other operation on the file.
    drop(unsafe { KBox::from_raw((*file).private_data.cast::<TextBuf>()) });
    0
}
