// SPDX-License-Identifier: GPL-2.0

//! An in-memory device for tests: it fails the reads and writes it is told
//! to and loses power on demand, dropping, keeping or tearing the writes
//! that were not flushed. Plain Rust, so the same crash tests run under
//! `cargo test` and KUnit.
//!
//! It keeps two images of the disk: `current`, what reads see, and
//! `durable`, what survives a power loss (the contents as of the last
//! flush), and a bitmap of the sectors written since that flush. A flush
//! copies those sectors from `current` to `durable`; a power loss decides,
//! sector by sector, which of the two survives. The model is a disk that
//! writes each sector atomically and may persist unflushed sectors in any
//! order: a sector written twice since the last flush survives with its
//! last or its flushed contents, never an intermediate one.

use super::{check_range, Device, DeviceError, IoKind, EIO, SECTOR_SIZE};
use crate::platform::rng::Rng;
use crate::platform::sync::{AllocError, SpinLock};
use crate::platform::vec::Vec;
use core::ops::Range;

/// Bytes per allocation of the images: small pieces, as the kernel cannot
/// promise large physically contiguous ones.
const PAGE_BYTES: usize = 4096;
const SECTORS_PER_PAGE: u64 = (PAGE_BYTES / SECTOR_SIZE) as u64;

/// Which I/Os fail. Every field is off by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Reads that overlap this byte range fail.
    pub read: Option<Range<u64>>,
    /// Writes that overlap this byte range fail and change nothing.
    pub write: Option<Range<u64>>,
    /// Every flush fails and makes nothing durable.
    pub flush: bool,
    /// This many more writes succeed, then every write fails: a device
    /// that dies in the middle of an update.
    pub writes_until_failure: Option<u64>,
}

/// What happens to the writes not yet flushed when the power goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerLoss {
    /// They are all lost: the device holds what the last flush made durable.
    DropUnflushed,
    /// They all reached the medium in time.
    KeepUnflushed,
    /// Each unflushed sector independently survives or not, as a generator
    /// seeded with `seed` decides: the same seed tears the same way.
    Tear {
        /// Seed of the choice.
        seed: u64,
    },
}

/// Counts of the I/Os a [`MemoryDevice`] has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Reads that succeeded.
    pub reads: u64,
    /// Writes that succeeded.
    pub writes: u64,
    /// Flushes that succeeded.
    pub flushes: u64,
    /// I/Os failed by the injected [`Faults`].
    pub failed: u64,
}

/// What a power loss did to the unflushed sectors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PowerLossReport {
    /// Sectors written since the last flush.
    pub unflushed: u64,
    /// Of those, the ones whose new contents survived.
    pub kept: u64,
}

struct State {
    /// What reads see: one page of bytes per [`PAGE_BYTES`].
    current: Vec<Vec<u8>>,
    /// What the device holds as of the last successful flush.
    durable: Vec<Vec<u8>>,
    /// One bit per sector written since the last successful flush.
    unflushed: Vec<u64>,
    faults: Faults,
    stats: IoStats,
}

/// An in-memory [`Device`] with injected failures and power loss.
pub struct MemoryDevice {
    size: u64,
    state: SpinLock<State>,
}

fn zeroed_pages(count: usize) -> Result<Vec<Vec<u8>>, AllocError> {
    let mut pages = Vec::try_with_capacity(count)?;
    for _ in 0..count {
        let mut page = Vec::try_with_capacity(PAGE_BYTES)?;
        page.try_extend_with(PAGE_BYTES, 0u8)?;
        pages.try_push(page)?;
    }
    Ok(pages)
}

fn overlaps(range: &Option<Range<u64>>, offset: u64, len: usize) -> bool {
    let end = offset.saturating_add(len as u64);
    range
        .as_ref()
        .is_some_and(|r| len > 0 && r.start < end && offset < r.end)
}

/// The page and the byte range within it that hold `sector`.
fn locate(sector: u64) -> (usize, Range<usize>) {
    let page = (sector / SECTORS_PER_PAGE) as usize;
    let start = (sector % SECTORS_PER_PAGE) as usize * SECTOR_SIZE;
    (page, start..start + SECTOR_SIZE)
}

fn sector_of(pages: &[Vec<u8>], sector: u64) -> Option<&[u8]> {
    let (page, bytes) = locate(sector);
    pages.get(page)?.get(bytes)
}

fn sector_of_mut(pages: &mut [Vec<u8>], sector: u64) -> Option<&mut [u8]> {
    let (page, bytes) = locate(sector);
    pages.get_mut(page)?.get_mut(bytes)
}

/// Copies `sector` from `from` to `to` (a flush keeping it, or a power loss
/// dropping it).
fn copy_sector(from: &[Vec<u8>], to: &mut [Vec<u8>], sector: u64) {
    if let (Some(src), Some(dst)) = (sector_of(from, sector), sector_of_mut(to, sector)) {
        dst.copy_from_slice(src);
    }
}

impl State {
    fn is_unflushed(&self, sector: u64) -> bool {
        let word = self.unflushed.get((sector / 64) as usize).copied();
        word.is_some_and(|w| w & (1 << (sector % 64)) != 0)
    }

    fn mark_unflushed(&mut self, sector: u64) {
        if let Some(word) = self.unflushed.get_mut((sector / 64) as usize) {
            *word |= 1 << (sector % 64);
        }
    }

