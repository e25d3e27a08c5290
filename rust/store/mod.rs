// SPDX-License-Identifier: GPL-2.0

//! The store: a filesystem's btrees on a device.
//!
//! [`Store`] ties the layers below together over one [`Device`]: the
//! superblock (`format`), the space map and bucket allocator (`space`), and
//! the btrees (`btree`), whose nodes it reads on demand, writes at
//! checkpoints and evicts when the cache is over its size.
//!
//! - `format.rs`: a new filesystem (what mkfs writes);
//! - `open.rs`: mounting: superblock, space map, roots;
//! - `checkpoint.rs`: writing every dirty node copy-on-write, then the
//!   space map, then the superblock (Documentation/format.rst, "Btree
//!   nodes", says why this order survives a power cut at any point);
//! - `evict.rs`: the node cache's bound (CLOCK, a cheap LRU);
//! - `replay.rs`: applying the journal at mount.
//!
//! Commits go to the journal (`crate::journal`) as they are applied; sync
//! writes its open entry with a flush; a checkpoint makes the journal
//! before it unnecessary (its superblock names where replay starts).
//!
//! Transactions on the store's btrees come from [`Store::trans`]; each run
//! of one enters the store's *gate* shared, and a checkpoint or an
//! eviction takes it exclusively, so they see a tree no one is changing and
//! no path holds a node they replace. A thread must not run a transaction
//! of a store inside another one's run (the inner one could wait for a
//! checkpoint that waits for the outer one).

mod check;
mod checkpoint;
mod errors;
mod evict;
mod format;
mod open;
mod replay;

#[cfg(all(any(test, CONFIG_KUNIT), not(loom)))]
mod crash_tests;
#[cfg(all(any(test, CONFIG_KUNIT), not(loom)))]
mod journal_tests;
#[cfg(all(any(test, CONFIG_KUNIT), not(loom)))]
mod test_util;

#[cfg(all(any(test, CONFIG_KUNIT), not(loom)))]
mod store_tests;

pub use check::{BadBucket, CheckReport, NodeFault, WalkStep};
pub use errors::ErrorPolicy;
pub use format::format;
pub use open::{OpenOptions, OpenReport};

use crate::btree::{
    Btree, BtreeError, BtreeResult, NodeRef, NodeState, NodeStore, RestartReason, Trans, Update,
};
use crate::device::{Device, DeviceError};
use crate::format::geometry::Geometry;
use crate::format::journal::{encode_record, record_bytes};
use crate::format::superblock::{Superblock, UUID_BYTES};
use crate::format::superblock_io::{ReadError, WriteError};
use crate::journal::{FlushUpTo, Journal, JournalError, JournalStats};
use crate::node::disk::{self, DiskNodeError, NodeHeader};
use crate::node::Node;
use crate::platform::log;
use crate::platform::sync::{AtomicU32, AtomicU64, Ordering, SpinLock};
use crate::platform::vec::Vec;
use crate::six::{SixLock, SixLockType};
use crate::space::{Space, SpaceError, SpaceStats};

/// Node ids from here up are not slots: an empty btree's root before it
/// is first written has one (`u64::MAX - btree id`). No sector can be this
/// large (its byte offset would not fit a `u64`).
pub const PLACEHOLDER_IDS: u64 = u64::MAX - 64;

