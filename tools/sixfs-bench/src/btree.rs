// SPDX-License-Identifier: GPL-2.0

//! `btree`: sixfs's btree perf_test workloads (`rust/perf/btree.rs`) in
//! userspace, beside std's `BTreeMap` doing the same operations on the same
//! keys, for several tree sizes; then the workloads without a `BTreeMap`
//! counterpart (`--more-sizes`), sixfs alone. `--tries N` reports the best
//! of N runs of each row (the machine's memory latency wanders). Prints bcachefs-format report lines
//! (`sixfs: ...`, `btreemap: ...`) that `scripts/bench-btree-table.py`
//! turns into a table and a plot.
//!
//! With two threads the `BTreeMap` sits behind a `parking_lot::RwLock`, as
//! a user sharing one would have it.

use parking_lot::RwLock;
use sixfs_core::perf::btree::{lookup_rng, rng_of, run, Workload};
use sixfs_core::perf::{measure, parse_count, Measurement, Report};
use std::collections::BTreeMap;
use std::ops::Bound;

/// The workloads compared, by perf_test name.
const WORKLOADS: [&str; 4] = ["rand_insert", "rand_lookup", "seq_insert", "seq_lookup"];

/// The other workloads, run for sixfs alone.
const MORE_WORKLOADS: [&str; 5] = [
    "rand_insert_multi",
    "rand_mixed",
    "rand_delete",
    "seq_overwrite",
    "seq_delete",
];

/// The model's key: (inode, offset, snapshot) as sixfs orders positions.
type MapKey = (u64, u64, u32);

fn map_key(offset: u64) -> MapKey {
    (0, offset, u32::MAX)
}

/// Runs `name` on a `BTreeMap`: inserts on an empty map, lookups on one
/// filled (untimed) with the same keys as the matching insert workload.
fn run_map(name: &str, count: u64, threads: u32) -> Measurement {
    let map: RwLock<BTreeMap<MapKey, u64>> = RwLock::new(BTreeMap::new());
    let per_thread = count / u64::from(threads);
    let insert = |random: bool, thread: usize, n: u64| {
        let mut rng = rng_of(thread);
        let first = thread as u64 * n;
        for i in 0..n {
            let o = if random { rng.next_u64() } else { first + i };
            map.write().insert(map_key(o), o);
        }
    };
    let random = name.starts_with("rand");
    if name.ends_with("lookup") {
        for thread in 0..threads as usize {
            insert(random, thread, per_thread);
        }
    }
    measure(c"btreemap", count, threads, &|thread, n| match name {
        "rand_insert" | "seq_insert" => insert(random, thread, n),
        "rand_lookup" => {
            let mut rng = lookup_rng(thread);
            let mut found = 0u64;
            for _ in 0..n {
                let at = map_key(rng.next_u64());
                // A peek: the first key at or after the position.
                found += map.read().range(at..).next().is_some() as u64;
            }
            std::hint::black_box(found);
        }
        "seq_lookup" => {
            let first = thread as u64 * n;
            let m = map.read();
            let range = (
                Bound::Included(map_key(first)),
                Bound::Excluded(map_key(first + n)),
            );
            std::hint::black_box(m.range(range).count());
        }
        _ => unreachable!("not in WORKLOADS"),
    })
    .expect("threads")
}

/// Prints one report line, as the kernel's perf_test logs it.
fn report(source: &str, name: &str, measurement: Measurement) {
    println!("{source}: {}", Report { name, measurement });
}

/// Runs every workload at every size on 1 and 2 threads.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut sizes = vec![10_000, 100_000, 1_000_000];
    let mut more_sizes = vec![];
    let mut node_size = 256 << 10;
    let mut tries = 1u32;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = || rest.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--sizes" => sizes = counts(arg, value()?)?,
            "--more-sizes" => more_sizes = counts(arg, value()?)?,
            "--node-size" => {
                node_size = value()?.parse().map_err(|e| format!("--node-size: {e}"))?
            }
            "--tries" => tries = value()?.parse().map_err(|e| format!("--tries: {e}"))?,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    let command: Vec<String> = std::env::args().skip(1).collect();
    println!(
        "$ cargo run --release -p sixfs-bench -- {}",
        command.join(" ")
    );
    // The main workloads beside the BTreeMap, then the others alone.
    let parts = [
        (&sizes, &WORKLOADS[..], true),
        (&more_sizes, &MORE_WORKLOADS[..], false),
    ];
    for (sizes, names, with_map) in parts {
        for &size in sizes {
            for threads in [1u32, 2] {
                for &name in names {
                    let workload = Workload::from_name(name).ok_or("unknown workload")?;
                    // The best of `tries` runs each, sixfs's and the map's
                    // alternating so that both meet the same machine.
                    let (mut ours, mut map) = (None, None);
                    for _ in 0..tries.max(1) {
                        let m = run(workload, size, threads, node_size)
                            .map_err(|e| format!("sixfs {name}: {e:?}"))?;
                        ours = Some(faster(ours, m));
                        if with_map {
                            map = Some(faster(map, run_map(name, size, threads)));
                        }
                    }
                    for (source, best) in [("sixfs", ours), ("btreemap", map)] {
                        if let Some(m) = best {
                            report(source, name, m);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The faster of `best` so far and `m`.
fn faster(best: Option<Measurement>, m: Measurement) -> Measurement {
    match best {
        Some(b) if b.nanos <= m.nanos => b,
        _ => m,
    }
}

/// A comma-separated list of counts (`10K,1M`), the value of `option`.
fn counts(option: &str, list: &str) -> Result<Vec<u64>, String> {
    list.split(',')
        .map(|s| parse_count(s).ok_or(format!("{option}: bad count {s}")))
        .collect()
}
