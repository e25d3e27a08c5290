// SPDX-License-Identifier: GPL-2.0

//! Opening a store: the newest valid superblock, its space map, the roots.

use super::format::read_space_map;
use super::{Counters, ErrorPolicy, Store, StoreError, PLACEHOLDER_IDS};
use crate::bkey::Pos;
use crate::btree::{Btree, BtreeId, BtreeParams, NewNode, NodeRef, NodeState, BTREE_ID_NR};
use crate::device::Device;
use crate::format::btree_root::BtreeRoot;
use crate::format::features::Access;
use crate::format::superblock_io::{read_superblocks, SuperblockCopy, Superblocks};
use crate::journal::{ChainEnd, Journal, Ring};
use crate::node::disk::key_bytes;
use crate::node::{Node, NodeParams};
use crate::platform::log;
use crate::platform::sync::{AtomicU32, AtomicU64, Ordering, SpinLock};
use crate::platform::vec::Vec;
use crate::six::SixLock;
use crate::space::Space;

/// Bytes of nodes the cache holds by default before it evicts (the kernel
/// gives a share of the machine's memory instead).
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;
/// The fewest nodes a cache holds, whatever it is told: a commit may need
/// a few paths' worth at once.
pub const MIN_CACHE_NODES: usize = 64;

/// Nodes the running transactions may add past the cache's bound before
/// the store brings it back (each run ends with that).
const OVER_BOUND: u64 = 32;

/// How to open a store (by default: read-write, the default cache size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Write nothing, change nothing.
    pub read_only: bool,
    /// Nodes the cache holds before it writes and evicts (at least
    /// [`MIN_CACHE_NODES`]); 0 for `cache_bytes` worth.
    pub cache_nodes: usize,
    /// Bytes of nodes the cache holds when `cache_nodes` is 0, at most an
    /// eighth of the device's node slots; 0 for [`DEFAULT_CACHE_BYTES`].
    pub cache_bytes: usize,
    /// Do not replay the journal: the last checkpoint's tree, read-only
    /// (`norecovery`).
    pub no_recovery: bool,
    /// What run-time errors do (`errors=`).
    pub errors: ErrorPolicy,
}

/// What opening found, for the mount's log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// The primary superblock was not valid or older: the backup was used.
    pub from_backup: bool,
    /// The filesystem was unmounted cleanly (nothing to replay).
    pub was_clean: bool,
    /// Journal entries replayed.
    pub replayed_entries: u64,
    /// Updates they held.
    pub replayed_keys: u64,
}

impl<D: Device + Sync> Store<D> {
    /// Opens the filesystem on `dev`. A read-write open marks it in use
    /// (not clean) on the device before it returns.
    pub fn open(dev: D, opts: OpenOptions) -> Result<(Self, OpenReport), StoreError> {
        let sbs = read_superblocks(&dev);
        Self::open_from(dev, &sbs, opts)
    }

