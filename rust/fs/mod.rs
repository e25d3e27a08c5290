// SPDX-License-Identifier: GPL-2.0

//! The VFS face of sixfs.
//!
//! A mount reads both superblock copies through the kernel's
//! [`BioDevice`] and keeps what it needs in a [`MountedFs`] (the VFS's
//! `s_fs_info`) until the superblock goes. Every hook of the VFS calls one
//! method of [`MountedFs`]: `open` (mount), `sync`, `remount_ro`,
//! `remount_rw`, `unmount`; that is where the store of btrees goes.

use crate::device::bio::BioDevice;
use crate::device::Device;
use crate::format::superblock::{Superblock, SuperblockError, SUPERBLOCK_OFFSET};
use crate::format::superblock_io::{self, ReadError, SuperblockCopy};
use crate::glue::fs_type::{Errors, FileSystem, FileSystemType, MountOptions, Reconfigure, StatFs};
use crate::glue::super_block::SuperBlock;
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::{c_str, prelude::*, str::CStr};

/// The `sixfs` filesystem type.
pub(crate) struct SixFs;

/// Where the VFS's structures for the type live (a `static`, as lockdep
/// wants).
static SIXFS_TYPE: FileSystemType = FileSystemType::new();

/// `errors=` when the mount does not say.
const DEFAULT_ERRORS: Errors = Errors::RemountRo;

/// The longest file name (a dirent's limit, as most Linux filesystems).
const NAME_MAX: u32 = 255;

/// One mounted sixfs: lives in `s_fs_info` from mount until `kill_sb`.
///
/// It is `Send + Sync` (VFS callbacks come from any task): the device is,
/// the superblock is read-only after mount, and the options that a remount
/// may change are atomics.
pub(crate) struct MountedFs {
    /// The device, with its own reference to the open block device.
    dev: BioDevice,
    /// The superblock the mount found (the newest valid copy).
    sb: Superblock,
    /// `errors=`, as an [`Errors`] index (`errors_to_u8`).
    errors: AtomicU8,
    // INTEGRATION: the store (`crate::store::Store<BioDevice>`) goes here,
    // made by `open_store`, and every method below calls into it.
}

fn errors_to_u8(errors: Errors) -> u8 {
    match errors {
        Errors::Continue => 0,
        Errors::RemountRo => 1,
        Errors::Panic => 2,
    }
}

fn errors_from_u8(value: u8) -> Errors {
    match value {
        0 => Errors::Continue,
        2 => Errors::Panic,
        _ => Errors::RemountRo,
    }
}

impl MountedFs {
    /// Mounts the filesystem on `dev`: reads both superblock copies and
    /// takes the newest valid one; refuses the mount with `EINVAL` and one
    /// log line when there is none.
    fn open(name: &CStr, dev: BioDevice, options: &MountOptions, read_only: bool) -> Result<Self> {
        let sb = read_superblock(name, &dev)?;
        let errors = options.errors.unwrap_or(DEFAULT_ERRORS);
        let mounted = Self {
            dev,
            sb,
            errors: AtomicU8::new(errors_to_u8(errors)),
        };
        mounted.open_store(read_only)?;
        pr_info!(
            "{name}: mounted ({}, errors={}, sequence {}, {} blocks of {} bytes)\n",
            if read_only { "ro" } else { "rw" },
            errors.name(),
            mounted.sb.seq,
            mounted.sb.geometry.block_count,
            mounted.sb.geometry.block_size,
        );
        Ok(mounted)
    }

    /// Opens the btrees on the device.
    ///
    /// INTEGRATION: `Store::open(&self.dev, read_only)` goes here (then
    /// `open` keeps the store in `self`); its `StoreError` becomes an
    /// errno with a log line naming the device. Until then there is nothing
    /// to open: the mount has read and checked the superblock only.
    fn open_store(&self, _read_only: bool) -> Result {
        Ok(())
    }

    /// `sync_fs`: writes what is dirty and, when `wait`, waits for it.
    ///
    /// INTEGRATION: `Store::sync`. Until then nothing is ever dirty; the
    /// device's cache is flushed all the same, so that `syncfs` means what
    /// it says about what others wrote to the device.
    fn sync(&self, wait: bool) -> Result {
        if wait {
            self.dev.flush().map_err(|_| EIO)?;
        }
        Ok(())
    }

    /// Remount read-only: the VFS has stopped writers, and `reconfigure`
    /// has synced (`sync_filesystem`, which ends with `sync(true)`).
    ///
    /// INTEGRATION: `Store::set_read_only` (write dirty nodes, set the
    /// clean flag, flush).
    fn remount_ro(&self) -> Result {
        Ok(())
    }

    /// Remount read-write.
    ///
    /// INTEGRATION: the store's way back to writing (clear the clean flag
    /// before the first write).
    fn remount_rw(&self) -> Result {
        Ok(())
    }

