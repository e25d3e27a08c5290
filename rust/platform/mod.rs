// SPDX-License-Identifier: GPL-2.0

//! The platform layer: the only part of the shared core that differs between
//! the kernel module and the userspace build.
//!
//! Everything above it (six locks, keys, nodes, iterators, journal) is plain
//! Rust that names `crate::platform::...` and compiles unchanged in both.
//! The kernel build passes `--cfg sixfs_kernel` (see `Kbuild`).

#[cfg(sixfs_kernel)]
mod kernel;
#[cfg(sixfs_kernel)]
#[allow(unused_imports)] // Without KUnit the kernel platform has nothing to offer yet.
pub(crate) use kernel::*;

#[cfg(not(sixfs_kernel))]
mod user;
#[cfg(not(sixfs_kernel))]
#[allow(unused_imports)]
// Outside `cargo test` the userspace platform has nothing to offer yet.
pub(crate) use user::*;
