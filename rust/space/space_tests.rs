// SPDX-License-Identifier: GPL-2.0

//! Tests of bucket allocation, run by `cargo test` and as the KUnit suite
//! `sixfs_space`.

use super::{Space, SpaceError};
use crate::format::geometry::Geometry;
use crate::format::space_map::{self, Bucket, BucketKind, SpaceMapLocation};
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, ok, test_suite};

/// 16 buckets of 4 KiB with 1 KiB nodes: buckets 2 (the space map's two
/// copies: 2 and 3) .. 15 are data.
fn small() -> Result<(Geometry, Vec<Bucket>), crate::platform::TestFailed> {
    let g = Geometry {
        block_size: 512,
        bucket_size: 4096,
        node_size: 1024,
        block_count: 16 * 8,
    };
    let loc = SpaceMapLocation {
        first_bucket: g.data_buckets().start,
        bucket_count: SpaceMapLocation::buckets_needed(&g),
    };
    let records = ok!(space_map::initial(&g, &loc, 0..0));
    Ok((g, records))
}

test_suite! {
    sixfs_space;

    fn slots_are_handed_out_once_until_full() {
        let (g, records) = small()?;
        let free = records.iter().filter(|r| r.kind == BucketKind::Free).count() as u64;
        let space = ok!(Space::new(&g, &records, 0));
        let mut seen = Vec::new();
        loop {
            match space.alloc_slot(false) {
                Ok(sector) => {
                    check!(!seen.iter().any(|&s| s == sector));
                    // Aligned to a node, inside a data bucket.
                    check_eq!(sector * 512 % 1024, 0);
                    check!(g.data_bytes().contains(&(sector * 512)));
                    ok!(seen.try_push(sector));
                }
                Err(e) => {
                    check_eq!(e, SpaceError::NoSpace);
                    break;
                }
            }
        }
        check_eq!(seen.len() as u64, free * 4);
        check_eq!(space.stats().free, 0);
    }

    fn a_freed_slot_comes_back_only_after_the_checkpoint() {
        let (g, records) = small()?;
        let space = ok!(Space::new(&g, &records, 0));
        let mut all = Vec::new();
        while let Ok(s) = space.alloc_slot(false) {
            ok!(all.try_push(s));
        }
        // Free the four slots of the first bucket: still no space.
        for &s in all.iter().take(4) {
            check_eq!(space.free_slot(s), Ok(()));
        }
        check_eq!(space.alloc_slot(false), Err(SpaceError::NoSpace));
        // The image a checkpoint writes already shows the bucket free.
        let mut image = ok!(space_map::initial(&g, &SpaceMapLocation::default(), 0..0));
        space.image(&mut image);
        check_eq!(image.iter().filter(|r| r.kind == BucketKind::Free).count(), 1);
        space.checkpoint_done();
        let again = ok!(space.alloc_slot(false));
        check!(all.iter().take(4).any(|&s| s == again));
    }

    fn a_partly_freed_bucket_is_not_reused() {
        let (g, records) = small()?;
        let space = ok!(Space::new(&g, &records, 0));
        let mut all = Vec::new();
        while let Ok(s) = space.alloc_slot(false) {
            ok!(all.try_push(s));
        }
        for &s in all.iter().take(3) {
            check_eq!(space.free_slot(s), Ok(()));
        }
        space.checkpoint_done();
        check_eq!(space.alloc_slot(false), Err(SpaceError::NoSpace));
        check_eq!(space.stats().slots_used, all.len() as u64 - 3);
    }

    fn the_reserve_is_for_checkpoints() {
        let (g, records) = small()?;
        let space = ok!(Space::new(&g, &records, 2));
        let mut n = 0;
        while space.alloc_slot(false).is_ok() {
            n += 1;
        }
        let mut reserved = 0;
        while space.alloc_slot(true).is_ok() {
            reserved += 1;
        }
        check_eq!(reserved, 2 * 4);
        check!(n > 0);
    }

    fn frees_of_slots_not_in_use_are_refused() {
        let (g, records) = small()?;
        let space = ok!(Space::new(&g, &records, 0));
        let s = ok!(space.alloc_slot(false));
        // Not node-aligned, a free bucket, the space map's bucket.
        check!(space.free_slot(s + 1).is_err());
        check!(space.free_slot(s + 8 * 4).is_err());
        check!(space.free_slot(2 * 8).is_err());
        // Twice the same slot: the second is one too many.
        check_eq!(space.free_slot(s), Ok(()));
        check!(space.free_slot(s).is_err());
    }

    fn a_reset_replaces_records_and_forgets_the_open_bucket() {
        let (g, records) = small()?;
        let space = ok!(Space::new(&g, &records, 0));
        let first = ok!(space.alloc_slot(false));
        ok!(space.free_slot(first));
        // The rebuilt records: the first slot's bucket in use by 2 nodes,
        // the next free bucket too, by 1.
        let mut rebuilt = Vec::new();
        for r in records.iter() {
            ok!(rebuilt.try_push(*r));
        }
        let bucket = (first * 512 / 4096) as usize;
        let mut btree = 0;
        for (i, r) in rebuilt.iter_mut().enumerate() {
            if i == bucket || (i > bucket && r.kind == BucketKind::Free && btree == 1) {
                *r = Bucket { kind: BucketKind::Btree, used: 2 - btree };
                btree += 1;
            }
        }
        check_eq!(btree, 2);
        space.reset(&rebuilt);
        let mut image = Vec::new();
        ok!(image.try_extend_with(rebuilt.len(), Bucket::FREE));
        space.image(&mut image);
        // No pending free survives the reset.
        check!(image[..] == rebuilt[..]);
        let stats = space.stats();
        check_eq!(stats.btree, 2);
        check_eq!(stats.slots_used, 3);
        let free = rebuilt.iter().filter(|r| r.kind == BucketKind::Free).count() as u64;
        check_eq!(stats.free, free);
        // The next slot comes from a free bucket, not the one open before.
        let next = ok!(space.alloc_slot(false));
        check!(rebuilt[(next * 512 / 4096) as usize].kind == BucketKind::Free);
    }
}