/// Why a store could not be opened or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Neither superblock copy is valid: why each was refused.
    NoSuperblock {
        /// The primary's error.
        primary: ReadError,
        /// The backup's error.
        backup: ReadError,
    },
    /// Features this code does not know: `incompat` refuses any mount,
    /// `ro_compat` a read-write one.
    UnknownFeatures {
        /// The unknown ro_compat bits.
        ro_compat: u64,
    },
    /// The space map copy the superblock names is not valid.
    SpaceMap(crate::format::space_map::SpaceMapError),
    /// A root node could not be read: the btree and why.
    BadRoot {
        /// The btree id.
        btree: u8,
        /// Why.
        error: BtreeError,
    },
    /// A device error.
    Device(DeviceError),
    /// A superblock write was refused or failed.
    SuperblockWrite(WriteError),
    /// The btree failed (a bad node, no space, no memory).
    Btree(BtreeError),
    /// The store is read-only.
    ReadOnly,
    /// No memory.
    NoMemory,
    /// The space map was not rebuilt: rebuilding it would not be safe
    /// (why).
    NotRebuilt(&'static str),
    /// The journal could not be replayed: an update in it is not valid
    /// (the entry's sequence number and why).
    BadJournal {
        /// The entry.
        seq: u64,
        /// What is wrong.
        why: &'static str,
    },
    /// The journal failed to write and a checkpoint could not replace it.
    Journal(JournalError),
    /// An earlier write failed and `errors=remount-ro` stopped writing:
    /// commits since the last durable point will not reach the device.
    WritesLost,
}

impl From<DeviceError> for StoreError {
    fn from(e: DeviceError) -> Self {
        StoreError::Device(e)
    }
}

impl From<BtreeError> for StoreError {
    fn from(e: BtreeError) -> Self {
        match e {
            BtreeError::ReadOnly => StoreError::ReadOnly,
            e => StoreError::Btree(e),
        }
    }
}

impl From<crate::platform::sync::AllocError> for StoreError {
    fn from(_: crate::platform::sync::AllocError) -> Self {
        StoreError::NoMemory
    }
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StoreError::NoSuperblock { primary, backup } => write!(
                f,
                "no valid superblock (primary: {primary:?}; backup: {backup:?})"
            ),
            StoreError::UnknownFeatures { ro_compat } => write!(
                f,
                "read-only-compatible features {ro_compat:#x} unknown to this sixfs: mount read-only"
            ),
            StoreError::SpaceMap(e) => write!(f, "bad space map: {e:?}"),
            StoreError::BadRoot { btree, error } => {
                write!(f, "the root of btree {btree} cannot be read: {error:?}")
            }
            StoreError::Device(e) => write!(f, "device error: {e:?}"),
            StoreError::SuperblockWrite(e) => write!(f, "superblock write failed: {e:?}"),
            StoreError::Btree(BtreeError::NoSpace) => write!(f, "no space left on the device"),
            StoreError::Btree(e) => write!(f, "btree error: {e:?}"),
            StoreError::ReadOnly => write!(f, "read-only filesystem"),
            StoreError::NoMemory => write!(f, "out of memory"),
            StoreError::NotRebuilt(why) => write!(f, "space map not rebuilt: {why}"),
            StoreError::BadJournal { seq, why } => {
                write!(f, "journal entry {seq} cannot be replayed: {why}")
            }
            StoreError::Journal(e) => write!(f, "journal write failed: {e:?}"),
            StoreError::WritesLost => write!(
                f,
                "an earlier write failed and the filesystem went read-only: commits since the last sync are lost"
            ),
        }
    }
}

impl StoreError {
    /// The errno (positive) the kernel reports for it.
    pub fn errno(&self) -> i32 {
        const EIO: i32 = 5;
        const ENOMEM: i32 = 12;
        const EINVAL: i32 = 22;
        const EROFS: i32 = 30;
        const EUCLEAN: i32 = 117;
        match self {
            StoreError::NoSuperblock { .. }
            | StoreError::UnknownFeatures { .. }
            | StoreError::SpaceMap(_)
            | StoreError::BadRoot { .. } => EINVAL,
            StoreError::BadJournal { .. } => EUCLEAN,
            StoreError::Journal(_) | StoreError::WritesLost => EIO,
            StoreError::Device(DeviceError::NoMemory) | StoreError::NoMemory => ENOMEM,
            StoreError::Device(_) | StoreError::SuperblockWrite(_) => EIO,
            StoreError::ReadOnly => EROFS,
            StoreError::NotRebuilt(_) => EUCLEAN,
            StoreError::Btree(e) => e.errno(),
        }
    }
}

/// Why a node slot could not be read as the node a pointer names.
enum SlotError {
    /// The device failed.
    Device(DeviceError),
    /// No memory for the buffer.
    NoMemory,
    /// The slot's bytes are not that node.
    Bad(DiskNodeError),
}

