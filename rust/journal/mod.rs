// SPDX-License-Identifier: GPL-2.0

//! The journal: every commit's updates, written ahead of the btree nodes.
//!
//! A commit copies its updates into the *open entry* (an in-memory
//! buffer) while its leaves are write-locked, so two commits to one key
//! are journaled in the order they were applied, and gets the entry's
//! sequence number. The open entry is written to the ring
//! (`format/journal.rs`) when it is full, when someone needs it durable
//! (sync: a flush write, which also makes every earlier entry durable),
//! or when its delay is up; many commits, one write.
//!
//! Checkpoints (`store/checkpoint.rs`) write dirty nodes; the journal
//! keeps what the durable tree may lack. A checkpoint's superblock records
//! the *cursor*, the first entry replay reads: everything before it in the
//! ring is free again (reclaim). A checkpoint of the whole tree puts the
//! cursor where the next entry goes; a reclaim keeps the newest entries
//! (at most a quarter of the ring) and leaves the leaves that only they
//! changed dirty ([`Journal::begin_reclaim`]). When the ring has no room
//! for the open entry, committers restart, and one of them, holding no
//! lock, reclaims.
//!
//! Mount reads the chain of entries from the cursor (`read.rs`) and
//! replays their updates in order. Updates are blind (a key's new value,
//! or its deletion), so replaying entries onto a tree that already holds
//! some of them gives the same tree: replay may be cut short and redone.
//!
//! Sequence numbers are never reused: after a mount, numbering goes on
//! above anything an interrupted run could have left past the chain's
//! end (`Journal::start`), so a reader never takes a stale entry for the
//! next one.

mod read;

#[cfg(all(any(test, CONFIG_KUNIT), not(loom)))]
mod journal_tests;

pub use read::{read_chain, ChainEnd, ReadError};

use crate::device::{Device, DeviceError};
use crate::format::journal::{self as entry, entry_blocks, HEADER_BYTES};
use crate::format::superblock::JournalCursor;
use crate::platform::sync::{AllocError, SpinLock};
use crate::platform::vec::Vec;
use crate::six::{SixLock, SixLockType};

/// The largest journal entry.
pub const MAX_ENTRY_BYTES: usize = 64 << 10;

/// Entries past the cursor whose places the journal remembers, at most:
/// a reclaim moves the cursor to one of them or to the open entry. (A
/// ring of 64 KiB entries is half full at 1024 of 128 MiB, the largest
/// mkfs makes.)
const MAX_TRACKED_ENTRIES: usize = 1024;

/// Why the journal did not take or write an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalError {
    /// The open entry has no room for the records: write it first.
    EntryFull,
    /// The ring has no room for the open entry: checkpoint first.
    RingFull,
    /// A write or flush of the journal failed; nothing more is written to
    /// it until a checkpoint has made everything durable.
    Failed,
    /// One commit's records are larger than an entry can be.
    TooBig,
    /// A device error (the journal is [`JournalError::Failed`] from now
    /// on).
    Device(DeviceError),
}

/// Which commits [`Journal::flush`] makes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushUpTo {
    /// Those with sequence numbers up to this one.
    Seq(u64),
    /// Every commit so far; the device is flushed even when no entry
    /// waits (a sync asks whether what the device holds is durable).
    All,
}

/// Where the ring is and what its entries are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ring {
    /// Byte offset of its first block.
    pub offset: u64,
    /// Its length in blocks.
    pub blocks: u64,
    /// Bytes per block.
    pub block_size: usize,
    /// The filesystem's UUID, in every entry.
    pub uuid: [u8; 16],
}

impl Ring {
    /// The largest entry in bytes: [`MAX_ENTRY_BYTES`], or less in a small
    /// ring (a quarter of it), a whole number of blocks.
    pub fn max_entry_bytes(&self) -> usize {
        let quarter = usize::try_from(self.blocks / 4)
            .unwrap_or(usize::MAX)
            .saturating_mul(self.block_size);
        let bytes = MAX_ENTRY_BYTES.min(quarter);
        bytes - bytes % self.block_size.max(1)
    }

    /// The byte offset of `block`.
    fn offset_of(&self, block: u64) -> u64 {
        self.offset
            .saturating_add(block.saturating_mul(self.block_size as u64))
    }

