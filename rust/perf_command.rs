// SPDX-License-Identifier: GPL-2.0

//! The command behind `/sys/kernel/debug/sixfs/perf_test` (the file keeps
//! bcachefs's name): writing "NAME COUNT THREADS" runs a
//! benchmark in the kernel and prints its report to the kernel log, as
//! bcachefs's perf_test does. NAME is a btree workload with bcachefs's name
//! (`rand_insert`, ..., see `perf::btree::Workload`) or LOCK_WORKLOAD, e.g.
//! `six_read` or `rwsem_mixed_one` (see `perf::locks::Workload`).

use crate::glue::{debugfs, rwsem::RwSemaphore};
use crate::perf::{self, locks, locks::BenchLock, locks::Workload};
use crate::platform::sync::AllocError;
use crate::six::SixLock;
use kernel::prelude::*;

/// The command behind the debugfs file.
pub(crate) static COMMAND: debugfs::Command = debugfs::Command { run };

/// The rw_semaphore has no intent mode: intent and write are exclusive.
impl BenchLock for RwSemaphore {
    fn read(&self, f: impl FnOnce()) -> bool {
        self.down_read();
        f();
        self.up_read();
        true
    }
    fn intent(&self, f: impl FnOnce()) -> bool {
        self.down_write();
        f();
        self.up_write();
        true
    }
    fn write(&self, f: impl FnOnce()) -> bool {
        self.intent(f)
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
        Error::from_errno(-e.errno())
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
            SixLock::new(c"bench_six", &locks::BENCH_SIX_CLASS)
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