    /// [`Self::open`] with the superblocks already read from `dev` (a
    /// mount reads them first, to say why it refuses a device).
    pub fn open_from(
        dev: D,
        sbs: &Superblocks,
        opts: OpenOptions,
    ) -> Result<(Self, OpenReport), StoreError> {
        let Some((copy, sb)) = sbs.newest() else {
            return Err(StoreError::NoSuperblock {
                primary: sbs
                    .primary
                    .err()
                    .unwrap_or(crate::format::superblock_io::ReadError::NoBackupFound),
                backup: sbs
                    .backup
                    .err()
                    .unwrap_or(crate::format::superblock_io::ReadError::NoBackupFound),
            });
        };
        let sb = *sb;
        // Unknown incompat features were refused by the superblock's
        // decoding; unknown ro_compat ones allow reading only.
        if let Ok(Access::ReadOnly { unknown_ro_compat }) = sb.features.access() {
            if !opts.read_only {
                return Err(StoreError::UnknownFeatures {
                    ro_compat: unknown_ro_compat,
                });
            }
        }
        let mut report = OpenReport {
            from_backup: copy == SuperblockCopy::Backup,
            was_clean: sb.clean,
            replayed_entries: 0,
            replayed_keys: 0,
        };
        let read_only = opts.read_only || opts.no_recovery;
        let records = read_space_map(&dev, &sb)?;
        let geometry = sb.geometry;
        let node_size = geometry.node_size as usize;
        let slots = u64::from(geometry.bucket_size / geometry.node_size.max(1)).max(1);
        let data = geometry.data_buckets();
        let data_slots = data.end.saturating_sub(data.start).saturating_mul(slots);
        // By default the cache holds at most an eighth of the device's
        // node slots: its dirty nodes are what the reserve must cover.
        let cache_bytes = match opts.cache_bytes {
            0 => DEFAULT_CACHE_BYTES,
            n => n,
        };
        let cache_nodes = match opts.cache_nodes {
            0 => (cache_bytes / node_size.max(1))
                .min(usize::try_from(data_slots / 8).unwrap_or(usize::MAX)),
            n => n,
        }
        .max(MIN_CACHE_NODES);
        // A checkpoint moves at most every cached node, plus the few the
        // transactions of the moment add past the bound; never more than a
        // quarter of the device is held back.
        // (`checked_div`: no division-by-zero panic path, which the
        // kernel's objtool takes for a function falling through.)
        let wanted = (cache_nodes as u64).saturating_add(OVER_BOUND);
        let reserve = wanted
            .checked_next_multiple_of(slots)
            .and_then(|n| n.checked_div(slots))
            .unwrap_or(wanted)
            .saturating_add(1)
            .min(data.end.saturating_sub(data.start) / 4);
        let space = Space::new(&geometry, &records, reserve)?;
        let mut store = Store {
            dev,
            geometry,
            sb: SpinLock::new(sb),
            btree: Btree::without_roots(BtreeParams {
                node_size: key_bytes(node_size),
            }),
            space,
            gate: SixLock::new_untracked(c"sixfs_store_gate"),
            // Replay writes, as ext4's does on a read-only mount;
            // `no_recovery` is how not to.
            read_only: AtomicU32::new(u32::from(
                read_only && (sb.clean || opts.no_recovery || sb.journal.bucket_count == 0),
            )),
            next_tag: AtomicU64::new(sb.seq.wrapping_shl(32) | 1),
            cache_limit: cache_nodes,
            written_back: SpinLock::new(Vec::new()),
            counters: Counters::default(),
            journal: None,
            error_policy: AtomicU32::new(0),
            opened: AtomicU32::new(0),
            stopped_by_error: AtomicU32::new(0),
        };
        for (i, root) in sb.roots.iter().enumerate().take(BTREE_ID_NR) {
            let btree = u8::try_from(i).unwrap_or(u8::MAX);
            store.load_root(BtreeId(btree), root)?;
        }
        if sb.journal.bucket_count != 0 {
            let (offset, blocks) = sb.journal.ring(&geometry);
            let ring = Ring {
                offset,
                blocks,
                block_size: geometry.block_size as usize,
                uuid: sb.uuid,
            };
            let cursor = sb.journal_cursor;
            let mut end = ChainEnd {
                next_seq: cursor.seq,
                head: cursor.block,
                ..ChainEnd::default()
            };
            if !sb.clean && !opts.no_recovery {
                let keys;
                (end, keys) = store.replay(&ring, cursor)?;
                report.replayed_entries = end.entries;
                report.replayed_keys = keys;
            }
            // An entry written whole (its checksum is right) that is not
            // valid is corruption, not a torn end: what follows it would be
            // lost without a word. fsck says which.
            if let Some(e) = end.stop.filter(|e| e.under_good_checksum()) {
                log::error(format_args!(
                    "sixfs: journal entry {} at block {} is corrupt ({e:?}): not mounted; fsck.sixfs names it",
                    end.next_seq, end.head
                ));
                return Err(StoreError::BadJournal {
                    seq: end.next_seq,
                    why: "an entry with a good checksum holds bad records",
                });
            }
            // Numbering goes on far above the chain (Journal::start).
            if end.next_seq.checked_add(blocks.saturating_mul(4)).is_none() {
                return Err(StoreError::BadJournal {
                    seq: end.next_seq,
                    why: "sequence numbers at their end",
                });
            }
            store.journal = Some(Journal::start(ring, &end)?);
        }
        if !store.is_read_only() {
            store.checkpoint(false)?;
        }
        store
            .read_only
            .store(u32::from(read_only), Ordering::Release);
        store.set_error_policy(opts.errors);
        store.opened.store(1, Ordering::Release);
        Ok((store, report))
    }

    /// Puts the root the superblock records for `btree` into the cache: the
    /// node it points to, checked, or an empty leaf under a placeholder id
    /// (written, and given a slot, by the first checkpoint that finds it
    /// changed).
    fn load_root(&self, btree: BtreeId, root: &BtreeRoot) -> Result<(), StoreError> {
        let new = match *root {
            BtreeRoot::Empty => NewNode {
                id: u64::MAX - u64::from(btree.0),
                tag: 0,
                btree,
                node: Node::new(NodeParams {
                    size: self.btree.params.node_size,
                    level: 0,
                    min: Pos::MIN,
                    max: Pos::MAX,
                })
                .map_err(crate::btree::BtreeError::from)?,
                state: NodeState::Read,
            },
            BtreeRoot::Node { sector, level } => {
                let r = NodeRef {
                    btree: btree.0,
                    level,
                    id: sector,
                    tag: 0,
                    min: Pos::MIN,
                    max: Pos::MAX,
                };
                let (node, header) =
                    self.read_checked(&r, false)
                        .map_err(|error| StoreError::BadRoot {
                            btree: btree.0,
                            error,
                        })?;
                NewNode {
                    id: sector,
                    tag: header.tag,
                    btree,
                    node,
                    state: NodeState::Read,
                }
            }
        };
        debug_assert!(new.id < PLACEHOLDER_IDS || matches!(root, BtreeRoot::Empty));
        let node = self.btree.add_with_id(new)?;
        self.btree.set_root(node)?;
        Ok(())
    }
}
