// SPDX-License-Identifier: GPL-2.0

//! Checking a store against itself: every node of every btree read and
//! checked (checksum, header against the parent's pointer, keys in order
//! and in range, the slot a btree bucket's), every slot referenced once,
//! and the space map's records equal to what the trees use. fsck runs it
//! on a store opened read-only; the tests after every crash. fsck -y
//! rebuilds the space map from the same walk
//! ([`Store::rebuild_space_map`]), and `sixfs dump btree` prints it
//! ([`Store::walk`]).
//!
//! Nodes the cache does not hold are read straight from the device and not
//! kept, so checking a large filesystem needs memory for one path of
//! nodes and a list of the slots in use, not for the tree.

use super::{SlotError, Store, StoreError, PLACEHOLDER_IDS};
use crate::bkey::{Pos, Value};
use crate::btree::{BtreeId, NodeRef, BTREE_ID_NR, MAX_DEPTH};
use crate::device::{Device, SECTOR_SIZE};
use crate::format::space_map::{self, Bucket, BucketKind};
use crate::node::disk::{self, DiskNodeError};
use crate::node::{Filter, Node};
use crate::platform::sort::heap_sort_by_key;
use crate::platform::vec::Vec;

/// Why a node failed the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeFault {
    /// Its slot does not hold the node its pointer names: a bad checksum,
    /// a header that is another node's, keys that are not valid. Nothing
    /// below it is visited.
    Disk(DiskNodeError),
    /// The node breaks a rule of the tree (its keys against its
    /// neighbours', its children's ranges, where its slot is).
    Tree(&'static str),
}

/// One step of [`Store::walk`].
pub enum WalkStep<'a> {
    /// A node read and checked by itself. A node whose id is at or past
    /// [`PLACEHOLDER_IDS`] is an empty tree's root, never written.
    Node(&'a NodeRef, &'a Node),
    /// A node that is bad: after its `Node` step when the node could be
    /// read, alone when it could not.
    Bad(&'a NodeRef, NodeFault),
}

/// A bucket whose space map record is not what the trees use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadBucket {
    /// The bucket.
    pub bucket: u64,
    /// What the space map says.
    pub recorded: Bucket,
    /// What the trees and the layout call for.
    pub expected: Bucket,
}

/// What a check found: counts, and the problems (up to a few of each).
#[derive(Debug)]
pub struct CheckReport {
    /// Nodes on the device per level, over all btrees.
    pub nodes: [u64; MAX_DEPTH],
    /// Keys in leaves (live ones).
    pub keys: u64,
    /// Depth of the deepest btree (levels).
    pub depth: u8,
    /// Node problems: the node and what is wrong.
    pub bad_nodes: Vec<(NodeRef, NodeFault)>,
    /// Slots referenced more than once.
    pub shared_slots: Vec<u64>,
    /// Buckets whose space map record is not what the trees use.
    pub bad_buckets: Vec<BadBucket>,
    /// Problems found beyond those listed (each list keeps a few).
    pub unlisted: u64,
    /// Node problems, listed or not: a space map is rebuilt only when
    /// there is none.
    pub bad_node_count: u64,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.bad_nodes.is_empty()
            && self.shared_slots.is_empty()
            && self.bad_buckets.is_empty()
            && self.unlisted == 0
    }
}

/// How many problems of one kind a report lists.
const KEEP: usize = 16;

fn keep<T>(list: &mut Vec<T>, unlisted: &mut u64, item: T) {
    if list.len() >= KEEP || list.try_push(item).is_err() {
        *unlisted = unlisted.saturating_add(1);
    }
}