    /// Every unflushed sector, in order, and clears the bitmap.
    fn take_unflushed(&mut self, mut each: impl FnMut(&mut Self, u64)) {
        for word_index in 0..self.unflushed.len() {
            let Some(word) = self.unflushed.get_mut(word_index).map(core::mem::take) else {
                continue;
            };
            let mut bits = word;
            while bits != 0 {
                let bit = u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                each(self, word_index as u64 * 64 + bit);
            }
        }
    }

    fn fail(&mut self, kind: IoKind, offset: u64, len: usize) -> DeviceError {
        self.stats.failed += 1;
        DeviceError::Io {
            kind,
            offset,
            len,
            errno: EIO,
        }
    }
}

impl MemoryDevice {
    /// A zeroed device of `size` bytes (a multiple of [`SECTOR_SIZE`]),
    /// everything durable. It allocates the disk twice over.
    pub fn new(size: u64) -> Result<Self, DeviceError> {
        if size % SECTOR_SIZE as u64 != 0 {
            return Err(DeviceError::Unaligned {
                offset: 0,
                len: size as usize,
            });
        }
        let pages =
            usize::try_from(size.div_ceil(PAGE_BYTES as u64)).map_err(|_| DeviceError::NoMemory)?;
        let sectors = size / SECTOR_SIZE as u64;
        let words = usize::try_from(sectors.div_ceil(64)).map_err(|_| DeviceError::NoMemory)?;
        let mut unflushed = Vec::try_with_capacity(words).map_err(|_| DeviceError::NoMemory)?;
        unflushed
            .try_extend_with(words, 0u64)
            .map_err(|_| DeviceError::NoMemory)?;
        let state = State {
            current: zeroed_pages(pages).map_err(|_| DeviceError::NoMemory)?,
            durable: zeroed_pages(pages).map_err(|_| DeviceError::NoMemory)?,
            unflushed,
            faults: Faults::default(),
            stats: IoStats::default(),
        };
        Ok(Self {
            size,
            state: SpinLock::new(state),
        })
    }

    /// Replaces the injected faults.
    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().faults = faults;
    }

    /// The I/Os seen so far.
    pub fn stats(&self) -> IoStats {
        self.state.lock().stats
    }

    /// Sectors written since the last successful flush.
    pub fn unflushed_sectors(&self) -> u64 {
        let state = self.state.lock();
        state
            .unflushed
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum()
    }

    /// Cuts the power and brings the device back: the unflushed writes are
    /// dropped, kept or torn as `how` says, and afterwards reads see exactly
    /// what is durable. The injected faults stay.
    pub fn power_loss(&self, how: PowerLoss) -> PowerLossReport {
        let mut rng = Rng::new(match how {
            PowerLoss::Tear { seed } => seed,
            _ => 0,
        });
        let mut report = PowerLossReport::default();
        let mut state = self.state.lock();
        state.take_unflushed(|state, sector| {
            report.unflushed += 1;
            let keep = match how {
                PowerLoss::DropUnflushed => false,
                PowerLoss::KeepUnflushed => true,
                PowerLoss::Tear { .. } => rng.below(2) == 1,
            };
            if keep {
                report.kept += 1;
                copy_sector(&state.current, &mut state.durable, sector);
            } else {
                copy_sector(&state.durable, &mut state.current, sector);
            }
        });
        report
    }
}

impl Device for MemoryDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        check_range(self.size, offset, buf.len())?;
        let mut state = self.state.lock();
        if overlaps(&state.faults.read, offset, buf.len()) {
            return Err(state.fail(IoKind::Read, offset, buf.len()));
        }
        let first = offset / SECTOR_SIZE as u64;
        for (i, out) in buf.chunks_exact_mut(SECTOR_SIZE).enumerate() {
            if let Some(src) = sector_of(&state.current, first + i as u64) {
                out.copy_from_slice(src);
            }
        }
        state.stats.reads += 1;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        check_range(self.size, offset, data.len())?;
        let mut state = self.state.lock();
        let dead = match &mut state.faults.writes_until_failure {
            Some(0) => true,
            Some(left) => {
                *left -= 1;
                false
            }
            None => false,
        };
        if dead || overlaps(&state.faults.write, offset, data.len()) {
            return Err(state.fail(IoKind::Write, offset, data.len()));
        }
        let first = offset / SECTOR_SIZE as u64;
        for (i, src) in data.chunks_exact(SECTOR_SIZE).enumerate() {
            let sector = first + i as u64;
            if let Some(dst) = sector_of_mut(&mut state.current, sector) {
                dst.copy_from_slice(src);
            }
            state.mark_unflushed(sector);
        }
        state.stats.writes += 1;
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceError> {
        let mut state = self.state.lock();
        if state.faults.flush {
            return Err(state.fail(IoKind::Flush, 0, 0));
        }
        state.take_unflushed(|state, sector| {
            copy_sector(&state.current, &mut state.durable, sector);
        });
        state.stats.flushes += 1;
        Ok(())
    }
}

impl MemoryDevice {
    /// Whether `sector` was written since the last flush (for tests of the
    /// model itself).
    pub fn is_unflushed(&self, sector: u64) -> bool {
        self.state.lock().is_unflushed(sector)
    }
}
