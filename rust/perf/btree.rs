// SPDX-License-Identifier: GPL-2.0

//! Btree workloads with bcachefs's perf_test names: rand_insert,
//! rand_insert_multi, rand_lookup, rand_mixed, rand_delete, seq_insert,
//! seq_lookup, seq_overwrite, seq_delete.
//!
//! [`run`] builds a fresh in-memory btree; [`run_on`] uses a given one, such
//! as a mounted filesystem's test btree on its device, whose keys persist
//! (and [`verify`] checks them after a remount). Workloads that need keys
//! to find (lookups, overwrites, deletes) first insert COUNT keys, untimed,
//! the same keys the matching insert workload would; then the clock runs.
//! The maple tree anchor (bench/anchor) does the same.

use super::{measure, Measurement, Rng};
use crate::bkey::{Key, Pos, TestVal, Value};
use crate::btree::{Btree, BtreeError, BtreeId, BtreeParams, Iter, IterFlags, NodeStore, Trans};
use crate::platform::sort::heap_sort_by_key;
use crate::platform::sync::{cond_resched, run_parallel, AtomicU64, Ordering, SpawnError};
use crate::platform::vec::Vec;

/// The btree every workload uses.
const PERF_BTREE: BtreeId = BtreeId(0);

/// Keys a sequential walk visits between two chances to reschedule (the
/// perf kernel does not preempt; the maple tree anchor does the same).
const SEQ_CHUNK: u64 = 1024;

/// Keys per transaction in rand_insert_multi.
const MULTI: u64 = 8;

/// The workloads, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One random key per transaction.
    RandInsert,
    /// Random keys, `MULTI` per transaction.
    RandInsertMulti,
    /// Peek at random positions.
    RandLookup,
    /// Peek at random positions, updating every fourth key found.
    RandMixed,
    /// Delete random keys.
    RandDelete,
    /// Consecutive keys, one per transaction.
    SeqInsert,
    /// Iterate over every key.
    SeqLookup,
    /// Iterate over every key, overwriting it.
    SeqOverwrite,
    /// Delete consecutive keys.
    SeqDelete,
}

impl Workload {
    /// Every workload with its name.
    pub const ALL: [(&'static str, Workload); 9] = [
        ("rand_insert", Workload::RandInsert),
        ("rand_insert_multi", Workload::RandInsertMulti),
        ("rand_lookup", Workload::RandLookup),
        ("rand_mixed", Workload::RandMixed),
        ("rand_delete", Workload::RandDelete),
        ("seq_insert", Workload::SeqInsert),
        ("seq_lookup", Workload::SeqLookup),
        ("seq_overwrite", Workload::SeqOverwrite),
        ("seq_delete", Workload::SeqDelete),
    ];

    /// The workload named `name`.
    pub fn from_name(name: &str) -> Option<Workload> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|&(_, w)| w)
    }

    /// Whether the tree must hold the keys before the clock starts.
    fn needs_keys(self) -> bool {
        !matches!(
            self,
            Workload::RandInsert | Workload::RandInsertMulti | Workload::SeqInsert
        )
    }

    /// Whether the keys are random (else consecutive).
    fn random(self) -> bool {
        matches!(
            self,
            Workload::RandInsert
                | Workload::RandInsertMulti
                | Workload::RandLookup
                | Workload::RandMixed
                | Workload::RandDelete
        )
    }
}

/// Why a btree workload did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BtreeRunError {
    /// Threads could not be started.
    Spawn,
    /// The btree failed (allocation, too many restarts, corruption).
    Btree(BtreeError),
    /// [`verify`] was asked about a workload that writes no keys.
    NotAnInsert,
}

impl BtreeRunError {
    /// The errno (positive) the debugfs write reports.
    pub fn errno(&self) -> i32 {
        const EAGAIN: i32 = 11;
        const EINVAL: i32 = 22;
        match self {
            BtreeRunError::Spawn => EAGAIN,
            BtreeRunError::Btree(e) => e.errno(),
            BtreeRunError::NotAnInsert => EINVAL,
        }
    }
}

impl From<SpawnError> for BtreeRunError {
    fn from(_: SpawnError) -> Self {
        BtreeRunError::Spawn
    }
}

