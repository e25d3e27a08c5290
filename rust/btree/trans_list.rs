// SPDX-License-Identifier: GPL-2.0

//! Which locks every running transaction holds and awaits, for debugfs
//! (`/sys/kernel/debug/sixfs/btree_transactions`, after bcachefs's
//! `btree_transactions`): the place to look when something hangs.
//!
//! A fixed table of slots, one claimed by each transaction for its life,
//! shared by every [`Btree`](super::Btree) in the module. A path publishes
//! each lock it takes or drops with a few relaxed stores; there is no lock
//! and no allocation on that path. A reader sees a racy snapshot: a lock
//! taken or dropped while it reads may show up or not, as in bcachefs.
//! Transactions beyond [`LISTED_TRANS`], and paths beyond [`LISTED_PATHS`]
//! in one transaction, run normally but are not listed.

use super::cache::{BtreeId, MAX_DEPTH};
use crate::bkey::Pos;
use crate::platform::sync::{task_id, AtomicU64, Ordering};
use crate::six::SixLockType;
use core::fmt;

/// Whether a lock is held or waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockState {
    /// Held.
    Held,
    /// Being waited for.
    Waiting,
}

/// One lock of a transaction, for introspection (debugfs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockInfo {
    /// Which tree.
    pub btree: BtreeId,
    /// The node's level.
    pub level: u8,
    /// The position of the path that holds it.
    pub pos: Pos,
    /// The node's cache id.
    pub node: u64,
    /// How.
    pub ty: SixLockType,
    /// Held or awaited.
    pub state: LockState,
}

/// Transactions listed at once.
pub const LISTED_TRANS: usize = 64;
/// Paths listed per transaction.
pub const LISTED_PATHS: usize = 16;

/// A lock type as a nonzero code (0: nothing).
fn ty_code(ty: SixLockType) -> u64 {
    match ty {
        SixLockType::Read => 1,
        SixLockType::Intent => 2,
        SixLockType::Write => 3,
    }
}

fn ty_of(code: u64) -> Option<SixLockType> {
    match code & 0xff {
        1 => Some(SixLockType::Read),
        2 => Some(SixLockType::Intent),
        3 => Some(SixLockType::Write),
        _ => None,
    }
}

/// A position in three words.
struct PosSlot([AtomicU64; 3]);

impl PosSlot {
    const fn new() -> Self {
        PosSlot([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)])
    }

    fn store(&self, pos: Pos) {
        let [inode, offset, snapshot] = &self.0;
        inode.store(pos.inode, Ordering::Relaxed);
        offset.store(pos.offset, Ordering::Relaxed);
        snapshot.store(u64::from(pos.snapshot), Ordering::Relaxed);
    }

    fn load(&self) -> Pos {
        let [inode, offset, snapshot] = &self.0;
        Pos::new(
            inode.load(Ordering::Relaxed),
            offset.load(Ordering::Relaxed),
            u32::try_from(snapshot.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
        )
    }
}

/// What one path holds: its tree and position (when it last locked), and
/// per level `node id << 8 | lock type code`, 0 when not held.
pub struct PathSlot {
    btree: AtomicU64,
    pos: PosSlot,
    levels: [AtomicU64; MAX_DEPTH],
}

impl PathSlot {
    const fn new() -> Self {
        #[allow(clippy::declare_interior_mutable_const)]
        const FREE: AtomicU64 = AtomicU64::new(0);
        PathSlot {
            btree: AtomicU64::new(0),
            pos: PosSlot::new(),
            levels: [FREE; MAX_DEPTH],
        }
    }

    /// Records that level `level` of a path of `btree` at `pos` now holds
    /// node `node` as `ty`.
    pub(crate) fn held(&self, btree: BtreeId, pos: Pos, level: usize, node: u64, ty: SixLockType) {
        self.btree.store(u64::from(btree.0), Ordering::Relaxed);
        self.pos.store(pos);
        if let Some(l) = self.levels.get(level) {
            l.store((node << 8) | ty_code(ty), Ordering::Relaxed);
        }
    }

    /// Records that level `level` holds nothing.
    pub(crate) fn dropped(&self, level: usize) {
        if let Some(l) = self.levels.get(level) {
            l.store(0, Ordering::Relaxed);
        }
    }

    fn clear(&self) {
        for level in 0..MAX_DEPTH {
            self.dropped(level);
        }
    }
}

/// One transaction's slot.
pub struct TransSlot {
    /// The transaction's serial number; 0 while the slot is free.
    serial: AtomicU64,
    task: AtomicU64,
    paths: [PathSlot; LISTED_PATHS],
    /// The lock awaited: `btree << 16 | level << 8 | type code`, 0 if none.
    waiting: AtomicU64,
    waiting_node: AtomicU64,
    waiting_pos: PosSlot,
}

impl TransSlot {
    const fn new() -> Self {
        #[allow(clippy::declare_interior_mutable_const)]
        const PATH: PathSlot = PathSlot::new();
        TransSlot {
            serial: AtomicU64::new(0),
            task: AtomicU64::new(0),
            paths: [PATH; LISTED_PATHS],
            waiting: AtomicU64::new(0),
            waiting_node: AtomicU64::new(0),
            waiting_pos: PosSlot::new(),
        }
    }

