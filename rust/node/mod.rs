// SPDX-License-Identifier: GPL-2.0

//! Btree nodes: bsets of sorted keys, the node iterator, search, insert,
//! sealing and merging bsets, compaction, split and merge, extents, bsets
//! as bytes for a device. See
//! `Documentation/btree-node.rst`.

mod btree_node;
mod compact;
pub mod disk;
mod error;
mod extent;
mod image;
mod insert;
mod iter;
pub mod lookup;
pub mod search_tree;
mod sort;
pub mod split;

pub use btree_node::{max_key_bytes, Node, NodeParams, MAX_BSETS, MAX_NODE_BYTES, MIN_NODE_BYTES};
pub use error::NodeError;
pub use extent::Plan;
pub use iter::{Filter, Keys, NodeIter};
pub use sort::SEAL_BYTES;
pub use split::{merge, should_merge};

#[cfg(any(test, CONFIG_KUNIT))]
mod test_util;

#[cfg(any(test, CONFIG_KUNIT))]
mod extent_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod image_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod iter_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod lookup_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod node_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod search_tree_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod sort_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod split_tests;