impl From<BtreeError> for BtreeRunError {
    fn from(e: BtreeError) -> Self {
        BtreeRunError::Btree(e)
    }
}

/// The position of key `n`, as bcachefs's tests place theirs.
fn pos(offset: u64) -> Pos {
    Pos::new(0, offset, u32::MAX)
}

fn key(offset: u64) -> Key {
    Key::new(pos(offset), Value::Test(TestVal::from_u64(offset)))
}

/// The random keys of thread `thread`: the same sequence for the insert
/// and for the later lookups or deletes. (Public so that userspace anchors
/// run the same keys.)
pub fn rng_of(thread: usize) -> Rng {
    Rng::new(0xb7ee ^ thread as u64)
}

/// The random positions rand_lookup and rand_mixed search for.
pub fn lookup_rng(thread: usize) -> Rng {
    Rng::new(0x100c ^ thread as u64)
}

/// Runs one operation's transaction, then gives the scheduler a chance: the
/// perf kernel does not preempt kernel threads.
fn run_op<'b, T>(
    trans: &mut Trans<'b>,
    f: impl FnMut(&mut Trans<'b>) -> Result<T, BtreeError>,
) -> Result<T, BtreeError> {
    let result = trans.run(f);
    cond_resched();
    result
}

fn insert(trans: &mut Trans<'_>, offsets: &[u64]) -> Result<(), BtreeError> {
    run_op(trans, |tr| {
        for &o in offsets {
            tr.update(PERF_BTREE, key(o))?;
        }
        tr.commit()
    })
}

