// SPDX-License-Identifier: GPL-2.0

//! Tests of the two superblock copies on a device, over the in-memory
//! device with its failures and power losses; run by `cargo test` and as
//! the KUnit suite `sixfs_superblock_io`.

use super::geometry::{Geometry, GeometryChoice, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};
use super::label::Label;
use super::superblock::{Superblock, SuperblockError};
use super::superblock_io::{
    backup_candidates, read_copy, read_superblocks, write_copy, write_superblocks, ReadError,
    SuperblockCopy, WriteError,
};
use crate::device::memory::{Faults, MemoryDevice, PowerLoss};
use crate::device::{Device, DeviceError, IoKind, EIO};
use crate::platform::{check, check_eq, ok, test_suite};

const KIB: u64 = 1024;

/// A 1 MiB device with a filesystem of 8 KiB buckets and 4 KiB nodes:
/// small enough for a KUnit heap.
fn formatted(device_bytes: u64) -> Result<(MemoryDevice, Superblock), DeviceError> {
    let dev = MemoryDevice::new(device_bytes)?;
    let choice = GeometryChoice {
        block_size: Some(4096),
        bucket_size: Some(8192),
        node_size: Some(4096),
    };
    let geometry = Geometry::for_device(device_bytes, choice).map_err(|_| DeviceError::NoMemory)?;
    let sb = Superblock::new(geometry, [7; 16], Label::EMPTY);
    write_superblocks(&dev, &sb).map_err(|_| DeviceError::NoMemory)?;
    Ok((dev, sb))
}

fn zero(dev: &MemoryDevice, offset: u64) -> Result<(), DeviceError> {
    dev.write(offset, &[0u8; 512])
}

