// SPDX-License-Identifier: GPL-2.0

//! Why a node operation failed.

use crate::bkey::KeyError;
use crate::platform::sync::AllocError;

/// Why a node operation failed. The node is unchanged in every case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeError {
    /// Memory could not be allocated.
    Alloc,
    /// No room for the key: compact, rewrite or split the node.
    Full,
    /// The key is larger than a quarter of the node, so no split could
    /// make room for it.
    KeyTooBig,
    /// The key's position is outside the node's `[min, max]`.
    OutOfRange,
    /// A child pointer in a leaf, or data in an interior node.
    WrongLevel,
    /// The key cannot be encoded.
    BadKey(KeyError),
    /// Node size not a multiple of 8 within the limits, or `min > max`.
    BadParams,
    /// Merge of nodes that are not adjacent siblings of the same level.
    NotSiblings,
    /// Split of a node with fewer than two live keys.
    TooFewKeys,
    /// A bset read from a device is not valid (see `image.rs`): why.
    Corrupt(&'static str),
}

impl From<AllocError> for NodeError {
    fn from(_: AllocError) -> Self {
        NodeError::Alloc
    }
}

impl From<KeyError> for NodeError {
    fn from(e: KeyError) -> Self {
        NodeError::BadKey(e)
    }
}
