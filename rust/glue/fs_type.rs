// SPDX-License-Identifier: GPL-2.0

//! Filesystem types: what `mount -t NAME` looks up, and the callbacks of a
//! mounted filesystem.
//!
//! Mounting goes through the fs_context API: `init_fs_context` gives each
//! mount or remount request a [`MountOptions`] (in `fc->fs_private`), which
//! `parse_param` fills through the `fs_parameter_spec` table of helpers.c;
//! `get_tree` opens the device with `get_tree_bdev` and calls
//! [`FileSystem::fill_super`], whose per-mount state ([`FileSystem::Mounted`])
//! then lives in `s_fs_info` until `kill_sb`.

use super::ffi::{self, FsContextOperations};
use super::super_block::SuperBlock;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::ffi::c_int;
use kernel::{bindings, error::from_result, prelude::*, str::CStr, types::Opaque, ThisModule};

/// What to do when the filesystem finds an error at run time (`errors=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Errors {
    /// Report it and go on.
    Continue,
    /// Report it and make the mount read-only.
    RemountRo,
    /// Panic the kernel.
    Panic,
}

impl Errors {
    /// The option's spelling.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Errors::Continue => "continue",
            Errors::RemountRo => "remount-ro",
            Errors::Panic => "panic",
        }
    }

    fn from_c(value: u32) -> Option<Self> {
        match value {
            ffi::SIXFS_ERRORS_CONTINUE => Some(Errors::Continue),
            ffi::SIXFS_ERRORS_REMOUNT_RO => Some(Errors::RemountRo),
            ffi::SIXFS_ERRORS_PANIC => Some(Errors::Panic),
            _ => None,
        }
    }
}

/// The options of one mount or remount request, as given: `None` for an
/// option not named. `ro` and `rw` are not here: the VFS keeps them as the
/// superblock's `SB_RDONLY`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// `errors=`.
    pub(crate) errors: Option<Errors>,
    /// `norecovery`: do not replay the journal.
    pub(crate) no_recovery: bool,
    /// `journal_flush_delay=MS`.
    pub(crate) journal_flush_delay: Option<u32>,
}

/// A remount request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reconfigure {
    /// `Some(true)` to go read-only, `Some(false)` to go read-write;
    /// `None` when the request does not change it.
    pub(crate) read_only: Option<bool>,
    /// The options named in the request.
    pub(crate) options: MountOptions,
}

/// What `statfs` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StatFs {
    /// The block size, in bytes: the unit of the three block counts.
    pub(crate) block_size: u32,
    /// Blocks in the filesystem.
    pub(crate) blocks: u64,
    /// Free blocks.
    pub(crate) free: u64,
    /// Free blocks available to unprivileged users.
    pub(crate) available: u64,
    /// Inodes (0: no fixed number).
    pub(crate) files: u64,
    /// Free inodes.
    pub(crate) free_files: u64,
    /// The longest file name.
    pub(crate) name_len: u32,
    /// The filesystem's id (`f_fsid`).
    pub(crate) fsid: u64,
}

/// A filesystem on a block device.
///
/// Every callback taking a [`FileSystem::Mounted`] runs between a
/// successful `fill_super` and `kill_sb`; the VFS holds `s_umount` for all
/// of them but `statfs` and `show_options`, which a mount reference keeps
/// from meeting the teardown.
pub(crate) trait FileSystem {
    /// The name given to `mount -t`.
    const NAME: &'static CStr;
    /// `s_magic`, and `f_type` in `statfs`.
    const MAGIC: u32;
    /// The root directory's inode number.
    const ROOT_INO: u64;

    /// The state of one mounted filesystem, kept in `s_fs_info` from a
    /// successful `fill_super` until `kill_sb` drops it, after the device
    /// was given back (`kill_block_super`): dropping it must not need the
    /// superblock. Callbacks run on several tasks at once.
    type Mounted: Send + Sync;

    /// Where the VFS's structures for this type live.
    fn storage() -> &'static FileSystemType;

