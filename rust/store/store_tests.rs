// SPDX-License-Identifier: GPL-2.0

//! Tests of the store on the in-memory device: keys survive close and
//! open, the cache stays bounded, read-only means no writes, a full device
//! gives `NoSpace` and takes writes again after deletions, a power cut at
//! any write of a checkpoint leaves the previous or the new tree whole, and
//! corrupt nodes and device errors come back as errors. Run by `cargo test`
//! and as the KUnit suite `sixfs_store`.

use super::format::{read_space_map, write_space_map};
use super::{format, ErrorPolicy, NodeFault, OpenOptions, Store, StoreError, WalkStep};
use crate::bkey::{Key, Pos, TestVal, Value};
use crate::btree::{BtreeError, BtreeId, Iter, IterFlags};
use crate::device::memory::{Faults, MemoryDevice, PowerLoss};
use crate::device::Device;
use crate::format::geometry::{Geometry, GeometryChoice};
use crate::format::label::Label;
use crate::format::space_map::{Bucket, BucketKind};
use crate::format::superblock::Superblock;
use crate::platform::rng::Rng;
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, ok, test_info, test_suite, TestFailed};

const T: BtreeId = BtreeId(0);

/// A device of `bytes` formatted with 512-byte nodes (deep trees from a
/// few thousand keys) in 4 KiB buckets.
fn formatted(bytes: u64) -> Result<MemoryDevice, TestFailed> {
    formatted_with(bytes, 512, 4096)
}

/// A device of `bytes` formatted with nodes and blocks of `node` bytes in
/// buckets of `bucket`.
fn formatted_with(bytes: u64, node: u32, bucket: u32) -> Result<MemoryDevice, TestFailed> {
    let dev = ok!(MemoryDevice::new(bytes));
    let choice = GeometryChoice {
        block_size: Some(node),
        bucket_size: Some(bucket),
        node_size: Some(node),
    };
    let geometry = ok!(Geometry::for_device(bytes, choice));
    let sb = Superblock::new(geometry, [7; 16], ok!(Label::new("test")));
    ok!(format(&dev, &sb));
    Ok(dev)
}

fn small_cache() -> OpenOptions {
    OpenOptions {
        read_only: false,
        cache_nodes: 64,
        ..OpenOptions::default()
    }
}

fn key(k: u64) -> Key {
    Key::new(
        Pos::new(1, k, 0),
        Value::Test(TestVal::from_u64(k.wrapping_mul(3))),
    )
}

/// Commits `key` (the run keeps the cache bounded).
fn insert<D: Device + Sync>(s: &Store<D>, key: Key) -> Result<(), StoreError> {
    Ok(s.trans().run(|t| {
        t.update(T, key)?;
        t.commit()
    })?)
}

fn delete<D: Device + Sync>(s: &Store<D>, k: u64) -> Result<(), StoreError> {
    Ok(s.trans().run(|t| {
        t.update(T, Key::deleted(Pos::new(1, k, 0)))?;
        t.commit()
    })?)
}

/// Every key of `T`, in order.
fn all_keys<D: Device + Sync>(s: &Store<D>) -> Result<Vec<Key>, BtreeError> {
    s.trans().run(|t| {
        let mut out = Vec::new();
        let mut it = Iter::new(t, T, Pos::MIN, IterFlags::default())?;
        while let Some(k) = it.next(t)? {
            out.try_push(*k)?;
        }
        Ok(out)
    })
}

/// Whether the store holds exactly `keys` (as `key(k)` each), in order.
fn holds<D: Device + Sync>(s: &Store<D>, keys: &[u64]) -> Result<bool, TestFailed> {
    let found = ok!(all_keys(s));
    let mut want = Vec::new();
    for &k in keys {
        ok!(want.try_push(k));
    }
    crate::platform::sort::heap_sort_by_key(&mut want, |k| *k);
    Ok(found.len() == want.len() && found.iter().zip(want.iter()).all(|(f, &w)| *f == key(w)))
}

