// SPDX-License-Identifier: GPL-2.0

//! Transactions that meet: threads whose transactions read and write the
//! *same* keys, shared by `cargo test` (std threads) and KUnit (kthreads on
//! both vCPUs under lockdep and KASAN).
//!
//! - Accounts: `ACCOUNTS` keys holding balances. Transfers read two to four
//!   of them through intent iterators and move money between them in one
//!   commit; the total never changes if commits are atomic and isolated
//!   (nothing a transaction read changed before it committed).
//! - Snapshots read every account through a path each, all held until the
//!   end, and check the total: a reader never sees part of a commit.
//! - Scans walk all accounts forwards or backwards with one iterator while
//!   churn threads insert and delete filler keys between the accounts,
//!   splitting and merging the leaves under the scans: every account is
//!   seen exactly once, in order.
//! - Extents: every thread writes extents over one shared file, sometimes
//!   two overlapping ones in one transaction. Each extent's value names its
//!   writer, its sequence number and the range first written; at the end
//!   no two extents overlap, every piece lies inside the range it was
//!   written as, every offset ever written is still covered, and each
//!   offset holds the last write to it of the thread that wrote it.
//!
//! At the end `Btree::check` must pass on both trees. The restart counts by
//! reason come back in [`InteractCounts`].

use super::cache::{Btree, BtreeId};
use super::error::{BtreeError, BtreeResult, RestartReason};
use super::iter::{Iter, IterFlags};
use super::stress::run_threads;
use super::trans::Trans;
use crate::bkey::{Key, Pos, TestVal, Value};
use crate::platform::rng::Rng;
use crate::platform::sync::{now_ns, AtomicU64, Ordering, SpinLock};
use crate::platform::vec::Vec;

/// The accounts (and filler keys between them).
pub const ACCOUNTS_BTREE: BtreeId = BtreeId(0);
/// The shared file's extents.
pub const EXTENTS_BTREE: BtreeId = BtreeId(1);
/// Accounts: few enough that a snapshot holds a path for each.
pub const ACCOUNTS: u64 = 40;
/// Each account's opening balance.
const BALANCE: u64 = 1000;
/// The shared file's inode and size (offsets).
const FILE: u64 = 7;
const FILE_SIZE: u64 = 1024;
/// Most threads (the extents' values give a thread 8 bits).
pub const MAX_THREADS: usize = 16;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct InteractParams {
    /// Threads, at most [`MAX_THREADS`].
    pub threads: usize,
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
pub struct InteractCounts {
    /// Transfers committed.
    pub transfers: u64,
    /// Snapshots of all accounts checked.
    pub snapshots: u64,
    /// Scans checked (forwards and backwards).
    pub scans: u64,
    /// Filler batches inserted or deleted.
    pub churns: u64,
    /// Extents written.
    pub extents: u64,
    /// Restarts by reason (`RestartReason as usize`).
    pub by_reason: [u64; RestartReason::NR],
    /// Most restarts one operation took.
    pub most_restarts: u64,
}

impl InteractCounts {
    /// All restarts.
    pub fn restarts(&self) -> u64 {
        self.by_reason.iter().sum()
    }
}

/// The position of account `i`; fillers take the odd offsets between.
fn account(i: u64) -> Pos {
    Pos::new(1, 2 * i, 0)
}

fn test_key(pos: Pos, v: u64) -> Key {
    Key::new(pos, Value::Test(TestVal::from_u64(v)))
}

fn value_of(k: &Key) -> BtreeResult<u64> {
    match k.value {
        Value::Test(v) => v.as_u64().ok_or(BtreeError::Corrupt("not a u64 value")),
        _ => Err(BtreeError::Corrupt("not a test value")),
    }
}

/// An extent's value: writer, sequence number, first written range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Write {
    thread: u64,
    seq: u64,
    start: u64,
    end: u64,
}

impl Write {
    fn encode(self) -> u64 {
        (self.thread << 56) | (self.seq << 32) | (self.start << 16) | self.end
    }

    fn decode(v: u64) -> Write {
        Write {
            thread: v >> 56,
            seq: (v >> 32) & 0xff_ffff,
            start: (v >> 16) & 0xffff,
            end: v & 0xffff,
        }
    }
}

