// SPDX-License-Identifier: GPL-2.0

//! The six lock: shared, intent and exclusive, with sequence numbers for
//! relocking, as bcachefs's (see `Documentation/six.rst`).
//!
//! - `types.rs`: lock types, counts, errors;
//! - `state.rs`: the state word, its layout and atomic transitions;
//! - `wait.rs`: the waiter queue, sleeping and the granting wakeup;
//! - `lock.rs`: [`SixLock`] and its raw operations by lock type;
//! - `guard.rs`: guards, the typed API;
//! - `torture.rs`: a torture test, shared by KUnit and `cargo test`.

mod guard;
mod lock;
mod state;
// Runs threads, which loom does not model (loom has its own models); in the
// module only with KUnit, which runs it.
#[cfg(all(not(loom), any(not(sixfs_kernel), CONFIG_KUNIT)))]
pub mod torture;
mod types;
mod wait;

pub use guard::{IntentGuard, ReadGuard, WriteGuard};
pub use lock::SixLock;
pub use types::{SixError, SixLockCounts, SixLockType};

#[cfg(any(test, CONFIG_KUNIT))]
mod guard_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod lock_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod state_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod test_util;
#[cfg(any(test, CONFIG_KUNIT))]
mod torture_tests;
