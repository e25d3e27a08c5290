// SPDX-License-Identifier: GPL-2.0

//! `sixfs mkfs` (`mkfs.sixfs`): makes a filesystem on a device or image.

use crate::file_device::{Access, FileDevice};
use crate::{messages, signatures, uuid};
use clap::Args;
use sixfs_core::device::Device;
use sixfs_core::format::geometry::{Geometry, GeometryChoice, SUPERBLOCK_SIZE};
use sixfs_core::format::label::Label;
use sixfs_core::format::superblock::Superblock;
use sixfs_core::format::superblock_io::backup_candidates;
use sixfs_core::store::StoreError;
use std::path::PathBuf;

/// Exit status of a successful mkfs.
pub const EXIT_OK: u8 = 0;
/// Exit status of a failed mkfs (and of a usage error), as mkfs(8) has it.
pub const EXIT_FAILED: u8 = 1;

/// Make a sixfs filesystem on a block device or an image file.
#[derive(Args, Debug)]
pub struct MkfsArgs {
    /// The block device or image file (which must exist: create an image
    /// with `truncate -s SIZE FILE`).
    pub device: PathBuf,
    /// The filesystem's label (at most 64 bytes of UTF-8).
    #[arg(short = 'L', long)]
    pub label: Option<String>,
    /// The filesystem's UUID (random if not given).
    #[arg(short = 'U', long, value_parser = uuid::parse)]
    pub uuid: Option<[u8; 16]>,
    /// Block size: a power of two from 512 to 64k (default 4k).
    #[arg(short = 'b', long, value_parser = parse_size)]
    pub block_size: Option<u32>,
    /// Bucket size, the unit of allocation: a power of two from 4k to 64M
    /// (default: chosen by the device's size, at most 2M).
    #[arg(long, value_parser = parse_size)]
    pub bucket_size: Option<u32>,
    /// Btree node size: a power of two from 512 to 1M, at least a block and
    /// at most a bucket (default 256k, or the bucket size if smaller).
    #[arg(long, value_parser = parse_size)]
    pub node_size: Option<u32>,
    /// Format even if the device holds a filesystem.
    #[arg(short, long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// A size such as `4096`, `4k`, `4KiB`, `1M`, `2MiB`.
pub fn parse_size(text: &str) -> Result<u32, String> {
    let lower = text.trim().to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let shift = match &lower[digits.len()..] {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        unit => return Err(format!("unknown size unit {unit:?} (use k or M)")),
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size {text:?}"))?;
    number
        .checked_mul(1 << shift)
        .and_then(|bytes| u32::try_from(bytes).ok())
        .ok_or_else(|| format!("size {text:?} is too large"))
}

fn fail(args: &MkfsArgs, what: &str) -> u8 {
    eprintln!("mkfs.sixfs: {}: {what}", args.device.display());
    EXIT_FAILED
}

/// Runs mkfs; returns the exit status.
pub fn run(args: &MkfsArgs) -> u8 {
    let dev = match FileDevice::open(&args.device, Access::ReadWrite) {
        Ok(dev) => dev,
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            return fail(args, "in use (mounted?)");
        }
        Err(e) => return fail(args, &format!("cannot open: {e}")),
    };
    let choice = GeometryChoice {
        block_size: args.block_size,
        bucket_size: args.bucket_size,
        node_size: args.node_size,
    };
    let geometry = match Geometry::for_device(dev.size(), choice) {
        Ok(g) => g,
        Err(e) => return fail(args, &messages::geometry(&e)),
    };
    let label = match Label::new(args.label.as_deref().unwrap_or("")) {
        Ok(label) => label,
        Err(e) => return fail(args, &messages::label(&e)),
    };
    let uuid = match args.uuid.map_or_else(uuid::random, Ok) {
        Ok(uuid) => uuid,
        Err(e) => return fail(args, &format!("cannot make a UUID: {e}")),
    };
    let found = signatures::find(&dev);
    if !found.is_empty() && !args.force {
        let names: Vec<&str> = found.iter().map(|s| s.name).collect();
        return fail(
            args,
            &format!(
                "holds a filesystem ({}); use -f to overwrite it",
                names.join(", ")
            ),
        );
    }
    // Clear what would still be recognised: the other filesystems' magic
    // numbers, and every place a sixfs backup may be, so that a stale
    // backup of an earlier sixfs is never taken for this one's.
    let zeroes = [0u8; SUPERBLOCK_SIZE];
    for signature in &found {
        let len = (signature.wipe.end - signature.wipe.start) as usize;
        if let Err(e) = dev.write(signature.wipe.start, &zeroes[..len]) {
            return fail(args, &messages::device(&e));
        }
    }
    for offset in backup_candidates(dev.size()) {
        if let Err(e) = dev.write(offset, &zeroes) {
            return fail(args, &messages::device(&e));
        }
    }
    let sb = Superblock::new(geometry, uuid, label);
    match sixfs_core::store::format(&dev, &sb) {
        Ok(()) => {}
        Err(StoreError::SuperblockWrite(e)) => return fail(args, &messages::write(&e)),
        Err(e) => return fail(args, &e.to_string()),
    }
    if !args.quiet {
        let data = geometry.data_buckets();
        println!(
            "mkfs.sixfs: {}: {}, {} blocks of {}, {} buckets of {} ({} for data), btree nodes of {}",
            args.device.display(),
            messages::size(geometry.bytes()),
            geometry.block_count,
            messages::size(geometry.block_size.into()),
            geometry.bucket_count(),
            messages::size(geometry.bucket_size.into()),
            data.end - data.start,
            messages::size(geometry.node_size.into()),
        );
        println!("UUID {}, label {:?}", uuid::format(&uuid), label.as_str());
    }
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("2M"), Ok(2 << 20));
        assert!(parse_size("4G").is_err());
        assert!(parse_size("8T").is_err());
        assert!(parse_size("k").is_err());
        assert!(parse_size("-4k").is_err());
        assert!(parse_size("99999999999").is_err());
    }
}
