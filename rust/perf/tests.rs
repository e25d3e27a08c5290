// SPDX-License-Identifier: GPL-2.0

//! Tests of the perf test plumbing, run by `cargo test` and as the KUnit
//! suite `sixfs_perf`.

use super::btree::{self, Workload};
use super::{measure, parse_command, parse_count, Command, CommandError, Measurement, Rng};
use crate::device::memory::MemoryDevice;
use crate::format::geometry::{Geometry, GeometryChoice};
use crate::format::label::Label;
use crate::format::superblock::Superblock;
use crate::platform::sort::heap_sort_by_key;
use crate::platform::sync::{AtomicU64, Ordering};
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, ok, test_suite};
use crate::store::{self, OpenOptions, Store};

test_suite! {
    sixfs_perf;

    fn workloads_on_a_store_persist_and_verify() {
        let dev = ok!(MemoryDevice::new(16 << 20));
        let choice = GeometryChoice {
            block_size: Some(512),
            bucket_size: Some(8192),
            node_size: Some(1024),
        };
        let sb = Superblock::new(
            ok!(Geometry::for_device(16 << 20, choice)),
            [1; 16],
            ok!(Label::new("")),
        );
        ok!(store::format(&dev, &sb));
        // Fewer keys under the debug kernel, where a case must end within
        // the hung task timeout (a minute).
        let n: u64 = if cfg!(sixfs_kernel) { 1000 } else { 4000 };
        let r = n / 2;
        let opts = OpenOptions { read_only: false, cache_nodes: 64, ..OpenOptions::default() };
        let (s, _) = ok!(Store::open(&dev, opts));
        let target = btree::Target { btree: &s.btree, store: Some(&s) };
        ok!(btree::run_on(target, Workload::SeqInsert, n, 2));
        ok!(btree::run_on(target, Workload::RandInsert, r, 2));
        ok!(btree::run_on(target, Workload::RandLookup, n / 4, 1));
        check!(s.stats().nodes_evicted > 0);
        ok!(s.close());
        drop(s);
        let (s, _) = ok!(Store::open(&dev, opts));
        let target = btree::Target { btree: &s.btree, store: Some(&s) };
        check_eq!(btree::verify(target, Workload::SeqInsert, n, 2), Ok(0));
        check_eq!(btree::verify(target, Workload::RandInsert, r, 2), Ok(0));
        // A count or thread split that was not written is found missing.
        check!(ok!(btree::verify(target, Workload::SeqInsert, n + 1000, 2)) > 0);
        check!(ok!(btree::verify(target, Workload::RandInsert, r, 3)) > 0);
        // The mount's perf_test commands over the same store.
        use super::mounted::{parse_mounted, run_mounted, MountedCommand, MountedError, Outcome};
        check_eq!(parse_mounted("verify seq_insert 4K 2"), Ok(MountedCommand::Verify(Workload::SeqInsert, 4000, 2)));
        check_eq!(parse_mounted("rand_insert 10 1"), Ok(MountedCommand::Run(Workload::RandInsert, 10, 1)));
        check_eq!(parse_mounted(" sync "), Ok(MountedCommand::Sync));
        check_eq!(parse_mounted("six_read 10 1"), Err(MountedError::UnknownWorkload));
        check!(matches!(parse_mounted("verify"), Err(MountedError::Parse(_))));
        check!(matches!(run_mounted(&s, MountedCommand::Verify(Workload::SeqInsert, n, 2)), Ok(Outcome::Verified(v)) if v == n));
        check!(matches!(run_mounted(&s, MountedCommand::Run(Workload::SeqOverwrite, n, 1)), Ok(Outcome::Measured("seq_overwrite", _))));
        let synced = ok!(run_mounted(&s, MountedCommand::Sync));
        check!(matches!(synced, Outcome::Synced { nodes, bytes, .. } if nodes > 0 && bytes > 0));
        check!(matches!(run_mounted(&s, MountedCommand::Check), Ok(Outcome::Checked { keys, .. }) if keys >= n));
        check!(matches!(run_mounted(&s, MountedCommand::Reset), Ok(Outcome::Reset(k)) if k >= n));
        check_eq!(run_mounted(&s, MountedCommand::Verify(Workload::RandInsert, r, 2)), Err(MountedError::Missing(r)));
        check!(matches!(run_mounted(&s, MountedCommand::Reset), Ok(Outcome::Reset(0))));
        ok!(btree::run_on(target, Workload::SeqInsert, n, 2));
        ok!(btree::run_on(target, Workload::SeqDelete, n, 2));
        check_eq!(btree::verify(target, Workload::SeqInsert, n, 2), Ok(n));
        check!(ok!(s.check(|_| {})).is_clean());
    }

    fn parses_commands_and_refuses_bad_ones() {
        check_eq!(parse_command("six_read 10M 2"), Ok(Command { name: "six_read", count: 10_000_000, threads: 2 }));
        check_eq!(parse_command("  a 5 1 "), Ok(Command { name: "a", count: 5, threads: 1 }));
        check_eq!(parse_command("a 5"), Err(CommandError::Syntax));
        check_eq!(parse_command("a 5 1 x"), Err(CommandError::Syntax));
        check_eq!(parse_command("a x 1"), Err(CommandError::BadCount));
        check_eq!(parse_command("a 0 1"), Err(CommandError::BadCount));
        check_eq!(parse_command("a 1 2"), Err(CommandError::BadCount));
        check_eq!(parse_command("a 5 0"), Err(CommandError::BadThreads));
        check_eq!(parse_command("a 500 65"), Err(CommandError::BadThreads));
        check_eq!(parse_count("20000000000G"), None);
        check_eq!(parse_count("3k"), Some(3000));
        check_eq!(parse_count("G"), None);
    }

    fn verify_takes_an_insert_threads_keys_in_order() {
        // Several sorted runs merged: every key the thread wrote, once
        // each, in order.
        let n = btree::VERIFY_RUN * 5 / 2 + 7;
        let mut want = ok!(Vec::try_with_capacity(n as usize));
        let mut rng = btree::rng_of(1);
        for _ in 0..n {
            ok!(want.try_push(rng.next_u64()));
        }
        heap_sort_by_key(&mut want, |&o| o);
        let mut sorted = ok!(btree::SortedKeys::new(Workload::RandInsert, 1, n));
        for &w in want.iter() {
            check_eq!(sorted.next(), Some(w));
        }
        check_eq!(sorted.next(), None);
        let mut seq = ok!(btree::SortedKeys::new(Workload::SeqInsert, 2, 3));
        check_eq!((seq.next(), seq.next(), seq.next(), seq.next()), (Some(6), Some(7), Some(8), None));
    }

    fn rng_is_deterministic_and_bounded() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let mut differs = false;
        for _ in 0..1000 {
            let x = a.below(10);
            check!(x < 10);
            check_eq!(x, b.below(10));
            check_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = Rng::new(43);
        for _ in 0..10 {
            differs |= a.next_u64() != c.next_u64();
        }
        check!(differs);
    }

    fn measure_runs_every_iteration_once() {
        let done = AtomicU64::new(0);
        let m = measure(c"sixfs_perf_test", 1000, 3, &|_thread, iters| {
            for _ in 0..iters {
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
        check_eq!(m.map(|m| (m.count, m.threads)), Ok((999, 3)));
        check_eq!(done.load(Ordering::Relaxed), 999);
    }

    fn reports_in_bcachefs_format() {
        let m = Measurement { count: 2_000_000, threads: 2, nanos: 1_000_000_000 };
        check_eq!(m.nanos_per_iter(), 1000);
        check_eq!(m.per_sec(), 2_000_000);
        let huge = Measurement { count: u64::MAX / 2, threads: 1, nanos: 4_000_000_000 };
        check_eq!(huge.per_sec(), u64::MAX / 2 / 4);
    }

    fn every_btree_workload_runs() {
        for (_, workload) in Workload::ALL {
            // Small nodes, so that even a few hundred keys split them.
            let m = btree::run(workload, 160, 2, 1024);
            check_eq!(m.map(|m| m.count), Ok(160));
        }
    }
}