/// What the threads share.
struct Shared {
    counts: [AtomicU64; 6],
    by_reason: [AtomicU64; RestartReason::NR],
    /// Offsets of the file ever written, a bit each.
    written: Vec<AtomicU64>,
    /// Per thread, per offset: the sequence number of its last write there.
    last_write: Vec<SpinLock<Vec<u32>>>,
}

/// Fills the accounts tree with the accounts.
pub fn setup(b: &Btree) -> BtreeResult<()> {
    Trans::new(b).run(|t| {
        for i in 0..ACCOUNTS {
            t.update(ACCOUNTS_BTREE, test_key(account(i), BALANCE))?;
        }
        t.commit()
    })
}

/// Runs the workload on `b` (after [`setup`]); fails on the first broken
/// invariant.
pub fn interact(b: &Btree, params: InteractParams) -> BtreeResult<InteractCounts> {
    if params.threads > MAX_THREADS {
        return Err(BtreeError::TooBig);
    }
    let words = usize::try_from(FILE_SIZE / 64).map_err(|_| BtreeError::TooBig)?;
    let sectors = usize::try_from(FILE_SIZE).map_err(|_| BtreeError::TooBig)?;
    let mut written = Vec::new();
    for _ in 0..words {
        written.try_push(AtomicU64::new(0))?;
    }
    let mut last_write = Vec::new();
    for _ in 0..params.threads {
        let mut seqs = Vec::new();
        seqs.try_extend_with(sectors, 0u32)?;
        last_write.try_push(SpinLock::new(seqs))?;
    }
    let shared = Shared {
        counts: core::array::from_fn(|_| AtomicU64::new(0)),
        by_reason: core::array::from_fn(|_| AtomicU64::new(0)),
        written,
        last_write,
    };
    let start = now_ns();
    run_threads(c"sixfs_interact", params.threads, |t| {
        worker(b, &params, &shared, t, start)
    })?;
    b.check(ACCOUNTS_BTREE)?;
    b.check(EXTENTS_BTREE)?;
    let mut t = Trans::new(b);
    t.run(|t| snapshot(t).map(|_| ()))?;
    t.run(|t| check_file(t, &shared))?;
    let c = |i: usize| {
        shared
            .counts
            .get(i)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    };
    Ok(InteractCounts {
        transfers: c(0),
        snapshots: c(1),
        scans: c(2),
        churns: c(3),
        extents: c(4),
        most_restarts: c(5),
        by_reason: core::array::from_fn(|i| {
            shared
                .by_reason
                .get(i)
                .map_or(0, |c| c.load(Ordering::Relaxed))
        }),
    })
}

