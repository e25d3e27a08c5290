// SPDX-License-Identifier: GPL-2.0

//! The userspace [`Device`]: an image file or a block device, through
//! pread, pwrite and fdatasync.

use sixfs_core::device::{check_range, Device, DeviceError, IoKind, EIO, SECTOR_SIZE};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// How a [`FileDevice`] is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only: fsck -n, dump.
    ReadOnly,
    /// Reads and writes. A block device is opened exclusively (`O_EXCL`),
    /// which the kernel refuses while it is mounted or otherwise claimed.
    ReadWrite,
}

/// An image file or block device.
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    size: u64,
}

fn io_error(kind: IoKind, offset: u64, len: usize, error: &io::Error) -> DeviceError {
    DeviceError::Io {
        kind,
        offset,
        len,
        errno: error.raw_os_error().unwrap_or(EIO),
    }
}

impl FileDevice {
    /// Opens `path`. Its size is the file's length (a block device's, by
    /// seeking to its end), rounded down to a whole sector.
    pub fn open(path: &Path, access: Access) -> io::Result<Self> {
        let block_device = std::fs::metadata(path)?.file_type().is_block_device();
        let mut options = OpenOptions::new();
        options.read(true);
        if access == Access::ReadWrite {
            options.write(true);
            if block_device {
                options.custom_flags(libc::O_EXCL);
            }
        }
        let mut file = options.open(path)?;
        let bytes = file.seek(SeekFrom::End(0))?;
        Ok(Self {
            file,
            size: bytes - bytes % SECTOR_SIZE as u64,
        })
    }
}

impl Device for FileDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        check_range(self.size, offset, buf.len())?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| io_error(IoKind::Read, offset, buf.len(), &e))
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        check_range(self.size, offset, data.len())?;
        self.file
            .write_all_at(data, offset)
            .map_err(|e| io_error(IoKind::Write, offset, data.len(), &e))
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.file
            .sync_data()
            .map_err(|e| io_error(IoKind::Flush, 0, 0, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    #[test]
    fn reads_what_it_wrote_and_refuses_what_the_contract_refuses() {
        let dir = TestDir::new("file_device");
        let path = dir.path().join("img");
        // An odd length: the device is the whole sectors of it.
        File::create(&path)
            .unwrap()
            .set_len(8 * 1024 + 100)
            .unwrap();
        let dev = FileDevice::open(&path, Access::ReadWrite).unwrap();
        assert_eq!(dev.size(), 8 * 1024);
        dev.write(512, &[0xab; 1024]).unwrap();
        dev.flush().unwrap();
        let mut buf = [0u8; 2048];
        dev.read(0, &mut buf).unwrap();
        assert!(buf[..512].iter().all(|&b| b == 0));
        assert!(buf[512..1536].iter().all(|&b| b == 0xab));
        assert!(matches!(
            dev.read(1, &mut buf),
            Err(DeviceError::Unaligned { .. })
        ));
        assert!(matches!(
            dev.write(8 * 1024, &buf[..512]),
            Err(DeviceError::OutOfRange { .. })
        ));
        // A read-only device reports the system's error for a write.
        let ro = FileDevice::open(&path, Access::ReadOnly).unwrap();
        assert!(matches!(
            ro.write(0, &buf[..512]),
            Err(DeviceError::Io { kind: IoKind::Write, errno, .. }) if errno == libc::EBADF
        ));
    }
}
