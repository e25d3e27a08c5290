// SPDX-License-Identifier: GPL-2.0

//! Declarations of the module's own C helpers (`rust/glue/helpers.c`).
//!
//! They must match `include/sixfs/helpers.h`.

use core::ffi::{c_uint, c_void};
use kernel::bindings;

// Only pointers cross this boundary; lints about the pointees' layout (some
// kernel structs have empty members in this configuration) do not apply.
#[allow(improper_ctypes)]
extern "C" {
    pub(crate) fn sixfs_bdev_nr_sectors(bdev: *mut bindings::block_device) -> u64;
    pub(crate) fn sixfs_bdev_logical_block_size(bdev: *mut bindings::block_device) -> c_uint;
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn sixfs_kunit_fail(test: *mut bindings::kunit, fmt_args: *const c_void);
}
