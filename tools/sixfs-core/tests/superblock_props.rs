// SPDX-License-Identifier: GPL-2.0

//! Property tests and a mutation fuzzer of the superblock parser.
//!
//! - Round trip: every valid superblock encodes, and decodes to itself.
//! - Every single-bit flip of a valid superblock is refused (or decodes to
//!   an equal superblock: none does, since crc32c catches every 1-bit
//!   error, but the property is what a reader needs).
//! - A mutation fuzzer runs for a bounded time (`SIXFS_FUZZ_SECS`, 3 s by
//!   default): valid images mutated (bits, bytes, interesting values at
//!   field offsets, truncation), with the checksum fixed up half the time
//!   so the checks behind it are reached. Decoding must not panic, and an
//!   accepted image must be canonical: re-encoding gives the same bytes.
//!   A crasher is saved under `tests/regressions/superblock/` and replayed
//!   by `regressions_still_pass` from then on.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use sixfs_core::device::memory::MemoryDevice;
use sixfs_core::device::Device;
use sixfs_core::format::btree_root::{BtreeRoot, MAX_BTREE_LEVELS};
use sixfs_core::format::features::Features;
use sixfs_core::format::geometry::{Geometry, MIN_DATA_BUCKETS, PRIMARY_END};
use sixfs_core::format::label::Label;
use sixfs_core::format::superblock::{JournalCursor, JournalLocation, Superblock, SUPERBLOCK_SIZE};
use sixfs_core::format::superblock_io::{backup_candidates, read_superblocks};
use sixfs_core::platform::crc32c::crc32c;
use sixfs_core::platform::rng::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Offsets of the fields, for the fuzzer's targeted mutations.
const FIELD_OFFSETS: [usize; 17] = [
    0x00, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40, 0x48, 0x58, 0x98, 0xa0,
    0x100, 0x108,
];

fn geometry() -> impl Strategy<Value = Geometry> {
    (9u32..=16)
        .prop_flat_map(|block| (Just(block), block.max(9)..=20))
        .prop_flat_map(|(block, node)| (Just(block), Just(node), node.max(12)..=26))
        .prop_flat_map(|(block, node, bucket)| {
            let front = PRIMARY_END.div_ceil(1 << bucket);
            let min = front + MIN_DATA_BUCKETS + 1;
            (Just(block), Just(node), Just(bucket), min..min + 5000)
        })
        .prop_map(|(block, node, bucket, buckets)| Geometry {
            block_size: 1 << block,
            bucket_size: 1 << bucket,
            node_size: 1 << node,
            block_count: (buckets << bucket) >> block,
        })
}

fn label() -> impl Strategy<Value = Label> {
    proptest::collection::vec(any::<char>(), 0..24).prop_map(|chars| {
        let mut text: String = chars.into_iter().filter(|&c| c != '\0').collect();
        while text.len() > 64 {
            text.pop();
        }
        Label::new(&text).unwrap()
    })
}

/// A valid superblock: geometry first, then fields that fit it.
fn superblock() -> impl Strategy<Value = Superblock> {
    geometry().prop_flat_map(|g| {
        let data = g.data_buckets();
        let nodes_per_bucket = u64::from(g.bucket_size / g.node_size);
        let nodes = (data.end - data.start) * nodes_per_bucket;
        let root = prop_oneof![
            Just(BtreeRoot::Empty),
            (0..nodes, 0..MAX_BTREE_LEVELS).prop_map(move |(node, level)| BtreeRoot::Node {
                sector: (data.start * u64::from(g.bucket_size) + node * u64::from(g.node_size))
                    / 512,
                level,
            }),
        ];
        // The space map where mkfs puts it; the journal after it.
        let space_map = Superblock::new(g, [0; 16], Label::new("").unwrap()).space_map;
        let after = space_map.buckets().end..data.end;
        let journal = prop_oneof![
            Just(JournalLocation::default()),
            (after, 1u64..=8).prop_map(move |(first, count)| JournalLocation {
                first_bucket: first,
                bucket_count: count.min(data.end - first),
            }),
        ];
        (
            Just(g),
            any::<u64>(),
            (any::<u64>(), any::<u64>()),
            any::<bool>(),
            any::<[u8; 16]>(),
            label(),
            (journal, any::<u64>(), 1u64..=u64::MAX),
            proptest::array::uniform16(root),
        )
            .prop_map(
                move |(
                    geometry,
                    seq,
                    (compat, ro_compat),
                    clean,
                    uuid,
                    label,
                    (journal, at, cursor_seq),
                    roots,
                )| {
                    // A cursor inside the ring (none without a journal).
                    let (_, ring_blocks) = journal.ring(&geometry);
                    let journal_cursor = if ring_blocks == 0 {
                        JournalCursor::default()
                    } else {
                        JournalCursor {
                            seq: cursor_seq,
                            block: at % ring_blocks,
                        }
                    };
                    Superblock {
                        geometry,
                        seq,
                        features: Features {
                            compat,
                            ro_compat,
                            incompat: 0,
                        },
                        clean,
                        uuid,
                        label,
                        journal,
                        journal_cursor,
                        space_map,
                        roots,
                    }
                },
            )
    })
}

