// SPDX-License-Identifier: GPL-2.0

//! `read_superblocks` over a small in-memory device: the primary, the
//! backup where the primary puts it, or the search for the backup.
//!
//! Input: the device's size (u16 at 0: 8 + n % 4096 sectors, up to 2 MiB),
//! which backup place gets the second image (byte 2: an index into
//! `backup_candidates`), then the primary's image (4 KiB at 3) and the
//! backup's (4 KiB at 3 + 4096); a short input leaves zeros. Whatever is
//! accepted must fit the device and sit where its own geometry puts it.

use super::superblock;
use crate::{Outcome, Target};
use sixfs_core::device::memory::MemoryDevice;
use sixfs_core::device::Device;
use sixfs_core::format::geometry::{Geometry, GeometryChoice, SUPERBLOCK_OFFSET};
use sixfs_core::format::label::Label;
use sixfs_core::format::superblock::{Superblock, SUPERBLOCK_SIZE};
use sixfs_core::format::superblock_io::{backup_candidates, read_superblocks, SuperblockCopy};

pub static TARGET: Target = Target {
    name: "superblock_device",
    seeds,
    check,
    fix_up: Some(fix_checksums),
    fields: &FIELDS,
    max_input: BACKUP_AT + SUPERBLOCK_SIZE + 512,
};

const PRIMARY_AT: usize = 3;
const BACKUP_AT: usize = PRIMARY_AT + SUPERBLOCK_SIZE;
// Small: the in-memory device zeroes twice its size for every input.
const MAX_SECTORS: u64 = 1024;

/// The size, the backup's place, and the superblock fields of both images.
const FIELDS: [usize; 2 + 2 * superblock::FIELDS.len()] = {
    let mut out = [0usize; 2 + 2 * superblock::FIELDS.len()];
    out[1] = 2;
    let mut i = 0;
    while i < superblock::FIELDS.len() {
        out[2 + 2 * i] = PRIMARY_AT + superblock::FIELDS[i];
        out[3 + 2 * i] = BACKUP_AT + superblock::FIELDS[i];
        i += 1;
    }
    out
};

fn device_bytes(input: &[u8]) -> u64 {
    let raw = u16::from_le_bytes([
        input.first().copied().unwrap_or(0),
        input.get(1).copied().unwrap_or(0),
    ]);
    (8 + u64::from(raw) % MAX_SECTORS) * 512
}

/// An input for a device of `sectors` sectors holding `primary` and
/// `backup`, the backup where `sb`'s geometry puts it.
fn input_for(sectors: u16, sb: &Superblock, primary: &[u8], backup: &[u8]) -> Vec<u8> {
    let bytes = (8 + u64::from(sectors) % MAX_SECTORS) * 512;
    let place = backup_candidates(bytes)
        .position(|at| at == sb.geometry.backup_offset())
        .expect("the seed's backup is at a candidate place");
    let mut input = sectors.to_le_bytes().to_vec();
    input.push(place as u8);
    input.extend_from_slice(primary);
    input.extend_from_slice(backup);
    input
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (sectors, bucket) in [(1000u16, 4096u32), (1010, 16384), (300, 4096)] {
        let bytes = (8 + u64::from(sectors)) * 512;
        let choice = GeometryChoice {
            block_size: Some(512),
            bucket_size: Some(bucket),
            node_size: Some(512),
        };
        let geometry = Geometry::for_device(bytes, choice).expect("a seed geometry is valid");
        let sb = Superblock::new(geometry, [1; 16], Label::EMPTY);
        let image = superblock::encode(&sb);
        out.push(input_for(sectors, &sb, &image, &image));
        // A primary with a bad checksum: the backup is searched for.
        let mut bad = image.clone();
        bad[0x20] ^= 1;
        out.push(input_for(sectors, &sb, &bad, &image));
        // A newer backup than the primary.
        let mut newer = sb;
        newer.seq += 1;
        out.push(input_for(sectors, &sb, &image, &superblock::encode(&newer)));
    }
    out
}

fn fix_checksums(input: &mut [u8]) {
    for at in [PRIMARY_AT, BACKUP_AT] {
        if let Some(image) = input.get_mut(at..) {
            superblock::fix_checksum(image);
        }
    }
}

fn image(input: &[u8], at: usize) -> Vec<u8> {
    let mut image = input.get(at..).unwrap_or(&[]).to_vec();
    image.resize(SUPERBLOCK_SIZE, 0);
    image
}

fn check(input: &[u8]) -> Result<Outcome, String> {
    let bytes = device_bytes(input);
    let dev = MemoryDevice::new(bytes).map_err(|e| format!("test device: {e:?}"))?;
    let candidates: Vec<u64> = backup_candidates(bytes).collect();
    if SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE as u64 <= bytes {
        dev.write(SUPERBLOCK_OFFSET, &image(input, PRIMARY_AT))
            .map_err(|e| format!("writing the primary: {e:?}"))?;
    }
    if !candidates.is_empty() {
        let place = usize::from(input.get(2).copied().unwrap_or(0)) % candidates.len();
        dev.write(candidates[place], &image(input, BACKUP_AT))
            .map_err(|e| format!("writing the backup: {e:?}"))?;
    }
    let copies = read_superblocks(&dev);
    let mut outcome = Outcome::Refused;
    for (copy, read) in [
        (SuperblockCopy::Primary, &copies.primary),
        (SuperblockCopy::Backup, &copies.backup),
    ] {
        let Ok(sb) = read else { continue };
        outcome = Outcome::Accepted;
        if sb.geometry.bytes() > bytes {
            return Err(format!(
                "{copy:?} accepted for {} bytes on a {bytes}-byte device",
                sb.geometry.bytes()
            ));
        }
        if copy == SuperblockCopy::Backup && copies.backup_offset != Some(copy.offset(&sb.geometry))
        {
            return Err(format!(
                "backup accepted at {:?}, its geometry puts it at {}",
                copies.backup_offset,
                copy.offset(&sb.geometry)
            ));
        }
    }
    if let Ok(primary) = &copies.primary {
        if copies.backup_offset != Some(primary.geometry.backup_offset()) {
            return Err("the backup was not looked for where the primary says".into());
        }
    }
    match copies.newest() {
        Some(_) if outcome == Outcome::Refused => Err("a newest copy among none valid".into()),
        None if outcome == Outcome::Accepted => Err("no newest copy among valid ones".into()),
        _ => Ok(outcome),
    }
}