impl<D: Device + Sync> Store<D> {
    /// Visits every node of `btree`, depth-first in key order (a parent
    /// before its children), reading those the cache does not hold; a
    /// node that cannot be read is reported as [`WalkStep::Bad`] and
    /// nothing below it is visited. `visit` may stop the walk with an
    /// error; a device error or no memory stops it too.
    pub fn walk(
        &self,
        btree: BtreeId,
        mut visit: impl FnMut(WalkStep<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let root = self.btree.root(btree)?;
        // Depth-first, with an explicit stack of nodes to visit.
        let mut stack: Vec<NodeRef> = Vec::new();
        stack.try_push(NodeRef {
            btree: btree.0,
            level: root.level,
            id: root.id,
            tag: root.tag,
            min: Pos::MIN,
            max: Pos::MAX,
        })?;
        drop(root);
        let mut last_leaf_key: Option<Pos> = None;
        while let Some(r) = stack.pop() {
            let node = match self.node_for_check(&r)? {
                Ok(node) => node,
                Err(fault) => {
                    visit(WalkStep::Bad(&r, fault))?;
                    continue;
                }
            };
            visit(WalkStep::Node(&r, &node))?;
            if r.level == 0 {
                for k in node.keys(Filter::Live) {
                    if last_leaf_key.is_some_and(|p| p >= k.pos()) {
                        visit(WalkStep::Bad(
                            &r,
                            NodeFault::Tree("keys out of order across leaves"),
                        ))?;
                        break;
                    }
                    last_leaf_key = Some(k.pos());
                }
                continue;
            }
            // Children, pushed last first so the first is visited first.
            let first = stack.len();
            let mut min = r.min;
            let mut last_max = None;
            for k in node.keys(Filter::Live) {
                let Ok(Value::BtreePtr(ptr)) = k.value() else {
                    visit(WalkStep::Bad(
                        &r,
                        NodeFault::Tree("a key that is not a pointer"),
                    ))?;
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
                visit(WalkStep::Bad(
                    &r,
                    NodeFault::Tree("children do not reach the node's end"),
                ))?;
            }
            if let Some(children) = stack.get_mut(first..) {
                children.reverse();
            }
        }
        Ok(())
    }

    /// Checks every btree and the space map; `progress` is called with the
    /// nodes checked so far, now and then. A device error or no memory
    /// stops the check with an error; everything else is in the report.
    /// Transactions wait meanwhile: the check sees one tree, and no node
    /// it reads is changed or evicted under it.
    pub fn check(&self, mut progress: impl FnMut(u64)) -> Result<CheckReport, StoreError> {
        self.lock_gate();
        let result = self.check_with_slots(&mut progress);
        self.unlock_gate();
        result.map(|(report, _)| report)
    }

    /// The check, and the slots the trees use (sorted).
    fn check_with_slots(
        &self,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(CheckReport, Vec<u64>), StoreError> {
        let mut report = CheckReport {
            nodes: [0; MAX_DEPTH],
            keys: 0,
            depth: 0,
            bad_nodes: Vec::new(),
            shared_slots: Vec::new(),
            bad_buckets: Vec::new(),
            unlisted: 0,
            bad_node_count: 0,
        };
        let layout = self.layout_records()?;
        let g = self.geometry;
        let slot_sectors = u64::from(g.node_size) / SECTOR_SIZE as u64;
        let bucket_sectors = u64::from(g.bucket_size) / SECTOR_SIZE as u64;
        let mut slots: Vec<u64> = Vec::new();
        let mut checked = 0u64;
        for i in 0..BTREE_ID_NR {
            let btree = BtreeId(u8::try_from(i).unwrap_or(u8::MAX));
            let root_level = self.btree.root(btree)?.level;
            report.depth = report.depth.max(root_level.saturating_add(1));
            let r = &mut report;
            self.walk(btree, |step| {
                let (node, fault) = match step {
                    WalkStep::Node(node, n) => {
                        let fault = slot_fault(node.id, &layout, slot_sectors, bucket_sectors);
                        if fault.is_none() && node.level == 0 {
                            r.keys += n.keys(Filter::Live).count() as u64;
                        }
                        (node, fault)
                    }
                    WalkStep::Bad(node, fault) => (node, Some(fault)),
                };
                if let Some(fault) = fault {
                    r.bad_node_count += 1;
                    keep(&mut r.bad_nodes, &mut r.unlisted, (*node, fault));
                    return Ok(());
                }
                checked += 1;
                if checked % 1024 == 0 {
                    progress(checked);
                }
                // An empty tree's root is no node on the device.
                if node.id < PLACEHOLDER_IDS {
                    if let Some(n) = r.nodes.get_mut(usize::from(node.level)) {
                        *n += 1;
                    }
                    slots.try_push(node.id)?;
                }
                Ok(())
            })?;
        }
        progress(checked);
        heap_sort_by_key(&mut slots, |s| *s);
        self.check_space(&slots, layout, &mut report)?;
        Ok((report, slots))
    }

    /// The node `r` names: a copy of the cached one, or read and checked
    /// from the device; `Err` inside for a node that is bad.
    fn node_for_check(&self, r: &NodeRef) -> Result<Result<Node, NodeFault>, StoreError> {
        if let Some(cached) = self.btree.find(r.id) {
            if cached.tag != r.tag || cached.level != r.level || cached.min != r.min {
                return Ok(Err(NodeFault::Tree(
                    "the cached node does not match its pointer",
                )));
            }
            // Encoded under the node's spinlock (no allocation there), and
            // decoded outside it against the pointer, as a read from the
            // device would be: the cached node is checked the same way.
            let mut buf = self.slot_buffer()?;
            let header = cached.header();
            if cached
                .read(|n| disk::encode(n, &header, &mut buf))?
                .is_err()
            {
                return Ok(Err(NodeFault::Tree("a cached node larger than its slot")));
            }
            let expect = r.header();
            return Ok(disk::decode(&buf, &expect, true)
                .map(|(node, _)| node)
                .map_err(NodeFault::Disk));
        }
        // A root's tag is not in the superblock: the root itself is
        // cached, so only children get here.
        match self.read_slot(r, true) {
            Ok((node, _)) => Ok(Ok(node)),
            Err(SlotError::Bad(e)) => Ok(Err(NodeFault::Disk(e))),
            Err(SlotError::Device(e)) => Err(StoreError::Device(e)),
            Err(SlotError::NoMemory) => Err(StoreError::NoMemory),
        }
    }

    /// The records of the buckets the layout fixes (superblocks, space
    /// map, journal), every other bucket free: what mkfs wrote.
    fn layout_records(&self) -> Result<Vec<Bucket>, StoreError> {
        let sb = self.superblock();
        let journal = sb.journal.first_bucket
            ..sb.journal
                .first_bucket
                .saturating_add(sb.journal.bucket_count);
        space_map::initial(&self.geometry, &sb.space_map, journal).map_err(StoreError::SpaceMap)
    }

    /// Compares the space map's records with what the trees' `slots`
    /// (sorted, every one in a free bucket of `layout`) call for.
    fn check_space(
        &self,
        slots: &[u64],
        mut expected: Vec<Bucket>,
        report: &mut CheckReport,
    ) -> Result<(), StoreError> {
        for w in slots.windows(2) {
            if let [a, b] = w {
                if a == b {
                    keep(&mut report.shared_slots, &mut report.unlisted, *a);
                }
            }
        }
        add_slots(&mut expected, slots, self.geometry.bucket_size);
        let mut recorded = Vec::new();
        recorded.try_extend_with(expected.len(), Bucket::FREE)?;
        self.space.image(&mut recorded);
        for ((bucket, recorded), expected) in (0u64..).zip(recorded.iter()).zip(expected.iter()) {
            if recorded != expected {
                keep(
                    &mut report.bad_buckets,
                    &mut report.unlisted,
                    BadBucket {
                        bucket,
                        recorded: *recorded,
                        expected: *expected,
                    },
                );
            }
        }
        Ok(())
    }

    /// Rewrites the space map from what the trees use, as a checkpoint
    /// (a new space map copy, then the superblocks): the layout's buckets
    /// as mkfs made them, a btree bucket counting its slots for every
    /// bucket a node lies in, every other bucket free. Returns how many
    /// records changed (0: nothing was written).
    ///
    /// Call it right after a read-write open, before any transaction: the
    /// wrong map it repairs could hand out a slot a tree uses. It refuses
    /// ([`StoreError::NotRebuilt`]) with nodes not yet written, and when
    /// the check finds a bad node or a shared slot: the slots below a bad
    /// node are unknown, and freeing them would hand them out again.
    pub fn rebuild_space_map(&self) -> Result<u64, StoreError> {
        if self.is_read_only() {
            return Err(StoreError::ReadOnly);
        }
        self.lock_gate();
        let result = self.rebuild_space_map_locked();
        self.unlock_gate();
        result
    }

    fn rebuild_space_map_locked(&self) -> Result<u64, StoreError> {
        if self
            .btree
            .snapshot()?
            .iter()
            .any(|n| n.is_dirty() && !n.is_dead())
        {
            return Err(StoreError::NotRebuilt("nodes are not written yet"));
        }
        let (report, slots) = self.check_with_slots(&mut |_| {})?;
        if report.bad_node_count > 0 {
            return Err(StoreError::NotRebuilt("a btree has bad nodes"));
        }
        if !report.shared_slots.is_empty() {
            return Err(StoreError::NotRebuilt("a node slot is shared"));
        }
        let mut records = self.layout_records()?;
        add_slots(&mut records, &slots, self.geometry.bucket_size);
        let mut recorded = Vec::new();
        recorded.try_extend_with(records.len(), Bucket::FREE)?;
        self.space.image(&mut recorded);
        let changed = recorded
            .iter()
            .zip(records.iter())
            .filter(|(a, b)| a != b)
            .count() as u64;
        if changed == 0 {
            return Ok(0);
        }
        self.space.reset(&records);
        self.checkpoint_locked(false)?;
        Ok(changed)
    }
}

/// What is wrong with a node slot at `sector` being a node, by where it
/// is: not at a slot's start, or not in a bucket the layout leaves free
/// for btrees (`layout`); `None` if nothing.
fn slot_fault(
    sector: u64,
    layout: &[Bucket],
    slot_sectors: u64,
    bucket_sectors: u64,
) -> Option<NodeFault> {
    if sector >= PLACEHOLDER_IDS {
        return None;
    }
    if sector.checked_rem(slot_sectors) != Some(0) {
        return Some(NodeFault::Tree("not at the start of a node slot"));
    }
    let bucket = sector.checked_div(bucket_sectors)?;
    match usize::try_from(bucket).ok().and_then(|b| layout.get(b)) {
        Some(b) if b.kind == BucketKind::Free => None,
        Some(_) => Some(NodeFault::Tree(
            "in a bucket of the superblock, the space map or the journal",
        )),
        None => Some(NodeFault::Tree("past the filesystem's end")),
    }
}

/// Marks the buckets of `slots` in `records` as btree buckets counting
/// them. Slots must lie in free buckets of the layout (the check made
/// sure); others are left out.
fn add_slots(records: &mut [Bucket], slots: &[u64], bucket_size: u32) {
    let bucket_sectors = u64::from(bucket_size) / SECTOR_SIZE as u64;
    for s in slots {
        let Some(b) = s
            .checked_div(bucket_sectors)
            .and_then(|b| usize::try_from(b).ok())
        else {
            continue;
        };
        if let Some(r) = records.get_mut(b) {
            match r.kind {
                BucketKind::Free => {
                    *r = Bucket {
                        kind: BucketKind::Btree,
                        used: 1,
                    }
                }
                BucketKind::Btree => r.used = r.used.saturating_add(1),
                _ => {}
            }
        }
    }
}
