// SPDX-License-Identifier: GPL-2.0

//! The on-disk format: everything that is read from or written to a device
//! is defined here, once, for the module, mkfs and fsck alike
//! (Documentation/format.rst describes it field by field).
//!
//! - `geometry`: block, bucket and node sizes, where the superblocks are;
//! - `features`: the compat / ro_compat / incompat rules;
//! - `label`, `btree_root`: fields of the superblock with rules of their own;
//! - `superblock`: the superblock's layout, encoding and checks;
//! - `superblock_io`: the two copies on a [`crate::device::Device`];
//! - `space_map`: what each bucket holds; `journal`: journal entries;
//! - `le`: little-endian fields at fixed offsets.

pub mod btree_root;
pub mod features;
pub mod geometry;
pub mod journal;
pub mod label;
pub mod le;
pub mod space_map;
pub mod superblock;
pub mod superblock_io;

#[cfg(any(test, CONFIG_KUNIT))]
mod geometry_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod superblock_io_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod superblock_tests;
