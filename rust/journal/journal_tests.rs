// SPDX-License-Identifier: GPL-2.0

//! Tests of journal entries and the ring: entries round-trip and any
//! flipped byte refuses them; the chain read back is exactly what was
//! written, across the ring's end; it stops at a torn, stale or foreign
//! entry; a full ring refuses more. Run by `cargo test` and as the KUnit
//! suite `sixfs_journal`.

use super::{read_chain, ChainEnd, Journal, JournalError, Ring};
use crate::bkey::{Key, KeyError, Pos, TestVal, Value};
use crate::device::memory::MemoryDevice;
use crate::device::Device;
use crate::format::journal::{decode, encode_record, record_bytes, seal, EntryError, HEADER_BYTES};
use crate::format::superblock::JournalCursor;
use crate::platform::rng::Rng;
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, ok, test_suite, TestFailed};

const UUID: [u8; 16] = [5; 16];
const BLOCK: usize = 512;

fn key(k: u64, v: u64) -> Key {
    Key::new(Pos::new(2, k, 0), Value::Test(TestVal::from_u64(v)))
}

/// A ring of `blocks` 512-byte blocks at byte 4096 of `dev`.
fn ring(blocks: u64) -> Ring {
    Ring {
        offset: 4096,
        blocks,
        block_size: BLOCK,
        uuid: UUID,
    }
}

/// Adds one commit of `keys` (btree 1) to the journal.
fn add(j: &Journal, keys: &[Key]) -> Result<u64, JournalError> {
    let bytes = keys.iter().map(record_bytes).sum();
    let seq = j.add(bytes, |buf| {
        let mut at = 0;
        for k in keys {
            at += encode_record(1, k, buf.get_mut(at..).unwrap_or(&mut []))?;
        }
        Ok::<u32, KeyError>(keys.len() as u32)
    })?;
    Ok(seq.unwrap_or(0))
}

/// A device, a ring of 64 blocks on it, and a journal started on it at the
/// cursor it will use, as a checkpoint starts one.
fn started() -> Result<(MemoryDevice, Ring, Journal, JournalCursor), TestFailed> {
    let dev = ok!(MemoryDevice::new(64 << 10));
    let r = ring(64);
    let j = ok!(Journal::start(
        r,
        &ChainEnd {
            next_seq: 1,
            ..ChainEnd::default()
        }
    ));
    let cursor = j.begin_checkpoint();
    j.end_checkpoint(Some(cursor));
    Ok((dev, r, j, cursor))
}

/// A commit of 1 to 12 random keys, numbered from `round * 16`.
fn random_commit(rng: &mut Rng, round: u64) -> Result<Vec<Key>, TestFailed> {
    let mut keys = Vec::new();
    for i in 0..1 + rng.below(12) {
        ok!(keys.try_push(key(round * 16 + i, rng.next_u64())));
    }
    Ok(keys)
}

/// Every record of the chain from `cursor`, in order.
fn read_back(
    dev: &MemoryDevice,
    r: &Ring,
    cursor: JournalCursor,
) -> Result<(ChainEnd, Vec<(u64, Key)>), TestFailed> {
    let mut out = Vec::new();
    let end = ok!(read_chain(dev, r, cursor, |e| {
        for rec in e.records() {
            let (btree, k) = rec.map_err(|_| ())?;
            if btree != 1 {
                return Err(());
            }
            out.try_push((e.seq, k.to_key().map_err(|_| ())?))
                .map_err(|_| ())?;
        }
        Ok::<(), ()>(())
    }));
    Ok((end, out))
}

