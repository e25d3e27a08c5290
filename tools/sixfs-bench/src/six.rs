// SPDX-License-Identifier: GPL-2.0

//! `six`: sixfs's six lock against std's and parking_lot's RwLock, with
//! the workloads of the kernel's perf_test (`sixfs_core::perf::locks`): the
//! same code, operation mix and random generator.

use crate::locks::{Named, ParkingLot, StdRwLock};
use sixfs_core::perf::locks::{run, Workload};
use sixfs_core::perf::Measurement;
use sixfs_core::six::SixLock;

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

/// The best of `tries` runs: the least disturbed by the rest of the
/// machine.
fn best<L: Named>(row: &Row, count: u64, tries: u32) -> Measurement {
    (0..tries)
        .map(|_| {
            run(row.workload, count, row.threads, || Ok(L::new()))
                .unwrap_or_else(|e| panic!("{}: {e:?}", L::NAME))
        })
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
    let names = [SixLock::NAME, StdRwLock::NAME, ParkingLot::NAME];
    println!(
        "{:<38} {:>11} {:>11} {:>11}",
        "", names[0], names[1], names[2]
    );
    for row in &ROWS {
        let cells = [
            cell(row, &best::<SixLock>(row, count, tries)),
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