/// Counters of what the store did, for tests and debugfs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Nodes read from the device.
    pub nodes_read: u64,
    /// Nodes written.
    pub nodes_written: u64,
    /// Bytes of the nodes written (the used part of each slot).
    pub bytes_written: u64,
    /// Nodes moved to a new slot by a checkpoint (copy-on-write).
    pub nodes_moved: u64,
    /// Nodes evicted from the cache.
    pub nodes_evicted: u64,
    /// Of those, dirty ones written first (the cache over its bound, or the
    /// memory shrinker, with too few clean nodes to evict).
    pub nodes_written_back: u64,
    /// Checkpoints done.
    pub checkpoints: u64,
    /// Of those, reclaims that left leaves dirty (their commits stay in
    /// the journal).
    pub reclaims: u64,
    /// Leaves those left dirty, summed.
    pub nodes_kept_dirty: u64,
    /// Nodes in the cache now.
    pub cached: u64,
    /// Nodes the cache holds before it writes and evicts.
    pub cache_limit: u64,
    /// Buckets.
    pub space: SpaceStats,
    /// The journal (all zero without one).
    pub journal: JournalStats,
}

#[derive(Default)]
struct Counters {
    nodes_read: AtomicU64,
    nodes_written: AtomicU64,
    bytes_written: AtomicU64,
    nodes_moved: AtomicU64,
    nodes_evicted: AtomicU64,
    nodes_written_back: AtomicU64,
    checkpoints: AtomicU64,
    reclaims: AtomicU64,
    nodes_kept_dirty: AtomicU64,
}

/// A filesystem's btrees on a device.
///
/// # Invariants
///
/// - `sb` is the superblock last made durable on the device (by open or
///   by a checkpoint); its space map copy `sb.seq % 2` holds the records
///   of its tree.
/// - Every node in the btree's cache with a slot id either is clean and
///   equal to what that slot holds, or is dirty (and, unless fresh, in a
///   slot the durable tree may point to, which a checkpoint leaves alone).
pub struct Store<D: Device> {
    dev: D,
    geometry: Geometry,
    sb: SpinLock<Superblock>,
    /// The btrees.
    pub btree: Btree,
    space: Space,
    /// Shared by transaction runs, exclusive for checkpoints and evictions.
    gate: SixLock,
    read_only: AtomicU32,
    next_tag: AtomicU64,
    cache_limit: usize,
    /// The slots, in order, of nodes written back and evicted since the
    /// last checkpoint: no durable tree points to them, so a node read
    /// back from one is written there again in place (see `evict.rs`).
    written_back: SpinLock<Vec<u64>>,
    counters: Counters,
    /// The journal, once replay is done (none on a filesystem made
    /// without one: then only checkpoints make commits durable).
    journal: Option<Journal>,
    /// [`ErrorPolicy`], as a number.
    error_policy: AtomicU32,
    /// Open has finished: errors from now on are run-time errors.
    opened: AtomicU32,
    /// A run-time error made the store read-only (`errors=remount-ro`).
    stopped_by_error: AtomicU32,
}

