// SPDX-License-Identifier: GPL-2.0

//! Tests of the store's journal: what a sync acknowledged comes back
//! after a power cut by replay; a journal that fills under two threads
//! writing the same keys makes them wait for checkpoints and go on; a
//! failed journal write is saved by a checkpoint and then answered as
//! `errors=` says; `no_recovery` mounts the last checkpoint read-only.
//! Run by `cargo test` and as the KUnit suite `sixfs_store_journal`.

use super::test_util::{small_device, UUID};
use super::{ErrorPolicy, OpenOptions, Store, StoreError};
use crate::bkey::{Key, Pos, TestVal, Value};
use crate::btree::{BtreeError, BtreeId, Iter, IterFlags};
use crate::device::memory::{Faults, MemoryDevice, PowerLoss};
use crate::device::Device;
use crate::platform::sync::{run_parallel, AtomicU64, Ordering};
use crate::platform::{check, check_eq, ok, test_info, test_suite, TestFailed};

const T: BtreeId = BtreeId(0);
const DEVICE: u64 = 4 << 20;

fn formatted(journal_buckets: u64) -> Result<MemoryDevice, TestFailed> {
    small_device(DEVICE, journal_buckets)
}

fn options(errors: ErrorPolicy) -> OpenOptions {
    OpenOptions {
        cache_nodes: 64,
        errors,
        ..OpenOptions::default()
    }
}

fn key(k: u64, v: u64) -> Key {
    Key::new(Pos::new(1, k, 0), Value::Test(TestVal::from_u64(v)))
}

fn put(s: &Store<&MemoryDevice>, k: u64, v: u64) -> Result<(), BtreeError> {
    s.trans().run(|t| {
        t.update(T, key(k, v))?;
        t.commit()
    })
}

/// The value of key `k`, if any.
fn get(s: &Store<&MemoryDevice>, k: u64) -> Result<Option<u64>, TestFailed> {
    let found = ok!(s.trans().run(|t| {
        let mut it = Iter::new(t, T, Pos::new(1, k, 0), IterFlags::default())?;
        Ok(it.next(t)?.copied())
    }));
    Ok(found
        .filter(|f| f.pos == Pos::new(1, k, 0))
        .and_then(|f| match f.value {
            Value::Test(v) => v.as_u64(),
            _ => None,
        }))
}

/// The byte range of the journal's ring on `dev`.
fn ring_bytes(s: &Store<&MemoryDevice>) -> core::ops::Range<u64> {
    let sb = s.superblock();
    let (offset, blocks) = sb.journal.ring(&sb.geometry);
    offset..offset + blocks * u64::from(sb.geometry.block_size)
}

