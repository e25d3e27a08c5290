// SPDX-License-Identifier: GPL-2.0

//! `store`: the perf_test workloads on a journaled store over an in-memory
//! device (what a mount runs, without the kernel), beside the same
//! workloads on the btree alone; for profiling where persistence costs
//! (`perf record` on this binary) and for a first look without a guest.
//! Prints bcachefs-format report lines, `store: ...` and `memory: ...`,
//! then the store's counters after each run; `--targets store` leaves the
//! btree-alone runs out (for a profile of the store's alone).

use sixfs_core::device::memory::MemoryDevice;
use sixfs_core::format::geometry::{Geometry, GeometryChoice};
use sixfs_core::format::label::Label;
use sixfs_core::format::superblock::Superblock;
use sixfs_core::perf::btree::{run, run_on, Target, Workload};
use sixfs_core::perf::{parse_count, Report};
use sixfs_core::store::{self, OpenOptions, Store};

const WORKLOADS: [&str; 9] = [
    "rand_insert",
    "rand_insert_multi",
    "rand_lookup",
    "rand_mixed",
    "rand_delete",
    "seq_insert",
    "seq_lookup",
    "seq_overwrite",
    "seq_delete",
];

/// A fresh, formatted in-memory device of `bytes` with `node_size` nodes.
fn device(bytes: u64, node_size: u32) -> Result<MemoryDevice, String> {
    let dev = MemoryDevice::new(bytes).map_err(|e| format!("device: {e:?}"))?;
    let choice = GeometryChoice {
        node_size: Some(node_size),
        ..GeometryChoice::default()
    };
    let geometry = Geometry::for_device(bytes, choice).map_err(|e| format!("geometry: {e:?}"))?;
    let sb = Superblock::new(
        geometry,
        [1; 16],
        Label::new("bench").map_err(|e| format!("{e:?}"))?,
    );
    store::format(&dev, &sb).map_err(|e| format!("mkfs: {e}"))?;
    Ok(dev)
}

pub fn main(args: &[String]) -> Result<(), String> {
    let mut sizes = vec![100_000];
    let mut node_size = 4096u32;
    let mut device_mib = 512u64;
    let mut cache_mib = 0usize;
    let mut workloads: Vec<String> = WORKLOADS.iter().map(|s| s.to_string()).collect();
    let mut threads_list = vec![1u32, 2];
    let mut targets = vec!["store".to_string(), "memory".to_string()];
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = || rest.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--sizes" => {
                sizes = value()?
                    .split(',')
                    .map(|s| parse_count(s).ok_or(format!("--sizes: bad count {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--node-size" => {
                node_size = value()?.parse().map_err(|e| format!("--node-size: {e}"))?
            }
            "--device-mib" => {
                device_mib = value()?.parse().map_err(|e| format!("--device-mib: {e}"))?
            }
            "--cache-mib" => {
                cache_mib = value()?.parse().map_err(|e| format!("--cache-mib: {e}"))?
            }
            "--workloads" => workloads = value()?.split(',').map(str::to_string).collect(),
            "--targets" => {
                targets = value()?.split(',').map(str::to_string).collect();
                if let Some(t) = targets
                    .iter()
                    .find(|t| !["store", "memory"].contains(&t.as_str()))
                {
                    return Err(format!("--targets: unknown target {t} (store, memory)"));
                }
            }
            "--threads" => {
                threads_list = value()?
                    .split(',')
                    .map(|s| s.parse().map_err(|e| format!("--threads: {e}")))
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    for &size in &sizes {
        for &threads in &threads_list {
            for name in &workloads {
                let workload =
                    Workload::from_name(name).ok_or(format!("unknown workload {name}"))?;
                if targets.iter().any(|t| t == "store") {
                    run_store(
                        workload, name, size, threads, node_size, device_mib, cache_mib,
                    )?;
                }
                if targets.iter().any(|t| t == "memory") {
                    let m = run(workload, size, threads, node_size as usize)
                        .map_err(|e| format!("memory {name}: {e:?}"))?;
                    println!(
                        "memory: {}",
                        Report {
                            name,
                            measurement: m
                        }
                    );
                }
            }
        }
    }
    Ok(())
}

/// One run of `workload` on a store over a fresh in-memory device.
fn run_store(
    workload: Workload,
    name: &str,
    size: u64,
    threads: u32,
    node_size: u32,
    device_mib: u64,
    cache_mib: usize,
) -> Result<(), String> {
    let dev = device(device_mib << 20, node_size)?;
    let opts = OpenOptions {
        cache_bytes: cache_mib << 20,
        ..OpenOptions::default()
    };
    let (s, _) = Store::open(&dev, opts).map_err(|e| format!("open: {e}"))?;
    let target = Target {
        btree: &s.btree,
        store: Some(&s),
    };
    let m = run_on(target, workload, size, threads).map_err(|e| format!("store {name}: {e:?}"))?;
    println!(
        "store: {}",
        Report {
            name,
            measurement: m
        }
    );
    println!("  {:?}", s.stats());
    Ok(())
}