/// Commits `n` random keys (from `seed`); returns them.
fn insert_random<D: Device + Sync>(
    s: &Store<D>,
    seed: u64,
    n: usize,
) -> Result<Vec<u64>, TestFailed> {
    let mut rng = Rng::new(seed);
    let mut keys = Vec::new();
    for _ in 0..n {
        let k = rng.below(1 << 40);
        ok!(insert(s, key(k)));
        ok!(keys.try_push(k));
    }
    Ok(keys)
}

/// Whether `dev`, opened again, holds exactly `keys` in a clean tree.
fn reopened_holds(dev: &MemoryDevice, keys: &[u64]) -> Result<(), TestFailed> {
    let (s, _) = ok!(Store::open(dev, small_cache()));
    check!(holds(&s, keys)?);
    check_clean(&s)?;
    Ok(())
}

fn check_clean<D: Device + Sync>(s: &Store<D>) -> Result<u8, TestFailed> {
    let report = ok!(s.check(|_| {}));
    check!(report.is_clean());
    Ok(report.depth)
}

/// A store of 512-byte nodes on `dev` holding 2000 keys, closed: a tree
/// at least three levels deep.
fn filled(dev: &MemoryDevice) -> Result<(), TestFailed> {
    let (s, _) = ok!(Store::open(dev, small_cache()));
    // Distinct keys in a scattered order: in order, 512-byte nodes split
    // into half-full ones and the tree passes MAX_DEPTH near 1500 keys.
    for k in 0..2000u64 {
        ok!(insert(&s, key(k * 7919 % 2003)));
    }
    ok!(s.close());
    Ok(())
}

/// Changes the durable space map of `dev` with `change` and writes it back
/// with a good checksum, as a bug that miscounted would have.
fn rewrite_space_map(
    dev: &MemoryDevice,
    change: impl FnOnce(&mut [Bucket]) -> Result<(), TestFailed>,
) -> Result<(), TestFailed> {
    let ro = OpenOptions {
        read_only: true,
        ..small_cache()
    };
    let sb = ok!(Store::open(dev, ro)).0.superblock();
    let mut records = ok!(read_space_map(dev, &sb));
    change(&mut records)?;
    ok!(write_space_map(dev, &sb, &records, sb.seq));
    Ok(())
}

/// The first bucket of `kind` in `records`.
fn first_bucket(records: &[Bucket], kind: BucketKind) -> Result<usize, TestFailed> {
    records
        .iter()
        .position(|r| r.kind == kind)
        .ok_or(TestFailed)
}

