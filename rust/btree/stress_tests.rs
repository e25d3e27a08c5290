// SPDX-License-Identifier: GPL-2.0

//! The btree stress test in the size meant for the KUnit suite
//! `sixfs_btree_stress` (kernel threads on both CPUs inserting, deleting,
//! looking up, scanning and overwriting extents, checked against per-thread
//! models, with and without injected restarts). `cargo test` also runs
//! bigger ones: tools/sixfs-core/tests/btree_stress.rs.

use super::stress::{stress, StressParams};
use super::{Btree, BtreeParams};
use crate::platform::{check, check_eq, test_suite};

/// Small enough for a debug kernel in an emulator: bounded by operations
/// and, whatever the speed, by time.
fn params(threads: usize, inject_ppm: u32) -> StressParams {
    StressParams {
        threads,
        keys_per_thread: 100,
        ops: 600,
        max_ns: 20_000_000_000,
        inject_ppm,
        seed: 0x5eed,
    }
}

test_suite! {
    sixfs_btree_stress;

    fn two_threads_on_tiny_nodes() {
        let btree = Btree::new(BtreeParams { node_size: 512 });
        check!(btree.is_ok());
        if let Ok(btree) = btree {
            let counts = stress(&btree, params(2, 0));
            check_eq!(counts.err(), None);
            if let Ok(counts) = counts {
                check!(counts.inserts > 0 && counts.lookups > 0 && counts.scanned > 0);
            }
        }
    }

    fn three_threads_with_injected_restarts() {
        let btree = Btree::new(BtreeParams { node_size: 1024 });
        check!(btree.is_ok());
        if let Ok(btree) = btree {
            let counts = stress(&btree, params(3, 100_000));
            check_eq!(counts.err(), None);
            if let Ok(counts) = counts {
                check!(counts.injected > 0);
            }
        }
    }
}
