// SPDX-License-Identifier: GPL-2.0

//! Why a btree operation failed, and why a transaction must restart.

use crate::bkey::KeyError;
use crate::node::NodeError;
use crate::platform::sync::AllocError;
use crate::six::SixError;

/// Why a transaction restarts: it dropped its locks and must run again
/// from the top, with everything it read forgotten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartReason {
    /// Relocking a path failed (its node changed or the lock was busy).
    Relock,
    /// Blocking for the lock would break the lock order.
    LockOrder,
    /// A path needed stronger locks than it held (for a split or merge).
    Upgrade,
    /// The write lock on a node could not be had in time.
    WriteLock,
    /// The tree changed shape under the transaction (split, merge, root).
    Split,
    /// The debug switch made a relock fail.
    Injected,
    /// The journal had no room for the commit's updates: the run makes
    /// room, holding no lock, and retries.
    Journal,
    /// No slot for a new node, but slots freed since the last checkpoint
    /// wait for the next one: the run checkpoints, holding no lock, and
    /// retries.
    Space,
}

impl RestartReason {
    /// Number of reasons.
    pub const NR: usize = 8;
}

/// Why a btree operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum BtreeError {
    /// The transaction must restart: propagate this to [`Trans::run`].
    ///
    /// [`Trans::run`]: super::Trans::run
    Restart(RestartReason),
    /// Memory could not be allocated.
    Alloc,
    /// A node operation failed in a way the tree cannot fix.
    Node(NodeError),
    /// A key cannot be encoded.
    Key(KeyError),
    /// A six lock was misused: a bug.
    Lock,
    /// Too many paths, or a tree deeper than `MAX_DEPTH`.
    TooBig,
    /// The tree's structure is wrong (found by a check).
    Corrupt(&'static str),
    /// The transaction gave up after too many restarts.
    TooManyRestarts,
    /// No space left for a new node: `ENOSPC`.
    NoSpace,
    /// The filesystem is read-only: `EROFS`.
    ReadOnly,
    /// A device error: `EIO`.
    Io,
    /// A node read from the device failed its checks (the store said
    /// which and why in the log).
    BadNode,
}

impl BtreeError {
    /// A broken invariant of the btree code itself (not of data read from
    /// anywhere): a debug build stops right there (in the kernel the debug
    /// kernel's Rust assertions make it a BUG the test run reports), a
    /// release build reports [`BtreeError::Corrupt`] instead of going on.
    #[track_caller]
    pub fn bug(what: &'static str) -> BtreeError {
        debug_assert!(false, "btree bug: {what}");
        BtreeError::Corrupt(what)
    }

    /// Whether this is a restart.
    /// The errno (positive) a system call reports for it.
    pub fn errno(&self) -> i32 {
        const EIO: i32 = 5;
        const ENOMEM: i32 = 12;
        const EINVAL: i32 = 22;
        const ENOSPC: i32 = 28;
        const EROFS: i32 = 30;
        const EUCLEAN: i32 = 117;
        match self {
            BtreeError::NoSpace => ENOSPC,
            BtreeError::ReadOnly => EROFS,
            BtreeError::Io => EIO,
            BtreeError::Alloc => ENOMEM,
            BtreeError::BadNode | BtreeError::Corrupt(_) => EUCLEAN,
            _ => EINVAL,
        }
    }

    pub fn is_restart(&self) -> bool {
        matches!(self, BtreeError::Restart(_))
    }
}

/// The result of a btree operation.
pub type BtreeResult<T> = Result<T, BtreeError>;

impl From<AllocError> for BtreeError {
    fn from(_: AllocError) -> Self {
        BtreeError::Alloc
    }
}

impl From<NodeError> for BtreeError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Alloc => BtreeError::Alloc,
            e => BtreeError::Node(e),
        }
    }
}

impl From<KeyError> for BtreeError {
    fn from(e: KeyError) -> Self {
        BtreeError::Key(e)
    }
}

impl<E> From<SixError<E>> for BtreeError {
    fn from(_: SixError<E>) -> Self {
        BtreeError::Lock
    }
}
