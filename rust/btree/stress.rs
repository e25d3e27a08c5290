// SPDX-License-Identifier: GPL-2.0

//! A multithreaded stress test, shared by `cargo test` and KUnit:
//! threads insert, overwrite, delete, look up and scan, each owning the
//! keys `thread + threads * i` and keeping a model of them, so every read
//! of its own keys can be checked exactly while the others change the tree
//! around them (splits, merges, new roots). Each thread also writes
//! extents into its own inode of a second tree, overwriting its earlier
//! ones across leaves the others split, and checks them sector by sector.
//! Optionally, relocks fail at random.

use super::cache::{Btree, BtreeId};
use super::error::{BtreeError, BtreeResult};
use super::iter::{Iter, IterFlags};
use super::trans::Trans;
use crate::bkey::{Key, Pos, TestVal, Value};
use crate::platform::sync::{now_ns, run_parallel, AtomicU64, Ordering, SpinLock};
use crate::platform::vec::Vec;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct StressParams {
    /// Threads.
    pub threads: usize,
    /// Keys each thread owns.
    pub keys_per_thread: u64,
    /// Operations per thread, at most.
    pub ops: u64,
    /// Stop after this many nanoseconds, whatever `ops` says.
    pub max_ns: u64,
    /// Relock failure probability, parts per million.
    pub inject_ppm: u32,
    /// Seed of the operations.
    pub seed: u64,
}

/// What ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StressCounts {
    /// Inserts and overwrites committed.
    pub inserts: u64,
    /// Deletes committed.
    pub deletes: u64,
    /// Lookups checked.
    pub lookups: u64,
    /// Keys seen by scans.
    pub scanned: u64,
    /// Extents inserted (and checked after).
    pub extents: u64,
    /// Transaction restarts.
    pub restarts: u64,
    /// Of which injected.
    pub injected: u64,
    /// Live keys at the end.
    pub keys: u64,
    /// Restarts by reason (`RestartReason as usize`).
    pub by_reason: [u64; super::error::RestartReason::NR],
}

/// The tree the stress test uses.
pub const STRESS_BTREE: BtreeId = BtreeId(0);
/// The extent tree: each thread writes extents of its own inode there.
pub const STRESS_EXTENTS: BtreeId = BtreeId(1);
/// Sectors of each thread's inode.
const SECTORS: u64 = 256;

fn pos(k: u64) -> Pos {
    Pos::new(0, k, 0)
}

fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Runs `work(0)` .. `work(threads - 1)` on as many threads; the first
/// error any of them returned, once all have finished.
pub(crate) fn run_threads(
    name: &'static core::ffi::CStr,
    threads: usize,
    work: impl Fn(usize) -> BtreeResult<()> + Sync,
) -> BtreeResult<()> {
    let first: SpinLock<Option<BtreeError>> = SpinLock::new(None);
    let each = |t: usize| {
        if let Err(e) = work(t) {
            let mut first = first.lock();
            if first.is_none() {
                *first = Some(e);
            }
        }
    };
    run_parallel(name, threads, &each).map_err(|_| BtreeError::Corrupt("threads did not start"))?;
    let error = *first.lock();
    error.map_or(Ok(()), Err)
}

struct Shared {
    counts: [AtomicU64; 8],
    by_reason: [AtomicU64; super::error::RestartReason::NR],
}

