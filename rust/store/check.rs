// SPDX-License-Identifier: GPL-2.0

//! Checking a store against itself: every node of every btree read and
//! checked (checksum, header against the parent's pointer, keys in order
//! and in range), every slot referenced once, and the space map's counts
//! equal to what the trees use. fsck runs it on a store opened read-only;
//! the tests after every crash.
//!
//! Nodes the cache does not hold are read straight from the device and not
//! kept, so checking a large filesystem needs memory for one path of
//! nodes, not for the tree.

use super::{Store, StoreError, PLACEHOLDER_IDS};
use crate::bkey::{Pos, Value};
use crate::btree::{BtreeError, BtreeId, NodeRef, BTREE_ID_NR, MAX_DEPTH};
use crate::device::Device;
use crate::format::space_map::{Bucket, BucketKind};
use crate::node::{Filter, Node};
use crate::platform::sort::heap_sort_by_key;
use crate::platform::vec::Vec;

/// What a check found: counts, and the problems (up to a few of each).
#[derive(Debug)]
pub struct CheckReport {
    /// Nodes per level, over all btrees.
    pub nodes: [u64; MAX_DEPTH],
    /// Keys in leaves (live ones).
    pub keys: u64,
    /// Depth of the deepest btree (levels).
    pub depth: u8,
    /// Node problems: the node and what is wrong.
    pub bad_nodes: Vec<(NodeRef, BtreeError)>,
    /// Slots referenced more than once.
    pub shared_slots: Vec<u64>,
    /// Buckets whose space map record is not what the trees use: the
    /// bucket, the record, and the slots in use found.
    pub bad_buckets: Vec<(u64, Bucket, u32)>,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.bad_nodes.is_empty() && self.shared_slots.is_empty() && self.bad_buckets.is_empty()
    }
}

/// How many problems of one kind a report keeps.
const KEEP: usize = 16;

fn keep<T>(list: &mut Vec<T>, item: T) {
    if list.len() < KEEP {
        let _ = list.try_push(item);
    }
}

impl<D: Device + Sync> Store<D> {
    /// Checks every btree and the space map; `progress` is called with the
    /// nodes checked so far, now and then. A device error or no memory
    /// stops the check with an error; everything else is in the report.
    pub fn check(&self, mut progress: impl FnMut(u64)) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport {
            nodes: [0; MAX_DEPTH],
            keys: 0,
            depth: 0,
            bad_nodes: Vec::new(),
            shared_slots: Vec::new(),
            bad_buckets: Vec::new(),
        };
        let mut slots: Vec<u64> = Vec::new();
        let mut checked = 0u64;
        for i in 0..BTREE_ID_NR {
            let btree = BtreeId(u8::try_from(i).unwrap_or(u8::MAX));
            let root = self.btree.root(btree)?;
            let r = NodeRef {
                btree: btree.0,
                level: root.level,
                id: root.id,
                tag: root.tag,
                min: Pos::MIN,
                max: Pos::MAX,
            };
            report.depth = report.depth.max(root.level.saturating_add(1));
            // Depth-first, with an explicit stack of nodes to visit.
            let mut stack: Vec<NodeRef> = Vec::new();
            stack.try_push(r)?;
            let mut last_leaf_key: Option<Pos> = None;
            while let Some(r) = stack.pop() {
                checked += 1;
                if checked % 1024 == 0 {
                    progress(checked);
                }
                let node = match self.node_for_check(&r) {
                    Ok(Some(node)) => node,
                    Ok(None) => continue,
                    Err(e @ (BtreeError::Io | BtreeError::Alloc)) => return Err(e.into()),
                    Err(e) => {
                        keep(&mut report.bad_nodes, (r, e));
                        continue;
                    }
                };
                if let Some(n) = report.nodes.get_mut(usize::from(r.level)) {
                    *n += 1;
                }
                if r.id < PLACEHOLDER_IDS {
                    slots.try_push(r.id)?;
                }
                if r.level == 0 {
                    for k in node.keys(Filter::Live) {
                        if last_leaf_key.is_some_and(|p| p >= k.pos()) {
                            keep(
                                &mut report.bad_nodes,
                                (r, BtreeError::Corrupt("keys out of order across leaves")),
                            );
                        }
                        last_leaf_key = Some(k.pos());
                        report.keys += 1;
                    }
                    continue;
                }
                // Children, pushed last first so the first is checked first.
                let first = stack.len();
                let mut min = r.min;
                let mut last_max = None;
                for k in node.keys(Filter::Live) {
                    let Ok(Value::BtreePtr(ptr)) = k.value() else {
                        keep(
                            &mut report.bad_nodes,
                            (r, BtreeError::Corrupt("not a pointer")),
                        );
                        break;
                    };
                    stack.try_push(NodeRef {
                        btree: r.btree,
                        level: r.level.saturating_sub(1),
                        id: ptr.node,
                        tag: ptr.seq,
                        min,
                        max: k.pos(),
                    })?;
                    last_max = Some(k.pos());
                    match k.pos().successor() {
                        Some(next) => min = next,
                        None => break,
                    }
                }
                if last_max != Some(r.max) {
                    keep(
                        &mut report.bad_nodes,
                        (
                            r,
                            BtreeError::Corrupt("children do not reach the node's end"),
                        ),
                    );
                }
                if let Some(children) = stack.get_mut(first..) {
                    children.reverse();
                }
            }
        }
        progress(checked);
        self.check_space(&mut slots, &mut report)?;
        Ok(report)
    }

    /// The node `r` names: a copy of the cached one, or read and checked
    /// from the device; `None` for an empty tree's placeholder root.
    fn node_for_check(&self, r: &NodeRef) -> Result<Option<Node>, BtreeError> {
        if let Some(cached) = self.btree.find(r.id) {
            if cached.tag != r.tag || cached.level != r.level || cached.min != r.min {
                return Err(BtreeError::Corrupt(
                    "cached node does not match its pointer",
                ));
            }
            let copy = cached.read(|n| Node::from_sorted(n.params(), n.keys(Filter::Live)))?;
            return Ok(Some(copy?));
        }
        if r.id >= PLACEHOLDER_IDS {
            return Ok(None);
        }
        // A root's tag is not in the superblock: the root itself is
        // cached, so only children get here.
        self.read_checked(r, true).map(|(n, _)| Some(n))
    }

    /// Compares the slots the trees use with the space map's counts.
    fn check_space(
        &self,
        slots: &mut Vec<u64>,
        report: &mut CheckReport,
    ) -> Result<(), StoreError> {
        heap_sort_by_key(slots, |s| *s);
        for w in slots.windows(2) {
            if let [a, b] = w {
                if a == b {
                    keep(&mut report.shared_slots, *a);
                }
            }
        }
        let g = self.geometry;
        let mut records = Vec::new();
        records.try_extend_with(g.bucket_count() as usize, Bucket::FREE)?;
        self.space.image(&mut records);
        let sectors_per_bucket = u64::from(g.bucket_size / 512);
        let mut at = 0;
        for (b, rec) in (0u64..).zip(records.iter()) {
            let start = at;
            while slots
                .get(at)
                .is_some_and(|s| s / sectors_per_bucket.max(1) == b)
            {
                at += 1;
            }
            let used = u32::try_from(at - start).unwrap_or(u32::MAX);
            let ok = match rec.kind {
                BucketKind::Btree => rec.used == used,
                _ => used == 0,
            };
            if !ok {
                keep(&mut report.bad_buckets, (b, *rec, used));
            }
        }
        Ok(())
    }
}
