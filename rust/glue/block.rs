// SPDX-License-Identifier: GPL-2.0

//! Block devices: synchronous reads through bios.

use super::ffi;
use core::marker::PhantomData;
use core::ptr::{addr_of_mut, NonNull};
use kernel::{bindings, error::to_result, page::Page, page::PAGE_SIZE, prelude::*};

/// The size of a sector, the unit of bio addresses.
pub(crate) const SECTOR_SIZE: usize = 512;

/// A block device borrowed from a mounted (or mounting) superblock.
///
/// INVARIANT: `bdev` points to a block device that stays open for `'a`.
pub(crate) struct BlockDevice<'a> {
    bdev: NonNull<bindings::block_device>,
    _holder: PhantomData<&'a ()>,
}

impl<'a> BlockDevice<'a> {
    /// Wraps a block device pointer.
    ///
    /// # Safety
    ///
    /// `bdev` must point to a block device that stays open for `'a`.
    pub(crate) unsafe fn from_raw(bdev: NonNull<bindings::block_device>) -> Self {
        // INVARIANT: the caller guarantees the device stays open for `'a`.
        Self {
            bdev,
            _holder: PhantomData,
        }
    }

    /// The size of the device in bytes.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: `bdev` is a valid open block device (type invariant).
        let sectors = unsafe { ffi::sixfs_bdev_nr_sectors(self.bdev.as_ptr()) };
        sectors.saturating_mul(SECTOR_SIZE as u64)
    }

    /// The smallest unit the device reads, in bytes.
    pub(crate) fn logical_block_size(&self) -> usize {
        // SAFETY: `bdev` is a valid open block device (type invariant).
        unsafe { ffi::sixfs_bdev_logical_block_size(self.bdev.as_ptr()) as usize }
    }

    /// Reads `buf.len()` bytes at byte offset `offset` and waits for them.
    ///
    /// `offset` and the length must be multiples of the logical block size;
    /// the length is at most a page. A read past the end of the device fails
    /// with `EINVAL` before any I/O is issued.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> Result {
        let block = self.logical_block_size().max(SECTOR_SIZE);
        let len = buf.len();
        if len == 0 || len > PAGE_SIZE || len % block != 0 || offset % block as u64 != 0 {
            return Err(EINVAL);
        }
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size() => {}
            _ => return Err(EINVAL),
        }
        let page = Page::alloc_page(GFP_KERNEL)?;

        // SAFETY: `bdev` is a valid open block device (type invariant) and
        // `fs_bio_set` is the kernel's bio set for filesystems; a bio with
        // one vector is enough for one page.
        let bio = unsafe {
            bindings::bio_alloc_bioset(
                self.bdev.as_ptr(),
                1,
                bindings::req_op_REQ_OP_READ,
                bindings::GFP_KERNEL,
                addr_of_mut!(bindings::fs_bio_set),
            )
        };
        let bio = NonNull::new(bio).ok_or(ENOMEM)?;
        // SAFETY: `bio` was just allocated and is owned here until `bio_put`;
        // `page` outlives the bio, which completes before `submit_bio_wait`
        // returns. `len` is at most a page (checked above).
        let ret = unsafe {
            (*bio.as_ptr()).bi_iter.bi_sector = offset / SECTOR_SIZE as u64;
            let added = bindings::bio_add_page(bio.as_ptr(), page.as_ptr(), len as u32, 0);
            let ret = if added as usize == len {
                bindings::submit_bio_wait(bio.as_ptr())
            } else {
                EIO.to_errno()
            };
            bindings::bio_put(bio.as_ptr());
            ret
        };
        to_result(ret)?;
        // SAFETY: `buf` is valid for writes of `len` bytes, which fit in the
        // page (checked above).
        unsafe { page.read_raw(buf.as_mut_ptr(), 0, len) }
    }
}