impl<D: Device + Sync> Store<D> {
    /// A transaction on the store's btrees.
    pub fn trans(&self) -> Trans<'_> {
        Trans::with_store(&self.btree, Some(self))
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Makes everything committed so far durable: a flush write of the
    /// journal (a checkpoint without one, or when the journal failed);
    /// nothing to do when read-only.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.flush_journal(FlushUpTo::All)
    }

    /// Makes the commits not yet durable durable, writing nothing when
    /// there are none (the journal thread's tick).
    pub fn flush_pending(&self) -> Result<(), StoreError> {
        match &self.journal {
            Some(journal) => self.flush_journal(FlushUpTo::Seq(journal.last_commit_seq())),
            None => Ok(()),
        }
    }

    /// Makes the commits `upto` names durable (a sequence number is
    /// [`Trans::journal_seq`] after a commit), as [`Self::sync`] does.
    pub fn flush_journal(&self, upto: FlushUpTo) -> Result<(), StoreError> {
        if self.is_read_only() {
            return self.writes_lost();
        }
        let Some(journal) = &self.journal else {
            return self.checkpoint(false);
        };
        match journal.flush(&self.dev, upto) {
            Ok(()) => Ok(()),
            Err(e) => self.journal_failed(e),
        }
    }

    /// The journal could not be written: a checkpoint makes everything
    /// durable without it (and starts it afresh), then the error policy
    /// answers. Returns the checkpoint's result.
    fn journal_failed(&self, e: JournalError) -> Result<(), StoreError> {
        let saved = self.checkpoint(false);
        if let Err(e) = &saved {
            self.runtime_error("checkpoint after a failed journal write", e);
        }
        if let JournalError::Device(_) = e {
            self.runtime_error("journal write", &StoreError::Journal(e));
        }
        saved
    }

    /// Writes every dirty node (a checkpoint), as an unmount would but
    /// leaving the filesystem in use; on a read-only store, what
    /// [`Self::sync`] says.
    pub fn write_back(&self) -> Result<(), StoreError> {
        if self.is_read_only() {
            return self.writes_lost();
        }
        self.checkpoint(false)
    }

    /// On a store that a run-time error made read-only (`errors=`):
    /// [`StoreError::WritesLost`] if commits that landed are not durable
    /// and now never will be. Otherwise `Ok`.
    fn writes_lost(&self) -> Result<(), StoreError> {
        if self.stopped_by_error.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let durable = match &self.journal {
            Some(journal) => journal.all_durable(),
            None => !self.has_dirty_nodes(),
        };
        if durable {
            Ok(())
        } else {
            Err(StoreError::WritesLost)
        }
    }

    /// Whether a node in the cache is dirty.
    fn has_dirty_nodes(&self) -> bool {
        self.btree.snapshot().map_or(true, |nodes| {
            nodes.iter().any(|n| n.is_dirty() && !n.is_dead())
        })
    }

    fn opened(&self) -> bool {
        self.opened.load(Ordering::Acquire) != 0
    }

    /// Whether the journal is half full or failed: a checkpoint reclaims
    /// it.
    fn journal_wants_checkpoint(&self) -> bool {
        !self.is_read_only() && self.journal.as_ref().is_some_and(|j| j.wants_checkpoint())
    }

    /// Switches between read-write and read-only. Going read-only writes
    /// everything and marks the filesystem clean, as an unmount does;
    /// going read-write marks it in use again.
    pub fn set_read_only(&self, read_only: bool) -> Result<(), StoreError> {
        if read_only == self.is_read_only() {
            return Ok(());
        }
        if read_only {
            self.checkpoint(true)?;
            self.read_only.store(1, Ordering::Release);
            return Ok(());
        }
        let unknown = self.superblock().features.unknown_ro_compat();
        if unknown != 0 {
            return Err(StoreError::UnknownFeatures { ro_compat: unknown });
        }
        self.read_only.store(0, Ordering::Release);
        self.checkpoint(false).inspect_err(|_| {
            self.read_only.store(1, Ordering::Release);
        })
    }

    /// Writes everything and marks the filesystem clean (unmount); the
    /// store is read-only afterwards. Read-only stores write nothing. On
    /// an error the filesystem stays as the last checkpoint left it, marked
    /// in use, which is what the next mount finds.
    pub fn close(&self) -> Result<(), StoreError> {
        if self.is_read_only() {
            return self.writes_lost();
        }
        let result = self.checkpoint(true);
        self.read_only.store(1, Ordering::Release);
        result
    }

    /// The geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The last durable superblock.
    pub fn superblock(&self) -> Superblock {
        *self.sb.lock()
    }

    /// The filesystem's UUID.
    pub fn uuid(&self) -> [u8; UUID_BYTES] {
        self.sb.lock().uuid
    }

    /// Whether writes are refused.
    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire) != 0
    }

    /// What the store did so far.
    pub fn stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            nodes_read: c.nodes_read.load(Ordering::Relaxed),
            nodes_written: c.nodes_written.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
            nodes_moved: c.nodes_moved.load(Ordering::Relaxed),
            nodes_evicted: c.nodes_evicted.load(Ordering::Relaxed),
            nodes_written_back: c.nodes_written_back.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            reclaims: c.reclaims.load(Ordering::Relaxed),
            nodes_kept_dirty: c.nodes_kept_dirty.load(Ordering::Relaxed),
            cached: self.btree.nr_nodes() as u64,
            cache_limit: self.cache_limit as u64,
            space: self.space.stats(),
            journal: self.journal.as_ref().map(|j| j.stats()).unwrap_or_default(),
        }
    }

    /// The node-sized buffer I/O goes through.
    fn slot_buffer(&self) -> Result<Vec<u8>, StoreError> {
        let mut buf = Vec::new();
        buf.try_extend_with(self.geometry.node_size as usize, 0)?;
        Ok(buf)
    }

    /// Reads the node `r` names from its slot and checks it, logging what
    /// is wrong (a mount's message names the node).
    fn read_checked(&self, r: &NodeRef, check_tag: bool) -> BtreeResult<(Node, NodeHeader)> {
        let error = match self.read_slot(r, check_tag) {
            Ok(node) => return Ok(node),
            Err(SlotError::NoMemory) => return Err(BtreeError::Alloc),
            Err(SlotError::Device(e)) => {
                self.node_error(r, format_args!("cannot be read: {e:?}"));
                BtreeError::Io
            }
            Err(SlotError::Bad(e)) => {
                self.node_error(r, format_args!("is bad: {e:?}"));
                BtreeError::BadNode
            }
        };
        self.runtime_error("reading a node", &StoreError::Btree(error));
        Err(error)
    }

    /// Reads the node `r` names from its slot and checks it, saying why it
    /// is bad instead of logging it (fsck reports it itself).
    fn read_slot(&self, r: &NodeRef, check_tag: bool) -> Result<(Node, NodeHeader), SlotError> {
        let mut buf = self.slot_buffer().map_err(|_| SlotError::NoMemory)?;
        let expect = r.header();
        // A pointer past the device's end is a bad pointer, not an I/O
        // error: the device is fine, the parent is not.
        let in_range =
            r.id.checked_mul(512)
                .filter(|o| o.saturating_add(buf.len() as u64) <= self.dev.size());
        let offset = in_range.ok_or(SlotError::Bad(DiskNodeError::Mismatch(
            "sector (past the device's end)",
        )))?;
        self.dev.read(offset, &mut buf).map_err(SlotError::Device)?;
        self.counters.nodes_read.fetch_add(1, Ordering::Relaxed);
        disk::decode(&buf, &expect, check_tag).map_err(SlotError::Bad)
    }

    /// Logs what is wrong with a node, naming the filesystem, btree, level
    /// and range, so the message alone finds it.
    fn node_error(&self, r: &NodeRef, what: core::fmt::Arguments<'_>) {
        let uuid = self.uuid();
        log::error(format_args!(
            "sixfs {:02x}{:02x}{:02x}{:02x}: btree {} level {} node at sector {} covering {:?}..{:?} {}",
            uuid[0], uuid[1], uuid[2], uuid[3], r.btree, r.level, r.id, r.min, r.max, what
        ));
    }

    fn lock_gate(&self) {
        // The gate has no should-sleep hook: locking cannot fail.
        let intent = self.gate.lock(SixLockType::Intent);
        let write = self.gate.lock(SixLockType::Write);
        debug_assert!(intent.is_ok() && write.is_ok());
    }

    fn unlock_gate(&self) {
        let write = self.gate.unlock(SixLockType::Write);
        let intent = self.gate.unlock(SixLockType::Intent);
        debug_assert!(intent.is_ok() && write.is_ok());
    }
}

