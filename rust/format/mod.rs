// SPDX-License-Identifier: GPL-2.0

//! The on-disk format: everything that is read from or written to a device
//! is defined here, once, for the module, mkfs and fsck alike.

pub mod superblock;

#[cfg(any(test, CONFIG_KUNIT))]
mod superblock_tests;