test_suite! {
    sixfs_store;

    fn keys_survive_close_and_open() {
        let dev = formatted(8 << 20)?;
        let (s, report) = ok!(Store::open(&dev, small_cache()));
        check!(report.was_clean && !report.from_backup);
        let keys = insert_random(&s, 1, 3000)?;
        // The cache stayed bounded: it wrote and evicted as it went.
        let stats = s.stats();
        check!(stats.cached as usize <= s.cache_limit() + 16);
        check!(stats.nodes_evicted > 0 && stats.checkpoints > 1);
        check!(holds(&s, &keys)?);
        ok!(s.close());
        drop(s);
        let (s, report) = ok!(Store::open(&dev, small_cache()));
        check!(report.was_clean);
        check!(holds(&s, &keys)?);
        check!(s.stats().nodes_read > 0);
        let depth = check_clean(&s)?;
        test_info!("3000 keys, 512-byte nodes: depth {depth}, {:?}", s.stats());
        check!(depth >= 3);
    }

    fn a_tree_larger_than_the_cache_is_written_back_between_checkpoints() {
        let dev = formatted(8 << 20)?;
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        let keys = insert_random(&s, 2, 3000)?;
        // Overwrites of keys in evicted leaves read them back: written
        // back since the last checkpoint, they go back to the same slot.
        let before = s.stats();
        for k in keys.iter().step_by(7).chain(keys.iter().skip(3).step_by(7)) {
            ok!(insert(&s, key(*k)));
        }
        let stats = s.stats();
        test_info!("{:?}", stats);
        let written_back = stats.nodes_written_back - before.nodes_written_back;
        let moved = stats.nodes_moved - before.nodes_moved;
        check!(stats.cached as usize <= s.cache_limit() + 16);
        check!(written_back > 0 && moved < written_back / 2);
        check!(holds(&s, &keys)?);
        ok!(s.close());
        drop(s);
        reopened_holds(&dev, &keys)?;
    }

    fn the_shrinker_writes_dirty_leaves_back_only_when_it_may() {
        let dev = formatted(8 << 20)?;
        let big_cache = OpenOptions { cache_nodes: 4096, ..small_cache() };
        let (s, _) = ok!(Store::open(&dev, big_cache));
        let mut keys = Vec::new();
        for k in 0..1500 {
            ok!(insert(&s, key(k * 7919 % 1511)));
            ok!(keys.try_push(k * 7919 % 1511));
        }
        let cached = s.stats().cached;
        check!(s.stats().nodes_evicted == 0 && s.evictable() > 0);
        // Every node is dirty: without I/O, nothing to give back.
        check_eq!(s.shrink(10_000, false), 0);
        let freed = s.shrink(10_000, true) as u64;
        let stats = s.stats();
        test_info!("{cached} cached, {freed} freed: {stats:?}");
        check!(freed > cached / 2 && stats.cached == cached - freed);
        check!(stats.nodes_written_back >= freed);
        check!(holds(&s, &keys)?);
        ok!(s.close());
        drop(s);
        reopened_holds(&dev, &keys)?;
    }

    fn a_read_only_store_writes_nothing() {
        let dev = formatted(4 << 20)?;
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        ok!(insert(&s, key(1)));
        ok!(s.close());
        drop(s);
        let writes = dev.stats().writes;
        let ro = OpenOptions { read_only: true, ..small_cache() };
        let (s, _) = ok!(Store::open(&dev, ro));
        check_eq!(insert(&s, key(2)), Err(StoreError::ReadOnly));
        check_eq!(s.checkpoint(false), Err(StoreError::ReadOnly));
        check!(holds(&s, &[1])?);
        ok!(s.close());
        drop(s);
        check_eq!(dev.stats().writes, writes);
        // Read-write again, through a remount.
        let (s, _) = ok!(Store::open(&dev, ro));
        ok!(s.set_read_only(false));
        ok!(insert(&s, key(2)));
        ok!(s.set_read_only(true));
        check!(s.superblock().clean);
        check!(holds(&s, &[1, 2])?);
    }

    fn a_full_device_of_4k_nodes_says_no_space_and_stays_writable() {
        // As the kernel's selftest: keys in order until the device is full.
        let dev = formatted_with(4 << 20, 4096, 16384)?;
        let opts = OpenOptions { errors: ErrorPolicy::ReadOnly, ..OpenOptions::default() };
        let (s, _) = ok!(Store::open(&dev, opts));
        let mut k = 0;
        let full = loop {
            if let Err(e) = insert(&s, key(k)) {
                break e;
            }
            k += 1;
            check!(k < 1_000_000);
        };
        test_info!("full after {k} keys: {:?}", s.stats());
        check_eq!(full, StoreError::Btree(BtreeError::NoSpace));
        check!(!s.is_read_only());
        ok!(s.sync());
        check_clean(&s)?;
        // Emptied, it takes keys again, without a sync in between: a
        // commit short of slots checkpoints to free them.
        for k in 0..k {
            ok!(delete(&s, k));
        }
        for k in 0..5000 {
            ok!(insert(&s, key(k)));
        }
        check_clean(&s)?;
    }

    fn a_full_device_says_no_space_and_takes_writes_after_deletions() {
        let dev = formatted(512 << 10)?;
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        let mut keys = Vec::new();
        let mut k = 0;
        let full = loop {
            match insert(&s, key(k)) {
                Ok(()) => ok!(keys.try_push(k)),
                Err(e) => break e,
            }
            k += 1;
            check!(k < 1_000_000);
        };
        test_info!("full after {} keys: {:?}", keys.len(), s.stats().space);
        check_eq!(full, StoreError::Btree(BtreeError::NoSpace));
        check_eq!(full.errno(), 28);
        // Nothing acknowledged was lost, and the tree is sound.
        check!(holds(&s, &keys)?);
        ok!(s.sync());
        check_clean(&s)?;
        // Delete everything; a few checkpoints give the space back.
        for &k in keys.iter() {
            ok!(delete(&s, k));
        }
        ok!(s.sync());
        ok!(s.sync());
        for k in 0..keys.len() as u64 / 2 {
            ok!(insert(&s, key(k)));
        }
        ok!(s.close());
        drop(s);
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        let half: Vec<u64> = {
            let mut v = Vec::new();
            for k in 0..keys.len() as u64 / 2 {
                ok!(v.try_push(k));
            }
            v
        };
        check!(holds(&s, &half)?);
        check_clean(&s)?;
    }

    fn a_power_cut_in_a_checkpoint_leaves_one_tree_whole() {
        // A cache large enough that only the checkpoints below write.
        let big_cache = OpenOptions { read_only: false, cache_nodes: 4096, ..OpenOptions::default() };
        // The same run each time: 400 keys checkpointed, then 200 more
        // and a checkpoint that the device lets `cut` writes of through
        // (None: all; that run counts them).
        let run = |cut: Option<u64>, how: PowerLoss| -> Result<(u64, bool, bool, bool), TestFailed> {
            let dev = formatted(4 << 20)?;
            let (s, _) = ok!(Store::open(&dev, big_cache));
            let mut before = Vec::new();
            for k in 0..400 {
                ok!(insert(&s, key(k * 7)));
                ok!(before.try_push(k * 7));
            }
            ok!(s.sync());
            let mut after = Vec::new();
            for &k in before.iter() {
                ok!(after.try_push(k));
            }
            for k in 0..200 {
                ok!(insert(&s, key(k * 7 + 3)));
                ok!(after.try_push(k * 7 + 3));
            }
            let writes = dev.stats().writes;
            dev.set_faults(Faults { writes_until_failure: cut, ..Faults::default() });
            let synced = s.sync().is_ok();
            let written = dev.stats().writes - writes;
            drop(s);
            dev.power_loss(how);
            dev.set_faults(Faults::default());
            let (s, _) = ok!(Store::open(&dev, OpenOptions { read_only: true, ..big_cache }));
            let old = holds(&s, &before)?;
            let new = holds(&s, &after)?;
            check_clean(&s)?;
            Ok((written, synced, old, new))
        };
        let (total, synced, _, new) = run(None, PowerLoss::DropUnflushed)?;
        check!(synced && new);
        let mut outcomes = [0u32; 2];
        // Every write in userspace; a sample under the debug kernel, where
        // each run is far slower (and the cargo run covers them all).
        // The last cuts are where the new superblock lands: always tried.
        let step = if cfg!(sixfs_kernel) { 9 } else { 1 };
        let sampled = (0..=total).step_by(step);
        for i in sampled.chain(total.saturating_sub(2)..=total) {
            let how = match i % 3 {
                0 => PowerLoss::DropUnflushed,
                1 => PowerLoss::KeepUnflushed,
                _ => PowerLoss::Tear { seed: i },
            };
            let (_, synced, old, new) = run(Some(i), how)?;
            // A checkpoint that reported success is durable; one that did
            // not left the old tree or, if its superblock landed, the new.
            if !(new || (!synced && old)) {
                test_info!("cut after {i} writes: synced {synced}, old {old}, new {new}");
            }
            check!(new || (!synced && old));
            if let Some(n) = outcomes.get_mut(usize::from(new)) {
                *n += 1;
            }
        }
        test_info!(
            "power cuts at each of a checkpoint's {total} writes: {} left the old tree, {} the new",
            outcomes[0],
            outcomes[1]
        );
        check!(outcomes[0] > 0 && outcomes[1] > 0);
    }

    fn a_corrupt_node_is_an_error_not_a_crash() {
        let dev = formatted(4 << 20)?;
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        for k in 0..500 {
            ok!(insert(&s, key(k)));
        }
        ok!(s.close());
        drop(s);
        let ro = OpenOptions { read_only: true, ..small_cache() };
        // Flip a byte in every node slot but the root's, one at a time.
        let root = match ok!(Store::open(&dev, ro)).0.superblock().roots[0] {
            crate::format::btree_root::BtreeRoot::Node { sector, .. } => sector,
            crate::format::btree_root::BtreeRoot::Empty => return Err(TestFailed),
        };
        let mut bad_seen = 0;
        let mut nodes_seen = 0u64;
        let data = ok!(Store::open(&dev, ro)).0.geometry().data_bytes();
        let mut at = data.start;
        while at < data.end {
            let mut sector = [0u8; 512];
            ok!(dev.read(at, &mut sector));
            let is_node = &sector[..8] == b"SIXFSnod" && at / 512 != root;
            nodes_seen += u64::from(is_node);
            // Every node in userspace; every fourth under the debug kernel,
            // where a case must end within the hung task timeout.
            if is_node && (!cfg!(sixfs_kernel) || nodes_seen % 4 == 0) {
                let mut flipped = sector;
                flipped[200] ^= 0x10;
                ok!(dev.write(at, &flipped));
                let (s, _) = ok!(Store::open(&dev, ro));
                let keys = all_keys(&s);
                let report = ok!(s.check(|_| {}));
                // Slots no tree points to (moved or freed nodes) do not matter.
                if keys.is_err() {
                    check_eq!(keys.err(), Some(BtreeError::BadNode));
                    check!(!report.is_clean());
                    bad_seen += 1;
                }
                ok!(dev.write(at, &sector));
            }
            at += 512;
        }
        check!(bad_seen > 0);
        // A corrupt root refuses the open.
        let mut sector = [0u8; 512];
        ok!(dev.read(root * 512, &mut sector));
        sector[100] ^= 1;
        ok!(dev.write(root * 512, &sector));
        check!(matches!(Store::open(&dev, ro), Err(StoreError::BadRoot { btree: 0, .. })));
    }

    fn device_errors_reach_the_caller() {
        let dev = formatted(4 << 20)?;
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        for k in 0..500 {
            ok!(insert(&s, key(k)));
        }
        ok!(s.close());
        drop(s);
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        let data = s.geometry().data_bytes();
        dev.set_faults(Faults { read: Some(data.clone()), ..Faults::default() });
        check_eq!(all_keys(&s).err(), Some(BtreeError::Io));
        dev.set_faults(Faults { write: Some(data), ..Faults::default() });
        ok!(insert(&s, key(10_000)));
        check!(matches!(s.sync(), Err(StoreError::Device(_))));
        dev.set_faults(Faults::default());
        // The failed checkpoint changed nothing durable; a retry works.
        ok!(s.sync());
        check!(holds(&s, &{
            let mut v = Vec::new();
            for k in 0..500 {
                ok!(v.try_push(k));
            }
            ok!(v.try_push(10_000));
            v
        })?);
        check_clean(&s)?;
    }

    fn a_walk_visits_every_node_once_parents_first() {
        let dev = formatted(8 << 20)?;
        filled(&dev)?;
        let ro = OpenOptions { read_only: true, ..small_cache() };
        let (s, _) = ok!(Store::open(&dev, ro));
        let report = ok!(s.check(|_| {}));
        check!(report.is_clean());
        let mut levels = [0u64; 8];
        let mut keys = 0u64;
        let mut last_level = None;
        let mut bad = 0;
        ok!(s.walk(T, |step| {
            match step {
                WalkStep::Node(r, node) => {
                    // Depth-first: one level down at most from the last.
                    if let Some(l) = last_level {
                        if r.level + 1 < l {
                            bad += 1;
                        }
                    }
                    last_level = Some(r.level);
                    if let Some(n) = levels.get_mut(usize::from(r.level)) {
                        *n += 1;
                    }
                    if r.id >= super::PLACEHOLDER_IDS {
                        bad += 1;
                    }
                    if r.level == 0 {
                        keys += node.keys(crate::node::Filter::Live).count() as u64;
                    }
                }
                WalkStep::Bad(..) => bad += 1,
            }
            Ok(())
        }));
        check_eq!(bad, 0);
        check_eq!(keys, 2000);
        check_eq!(report.keys, 2000);
        check_eq!(levels, report.nodes);
        check!(report.depth >= 3);
        // The space map counts every node once.
        check_eq!(s.stats().space.slots_used, report.nodes.iter().sum::<u64>());
    }

    fn a_wrong_space_map_is_found_and_rebuilt() {
        let dev = formatted(8 << 20)?;
        filled(&dev)?;
        // One btree bucket over-counted, one free bucket claimed.
        let mut btree_bucket = 0;
        let mut free_bucket = 0;
        rewrite_space_map(&dev, |records| {
            btree_bucket = first_bucket(records, BucketKind::Btree)?;
            free_bucket = first_bucket(records, BucketKind::Free)?;
            records[btree_bucket].used += 1;
            records[free_bucket] = Bucket { kind: BucketKind::Btree, used: 3 };
            Ok(())
        })?;
        let ro = OpenOptions { read_only: true, ..small_cache() };
        let (s, _) = ok!(Store::open(&dev, ro));
        let report = ok!(s.check(|_| {}));
        check_eq!(report.bad_node_count, 0);
        check_eq!(report.bad_buckets.len(), 2);
        check_eq!(report.bad_buckets[0].bucket as usize, btree_bucket.min(free_bucket));
        check_eq!(s.rebuild_space_map(), Err(StoreError::ReadOnly));
        drop(s);
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        check_eq!(s.rebuild_space_map(), Ok(2));
        check!(ok!(s.check(|_| {})).is_clean());
        // Nothing left to do, and the store takes writes as before.
        check_eq!(s.rebuild_space_map(), Ok(0));
        ok!(insert(&s, key(5000)));
        ok!(s.close());
        drop(s);
        let (s, _) = ok!(Store::open(&dev, ro));
        check_clean(&s)?;
        check_eq!(ok!(all_keys(&s)).len(), 2001);
    }

    fn the_space_map_is_not_rebuilt_over_a_bad_node() {
        let dev = formatted(8 << 20)?;
        filled(&dev)?;
        let ro = OpenOptions { read_only: true, ..small_cache() };
        // A node of level 1, not the root: the leaves under it are lost
        // to the walk, and their buckets must not become free.
        let (s, _) = ok!(Store::open(&dev, ro));
        let mut interior = None;
        ok!(s.walk(T, |step| {
            if let WalkStep::Node(r, _) = step {
                if r.level == 1 && interior.is_none() {
                    interior = Some(r.id);
                }
            }
            Ok(())
        }));
        drop(s);
        let sector = interior.ok_or(TestFailed)?;
        let mut slot = [0u8; 512];
        ok!(dev.read(sector * 512, &mut slot));
        slot[150] ^= 4;
        ok!(dev.write(sector * 512, &slot));
        rewrite_space_map(&dev, |records| {
            let free = first_bucket(records, BucketKind::Free)?;
            records[free] = Bucket { kind: BucketKind::Btree, used: 1 };
            Ok(())
        })?;
        let (s, _) = ok!(Store::open(&dev, ro));
        let report = ok!(s.check(|_| {}));
        check_eq!(report.bad_node_count, 1);
        check!(matches!(
            report.bad_nodes.first(),
            Some((r, NodeFault::Disk(crate::node::disk::DiskNodeError::BadChecksum { .. })))
                if r.id == sector && r.level == 1
        ));
        check!(!report.bad_buckets.is_empty());
        drop(s);
        let (s, _) = ok!(Store::open(&dev, small_cache()));
        let before = ok!(read_space_map(&dev, &s.superblock()));
        check!(matches!(s.rebuild_space_map(), Err(StoreError::NotRebuilt(_))));
        check!(ok!(read_space_map(&dev, &s.superblock()))[..] == before[..]);
    }
}
