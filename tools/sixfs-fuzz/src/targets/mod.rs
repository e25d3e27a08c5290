// SPDX-License-Identifier: GPL-2.0

//! One module per parser. A new parser is one more module here with a
//! `TARGET` and one more line in [`ALL`].

use crate::Target;

pub mod bset;
pub mod journal_chain;
pub mod journal_entry;
pub mod key;
pub mod node_disk;
pub mod space_map;
pub mod superblock;
pub mod superblock_device;

/// Every target; `scripts/fuzz.sh` and the tests run each.
pub static ALL: &[&Target] = &[
    &superblock::TARGET,
    &superblock_device::TARGET,
    &key::TARGET,
    &bset::TARGET,
    &node_disk::TARGET,
    &space_map::TARGET,
    &journal_entry::TARGET,
    &journal_chain::TARGET,
];