    /// Reads the device and sets up `sb`; an error refuses the mount. The
    /// glue then makes the root directory.
    fn fill_super(sb: &SuperBlock, options: &MountOptions) -> Result<Self::Mounted>;

    /// Changes a mounted filesystem as `change` asks (a remount); an error
    /// leaves it as it was. The VFS sets `SB_RDONLY` after this succeeds.
    fn reconfigure(sb: &SuperBlock, mounted: &Self::Mounted, change: &Reconfigure) -> Result;

    /// Writes out what is dirty; waits for it when `wait`.
    fn sync_fs(sb: &SuperBlock, mounted: &Self::Mounted, wait: bool) -> Result;

    /// Unmount, while the device is still open: the last chance to write.
    fn put_super(sb: &SuperBlock, mounted: &Self::Mounted);

    /// Sizes for `statfs`.
    fn statfs(mounted: &Self::Mounted) -> StatFs;

    /// Writes the options for `/proc/mounts`, each as `,name=value`.
    fn show_options(mounted: &Self::Mounted, out: &mut dyn fmt::Write) -> fmt::Result;
}

/// Storage for a `struct file_system_type` and the operation tables of its
/// filesystems.
///
/// It must be a `static`: lockdep requires the lock class keys embedded in
/// `inner` to live in static memory, and the tables must outlive every
/// superblock and fs_context, which the module's lifetime covers (`owner`).
///
/// INVARIANT: `registered` is true while the VFS may hold a pointer to any
/// field; they are written only by the registration that flipped it.
pub(crate) struct FileSystemType {
    inner: Opaque<bindings::file_system_type>,
    context_ops: Opaque<FsContextOperations>,
    super_ops: Opaque<bindings::super_operations>,
    registered: AtomicBool,
}

// SAFETY: the fields are written only while `registered` guards them (see
// the type invariant); the VFS only reads them.
unsafe impl Sync for FileSystemType {}

impl FileSystemType {
    /// An unregistered filesystem type.
    pub(crate) const fn new() -> Self {
        Self {
            inner: Opaque::uninit(),
            context_ops: Opaque::uninit(),
            super_ops: Opaque::uninit(),
            registered: AtomicBool::new(false),
        }
    }
}

/// Keeps a filesystem type registered with the VFS until dropped.
pub(crate) struct Registration<T: FileSystem> {
    _fs: PhantomData<T>,
}

