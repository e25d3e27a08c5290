// SPDX-License-Identifier: GPL-2.0

//! Block devices: synchronous reads, writes and flushes through bios.
//!
//! Data goes through pages allocated here (bounce pages), never through
//! the caller's buffer itself: the core's buffers are plain byte slices,
//! from kmalloc, vmalloc or the stack, sector-aligned on the device but
//! not in memory. A bio wants pages: a kmalloc buffer has them
//! (`virt_to_page`), a vmalloc one needs `vmalloc_to_page` per page, a
//! stack one (vmapped stacks) must not be used for I/O at all, and the
//! device's DMA alignment may refuse an odd memory offset. Copying a
//! buffer of at most a few hundred KiB is cheap beside the I/O it
//! accompanies, works for every buffer, and keeps the caller's memory out
//! of the device's hands after an interrupted or failed request.

use super::ffi;
use core::ptr::{addr_of_mut, NonNull};
use kernel::{bindings, page::Page, page::PAGE_SIZE, prelude::*, types::Opaque};

/// The size of a sector, the unit of bio addresses.
pub(crate) const SECTOR_SIZE: usize = 512;

/// The most bytes one bio carries here: `BIO_MAX_VECS` pages.
pub(crate) const MAX_BIO_BYTES: usize = bindings::BIO_MAX_VECS as usize * PAGE_SIZE;

/// Why a bio was not done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BioError {
    /// Offset or length not a multiple of the device's logical block size,
    /// or beyond its end: refused before any I/O.
    Invalid,
    /// No memory for the bounce pages.
    NoMemory,
    /// The device completed the bio with this `blk_status_t`.
    Status(u8),
}

/// What a bio does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Write {
    /// An ordinary write, in the device's cache until a flush.
    Cached,
    /// A write with `REQ_FUA`: durable when it completes.
    Fua,
}

/// An open block device, kept open by a reference of our own to its open
/// file (`get_file` on the superblock's `s_bdev_file`).
///
/// The superblock's reference goes at `kill_block_super`; ours keeps the
/// device open (`blkdev_release` runs at the last `fput`) for as long as
/// this value lives, so it may outlive the superblock borrow that made it,
/// in any order of teardown. `bdev_fput` gives up the exclusive claim and
/// write access with the superblock's reference, not ours.
///
/// INVARIANT: `file` is a counted reference to an open block device file,
/// owned by this value and put in `drop`; `bdev` is that file's device,
/// valid while the file is open.
pub(crate) struct BlockDevice {
    file: NonNull<bindings::file>,
    bdev: NonNull<bindings::block_device>,
}

// SAFETY: the reference to the file may be put from any task (`fput` defers
// the release to a work item where needed), and bios may be submitted to a
// device from any task.
unsafe impl Send for BlockDevice {}
// SAFETY: every `&self` method builds its own bio and bounce pages; nothing
// in `self` is written after creation, and the block layer takes bios from
// several tasks at once.
unsafe impl Sync for BlockDevice {}

impl BlockDevice {
    /// Takes a reference of its own to `file`, the open file of `bdev`.
    ///
    /// # Safety
    ///
    /// `file` must be an open block device file whose device is `bdev`,
    /// kept open by its owner for the duration of this call.
    pub(crate) unsafe fn from_open_file(
        file: NonNull<bindings::file>,
        bdev: NonNull<bindings::block_device>,
    ) -> Self {
        // SAFETY: `file` is open (the caller's promise), so its count is
        // above zero and may be raised.
        unsafe { ffi::sixfs_get_file(file.as_ptr()) };
        // INVARIANT: the reference taken above is ours, `bdev` is its device.
        Self { file, bdev }
    }