/// The sequential writes, as bcachefs's for_each_btree_key_commit: one
/// intent iterator, set to each position from `first` in turn, and a
/// commit per key by `op(trans, iterator, position)`, which returns the
/// position after the key it did (`end` when done). A run ends every
/// [`SEQ_CHUNK`] keys (to reschedule, and to let a store write and evict)
/// and a restart resumes after the last key committed.
fn commit_each(
    trans: &mut Trans<'_>,
    first: u64,
    end: u64,
    mut op: impl FnMut(&mut Trans<'_>, &mut Iter, u64) -> Result<u64, BtreeError>,
) -> Result<(), BtreeError> {
    let mut at = first;
    while at < end {
        run_op(trans, |tr| {
            let mut it = Iter::new(tr, PERF_BTREE, pos(at), IterFlags::INTENT)?;
            for _ in 0..SEQ_CHUNK {
                if at >= end {
                    break;
                }
                it.set_pos(tr, pos(at))?;
                at = op(tr, &mut it, at)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The btree workloads run on: in memory, or a store's on a device.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The trees (the workloads use id 0).
    pub btree: &'a Btree,
    /// Where its nodes live, if on a device.
    pub store: Option<&'a dyn NodeStore>,
}

impl<'a> Target<'a> {
    fn trans(&self) -> Trans<'a> {
        Trans::with_store(self.btree, self.store)
    }
}

/// Runs `workload` on a fresh btree of `node_size`-byte nodes.
pub fn run(
    workload: Workload,
    count: u64,
    threads: u32,
    node_size: usize,
) -> Result<Measurement, BtreeRunError> {
    let btree = Btree::new(BtreeParams { node_size })?;
    run_on(
        Target {
            btree: &btree,
            store: None,
        },
        workload,
        count,
        threads,
    )
}

/// Runs `workload` on `target`'s btree 0, as [`run`] does on a fresh one.
pub fn run_on(
    target: Target<'_>,
    workload: Workload,
    count: u64,
    threads: u32,
) -> Result<Measurement, BtreeRunError> {
    let threads = threads.max(1);
    let per_thread = count / u64::from(threads);
    let failures = AtomicU64::new(0);
    let first_error = crate::platform::sync::SpinLock::new(None::<BtreeError>);
    let fail = |e: BtreeError| {
        failures.fetch_add(1, Ordering::Relaxed);
        first_error.lock().get_or_insert(e);
    };

    if workload.needs_keys() {
        let prefill = if workload.random() {
            Workload::RandInsert
        } else {
            Workload::SeqInsert
        };
        measure(
            c"sixfs_perf",
            per_thread * u64::from(threads),
            threads,
            &|thread, n| {
                if let Err(e) = one_thread(target, prefill, thread, n) {
                    fail(e);
                }
            },
        )?;
    }
    let m = measure(c"sixfs_perf", count, threads, &|thread, n| {
        if let Err(e) = one_thread(target, workload, thread, n) {
            fail(e);
        }
    })?;
    if let Some(e) = *first_error.lock() {
        return Err(BtreeRunError::Btree(e));
    }
    Ok(m)
}

/// One thread's share: `n` operations.
fn one_thread(
    target: Target<'_>,
    workload: Workload,
    thread: usize,
    n: u64,
) -> Result<(), BtreeError> {
    let trans = &mut target.trans();
    let mut rng = rng_of(thread);
    let first = (thread as u64).saturating_mul(n);
    match workload {
        Workload::RandInsert => {
            for _ in 0..n {
                insert(trans, &[rng.next_u64()])?;
            }
        }
        Workload::RandInsertMulti => {
            let mut done = 0;
            while done < n {
                let batch = MULTI.min(n - done);
                let mut offsets = [0u64; MULTI as usize];
                for o in offsets.iter_mut() {
                    *o = rng.next_u64();
                }
                insert(trans, offsets.get(..batch as usize).unwrap_or(&[]))?;
                done += batch;
            }
        }
        Workload::RandLookup | Workload::RandMixed => {
            let mut lookup = lookup_rng(thread);
            for i in 0..n {
                let at = pos(lookup.next_u64());
                let update = workload == Workload::RandMixed && i % 4 == 0;
                run_op(trans, |tr| {
                    let flags = if update {
                        IterFlags::INTENT
                    } else {
                        IterFlags::NONE
                    };
                    let mut it = Iter::new(tr, PERF_BTREE, at, flags)?;
                    let found = it.peek(tr)?.map(|k| k.pos);
                    if let (true, Some(p)) = (update, found) {
                        it.update(tr, key(p.offset))?;
                        tr.commit()?;
                    }
                    Ok(())
                })?;
            }
        }
        Workload::RandDelete => {
            for _ in 0..n {
                let at = pos(rng.next_u64());
                run_op(trans, |tr| {
                    tr.delete(PERF_BTREE, at)?;
                    tr.commit()
                })?;
            }
        }
        Workload::SeqInsert => {
            let end = first.saturating_add(n);
            // The slot at each position, as bcachefs's BTREE_ITER_slots.
            commit_each(trans, first, end, |tr, it, at| {
                it.peek_slot(tr)?;
                it.update(tr, key(at))?;
                tr.commit()?;
                Ok(at.saturating_add(1))
            })?;
        }
        Workload::SeqLookup => {
            // One transaction walking the keys; a restart resumes after the
            // last key seen.
            let end = first.saturating_add(n);
            let mut at = first;
            run_op(trans, |tr| {
                let mut it = Iter::new(tr, PERF_BTREE, pos(at), IterFlags::NONE)?;
                let mut found = it.peek(tr)?.map(|k| k.pos.offset);
                while let Some(o) = found.filter(|&o| o < end) {
                    at = o.saturating_add(1);
                    if at % SEQ_CHUNK == 0 {
                        // Six locks may be held across a reschedule.
                        cond_resched();
                    }
                    found = it.next(tr)?.map(|k| k.pos.offset);
                }
                Ok(())
            })?;
        }
        Workload::SeqOverwrite | Workload::SeqDelete => {
            let end = first.saturating_add(n);
            commit_each(trans, first, end, |tr, it, _| {
                let Some(o) = it.peek(tr)?.map(|k| k.pos.offset).filter(|&o| o < end) else {
                    return Ok(end);
                };
                let new = if workload == Workload::SeqDelete {
                    Key::deleted(pos(o))
                } else {
                    key(o)
                };
                it.update(tr, new)?;
                tr.commit()?;
                Ok(o.saturating_add(1))
            })?;
        }
    }
    Ok(())
}

/// Checks that the keys `workload` (an insert) run with `count` and
/// `threads` wrote are in `target`'s btree 0 with the values it wrote;
/// returns how many are missing or wrong. Each writing thread's keys are
/// checked by a thread of their own.
pub fn verify(
    target: Target<'_>,
    workload: Workload,
    count: u64,
    threads: u32,
) -> Result<u64, BtreeRunError> {
    if !matches!(
        workload,
        Workload::SeqInsert | Workload::RandInsert | Workload::RandInsertMulti
    ) {
        return Err(BtreeRunError::NotAnInsert);
    }
    let threads = threads.max(1);
    let per_thread = count / u64::from(threads);
    let bad = AtomicU64::new(0);
    let first_error = crate::platform::sync::SpinLock::new(None::<BtreeError>);
    run_parallel(
        c"sixfs_verify",
        threads as usize,
        &|thread| match verify_thread(target, workload, thread, per_thread) {
            Ok(n) => {
                bad.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                first_error.lock().get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = *first_error.lock() {
        return Err(BtreeRunError::Btree(e));
    }
    Ok(bad.load(Ordering::Relaxed))
}

/// [`verify`] of one writing thread's `n` keys.
fn verify_thread(
    target: Target<'_>,
    workload: Workload,
    thread: usize,
    n: u64,
) -> Result<u64, BtreeError> {
    let trans = &mut target.trans();
    let mut sorted = SortedKeys::new(workload, thread, n)?;
    let mut bad = 0u64;
    // On the heap: 8 KiB would crowd a kernel thread's stack, under which
    // node reads go down to the block layer.
    let mut offsets = Vec::try_with_capacity(SEQ_CHUNK as usize)?;
    loop {
        offsets.clear();
        while offsets.len() < SEQ_CHUNK as usize {
            let Some(o) = sorted.next() else { break };
            offsets.try_push(o)?;
        }
        if offsets.is_empty() {
            break;
        }
        let wanted = &offsets[..];
        bad += run_op(trans, |tr| {
            let mut bad = 0u64;
            let mut it = Iter::new(tr, PERF_BTREE, Pos::MIN, IterFlags::NONE)?;
            for &o in wanted {
                it.set_pos(tr, pos(o))?;
                if it.peek(tr)? != Some(&key(o)) {
                    bad += 1;
                }
            }
            Ok(bad)
        })?;
    }
    Ok(bad)
}

/// Keys [`verify`] sorts at once: each run is one modest allocation.
pub(super) const VERIFY_RUN: u64 = 1 << 16;

/// The keys one thread of an insert workload wrote, in order, so that a
/// verify walks the tree once instead of reading each leaf again and
/// again when the tree is larger than the node cache: sorted runs of
/// [`VERIFY_RUN`] keys, merged.
pub(super) struct SortedKeys {
    runs: Vec<Vec<u64>>,
    /// The next key of each run.
    heads: Vec<usize>,
}

impl SortedKeys {
    pub(super) fn new(workload: Workload, thread: usize, n: u64) -> Result<Self, BtreeError> {
        let mut rng = rng_of(thread);
        let first = (thread as u64).saturating_mul(n);
        let mut runs = Vec::new();
        let mut done = 0u64;
        while done < n {
            let len = VERIFY_RUN.min(n - done);
            let mut run = Vec::try_with_capacity(len as usize)?;
            for i in 0..len {
                run.try_push(match workload {
                    Workload::SeqInsert => first.saturating_add(done).saturating_add(i),
                    _ => rng.next_u64(),
                })?;
            }
            heap_sort_by_key(&mut run, |&o| o);
            runs.try_push(run)?;
            done += len;
        }
        let mut heads = Vec::new();
        heads.try_extend_with(runs.len(), 0)?;
        Ok(Self { runs, heads })
    }

    /// The smallest key not yet taken.
    pub(super) fn next(&mut self) -> Option<u64> {
        let (run, offset) = self
            .runs
            .iter()
            .zip(self.heads.iter())
            .enumerate()
            .filter_map(|(i, (run, &head))| Some((i, *run.get(head)?)))
            .min_by_key(|&(_, offset)| offset)?;
        if let Some(head) = self.heads.get_mut(run) {
            *head += 1;
        }
        Some(offset)
    }
}