impl<T: FileSystem> Registration<T> {
    /// Registers `T` with the VFS, using [`FileSystem::storage`].
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let fs_type = T::storage();
        if fs_type.registered.swap(true, Ordering::Acquire) {
            return Err(EBUSY);
        }
        // All-zero is a valid value of each table (null pointers, no
        // callbacks, zeroed lock class keys); `sixfs_fs_parameters` is a
        // static table of helpers.c.
        // SAFETY: nothing else accesses the tables while the type is not
        // registered (type invariant), and what is written is valid (above).
        unsafe {
            fs_type.context_ops.get().write(FsContextOperations {
                free: Some(free_callback),
                dup: None,
                parse_param: Some(parse_param_callback),
                parse_monolithic: None,
                get_tree: Some(get_tree_callback::<T>),
                reconfigure: Some(reconfigure_callback::<T>),
            });
            fs_type.super_ops.get().write(bindings::super_operations {
                put_super: Some(put_super_callback::<T>),
                sync_fs: Some(sync_fs_callback::<T>),
                statfs: Some(statfs_callback::<T>),
                show_options: Some(show_options_callback::<T>),
                drop_inode: Some(bindings::generic_delete_inode),
                ..core::mem::zeroed()
            });
            fs_type.inner.get().write(bindings::file_system_type {
                name: T::NAME.as_char_ptr(),
                owner: module.as_ptr(),
                fs_flags: bindings::FS_REQUIRES_DEV as c_int,
                init_fs_context: Some(init_fs_context_callback::<T>),
                parameters: (&raw const ffi::sixfs_fs_parameters).cast(),
                kill_sb: Some(kill_sb_callback::<T>),
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
        Ok(Self { _fs: PhantomData })
    }
}

impl<T: FileSystem> Drop for Registration<T> {
    fn drop(&mut self) {
        let fs_type = T::storage();
        // Unregistering waits for nothing, but the module cannot be unloaded
        // while a superblock or fs_context of this type exists: each holds a
        // reference to the type, and so to the module (`owner`).
        // SAFETY: `inner` was registered by `new` and is unregistered once.
        unsafe { bindings::unregister_filesystem(fs_type.inner.get()) };
        fs_type.registered.store(false, Ordering::Release);
    }
}

/// The options of `fc`, made by [`init_fs_context_callback`].
///
/// # Safety
///
/// `fc` must be an fs_context of a type registered by [`Registration`],
/// between `init_fs_context` and `free`, with no other reference to its
/// options alive.
unsafe fn options<'a>(fc: *mut bindings::fs_context) -> &'a mut MountOptions {
    // SAFETY: `init_fs_context_callback` stored a `KBox<MountOptions>` in
    // `fs_private`, freed only by `free_callback`; the VFS serialises the
    // callbacks of one fs_context (the caller's promise covers the rest).
    unsafe { &mut *ffi::sixfs_fc_fs_private(fc).cast::<MountOptions>() }
}

/// The per-mount state of `sb`, or `None` before `fill_super` stored it.
///
/// # Safety
///
/// `sb` must be a superblock of `T` between `fill_super` and `kill_sb`.
unsafe fn mounted<'a, T: FileSystem>(sb: *mut bindings::super_block) -> Option<&'a T::Mounted> {
    // SAFETY: `s_fs_info` is null or the `KBox<T::Mounted>` that
    // `fill_super_callback` stored, freed only by `kill_sb_callback`.
    unsafe { (*sb).s_fs_info.cast::<T::Mounted>().as_ref() }
}

/// `file_system_type.init_fs_context`: a mount or remount request begins.
///
/// # Safety
///
/// Called by the VFS on a new fs_context of this type.
unsafe extern "C" fn init_fs_context_callback<T: FileSystem>(
    fc: *mut bindings::fs_context,
) -> c_int {
    from_result(|| {
        let options = KBox::new(MountOptions::default(), GFP_KERNEL)?;
        // SAFETY: `fc` is new and ours to set up; `context_ops` is
        // initialised and static (registered, see `FileSystemType`);
        // `free_callback` takes the box back.
        unsafe {
            ffi::sixfs_fc_init(
                fc,
                T::storage().context_ops.get(),
                KBox::into_raw(options).cast(),
            )
        };
        Ok(0)
    })
}

/// `fs_context_operations.free`.
///
/// # Safety
///
/// Called by the VFS once, last, on an fs_context set up by
/// [`init_fs_context_callback`].
unsafe extern "C" fn free_callback(fc: *mut bindings::fs_context) {
    // SAFETY: as above; no callback of `fc` runs after this one.
    let options = unsafe { ffi::sixfs_fc_fs_private(fc) };
    if !options.is_null() {
        // SAFETY: the box `init_fs_context_callback` made, freed once here.
        drop(unsafe { KBox::from_raw(options.cast::<MountOptions>()) });
    }
}

/// `fs_context_operations.parse_param`: one option of a mount or remount.
///
/// An option that is not ours is `-ENOPARAM`, on which the VFS takes the
/// source and the superblock flags (`ro`, `rw`, ...) and refuses anything
/// else with `EINVAL` and the log line "sixfs: Unknown parameter 'NAME'";
/// `fs_parse` logs a bad value as "sixfs: Bad value for 'NAME'".
///
/// # Safety
///
/// Called by the VFS on an fs_context set up by [`init_fs_context_callback`].
unsafe extern "C" fn parse_param_callback(
    fc: *mut bindings::fs_context,
    param: *mut bindings::fs_parameter,
) -> c_int {
    let mut value = 0u32;
    // SAFETY: `fc` and `param` come from the VFS; `value` is ours.
    let opt = unsafe { ffi::sixfs_fs_parse(fc, param, &mut value) };
    if opt < 0 {
        return opt;
    }
    // SAFETY: `fc` was set up by `init_fs_context_callback`, and this is
    // the only reference to its options.
    let options = unsafe { options(fc) };
    match opt {
        ffi::SIXFS_OPT_ERRORS => match Errors::from_c(value) {
            Some(errors) => {
                options.errors = Some(errors);
                0
            }
            None => EINVAL.to_errno(),
        },
        ffi::SIXFS_OPT_NORECOVERY => {
            options.no_recovery = true;
            0
        }
        ffi::SIXFS_OPT_JOURNAL_FLUSH_DELAY => {
            options.journal_flush_delay = Some(value);
            0
        }
        _ => EINVAL.to_errno(),
    }
}

/// `fs_context_operations.get_tree`: opens the device, finds or makes its
/// superblock.
///
/// # Safety
///
/// Called by the VFS on an fs_context set up by [`init_fs_context_callback`].
unsafe extern "C" fn get_tree_callback<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: `fc` comes from the VFS; `fill_super_callback::<T>` has the
    // signature `get_tree_bdev` expects.
    unsafe { ffi::sixfs_get_tree_bdev(fc, Some(fill_super_callback::<T>)) }
}

/// The `fill_super` callback of `get_tree_bdev`.
///
/// # Safety
///
/// Called only by `get_tree_bdev`, with a new superblock that it holds
/// locked, and the fs_context of [`get_tree_callback`].
unsafe extern "C" fn fill_super_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
    fc: *mut bindings::fs_context,
) -> c_int {
    from_result(|| {
        // SAFETY: the new superblock is ours to set up until this returns;
        // `super_ops` is initialised and static (registered).
        unsafe {
            (*sb).s_op = T::storage().super_ops.get();
            (*sb).s_magic = T::MAGIC as usize;
            (*sb).s_time_gran = 1;
            (*sb).s_maxbytes = i64::MAX;
        }
        // SAFETY: `get_tree_bdev` holds the new superblock locked for the
        // duration of this callback.
        let sb_ref = unsafe { SuperBlock::from_raw(sb) };
        // SAFETY: `fc` was set up by `init_fs_context_callback`; nothing
        // else reads its options during `get_tree`.
        let options = *unsafe { options(fc) };
        let state = KBox::new(T::fill_super(sb_ref, &options)?, GFP_KERNEL)?;
        // From here on `kill_sb_callback` frees it, also if this fails: the
        // VFS calls `kill_sb` on a superblock whose `fill_super` failed.
        // SAFETY: the superblock is ours to set up (above).
        unsafe { (*sb).s_fs_info = KBox::into_raw(state).cast() };
        make_root_dir(sb, T::ROOT_INO)?;
        Ok(0)
    })
}