    /// The size of the device in bytes.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: `bdev` is open while `self` lives (type invariant).
        let sectors = unsafe { ffi::sixfs_bdev_nr_sectors(self.bdev.as_ptr()) };
        sectors.saturating_mul(SECTOR_SIZE as u64)
    }

    /// The smallest unit the device reads or writes, in bytes.
    pub(crate) fn logical_block_size(&self) -> usize {
        // SAFETY: `bdev` is open while `self` lives (type invariant).
        let size = unsafe { ffi::sixfs_bdev_logical_block_size(self.bdev.as_ptr()) };
        (size as usize).max(SECTOR_SIZE)
    }

    /// Checks that `offset..offset + len` is aligned to the logical block
    /// size and within the device.
    fn check(&self, offset: u64, len: usize) -> Result<(), BioError> {
        let block = self.logical_block_size();
        if offset.checked_rem(block as u64) != Some(0) || len.checked_rem(block) != Some(0) {
            return Err(BioError::Invalid);
        }
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size() => Ok(()),
            _ => Err(BioError::Invalid),
        }
    }

    /// Reads `buf.len()` bytes at byte `offset`; returns when they are in
    /// `buf`.
    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), BioError> {
        self.check(offset, buf.len())?;
        let mut pages = Bounce::new(buf.len())?;
        let mut pos = offset;
        for chunk in buf.chunks_mut(MAX_BIO_BYTES) {
            let used = pages.for_len(chunk.len());
            self.submit_wait(bindings::req_op_REQ_OP_READ, pos, used, chunk.len())?;
            copy_out(used, chunk)?;
            pos = pos.saturating_add(chunk.len() as u64);
        }
        Ok(())
    }

    /// Writes `data` at byte `offset`; returns when the device has it (in
    /// its cache, or durably for [`Write::Fua`]).
    pub(crate) fn write(&self, offset: u64, data: &[u8], how: Write) -> Result<(), BioError> {
        self.check(offset, data.len())?;
        let mut op = bindings::req_op_REQ_OP_WRITE | (1 << bindings::req_flag_bits___REQ_SYNC);
        if how == Write::Fua {
            op |= 1 << bindings::req_flag_bits___REQ_FUA;
        }
        let mut pages = Bounce::new(data.len())?;
        let mut pos = offset;
        for chunk in data.chunks(MAX_BIO_BYTES) {
            let used = pages.for_len(chunk.len());
            copy_in(used, chunk)?;
            self.submit_wait(op, pos, used, chunk.len())?;
            pos = pos.saturating_add(chunk.len() as u64);
        }
        Ok(())
    }

    /// Makes every completed write durable: an empty write with
    /// `REQ_PREFLUSH`.
    pub(crate) fn flush(&self) -> Result<(), BioError> {
        let op = bindings::req_op_REQ_OP_WRITE
            | (1 << bindings::req_flag_bits___REQ_SYNC)
            | (1 << bindings::req_flag_bits___REQ_PREFLUSH);
        self.submit_wait(op, 0, &[], 0)
    }

    /// Sends one bio of `op` at byte `offset` over the first `len` bytes of
    /// `pages` (at most `BIO_MAX_VECS` pages) and waits for it.
    fn submit_wait(
        &self,
        op: u32,
        offset: u64,
        pages: &[Page],
        len: usize,
    ) -> Result<(), BioError> {
        let vecs = u16::try_from(pages.len()).map_err(|_| BioError::Invalid)?;
        if pages.len() > bindings::BIO_MAX_VECS as usize
            || len > pages.len().saturating_mul(PAGE_SIZE)
        {
            return Err(BioError::Invalid);
        }
        // Pinned in this frame: an initialised completion's wait list
        // points to itself.
        let done = core::pin::pin!(Opaque::<bindings::completion>::uninit());
        // SAFETY: `done` is valid for writes and pinned until this frame
        // ends, after the wait below.
        unsafe { ffi::sixfs_init_completion(done.get()) };

        // SAFETY: `bdev` is open (type invariant); `fs_bio_set` is the
        // kernel's bio set for filesystems, and a sleeping allocation from
        // it does not fail (it falls back to the set's mempool).
        let bio = unsafe {
            bindings::bio_alloc_bioset(
                self.bdev.as_ptr(),
                vecs,
                op,
                bindings::GFP_KERNEL,
                addr_of_mut!(bindings::fs_bio_set),
            )
        };
        let Some(bio) = NonNull::new(bio) else {
            return Err(BioError::NoMemory);
        };
        let bio = bio.as_ptr();
        let mut added = 0usize;
        let mut left = len;
        for page in pages {
            let n = left.min(PAGE_SIZE);
            if n == 0 {
                break;
            }
            // SAFETY: `bio` is ours until `bio_put` and has room for
            // `pages.len()` vectors; `page` outlives the bio's I/O, which
            // is waited for below; `n` is at most a page.
            let n_added = unsafe { bindings::bio_add_page(bio, page.as_ptr(), n as u32, 0) };
            added = added.saturating_add(n_added as usize);
            left -= n;
        }
        if added != len {
            // SAFETY: the bio was never submitted; this drops our reference.
            unsafe { bindings::bio_put(bio) };
            return Err(BioError::Invalid);
        }
        // SAFETY: `bio` is ours and not yet submitted. `end_io` completes
        // `done`, which stays valid and pinned until the wait below
        // returns, and the wait runs in this frame whatever happens.
        unsafe {
            (*bio).bi_iter.bi_sector = offset / SECTOR_SIZE as u64;
            (*bio).bi_end_io = Some(end_io);
            (*bio).bi_private = done.get().cast();
        }
        // SAFETY: the bio is complete (device, vectors, sector, end_io);
        // the block layer owns it until `end_io`, our reference (from the
        // allocation) keeps it allocated after that.
        unsafe { bindings::submit_bio(bio) };
        // SAFETY: `done` was initialised above; callers run in process
        // context, holding no spinlock. Every submitted bio ends with one
        // `bi_end_io` call, which completes `done`.
        unsafe { bindings::wait_for_completion_io(done.get()) };
        // The completion's last access to `done` (its lock's release)
        // happened before the wait above could take that lock and return,
        // as for kthread joins (glue/kthread.rs): `done` may go.
        // SAFETY: the bio has completed and is still ours (our reference):
        // its status is final.
        let status = unsafe { (*bio).bi_status };
        // SAFETY: drops our reference; nothing else holds the bio now.
        unsafe { bindings::bio_put(bio) };
        if status != 0 {
            return Err(BioError::Status(status));
        }
        Ok(())
    }
}

