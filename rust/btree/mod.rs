// SPDX-License-Identifier: GPL-2.0

//! The btree proper: nodes in memory with their six locks (`cache`), paths
//! from the root to a position with lock coupling (`path`, `locking`,
//! `traverse`), iterators (`iter`), and transactions whose updates commit
//! atomically under write locks, splitting and merging nodes (`trans`,
//! `commit`, `interior`). See Documentation/btree.rst.

pub mod cache;
pub mod check;
pub mod commit;
pub mod error;
pub mod interior;
pub mod iter;
pub mod locking;
pub mod node_store;
pub mod path;
pub mod paths;
pub mod trans;
pub mod trans_list;
pub mod traverse;
pub mod update;

// Test harnesses: in the module only with KUnit, always in userspace (the
// cargo tests of tools/ use them).
#[cfg(all(not(loom), any(not(sixfs_kernel), CONFIG_KUNIT)))]
pub mod interact;
#[cfg(all(not(loom), any(not(sixfs_kernel), CONFIG_KUNIT)))]
pub mod stress;

pub use cache::{
    Btree, BtreeId, BtreeParams, CachedNode, NewNode, NodeState, BTREE_ID_NR, MAX_DEPTH,
};
pub use check::TreeStats;
pub use error::{BtreeError, BtreeResult, RestartReason};
pub use iter::{Iter, IterFlags};
pub use node_store::{NodeRef, NodeStore};
pub use path::{Path, Uptodate};
pub use trans::Trans;
pub use trans_list::{LockInfo, LockState};
pub use update::Update;

#[cfg(any(test, CONFIG_KUNIT))]
mod cache_tests;
#[cfg(all(any(test, CONFIG_KUNIT), not(loom)))]
mod commit_tests;
#[cfg(all(any(test, CONFIG_KUNIT), not(loom)))]
mod interact_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod iter_tests;
#[cfg(all(any(test, CONFIG_KUNIT), not(loom)))]
mod stress_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod test_util;
#[cfg(any(test, CONFIG_KUNIT))]
mod trans_list_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod trans_tests;