    /// Unmount, the device still open: the last chance to write.
    ///
    /// INTEGRATION: `Store::close` (dirty nodes, clean flag, flush). A
    /// failure here cannot refuse the unmount; it is logged.
    fn unmount(&self, name: &CStr, read_only: bool) {
        if !read_only {
            if let Err(e) = self.sync(true) {
                pr_err!(
                    "{name}: unmount: cannot flush the device: error {}\n",
                    e.to_errno()
                );
            }
        }
    }

    /// The `errors=` in force.
    fn errors(&self) -> Errors {
        errors_from_u8(self.errors.load(Ordering::Relaxed))
    }
}

/// Reads both copies of the superblock and returns the newest valid one;
/// a valid backup with an invalid primary mounts with a warning.
fn read_superblock(name: &CStr, dev: &BioDevice) -> Result<Superblock> {
    let copies = superblock_io::read_superblocks(dev);
    let Some((copy, sb)) = copies.newest() else {
        match copies.primary {
            Err(ReadError::Invalid(SuperblockError::BadMagic))
            | Err(ReadError::DeviceTooSmall { .. }) => {
                pr_err!(
                    "{name}: not a sixfs filesystem (no superblock at byte {}, no backup)\n",
                    SUPERBLOCK_OFFSET
                );
            }
            Err(ReadError::Device(e)) => {
                pr_err!("{name}: cannot read the superblock: {e:?}\n");
                return Err(EIO);
            }
            Err(primary) => {
                let backup = copies.backup.err().unwrap_or(ReadError::NoBackupFound);
                pr_err!("{name}: invalid sixfs superblock: {primary:?}; backup: {backup:?}\n");
            }
            // `newest` found nothing, so the primary is not valid.
            Ok(_) => {}
        }
        return Err(EINVAL);
    };
    if copy == SuperblockCopy::Backup {
        match &copies.primary {
            Ok(primary) => pr_warn!(
                "{name}: the backup superblock is newer than the primary (sequence {} > {}): mounting from the backup\n",
                sb.seq,
                primary.seq
            ),
            Err(error) => pr_warn!(
                "{name}: primary superblock invalid ({error:?}): mounting from the backup at byte {} (fsck.sixfs repairs the primary)\n",
                copies.backup_offset.unwrap_or(0)
            ),
        }
    }
    Ok(*sb)
}

impl FileSystem for SixFs {
    const NAME: &'static CStr = c_str!("sixfs");
    /// "sixf".
    const MAGIC: u32 = 0x7369_7866;
    /// The root directory, as bcachefs numbers it.
    const ROOT_INO: u64 = 4096;

    type Mounted = MountedFs;

    fn storage() -> &'static FileSystemType {
        &SIXFS_TYPE
    }

    fn fill_super(sb: &SuperBlock, options: &MountOptions) -> Result<MountedFs> {
        let name = sb.id();
        let dev = BioDevice::new(sb.block_device()?);
        MountedFs::open(name, dev, options, sb.read_only())
    }

    fn reconfigure(sb: &SuperBlock, mounted: &MountedFs, change: &Reconfigure) -> Result {
        match change.read_only {
            Some(true) => {
                // The VFS has stopped new writers; write out what the page
                // cache and the inodes hold, then the filesystem's own.
                sb.sync()?;
                mounted.remount_ro()?;
            }
            Some(false) => mounted.remount_rw()?,
            None => {}
        }
        if let Some(errors) = change.options.errors {
            mounted
                .errors
                .store(errors_to_u8(errors), Ordering::Relaxed);
        }
        Ok(())
    }

    fn sync_fs(_sb: &SuperBlock, mounted: &MountedFs, wait: bool) -> Result {
        mounted.sync(wait)
    }

    fn put_super(sb: &SuperBlock, mounted: &MountedFs) {
        mounted.unmount(sb.id(), sb.read_only());
    }

    fn statfs(mounted: &MountedFs) -> StatFs {
        let geometry = &mounted.sb.geometry;
        let block_size = geometry.block_size;
        let data = geometry.data_bytes();
        // Until the allocator keeps count, the whole data area is free.
        let free = (data.end.saturating_sub(data.start))
            .checked_div(u64::from(block_size))
            .unwrap_or(0);
        let uuid = mounted.sb.uuid;
        let mut low = [0u8; 8];
        let mut high = [0u8; 8];
        low.copy_from_slice(&uuid[..8]);
        high.copy_from_slice(&uuid[8..]);
        StatFs {
            block_size,
            blocks: geometry.block_count,
            free,
            available: free,
            files: 0,
            free_files: 0,
            name_len: NAME_MAX,
            fsid: u64::from_le_bytes(low) ^ u64::from_le_bytes(high),
        }
    }

    fn show_options(mounted: &MountedFs, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, ",errors={}", mounted.errors().name())
    }
}
