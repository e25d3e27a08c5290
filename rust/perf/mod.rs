// SPDX-License-Identifier: GPL-2.0

//! Micro-benchmarks with bcachefs's `perf_test` interface: a command
//! "NAME COUNT THREADS" runs COUNT iterations of a workload split over
//! THREADS threads, and reports
//! "NAME: COUNT with N threads in S sec, NS nsec per iter, RATE per sec".
//!
//! The same code runs in the kernel (kernel threads, reached through a
//! debugfs file) and in userspace (std threads).

pub mod btree;
mod command;
pub mod locks;
pub mod mounted;

pub use crate::platform::rng::Rng;
pub use command::{parse_command, parse_count, Command, CommandError};

use crate::platform::sync::{cpu_relax, now_ns, run_parallel, AtomicU64, Ordering, SpawnError};
use core::fmt;

/// The measurement of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measurement {
    /// Iterations over all threads.
    pub count: u64,
    /// Threads that shared them.
    pub threads: u32,
    /// Wall time from the first thread's start to the last one's end.
    pub nanos: u64,
}

impl Measurement {
    /// Nanoseconds one thread spent per iteration.
    pub fn nanos_per_iter(&self) -> u64 {
        // No u128 division: the kernel has no runtime support for it.
        div(
            self.nanos.saturating_mul(u64::from(self.threads)),
            self.count,
        )
    }

    /// Iterations per second, all threads together.
    pub fn per_sec(&self) -> u64 {
        const NANOS_PER_SEC: u64 = 1_000_000_000;
        match self.count.checked_mul(NANOS_PER_SEC) {
            Some(scaled) => div(scaled, self.nanos),
            None => div(self.count, self.nanos / NANOS_PER_SEC),
        }
    }
}

/// A measurement with its workload's name, in bcachefs's report format.
pub struct Report<'a> {
    /// The workload.
    pub name: &'a str,
    /// What it measured.
    pub measurement: Measurement,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.measurement;
        write!(
            f,
            "{}: {} with {} threads in {} sec, {} nsec per iter, {} per sec",
            self.name,
            Human(m.count),
            m.threads,
            m.nanos / 1_000_000_000,
            m.nanos_per_iter(),
            Human(m.per_sec())
        )
    }
}

/// `a / b`, or `a` when `b` is 0. Written without a panic path: the
/// compiler cannot always see a divisor is not zero, and the kernel's
/// objtool (6.12) does not know the division-by-zero panic as a function
/// that never returns, so it warns about the code after it.
fn div(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(a)
}

/// A count with a K/M/G suffix, as bcachefs prints it.
struct Human(u64);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let (unit, suffix) = if n >= 1_000_000_000 {
            (1_000_000_000, "G")
        } else if n >= 1_000_000 {
            (1_000_000, "M")
        } else if n >= 1_000 {
            (1_000, "K")
        } else {
            return write!(f, "{n}");
        };
        write!(f, "{}.{}{}", div(n, unit), div(n % unit, unit / 10), suffix)
    }
}

/// Runs `work(thread, iterations)` on `threads` threads, splitting `count`
/// iterations between them, and measures the wall time from the moment all
/// have started to the moment the last one finished.
pub fn measure(
    name: &'static core::ffi::CStr,
    count: u64,
    threads: u32,
    work: &(dyn Fn(usize, u64) + Sync),
) -> Result<Measurement, SpawnError> {
    let threads = threads.max(1);
    let per_thread = count / u64::from(threads);
    let started = AtomicU64::new(0);
    let finished = AtomicU64::new(0);
    let start = AtomicU64::new(0);
    let end = AtomicU64::new(0);
    run_parallel(name, threads as usize, &|thread| {
        // Start together: the last one to arrive starts the clock.
        if started.fetch_add(1, Ordering::AcqRel) + 1 == u64::from(threads) {
            start.store(now_ns(), Ordering::Release);
        }
        while started.load(Ordering::Acquire) < u64::from(threads) {
            cpu_relax();
        }
        work(thread, per_thread);
        if finished.fetch_add(1, Ordering::AcqRel) + 1 == u64::from(threads) {
            end.store(now_ns(), Ordering::Release);
        }
    })?;
    let nanos = end
        .load(Ordering::Acquire)
        .saturating_sub(start.load(Ordering::Acquire));
    Ok(Measurement {
        count: per_thread * u64::from(threads),
        threads,
        nanos,
    })
}

#[cfg(any(test, CONFIG_KUNIT))]
mod tests;
