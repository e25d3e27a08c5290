// SPDX-License-Identifier: GPL-2.0

//! Reading and writing the two copies of the superblock on a device.
//!
//! The primary is at byte 4096; the backup is in the last 4 KiB of the
//! filesystem (see geometry.rs), so that one stray write over the start of
//! the device (a boot loader, a partitioning mistake, `dd` to the wrong
//! disk for a moment) does not take both. Its place follows from the
//! primary; when the primary is lost, it is searched for from the end of
//! the device, at each place a bucket size allows, and accepted only if it
//! says it belongs exactly there.
//!
//! An update writes one copy, flushes, writes the other and flushes, so a
//! power loss tears at most one copy. Which one goes first matters when
//! the copies differ (a previous update was cut short, or one copy went
//! bad): the copy holding the newest valid superblock is overwritten last,
//! so that until the other one is durable it is still there, and
//! [`Superblocks::newest`] (the higher sequence number) finds either it or
//! the new one. Writing the primary first regardless would lose the last
//! acknowledged superblock when the backup is stale and the primary's write
//! is torn (found by tools/sixfs-core/tests/superblock_crash.rs).

use super::geometry::{
    Geometry, MAX_BUCKET_SIZE, MIN_BUCKET_SIZE, PRIMARY_END, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE,
};
use super::superblock::{Superblock, SuperblockError};
use crate::device::{Device, DeviceError};
use crate::platform::vec::Vec;

/// Which copy of the superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuperblockCopy {
    /// At byte 4096.
    Primary,
    /// In the last 4 KiB of the filesystem.
    Backup,
}

impl SuperblockCopy {
    /// Where this copy lives in a filesystem of `geometry`.
    pub fn offset(self, geometry: &Geometry) -> u64 {
        match self {
            SuperblockCopy::Primary => SUPERBLOCK_OFFSET,
            SuperblockCopy::Backup => geometry.backup_offset(),
        }
    }
}

/// Why a copy of the superblock could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The device failed.
    Device(DeviceError),
    /// The device is too small to hold the copy there.
    DeviceTooSmall {
        /// The device's size in bytes.
        device_bytes: u64,
    },
    /// The bytes are not a valid superblock.
    Invalid(SuperblockError),
    /// A valid superblock of a filesystem larger than the device (a
    /// truncated image, a shrunk partition).
    FilesystemLargerThanDevice {
        /// The filesystem's size in bytes.
        fs_bytes: u64,
        /// The device's size in bytes.
        device_bytes: u64,
    },
    /// A valid backup superblock that belongs elsewhere: a stale copy of
    /// an earlier filesystem of another size.
    Misplaced {
        /// Where it was read.
        offset: u64,
        /// Where its geometry puts the backup.
        expected: u64,
    },
    /// No backup found at any place the device's size allows.
    NoBackupFound,
    /// No memory for the buffer.
    NoMemory,
}

impl From<DeviceError> for ReadError {
    fn from(error: DeviceError) -> Self {
        ReadError::Device(error)
    }
}

/// Why a superblock could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The superblock breaks a rule of the format.
    Invalid(SuperblockError),
    /// The filesystem does not fit on the device.
    FilesystemLargerThanDevice {
        /// The filesystem's size in bytes.
        fs_bytes: u64,
        /// The device's size in bytes.
        device_bytes: u64,
    },
    /// The device failed.
    Device(DeviceError),
    /// No memory for the buffer.
    NoMemory,
}

impl From<DeviceError> for WriteError {
    fn from(error: DeviceError) -> Self {
        WriteError::Device(error)
    }
}

/// A zeroed buffer for one superblock copy.
fn buffer() -> Option<Vec<u8>> {
    let mut buf = Vec::try_with_capacity(SUPERBLOCK_SIZE).ok()?;
    buf.try_extend_with(SUPERBLOCK_SIZE, 0u8).ok()?;
    Some(buf)
}

/// Reads and checks the copy at byte `offset`: a valid superblock whose
/// filesystem fits on the device and which belongs at `offset` (the
/// primary's place, or for a backup the end of its own filesystem).
pub fn read_copy(
    dev: &dyn Device,
    copy: SuperblockCopy,
    offset: u64,
) -> Result<Superblock, ReadError> {
    let device_bytes = dev.size();
    if offset.saturating_add(SUPERBLOCK_SIZE as u64) > device_bytes {
        return Err(ReadError::DeviceTooSmall { device_bytes });
    }
    let mut buf = buffer().ok_or(ReadError::NoMemory)?;
    dev.read(offset, &mut buf)?;
    let sb = Superblock::decode(&buf).map_err(ReadError::Invalid)?;
    let fs_bytes = sb.geometry.bytes();
    if fs_bytes > device_bytes {
        return Err(ReadError::FilesystemLargerThanDevice {
            fs_bytes,
            device_bytes,
        });
    }
    let expected = copy.offset(&sb.geometry);
    if offset != expected {
        return Err(ReadError::Misplaced { offset, expected });
    }
    Ok(sb)
}