test_suite! {
    sixfs_journal;

    fn an_entry_round_trips_and_any_flipped_byte_refuses_it() {
        let mut buf = Vec::new();
        ok!(buf.try_extend_with(2048, 0u8));
        let keys = [key(1, 10), key(2, 20), Key::deleted(Pos::new(2, 3, 0))];
        let mut at = HEADER_BYTES;
        for k in &keys {
            at += ok!(encode_record(1, k, &mut buf[at..]));
        }
        let payload = at - HEADER_BYTES;
        let len = ok!(seal(&mut buf, 42, &UUID, payload, 3, BLOCK));
        check_eq!(len, BLOCK);
        let e = ok!(decode(&buf, &UUID, 42, BLOCK));
        check_eq!(e.records, 3);
        let mut n = 0;
        for (rec, want) in e.records().zip(keys.iter()) {
            let (btree, k) = ok!(rec);
            check_eq!(btree, 1);
            check_eq!(ok!(k.to_key()), *want);
            n += 1;
        }
        check_eq!(n, 3);
        check_eq!(decode(&buf, &UUID, 43, BLOCK).err(), Some(EntryError::WrongSeq { found: 42 }));
        check_eq!(decode(&buf, &[6; 16], 42, BLOCK).err(), Some(EntryError::WrongFilesystem));
        for i in 0..HEADER_BYTES + payload {
            buf[i] ^= 0x10;
            check!(decode(&buf, &UUID, 42, BLOCK).is_err());
            buf[i] ^= 0x10;
        }
        // Bytes past the payload are not the entry's: they do not count.
        buf[HEADER_BYTES + payload] ^= 1;
        check!(decode(&buf, &UUID, 42, BLOCK).is_ok());
    }

    fn the_chain_read_back_is_what_was_written_across_the_ring_end() {
        let (dev, r, j, mut cursor) = started()?;
        let mut rng = Rng::new(7);
        let mut written: Vec<(u64, Key)> = Vec::new();
        let mut wraps = 0;
        let mut last_head = 0;
        for round in 0..400u64 {
            let keys = random_commit(&mut rng, round)?;
            let seq = match add(&j, &keys) {
                Ok(seq) => seq,
                Err(JournalError::EntryFull) => {
                    ok!(j.write_open(&dev, false));
                    ok!(add(&j, &keys))
                }
                Err(JournalError::RingFull) => {
                    // What a checkpoint does: the chain so far must read
                    // back whole first, then the ring starts over.
                    ok!(j.write_open(&dev, false).or_else(|e| match e {
                        JournalError::RingFull => Ok(()),
                        e => Err(e),
                    }));
                    let (_, got) = read_back(&dev, &r, cursor)?;
                    check!(got.len() <= written.len());
                    check!(got.iter().zip(written.iter()).all(|(a, b)| a.1 == b.1));
                    cursor = j.begin_checkpoint();
                    j.end_checkpoint(Some(cursor));
                    written.clear();
                    ok!(add(&j, &keys))
                }
                Err(e) => {
                    check_eq!(Some(e), None);
                    return Err(TestFailed);
                }
            };
            for k in keys.iter() {
                ok!(written.try_push((seq, *k)));
            }
            if rng.below(3) == 0 {
                ok!(j.write_open(&dev, rng.below(2) == 0));
                let head = j.state.lock().head;
                if head < last_head {
                    wraps += 1;
                }
                last_head = head;
            }
        }
        ok!(j.write_open(&dev, true));
        let (end, got) = read_back(&dev, &r, cursor)?;
        check_eq!(got.len(), written.len());
        check!(got.iter().zip(written.iter()).all(|(a, b)| a == b));
        check_eq!(end.used, j.stats().used_blocks);
        check!(wraps > 2);
    }

    fn reclaims_keep_the_newest_entries_across_the_ring_end() {
        let (dev, r, j, mut cursor) = started()?;
        let mut rng = Rng::new(11);
        let mut written: Vec<(u64, Key)> = Vec::new();
        let (mut reclaims, mut kept_some) = (0, 0);
        for round in 0..600u64 {
            let keys = random_commit(&mut rng, round)?;
            let full = match add(&j, &keys) {
                Ok(seq) => {
                    for k in keys.iter() {
                        ok!(written.try_push((seq, *k)));
                    }
                    false
                }
                Err(JournalError::EntryFull) => {
                    ok!(j.write_open(&dev, false));
                    continue;
                }
                Err(JournalError::RingFull) => true,
                Err(e) => {
                    check_eq!(Some(e), None);
                    return Err(TestFailed);
                }
            };
            if !full && rng.below(8) != 0 {
                if rng.below(3) == 0 {
                    ok!(j.write_open(&dev, false));
                }
                continue;
            }
            // A reclaim: some leaf pins an entry at or after the first one
            // that may stay, or none does.
            reclaims += 1;
            let last = written.last().map_or(0, |w| w.0);
            let done = match j.begin_reclaim() {
                Some(from) if from <= last && rng.below(4) != 0 => {
                    let pin = from + rng.below(last - from + 1);
                    ok!(j.write_open_for_reclaim(&dev));
                    kept_some += 1;
                    j.reclaim_cursor(pin)
                }
                _ => Some(j.checkpoint_cursor()),
            };
            check!(done.is_some());
            let done = done.unwrap_or(cursor);
            j.end_reclaim(Some(done));
            cursor = done;
            let stats = j.stats();
            check!(stats.used_blocks <= r.blocks / 4);
            let first_kept = written.iter().position(|w| w.0 >= cursor.seq);
            let kept = first_kept.unwrap_or(written.len());
            let rest = written.len() - kept;
            written.copy_within(kept.., 0);
            written.truncate(rest);
            // What the ring holds from the cursor is exactly what stayed.
            let (end, got) = read_back(&dev, &r, cursor)?;
            check_eq!(got.len(), written.len());
            check!(got.iter().zip(written.iter()).all(|(a, b)| a == b));
            check_eq!(end.used, stats.used_blocks);
        }
        check!(reclaims > 20 && kept_some > 10);
    }

    fn the_chain_stops_at_a_torn_or_stale_entry() {
        let dev = ok!(MemoryDevice::new(64 << 10));
        let r = ring(64);
        let j = ok!(Journal::start(r, &ChainEnd { next_seq: 1, ..ChainEnd::default() }));
        let cursor = j.begin_checkpoint();
        j.end_checkpoint(Some(cursor));
        for i in 0..6 {
            ok!(add(&j, &[key(i, i)]));
            ok!(j.write_open(&dev, false));
        }
        let (end, got) = read_back(&dev, &r, cursor)?;
        check_eq!((end.entries, got.len()), (6, 6));
        // Tear the fourth entry (one block each): the chain ends before it.
        let fourth = r.offset + 3 * BLOCK as u64;
        let mut block = [0u8; BLOCK];
        ok!(dev.read(fourth, &mut block));
        block[100] ^= 0xff;
        ok!(dev.write(fourth, &block));
        let (end, got) = read_back(&dev, &r, cursor)?;
        check_eq!((end.entries, got.len()), (3, 3));
        check_eq!(end.stop, Some(EntryError::BadChecksum));
        // A cursor naming a sequence number no entry has: nothing.
        let stale = JournalCursor { seq: cursor.seq + 100, block: cursor.block };
        let (end, _) = read_back(&dev, &r, stale)?;
        check_eq!(end.entries, 0);
    }

    fn entries_left_past_a_torn_one_are_never_taken_for_new_ones() {
        // Entries 1..=5, a block each; 3 is torn, so the chain ends at 2,
        // but 4 and 5 are still in the ring.
        let dev = ok!(MemoryDevice::new(64 << 10));
        let r = ring(64);
        let j = ok!(Journal::start(r, &ChainEnd { next_seq: 1, ..ChainEnd::default() }));
        let cursor = j.begin_checkpoint();
        j.end_checkpoint(Some(cursor));
        for i in 0..5 {
            ok!(add(&j, &[key(i, i)]));
            ok!(j.write_open(&dev, false));
        }
        let third = r.offset + 2 * BLOCK as u64;
        ok!(dev.write(third, &[0u8; BLOCK]));
        let (end, _) = read_back(&dev, &r, cursor)?;
        check_eq!(end.entries, 2);
        // The next run starts after the chain; its first entry takes two
        // blocks, ending where the stale entry 5 starts.
        let j = ok!(Journal::start(r, &end));
        let cursor = j.begin_checkpoint();
        j.end_checkpoint(Some(cursor));
        let mut keys = Vec::new();
        for i in 0..10 {
            ok!(keys.try_push(key(100 + i, i)));
        }
        ok!(add(&j, &keys));
        ok!(j.write_open(&dev, true));
        check_eq!(j.stats().used_blocks, 2);
        let (end, got) = read_back(&dev, &r, cursor)?;
        check_eq!((end.entries, got.len()), (1, 10));
    }

    fn a_full_ring_refuses_and_a_failed_write_stops_the_journal() {
        let dev = ok!(MemoryDevice::new(64 << 10));
        let r = ring(16);
        let j = ok!(Journal::start(r, &ChainEnd { next_seq: 1, ..ChainEnd::default() }));
        let mut full = false;
        for i in 0..64 {
            match add(&j, &[key(i, i)]) {
                Ok(_) => ok!(j.write_open(&dev, false)),
                Err(JournalError::RingFull) => {
                    full = true;
                    break;
                }
                Err(e) => {
                    check_eq!(Some(e), None);
                    return Err(TestFailed);
                }
            }
        }
        check!(full);
        check_eq!(j.stats().used_blocks, 16);
        let cursor = j.begin_checkpoint();
        j.end_checkpoint(Some(cursor));
        check_eq!(j.stats().used_blocks, 0);
        ok!(add(&j, &[key(1, 1)]));
        dev.set_faults(crate::device::memory::Faults {
            writes_until_failure: Some(0),
            ..Default::default()
        });
        check!(matches!(j.write_open(&dev, true), Err(JournalError::Device(_))));
        check_eq!(add(&j, &[key(2, 2)]).err(), Some(JournalError::Failed));
        check!(j.wants_checkpoint());
    }
}
