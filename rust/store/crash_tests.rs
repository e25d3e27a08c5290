// SPDX-License-Identifier: GPL-2.0

//! Power cuts, by the thousand: a random workload of commits, syncs and
//! checkpoints on a store with a small journal, cut at every write the
//! device would do (the device dies there), then the power fails and the
//! unflushed writes are dropped, kept or torn sector by sector. Mount
//! (replay) must then give exactly the tree of some prefix of the commits,
//! at least every commit a sync acknowledged, and a tree `check` finds
//! clean; sometimes the power fails again during that recovery first.
//! Two shapes of workload: a few keys overwritten again and again (the
//! journal wraps, checkpoints), and many keys, a tree larger than the node
//! cache (dirty nodes written back and evicted between checkpoints).
//! Run by `cargo test` (every cut point, several seeds) and as the KUnit
//! suite `sixfs_crash` (fewer). Failures print the seed, cut and mode.

use super::test_util::small_device;
use super::{OpenOptions, Store};
use crate::bkey::{Key, Pos, TestVal, Value};
use crate::btree::{BtreeId, Iter, IterFlags};
use crate::device::memory::{Faults, MemoryDevice, PowerLoss};
use crate::platform::rng::Rng;
use crate::platform::vec::Vec;
use crate::platform::{check, ok, test_info, test_suite, TestFailed};

const T: BtreeId = BtreeId(0);
const DEVICE: u64 = 2 << 20;

/// What a workload looks like.
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// Keys it touches.
    keys: u64,
    /// Commits per run.
    commits: usize,
}

/// Few keys, so commits overwrite each other.
const FEW_KEYS: Shape = Shape {
    keys: 48,
    commits: 120,
};
/// A tree of a few hundred 512-byte leaves: more than the cache holds.
const MANY_KEYS: Shape = Shape {
    keys: 4000,
    commits: 400,
};

/// One commit: `(key, value)`; value 0 deletes.
type Commit = Vec<(u64, u64)>;

/// A fresh device with a journal of four buckets.
fn formatted() -> Result<MemoryDevice, TestFailed> {
    small_device(DEVICE, 4)
}

fn options() -> OpenOptions {
    OpenOptions {
        cache_nodes: 64,
        ..OpenOptions::default()
    }
}

fn key_of(k: u64, v: u64) -> Key {
    let pos = Pos::new(3, k, 0);
    if v == 0 {
        Key::deleted(pos)
    } else {
        Key::new(pos, Value::Test(TestVal::from_u64(v)))
    }
}

/// The workload of `seed`: its commits, and after which of them it syncs
/// (1) or checkpoints (2).
fn workload(shape: Shape, seed: u64) -> Result<Vec<(Commit, u8)>, TestFailed> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for i in 0..shape.commits {
        let mut commit = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let k = rng.below(shape.keys);
            // One in five updates deletes.
            let v = if rng.below(5) == 0 { 0 } else { i as u64 + 1 };
            ok!(commit.try_push((k, v)));
        }
        let after = match rng.below(16) {
            0..=2 => 1,
            3 => 2,
            _ => 0,
        };
        ok!(out.try_push((commit, after)));
    }
    Ok(out)
}

/// What a run did.
struct Ran {
    /// Commits that landed.
    landed: usize,
    /// Commits a sync (or checkpoint) acknowledged.
    acked: usize,
    /// Nodes written back to bound the cache.
    written_back: u64,
    /// Leaves journal reclaims left dirty (their commits only in the
    /// journal).
    kept_dirty: u64,
}

/// Runs `work` on a store on `dev` until the device fails.
fn run(dev: &MemoryDevice, work: &[(Commit, u8)], cut: Option<u64>) -> Ran {
    let Ok((s, _)) = Store::open(dev, options()) else {
        return Ran {
            landed: 0,
            acked: 0,
            written_back: 0,
            kept_dirty: 0,
        };
    };
    dev.set_faults(Faults {
        writes_until_failure: cut,
        ..Faults::default()
    });
    let (landed, acked) = commit_all(&s, work);
    Ran {
        landed,
        acked,
        written_back: s.stats().nodes_written_back,
        kept_dirty: s.stats().nodes_kept_dirty,
    }
}

