// SPDX-License-Identifier: GPL-2.0

//! perf_test on a mounted filesystem: the commands of a mount's debugfs
//! file (`/sys/kernel/debug/sixfs/<uuid>/perf_test`), run on the
//! filesystem's own test btree on its device, so the keys persist.
//!
//! - `NAME COUNT THREADS`: a btree workload, as the module's perf_test
//!   file runs it on a fresh in-memory tree;
//! - `verify NAME COUNT THREADS`: the keys the insert workload NAME wrote
//!   with that count and thread split are all there (after a remount);
//! - `reset`: deletes every key of the test btree;
//! - `sync`: a checkpoint, timed: nodes written and their throughput;
//! - `check`: every node read and checked (as fsck), timed: nodes read and
//!   their throughput;
//! - `stats`: the store's counters (cache, nodes read, written, evicted).

use super::btree::{self, BtreeRunError, Target, Workload};
use super::{parse_command, CommandError, Measurement, Report};
use crate::bkey::{Key, Pos};
use crate::btree::{BtreeError, BtreeId, Iter, IterFlags};
use crate::device::Device;
use crate::platform::sync::now_ns;
use crate::store::{Store, StoreError, StoreStats};
use core::fmt;

/// A command of a mount's perf_test file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountedCommand {
    /// Runs a workload.
    Run(Workload, u64, u32),
    /// Checks the keys an insert workload wrote.
    Verify(Workload, u64, u32),
    /// Deletes every key of the test btree.
    Reset,
    /// Writes every dirty node (a checkpoint).
    Sync,
    /// Reads and checks every node.
    Check,
    /// Prints the store's counters.
    Stats,
}

/// Why a command was refused or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MountedError {
    /// Not a command: why.
    Parse(CommandError),
    /// No btree workload of that name.
    UnknownWorkload,
    /// The workload failed.
    Run(BtreeRunError),
    /// The store failed.
    Store(StoreError),
    /// `verify`: keys missing or wrong.
    Missing(u64),
    /// `check`: the filesystem has problems (the log names them).
    NotClean,
}

impl MountedError {
    /// The errno (positive) the write reports.
    pub fn errno(&self) -> i32 {
        const EIO: i32 = 5;
        const EINVAL: i32 = 22;
        const EUCLEAN: i32 = 117;
        match self {
            MountedError::Parse(_) | MountedError::UnknownWorkload => EINVAL,
            MountedError::Run(e) => e.errno(),
            MountedError::Store(e) => e.errno(),
            MountedError::Missing(_) => EIO,
            MountedError::NotClean => EUCLEAN,
        }
    }
}

impl From<BtreeRunError> for MountedError {
    fn from(e: BtreeRunError) -> Self {
        MountedError::Run(e)
    }
}

impl From<BtreeError> for MountedError {
    fn from(e: BtreeError) -> Self {
        MountedError::Run(BtreeRunError::Btree(e))
    }
}

impl From<StoreError> for MountedError {
    fn from(e: StoreError) -> Self {
        MountedError::Store(e)
    }
}

fn workload_command(text: &str) -> Result<(Workload, u64, u32), MountedError> {
    let c = parse_command(text).map_err(MountedError::Parse)?;
    let w = Workload::from_name(c.name).ok_or(MountedError::UnknownWorkload)?;
    Ok((w, c.count, c.threads))
}

/// Parses one command.
pub fn parse_mounted(text: &str) -> Result<MountedCommand, MountedError> {
    match text.trim() {
        "reset" => Ok(MountedCommand::Reset),
        "sync" => Ok(MountedCommand::Sync),
        "check" => Ok(MountedCommand::Check),
        "stats" => Ok(MountedCommand::Stats),
        t => match t.strip_prefix("verify ") {
            Some(rest) => {
                let (w, n, th) = workload_command(rest)?;
                Ok(MountedCommand::Verify(w, n, th))
            }
            None => {
                let (w, n, th) = workload_command(t)?;
                Ok(MountedCommand::Run(w, n, th))
            }
        },
    }
}

/// What a command did, as the kernel log line says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A workload ran.
    Measured(&'static str, Measurement),
    /// Every key was there.
    Verified(u64),
    /// Keys deleted.
    Reset(u64),
    /// Nodes written by the checkpoint, their bytes, and the time.
    Synced {
        /// Nodes.
        nodes: u64,
        /// Bytes.
        bytes: u64,
        /// Nanoseconds.
        nanos: u64,
    },
    /// The store's counters.
    Stats(StoreStats),
    /// Nodes read by the check, their bytes, keys seen, and the time.
    Checked {
        /// Nodes.
        nodes: u64,
        /// Levels of the deepest btree.
        depth: u8,
        /// Bytes.
        bytes: u64,
        /// Keys.
        keys: u64,
        /// Nanoseconds.
        nanos: u64,
    },
}

