// SPDX-License-Identifier: GPL-2.0

//! The btree stress test on threads, with and without injected restarts.

// The btree is not built under loom (see src/lib.rs).
#![cfg(not(loom))]

use sixfs_core::btree::stress::{stress, StressParams};
use sixfs_core::btree::{Btree, BtreeParams};

fn run(node_size: usize, inject_ppm: u32, threads: usize) {
    let b = Btree::new(BtreeParams { node_size }).expect("btree");
    let params = StressParams {
        threads,
        keys_per_thread: 500,
        ops: 4000,
        max_ns: 5_000_000_000,
        inject_ppm,
        seed: 0x1234_5678,
    };
    let counts = stress(&b, params).expect("stress");
    eprintln!("node {node_size} inject {inject_ppm}: {counts:?}");
    assert!(counts.inserts > 0 && counts.deletes > 0 && counts.lookups > 0 && counts.scanned > 0);
    assert!(counts.extents > 0);
    if inject_ppm > 0 {
        assert!(counts.injected > 0);
    }
}

// Many splits and merges at once: this found the node cache losing nodes
// that threads added out of id order.
#[test]
fn btree_stress_tiny_nodes() {
    run(512, 0, 4);
}

#[test]
fn btree_stress_injected_restarts() {
    run(1024, 100_000, 4);
}

#[test]
fn btree_stress_default_nodes() {
    run(256 << 10, 0, 2);
}
