// SPDX-License-Identifier: GPL-2.0

//! Thousands of power cuts in the middle of superblock updates, on the
//! in-memory device: whatever the cut (after any number of writes, with a
//! failing flush, the unflushed sectors dropped, kept or torn), a valid
//! superblock remains; it is never older than the last update that was
//! acknowledged, nor newer than the last one attempted. A failure prints
//! the seed that replays it (`SIXFS_CRASH_SEED`).

use sixfs_core::device::memory::{Faults, MemoryDevice, PowerLoss};
use sixfs_core::format::geometry::{Geometry, GeometryChoice};
use sixfs_core::format::label::Label;
use sixfs_core::format::superblock::Superblock;
use sixfs_core::format::superblock_io::{read_superblocks, write_superblocks};
use sixfs_core::platform::rng::Rng;

const DEVICE_BYTES: u64 = 128 << 10;

fn one_life(seed: u64) {
    let mut rng = Rng::new(seed);
    let dev = MemoryDevice::new(DEVICE_BYTES).unwrap();
    let choice = GeometryChoice {
        bucket_size: Some(8192),
        node_size: Some(4096),
        ..GeometryChoice::default()
    };
    let geometry = Geometry::for_device(DEVICE_BYTES, choice).unwrap();
    let mut sb = Superblock::new(geometry, [3; 16], Label::new("crash").unwrap());
    write_superblocks(&dev, &sb).unwrap();
    let mut acknowledged = sb.seq;
    for _ in 0..8 {
        // The next update, perhaps cut short.
        sb.seq += 1;
        sb.clean = rng.below(2) == 0;
        let faults = match rng.below(4) {
            0 => Faults::default(),
            1 => Faults {
                flush: true,
                ..Faults::default()
            },
            _ => Faults {
                writes_until_failure: Some(rng.below(3)),
                ..Faults::default()
            },
        };
        dev.set_faults(faults);
        if write_superblocks(&dev, &sb).is_ok() {
            acknowledged = sb.seq;
        }
        let how = match rng.below(3) {
            0 => PowerLoss::DropUnflushed,
            1 => PowerLoss::KeepUnflushed,
            _ => PowerLoss::Tear {
                seed: rng.next_u64(),
            },
        };
        dev.power_loss(how);
        dev.set_faults(Faults::default());
        let copies = read_superblocks(&dev);
        let Some((_, newest)) = copies.newest() else {
            panic!("seed {seed}: no valid superblock after a cut ({copies:?})");
        };
        assert!(
            newest.seq >= acknowledged && newest.seq <= sb.seq,
            "seed {seed}: sequence {} survived, acknowledged {acknowledged}, attempted {}",
            newest.seq,
            sb.seq
        );
        // The next update starts from what the device holds, as a mount
        // would.
        sb = *newest;
        acknowledged = sb.seq;
    }
}

#[test]
fn every_power_cut_leaves_a_valid_superblock_no_older_than_acknowledged() {
    if let Some(seed) = std::env::var("SIXFS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        one_life(seed);
        return;
    }
    for seed in 0..300 {
        one_life(seed);
    }
}
