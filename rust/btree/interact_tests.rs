// SPDX-License-Identifier: GPL-2.0

//! Transactions that meet (`interact.rs`) in the size meant for the KUnit
//! suite `sixfs_btree_interact`: kthreads on both vCPUs under lockdep,
//! KASAN and PREEMPT, or std threads under `cargo test`, whose
//! transactions read and write the same accounts and the same file.
//! `tools/sixfs-core/tests/btree_interact.rs` runs bigger ones.

use super::interact::{interact, setup, InteractParams};
use super::{Btree, BtreeParams, RestartReason};
use crate::platform::{check, ok, test_info, test_suite};

/// Small enough for a debug kernel in an emulator: bounded by operations
/// and, whatever the speed, by time.
fn params(threads: usize, inject_ppm: u32) -> InteractParams {
    InteractParams {
        threads,
        ops: 400,
        max_ns: 20_000_000_000,
        inject_ppm,
        seed: 0x1e7,
    }
}

fn run(node_size: usize, params: InteractParams) -> crate::platform::TestResult {
    let b = ok!(Btree::new(BtreeParams { node_size }));
    ok!(setup(&b));
    let counts = ok!(interact(&b, params));
    test_info!(
        "sixfs_btree_interact: {} threads, {}-byte nodes: {} transfers, {} snapshots, {} scans, {} churns, {} extents; restarts {} (relock {}, lock order {}, upgrade {}, write lock {}, split {}, injected {})",
        params.threads,
        node_size,
        counts.transfers,
        counts.snapshots,
        counts.scans,
        counts.churns,
        counts.extents,
        counts.restarts(),
        counts.by_reason[RestartReason::Relock as usize],
        counts.by_reason[RestartReason::LockOrder as usize],
        counts.by_reason[RestartReason::Upgrade as usize],
        counts.by_reason[RestartReason::WriteLock as usize],
        counts.by_reason[RestartReason::Split as usize],
        counts.by_reason[RestartReason::Injected as usize],
    );
    check!(counts.transfers > 0 && counts.snapshots > 0 && counts.extents > 0);
    check!(counts.scans > 0 && counts.churns > 0);
    Ok(())
}

test_suite! {
    sixfs_btree_interact;

    fn two_threads_on_tiny_nodes() {
        run(512, params(2, 0))?;
    }

    fn four_threads_with_injected_restarts() {
        run(1024, params(4, 50_000))?;
    }
}