/// Bytes per second as MB/s with one decimal, from bytes and nanoseconds.
struct Rate(u64, u64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tenths of MB/s: bytes * 10^4 / nanos, without overflow for any
        // realistic run (bytes below 2^50).
        let tenths = self.0.saturating_mul(10_000) / self.1.max(1);
        write!(f, "{}.{} MB/s", tenths / 10, tenths % 10)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Outcome::Measured(name, measurement) => write!(f, "{}", Report { name, measurement }),
            Outcome::Verified(n) => write!(f, "verify: all {n} keys found"),
            Outcome::Reset(n) => write!(f, "reset: {n} keys deleted"),
            Outcome::Stats(s) => write!(
                f,
                "stats: cached {} (bound {}), read {}, written {} ({} bytes), moved {}, evicted {}, written back {}, checkpoints {} (reclaims {}, leaves kept dirty {}), buckets {} free {} btree {} reserve {}",
                s.cached,
                s.cache_limit,
                s.nodes_read,
                s.nodes_written,
                s.bytes_written,
                s.nodes_moved,
                s.nodes_evicted,
                s.nodes_written_back,
                s.checkpoints,
                s.reclaims,
                s.nodes_kept_dirty,
                s.space.buckets,
                s.space.free,
                s.space.btree,
                s.space.reserve
            ),
            Outcome::Synced {
                nodes,
                bytes,
                nanos,
            } => write!(
                f,
                "sync: {nodes} nodes, {bytes} bytes written in {} usec, {}",
                nanos / 1000,
                Rate(bytes, nanos)
            ),
            Outcome::Checked {
                nodes,
                depth,
                bytes,
                keys,
                nanos,
            } => write!(
                f,
                "check: clean, depth {depth}, {nodes} nodes ({bytes} bytes) and {keys} keys read in {} usec, {}",
                nanos / 1000,
                Rate(bytes, nanos)
            ),
        }
    }
}

const PERF_BTREE: BtreeId = BtreeId(0);

/// Runs `command` on `store`'s test btree.
pub fn run_mounted<D: Device + Sync>(
    store: &Store<D>,
    command: MountedCommand,
) -> Result<Outcome, MountedError> {
    let target = Target {
        btree: &store.btree,
        store: Some(store),
    };
    // A read takes a node's whole slot.
    let node_bytes = u64::from(store.geometry().node_size);
    match command {
        MountedCommand::Run(w, count, threads) => {
            let name = Workload::ALL
                .iter()
                .find(|(_, x)| *x == w)
                .map_or("?", |(n, _)| n);
            Ok(Outcome::Measured(
                name,
                btree::run_on(target, w, count, threads)?,
            ))
        }
        MountedCommand::Verify(w, count, threads) => {
            match btree::verify(target, w, count, threads)? {
                0 => {
                    let threads = u64::from(threads.max(1));
                    Ok(Outcome::Verified(count / threads * threads))
                }
                missing => Err(MountedError::Missing(missing)),
            }
        }
        MountedCommand::Reset => Ok(Outcome::Reset(reset(store)?)),
        MountedCommand::Stats => Ok(Outcome::Stats(store.stats())),
        MountedCommand::Sync => {
            let before = store.stats();
            let start = now_ns();
            store.write_back()?;
            let nanos = now_ns().saturating_sub(start);
            let after = store.stats();
            Ok(Outcome::Synced {
                nodes: after.nodes_written.saturating_sub(before.nodes_written),
                bytes: after.bytes_written.saturating_sub(before.bytes_written),
                nanos,
            })
        }
        MountedCommand::Check => {
            let before = store.stats().nodes_read;
            let start = now_ns();
            let report = store.check(|_| {})?;
            let nanos = now_ns().saturating_sub(start);
            if !report.is_clean() {
                return Err(MountedError::NotClean);
            }
            let nodes = store.stats().nodes_read.saturating_sub(before);
            Ok(Outcome::Checked {
                nodes,
                depth: report.depth,
                bytes: nodes.saturating_mul(node_bytes),
                keys: report.keys,
                nanos,
            })
        }
    }
}

/// Keys deleted per transaction by [`reset`]. Their positions are kept on
/// the stack: 64 of them are 1.5 KiB (256 were 6 KiB, which, inlined into
/// the perf_test write handler, overflowed the perf kernel's 16 KiB stack
/// under a checkpoint's superblock read).
const RESET_BATCH: usize = 64;

/// Deletes every key of the test btree, a batch per transaction; returns
/// how many. Never inlined: its batch stays off the stack of the other
/// commands, whose runs end in checkpoints and bios.
#[inline(never)]
fn reset<D: Device + Sync>(store: &Store<D>) -> Result<u64, MountedError> {
    let mut trans = store.trans();
    let mut deleted = 0u64;
    loop {
        let n = trans.run(|t| {
            let mut positions = [Pos::MIN; RESET_BATCH];
            let mut n = 0;
            let mut it = Iter::new(t, PERF_BTREE, Pos::MIN, IterFlags::INTENT)?;
            while n < RESET_BATCH {
                let Some(k) = it.next(t)? else {
                    break;
                };
                if let Some(p) = positions.get_mut(n) {
                    *p = k.pos;
                }
                n += 1;
            }
            for p in positions.iter().take(n) {
                t.update(PERF_BTREE, Key::deleted(*p))?;
            }
            t.commit()?;
            Ok(n)
        })?;
        deleted += n as u64;
        if n < RESET_BATCH {
            return Ok(deleted);
        }
    }
}
