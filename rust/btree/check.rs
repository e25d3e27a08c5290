// SPDX-License-Identifier: GPL-2.0

//! A structural check of a whole btree, for tests and debugging: every
//! node's range is its pointer's, children tile their parent's range in
//! order, levels step down by one, keys are sorted and inside their node.

use super::cache::{Btree, BtreeId, BtreeNode};
use super::error::{BtreeError, BtreeResult};
use crate::bkey::{Pos, Value};
use crate::node::Filter;
use crate::platform::sync::Arc;
use crate::platform::vec::Vec;
use crate::six::SixLockType;

/// What a check found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Live keys in the leaves.
    pub keys: usize,
    /// Nodes reached from the root.
    pub nodes: usize,
    /// Levels: 1 for a lone leaf.
    pub depth: usize,
}

impl Btree {
    /// Checks `btree` under read locks (taken top down, so this may run
    /// beside transactions, but not inside one).
    pub fn check(&self, btree: BtreeId) -> BtreeResult<TreeStats> {
        loop {
            let root = self.root(btree)?;
            root.lock.lock(SixLockType::Read)?;
            let still = self.is_root(&root);
            let result = if still {
                let mut stats = TreeStats {
                    depth: usize::from(root.level).saturating_add(1),
                    ..TreeStats::default()
                };
                self.check_node(&root, Pos::MIN, Pos::MAX, &mut stats)
                    .map(|_| stats)
            } else {
                Ok(TreeStats::default())
            };
            let _ = root.lock.unlock(SixLockType::Read);
            if still {
                return result;
            }
        }
    }

    /// Checks `node`, read-locked by the caller.
    fn check_node(
        &self,
        node: &Arc<BtreeNode>,
        min: Pos,
        max: Pos,
        stats: &mut TreeStats,
    ) -> BtreeResult<()> {
        stats.nodes = stats.nodes.saturating_add(1);
        if node.min != min || node.max != max {
            return Err(BtreeError::Corrupt("node range differs from its pointer"));
        }
        if node.is_dead() {
            return Err(BtreeError::Corrupt("dead node in the tree"));
        }
        let mut children: Vec<(u64, Pos)> = Vec::new();
        {
            let data = node.data();
            data.check().map_err(BtreeError::Corrupt)?;
            if data.min() != min || data.max() != max || data.level() != node.level {
                return Err(BtreeError::Corrupt("node header differs from the cache's"));
            }
            let mut prev: Option<Pos> = None;
            for k in data.keys(Filter::Live) {
                let pos = k.pos();
                if prev.is_some_and(|p| p >= pos) || pos < min || pos > max {
                    return Err(BtreeError::Corrupt("key out of order or range"));
                }
                prev = Some(pos);
                if node.level == 0 {
                    stats.keys = stats.keys.saturating_add(1);
                } else {
                    match k.value()? {
                        Value::BtreePtr(p) => children.try_push((p.node, pos))?,
                        _ => return Err(BtreeError::Corrupt("data in an interior node")),
                    }
                }
            }
        }
        if node.level == 0 {
            return Ok(());
        }
        if children.last().map(|c| c.1) != Some(max) {
            return Err(BtreeError::Corrupt(
                "last child does not end at the node's max",
            ));
        }
        let mut child_min = min;
        for &(id, child_max) in children.iter() {
            let child = self
                .find(id)
                .ok_or(BtreeError::Corrupt("pointer to a node not in the cache"))?;
            if child.level.checked_add(1) != Some(node.level) {
                return Err(BtreeError::Corrupt("child level"));
            }
            child.lock.lock(SixLockType::Read)?;
            let r = self.check_node(&child, child_min, child_max, stats);
            let _ = child.lock.unlock(SixLockType::Read);
            r?;
            match child_max.successor() {
                Some(next) => child_min = next,
                None => break,
            }
        }
        Ok(())
    }
}
