// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/sixfs/perf_test`: writing "NAME COUNT THREADS" runs a
//! benchmark in the kernel and prints its report to the kernel log, as
//! bcachefs's perf_test does. NAME is a btree workload with bcachefs's name
//! (`rand_insert`, ..., see `perf::btree::Workload`) or LOCK_WORKLOAD, e.g.
//! `six_read` or `rwsem_mixed_one` (see `perf::locks::Workload`).

use crate::glue::{debugfs, rwsem::RwSemaphore};
use crate::perf::{self, locks, locks::BenchLock, locks::Workload};
use crate::platform::sync::{AllocError, LockClass};
use crate::six::{SixLock, SixLockType};
use kernel::prelude::*;

/// The command behind the debugfs file.
pub(crate) static COMMAND: debugfs::Command = debugfs::Command { run };

impl BenchLock for RwSemaphore {
    fn read(&self) -> bool {
        self.down_read();
        true
    }
    fn read_unlock(&self) {
        self.up_read();
    }
    fn intent(&self) -> bool {
        self.down_write();
        true
    }
    fn intent_unlock(&self) {
        self.up_write();
    }
    fn write(&self) -> bool {
        true
    }
    fn write_unlock(&self) {}
}

/// The lock class of the benchmark's six locks.
static BENCH_SIX_CLASS: LockClass = LockClass::new();

/// sixfs's six lock through its raw operations, as the btree uses it.
/// Unlocking what the workload just locked cannot fail.
impl BenchLock for SixLock {
    fn read(&self) -> bool {
        self.lock(SixLockType::Read).is_ok()
    }
    fn read_unlock(&self) {
        let _ = self.unlock(SixLockType::Read);
    }
    fn intent(&self) -> bool {
        self.lock(SixLockType::Intent).is_ok()
    }
    fn intent_unlock(&self) {
        let _ = self.unlock(SixLockType::Intent);
    }
    fn write(&self) -> bool {
        self.lock(SixLockType::Write).is_ok()
    }
    fn write_unlock(&self) {
        let _ = self.unlock(SixLockType::Write);
    }
}

fn run(text: &str) -> Result {
    let command = perf::parse_command(text).map_err(|e| {
        pr_err!("perf_test: {text:?}: {e:?}; expected NAME COUNT THREADS\n");
        EINVAL
    })?;
    let measured = match perf::btree::Workload::from_name(command.name) {
        Some(workload) => run_btree(workload, command.count, command.threads)?,
        None => run_lock(command.name, command.count, command.threads)?,
    };
    pr_info!(
        "{}\n",
        perf::Report {
            name: command.name,
            measurement: measured
        }
    );
    Ok(())
}

/// A btree workload on 256 KiB nodes, bcachefs's default.
fn run_btree(
    workload: perf::btree::Workload,
    count: u64,
    threads: u32,
) -> Result<perf::Measurement> {
    perf::btree::run(workload, count, threads, 256 << 10).map_err(|e| {
        pr_err!("perf_test: {workload:?}: {e:?}\n");
        match e {
            perf::btree::BtreeRunError::Spawn => EAGAIN,
            perf::btree::BtreeRunError::Btree(_) => EIO,
        }
    })
}

/// A lock workload: NAME is LOCK_WORKLOAD.
fn run_lock(name: &str, count: u64, threads: u32) -> Result<perf::Measurement> {
    let (lock, workload) = name
        .split_once('_')
        .and_then(|(lock, workload)| Some((lock, Workload::from_name(workload)?)))
        .ok_or_else(|| {
            pr_err!("perf_test: unknown test {name}\n");
            EINVAL
        })?;
    let measured = match lock {
        "rwsem" => locks::run(workload, count, threads, || {
            RwSemaphore::new().map_err(|_| AllocError)
        }),
        "six" => locks::run(workload, count, threads, || {
            Ok(SixLock::new(c"bench_six", &BENCH_SIX_CLASS))
        }),
        _ => {
            pr_err!("perf_test: unknown lock {lock}\n");
            return Err(EINVAL);
        }
    };
    measured.map_err(|e| {
        pr_err!("perf_test: {name}: {e:?}\n");
        match e {
            locks::RunError::Alloc => ENOMEM,
            locks::RunError::Spawn => EAGAIN,
            locks::RunError::ExclusionViolated => EIO,
        }
    })
}