/// Commits `work`'s commits on `s` until one fails; returns how many
/// landed and how many a sync (or checkpoint) acknowledged.
fn commit_all(s: &Store<&MemoryDevice>, work: &[(Commit, u8)]) -> (usize, usize) {
    let mut acked = 0;
    for (i, (commit, after)) in work.iter().enumerate() {
        let landed = s.trans().run(|t| {
            for &(k, v) in commit.iter() {
                t.update(T, key_of(k, v))?;
            }
            t.commit()
        });
        if landed.is_err() {
            return (i, acked);
        }
        let durable = match after {
            1 => s.sync(),
            2 => s.checkpoint(false),
            _ => Ok(()),
        };
        match durable {
            Ok(()) if *after != 0 => acked = i + 1,
            Ok(()) => {}
            Err(_) => return (i + 1, acked),
        }
    }
    (work.len(), acked)
}

/// The values of the `keys` keys in the store (0: none).
fn state(s: &Store<&MemoryDevice>, keys: u64) -> Result<Vec<u64>, TestFailed> {
    let mut out = Vec::new();
    ok!(out.try_extend_with(keys as usize, 0u64));
    let keys = ok!(s.trans().run(|t| {
        let mut keys = Vec::new();
        let mut it = Iter::new(t, T, Pos::MIN, IterFlags::default())?;
        while let Some(k) = it.next(t)? {
            keys.try_push(*k)?;
        }
        Ok(keys)
    }));
    for k in keys.iter() {
        let v = match k.value {
            Value::Test(v) => v.as_u64().unwrap_or(u64::MAX),
            _ => u64::MAX,
        };
        match out.get_mut(k.pos.offset as usize) {
            Some(slot) if k.pos.inode == 3 => *slot = v,
            _ => check!(false),
        }
    }
    Ok(out)
}

/// Which prefix of `work`, from `acked` to `landed` commits, `found` is
/// the state of.
fn prefix_of(work: &[(Commit, u8)], acked: usize, landed: usize, found: &[u64]) -> Option<usize> {
    let mut model = Vec::new();
    model.try_extend_with(found.len(), 0u64).ok()?;
    for i in 0..=landed {
        if i >= acked && model[..] == *found {
            return Some(i);
        }
        for &(k, v) in work.get(i).map_or(&[][..], |(c, _)| &c[..]) {
            if let Some(slot) = model.get_mut(k as usize) {
                *slot = v;
            }
        }
    }
    None
}

/// One crash: the workload of `seed` cut after `cut` writes, the power
/// lost `how`, and, if `again` is set, lost again after that many writes
/// of the recovery. Returns whether the cut fell inside the workload.
fn crash(
    shape: Shape,
    work: &[(Commit, u8)],
    seed: u64,
    cut: u64,
    how: PowerLoss,
    again: Option<u64>,
) -> Result<bool, TestFailed> {
    let dev = formatted()?;
    let Ran { landed, acked, .. } = run(&dev, work, Some(cut));
    dev.power_loss(how);
    if let Some(writes) = again {
        dev.set_faults(Faults {
            writes_until_failure: Some(writes),
            ..Faults::default()
        });
        drop(Store::open(&dev, options()));
        dev.power_loss(PowerLoss::Tear { seed: cut });
    }
    dev.set_faults(Faults::default());
    let (s, _) = ok!(Store::open(&dev, options()));
    let found = state(&s, shape.keys)?;
    let prefix = prefix_of(work, acked, landed, &found);
    if prefix.is_none() {
        test_info!(
            "{shape:?} seed {seed} cut {cut} {how:?} again {again:?}: the tree is no prefix of {landed} commits from {acked}"
        );
    }
    check!(prefix.is_some());
    check!(ok!(s.check(|_| {})).is_clean());
    ok!(s.close());
    Ok(landed < work.len())
}

