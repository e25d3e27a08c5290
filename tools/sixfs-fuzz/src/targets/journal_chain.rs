// SPDX-License-Identifier: GPL-2.0

//! `journal::read_chain` over a ring in an in-memory device: what mount
//! does with the journal, on any bytes.
//!
//! Input: a byte choosing the block size (bit 0: 512 or 1024), the
//! cursor's block (u16 at 1, taken modulo the ring's blocks) and sequence
//! number (u64 at 3), zeroes to byte 16, then the ring's image: as many
//! whole blocks as the input has (a short last one zero-filled), at least
//! one, at most [`MAX_RING_BYTES`]. The chain must end (it never takes more
//! than the ring), hand out consecutive sequence numbers from the cursor's,
//! each entry's records valid, and end where its own accounting says.

use super::journal_entry::{fix_entry_checksum, UUID};
use crate::{Outcome, Target};
use sixfs_core::bkey::{Key, KeyError, Pos, TestVal, Value};
use sixfs_core::device::memory::MemoryDevice;
use sixfs_core::device::Device;
use sixfs_core::format::journal::{encode_record, record_bytes, MAGIC};
use sixfs_core::format::superblock::JournalCursor;
use sixfs_core::journal::{read_chain, ChainEnd, Journal, Ring};

pub static TARGET: Target = Target {
    name: "journal_chain",
    seeds,
    check,
    fix_up: Some(fix_checksums),
    // The selector, the cursor, and the first entry's blocks, seq,
    // payload bytes and records.
    fields: &[
        0,
        1,
        3,
        RING_AT + 12,
        RING_AT + 16,
        RING_AT + 40,
        RING_AT + 44,
    ],
    max_input: RING_AT + MAX_RING_BYTES,
};

/// Where the ring's image starts in an input.
const RING_AT: usize = 16;
/// The largest ring: small, as the device is made anew for every input.
const MAX_RING_BYTES: usize = 32 << 10;

fn block_size(selector: u8) -> usize {
    512 << (selector & 1)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The ring, the cursor and the device an input describes.
fn setup(input: &[u8]) -> Result<(Ring, JournalCursor, MemoryDevice), String> {
    let selector = input.first().copied().unwrap_or(0);
    let bs = block_size(selector);
    let image = input.get(RING_AT..).unwrap_or(&[]);
    let blocks = image.len().div_ceil(bs).clamp(1, MAX_RING_BYTES / bs);
    let ring = Ring {
        offset: 0,
        blocks: blocks as u64,
        block_size: bs,
        uuid: UUID,
    };
    let raw_block = u16::from_le_bytes([
        input.get(1).copied().unwrap_or(0),
        input.get(2).copied().unwrap_or(0),
    ]);
    let cursor = JournalCursor {
        block: u64::from(raw_block) % ring.blocks,
        seq: u64_at(input, 3),
    };
    let dev = MemoryDevice::new((blocks * bs) as u64).map_err(|e| format!("test device: {e:?}"))?;
    let mut ring_bytes = image[..image.len().min(blocks * bs)].to_vec();
    ring_bytes.resize(blocks * bs, 0);
    dev.write(0, &ring_bytes)
        .map_err(|e| format!("writing the ring: {e:?}"))?;
    Ok((ring, cursor, dev))
}

/// An input holding the ring of `dev`, read from `cursor`.
fn input_for(selector: u8, cursor: JournalCursor, ring: &Ring, dev: &MemoryDevice) -> Vec<u8> {
    let mut input = vec![selector];
    input.extend_from_slice(&(cursor.block as u16).to_le_bytes());
    input.extend_from_slice(&cursor.seq.to_le_bytes());
    input.resize(RING_AT, 0);
    let mut image = vec![0u8; ring.blocks as usize * ring.block_size];
    dev.read(ring.offset, &mut image)
        .expect("a seed ring reads");
    input.extend_from_slice(&image);
    input
}

/// Adds a commit of `n` keys to the open entry of `j`.
fn add(j: &Journal, first: u64, n: u64) {
    let keys: Vec<Key> = (first..first + n)
        .map(|k| Key::new(Pos::new(1, k, 0), Value::Test(TestVal::from_u64(k))))
        .collect();
    let bytes = keys.iter().map(record_bytes).sum();
    let added = j.add(bytes, |buf| {
        let mut at = 0;
        for k in &keys {
            at += encode_record((first % 4) as u8, k, &mut buf[at..])?;
        }
        Ok::<u32, KeyError>(keys.len() as u32)
    });
    assert!(matches!(added, Ok(Ok(_))), "a seed commit is journaled");
}

/// Rings written by the journal itself: a chain from the cursor, one
/// that wraps past the ring's end, one past a checkpoint that left older
/// entries behind it.
fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (selector, blocks, rounds, checkpoint_at) in [
        (0u8, 16u64, 5u64, None),
        (0, 16, 9, Some(5)),
        (1, 32, 20, Some(12)),
    ] {
        let bs = block_size(selector);
        let ring = Ring {
            offset: 0,
            blocks,
            block_size: bs,
            uuid: UUID,
        };
        let dev = MemoryDevice::new(blocks * bs as u64).expect("a seed device");
        let j = Journal::start(
            ring,
            &ChainEnd {
                next_seq: 1,
                ..ChainEnd::default()
            },
        )
        .expect("a seed journal");
        let mut cursor = j.begin_checkpoint();
        j.end_checkpoint(Some(cursor));
        for round in 0..rounds {
            if Some(round) == checkpoint_at {
                cursor = j.begin_checkpoint();
                j.end_checkpoint(Some(cursor));
            }
            add(&j, round * 10, 1 + round % 6);
            j.write_open(&dev, false).expect("a seed entry is written");
        }
        out.push(input_for(selector, cursor, &ring, &dev));
    }
    out
}