    /// The slot of path `idx`, if it is listed.
    pub(crate) fn path(&'static self, idx: usize) -> Option<&'static PathSlot> {
        self.paths.get(idx)
    }

    /// Records the lock the transaction starts waiting for.
    pub(crate) fn wait(&self, info: &LockInfo) {
        self.waiting_node.store(info.node, Ordering::Relaxed);
        self.waiting_pos.store(info.pos);
        let code =
            (u64::from(info.btree.0) << 16) | (u64::from(info.level) << 8) | ty_code(info.ty);
        self.waiting.store(code, Ordering::Relaxed);
    }

    /// Records that the wait is over.
    pub(crate) fn waited(&self) {
        self.waiting.store(0, Ordering::Relaxed);
    }

    /// The transaction's serial number (as listed).
    pub fn serial(&self) -> u64 {
        self.serial.load(Ordering::Relaxed)
    }
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE_SLOT: TransSlot = TransSlot::new();
static SLOTS: [TransSlot; LISTED_TRANS] = [FREE_SLOT; LISTED_TRANS];
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// A claimed slot, given back when dropped.
pub struct Claim(&'static TransSlot);

impl Claim {
    /// Claims a free slot for a new transaction; `None` if all are taken
    /// (the transaction then runs unlisted).
    pub fn new() -> Option<Claim> {
        let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
        let slot = SLOTS.iter().find(|s| {
            s.serial.load(Ordering::Relaxed) == 0
                && s.serial
                    .compare_exchange(0, serial, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
        })?;
        slot.task.store(task_id(), Ordering::Relaxed);
        Some(Claim(slot))
    }

    /// The slot.
    pub fn slot(&self) -> &'static TransSlot {
        self.0
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        for p in self.0.paths.iter() {
            p.clear();
        }
        self.0.waited();
        // Release: the cleared slot is what the next owner finds.
        self.0.serial.store(0, Ordering::Release);
    }
}

/// One listed lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedLock {
    /// The transaction's serial number.
    pub trans: u64,
    /// The task running it (the pid in the kernel).
    pub task: u64,
    /// The path holding it (`None` for the awaited lock).
    pub path: Option<usize>,
    /// The lock.
    pub info: LockInfo,
}

/// Calls `f` on every lock listed now, transaction by transaction.
pub fn for_each_lock(mut f: impl FnMut(&ListedLock)) {
    for slot in SLOTS.iter() {
        let trans = slot.serial.load(Ordering::Acquire);
        if trans == 0 {
            continue;
        }
        let task = slot.task.load(Ordering::Relaxed);
        for (idx, p) in slot.paths.iter().enumerate() {
            for (level, l) in p.levels.iter().enumerate() {
                let word = l.load(Ordering::Relaxed);
                let Some(ty) = ty_of(word) else { continue };
                f(&ListedLock {
                    trans,
                    task,
                    path: Some(idx),
                    info: LockInfo {
                        btree: BtreeId(u8::try_from(p.btree.load(Ordering::Relaxed)).unwrap_or(0)),
                        level: u8::try_from(level).unwrap_or(u8::MAX),
                        pos: p.pos.load(),
                        node: word >> 8,
                        ty,
                        state: LockState::Held,
                    },
                });
            }
        }
        let code = slot.waiting.load(Ordering::Relaxed);
        if let Some(ty) = ty_of(code) {
            f(&ListedLock {
                trans,
                task,
                path: None,
                info: LockInfo {
                    btree: BtreeId(u8::try_from((code >> 16) & 0xff).unwrap_or(0)),
                    level: u8::try_from((code >> 8) & 0xff).unwrap_or(0),
                    pos: slot.waiting_pos.load(),
                    node: slot.waiting_node.load(Ordering::Relaxed),
                    ty,
                    state: LockState::Waiting,
                },
            });
        }
    }
}

/// Writes the listing as text, one lock per line:
/// `trans 12 task 345 path 0 btree 0 pos 1:10:0 level 0 node 17 read held`.
pub fn write_text(out: &mut dyn fmt::Write) -> fmt::Result {
    let mut result = Ok(());
    for_each_lock(|l| {
        if result.is_err() {
            return;
        }
        let i = &l.info;
        result = (|| {
            write!(out, "trans {} task {} ", l.trans, l.task)?;
            match l.path {
                Some(p) => write!(out, "path {p} ")?,
                None => out.write_str("path - ")?,
            }
            let ty = match i.ty {
                SixLockType::Read => "read",
                SixLockType::Intent => "intent",
                SixLockType::Write => "write",
            };
            let state = match i.state {
                LockState::Held => "held",
                LockState::Waiting => "waiting",
            };
            writeln!(
                out,
                "btree {} pos {} level {} node {} {ty} {state}",
                i.btree.0, i.pos, i.level, i.node
            )
        })();
    });
    result
}
