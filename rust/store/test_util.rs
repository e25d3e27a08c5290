// SPDX-License-Identifier: GPL-2.0

//! What the store's journal and crash tests share.

use super::format;
use crate::device::memory::MemoryDevice;
use crate::format::geometry::{Geometry, GeometryChoice};
use crate::format::label::Label;
use crate::format::superblock::{JournalLocation, Superblock};
use crate::platform::{ok, TestFailed};

/// The UUID of [`small_device`]'s filesystem (journal entries carry it).
pub(super) const UUID: [u8; 16] = [4; 16];

/// A fresh device of `bytes` with 512-byte nodes and blocks in 4 KiB
/// buckets, and a journal of only `journal_buckets` buckets, so that it
/// fills and wraps.
pub(super) fn small_device(bytes: u64, journal_buckets: u64) -> Result<MemoryDevice, TestFailed> {
    let dev = ok!(MemoryDevice::new(bytes));
    let choice = GeometryChoice {
        block_size: Some(512),
        bucket_size: Some(4096),
        node_size: Some(512),
    };
    let geometry = ok!(Geometry::for_device(bytes, choice));
    let mut sb = Superblock::new(geometry, UUID, ok!(Label::new("test")));
    sb.journal = JournalLocation {
        first_bucket: sb.journal.first_bucket,
        bucket_count: journal_buckets,
    };
    ok!(format(&dev, &sb));
    Ok(dev)
}
