#![cfg(not(loom))]
use sixfs_core::btree::interact::{interact, setup, InteractParams};
use sixfs_core::btree::{Btree, BtreeParams};
#[test]
fn many() {
    for seed in 0..200u64 {
        for (ns, th, inj) in [(1024usize, 4usize, 50_000u32), (512, 2, 0), (1024, 2, 50_000)] {
            let b = Btree::new(BtreeParams { node_size: ns }).unwrap();
            setup(&b).unwrap();
            let p = InteractParams { threads: th, ops: 3000, max_ns: 10_000_000_000, inject_ppm: inj, seed: seed * 7919 + 1 };
            if let Err(e) = interact(&b, p) { panic!("seed {} ns {} th {} inj {}: {:?}", seed*7919+1, ns, th, inj, e); }
        }
    }
}