fn worker(
    b: &Btree,
    params: &InteractParams,
    shared: &Shared,
    thread: usize,
    start: u64,
) -> BtreeResult<()> {
    let me = u64::try_from(thread).map_err(|_| BtreeError::TooBig)?;
    let mut rng = Rng::new(params.seed ^ me.wrapping_mul(0x9e37_79b9));
    let mut trans = Trans::new(b);
    trans.inject_restarts = params.inject_ppm;
    let mut seq = 0u64;
    let mut most_restarts = 0;
    for _ in 0..params.ops {
        if now_ns().saturating_sub(start) > params.max_ns {
            break;
        }
        let restarts = trans.restarts;
        let (counter, result) = match rng.below(12) {
            0..=3 => (0, transfer(&mut trans, &mut rng)),
            4 => (1, trans.run(|t| snapshot(t)).map(|_| ())),
            5 => (2, trans.run(|t| scan_forwards(t))),
            6 => (2, trans.run(|t| scan_backwards(t))),
            7 | 8 => (3, churn(&mut trans, &mut rng)),
            _ => {
                seq += 1;
                (4, write_extents(&mut trans, &mut rng, shared, me, seq))
            }
        };
        result?;
        most_restarts = most_restarts.max(trans.restarts - restarts);
        if let Some(c) = shared.counts.get(counter) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
    // The most of any thread (an atomic maximum by compare-exchange).
    if let Some(most) = shared.counts.get(5) {
        let mut now = most.load(Ordering::Relaxed);
        while now < most_restarts {
            match most.compare_exchange(now, most_restarts, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => now = seen,
            }
        }
    }
    for (c, n) in shared.by_reason.iter().zip(trans.restarts_by_reason.iter()) {
        c.fetch_add(*n, Ordering::Relaxed);
    }
    Ok(())
}

/// Moves money from the first of two to four accounts to the others, in
/// one transaction that read them all first.
fn transfer(trans: &mut Trans<'_>, rng: &mut Rng) -> BtreeResult<()> {
    let n = 2 + rng.below(3);
    let mut picked = [0u64; 4];
    let mut k = 0;
    while k < n {
        let a = rng.below(ACCOUNTS);
        if !picked.iter().take(k as usize).any(|&x| x == a) {
            if let Some(slot) = picked.get_mut(k as usize) {
                *slot = a;
            }
            k += 1;
        }
    }
    let amount = rng.below(100);
    let picked = picked.get(..n as usize).unwrap_or(&[]);
    trans.run(|t| {
        let mut balances = [0u64; 4];
        for (slot, &a) in balances.iter_mut().zip(picked) {
            let mut it = Iter::new(t, ACCOUNTS_BTREE, account(a), IterFlags::INTENT)?;
            *slot = value_of(it.peek_slot(t)?)?;
        }
        let (first, rest) = balances.split_at_mut(1);
        let from = first.first_mut().ok_or(BtreeError::TooBig)?;
        for to in rest.iter_mut().take(picked.len().saturating_sub(1)) {
            let moved = amount.min(*from);
            *from -= moved;
            *to += moved;
        }
        for (&a, &v) in picked.iter().zip(balances.iter()) {
            t.update(ACCOUNTS_BTREE, test_key(account(a), v))?;
        }
        t.commit()
    })
}

/// Reads every account through a path of its own, all held to the end:
/// the total must be the opening one.
fn snapshot(t: &mut Trans<'_>) -> BtreeResult<u64> {
    let mut total = 0u64;
    for i in 0..ACCOUNTS {
        let mut it = Iter::new(t, ACCOUNTS_BTREE, account(i), IterFlags::NONE)?;
        let k = it.peek_slot(t)?;
        if k.value.kind().is_deleted_or_whiteout() {
            return Err(BtreeError::Corrupt("an account vanished"));
        }
        total = total.saturating_add(value_of(k)?);
    }
    if total != ACCOUNTS * BALANCE {
        return Err(BtreeError::Corrupt("a reader saw part of a commit"));
    }
    Ok(total)
}

/// Whether `k` is an account key, and which.
fn account_of(k: &Key) -> Option<u64> {
    (k.pos.inode == 1 && k.pos.offset % 2 == 0).then_some(k.pos.offset / 2)
}

/// One iterator over all keys, forwards: every account once, in order.
fn scan_forwards(t: &mut Trans<'_>) -> BtreeResult<()> {
    let mut it = Iter::new(t, ACCOUNTS_BTREE, Pos::new(1, 0, 0), IterFlags::NONE)?;
    let mut expect = 0;
    let mut last = None;
    while let Some(k) = it.next(t)? {
        if k.pos.inode != 1 {
            break;
        }
        if last.is_some_and(|l| l >= k.pos) {
            return Err(BtreeError::Corrupt("forward scan out of order"));
        }
        last = Some(k.pos);
        if let Some(a) = account_of(k) {
            if a != expect {
                return Err(BtreeError::Corrupt("forward scan missed an account"));
            }
            expect += 1;
        }
    }
    if expect != ACCOUNTS {
        return Err(BtreeError::Corrupt("forward scan lost accounts"));
    }
    Ok(())
}

/// The same, backwards with `prev` from past the last account.
fn scan_backwards(t: &mut Trans<'_>) -> BtreeResult<()> {
    let mut it = Iter::new(t, ACCOUNTS_BTREE, Pos::new(2, 0, 0), IterFlags::NONE)?;
    let mut expect = ACCOUNTS;
    let mut last = None;
    while let Some(k) = it.prev(t)? {
        if k.pos.inode != 1 {
            break;
        }
        if last.is_some_and(|l| l <= k.pos) {
            return Err(BtreeError::Corrupt("backward scan out of order"));
        }
        last = Some(k.pos);
        if let Some(a) = account_of(k) {
            if expect == 0 || a != expect - 1 {
                return Err(BtreeError::Corrupt("backward scan missed an account"));
            }
            expect -= 1;
        }
    }
    if expect != 0 {
        return Err(BtreeError::Corrupt("backward scan lost accounts"));
    }
    Ok(())
}

/// Inserts or deletes a run of filler keys between accounts, in one
/// commit: leaves split and merge under the other threads.
fn churn(trans: &mut Trans<'_>, rng: &mut Rng) -> BtreeResult<()> {
    let from = rng.below(ACCOUNTS);
    let len = 1 + rng.below(8);
    let insert = rng.below(3) != 0;
    trans.run(|t| {
        for i in from..(from + len).min(ACCOUNTS) {
            let filler = Pos::new(1, 2 * i + 1, 0);
            if insert {
                t.update(ACCOUNTS_BTREE, test_key(filler, i))?;
            } else {
                t.delete(ACCOUNTS_BTREE, filler)?;
            }
        }
        t.commit()
    })
}

/// Writes one or two extents over the shared file in one transaction,
/// then records them.
fn write_extents(
    trans: &mut Trans<'_>,
    rng: &mut Rng,
    shared: &Shared,
    me: u64,
    seq: u64,
) -> BtreeResult<()> {
    let mut writes = [None; 2];
    for (i, w) in writes.iter_mut().enumerate() {
        if i == 1 && rng.below(2) == 0 {
            break;
        }
        let start = rng.below(FILE_SIZE - 1);
        let end = (start + 1 + rng.below(48)).min(FILE_SIZE);
        *w = Some(Write {
            thread: me,
            seq: seq * 2 + i as u64,
            start,
            end,
        });
    }
    trans.run(|t| {
        for w in writes.iter().flatten() {
            let v = Value::Test(TestVal::from_u64(w.encode()));
            let key = Key::extent(FILE, w.start, w.end, 0, v).ok_or(BtreeError::TooBig)?;
            t.insert_extent(EXTENTS_BTREE, key)?;
        }
        t.commit()
    })?;
    let slot = usize::try_from(me).map_err(|_| BtreeError::TooBig)?;
    let mut last = shared
        .last_write
        .get(slot)
        .ok_or(BtreeError::TooBig)?
        .lock();
    for w in writes.iter().flatten() {
        for s in w.start..w.end {
            if let Some(l) = usize::try_from(s).ok().and_then(|s| last.get_mut(s)) {
                *l = u32::try_from(w.seq).unwrap_or(u32::MAX);
            }
            if let Some(word) = usize::try_from(s / 64)
                .ok()
                .and_then(|i| shared.written.get(i))
            {
                word.fetch_or(1 << (s % 64), Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// The file after the run: see the module docs.
fn check_file(t: &mut Trans<'_>, shared: &Shared) -> BtreeResult<()> {
    let mut it = Iter::new(t, EXTENTS_BTREE, Pos::new(FILE, 0, 0), IterFlags::EXTENTS)?;
    let mut covered = 0u64;
    let mut last_end = 0;
    while let Some(k) = it.next(t)? {
        if k.pos.inode != FILE {
            break;
        }
        let (start, end) = (k.start(), k.pos.offset);
        if start < last_end {
            return Err(BtreeError::Corrupt("extents overlap"));
        }
        last_end = end;
        let w = Write::decode(value_of(k)?);
        if start < w.start || end > w.end {
            return Err(BtreeError::Corrupt("an extent grew past what was written"));
        }
        let slot = usize::try_from(w.thread).map_err(|_| BtreeError::TooBig)?;
        let last = shared
            .last_write
            .get(slot)
            .ok_or(BtreeError::Corrupt("extent of no thread"))?
            .lock();
        for s in start..end {
            let newest = usize::try_from(s).ok().and_then(|s| last.get(s)).copied();
            if newest.map(u64::from) != Some(w.seq) {
                return Err(BtreeError::Corrupt("an older write survived a newer one"));
            }
        }
        covered += end - start;
    }
    let written: u64 = shared
        .written
        .iter()
        .map(|w| u64::from(w.load(Ordering::Relaxed).count_ones()))
        .sum();
    if written != covered {
        return Err(BtreeError::Corrupt("written offsets were lost"));
    }
    Ok(())
}
