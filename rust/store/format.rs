// SPDX-License-Identifier: GPL-2.0

//! A new filesystem: what mkfs writes after it chose the superblock.

use super::StoreError;
use crate::device::{Device, SECTOR_SIZE};
use crate::format::space_map;
use crate::format::superblock::Superblock;
use crate::format::superblock_io::write_superblocks;
use crate::platform::vec::Vec;

/// Writes an empty filesystem described by `sb` (every root empty, as
/// [`Superblock::new`] makes it): the space map copy its sequence number
/// names, flushed, then both superblock copies. Nothing else on the device
/// is read or written.
pub fn format(dev: &dyn Device, sb: &Superblock) -> Result<(), StoreError> {
    let journal = sb.journal.first_bucket..sb.journal.first_bucket + sb.journal.bucket_count;
    let records =
        space_map::initial(&sb.geometry, &sb.space_map, journal).map_err(StoreError::SpaceMap)?;
    write_space_map(dev, sb, &records, sb.seq)?;
    dev.flush()?;
    write_superblocks(dev, sb).map_err(StoreError::SuperblockWrite)
}

/// Writes `records` as the space map copy of sequence number `seq`
/// (not flushed).
pub(super) fn write_space_map(
    dev: &dyn Device,
    sb: &Superblock,
    records: &[space_map::Bucket],
    seq: u64,
) -> Result<(), StoreError> {
    let bytes = space_map::copy_bytes(records.len() as u64).next_multiple_of(SECTOR_SIZE);
    let mut buf = Vec::new();
    buf.try_extend_with(bytes, 0u8)?;
    space_map::encode(records, seq, &mut buf).map_err(StoreError::SpaceMap)?;
    dev.write(sb.space_map.copy_offset(&sb.geometry, seq), &buf)?;
    Ok(())
}

/// Reads the space map copy of `sb`.
pub(super) fn read_space_map(
    dev: &dyn Device,
    sb: &Superblock,
) -> Result<Vec<space_map::Bucket>, StoreError> {
    let buckets = sb.geometry.bucket_count();
    let bytes = space_map::copy_bytes(buckets).next_multiple_of(SECTOR_SIZE);
    let mut buf = Vec::new();
    buf.try_extend_with(bytes, 0u8)?;
    dev.read(sb.space_map.copy_offset(&sb.geometry, sb.seq), &mut buf)?;
    space_map::decode(&buf, buckets, sb.seq).map_err(StoreError::SpaceMap)
}