test_suite! {
    sixfs_superblock_io;

    fn both_copies_are_written_and_read_back() {
        let (dev, sb) = ok!(formatted(1024 * KIB));
        let copies = read_superblocks(&dev);
        check_eq!(copies.primary, Ok(sb));
        check_eq!(copies.backup, Ok(sb));
        check_eq!(copies.backup_offset, Some(1024 * KIB - SUPERBLOCK_SIZE as u64));
        check_eq!(copies.newest(), Some((SuperblockCopy::Primary, &sb)));
        check_eq!(dev.unflushed_sectors(), 0);
    }

    fn a_lost_primary_is_found_again_from_the_backup() {
        // The device is larger than the filesystem by less than a bucket,
        // so the backup is not in the device's last 4 KiB: the search
        // walks the bucket sizes.
        let (dev, sb) = ok!(formatted(1024 * KIB + 4 * KIB));
        ok!(zero(&dev, SUPERBLOCK_OFFSET));
        let copies = read_superblocks(&dev);
        check_eq!(copies.primary, Err(ReadError::Invalid(SuperblockError::BadMagic)));
        check_eq!(copies.backup, Ok(sb));
        check_eq!(copies.backup_offset, Some(sb.geometry.backup_offset()));
        check_eq!(copies.newest(), Some((SuperblockCopy::Backup, &sb)));
        // Repair: write the primary from the backup.
        check_eq!(write_copy(&dev, SuperblockCopy::Primary, &sb), Ok(()));
        check_eq!(read_superblocks(&dev).primary, Ok(sb));
    }

    fn a_corrupt_backup_leaves_the_primary() {
        let (dev, sb) = ok!(formatted(1024 * KIB));
        // Reserved bytes there: only the checksum notices.
        ok!(dev.write(sb.geometry.backup_offset() + 1024, &[0xa5u8; 512]));
        let copies = read_superblocks(&dev);
        check!(matches!(copies.backup, Err(ReadError::Invalid(SuperblockError::BadChecksum { .. }))));
        check_eq!(copies.newest(), Some((SuperblockCopy::Primary, &sb)));
    }

    fn the_newer_copy_wins() {
        let (dev, mut sb) = ok!(formatted(1024 * KIB));
        sb.seq += 1;
        sb.clean = false;
        check_eq!(write_copy(&dev, SuperblockCopy::Backup, &sb), Ok(()));
        check_eq!(read_superblocks(&dev).newest(), Some((SuperblockCopy::Backup, &sb)));
    }

    fn no_copy_at_all() {
        let dev = ok!(MemoryDevice::new(1024 * KIB));
        let copies = read_superblocks(&dev);
        check_eq!(copies.primary, Err(ReadError::Invalid(SuperblockError::BadMagic)));
        check_eq!(copies.backup, Err(ReadError::NoBackupFound));
        check_eq!(copies.newest(), None);
        let tiny = ok!(MemoryDevice::new(4 * KIB));
        check_eq!(
            read_superblocks(&tiny).primary,
            Err(ReadError::DeviceTooSmall { device_bytes: 4 * KIB })
        );
    }

    fn a_backup_in_the_wrong_place_is_stale() {
        // A filesystem of 1 MiB, then the device's end moved: the backup
        // of the old geometry is found only where it belongs.
        let (dev, sb) = ok!(formatted(1024 * KIB));
        let elsewhere = 512 * KIB - SUPERBLOCK_SIZE as u64;
        let mut buf = crate::platform::vec::Vec::new();
        ok!(buf.try_extend_with(SUPERBLOCK_SIZE, 0u8));
        check_eq!(sb.encode(&mut buf), Ok(()));
        ok!(dev.write(elsewhere, &buf));
        check_eq!(
            read_copy(&dev, SuperblockCopy::Backup, elsewhere),
            Err(ReadError::Misplaced { offset: elsewhere, expected: sb.geometry.backup_offset() })
        );
    }

    fn a_filesystem_larger_than_its_device_is_refused() {
        let (_, sb) = ok!(formatted(1024 * KIB));
        let small = ok!(MemoryDevice::new(512 * KIB));
        check_eq!(
            write_superblocks(&small, &sb),
            Err(WriteError::FilesystemLargerThanDevice { fs_bytes: 1024 * KIB, device_bytes: 512 * KIB })
        );
        // Its primary alone, on a device that shrank.
        check!(write_copy(&small, SuperblockCopy::Primary, &sb).is_err());
    }

    fn device_errors_surface_as_errors() {
        let (dev, sb) = ok!(formatted(1024 * KIB));
        dev.set_faults(Faults { read: Some(SUPERBLOCK_OFFSET..SUPERBLOCK_OFFSET + 1), ..Faults::default() });
        let copies = read_superblocks(&dev);
        check_eq!(
            copies.primary,
            Err(ReadError::Device(DeviceError::Io {
                kind: IoKind::Read,
                offset: SUPERBLOCK_OFFSET,
                len: SUPERBLOCK_SIZE,
                errno: EIO,
            }))
        );
        check_eq!(copies.backup, Ok(sb));
        dev.set_faults(Faults { writes_until_failure: Some(1), ..Faults::default() });
        check!(matches!(
            write_superblocks(&dev, &sb),
            Err(WriteError::Device(DeviceError::Io { kind: IoKind::Write, .. }))
        ));
        dev.set_faults(Faults { flush: true, ..Faults::default() });
        check!(matches!(
            write_superblocks(&dev, &sb),
            Err(WriteError::Device(DeviceError::Io { kind: IoKind::Flush, .. }))
        ));
    }

    fn a_power_loss_during_an_update_leaves_a_valid_copy() {
        // Cut the power after 0, 1 or 2 writes of an update to sequence 2,
        // tearing what was not flushed: one copy is always valid, with the
        // old or the new contents.
        for writes in 0..3u64 {
            for seed in 0..8u64 {
                let (dev, old) = ok!(formatted(1024 * KIB));
                let mut new = old;
                new.seq = 2;
                new.clean = false;
                dev.set_faults(Faults { writes_until_failure: Some(writes), ..Faults::default() });
                let result = write_superblocks(&dev, &new);
                check_eq!(result.is_ok(), writes == 2);
                dev.power_loss(PowerLoss::Tear { seed });
                dev.set_faults(Faults::default());
                let copies = read_superblocks(&dev);
                let newest = copies.newest().map(|(_, sb)| *sb);
                check!(newest == Some(old) || newest == Some(new));
                if writes == 2 {
                    check_eq!(newest, Some(new));
                }
            }
        }
    }

    fn a_power_loss_before_the_first_flush_tears_only_the_first_copy() {
        // Both copies equal: the backup is written first. Its flush fails,
        // so it is unflushed when the power goes: torn sector by sector, it
        // may be old, new or invalid; the primary, untouched, is the old one.
        let mut torn = 0;
        for seed in 0..16u64 {
            let (dev, old) = ok!(formatted(1024 * KIB));
            let mut new = old;
            new.seq = 2;
            dev.set_faults(Faults { flush: true, ..Faults::default() });
            check!(write_superblocks(&dev, &new).is_err());
            let report = dev.power_loss(PowerLoss::Tear { seed });
            check_eq!(report.unflushed, (SUPERBLOCK_SIZE / 512) as u64);
            dev.set_faults(Faults::default());
            let copies = read_superblocks(&dev);
            check_eq!(copies.primary, Ok(old));
            check!(matches!(copies.backup, Ok(sb) if sb == old || sb == new) || copies.backup.is_err());
            torn += u64::from(copies.backup.is_err());
            let newest = copies.newest().map(|(_, sb)| *sb);
            check!(newest == Some(old) || newest == Some(new));
        }
        // Most tears mix old and new sectors, which the checksum refuses.
        check!(torn > 0);
    }

    fn the_newest_copy_is_overwritten_last() {
        // The backup is stale (an earlier update wrote only the primary):
        // the next update must write the backup first, or a torn primary
        // would leave only the stale backup.
        for seed in 0..16u64 {
            let (dev, mut sb) = ok!(formatted(1024 * KIB));
            sb.seq = 2;
            check_eq!(write_copy(&dev, SuperblockCopy::Primary, &sb), Ok(()));
            let acknowledged = sb;
            sb.seq = 3;
            dev.set_faults(Faults { flush: true, ..Faults::default() });
            check!(write_superblocks(&dev, &sb).is_err());
            dev.power_loss(PowerLoss::Tear { seed });
            dev.set_faults(Faults::default());
            let copies = read_superblocks(&dev);
            check_eq!(copies.primary, Ok(acknowledged));
            let newest = copies.newest().map(|(_, sb)| sb.seq);
            check!(newest == Some(2) || newest == Some(3));
        }
    }

    fn backup_candidates_walk_the_bucket_sizes_down_from_the_end() {
        let mut found = [0u64; 16];
        let mut count = 0;
        for (slot, offset) in found.iter_mut().zip(backup_candidates(3 * 1024 * KIB + 4 * KIB)) {
            *slot = offset;
            count += 1;
        }
        check_eq!(found[0], 3 * 1024 * KIB);
        check_eq!(found[1], 3 * 1024 * KIB - 4 * KIB);
        check!(count >= 2 && found[..count].windows(2).all(|w| w[0] > w[1]));
        check_eq!(backup_candidates(8 * KIB).count(), 0);
    }
}
