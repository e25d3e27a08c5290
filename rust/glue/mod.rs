// SPDX-License-Identifier: GPL-2.0

//! The kernel glue layer: the only place with `unsafe` FFI.
//!
//! Each file wraps one kernel facility behind a small safe type; the layers
//! above never touch `bindings` directly.

pub(crate) mod block;
pub(crate) mod debugfs;
pub(crate) mod errno;
pub(crate) mod ffi;
pub(crate) mod fs_type;
pub(crate) mod kthread;
#[cfg(CONFIG_KUNIT)]
pub(crate) mod kunit;
pub(crate) mod rwsem;
pub(crate) mod shrinker;
pub(crate) mod super_block;
