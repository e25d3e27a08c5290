// SPDX-License-Identifier: GPL-2.0

//! The journal as fsck and dump read it: the chain of entries from the
//! superblock's cursor (`read_chain`, as mount reads it), every record
//! checked as replay would, and why the chain ended: a torn, stale or
//! never-written entry (normal), or an entry whose checksum is right but
//! whose contents are not (corruption, which mount would silently stop
//! at or refuse).

use sixfs_core::bkey::{KeyRef, Value};
use sixfs_core::btree::BTREE_ID_NR;
use sixfs_core::device::{Device, DeviceError};
use sixfs_core::format::journal::{self as entry, Entry, EntryError};
use sixfs_core::format::superblock::{JournalCursor, Superblock};
use sixfs_core::journal::{read_chain, ChainEnd, ReadError, Ring};
use std::convert::Infallible;

/// The ring and the cursor `sb` records; `None` without a journal.
pub fn ring_of(sb: &Superblock) -> Option<(Ring, JournalCursor)> {
    if sb.journal.bucket_count == 0 {
        return None;
    }
    let (offset, blocks) = sb.journal.ring(&sb.geometry);
    let ring = Ring {
        offset,
        blocks,
        block_size: sb.geometry.block_size as usize,
        uuid: sb.uuid,
    };
    Some((ring, sb.journal_cursor))
}

/// What replay would refuse in a record that decoded as a key: it names
/// a btree that does not exist, or is a node pointer (the journal holds
/// the updates of commits; pointers are the checkpoint's business).
pub fn record_problem(btree: u8, key: &KeyRef<'_>) -> Option<String> {
    if usize::from(btree) >= BTREE_ID_NR {
        return Some(format!(
            "an update of btree {btree}, which does not exist (ids are 0 to {})",
            BTREE_ID_NR - 1
        ));
    }
    match key.value() {
        Ok(Value::BtreePtr(_)) => Some(format!(
            "a btree node pointer at {} among the updates",
            key.pos()
        )),
        Ok(_) => None,
        Err(e) => Some(format!(
            "a key at {} whose value cannot be read ({e:?})",
            key.pos()
        )),
    }
}

/// A record replay would refuse, in an entry that was read whole.
pub struct BadRecord {
    /// The entry's sequence number and first block.
    pub seq: u64,
    pub block: u64,
    /// Which record of the entry, from 0.
    pub index: u32,
    pub why: String,
}

/// Why the chain ended where it did.
pub enum Stop {
    /// Every block of the ring is taken by the chain.
    RingFull,
    /// The chain reached sequence number `u64::MAX`, which no entry may
    /// have (nothing could follow it): a cursor numbered near it is wrong.
    OutOfNumbers,
    /// The next entry is not there, whole: torn, stale or never written.
    /// Normal: an entry that was not written whole was never acknowledged.
    Torn { block: u64, why: EntryError },
    /// The next entry is there, its checksum right, but what it holds is
    /// not valid: corruption, or a bug in whatever wrote it. Mount stops
    /// before it, so its updates and every later entry's are lost:
    /// `later` entries follow it in a chain of their own.
    Corrupt {
        block: u64,
        why: EntryError,
        later: u64,
    },
}

/// The chain as read, and why it ended.
pub struct Chain {
    pub end: ChainEnd,
    pub records: u64,
    pub bad_records: Vec<BadRecord>,
    pub stop: Stop,
}