/// Gives `sb` an empty root directory with inode number `ino`: mode 0755,
/// owned by root, listing nothing.
fn make_root_dir(sb: *mut bindings::super_block, ino: u64) -> Result {
    let ino = usize::try_from(ino).map_err(|_| EINVAL)?;
    // SAFETY: `sb` is being filled by `fill_super_callback`, which holds it.
    let inode = unsafe { bindings::new_inode(sb) };
    if inode.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `inode` is new and ours; the operation tables are static.
    unsafe {
        (*inode).i_ino = ino;
        (*inode).i_mode = (bindings::S_IFDIR | 0o755) as bindings::umode_t;
        (*inode).i_op = &ROOT_DIR_OPS.0;
        (*inode).__bindgen_anon_3.i_fop = &raw const bindings::simple_dir_operations;
        bindings::set_nlink(inode, 2);
        bindings::simple_inode_init_ts(inode);
    }
    // SAFETY: `inode` is ours; `d_make_root` takes it, and drops it itself
    // when it fails.
    let root = unsafe { bindings::d_make_root(inode) };
    if root.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: as above; `generic_shutdown_super` puts the root.
    unsafe { (*sb).s_root = root };
    Ok(())
}

/// An `inode_operations` table that can live in a `static`.
#[repr(transparent)]
struct InodeOperations(bindings::inode_operations);