/// The places a backup may be on a device of `device_bytes` bytes, from
/// the largest filesystem down: the last 4 KiB before the device's end
/// rounded down to each possible bucket size.
pub fn backup_candidates(device_bytes: u64) -> impl Iterator<Item = u64> {
    let mut last = None;
    (MIN_BUCKET_SIZE.trailing_zeros()..=MAX_BUCKET_SIZE.trailing_zeros()).filter_map(move |shift| {
        let bucket = 1u64 << shift;
        let end = device_bytes - device_bytes.checked_rem(bucket).unwrap_or(0);
        let offset = end.checked_sub(SUPERBLOCK_SIZE as u64)?;
        if offset < PRIMARY_END || last == Some(offset) {
            return None;
        }
        last = Some(offset);
        Some(offset)
    })
}

/// What the two copies on a device are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblocks {
    /// The primary.
    pub primary: Result<Superblock, ReadError>,
    /// The backup.
    pub backup: Result<Superblock, ReadError>,
    /// Where the backup is (or should be): from the primary's geometry,
    /// or the place it was found; `None` when the primary is invalid and
    /// no backup was found.
    pub backup_offset: Option<u64>,
}

impl Superblocks {
    /// The newest valid copy: the higher sequence number, the primary when
    /// both are equal.
    pub fn newest(&self) -> Option<(SuperblockCopy, &Superblock)> {
        match (&self.primary, &self.backup) {
            (Ok(p), Ok(b)) if b.seq > p.seq => Some((SuperblockCopy::Backup, b)),
            (Ok(p), _) => Some((SuperblockCopy::Primary, p)),
            (Err(_), Ok(b)) => Some((SuperblockCopy::Backup, b)),
            (Err(_), Err(_)) => None,
        }
    }
}

/// Reads both copies: the primary, then the backup where the primary puts
/// it or, if the primary is invalid, where the device's size allows.
pub fn read_superblocks(dev: &dyn Device) -> Superblocks {
    let primary = read_copy(dev, SuperblockCopy::Primary, SUPERBLOCK_OFFSET);
    // A primary refused for any reason (a device error, a bad checksum, a
    // filesystem larger than the device) says nothing trustworthy about
    // where the backup is: search for it.
    let (backup, backup_offset) = match &primary {
        Ok(sb) => {
            let offset = sb.geometry.backup_offset();
            (read_copy(dev, SuperblockCopy::Backup, offset), Some(offset))
        }
        Err(_) => search_backup(dev),
    };
    Superblocks {
        primary,
        backup,
        backup_offset,
    }
}

fn search_backup(dev: &dyn Device) -> (Result<Superblock, ReadError>, Option<u64>) {
    for offset in backup_candidates(dev.size()) {
        if let Ok(sb) = read_copy(dev, SuperblockCopy::Backup, offset) {
            return (Ok(sb), Some(offset));
        }
    }
    (Err(ReadError::NoBackupFound), None)
}

/// Writes one copy of `sb` where its geometry puts it, and flushes.
pub fn write_copy(
    dev: &dyn Device,
    copy: SuperblockCopy,
    sb: &Superblock,
) -> Result<(), WriteError> {
    let mut buf = buffer().ok_or(WriteError::NoMemory)?;
    sb.encode(&mut buf).map_err(WriteError::Invalid)?;
    let fs_bytes = sb.geometry.bytes();
    let device_bytes = dev.size();
    if fs_bytes > device_bytes {
        return Err(WriteError::FilesystemLargerThanDevice {
            fs_bytes,
            device_bytes,
        });
    }
    let offset = copy.offset(&sb.geometry);
    dev.write(offset, &buf)?;
    dev.flush()?;
    Ok(())
}

/// Writes both copies of `sb`, each followed by a flush: first the one
/// that does not hold the newest valid superblock on the device (the
/// backup when both are equal), then the other. When it returns `Ok`, both
/// are durable; if it fails or the power goes meanwhile, the newest
/// superblock that was on the device or `sb` survives whole.
pub fn write_superblocks(dev: &dyn Device, sb: &Superblock) -> Result<(), WriteError> {
    let (first, last) = match read_superblocks(dev).newest() {
        Some((SuperblockCopy::Primary, _)) => (SuperblockCopy::Backup, SuperblockCopy::Primary),
        _ => (SuperblockCopy::Primary, SuperblockCopy::Backup),
    };
    write_copy(dev, first, sb)?;
    write_copy(dev, last, sb)
}