fn encode(sb: &Superblock) -> Vec<u8> {
    let mut buf = vec![0u8; SUPERBLOCK_SIZE];
    sb.encode(&mut buf).expect("a valid superblock encodes");
    buf
}

proptest! {
    #[test]
    fn every_valid_superblock_round_trips(sb in superblock()) {
        let buf = encode(&sb);
        prop_assert_eq!(Superblock::decode(&buf), Ok(sb));
        // Longer buffers: only the first 4 KiB count.
        let mut longer = buf.clone();
        longer.extend_from_slice(&[0xff; 512]);
        prop_assert_eq!(Superblock::decode(&longer), Ok(sb));
    }
}

/// Two fixed superblocks (the same every run) with roots, journal and
/// features set.
fn samples() -> Vec<Superblock> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = superblock();
    (0..2)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

#[test]
fn every_single_bit_flip_is_refused_or_harmless() {
    for sb in samples() {
        let mut buf = encode(&sb);
        for bit in 0..SUPERBLOCK_SIZE * 8 {
            buf[bit / 8] ^= 1 << (bit % 8);
            if let Ok(decoded) = Superblock::decode(&buf) {
                assert_eq!(
                    decoded, sb,
                    "bit {bit} flipped decodes to another superblock"
                );
            }
            buf[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

fn regressions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/regressions/superblock")
}

/// Decodes `input`; panics (with the input saved) if decoding panics or
/// accepts a non-canonical image.
fn check_input(input: &[u8]) -> Result<(), String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let Ok(sb) = Superblock::decode(input) else {
            return Ok(());
        };
        let again = encode(&sb);
        if Superblock::decode(&again) != Ok(sb) {
            return Err("re-encoded superblock decodes differently".to_string());
        }
        // With unknown read-only-compat features, reserved bytes may hold
        // their data and are not re-encoded; otherwise the image is exactly
        // what encode writes.
        if sb.features.unknown_ro_compat() == 0 && again[..] != input[..SUPERBLOCK_SIZE] {
            return Err("accepted an image that is not canonical".to_string());
        }
        Ok(())
    }));
    match outcome {
        Ok(result) => result,
        Err(_) => Err("decode panicked".to_string()),
    }
}

fn fix_checksum(buf: &mut [u8]) {
    if buf.len() >= SUPERBLOCK_SIZE {
        let csum = crc32c(&buf[..SUPERBLOCK_SIZE - 4]);
        buf[SUPERBLOCK_SIZE - 4..SUPERBLOCK_SIZE].copy_from_slice(&csum.to_le_bytes());
    }
}

const INTERESTING: [u64; 12] = [
    0,
    1,
    2,
    511,
    512,
    4096,
    1 << 20,
    1 << 26,
    1 << 27,
    u32::MAX as u64,
    u64::MAX / 512,
    u64::MAX,
];

