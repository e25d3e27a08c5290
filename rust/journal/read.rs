// SPDX-License-Identifier: GPL-2.0

//! Reading the journal: the chain of entries from the cursor on.

use super::Ring;
use crate::device::{Device, DeviceError};
use crate::format::journal::{self as entry, Entry, EntryError};
use crate::format::superblock::JournalCursor;
use crate::platform::vec::Vec;

/// Where the chain of entries ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainEnd {
    /// Entries read.
    pub entries: u64,
    /// The sequence number the next entry would have had.
    pub next_seq: u64,
    /// The block after the last entry (the cursor's, if none).
    pub head: u64,
    /// Blocks from the cursor to `head`.
    pub used: u64,
    /// Why the entry after the last was not taken (`None` if the ring was
    /// full, or the sequence numbers ran out).
    pub stop: Option<EntryError>,
}

/// Why the journal could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError<E> {
    /// The device failed.
    Device(DeviceError),
    /// No memory for the buffer.
    NoMemory,
    /// What the caller's function returned.
    Apply(E),
}

/// Reads the chain of entries of `ring` from `cursor` and gives each to
/// `apply`, in order. The chain ends at the first place that does not hold
/// the next entry, whole: at its expected block, or at block 0 (where an
/// entry goes that does not fit before the ring's end). A torn or stale
/// entry ends it; that is not an error.
pub fn read_chain<E>(
    dev: &dyn Device,
    ring: &Ring,
    cursor: JournalCursor,
    mut apply: impl FnMut(&Entry<'_>) -> Result<(), E>,
) -> Result<ChainEnd, ReadError<E>> {
    let max = ring.max_entry_bytes();
    let mut buf = Vec::new();
    buf.try_extend_with(max, 0u8)
        .map_err(|_| ReadError::NoMemory)?;
    let mut end = ChainEnd {
        entries: 0,
        next_seq: cursor.seq,
        head: cursor.block,
        used: 0,
        stop: None,
    };
    // No entry is numbered u64::MAX: the number after it does not exist,
    // so a chain taking it would take the next entry numbered u64::MAX
    // too (a stale one) as its successor.
    while end.used < ring.blocks && end.next_seq != u64::MAX {
        // The next entry follows the last, or starts the ring when it did
        // not fit before its end.
        let wrap = (end.head != 0).then(|| (0, ring.blocks.saturating_sub(end.head)));
        let mut next = None;
        let mut stop = None;
        for (block, skipped) in core::iter::once((end.head, 0)).chain(wrap) {
            let used = end.used.saturating_add(skipped);
            let read = read_entry(dev, ring, &mut buf, block, end.next_seq, used)
                .map_err(ReadError::Device)?;
            let decoded = read.and_then(|len| {
                let bytes = buf.get(..len).unwrap_or(&[]);
                entry::decode(bytes, &ring.uuid, end.next_seq, ring.block_size)
            });
            match decoded {
                Ok(entry) => {
                    apply(&entry).map_err(ReadError::Apply)?;
                    next = Some((block, skipped, u64::from(entry.blocks)));
                    break;
                }
                Err(e) => stop = stop.or(Some(e)),
            }
        }
        let Some((block, skipped, blocks)) = next else {
            end.stop = stop;
            break;
        };
        end.entries += 1;
        end.next_seq = end.next_seq.saturating_add(1);
        end.used = end.used.saturating_add(skipped).saturating_add(blocks);
        end.head = block.saturating_add(blocks) % ring.blocks.max(1);
    }
    Ok(end)
}

/// Reads the blocks of the entry `seq` at `block` into `buf` (its first
/// block says how many) and returns their length in bytes; `used` blocks of
/// the ring are taken before it. The outer error is the device's, the inner
/// why the blocks are not that entry.
fn read_entry(
    dev: &dyn Device,
    ring: &Ring,
    buf: &mut [u8],
    block: u64,
    seq: u64,
    used: u64,
) -> Result<Result<usize, EntryError>, DeviceError> {
    let bs = ring.block_size;
    let Some(first) = buf.get_mut(..bs) else {
        return Ok(Err(EntryError::Truncated));
    };
    if block >= ring.blocks {
        return Ok(Err(EntryError::Truncated));
    }
    dev.read(ring.offset_of(block), first)?;
    let blocks = match entry::peek(first, &ring.uuid, seq) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let len = (blocks as usize).saturating_mul(bs);
    let fits = block.saturating_add(u64::from(blocks)) <= ring.blocks
        && used.saturating_add(u64::from(blocks)) <= ring.blocks;
    let Some(rest) = buf.get_mut(bs..len).filter(|_| fits) else {
        return Ok(Err(EntryError::BadLength));
    };
    if !rest.is_empty() {
        dev.read(ring.offset_of(block.saturating_add(1)), rest)?;
    }
    Ok(Ok(len))
}