// SAFETY: the table is never written; it holds only function pointers.
unsafe impl Sync for InodeOperations {}

/// The root directory's operations until the POSIX layer: lookups find
/// nothing (`simple_lookup` makes a negative dentry), and making anything
/// in it is not supported yet.
static ROOT_DIR_OPS: InodeOperations = InodeOperations(bindings::inode_operations {
    lookup: Some(bindings::simple_lookup),
    create: Some(create_not_supported),
    mkdir: Some(mkdir_not_supported),
    // SAFETY: all-zero is a valid `inode_operations`: no other operations,
    // which the VFS refuses with EPERM.
    ..unsafe { core::mem::zeroed() }
});

/// `inode_operations.create` of the root: `EOPNOTSUPP`.
extern "C" fn create_not_supported(
    _idmap: *mut bindings::mnt_idmap,
    _dir: *mut bindings::inode,
    _dentry: *mut bindings::dentry,
    _mode: bindings::umode_t,
    _excl: bool,
) -> c_int {
    super::errno::eopnotsupp().to_errno()
}

/// `inode_operations.mkdir` of the root: `EOPNOTSUPP`.
extern "C" fn mkdir_not_supported(
    _idmap: *mut bindings::mnt_idmap,
    _dir: *mut bindings::inode,
    _dentry: *mut bindings::dentry,
    _mode: bindings::umode_t,
) -> c_int {
    super::errno::eopnotsupp().to_errno()
}

/// `fs_context_operations.reconfigure`: a remount.
///
/// # Safety
///
/// Called by `reconfigure_super` with the superblock's `s_umount` held
/// exclusively, on an fs_context set up by [`init_fs_context_callback`].
unsafe extern "C" fn reconfigure_callback<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    from_result(|| {
        // SAFETY: a reconfiguration's fs_context has `root` set to the
        // mounted tree, whose superblock is live and locked (above).
        let sb = unsafe { ffi::sixfs_fc_root_sb(fc) };
        // SAFETY: as above.
        let sb_ref = unsafe { SuperBlock::from_raw(sb) };
        // SAFETY: a mounted superblock of `T`: between `fill_super` and
        // `kill_sb`.
        let mounted = unsafe { mounted::<T>(sb) }.ok_or(EINVAL)?;
        // SAFETY: `fc` comes from the VFS.
        let (changes, read_only) = unsafe {
            (
                ffi::sixfs_fc_changes_read_only(fc),
                ffi::sixfs_fc_read_only(fc),
            )
        };
        let change = Reconfigure {
            read_only: (changes && read_only != sb_ref.read_only()).then_some(read_only),
            // SAFETY: set up by `init_fs_context_callback`, the only
            // reference.
            options: *unsafe { options(fc) },
        };
        T::reconfigure(sb_ref, mounted, &change)?;
        Ok(0)
    })
}

/// `super_operations.put_super`: unmount, device still open.
///
/// # Safety
///
/// Called by `generic_shutdown_super` with `s_umount` held.
unsafe extern "C" fn put_super_callback<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: the VFS holds the superblock locked for the callback.
    let sb_ref = unsafe { SuperBlock::from_raw(sb) };
    // SAFETY: `put_super` runs only on a superblock with a root, so after
    // a successful `fill_super`, and before `kill_sb` frees the state.
    if let Some(mounted) = unsafe { mounted::<T>(sb) } {
        T::put_super(sb_ref, mounted);
    }
}

