// SPDX-License-Identifier: GPL-2.0

//! The six lock torture test as the KUnit suite `sixfs_six_torture` (on
//! kernel threads, under lockdep and KASAN) and as a `cargo test`.

use super::torture::{torture, TortureConfig};
use crate::platform::{check, check_eq, test_suite};

test_suite! {
    sixfs_six_torture;

    fn four_threads_on_two_locks() {
        let result = torture(TortureConfig { threads: 4, locks: 2, ops: 20_000 });
        check_eq!(result.map(|s| s.ops), Ok(80_000));
        if let Ok(stats) = result {
            // Both sides of the relock check ran. (Whether a relock went
            // stale depends on the interleaving, so that is not required.)
            check!(stats.writes > 0);
            check!(stats.relocks > 0);
            // Read and write waits abandoned next to other lockers, and
            // writes with readers_add: some of each are bound to happen
            // (some waits can only end by giving up).
            check!(stats.read_aborts > 0);
            check!(stats.write_aborts > 0);
            check!(stats.readers_adds > 0);
        }
    }

    fn two_threads_on_one_lock() {
        let result = torture(TortureConfig { threads: 2, locks: 1, ops: 20_000 });
        check_eq!(result.map(|s| s.ops), Ok(40_000));
    }
}
