// SPDX-License-Identifier: GPL-2.0

//! A structural check of a whole btree, for tests and debugging: every
//! node's range is its pointer's, children tile their parent's range in
//! order, levels step down by one, keys are sorted and inside their node.

use super::cache::{Btree, BtreeId, CachedNode};
use super::error::{BtreeError, BtreeResult};
use crate::bkey::{Pos, Value};
use crate::node::Filter;
use crate::platform::sync::Arc;
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
                    .map(|()| stats)
            } else {
                Ok(TreeStats::default())
            };
            root.unlock(SixLockType::Read);
            if still {
                return result;
            }
        }
    }

    /// Checks `node`, read-locked by the caller.
    fn check_node(
        &self,
        node: &Arc<CachedNode>,
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
        let keys = node.read(|data| -> BtreeResult<usize> {
            data.check().map_err(BtreeError::Corrupt)?;
            if data.min() != min || data.max() != max || data.level() != node.level {
                return Err(BtreeError::Corrupt("node header differs from the cache's"));
            }
            let mut prev: Option<Pos> = None;
            let mut n = 0usize;
            for k in data.keys(Filter::Live) {
                let pos = k.pos();
                if prev.is_some_and(|p| p >= pos) || pos < min || pos > max {
                    return Err(BtreeError::Corrupt("key out of order or range"));
                }
                prev = Some(pos);
                n = n.saturating_add(1);
                if node.level > 0 && !matches!(k.value()?, Value::BtreePtr(_)) {
                    return Err(BtreeError::Corrupt("data in an interior node"));
                }
            }
            if node.level > 0 && prev != Some(max) {
                return Err(BtreeError::Corrupt(
                    "last child does not end at the node's max",
                ));
            }
            Ok(n)
        })??;
        if node.level == 0 {
            stats.keys = stats.keys.saturating_add(keys);
            return Ok(());
        }
        // One child at a time: nothing is allocated under the spinlock.
        let mut child_min = min;
        loop {
            let (id, child_max) = node.read(|data| -> BtreeResult<(u64, Pos)> {
                let k = data
                    .first_from(child_min)
                    .ok_or(BtreeError::Corrupt("no pointer for a range"))?;
                match k.value()? {
                    Value::BtreePtr(p) => Ok((p.node, k.pos())),
                    _ => Err(BtreeError::Corrupt("data in an interior node")),
                }
            })??;
            let child = self
                .find(id)
                .ok_or(BtreeError::Corrupt("pointer to a node not in the cache"))?;
            if child.level.checked_add(1) != Some(node.level) {
                return Err(BtreeError::Corrupt("child level"));
            }
            child.lock.lock(SixLockType::Read)?;
            let r = self.check_node(&child, child_min, child_max, stats);
            child.unlock(SixLockType::Read);
            r?;
            match child_max.successor() {
                Some(next) if child_max < max => child_min = next,
                _ => break,
            }
        }
        Ok(())
    }
}
