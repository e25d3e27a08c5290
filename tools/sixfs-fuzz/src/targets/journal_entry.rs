// SPDX-License-Identifier: GPL-2.0

//! `format::journal::{peek, decode}` and an entry's records: one journal
//! entry as read from the ring.
//!
//! Input: a byte choosing the block size (bits 0-1: 512 << n) and the
//! sequence number expected (bit 2: the one the entry's own header says,
//! or the next, which must be refused), then the entry. The filesystem's
//! UUID is fixed ([`UUID`]). An accepted entry must agree with `peek`,
//! hold exactly the records its header counts, each a key with an owned
//! form, have the header `seal` writes, and re-encode to an entry that
//! decodes to the same records.

use super::key::sample_keys;
use crate::{Outcome, Target};
use sixfs_core::bkey::Key;
use sixfs_core::format::journal::{self as entry, HEADER_BYTES};
use sixfs_core::platform::crc32c::crc32c;

pub static TARGET: Target = Target {
    name: "journal_entry",
    seeds,
    check,
    fix_up: Some(fix_checksum),
    // The selector; blocks, seq, payload bytes, records, the reserved
    // bytes; the first record's btree id and reserved byte, its key's
    // length, type and value length.
    fields: &[
        0,
        ENTRY_AT + 12,
        ENTRY_AT + 16,
        ENTRY_AT + 40,
        ENTRY_AT + 44,
        ENTRY_AT + 48,
        ENTRY_AT + 64,
        ENTRY_AT + 65,
        ENTRY_AT + 72,
        ENTRY_AT + 74,
        ENTRY_AT + 78,
    ],
    max_input: ENTRY_AT + 4 * 4096 + 64,
};

/// The UUID every entry is checked against.
pub const UUID: [u8; 16] = *b"sixfs fuzz uuid!";
/// Where the entry starts in an input.
const ENTRY_AT: usize = 1;

/// The block size an input's first byte chooses.
fn block_size(selector: u8) -> usize {
    512 << (selector & 3)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// An entry of `records` (btree id, key) numbered `seq`, in blocks of
/// `block_size`.
pub fn encode(records: &[(u8, Key)], seq: u64, block_size: usize) -> Vec<u8> {
    let payload: usize = records.iter().map(|(_, k)| entry::record_bytes(k)).sum();
    let blocks = entry::entry_blocks(payload, block_size);
    let mut buf = vec![0u8; blocks * block_size];
    let mut at = HEADER_BYTES;
    for (btree, key) in records {
        at += entry::encode_record(*btree, key, &mut buf[at..]).expect("a seed record encodes");
    }
    entry::seal(
        &mut buf,
        seq,
        &UUID,
        payload,
        records.len() as u32,
        block_size,
    )
    .expect("a seed entry seals");
    buf
}

fn seeds() -> Vec<Vec<u8>> {
    let keys = sample_keys();
    let records: Vec<(u8, Key)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (i as u8 % 4, *k))
        .collect();
    // Enough records for several 512-byte blocks.
    let many: Vec<(u8, Key)> = (0..40).map(|i| records[i % records.len()]).collect();
    let mut out = Vec::new();
    for selector in [0u8, 3] {
        for (seq, set) in [
            (1u64, &[][..]),
            (42, &records[..1]),
            (7, &records),
            (u64::MAX, &many),
        ] {
            let mut input = vec![selector];
            input.extend_from_slice(&encode(set, seq, block_size(selector)));
            out.push(input);
        }
    }
    out
}

/// Writes the right checksum for the payload length the header claims.
pub fn fix_checksum(input: &mut [u8]) {
    if let Some(bytes) = input.get_mut(ENTRY_AT..) {
        fix_entry_checksum(bytes);
    }
}

/// Writes the right checksum of the entry at the start of `bytes`, for the
/// payload length its header claims (cut at the bytes' end).
pub fn fix_entry_checksum(bytes: &mut [u8]) {
    let Some(payload) = u32_at(bytes, 40) else {
        return;
    };
    let end = HEADER_BYTES
        .saturating_add(payload as usize)
        .min(bytes.len());
    let csum = crc32c(&bytes[12..end]);
    bytes[8..12].copy_from_slice(&csum.to_le_bytes());
}

pub fn check(input: &[u8]) -> Result<Outcome, String> {
    let Some((&selector, bytes)) = input.split_first() else {
        return Ok(Outcome::Refused);
    };
    let bs = block_size(selector);
    let seq = u64_at(bytes, 16)
        .unwrap_or(0)
        .wrapping_add(u64::from((selector >> 2) & 1));
    let peeked = entry::peek(bytes, &UUID, seq);
    let e = match entry::decode(bytes, &UUID, seq, bs) {
        Ok(e) => e,
        Err(why) => {
            // decode checks what peek checks first.
            if let Err(p) = peeked {
                if p != why {
                    return Err(format!("peek says {p:?}, decode {why:?}"));
                }
            }
            return Ok(Outcome::Refused);
        }
    };
    if peeked != Ok(e.blocks) {
        return Err(format!("decoded {} blocks, peek says {peeked:?}", e.blocks));
    }
    if e.seq != seq {
        return Err(format!("decoded entry {} for {seq}", e.seq));
    }
    if (e.blocks as usize).saturating_mul(bs) > bytes.len() {
        return Err(format!(
            "{} blocks accepted from {} bytes",
            e.blocks,
            bytes.len()
        ));
    }
    let mut records = Vec::new();
    for (i, record) in e.records().enumerate() {
        let (btree, key) =
            record.map_err(|err| format!("record {i} refused after decode: {err:?}"))?;
        let owned = key
            .to_key()
            .map_err(|err| format!("record {i}: a key with no owned form: {err:?}"))?;
        records.push((btree, owned));
    }
    if records.len() != e.records as usize {
        return Err(format!(
            "{} records, the header says {}",
            records.len(),
            e.records
        ));
    }
    // The header is exactly what seal writes for that payload.
    let payload = u32_at(bytes, 40).unwrap_or(0) as usize;
    let mut resealed = bytes[..e.blocks as usize * bs].to_vec();
    entry::seal(&mut resealed, seq, &UUID, payload, e.records, bs)
        .map_err(|err| format!("an accepted entry does not seal again: {err:?}"))?;
    if resealed[..HEADER_BYTES] != bytes[..HEADER_BYTES] {
        return Err("accepted a header that seal does not write".into());
    }
    let again = encode(&records, seq, bs);
    let e2 = entry::decode(&again, &UUID, seq, bs)
        .map_err(|err| format!("a re-encoded entry is refused: {err:?}"))?;
    let records2: Vec<(u8, Key)> = e2
        .records()
        .map(|r| r.and_then(|(b, k)| Ok((b, k.to_key()?))))
        .collect::<Result<_, _>>()
        .map_err(|err| format!("a re-encoded record is refused: {err:?}"))?;
    if records2 != records {
        return Err("a re-encoded entry holds other records".into());
    }
    Ok(Outcome::Accepted)
}
