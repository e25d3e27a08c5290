// SPDX-License-Identifier: GPL-2.0

//! Splitting a full node in two and merging two sparse siblings, as pure
//! functions from nodes to new nodes; the tree code swaps them in.
//!
//! Sizes count live bytes (what a rewrite keeps). A node splits when it
//! holds more than 2/3 of its size, into halves of about 1/3. A node below
//! 1/3 merges with a sibling when the result holds at most 5/12 (the
//! threshold plus a quarter of it, bcachefs's hysteresis). So two halves
//! of a split never merge back, and a merged node must grow by more than
//! half again before it splits: no node flips between the two.

use super::btree_node::{Node, NodeParams};
use super::error::NodeError;
use super::iter::Filter;

/// Live bytes above which a node of `size` bytes should split.
pub const fn split_threshold(size: usize) -> usize {
    size / 3 * 2
}

/// Live bytes below which a node of `size` bytes looks for a merge.
pub const fn merge_threshold(size: usize) -> usize {
    size / 3
}

/// Largest merged node, in live bytes: the threshold plus a quarter.
pub const fn merge_hysteresis(size: usize) -> usize {
    merge_threshold(size) + merge_threshold(size) / 4
}

impl Node {
    /// Whether the node holds enough to split rather than be rewritten
    /// when it is full.
    pub fn needs_split(&self) -> bool {
        self.live_bytes() > split_threshold(self.size())
    }

    /// Splits the node into two new ones of the same size and level, each
    /// with about half the live bytes: the left keeps `min` and ends at its
    /// last key, the right starts right after that and keeps `max`.
    pub fn split(&self) -> Result<(Node, Node), NodeError> {
        let total = self.live_bytes();
        let mut left_bytes = 0;
        let mut split_pos = None;
        let mut keys = 0usize;
        for key in self.keys(Filter::NoDeleted) {
            keys += 1;
            // The left half takes at least one key and stops at half.
            if split_pos.is_none() || left_bytes < total / 2 {
                left_bytes += key.len();
                split_pos = Some(key.pos());
            }
        }
        let split_pos = split_pos.ok_or(NodeError::TooFewKeys)?;
        if keys < 2 {
            return Err(NodeError::TooFewKeys);
        }
        // Taken at least one key for the right: split_pos < max.
        let right_min = split_pos.successor().ok_or(NodeError::TooFewKeys)?;
        if right_min > self.max() {
            return Err(NodeError::TooFewKeys);
        }
        let left = Node::from_sorted(
            NodeParams {
                max: split_pos,
                ..self.params()
            },
            self.keys(Filter::NoDeleted)
                .take_while(|k| k.pos() <= split_pos),
        )?;
        let right = Node::from_sorted(
            NodeParams {
                min: right_min,
                ..self.params()
            },
            self.keys_from(right_min, Filter::NoDeleted),
        )?;
        Ok((left, right))
    }
}

/// Whether `node` should merge with its sibling `sibling`.
pub fn should_merge(node: &Node, sibling: &Node) -> bool {
    let size = node.size();
    let live = node.live_bytes();
    live < merge_threshold(size)
        && live.saturating_add(sibling.live_bytes()) <= merge_hysteresis(size)
}

/// Merges adjacent siblings: `left.max` must be just before `right.min`,
/// at the same level. The result has `left`'s size.
pub fn merge(left: &Node, right: &Node) -> Result<Node, NodeError> {
    if left.level() != right.level() || left.max().successor() != Some(right.min()) {
        return Err(NodeError::NotSiblings);
    }
    Node::from_sorted(
        NodeParams {
            max: right.max(),
            ..left.params()
        },
        left.keys(Filter::NoDeleted)
            .chain(right.keys(Filter::NoDeleted)),
    )
}
