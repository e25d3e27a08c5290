// SPDX-License-Identifier: GPL-2.0

//! `six`: sixfs's six lock against std's and parking_lot's RwLock, with
//! the workloads of the kernel's perf_test (`rust/perf/locks.rs`): the same
//! operation mix and random generator, here on closures so that every lock
//! is driven through its own safe API.

use crate::locks::{BenchLock, ParkingLot, Six, StdRwLock};
use sixfs_core::perf::{measure, Measurement, Rng};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many locks `MixedMany` spreads over, as in the kernel workload.
const MANY_LOCKS: usize = 1024;

/// A workload, as in `perf::locks::Workload`.
#[derive(Clone, Copy)]
enum Workload {
    /// Read lock+unlock of the thread's own lock.
    Read,
    /// Intent lock+unlock of the thread's own lock.
    Intent,
    /// Intent+write lock, then unlock both, on the thread's own lock.
    Write,
    /// 70% read, 20% intent, 10% write, all threads on one lock.
    MixedOne,
    /// The same mix on a random one of [`MANY_LOCKS`] locks.
    MixedMany,
}

/// One row of the table.
struct Row {
    title: &'static str,
    workload: Workload,
    threads: u32,
}

const ROWS: [Row; 7] = [
    Row {
        title: "read lock+unlock, ns",
        workload: Workload::Read,
        threads: 1,
    },
    Row {
        title: "intent lock+unlock, ns",
        workload: Workload::Intent,
        threads: 1,
    },
    Row {
        title: "write (intent+write) lock+unlock, ns",
        workload: Workload::Write,
        threads: 1,
    },
    Row {
        title: "mixed, one lock, 1 thread, Mops/s",
        workload: Workload::MixedOne,
        threads: 1,
    },
    Row {
        title: "mixed, one lock, 2 threads, Mops/s",
        workload: Workload::MixedOne,
        threads: 2,
    },
    Row {
        title: "mixed, 1024 locks, 1 thread, Mops/s",
        workload: Workload::MixedMany,
        threads: 1,
    },
    Row {
        title: "mixed, 1024 locks, 2 threads, Mops/s",
        workload: Workload::MixedMany,
        threads: 2,
    },
];

/// A lock and the count of writers inside, which checks exclusion. Each on
/// its own cache line, as in the kernel's perf_test (`rust/perf/locks.rs`):
/// locks of different sizes would otherwise share lines differently.
#[repr(align(64))]
struct Guarded<L> {
    lock: L,
    writers: AtomicU64,
}

/// One operation: `op` < 70 reads, < 90 takes intent, else writes.
/// Returns 1 if the lock let a reader or writer next to a writer.
#[inline]
fn one_op<L: BenchLock>(g: &Guarded<L>, op: u64) -> u64 {
    let mut bad = 0;
    if op < 70 {
        g.lock
            .read(|| bad += u64::from(g.writers.load(Ordering::Relaxed) != 0));
    } else if op < 90 {
        g.lock.intent(|| {});
    } else {
        g.lock.write(|| {
            bad += g.writers.fetch_add(1, Ordering::Relaxed);
            g.writers.fetch_sub(1, Ordering::Relaxed);
        });
    }
    bad
}

/// Runs `workload` for `count` iterations on `threads` threads.
fn run<L: BenchLock>(workload: Workload, count: u64, threads: u32) -> Measurement {
    let nr_locks = match workload {
        Workload::MixedOne => 1,
        Workload::MixedMany => MANY_LOCKS,
        _ => threads as usize,
    };
    let locks: Vec<Guarded<L>> = (0..nr_locks)
        .map(|_| Guarded {
            lock: L::new(),
            writers: AtomicU64::new(0),
        })
        .collect();
    let violations = AtomicU64::new(0);
    let locks = &locks[..];
    let m = measure(c"sixfs_bench", count, threads, &|thread, iters| {
        let mut rng = Rng::new(thread as u64 + 1);
        let mut bad = 0;
        for _ in 0..iters {
            let (g, op) = match workload {
                Workload::Read => (&locks[thread], 0),
                Workload::Intent => (&locks[thread], 70),
                Workload::Write => (&locks[thread], 90),
                Workload::MixedOne => (&locks[0], rng.below(100)),
                Workload::MixedMany => (
                    &locks[rng.below(MANY_LOCKS as u64) as usize],
                    rng.below(100),
                ),
            };
            bad += one_op(g, op);
        }
        violations.fetch_add(bad, Ordering::Relaxed);
    })
    .expect("threads");
    assert_eq!(
        violations.load(Ordering::Relaxed),
        0,
        "{}: exclusion violated",
        L::NAME
    );
    m
}

/// The best of `tries` runs: the least disturbed by the rest of the
/// machine.
fn best<L: BenchLock>(row: &Row, count: u64, tries: u32) -> Measurement {
    (0..tries)
        .map(|_| run::<L>(row.workload, count, row.threads))
        .max_by_key(Measurement::per_sec)
        .expect("at least one try")
}

/// The cell of a row: ns per operation for one thread, or millions of
/// operations per second over all threads.
fn cell(row: &Row, m: &Measurement) -> String {
    let ns = m.nanos as f64 * f64::from(m.threads) / m.count.max(1) as f64;
    match row.workload {
        Workload::Read | Workload::Intent | Workload::Write => format!("{ns:.1}"),
        Workload::MixedOne | Workload::MixedMany => {
            format!("{:.2}", m.count as f64 * 1e3 / m.nanos.max(1) as f64)
        }
    }
}

/// Runs every row for every lock and prints the table.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut count: u64 = 2_000_000;
    let mut tries: u32 = 3;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = || rest.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--count" => count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--tries" => tries = value()?.parse().map_err(|e| format!("--tries: {e}"))?,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if count == 0 || tries == 0 {
        return Err("--count and --tries must be positive".into());
    }

    let command: Vec<String> = std::env::args().skip(1).collect();
    println!(
        "$ cargo run --release -p sixfs-bench -- {}",
        command.join(" ")
    );
    println!(
        "{count} operations per run, best of {tries}; {} CPUs; \
         mixed = 70% read, 20% intent, 10% intent+write",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let names = [Six::NAME, StdRwLock::NAME, ParkingLot::NAME];
    println!(
        "{:<38} {:>11} {:>11} {:>11}",
        "", names[0], names[1], names[2]
    );
    for row in &ROWS {
        let cells = [
            cell(row, &best::<Six>(row, count, tries)),
            cell(row, &best::<StdRwLock>(row, count, tries)),
            cell(row, &best::<ParkingLot>(row, count, tries)),
        ];
        println!(
            "{:<38} {:>11} {:>11} {:>11}",
            row.title, cells[0], cells[1], cells[2]
        );
    }
    Ok(())
}