/// Reads the chain of `ring` from `cursor`, giving each entry and its
/// first block to `each`, and checks every record as replay would.
pub fn read(
    dev: &dyn Device,
    ring: &Ring,
    cursor: JournalCursor,
    mut each: impl FnMut(&Entry<'_>, u64),
) -> Result<Chain, String> {
    let mut records = 0u64;
    let mut bad_records = Vec::new();
    let mut head = cursor.block;
    let end = read_chain(dev, ring, cursor, |e| {
        // Where read_chain found it: after the last entry when it fits
        // before the ring's end, else at block 0 (sequence numbers are
        // never reused, so nothing else can match there).
        let blocks = u64::from(e.blocks);
        let block = if head.saturating_add(blocks) <= ring.blocks {
            head
        } else {
            0
        };
        head = block.saturating_add(blocks) % ring.blocks.max(1);
        each(e, block);
        for (index, record) in (0u32..).zip(e.records()) {
            records += 1;
            // decode checked that every record is a key.
            let problem = match record {
                Ok((btree, key)) => record_problem(btree, &key),
                Err(e) => Some(format!("not a key ({e:?})")),
            };
            if let Some(why) = problem {
                bad_records.push(BadRecord {
                    seq: e.seq,
                    block,
                    index,
                    why,
                });
            }
        }
        Ok::<(), Infallible>(())
    })
    .map_err(|e| match e {
        ReadError::Device(e) => crate::messages::device(&e),
        ReadError::NoMemory => "out of memory".to_string(),
        ReadError::Apply(never) => match never {},
    })?;
    let stop = why_stopped(dev, ring, &end).map_err(|e| crate::messages::device(&e))?;
    Ok(Chain {
        end,
        records,
        bad_records,
        stop,
    })
}

/// Looks again at the places the next entry could be (after the last, and
/// block 0 when it did not fit before the ring's end): `read_chain` says
/// why the first was not it, but a good checksum over bad contents at
/// either place is corruption, not a torn write.
fn why_stopped(dev: &dyn Device, ring: &Ring, end: &ChainEnd) -> Result<Stop, DeviceError> {
    let Some(first_why) = end.stop else {
        return Ok(if end.used >= ring.blocks {
            Stop::RingFull
        } else {
            Stop::OutOfNumbers
        });
    };
    let wrap = (end.head != 0).then(|| (0, ring.blocks.saturating_sub(end.head)));
    for (block, skipped) in core::iter::once((end.head, 0)).chain(wrap) {
        let used = end.used.saturating_add(skipped);
        if let Err((why, blocks)) = entry_at(dev, ring, block, end.next_seq, used)? {
            if why.under_good_checksum() {
                // What mount will never see: the chain after it.
                let after = JournalCursor {
                    seq: end.next_seq.saturating_add(1),
                    block: block.saturating_add(blocks) % ring.blocks.max(1),
                };
                let later = match read_chain(dev, ring, after, |_| Ok::<(), Infallible>(())) {
                    Ok(chain) => chain.entries,
                    Err(ReadError::Device(e)) => return Err(e),
                    Err(ReadError::NoMemory) => return Err(DeviceError::NoMemory),
                    Err(ReadError::Apply(never)) => match never {},
                };
                return Ok(Stop::Corrupt { block, why, later });
            }
        }
    }
    Ok(Stop::Torn {
        block: end.head,
        why: first_why,
    })
}

/// Decodes the entry `seq` at `block`, `used` blocks of the ring being
/// taken before it (as `read_chain` does): the outer error is the
/// device's, the inner why the blocks are not that entry (and the blocks
/// its header claims).
fn entry_at(
    dev: &dyn Device,
    ring: &Ring,
    block: u64,
    seq: u64,
    used: u64,
) -> Result<Result<(), (EntryError, u64)>, DeviceError> {
    let bs = ring.block_size;
    if block >= ring.blocks {
        return Ok(Err((EntryError::Truncated, 0)));
    }
    let offset_of = |b: u64| ring.offset.saturating_add(b.saturating_mul(bs as u64));
    let mut first = vec![0u8; bs];
    dev.read(offset_of(block), &mut first)?;
    let blocks = match entry::peek(&first, &ring.uuid, seq) {
        Ok(blocks) => u64::from(blocks),
        Err(e) => return Ok(Err((e, 0))),
    };
    let fits = block.saturating_add(blocks) <= ring.blocks
        && used.saturating_add(blocks) <= ring.blocks
        && blocks.saturating_mul(bs as u64) <= ring.max_entry_bytes() as u64;
    if !fits {
        return Ok(Err((EntryError::BadLength, blocks)));
    }
    let mut bytes = vec![0u8; blocks as usize * bs];
    dev.read(offset_of(block), &mut bytes)?;
    Ok(entry::decode(&bytes, &ring.uuid, seq, bs)
        .map(|_| ())
        .map_err(|e| (e, blocks)))
}

/// Why the bytes at the chain's end are not entry `seq`, in words.
pub fn entry_error(e: &EntryError, seq: u64) -> String {
    match *e {
        EntryError::Truncated => "no whole entry fits there".to_string(),
        EntryError::BadMagic => "no entry there (never written, or overwritten)".to_string(),
        EntryError::WrongFilesystem => {
            "an entry of another filesystem (left on the device before mkfs)".to_string()
        }
        EntryError::WrongSeq { found } => {
            format!("entry {found} there, not {seq}: stale, from an earlier pass around the ring")
        }
        EntryError::BadLength => "an entry whose length does not fit it or the ring".to_string(),
        EntryError::BadChecksum => {
            "bad checksum: a torn write (never acknowledged), or a corrupt entry".to_string()
        }
        EntryError::ReservedNotZero => "a reserved byte of its header is not zero".to_string(),
        EntryError::BadRecord { index, error } => {
            format!("record {index} is not a valid key ({error:?})")
        }
        EntryError::WrongRecordCount { header, found } => {
            format!("its header says {header} records, it holds {found}")
        }
    }
}

/// "1 entry", "2 entries".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