    /// Where an entry of `blocks` blocks goes when the head is at `head`:
    /// its first block, and the blocks skipped at the ring's end.
    fn place(&self, head: u64, blocks: u64) -> (u64, u64) {
        if head.saturating_add(blocks) <= self.blocks {
            (head, 0)
        } else {
            (0, self.blocks.saturating_sub(head))
        }
    }
}

/// Where a written entry past the cursor starts.
#[derive(Clone, Copy, Debug)]
struct EntryPlace {
    seq: u64,
    block: u64,
    /// Blocks of the ring from the cursor to its first block (the blocks
    /// skipped at the ring's end included).
    from_cursor: u64,
}

/// Journal counters, for tests and debugfs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Entries written.
    pub entries: u64,
    /// Of which flush writes.
    pub flushes: u64,
    /// Records journaled.
    pub records: u64,
    /// Blocks of the ring in use (cursor to head).
    pub used_blocks: u64,
    /// Blocks of the ring.
    pub ring_blocks: u64,
    /// Every commit with a sequence number up to this one is durable.
    pub durable_seq: u64,
}

struct State {
    /// The open entry: header room, then `payload` bytes of records.
    open: Vec<u8>,
    payload: usize,
    records: u32,
    /// The open entry's sequence number: what its commits get.
    seq: u64,
    /// Where the next entry goes (if it fits before the ring's end).
    head: u64,
    /// Blocks from the cursor to the head: what replay would read.
    used: u64,
    /// The buffer the next write swaps in; `None` while a write has it.
    spare: Option<Vec<u8>>,
    /// Every commit with a sequence number up to this is written.
    written_seq: u64,
    /// ... and durable.
    durable_seq: u64,
    /// The sequence number of the last commit taken.
    last_commit_seq: u64,
    /// A write or flush failed: see [`JournalError::Failed`].
    failed: bool,
    /// Written entries past the cursor, oldest first: each one written
    /// while there was room (capacity for [`MAX_TRACKED_ENTRIES`] is
    /// reserved, so recording one never allocates).
    places: Vec<EntryPlace>,
    stats: JournalStats,
}

/// A filesystem's journal.
///
/// # Invariants
///
/// - The ring holds, from the last durable cursor, `used` blocks of
///   entries with consecutive sequence numbers up to `seq - 1`, the last
///   ending at `head`; the open entry will get `seq`.
/// - No sequence number at or above `seq` is in the ring.
/// - `spare` is `Some` whenever `writer` is not held.
/// - `places` holds entries of the ring past the cursor, in order.
pub struct Journal {
    ring: Ring,
    max_entry: usize,
    state: SpinLock<State>,
    /// Held (intent) by whoever writes an entry or checkpoints: one at a
    /// time, in sequence order.
    writer: SixLock,
}

/// How many entry places to remember: no more than the ring can hold.
fn places_capacity(ring: &Ring) -> usize {
    usize::try_from(ring.blocks)
        .unwrap_or(usize::MAX)
        .min(MAX_TRACKED_ENTRIES)
}

fn entry_buffer(bytes: usize) -> Result<Vec<u8>, AllocError> {
    let mut buf = Vec::try_with_capacity(bytes)?;
    buf.try_extend_with(bytes, 0u8)?;
    Ok(buf)
}