impl Drop for BlockDevice {
    fn drop(&mut self) {
        // SAFETY: the reference is ours (type invariant) and put once; no
        // bio of ours is in flight (each call waits for its bio).
        unsafe { bindings::fput(self.file.as_ptr()) };
    }
}

/// `bi_end_io` of every bio sent by [`BlockDevice::submit_wait`]: wakes the
/// waiting submitter.
///
/// # Safety
///
/// Called by the block layer once, on a bio whose `bi_private` is the
/// submitter's initialised completion.
unsafe extern "C" fn end_io(bio: *mut bindings::bio) {
    // SAFETY: `bi_private` is the submitter's completion, valid until this
    // `complete()` has released it (the submitter waits for it).
    unsafe { bindings::complete((*bio).bi_private.cast()) };
}

/// Bounce pages for one I/O: enough for a bio's worth of data, reused from
/// one chunk to the next.
struct Bounce(KVec<Page>);

impl Bounce {
    /// Pages for `len` bytes, at most [`MAX_BIO_BYTES`].
    fn new(len: usize) -> Result<Self, BioError> {
        let count = len.min(MAX_BIO_BYTES).div_ceil(PAGE_SIZE);
        let mut pages = KVec::with_capacity(count, GFP_KERNEL).map_err(|_| BioError::NoMemory)?;
        for _ in 0..count {
            let page = Page::alloc_page(GFP_KERNEL).map_err(|_| BioError::NoMemory)?;
            pages
                .push(page, GFP_KERNEL)
                .map_err(|_| BioError::NoMemory)?;
        }
        Ok(Self(pages))
    }

    /// The pages holding `len` bytes (at most what `new` was sized for).
    fn for_len(&mut self, len: usize) -> &[Page] {
        let count = len.div_ceil(PAGE_SIZE).min(self.0.len());
        &self.0[..count]
    }
}

/// Copies `data` into `pages`, page by page.
fn copy_in(pages: &[Page], data: &[u8]) -> Result<(), BioError> {
    // Indexing rather than `zip(chunks)`: the zip's length is a division
    // by a runtime chunk size, whose panic path objtool refuses.
    let mut start = 0;
    for page in pages {
        let part = data.get(start..).unwrap_or(&[]);
        let part = part.get(..PAGE_SIZE).unwrap_or(part);
        if part.is_empty() {
            break;
        }
        // SAFETY: `part` is valid for reads of its length, at most a page;
        // the page is ours alone (no bio uses it now).
        unsafe { page.write_raw(part.as_ptr(), 0, part.len()) }.map_err(|_| BioError::Invalid)?;
        start += part.len();
    }
    Ok(())
}

/// Copies `pages` out into `buf`, page by page.
fn copy_out(pages: &[Page], buf: &mut [u8]) -> Result<(), BioError> {
    let mut rest = buf;
    for page in pages {
        let n = rest.len().min(PAGE_SIZE);
        if n == 0 {
            break;
        }
        let (part, tail) = rest.split_at_mut(n);
        // SAFETY: `part` is valid for writes of its length, at most a page;
        // the page is ours alone (its bio has completed).
        unsafe { page.read_raw(part.as_mut_ptr(), 0, part.len()) }
            .map_err(|_| BioError::Invalid)?;
        rest = tail;
    }
    Ok(())
}