/// `super_operations.sync_fs`.
///
/// # Safety
///
/// Called by the VFS with `s_umount` held.
unsafe extern "C" fn sync_fs_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
    wait: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: the VFS holds the superblock locked for the callback.
        let sb_ref = unsafe { SuperBlock::from_raw(sb) };
        // SAFETY: a superblock of `T` before `kill_sb` frees the state.
        if let Some(mounted) = unsafe { mounted::<T>(sb) } {
            T::sync_fs(sb_ref, mounted, wait != 0)?;
        }
        Ok(0)
    })
}

/// `super_operations.statfs`.
///
/// # Safety
///
/// Called by the VFS with a dentry of a mounted filesystem of `T`, kept
/// mounted by the caller's path.
unsafe extern "C" fn statfs_callback<T: FileSystem>(
    dentry: *mut bindings::dentry,
    buf: *mut bindings::kstatfs,
) -> c_int {
    from_result(|| {
        // SAFETY: the dentry is live (the caller holds it) and so is its
        // superblock, mounted: between `fill_super` and `kill_sb`.
        let mounted = unsafe { mounted::<T>((*dentry).d_sb) }.ok_or(EINVAL)?;
        let st = T::statfs(mounted);
        // SAFETY: `buf` is the caller's `kstatfs`, filled whole here.
        unsafe {
            ffi::sixfs_statfs_fill(
                buf,
                T::MAGIC as kernel::ffi::c_long,
                st.block_size as kernel::ffi::c_long,
                st.blocks,
                st.free,
                st.available,
                st.files,
                st.free_files,
                st.name_len as kernel::ffi::c_long,
                st.fsid,
            )
        };
        Ok(0)
    })
}

/// A `fmt::Write` into a `seq_file`.
struct SeqFile(*mut bindings::seq_file);

impl fmt::Write for SeqFile {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: the `seq_file` of a running `show_options`; `s` is valid
        // for its length. An overflow is recorded in the `seq_file`, which
        // then calls `show_options` again with a larger buffer.
        unsafe { bindings::seq_write(self.0, s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// `super_operations.show_options`: the options in `/proc/mounts` after
/// the VFS's own (`ro`/`rw`, ...).
///
/// # Safety
///
/// Called by the VFS with the root of a mounted filesystem of `T`, kept
/// mounted while the mount table is shown.
unsafe extern "C" fn show_options_callback<T: FileSystem>(
    m: *mut bindings::seq_file,
    root: *mut bindings::dentry,
) -> c_int {
    // SAFETY: as for `statfs_callback`.
    let Some(mounted) = (unsafe { mounted::<T>((*root).d_sb) }) else {
        return 0;
    };
    // Writing cannot fail (see `SeqFile`).
    let _ = T::show_options(mounted, &mut SeqFile(m));
    0
}

/// `file_system_type.kill_sb`: the superblock goes away, mounted or not.
///
/// `kill_block_super` first: its `generic_shutdown_super` syncs (our
/// `sync_fs`) and unmounts (our `put_super`), which need the per-mount
/// state and the open device, and only then gives the device back. The
/// state goes last: no callback of this superblock runs after
/// `kill_block_super`, and the state's own reference to the device file
/// (`BlockDevice`) makes dropping it after the superblock's sound.
///
/// # Safety
///
/// Called by the VFS once per superblock of `T`, with `s_umount` held.
unsafe extern "C" fn kill_sb_callback<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: `sb` is live until this returns.
    let state = unsafe { (*sb).s_fs_info.cast::<T::Mounted>() };
    // SAFETY: a block superblock of `T`, as `kill_block_super` requires.
    unsafe { bindings::kill_block_super(sb) };
    if !state.is_null() {
        // SAFETY: the superblock stays allocated until this returns, and
        // nothing reads `s_fs_info` any more.
        unsafe { (*sb).s_fs_info = core::ptr::null_mut() };
        // SAFETY: the box `fill_super_callback` stored, freed once: the
        // superblock is gone from the VFS's callbacks (above).
        drop(unsafe { KBox::from_raw(state) });
    }
}