/// Every `step`th cut of the workloads of `shape` and `seeds`, each power
/// loss mode; returns the crashes tried.
fn crashes(shape: Shape, seeds: core::ops::Range<u64>, step: u64) -> Result<u64, TestFailed> {
    let mut tried = 0;
    for seed in seeds {
        let work = workload(shape, seed)?;
        let mut rng = Rng::new(seed ^ 0xc0ffee);
        let mut cut = 0;
        loop {
            let mut inside = false;
            for how in [
                PowerLoss::DropUnflushed,
                PowerLoss::KeepUnflushed,
                PowerLoss::Tear { seed: cut },
            ] {
                // One crash in four crashes again during recovery.
                let again = (rng.below(4) == 0).then(|| rng.below(40));
                inside |= crash(shape, &work, seed, cut, how, again)?;
                tried += 1;
            }
            if !inside {
                break;
            }
            cut += step;
        }
    }
    Ok(tried)
}

/// The workload seeds: `SIXFS_CRASH_SEEDS` of them (16 by default) from
/// `SIXFS_CRASH_SEED` (0): `make crash` runs many, and a failure's seed
/// alone runs again with `SIXFS_CRASH_SEED=n SIXFS_CRASH_SEEDS=1`.
#[cfg(not(sixfs_kernel))]
fn seeds() -> core::ops::Range<u64> {
    let var = |name, default| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let first = var("SIXFS_CRASH_SEED", 0);
    first..first.saturating_add(var("SIXFS_CRASH_SEEDS", 16))
}

#[cfg(sixfs_kernel)]
fn seeds() -> core::ops::Range<u64> {
    0..1
}

test_suite! {
    sixfs_crash;

    fn every_power_cut_leaves_a_prefix_holding_every_acknowledged_commit() {
        // Without a cut the workload runs whole, and replay brings back
        // what was committed but not synced when it is all kept.
        let work = workload(FEW_KEYS, 1)?;
        let dev = formatted()?;
        let Ran { landed, acked, .. } = run(&dev, &work, None);
        check!(landed == work.len() && acked > 0);
        dev.power_loss(PowerLoss::KeepUnflushed);
        let (s, report) = ok!(Store::open(&dev, options()));
        check!(!report.was_clean);
        check!(prefix_of(&work, acked, landed, &state(&s, FEW_KEYS.keys)?).is_some());
        drop(s);
        let (seeds, step) = if cfg!(sixfs_kernel) { (0..1, 9) } else { (seeds(), 1) };
        let tried = crashes(FEW_KEYS, seeds.clone(), step)?;
        test_info!(
            "seeds {seeds:?}: {tried} power cuts, every one recovered to a prefix holding every acknowledged commit"
        );
    }

    fn power_cuts_while_dirty_nodes_are_written_back() {
        // The tree outgrows the cache: without a cut, nodes are written
        // back and evicted between checkpoints.
        let work = workload(MANY_KEYS, 1)?;
        let dev = formatted()?;
        let ran = run(&dev, &work, None);
        check!(ran.landed == work.len() && ran.written_back > 0);
        // Journal reclaims left leaves dirty, their commits only in the
        // journal: cuts land around those too.
        check!(ran.kept_dirty > 0);
        let (s, _) = ok!(Store::open(&dev, options()));
        let found = state(&s, MANY_KEYS.keys)?;
        check!(prefix_of(&work, ran.acked, ran.landed, &found).is_some());
        drop(s);
        // Every 16th cut: a run is a few thousand writes.
        let (seeds, step) = if cfg!(sixfs_kernel) { (0..1, 97) } else { (0..2, 16) };
        let tried = crashes(MANY_KEYS, seeds.clone(), step)?;
        test_info!(
            "seeds {seeds:?}, {MANY_KEYS:?}: {tried} power cuts, every one recovered to a prefix holding every acknowledged commit"
        );
    }
}
