// SPDX-License-Identifier: GPL-2.0

//! The kernel's [`Device`]: a block device read and written through bios
//! (the glue's [`BlockDevice`]), each call waiting for its bio.

use super::{check_range, Device, DeviceError, IoKind, EIO};
use crate::glue::block::{BioError, BlockDevice, Write};

/// A mounted filesystem's block device.
///
/// It owns a reference to the device's open file (see [`BlockDevice`]), so
/// it may outlive the superblock borrow that made it: it lives in the
/// per-mount state until `kill_sb`, after the superblock has given the
/// device back. It is `Send + Sync`: every call builds its own bio and
/// pages, and the block layer takes bios from several tasks at once.
pub struct BioDevice {
    bdev: BlockDevice,
    /// The size in bytes, read once: a filesystem's device does not shrink
    /// under it (and if it did, the block layer fails the bios past the
    /// end with an error, not with memory unsafety).
    size: u64,
}

impl BioDevice {
    /// The device of `bdev`, whose size is a whole number of sectors.
    pub(crate) fn new(bdev: BlockDevice) -> Self {
        let sector = super::SECTOR_SIZE as u64;
        let size = bdev.size();
        let size = size - size.checked_rem(sector).unwrap_or(0);
        Self { bdev, size }
    }

    /// The smallest unit the device reads or writes; offsets and lengths
    /// that are not multiples of it are refused as [`DeviceError::Unaligned`].
    pub fn logical_block_size(&self) -> usize {
        self.bdev.logical_block_size()
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), DeviceError> {
        check_range(self.size, offset, len)?;
        let block = self.logical_block_size();
        if offset.checked_rem(block as u64) != Some(0) || len.checked_rem(block) != Some(0) {
            return Err(DeviceError::Unaligned { offset, len });
        }
        Ok(())
    }

    /// A glue error as the device layer reports it.
    fn error(&self, error: BioError, kind: IoKind, offset: u64, len: usize) -> DeviceError {
        match error {
            BioError::NoMemory => DeviceError::NoMemory,
            // The range was checked against the same size and block size
            // before: the glue refusing it means the device changed under
            // us (it shrank, or its block size grew).
            BioError::Invalid => DeviceError::OutOfRange {
                offset,
                len,
                size: self.size,
            },
            BioError::Status(_) => DeviceError::Io {
                kind,
                offset,
                len,
                errno: EIO,
            },
        }
    }

    fn write_with(&self, offset: u64, data: &[u8], how: Write) -> Result<(), DeviceError> {
        self.check(offset, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        self.bdev
            .write(offset, data, how)
            .map_err(|e| self.error(e, IoKind::Write, offset, data.len()))
    }
}

impl Device for BioDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.check(offset, buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        let len = buf.len();
        self.bdev
            .read(offset, buf)
            .map_err(|e| self.error(e, IoKind::Read, offset, len))
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.write_with(offset, data, Write::Cached)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.bdev
            .flush()
            .map_err(|e| self.error(e, IoKind::Flush, 0, 0))
    }

    /// Every write's bio in flight at once, waited for together.
    fn write_many(&self, writes: &[(u64, &[u8])]) -> Result<(), DeviceError> {
        for (offset, data) in writes {
            self.check(*offset, data.len())?;
            if data.len() > super::MAX_BATCH_WRITE {
                return Err(DeviceError::OutOfRange {
                    offset: *offset,
                    len: data.len(),
                    size: self.size,
                });
            }
        }
        let (offset, len) = writes.first().map_or((0, 0), |(o, d)| (*o, d.len()));
        self.bdev
            .write_many(writes)
            .map_err(|e| self.error(e, IoKind::Write, offset, len))
    }

    /// A write with `REQ_FUA`: durable when it returns, without flushing
    /// anything else.
    fn write_fua(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.write_with(offset, data, Write::Fua)
    }
}