fn mutate(rng: &mut Rng, buf: &mut Vec<u8>) {
    let steps = 1 + rng.below(4);
    for _ in 0..steps {
        let len = buf.len().max(1) as u64;
        match rng.below(6) {
            0 | 1 => {
                let bit = rng.below(len * 8) as usize;
                if let Some(b) = buf.get_mut(bit / 8) {
                    *b ^= 1 << (bit % 8);
                }
            }
            2 => {
                let at = rng.below(len) as usize;
                if let Some(b) = buf.get_mut(at) {
                    *b = rng.next_u64() as u8;
                }
            }
            3 | 4 => {
                // An interesting value at a field, 1, 4 or 8 bytes wide.
                let at = FIELD_OFFSETS[rng.below(FIELD_OFFSETS.len() as u64) as usize]
                    + if rng.below(4) == 0 {
                        16 * rng.below(16) as usize
                    } else {
                        0
                    };
                let value = INTERESTING[rng.below(INTERESTING.len() as u64) as usize]
                    .wrapping_add(rng.below(3))
                    .wrapping_sub(1);
                let width = [1, 4, 8][rng.below(3) as usize];
                if let Some(dst) = buf.get_mut(at..at + width) {
                    dst.copy_from_slice(&value.to_le_bytes()[..width]);
                }
            }
            _ => {
                if rng.below(8) == 0 {
                    buf.truncate(rng.below(len) as usize);
                }
            }
        }
    }
    if rng.below(2) == 0 {
        fix_checksum(buf);
    }
}

#[test]
fn mutation_fuzzer_finds_no_crash() {
    let secs = std::env::var("SIXFS_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let seeds: Vec<Vec<u8>> = samples().iter().map(encode).collect();
    let seed = std::env::var("SIXFS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let mut rng = Rng::new(seed);
    let (mut runs, mut accepted) = (0u64, 0u64);
    while Instant::now() < deadline {
        for _ in 0..256 {
            let mut input = seeds[rng.below(seeds.len() as u64) as usize].clone();
            mutate(&mut rng, &mut input);
            if let Err(why) = check_input(&input) {
                let dir = regressions_dir();
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!("{:08x}.bin", crc32c(&input)));
                std::fs::write(&path, &input).unwrap();
                panic!("{why}: input saved as {} (seed {seed})", path.display());
            }
            runs += 1;
            accepted += u64::from(Superblock::decode(&input).is_ok());
        }
    }
    println!("superblock fuzzer: {runs} inputs in {secs} s (seed {seed}), {accepted} accepted");
    assert!(runs > 1000, "the fuzzer ran only {runs} inputs");
    assert!(
        accepted > 0,
        "no mutation got through: the fuzzer only tests the checksum"
    );
}

/// Mutated copies at the primary's place and at a place a backup may be, on
/// a small device whose size the seeds do not fit: reading them (and
/// searching for the backup) must not panic, and whatever is accepted fits
/// the device.
#[test]
fn mutated_copies_on_a_device_are_read_without_panic() {
    const DEVICE_BYTES: u64 = 11 << 20;
    let dev = MemoryDevice::new(DEVICE_BYTES).unwrap();
    let candidates: Vec<u64> = backup_candidates(DEVICE_BYTES).collect();
    // Seeds whose geometry fits this device, so that some mutations pass.
    let geometry = Geometry::for_device(DEVICE_BYTES, Default::default()).unwrap();
    let mut seeds: Vec<Vec<u8>> = samples().iter().map(encode).collect();
    seeds.push(encode(&Superblock::new(geometry, [9; 16], Label::EMPTY)));
    let mut rng = Rng::new(1);
    let mut found = 0;
    for _ in 0..2000 {
        let mut primary = seeds[rng.below(seeds.len() as u64) as usize].clone();
        let mut backup = primary.clone();
        mutate(&mut rng, &mut primary);
        if rng.below(2) == 0 {
            mutate(&mut rng, &mut backup);
        }
        primary.resize(SUPERBLOCK_SIZE, 0);
        backup.resize(SUPERBLOCK_SIZE, 0);
        let at = candidates[rng.below(candidates.len() as u64) as usize];
        dev.write(4096, &primary).unwrap();
        dev.write(at, &backup).unwrap();
        let copies = read_superblocks(&dev);
        if let Some((_, sb)) = copies.newest() {
            assert!(sb.geometry.bytes() <= DEVICE_BYTES);
            found += 1;
        }
        dev.write(at, &[0; SUPERBLOCK_SIZE]).unwrap();
    }
    assert!(found > 0, "no mutated device was readable");
}

#[test]
fn regressions_still_pass() {
    let Ok(entries) = std::fs::read_dir(regressions_dir()) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let input = std::fs::read(&path).unwrap();
            if let Err(why) = check_input(&input) {
                panic!("{}: {why}", path.display());
            }
        }
    }
}