impl Shared {
    fn add(&self, i: usize, n: u64) {
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Runs the stress test on `b`; fails on the first invariant broken.
pub fn stress(b: &Btree, params: StressParams) -> BtreeResult<StressCounts> {
    let shared = Shared {
        counts: core::array::from_fn(|_| AtomicU64::new(0)),
        by_reason: core::array::from_fn(|_| AtomicU64::new(0)),
    };
    let start = now_ns();
    run_threads(c"sixfs_btree_stress", params.threads, |t| {
        worker(b, &params, &shared, t, start)
    })?;
    let stats = b.check(STRESS_BTREE)?;
    b.check(STRESS_EXTENTS)?;
    let c = |i: usize| {
        shared
            .counts
            .get(i)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    };
    let counts = StressCounts {
        inserts: c(0),
        deletes: c(1),
        lookups: c(2),
        scanned: c(3),
        restarts: c(4),
        injected: c(5),
        keys: c(6),
        extents: c(7),
        by_reason: core::array::from_fn(|i| {
            shared
                .by_reason
                .get(i)
                .map_or(0, |c| c.load(Ordering::Relaxed))
        }),
    };
    if u64::try_from(stats.keys).ok() != Some(counts.keys) {
        return Err(BtreeError::Corrupt(
            "keys in the tree differ from the models",
        ));
    }
    Ok(counts)
}

fn worker(
    b: &Btree,
    params: &StressParams,
    shared: &Shared,
    t: usize,
    start: u64,
) -> BtreeResult<()> {
    let threads = u64::try_from(params.threads.max(1)).map_err(|_| BtreeError::TooBig)?;
    let me = u64::try_from(t).map_err(|_| BtreeError::TooBig)?;
    let nkeys = params.keys_per_thread.max(1);
    let mut sectors: Vec<u64> = Vec::new();
    sectors.try_extend_with(usize::try_from(SECTORS).map_err(|_| BtreeError::TooBig)?, 0)?;
    let mut model: Vec<u64> = Vec::new();
    model.try_extend_with(usize::try_from(nkeys).map_err(|_| BtreeError::TooBig)?, 0)?;
    let mut rng = params
        .seed
        .wrapping_add(me.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        | 1;
    let key_of = |i: u64| i.wrapping_mul(threads).wrapping_add(me);
    let mut trans = Trans::new(b);
    trans.inject_restarts = params.inject_ppm;
    for op in 0..params.ops {
        if now_ns().saturating_sub(start) > params.max_ns {
            break;
        }
        let i = next(&mut rng) % nkeys;
        let k = key_of(i);
        let slot = usize::try_from(i).map_err(|_| BtreeError::TooBig)?;
        match next(&mut rng) % 21 {
            0..=7 => {
                let v = op.wrapping_add(1);
                let key = Key::new(pos(k), Value::Test(TestVal::from_u64(v)));
                trans.run(|tr| {
                    tr.update(STRESS_BTREE, key)?;
                    tr.commit()
                })?;
                if let Some(m) = model.get_mut(slot) {
                    *m = v;
                }
                shared.add(0, 1);
            }
            8..=11 => {
                trans.run(|tr| {
                    tr.delete(STRESS_BTREE, pos(k))?;
                    tr.commit()
                })?;
                if let Some(m) = model.get_mut(slot) {
                    *m = 0;
                }
                shared.add(1, 1);
            }
            12..=16 => {
                let got = trans.run(|tr| {
                    let mut it = Iter::new(tr, STRESS_BTREE, pos(k), IterFlags::SLOTS)?;
                    let key = it.peek_slot(tr)?;
                    Ok(match key.value {
                        Value::Test(v) => v.as_u64().unwrap_or(u64::MAX),
                        _ => 0,
                    })
                })?;
                if model.get(slot).copied() != Some(got) {
                    return Err(BtreeError::Corrupt("lookup differs from the model"));
                }
                shared.add(2, 1);
            }
            17 | 18 => {
                let seen = trans.run(|tr| scan(tr, k, threads, me, &model, &key_of))?;
                shared.add(3, seen);
            }
            _ => {
                let start = next(&mut rng) % SECTORS;
                let len = (next(&mut rng) % 32).saturating_add(1).min(SECTORS - start);
                let v = op.wrapping_add(1);
                let key = Key::extent(me, start, start + len, 0, Value::Test(TestVal::from_u64(v)))
                    .ok_or(BtreeError::Corrupt("bad extent"))?;
                trans.run(|tr| {
                    tr.insert_extent(STRESS_EXTENTS, key)?;
                    tr.commit()
                })?;
                for s in start..start + len {
                    if let Some(m) = usize::try_from(s).ok().and_then(|s| sectors.get_mut(s)) {
                        *m = v;
                    }
                }
                trans.run(|tr| check_extents(tr, me, &sectors))?;
                shared.add(7, 1);
            }
        }
    }
    shared.add(4, trans.restarts);
    shared.add(5, trans.injected);
    for (c, n) in shared.by_reason.iter().zip(trans.restarts_by_reason.iter()) {
        c.fetch_add(*n, Ordering::Relaxed);
    }
    let live = model.iter().filter(|&&v| v != 0).count();
    shared.add(6, u64::try_from(live).unwrap_or(u64::MAX));
    Ok(())
}

/// Scans up to 64 keys from `from`: positions increase, and this thread's
/// keys are exactly those of its model.
fn scan(
    tr: &mut Trans<'_>,
    from: u64,
    threads: u64,
    me: u64,
    model: &Vec<u64>,
    key_of: &impl Fn(u64) -> u64,
) -> BtreeResult<u64> {
    let mut it = Iter::new(tr, STRESS_BTREE, pos(from), IterFlags::NONE)?;
    let mut last: Option<Pos> = None;
    let mut seen = 0u64;
    // The next of our keys the model says should come.
    let mut expect = from / threads + u64::from(from % threads > me);
    while seen < 64 {
        let Some(k) = it.next(tr)? else {
            break;
        };
        let (p, val) = (k.pos, k.value);
        if last.is_some_and(|l| l >= p) {
            return Err(BtreeError::Corrupt("scan out of order"));
        }
        last = Some(p);
        seen += 1;
        if p.offset % threads != me {
            continue;
        }
        let i = p.offset / threads;
        // Our keys in between must be absent.
        while expect < i {
            let present = usize::try_from(expect)
                .ok()
                .and_then(|s| model.get(s))
                .is_some_and(|&v| v != 0);
            if present {
                return Err(BtreeError::Corrupt("scan missed a key"));
            }
            expect += 1;
        }
        let want = usize::try_from(i).ok().and_then(|s| model.get(s)).copied();
        let got = match val {
            Value::Test(v) => v.as_u64(),
            _ => None,
        };
        if want.is_none() || want == Some(0) || want != got || key_of(i) != p.offset {
            return Err(BtreeError::Corrupt("scan found a key the model lacks"));
        }
        expect = i + 1;
    }
    Ok(seen)
}

/// Checks this thread's inode in the extent tree against its model: no
/// overlaps, every sector's value as written.
fn check_extents(tr: &mut Trans<'_>, inode: u64, sectors: &Vec<u64>) -> BtreeResult<()> {
    let mut it = Iter::new(
        tr,
        STRESS_EXTENTS,
        Pos::new(inode, 0, 0),
        IterFlags::EXTENTS,
    )?;
    let mut covered = 0u64;
    let mut last_end = 0u64;
    while let Some(k) = it.next(tr)? {
        if k.pos.inode != inode {
            break;
        }
        if k.start() < last_end {
            return Err(BtreeError::Corrupt("extents overlap"));
        }
        last_end = k.pos.offset;
        let v = match k.value {
            Value::Test(v) => v.as_u64(),
            _ => None,
        };
        for s in k.start()..k.pos.offset {
            let want = usize::try_from(s)
                .ok()
                .and_then(|s| sectors.get(s))
                .copied();
            if want != v {
                return Err(BtreeError::Corrupt("extent differs from the model"));
            }
            covered = covered.saturating_add(1);
        }
    }
    let written = sectors.iter().filter(|&&v| v != 0).count();
    if u64::try_from(written).ok() != Some(covered) {
        return Err(BtreeError::Corrupt("extents lost"));
    }
    Ok(())
}
