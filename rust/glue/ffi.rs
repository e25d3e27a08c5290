// SPDX-License-Identifier: GPL-2.0

//! Declarations of the module's own C helpers (`rust/glue/helpers.c`).
//!
//! They must match `include/sixfs/helpers.h`.

// Only pointers cross this boundary; lints about the pointees' layout (some
// kernel structs are empty in some configurations) do not apply.
#![allow(improper_ctypes)]

use kernel::bindings;
use kernel::ffi::{c_int, c_long, c_uint, c_void};

extern "C" {
    pub(crate) fn sixfs_bdev_nr_sectors(bdev: *mut bindings::block_device) -> u64;
    pub(crate) fn sixfs_bdev_logical_block_size(bdev: *mut bindings::block_device) -> c_uint;
    pub(crate) fn sixfs_get_file(file: *mut bindings::file);
    pub(crate) fn sixfs_gfp_allows_fs_io(gfp: bindings::gfp_t) -> bool;
    pub(crate) fn sixfs_totalram_bytes() -> u64;

    pub(crate) static sixfs_fs_parameters: [bindings::fs_parameter_spec; 0];
    pub(crate) fn sixfs_fs_parse(
        fc: *mut bindings::fs_context,
        param: *mut bindings::fs_parameter,
        value: *mut u32,
    ) -> c_int;
    pub(crate) fn sixfs_fc_init(
        fc: *mut bindings::fs_context,
        ops: *const FsContextOperations,
        fs_private: *mut c_void,
    );
    pub(crate) fn sixfs_fc_fs_private(fc: *mut bindings::fs_context) -> *mut c_void;
    pub(crate) fn sixfs_fc_read_only(fc: *mut bindings::fs_context) -> bool;
    pub(crate) fn sixfs_fc_changes_read_only(fc: *mut bindings::fs_context) -> bool;
    pub(crate) fn sixfs_fc_root_sb(fc: *mut bindings::fs_context) -> *mut bindings::super_block;
    pub(crate) fn sixfs_get_tree_bdev(
        fc: *mut bindings::fs_context,
        fill_super: Option<
            unsafe extern "C" fn(*mut bindings::super_block, *mut bindings::fs_context) -> c_int,
        >,
    ) -> c_int;
    pub(crate) fn sixfs_sb_rdonly(sb: *mut bindings::super_block) -> bool;
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sixfs_statfs_fill(
        buf: *mut bindings::kstatfs,
        fs_type: c_long,
        bsize: c_long,
        blocks: u64,
        bfree: u64,
        bavail: u64,
        files: u64,
        ffree: u64,
        namelen: c_long,
        fsid: u64,
    );
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn sixfs_kunit_fail(test: *mut bindings::kunit, fmt_args: *const core::ffi::c_void);
}

/// The option numbers of `sixfs_fs_parameters` (`SIXFS_OPT_*`).
pub(crate) const SIXFS_OPT_ERRORS: c_int = 0;
pub(crate) const SIXFS_OPT_NORECOVERY: c_int = 1;
pub(crate) const SIXFS_OPT_JOURNAL_FLUSH_DELAY: c_int = 2;
/// The values of `errors=` (`SIXFS_ERRORS_*`).
pub(crate) const SIXFS_ERRORS_CONTINUE: u32 = 0;
pub(crate) const SIXFS_ERRORS_REMOUNT_RO: u32 = 1;
pub(crate) const SIXFS_ERRORS_PANIC: u32 = 2;

/// `struct fs_context_operations`, which the bindings leave opaque; its
/// layout is checked by `static_assert`s in helpers.c.
#[repr(C)]
pub(crate) struct FsContextOperations {
    pub(crate) free: Option<unsafe extern "C" fn(fc: *mut bindings::fs_context)>,
    pub(crate) dup: Option<
        unsafe extern "C" fn(
            fc: *mut bindings::fs_context,
            src: *mut bindings::fs_context,
        ) -> c_int,
    >,
    pub(crate) parse_param: Option<
        unsafe extern "C" fn(
            fc: *mut bindings::fs_context,
            param: *mut bindings::fs_parameter,
        ) -> c_int,
    >,
    pub(crate) parse_monolithic:
        Option<unsafe extern "C" fn(fc: *mut bindings::fs_context, data: *mut c_void) -> c_int>,
    pub(crate) get_tree: Option<unsafe extern "C" fn(fc: *mut bindings::fs_context) -> c_int>,
    pub(crate) reconfigure: Option<unsafe extern "C" fn(fc: *mut bindings::fs_context) -> c_int>,
}

/// The atomics helpers; unused where the platform uses inline atomics (see
/// `platform/kernel/sync.rs`).
#[cfg(not(all(CONFIG_X86_64, not(CONFIG_KASAN), not(CONFIG_KCSAN))))]
pub(crate) mod atomic {
    use kernel::bindings;

