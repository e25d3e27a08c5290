// SPDX-License-Identifier: GPL-2.0

//! Userspace benchmarks of the sixfs shared core.
//!
//! `cargo run --release -p sixfs-bench -- six [--count N] [--tries N]`
//! prints one table comparing sixfs's six lock with std's and
//! parking_lot's reader-writer locks.
//!
//! `cargo run --release -p sixfs-bench -- btree [--sizes 10K,1M] [--more-sizes 10K]
//! [--tries N] [--node-size BYTES]` prints perf_test report lines for sixfs's btree and
//! std's `BTreeMap`.
//!
//! `cargo run --release -p sixfs-bench -- store [--sizes 100K] [--threads 1,2]
//! [--workloads a,b] [--node-size BYTES] [--device-mib MIB] [--cache-mib MIB]` runs the
//! workloads on a journaled store over an in-memory device beside the
//! btree alone.

mod btree;
mod locks;
mod six;
mod store;

use std::process::ExitCode;

const USAGE: &str = "usage: sixfs-bench six [--count N] [--tries N]\n       \
                     sixfs-bench btree [--sizes N,N...] [--more-sizes N,N...] [--tries N]\n                         [--node-size BYTES]\n       \
                     sixfs-bench store [--sizes N,N...] [--threads 1,2] [--workloads a,b]\n                         [--node-size BYTES] [--device-mib MIB] [--cache-mib MIB]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("six") => six::main(&args[1..]),
        Some("btree") => btree::main(&args[1..]),
        Some("store") => store::main(&args[1..]),
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sixfs-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