test_suite! {
    sixfs_store_journal;

    fn synced_commits_come_back_by_replay_after_a_power_cut() {
        let dev = formatted(16)?;
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        for k in 0..300 {
            ok!(put(&s, k, k + 1));
        }
        ok!(s.sync());
        let stats = s.stats();
        // A sync is a journal write, not a checkpoint.
        check!(stats.journal.entries > 0 && stats.journal.flushes > 0);
        let checkpoints = stats.checkpoints;
        ok!(put(&s, 1000, 7));
        drop(s);
        dev.power_loss(PowerLoss::DropUnflushed);
        let (s, report) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        check!(!report.was_clean && report.replayed_entries > 0);
        check!(report.replayed_keys > 0);
        for k in 0..300 {
            check_eq!(get(&s, k)?, Some(k + 1));
        }
        // Never synced: lost, as it may be.
        check_eq!(get(&s, 1000)?, None);
        check!(ok!(s.check(|_| {})).is_clean());
        test_info!("replayed {report:?} after {checkpoints} checkpoints");
        // Replay is idempotent: cut the power again right after it (the
        // open's own checkpoint is durable), replay again.
        drop(s);
        dev.power_loss(PowerLoss::DropUnflushed);
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        for k in 0..300 {
            check_eq!(get(&s, k)?, Some(k + 1));
        }
        ok!(s.close());
    }

    fn a_reclaim_leaves_recent_leaves_dirty_and_replay_brings_them_back() {
        let dev = formatted(16)?;
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        // Some fifty leaves, all written; in scattered order, so that they
        // are not full and an update does not split them.
        for i in 0..300 {
            ok!(put(&s, i * 7919 % 300, 1));
        }
        ok!(s.checkpoint(false));
        // The leaf of key 0 pins the oldest of 40 entries, the leaf of key
        // 290 only the newest.
        for v in 2..42 {
            ok!(put(&s, 0, v));
            ok!(s.sync());
        }
        ok!(put(&s, 290, 7));
        ok!(put(&s, 291, 8));
        let before = s.stats();
        check!(before.journal.used_blocks >= 40);
        let cursor = s.superblock().journal_cursor;
        ok!(s.reclaim());
        let after = s.stats();
        test_info!("before {before:?}\nafter {after:?}");
        // The leaf of 290 stays dirty; the open entry holding its commits
        // is written, and is all the ring keeps.
        check_eq!(after.reclaims, before.reclaims + 1);
        check_eq!(after.nodes_kept_dirty, before.nodes_kept_dirty + 1);
        check_eq!(after.journal.used_blocks, 1);
        check!(after.journal.durable_seq > before.journal.durable_seq);
        check!(s.superblock().journal_cursor.seq > cursor.seq);
        // The power fails: replay reads that one entry back.
        dev.power_loss(PowerLoss::DropUnflushed);
        drop(s);
        let (s, report) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        check_eq!(report.replayed_entries, 1);
        check_eq!(report.replayed_keys, 2);
        check_eq!(get(&s, 0)?, Some(41));
        check_eq!(get(&s, 290)?, Some(7));
        check_eq!(get(&s, 291)?, Some(8));
        check_eq!(get(&s, 150)?, Some(1));
        check!(ok!(s.check(|_| {})).is_clean());
    }

    fn a_full_journal_makes_writers_wait_for_a_checkpoint_and_go_on() {
        // Two buckets of journal: a few dozen entries.
        let dev = formatted(2)?;
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        let rounds = if cfg!(sixfs_kernel) { 300 } else { 2000 };
        let last = [AtomicU64::new(0), AtomicU64::new(0)];
        // Both threads write the same 64 keys, each its own values, and
        // sync now and then.
        let failed = AtomicU64::new(0);
        ok!(run_parallel(c"journal_full", 2, &|thread| {
            for i in 0..rounds {
                let v = ((i << 1) | thread as u64) + 1;
                if put(&s, i % 64, v).is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if i % 50 == 0 && s.sync().is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                last[thread].store(v, Ordering::Relaxed);
            }
        }));
        check_eq!(failed.load(Ordering::Relaxed), 0);
        let stats = s.stats();
        check!(stats.checkpoints > 3);
        check!(stats.journal.used_blocks <= stats.journal.ring_blocks);
        // Every key holds one of the two threads' last values for it.
        for k in 0..64 {
            let Some(v) = get(&s, k)? else {
                check!(false);
                continue;
            };
            let writer = (v - 1) & 1;
            let round = (v - 1) >> 1;
            check!(round % 64 == k && round + 64 >= rounds && writer < 2);
        }
        ok!(s.sync());
        test_info!("{rounds} rounds by 2 threads: {:?}", stats.journal);
        drop(s);
        dev.power_loss(PowerLoss::DropUnflushed);
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        check!(ok!(s.check(|_| {})).is_clean());
        for k in 0..64 {
            check!(get(&s, k)?.is_some());
        }
    }

    fn a_failed_journal_write_is_saved_by_a_checkpoint_then_errors_says_what_next() {
        for policy in [ErrorPolicy::Continue, ErrorPolicy::ReadOnly] {
            let dev = formatted(8)?;
            let (s, _) = ok!(Store::open(&dev, options(policy)));
            for k in 0..100 {
                ok!(put(&s, k, 5));
            }
            dev.set_faults(Faults { write: Some(ring_bytes(&s)), ..Faults::default() });
            ok!(put(&s, 100, 5));
            // The journal cannot be written: the sync checkpoints instead.
            ok!(s.sync());
            let after = put(&s, 500, 5);
            match policy {
                ErrorPolicy::ReadOnly => {
                    check_eq!(after, Err(BtreeError::ReadOnly));
                    check!(s.is_read_only());
                    // The checkpoint saved everything: nothing was lost.
                    check_eq!(s.sync(), Ok(()));
                }
                _ => {
                    ok!(after);
                    // Still failing: checkpointed again, synced.
                    ok!(s.sync());
                }
            }
            drop(s);
            dev.power_loss(PowerLoss::DropUnflushed);
            dev.set_faults(Faults::default());
            let (s, _) = ok!(Store::open(&dev, options(policy)));
            for k in 0..=100 {
                check_eq!(get(&s, k)?, Some(5));
            }
            check_eq!(get(&s, 500)?, (policy == ErrorPolicy::Continue).then_some(5));
            check!(ok!(s.check(|_| {})).is_clean());
        }
    }

    fn a_store_stopped_by_errors_says_what_was_lost() {
        let dev = formatted(8)?;
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::ReadOnly)));
        ok!(put(&s, 1, 1));
        ok!(s.sync());
        // The device dies: the journal write and the checkpoint both fail.
        dev.set_faults(Faults { writes_until_failure: Some(0), ..Faults::default() });
        ok!(put(&s, 2, 2));
        check!(s.sync().is_err());
        check!(s.is_read_only());
        // Read-only now, and commit 2 will never be durable: every later
        // sync and the unmount say so.
        check_eq!(s.sync(), Err(StoreError::WritesLost));
        check_eq!(s.write_back(), Err(StoreError::WritesLost));
        check_eq!(s.close(), Err(StoreError::WritesLost));
        drop(s);
        dev.power_loss(PowerLoss::DropUnflushed);
        dev.set_faults(Faults::default());
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::ReadOnly)));
        check_eq!(get(&s, 1)?, Some(1));
        check_eq!(get(&s, 2)?, None);
    }

    fn a_whole_entry_with_a_bad_record_refuses_the_mount() {
        let dev = formatted(8)?;
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        ok!(put(&s, 1, 1));
        ok!(s.sync());
        let cursor = s.superblock().journal_cursor;
        let ring = ring_bytes(&s);
        drop(s);
        // The first entry: its record's btree id made 99, the checksum
        // made right again.
        let at = ring.start + cursor.block * 512;
        let mut block = [0u8; 512];
        ok!(dev.read(at, &mut block));
        let payload = u32::from_le_bytes([block[40], block[41], block[42], block[43]]) as usize;
        block[64] = 99;
        ok!(crate::format::journal::seal(&mut block, cursor.seq, &UUID, payload, 1, 512));
        ok!(dev.write(at, &block));
        let opened = Store::open(&dev, options(ErrorPolicy::Continue));
        check!(matches!(opened, Err(StoreError::BadJournal { .. })));
        check_eq!(opened.err().map(|e| e.errno()), Some(117));
    }

    fn no_recovery_mounts_the_last_checkpoint_read_only() {
        let dev = formatted(8)?;
        let (s, _) = ok!(Store::open(&dev, options(ErrorPolicy::Continue)));
        ok!(put(&s, 1, 1));
        ok!(s.checkpoint(false));
        ok!(put(&s, 2, 2));
        ok!(s.sync());
        drop(s);
        let writes = dev.stats().writes;
        let opts = OpenOptions { no_recovery: true, ..options(ErrorPolicy::Continue) };
        let (s, report) = ok!(Store::open(&dev, opts));
        check!(s.is_read_only() && report.replayed_entries == 0);
        check_eq!(get(&s, 1)?, Some(1));
        check_eq!(get(&s, 2)?, None);
        check_eq!(s.sync(), Ok(()));
        check!(matches!(put(&s, 3, 3), Err(BtreeError::ReadOnly)));
        drop(s);
        check_eq!(dev.stats().writes, writes);
        // A read-only mount without it replays (and writes, as ext4 does).
        let opts = OpenOptions { read_only: true, ..options(ErrorPolicy::Continue) };
        let (s, report) = ok!(Store::open(&dev, opts));
        check!(s.is_read_only() && report.replayed_entries > 0);
        check_eq!(get(&s, 2)?, Some(2));
        check_eq!(s.checkpoint(false), Err(StoreError::ReadOnly));
    }
}