    /// Declares the helpers of one atomic type (see `SIXFS_ATOMIC_PROTOS`).
    macro_rules! atomic_helpers {
        ($name:ident, $ty:ty, $aty:ty) => {
            kernel::macros::paste! {
                extern "C" {
                    pub(crate) fn [<sixfs_ $name _read>](v: *const $aty) -> $ty;
                    pub(crate) fn [<sixfs_ $name _read_acquire>](v: *const $aty) -> $ty;
                    pub(crate) fn [<sixfs_ $name _set>](v: *mut $aty, i: $ty);
                    pub(crate) fn [<sixfs_ $name _set_release>](v: *mut $aty, i: $ty);
                }
            }
            atomic_helpers!(@rmw $name, $ty, $aty, full, acquire, release, relaxed);
        };
        (@rmw $name:ident, $ty:ty, $aty:ty, $($order:ident),*) => {
            kernel::macros::paste! {
                extern "C" {
                    $(
                        pub(crate) fn [<sixfs_ $name _fetch_add_ $order>](v: *mut $aty, i: $ty) -> $ty;
                        pub(crate) fn [<sixfs_ $name _fetch_sub_ $order>](v: *mut $aty, i: $ty) -> $ty;
                        pub(crate) fn [<sixfs_ $name _fetch_or_ $order>](v: *mut $aty, i: $ty) -> $ty;
                        pub(crate) fn [<sixfs_ $name _fetch_and_ $order>](v: *mut $aty, i: $ty) -> $ty;
                        pub(crate) fn [<sixfs_ $name _cmpxchg_ $order>](v: *mut $aty, old: $ty, new: $ty) -> $ty;
                    )*
                }
            }
        };
    }

    atomic_helpers!(atomic64, i64, bindings::atomic64_t);
    atomic_helpers!(atomic, i32, bindings::atomic_t);
}

extern "C" {
    pub(crate) fn sixfs_set_current_state_uninterruptible();
    pub(crate) fn sixfs_set_current_state_running();
    #[cfg(CONFIG_DEBUG_ATOMIC_SLEEP)]
    pub(crate) fn sixfs_might_sleep();
    pub(crate) fn sixfs_cond_resched();
    pub(crate) fn sixfs_init_completion(x: *mut bindings::completion);
    pub(crate) fn sixfs_kthread_run(
        thread_fn: Option<unsafe extern "C" fn(data: *mut core::ffi::c_void) -> kernel::ffi::c_int>,
        data: *mut core::ffi::c_void,
        name: *const kernel::ffi::c_char,
        index: c_uint,
    ) -> *mut bindings::task_struct;
    pub(crate) fn sixfs_kthread_sleep_idle(msecs: c_uint);
    pub(crate) fn sixfs_debugfs_create_dir(
        name: *const kernel::ffi::c_char,
        parent: *mut bindings::dentry,
    ) -> *mut bindings::dentry;
    pub(crate) fn sixfs_debugfs_create_file(
        name: *const kernel::ffi::c_char,
        mode: bindings::umode_t,
        parent: *mut bindings::dentry,
        data: *mut core::ffi::c_void,
        fops: *const bindings::file_operations,
    ) -> *mut bindings::dentry;
    pub(crate) fn sixfs_debugfs_remove(dentry: *mut bindings::dentry);
    pub(crate) fn sixfs_init_rwsem(sem: *mut bindings::rw_semaphore);
    pub(crate) fn sixfs_raw_spin_lock_init(lock: *mut bindings::raw_spinlock);
    pub(crate) fn sixfs_raw_spin_lock(lock: *mut bindings::raw_spinlock);
    pub(crate) fn sixfs_raw_spin_unlock(lock: *mut bindings::raw_spinlock);
    pub(crate) fn sixfs_rwlock_init(lock: *mut bindings::rwlock_t);
    pub(crate) fn sixfs_read_lock(lock: *mut bindings::rwlock_t);
    pub(crate) fn sixfs_read_unlock(lock: *mut bindings::rwlock_t);
    pub(crate) fn sixfs_write_lock(lock: *mut bindings::rwlock_t);
    pub(crate) fn sixfs_write_unlock(lock: *mut bindings::rwlock_t);
    pub(crate) fn sixfs_lockdep_init_map(
        map: *mut bindings::lockdep_map,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    );
    pub(crate) fn sixfs_lockdep_init_map_untracked(
        map: *mut bindings::lockdep_map,
        name: *const kernel::ffi::c_char,
    );
    #[cfg(CONFIG_LOCKDEP)]
    pub(crate) fn sixfs_lock_acquire(map: *mut bindings::lockdep_map, trylock: bool, read: bool);
    #[cfg(CONFIG_LOCKDEP)]
    pub(crate) fn sixfs_lock_release(map: *mut bindings::lockdep_map);
    #[cfg(CONFIG_LOCKDEP)]
    pub(crate) fn sixfs_lockdep_depth() -> kernel::ffi::c_int;
}