/// Writes the right checksum of every entry whose magic starts a block.
fn fix_checksums(input: &mut [u8]) {
    let bs = block_size(input.first().copied().unwrap_or(0));
    let Some(image) = input.get_mut(RING_AT..) else {
        return;
    };
    let mut at = 0;
    while at < image.len() {
        if image[at..].starts_with(&MAGIC) {
            fix_entry_checksum(&mut image[at..]);
        }
        at += bs;
    }
}

fn check(input: &[u8]) -> Result<Outcome, String> {
    let (ring, cursor, dev) = setup(input)?;
    let mut taken = 0u64;
    let mut blocks = 0u64;
    let mut failure = None;
    let end = read_chain(&dev, &ring, cursor, |e| {
        let expected = cursor.seq.wrapping_add(taken);
        let problem = if e.seq != expected {
            Some(format!("entry {} handed out for {expected}", e.seq))
        } else if e.blocks == 0 {
            Some(format!("entry {} of no blocks", e.seq))
        } else if let Some(Err(err)) = e.records().find(Result::is_err) {
            Some(format!(
                "entry {}: a record refused after decode: {err:?}",
                e.seq
            ))
        } else if e.records().count() != e.records as usize {
            Some(format!("entry {}: records miscounted", e.seq))
        } else {
            None
        };
        taken += 1;
        blocks += u64::from(e.blocks);
        match problem {
            Some(why) => {
                failure = Some(why);
                Err(())
            }
            None => Ok(()),
        }
    });
    if let Some(why) = failure {
        return Err(why);
    }
    let end = end.map_err(|e| format!("read_chain failed on a sound device: {e:?}"))?;
    if end.entries != taken {
        return Err(format!(
            "{} entries counted, {taken} handed out",
            end.entries
        ));
    }
    if end.next_seq != cursor.seq.saturating_add(taken) {
        return Err(format!(
            "next seq {} after {taken} entries from {}",
            end.next_seq, cursor.seq
        ));
    }
    if end.used > ring.blocks || end.used < blocks {
        return Err(format!(
            "{} blocks used by {blocks} blocks of entries in a ring of {}",
            end.used, ring.blocks
        ));
    }
    if end.head >= ring.blocks || (cursor.block + end.used) % ring.blocks != end.head {
        return Err(format!(
            "head {} after {} blocks from block {} of {}",
            end.head, end.used, cursor.block, ring.blocks
        ));
    }
    if end.stop.is_none() != (end.used == ring.blocks || end.next_seq == u64::MAX) {
        return Err(format!(
            "stopped for {:?} with {} of {} blocks used",
            end.stop, end.used, ring.blocks
        ));
    }
    Ok(if taken > 0 {
        Outcome::Accepted
    } else {
        Outcome::Refused
    })
}
