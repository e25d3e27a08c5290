// SPDX-License-Identifier: GPL-2.0

//! The device: where the filesystem's bytes live, behind one interface.
//!
//! Everything that reads or writes the disk (the superblock today; btree
//! nodes, the journal and the allocator later) goes through [`Device`], so
//! one piece of code runs over three implementations:
//!
//! - [`memory::MemoryDevice`], in the core: an in-memory disk for tests that
//!   fails chosen reads and writes and loses power (shared by `cargo test`
//!   and KUnit);
//! - a file or block device in userspace (`tools/sixfs`, pread / pwrite /
//!   fdatasync), for mkfs, fsck and dump;
//! - [`bio::BioDevice`] in the kernel: bios over the glue's block device
//!   (the device layer may import the glue, the layer below it).
//!
//! The calls are synchronous: each returns when the I/O has completed. That
//! suits the tools and the tests, and the kernel can implement it by
//! submitting a bio and waiting for its completion. When node writes need
//! to be in flight in parallel, an asynchronous submit/complete pair will be
//! added beside these calls, with these as the waiting special case.

pub mod memory;

#[cfg(sixfs_kernel)]
pub mod bio;

#[cfg(any(test, CONFIG_KUNIT))]
mod memory_tests;

/// The unit of alignment of every I/O: offsets and lengths are multiples
/// of it. 512 bytes is the smallest logical block size Linux devices have;
/// the format keeps its own structures 4 KiB-aligned so that devices with
/// 4 KiB logical blocks work too.
pub const SECTOR_SIZE: usize = 512;

/// `EIO`, the error a failed read or write reports in the kernel.
pub const EIO: i32 = 5;

/// What kind of I/O failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoKind {
    /// A read.
    Read,
    /// A write.
    Write,
    /// A flush (a cache flush: everything written before is now durable).
    Flush,
}

/// Why an I/O was not done. The caller gets it as a value: a device error
/// is an ordinary event, never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// Offset or length not a multiple of [`SECTOR_SIZE`]: a bug of the
    /// caller, refused before any I/O.
    Unaligned {
        /// Byte offset asked for.
        offset: u64,
        /// Bytes asked for.
        len: usize,
    },
    /// The range ends past the end of the device.
    OutOfRange {
        /// Byte offset asked for.
        offset: u64,
        /// Bytes asked for.
        len: usize,
        /// The device's size in bytes.
        size: u64,
    },
    /// The device failed the I/O. After a failed write the range holds
    /// unknown contents; after a failed flush, nothing written since the
    /// last successful flush is known to be durable.
    Io {
        /// What failed.
        kind: IoKind,
        /// Byte offset of the failed I/O (0 for a flush).
        offset: u64,
        /// Bytes of the failed I/O (0 for a flush).
        len: usize,
        /// The error number (positive): [`EIO`] from the kernel and the
        /// in-memory device, what the system call said in userspace.
        errno: i32,
    },
    /// No memory for the I/O's buffers.
    NoMemory,
}

/// A disk: a fixed number of bytes, read and written in whole sectors.
///
/// # Contract
///
/// - `read` and `write` take a byte offset and length that are multiples
///   of [`SECTOR_SIZE`] and lie within [`Device::size`]; anything else is
///   refused with [`DeviceError::Unaligned`] or [`DeviceError::OutOfRange`]
///   before the device is touched. Zero-length I/O does nothing.
/// - A completed `write` is seen by every later `read`, but it is durable
///   (survives a power loss) only once a later `flush` has returned `Ok`.
///   Until then, a power loss may keep it, lose it, or keep only some of
///   its sectors: each sector is written atomically, a whole write is not.
/// - Calls may come from several threads at once (`&self`); writes to
///   overlapping ranges in parallel leave either's data in each sector.
pub trait Device {
    /// Size of the device in bytes, a multiple of [`SECTOR_SIZE`].
    fn size(&self) -> u64;

    /// Reads `buf.len()` bytes at byte `offset`.
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError>;

    /// Writes `data` at byte `offset`.
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError>;

    /// Makes every completed write durable.
    fn flush(&self) -> Result<(), DeviceError>;

    /// Writes `data` at byte `offset` durably: when it returns `Ok`, the
    /// write survives a power loss (the kernel's `REQ_FUA`). Other writes
    /// need not be durable; this default, a write and a flush, makes them
    /// so too.
    fn write_fua(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.write(offset, data)?;
        self.flush()
    }

    /// Writes each `(offset, data)` of `writes` (each at most
    /// [`MAX_BATCH_WRITE`] bytes), as [`Device::write`] would one after the
    /// other, but free to have them all in flight at once (the kernel's
    /// bios do); returns the first error, once every write has ended.
    fn write_many(&self, writes: &[(u64, &[u8])]) -> Result<(), DeviceError> {
        for (offset, data) in writes {
            self.write(*offset, data)?;
        }
        Ok(())
    }
}

/// The largest write in a [`Device::write_many`] batch: one bio's worth.
pub const MAX_BATCH_WRITE: usize = 1 << 20;

/// A borrowed device is a device: a store can work on a device its
/// caller keeps (tests reopen the same in-memory device).
impl<T: Device + ?Sized> Device for &T {
    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        (**self).read(offset, buf)
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        (**self).write(offset, data)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        (**self).flush()
    }

    fn write_fua(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        (**self).write_fua(offset, data)
    }

    fn write_many(&self, writes: &[(u64, &[u8])]) -> Result<(), DeviceError> {
        (**self).write_many(writes)
    }
}

/// Checks an I/O's range against the contract of [`Device`]: for
/// implementations, before they touch anything.
pub fn check_range(size: u64, offset: u64, len: usize) -> Result<(), DeviceError> {
    let sector = SECTOR_SIZE as u64;
    if offset % sector != 0 || len % SECTOR_SIZE != 0 {
        return Err(DeviceError::Unaligned { offset, len });
    }
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(DeviceError::OutOfRange { offset, len, size }),
    }
}