impl<D: Device + Sync> NodeStore for Store<D> {
    fn check_writable(&self) -> BtreeResult<()> {
        if self.is_read_only() {
            return Err(BtreeError::ReadOnly);
        }
        Ok(())
    }

    fn alloc_node(&self) -> BtreeResult<(u64, u64)> {
        self.check_writable()?;
        let id = self.space.alloc_slot(false).map_err(|e| match e {
            SpaceError::NoSpace if self.space.checkpoint_frees_a_bucket() => {
                BtreeError::Restart(RestartReason::Space)
            }
            SpaceError::NoSpace => BtreeError::NoSpace,
            SpaceError::NotInUse(_) => BtreeError::bug("allocator refused a slot"),
        })?;
        Ok((id, self.next_tag.fetch_add(1, Ordering::Relaxed)))
    }

    fn free_node(&self, id: u64) {
        if id >= PLACEHOLDER_IDS {
            return;
        }
        if let Err(e) = self.space.free_slot(id) {
            log::error(format_args!("sixfs: freeing node slot {id}: {e:?}"));
            debug_assert!(false, "free of a slot not in use");
        }
    }

    fn read_node(&self, r: &NodeRef) -> BtreeResult<(Node, NodeState)> {
        let (node, _) = self.read_checked(r, true)?;
        let state = if self.written_back.lock().binary_search(&r.id).is_ok() {
            NodeState::Written
        } else {
            NodeState::Read
        };
        // As a checkpoint leaves a node it wrote: one sorted bset, nothing
        // for whiteouts to hide (see `resort`), so that deletions need no
        // room; a read-only store deletes nothing and keeps the copy.
        if self.is_read_only() {
            return Ok((node, state));
        }
        Ok((node.rewrite().unwrap_or(node), state))
    }