impl Journal {
    /// The journal of `ring` after mount found the chain `end` from
    /// `cursor`: new entries go after it, numbered above anything a run
    /// cut short could have left beyond it (a ring of `n` blocks holds at
    /// most `n` entries).
    pub fn start(ring: Ring, end: &ChainEnd) -> Result<Self, AllocError> {
        let max_entry = ring.max_entry_bytes();
        let seq = end.next_seq.saturating_add(ring.blocks).saturating_add(1);
        Ok(Journal {
            ring,
            max_entry,
            state: SpinLock::new(State {
                open: entry_buffer(max_entry)?,
                payload: 0,
                records: 0,
                seq,
                head: end.head,
                used: end.used,
                spare: Some(entry_buffer(max_entry)?),
                written_seq: seq - 1,
                durable_seq: seq - 1,
                last_commit_seq: seq - 1,
                failed: false,
                places: Vec::try_with_capacity(places_capacity(&ring))?,
                stats: JournalStats {
                    ring_blocks: ring.blocks,
                    durable_seq: seq - 1,
                    used_blocks: end.used,
                    ..JournalStats::default()
                },
            }),
            writer: SixLock::new_untracked(c"sixfs_journal_writer"),
        })
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// What the journal did so far.
    pub fn stats(&self) -> JournalStats {
        let s = self.state.lock();
        JournalStats {
            used_blocks: s.used,
            durable_seq: s.durable_seq,
            ..s.stats
        }
    }

    /// Whether the ring is at least half full: time to checkpoint.
    pub fn wants_checkpoint(&self) -> bool {
        let s = self.state.lock();
        s.used.saturating_mul(2) >= self.ring.blocks || s.failed
    }

    /// The sequence number of the last commit taken.
    pub fn last_commit_seq(&self) -> u64 {
        self.state.lock().last_commit_seq
    }

    /// Whether every commit so far is durable.
    pub fn all_durable(&self) -> bool {
        let s = self.state.lock();
        s.durable_seq >= s.last_commit_seq
    }

    /// Whether anything was journaled since the last checkpoint.
    pub fn is_empty(&self) -> bool {
        let s = self.state.lock();
        s.used == 0 && s.records == 0
    }

    /// Whether an entry of `blocks` more blocks fits in the ring.
    fn fits(&self, s: &State, blocks: u64) -> bool {
        let (_, skipped) = self.ring.place(s.head, blocks);
        s.used.saturating_add(skipped).saturating_add(blocks) <= self.ring.blocks
    }

    /// Adds a commit's records to the open entry: `bytes` of them, which
    /// `fill` writes into the slice it is given and counts. Called with
    /// the commit's leaves write-locked; takes a spinlock, allocates
    /// nothing. Returns the sequence number of the entry they are in.
    pub fn add<E>(
        &self,
        bytes: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<u32, E>,
    ) -> Result<Result<u64, E>, JournalError> {
        let mut s = self.state.lock();
        if s.failed {
            return Err(JournalError::Failed);
        }
        if HEADER_BYTES.saturating_add(bytes) > self.max_entry {
            return Err(JournalError::TooBig);
        }
        let payload = s.payload.saturating_add(bytes);
        if HEADER_BYTES.saturating_add(payload) > self.max_entry {
            return Err(JournalError::EntryFull);
        }
        let blocks = entry_blocks(payload, self.ring.block_size) as u64;
        if !self.fits(&s, blocks) {
            return Err(JournalError::RingFull);
        }
        let at = HEADER_BYTES.saturating_add(s.payload);
        let Some(dst) = s.open.get_mut(at..at.saturating_add(bytes)) else {
            return Err(JournalError::EntryFull);
        };
        let records = match fill(dst) {
            Ok(n) => n,
            Err(e) => return Ok(Err(e)),
        };
        s.payload = payload;
        s.records = s.records.saturating_add(records);
        s.last_commit_seq = s.seq;
        s.stats.records = s.stats.records.saturating_add(u64::from(records));
        Ok(Ok(s.seq))
    }

    fn lock_writer(&self) {
        // No should-sleep hook: cannot fail.
        let locked = self.writer.lock(SixLockType::Intent);
        debug_assert!(locked.is_ok());
    }

    fn unlock_writer(&self) {
        let unlocked = self.writer.unlock(SixLockType::Intent);
        debug_assert!(unlocked.is_ok());
    }

    /// Writes the open entry, if it holds anything; `flush` makes it and
    /// every entry before it durable.
    pub fn write_open(&self, dev: &dyn Device, flush: bool) -> Result<(), JournalError> {
        self.lock_writer();
        let result = self.write_open_locked(dev, flush);
        self.unlock_writer();
        result
    }

    /// Makes the commits `upto` names durable, writing the open entry with
    /// a flush if they are in it, or else flushing the device. Concurrent
    /// callers share the writes: one waits for the other's.
    pub fn flush(&self, dev: &dyn Device, upto: FlushUpTo) -> Result<(), JournalError> {
        self.lock_writer();
        let result = self.flush_locked(dev, upto);
        self.unlock_writer();
        result
    }

    fn flush_locked(&self, dev: &dyn Device, upto: FlushUpTo) -> Result<(), JournalError> {
        let seq = match upto {
            FlushUpTo::Seq(seq) => seq,
            FlushUpTo::All => u64::MAX,
        };
        let (durable, written, open_seq, open_records, failed) = {
            let s = self.state.lock();
            (s.durable_seq, s.written_seq, s.seq, s.records, s.failed)
        };
        if failed {
            return Err(JournalError::Failed);
        }
        if seq <= durable {
            return Ok(());
        }
        if open_records > 0 && seq >= open_seq {
            return self.write_open_locked(dev, true);
        }
        // Everything (a sync) flushes the device even when no entry waits:
        // the caller asked the device whether what it holds is durable.
        if written > durable || upto == FlushUpTo::All {
            if let Err(e) = dev.flush() {
                return Err(self.fail(e));
            }
            let mut s = self.state.lock();
            s.durable_seq = s.durable_seq.max(written);
        }
        Ok(())
    }

    /// Marks the journal failed after `e`.
    fn fail(&self, e: DeviceError) -> JournalError {
        self.state.lock().failed = true;
        JournalError::Device(e)
    }

    fn write_open_locked(&self, dev: &dyn Device, flush: bool) -> Result<(), JournalError> {
        let (mut buf, seq, block, payload, records) = {
            let mut s = self.state.lock();
            if s.failed {
                return Err(JournalError::Failed);
            }
            if s.records == 0 {
                return Ok(());
            }
            let blocks = entry_blocks(s.payload, self.ring.block_size) as u64;
            if !self.fits(&s, blocks) {
                return Err(JournalError::RingFull);
            }
            let (block, skipped) = self.ring.place(s.head, blocks);
            let Some(spare) = s.spare.take() else {
                return Err(JournalError::Failed);
            };
            let buf = core::mem::replace(&mut s.open, spare);
            let seq = s.seq;
            let entry = (buf, seq, block, s.payload, s.records);
            let from_cursor = s.used.saturating_add(skipped);
            if s.places.len() < s.places.capacity() {
                // Within the capacity: no allocation under the spinlock.
                let _ = s.places.try_push(EntryPlace {
                    seq,
                    block,
                    from_cursor,
                });
            }
            s.seq = seq.saturating_add(1);
            s.payload = 0;
            s.records = 0;
            s.head = block.saturating_add(blocks) % self.ring.blocks.max(1);
            s.used = from_cursor.saturating_add(blocks);
            entry
        };
        let result = entry::seal(
            &mut buf,
            seq,
            &self.ring.uuid,
            payload,
            records,
            self.ring.block_size,
        )
        .map_err(|_| JournalError::TooBig)
        .and_then(|len| {
            let offset = self.ring.offset_of(block);
            let bytes = buf.get(..len).unwrap_or(&[]);
            let io = if flush {
                dev.flush().and_then(|()| dev.write_fua(offset, bytes))
            } else {
                dev.write(offset, bytes)
            };
            io.map_err(JournalError::Device)
        });
        let mut s = self.state.lock();
        s.spare = Some(buf);
        match result {
            Ok(()) => {
                s.written_seq = seq;
                s.stats.entries = s.stats.entries.saturating_add(1);
                if flush {
                    s.durable_seq = seq;
                    s.stats.flushes = s.stats.flushes.saturating_add(1);
                }
                Ok(())
            }
            Err(e) => {
                // The entry's commits are only in memory now, and a later
                // entry past the hole would never be replayed: write no
                // more until a checkpoint holds them.
                s.failed = true;
                Err(e)
            }
        }
    }

    /// A checkpoint starts (no commit runs: the store holds its gate):
    /// holds writers off and returns the cursor its superblock records.
    /// The open entry's commits are in the tree the checkpoint writes, so
    /// it is not written; replay starts after it.
    pub fn begin_checkpoint(&self) -> JournalCursor {
        self.lock_writer();
        self.checkpoint_cursor()
    }

    /// The cursor of a checkpoint of the whole tree: past the open entry,
    /// which it does not write.
    pub fn checkpoint_cursor(&self) -> JournalCursor {
        let s = self.state.lock();
        JournalCursor {
            seq: s.seq.saturating_add(1),
            block: s.head,
        }
    }

    /// The checkpoint begun with [`Self::begin_checkpoint`] is durable
    /// (`Some(cursor)`) or failed (`None`): in the first case the ring is
    /// empty from `cursor` on and every commit so far is durable.
    pub fn end_checkpoint(&self, done: Option<JournalCursor>) {
        if let Some(cursor) = done {
            let mut s = self.state.lock();
            s.seq = cursor.seq;
            s.head = cursor.block;
            s.used = 0;
            s.payload = 0;
            s.records = 0;
            s.written_seq = cursor.seq.saturating_sub(1);
            s.durable_seq = cursor.seq.saturating_sub(1);
            s.failed = false;
            s.places.clear();
        }
        self.unlock_writer();
    }

    /// A reclaim starts (no commit runs: the store holds its gate): holds
    /// writers off and returns the sequence number from which entries may
    /// stay in the ring: a leaf changed only by commits at or after it may
    /// stay dirty. The newest entries, with the open one once written,
    /// take at most a quarter of the ring, so that the next entry fits
    /// afterwards. `None`: no entry may stay (a failed journal, or an open
    /// entry too large): the whole tree is written, and
    /// [`Self::end_reclaim`] gets the cursor [`Self::checkpoint_cursor`]
    /// gives.
    pub fn begin_reclaim(&self) -> Option<u64> {
        self.lock_writer();
        let s = self.state.lock();
        if s.failed {
            return None;
        }
        let budget = self.ring.blocks / 4;
        let open = if s.records == 0 {
            0
        } else {
            let blocks = entry_blocks(s.payload, self.ring.block_size) as u64;
            let (_, skipped) = self.ring.place(s.head, blocks);
            blocks.saturating_add(skipped)
        };
        let mut keep_from = None;
        // The open entry is recorded when written if there is room.
        if open <= budget && (s.records == 0 || s.places.len() < s.places.capacity()) {
            keep_from = Some(s.seq);
        }
        if open <= budget {
            for place in s.places.iter().rev() {
                let kept = s
                    .used
                    .saturating_sub(place.from_cursor)
                    .saturating_add(open);
                if kept > budget {
                    break;
                }
                keep_from = Some(place.seq);
            }
        }
        keep_from
    }

    /// Writes the open entry, if it holds anything, during a reclaim (the
    /// writer lock held): a leaf left dirty may hold its commits. Not
    /// durable until the device is flushed.
    pub fn write_open_for_reclaim(&self, dev: &dyn Device) -> Result<(), JournalError> {
        self.write_open_locked(dev, false)
    }

    /// The cursor of a reclaim that leaves commits from `seq` on only in
    /// the journal: the newest written entry it remembers at or before
    /// `seq`. After [`Self::begin_reclaim`] returned a number at or
    /// below `seq`, and the open entry was written, there is one.
    pub fn reclaim_cursor(&self, seq: u64) -> Option<JournalCursor> {
        let s = self.state.lock();
        s.places
            .iter()
            .rev()
            .find(|p| p.seq <= seq)
            .map(|p| JournalCursor {
                seq: p.seq,
                block: p.block,
            })
    }

    /// The reclaim begun with [`Self::begin_reclaim`] is durable, with
    /// its superblock's cursor at `cursor` (`Some`), or failed (`None`).
    /// In the first case the ring before the cursor is free, and every
    /// commit so far is durable (the reclaim flushed what it wrote).
    pub fn end_reclaim(&self, done: Option<JournalCursor>) {
        if let Some(cursor) = done {
            let mut s = self.state.lock();
            if cursor.seq >= s.seq {
                // Nothing stays: the same as a whole checkpoint.
                drop(s);
                self.end_checkpoint(Some(cursor));
                return;
            }
            let first = s.places.iter().position(|p| p.seq == cursor.seq);
            if let Some(first) = first {
                let freed = s.places.get(first).map_or(0, |p| p.from_cursor);
                let kept = s.places.len() - first;
                s.places.copy_within(first.., 0);
                s.places.truncate(kept);
                for place in s.places.iter_mut() {
                    place.from_cursor = place.from_cursor.saturating_sub(freed);
                }
                s.used = s.used.saturating_sub(freed);
            }
            s.durable_seq = s.written_seq;
        }
        self.unlock_writer();
    }
}
