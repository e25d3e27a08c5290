// SPDX-License-Identifier: GPL-2.0

//! Tests of the device contract and the in-memory device, run by
//! `cargo test` and as the KUnit suite `sixfs_memory_device`.

use super::memory::{Faults, IoStats, MemoryDevice, PowerLoss, PowerLossReport};
use super::{check_range, Device, DeviceError, IoKind, EIO, SECTOR_SIZE};
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, ok, test_suite};

const SIZE: u64 = 64 * 1024;
const SECTOR: u64 = SECTOR_SIZE as u64;

fn filled(byte: u8) -> [u8; 2 * SECTOR_SIZE] {
    [byte; 2 * SECTOR_SIZE]
}

fn read_sector(dev: &MemoryDevice, sector: u64) -> Result<[u8; SECTOR_SIZE], DeviceError> {
    let mut buf = [0u8; SECTOR_SIZE];
    dev.read(sector * SECTOR, &mut buf)?;
    Ok(buf)
}

test_suite! {
    sixfs_memory_device;

    fn misaligned_and_out_of_range_io_is_refused() {
        let dev = ok!(MemoryDevice::new(SIZE));
        let mut buf = [0u8; SECTOR_SIZE];
        check_eq!(dev.read(1, &mut buf), Err(DeviceError::Unaligned { offset: 1, len: SECTOR_SIZE }));
        check_eq!(dev.write(0, &buf[..100]), Err(DeviceError::Unaligned { offset: 0, len: 100 }));
        check_eq!(
            dev.read(SIZE, &mut buf),
            Err(DeviceError::OutOfRange { offset: SIZE, len: SECTOR_SIZE, size: SIZE })
        );
        // An end past u64::MAX is out of range, not an overflow.
        let last = u64::MAX - (u64::MAX % SECTOR);
        check!(matches!(check_range(SIZE, last, SECTOR_SIZE), Err(DeviceError::OutOfRange { .. })));
        check_eq!(dev.read(SIZE, &mut []), Ok(()));
        check!(MemoryDevice::new(SIZE + 1).is_err());
        check_eq!(dev.stats(), IoStats { reads: 1, ..IoStats::default() });
    }

    fn reads_see_writes_before_any_flush() {
        let dev = ok!(MemoryDevice::new(SIZE));
        check_eq!(dev.write(3 * SECTOR, &filled(0xab)), Ok(()));
        check_eq!(read_sector(&dev, 3).map(|s| s[0]), Ok(0xab));
        check_eq!(read_sector(&dev, 4).map(|s| s[SECTOR_SIZE - 1]), Ok(0xab));
        check_eq!(read_sector(&dev, 5).map(|s| s[0]), Ok(0));
        check_eq!(dev.unflushed_sectors(), 2);
        check_eq!(dev.flush(), Ok(()));
        check_eq!(dev.unflushed_sectors(), 0);
    }

    fn failed_reads_and_writes_surface_as_errors() {
        let dev = ok!(MemoryDevice::new(SIZE));
        check_eq!(dev.write(0, &filled(1)), Ok(()));
        dev.set_faults(Faults {
            read: Some(SECTOR..SECTOR + 1),
            write: Some(8 * SECTOR..9 * SECTOR),
            ..Faults::default()
        });
        let mut buf = filled(0);
        // The read covering sector 1 fails; one beside it does not.
        check_eq!(
            dev.read(0, &mut buf),
            Err(DeviceError::Io { kind: IoKind::Read, offset: 0, len: 2 * SECTOR_SIZE, errno: EIO })
        );
        check_eq!(dev.read(0, &mut buf[..SECTOR_SIZE]), Ok(()));
        check_eq!(buf[0], 1);
        // A failed write changes nothing.
        check!(matches!(
            dev.write(7 * SECTOR, &filled(2)),
            Err(DeviceError::Io { kind: IoKind::Write, .. })
        ));
        check_eq!(read_sector(&dev, 7).map(|s| s[0]), Ok(0));
        check_eq!(dev.write(9 * SECTOR, &filled(2)), Ok(()));
        // Healed, everything works again.
        dev.set_faults(Faults::default());
        check_eq!(dev.read(0, &mut buf), Ok(()));
        check_eq!(dev.stats().failed, 2);
    }

    fn a_dying_device_fails_every_write_after_the_last_good_one() {
        let dev = ok!(MemoryDevice::new(SIZE));
        dev.set_faults(Faults { writes_until_failure: Some(2), ..Faults::default() });
        check_eq!(dev.write(0, &filled(1)), Ok(()));
        check_eq!(dev.write(2 * SECTOR, &filled(1)), Ok(()));
        for sector in 4..8 {
            check!(dev.write(sector * SECTOR, &filled(1)).is_err());
        }
        check_eq!(read_sector(&dev, 4).map(|s| s[0]), Ok(0));
    }

    fn a_failed_flush_makes_nothing_durable() {
        let dev = ok!(MemoryDevice::new(SIZE));
        check_eq!(dev.write(0, &filled(7)), Ok(()));
        dev.set_faults(Faults { flush: true, ..Faults::default() });
        check_eq!(
            dev.flush(),
            Err(DeviceError::Io { kind: IoKind::Flush, offset: 0, len: 0, errno: EIO })
        );
        check_eq!(dev.unflushed_sectors(), 2);
        dev.power_loss(PowerLoss::DropUnflushed);
        check_eq!(read_sector(&dev, 0).map(|s| s[0]), Ok(0));
    }

    fn power_loss_drops_what_was_not_flushed() {
        let dev = ok!(MemoryDevice::new(SIZE));
        check_eq!(dev.write(0, &filled(1)), Ok(()));
        check_eq!(dev.flush(), Ok(()));
        check_eq!(dev.write(0, &filled(2)), Ok(()));
        check_eq!(dev.write(10 * SECTOR, &filled(3)), Ok(()));
        let report = dev.power_loss(PowerLoss::DropUnflushed);
        check_eq!(report, PowerLossReport { unflushed: 4, kept: 0 });
        check_eq!(read_sector(&dev, 0).map(|s| s[0]), Ok(1));
        check_eq!(read_sector(&dev, 10).map(|s| s[0]), Ok(0));
        check_eq!(dev.unflushed_sectors(), 0);
    }

    fn power_loss_may_keep_everything() {
        let dev = ok!(MemoryDevice::new(SIZE));
        check_eq!(dev.write(0, &filled(1)), Ok(()));
        check_eq!(dev.power_loss(PowerLoss::KeepUnflushed), PowerLossReport { unflushed: 2, kept: 2 });
        check_eq!(read_sector(&dev, 1).map(|s| s[0]), Ok(1));
        // Kept means durable: a second power loss keeps it too.
        dev.power_loss(PowerLoss::DropUnflushed);
        check_eq!(read_sector(&dev, 1).map(|s| s[0]), Ok(1));
    }

    fn torn_writes_keep_each_sector_whole_and_replay_by_seed() {
        // 32 sectors of unflushed data over a flushed pattern: after a tear
        // each sector is entirely old or entirely new, and the same seed
        // tears the same way.
        let mut outcomes = [[false; 32]; 2];
        for outcome in outcomes.iter_mut() {
            let dev = ok!(MemoryDevice::new(SIZE));
            // On the heap: a kernel stack has 16 KiB in all.
            let mut old = Vec::new();
            ok!(old.try_extend_with(32 * SECTOR_SIZE, 0x11u8));
            let mut new = Vec::new();
            ok!(new.try_extend_with(32 * SECTOR_SIZE, 0x22u8));
            check_eq!(dev.write(0, &old), Ok(()));
            check_eq!(dev.flush(), Ok(()));
            check_eq!(dev.write(0, &new), Ok(()));
            let report = dev.power_loss(PowerLoss::Tear { seed: 42 });
            check_eq!(report.unflushed, 32);
            let mut kept = 0;
            for (sector, survived) in outcome.iter_mut().enumerate() {
                let bytes = ok!(read_sector(&dev, sector as u64));
                check!(bytes.iter().all(|&b| b == bytes[0]));
                check!(bytes[0] == 0x11 || bytes[0] == 0x22);
                *survived = bytes[0] == 0x22;
                kept += u64::from(*survived);
            }
            check_eq!(kept, report.kept);
            // Some of each, with this seed (a coin per sector).
            check!(kept > 0 && kept < 32);
        }
        check_eq!(outcomes[0], outcomes[1]);
    }

    fn flushed_writes_survive_every_power_loss() {
        for how in [PowerLoss::DropUnflushed, PowerLoss::KeepUnflushed, PowerLoss::Tear { seed: 7 }] {
            let dev = ok!(MemoryDevice::new(SIZE));
            check_eq!(dev.write(SIZE - 2 * SECTOR, &filled(9)), Ok(()));
            check_eq!(dev.flush(), Ok(()));
            check!(!dev.is_unflushed(SIZE / SECTOR - 1));
            dev.power_loss(how);
            check_eq!(read_sector(&dev, SIZE / SECTOR - 1).map(|s| s[0]), Ok(9));
        }
    }

    fn a_fua_write_survives_every_power_loss() {
        for how in [PowerLoss::DropUnflushed, PowerLoss::KeepUnflushed, PowerLoss::Tear { seed: 7 }] {
            let dev = ok!(MemoryDevice::new(SIZE));
            check_eq!(dev.write_fua(SIZE - 2 * SECTOR, &filled(9)), Ok(()));
            check!(!dev.is_unflushed(SIZE / SECTOR - 1));
            dev.power_loss(how);
            check_eq!(read_sector(&dev, SIZE / SECTOR - 1).map(|s| s[0]), Ok(9));
        }
    }
}