    fn enter(&self) {
        // No should-sleep hook: cannot fail.
        let entered = self.gate.lock(SixLockType::Read);
        debug_assert!(entered.is_ok());
    }

    fn leave(&self) {
        let left = self.gate.unlock(SixLockType::Read);
        debug_assert!(left.is_ok());
    }

    fn log_commit(&self, updates: &[Update]) -> BtreeResult<u64> {
        let Some(journal) = &self.journal else {
            return Ok(0);
        };
        let bytes = updates.iter().map(|u| record_bytes(&u.key)).sum();
        let taken = journal.add(bytes, |buf| {
            let mut at = 0;
            for u in updates {
                let out = buf.get_mut(at..).unwrap_or(&mut []);
                at += encode_record(u.btree.0, &u.key, out)?;
            }
            u32::try_from(updates.len()).map_err(|_| crate::bkey::KeyError::TooBig)
        });
        match taken {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(e)) => Err(BtreeError::Key(e)),
            Err(JournalError::TooBig) => Err(BtreeError::TooBig),
            Err(_) => Err(BtreeError::Restart(RestartReason::Journal)),
        }
    }

    fn make_room(&self, reason: RestartReason) -> BtreeResult<()> {
        // A checkpoint frees the slots waiting for it; a reclaim leaves
        // the journal's ring at most a quarter full. Under half full, any
        // entry fits (entries are at most a quarter of the ring): the open
        // one was full, write it.
        let done = match &self.journal {
            Some(journal) if reason == RestartReason::Journal && !journal.wants_checkpoint() => {
                match journal.write_open(&self.dev, false) {
                    Ok(()) => Ok(()),
                    Err(e) => self.journal_failed(e),
                }
            }
            None if reason == RestartReason::Journal => Ok(()),
            Some(_) if reason == RestartReason::Journal => self
                .reclaim()
                .inspect_err(|e| self.runtime_error("journal reclaim", e)),
            _ => self
                .checkpoint(false)
                .inspect_err(|e| self.runtime_error("checkpoint", e)),
        };
        done.map_err(|e| match e {
            StoreError::Btree(e) => e,
            StoreError::ReadOnly => BtreeError::ReadOnly,
            StoreError::NoMemory => BtreeError::Alloc,
            _ => BtreeError::Io,
        })
    }

    fn after_run(&self) {
        if let Err(e) = self.maintain() {
            self.runtime_error("writing nodes to bound the cache and the journal", &e);
        }
    }
}
