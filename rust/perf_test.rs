// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/sixfs/perf_test`: writing "NAME COUNT THREADS" runs a
//! benchmark in the kernel and prints its report to the kernel log, as
//! bcachefs's perf_test does. NAME is LOCK_WORKLOAD, e.g. `six_read` or
//! `rwsem_mixed_one` (see `perf::locks::Workload`).

use crate::glue::{debugfs, rwsem::RwSemaphore};
use crate::perf::{self, locks, locks::BenchLock, locks::Workload};
use crate::platform::sync::AllocError;
use kernel::prelude::*;

/// The command behind the debugfs file.
pub(crate) static COMMAND: debugfs::Command = debugfs::Command { run };

impl BenchLock for RwSemaphore {
    fn read(&self) {
        self.down_read();
    }
    fn read_unlock(&self) {
        self.up_read();
    }
    fn intent(&self) {
        self.down_write();
    }
    fn intent_unlock(&self) {
        self.up_write();
    }
    fn write(&self) {}
    fn write_unlock(&self) {}
}

fn run(text: &str) -> Result {
    let command = perf::parse_command(text).map_err(|e| {
        pr_err!("perf_test: {text:?}: {e:?}; expected NAME COUNT THREADS\n");
        EINVAL
    })?;
    let (lock, workload) = command
        .name
        .split_once('_')
        .and_then(|(lock, workload)| Some((lock, Workload::from_name(workload)?)))
        .ok_or_else(|| {
            pr_err!("perf_test: unknown test {}\n", command.name);
            EINVAL
        })?;
    let measured = match lock {
        "rwsem" => locks::run(workload, command.count, command.threads, || {
            RwSemaphore::new().map_err(|_| AllocError)
        }),
        _ => {
            pr_err!("perf_test: unknown lock {lock}\n");
            return Err(EINVAL);
        }
    };
    let measurement = measured.map_err(|e| {
        pr_err!("perf_test: {}: {e:?}\n", command.name);
        match e {
            locks::RunError::Alloc => ENOMEM,
            locks::RunError::Spawn => EAGAIN,
            locks::RunError::ExclusionViolated => EIO,
        }
    })?;
    pr_info!(
        "{}\n",
        perf::Report {
            name: command.name,
            measurement
        }
    );
    Ok(())
}
