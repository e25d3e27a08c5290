// SPDX-License-Identifier: GPL-2.0

//! Block devices: reads, writes and flushes through bios, each call
//! waiting for its bios; `write_many` has many in flight at once.
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
use core::pin::Pin;
use core::ptr::{addr_of_mut, NonNull};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
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

    /// Writes each `(offset, data)` of `writes`, all bios in flight at
    /// once; returns when every one has completed, with the first error.
    /// A checkpoint writes its nodes this way: the device works on many
    /// while the submitter waits once.
    pub(crate) fn write_many(&self, writes: &[(u64, &[u8])]) -> Result<(), BioError> {
        let mut bounces =
            KVec::with_capacity(writes.len(), GFP_KERNEL).map_err(|_| BioError::NoMemory)?;
        for (offset, data) in writes {
            self.check(*offset, data.len())?;
            // One bio per write; each write's pages live until the group
            // has completed.
            if data.len() > MAX_BIO_BYTES {
                return Err(BioError::Invalid);
            }
            let mut pages = Bounce::new(data.len())?;
            copy_in(pages.for_len(data.len()), data)?;
            bounces
                .push(pages, GFP_KERNEL)
                .map_err(|_| BioError::NoMemory)?;
        }
        let op = bindings::req_op_REQ_OP_WRITE | (1 << bindings::req_flag_bits___REQ_SYNC);
        let group = core::pin::pin!(InFlight::new());
        let group = group.as_ref();
        group.init();
        let mut submitted = Ok(());
        for ((offset, data), pages) in writes.iter().zip(bounces.iter_mut()) {
            let len = data.len();
            submitted = self.submit(op, *offset, pages.for_len(len), len, group);
            if submitted.is_err() {
                break;
            }
        }
        let status = group.wait();
        submitted?;
        status
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
        let group = core::pin::pin!(InFlight::new());
        let group = group.as_ref();
        group.init();
        let submitted = self.submit(op, offset, pages, len, group);
        let status = group.wait();
        submitted?;
        status
    }

    /// Sends one bio of `op` at byte `offset` over the first `len` bytes of
    /// `pages` (at most `BIO_MAX_VECS` pages) as part of `group`, which the
    /// caller waits for before `pages` go.
    fn submit(
        &self,
        op: u32,
        offset: u64,
        pages: &[Page],
        len: usize,
        group: Pin<&InFlight>,
    ) -> Result<(), BioError> {
        let vecs = u16::try_from(pages.len()).map_err(|_| BioError::Invalid)?;
        if pages.len() > bindings::BIO_MAX_VECS as usize
            || len > pages.len().saturating_mul(PAGE_SIZE)
        {
            return Err(BioError::Invalid);
        }
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
            // SAFETY: `bio` is ours until it is submitted and has room for
            // `pages.len()` vectors; `page` outlives the bio's I/O (the
            // caller waits for `group`); `n` is at most a page.
            let n_added = unsafe { bindings::bio_add_page(bio, page.as_ptr(), n as u32, 0) };
            added = added.saturating_add(n_added as usize);
            left -= n;
        }
        if added != len {
            // SAFETY: the bio was never submitted; this drops our reference.
            unsafe { bindings::bio_put(bio) };
            return Err(BioError::Invalid);
        }
        group.add();
        // SAFETY: `bio` is ours and not yet submitted. `end_io` ends it in
        // `group`, which stays valid and pinned until its wait returns,
        // which the caller does whatever happens.
        unsafe {
            (*bio).bi_iter.bi_sector = offset / SECTOR_SIZE as u64;
            (*bio).bi_end_io = Some(end_io);
            (*bio).bi_private = group.get_ref() as *const InFlight as *mut core::ffi::c_void;
        }
        // SAFETY: the bio is complete (device, vectors, sector, end_io);
        // the block layer owns it until `end_io`, which puts it.
        unsafe { bindings::submit_bio(bio) };
        Ok(())
    }
}

/// Bios in flight that one submitter waits for together.
///
/// `pending` counts the bios submitted and not yet ended, plus one held by
/// the submitter until it waits, so the count reaches zero once: at the
/// last of those, which completes `done`. `status` keeps the first error.
///
/// INVARIANT: after [`InFlight::init`], `done` is an initialised completion;
/// the value is pinned (its wait list points to itself) and outlives every
/// bio of the group ([`InFlight::wait`] returns only after the last one).
struct InFlight {
    done: Opaque<bindings::completion>,
    pending: AtomicUsize,
    status: AtomicU8,
}

impl InFlight {
    fn new() -> Self {
        Self {
            done: Opaque::uninit(),
            pending: AtomicUsize::new(1),
            status: AtomicU8::new(0),
        }
    }

    fn init(self: Pin<&Self>) {
        // SAFETY: `done` is valid for writes and pinned with `self`, and no
        // bio of the group exists yet.
        unsafe { ffi::sixfs_init_completion(self.done.get()) };
    }

    /// One more bio is about to be submitted.
    fn add(self: Pin<&Self>) {
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// One bio (or the submitter's share) has ended with `status`.
    fn end(&self, status: u8) {
        if status != 0 {
            let _ = self
                .status
                .compare_exchange(0, status, Ordering::Relaxed, Ordering::Relaxed);
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: `done` was initialised (type invariant) and the
            // submitter waits for it in `wait`; this is the group's last
            // access to `self`: the waiter returns only after it.
            unsafe { bindings::complete(self.done.get()) };
        }
    }

    /// Gives up the submitter's share and waits for every bio of the group;
    /// the first error of any.
    fn wait(self: Pin<&Self>) -> Result<(), BioError> {
        self.end(0);
        // SAFETY: `done` was initialised (`init`); callers run in process
        // context holding no spinlock; the last `end` completes it.
        unsafe { bindings::wait_for_completion_io(self.done.get()) };
        // The completion's last access to `self` (its lock's release)
        // happened before the wait above could take that lock and return,
        // as for kthread joins (glue/kthread.rs): `self` may go.
        match self.status.load(Ordering::Acquire) {
            0 => Ok(()),
            status => Err(BioError::Status(status)),
        }
    }
}

impl Drop for BlockDevice {
    fn drop(&mut self) {
        // SAFETY: the reference is ours (type invariant) and put once; no
        // bio of ours is in flight (each call waits for its bio).
        unsafe { bindings::fput(self.file.as_ptr()) };
    }
}

/// `bi_end_io` of every bio sent by [`BlockDevice::submit`]: ends it in
/// its group, which wakes the submitter after the last one.
///
/// # Safety
///
/// Called by the block layer once, on a bio whose `bi_private` is the
/// group ([`InFlight`]) it was submitted in.
unsafe extern "C" fn end_io(bio: *mut bindings::bio) {
    // SAFETY: the bio has ended: its status is final; `bi_private` is its
    // group, valid until the group's last bio ended (the submitter waits).
    let (status, group) = unsafe { ((*bio).bi_status, &*(*bio).bi_private.cast::<InFlight>()) };
    // SAFETY: the submitter's reference from the allocation, put once;
    // nothing else uses the bio after its end.
    unsafe { bindings::bio_put(bio) };
    group.end(status);
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
