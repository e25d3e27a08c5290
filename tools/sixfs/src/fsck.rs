// SPDX-License-Identifier: GPL-2.0

//! `sixfs fsck` (`fsck.sixfs`): checks a filesystem and repairs what is
//! safe to repair.
//!
//! What it checks today is the superblock, since it is all there is on
//! disk: both copies' checksums and rules (geometry, features, label,
//! journal range, roots), that the filesystem fits on the device, and that
//! the backup equals the primary. A bad or stale copy is repaired by
//! copying the good one's bytes over it. Btree nodes and allocation come
//! with them.

use crate::file_device::{Access, FileDevice};
use crate::messages;
use clap::Args;
use sixfs_core::device::Device;
use sixfs_core::format::features;
use sixfs_core::format::geometry::{SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};
use sixfs_core::format::superblock::{Superblock, SuperblockError};
use sixfs_core::format::superblock_io::{read_superblocks, ReadError, SuperblockCopy};
use std::path::PathBuf;

// Exit statuses, as fsck(8) defines them (they are or-ed together there;
// one of them at a time here).
/// No errors.
pub const EXIT_OK: u8 = 0;
/// Errors were found and corrected.
pub const EXIT_CORRECTED: u8 = 1;
/// Errors were found and left uncorrected.
pub const EXIT_UNCORRECTED: u8 = 4;
/// Operational error: the device cannot be opened, read or written, or
/// holds no sixfs this fsck can check.
pub const EXIT_OPERATIONAL: u8 = 8;
/// Usage or syntax error.
pub const EXIT_USAGE: u8 = 16;

/// Check a sixfs filesystem. Without -p or -y nothing is changed, as with
/// -n: the problems found are reported and the exit status is 4.
#[derive(Args, Debug)]
pub struct FsckArgs {
    /// The block device or image file.
    pub device: PathBuf,
    /// Change nothing; report what is wrong.
    #[arg(short = 'n', long = "no", conflicts_with_all = ["preen", "yes"])]
    pub no: bool,
    /// Repair what is safe to repair without asking (-a is the same).
    #[arg(short = 'p', visible_short_alias = 'a', long = "preen")]
    pub preen: bool,
    /// Repair everything that can be repaired.
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Check even if the filesystem seems clean (always the case: every
    /// check runs every time; accepted for fsck(8)'s sake).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Say more about what is checked.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

fn name(copy: SuperblockCopy) -> &'static str {
    match copy {
        SuperblockCopy::Primary => "primary superblock",
        SuperblockCopy::Backup => "backup superblock",
    }
}

/// Runs fsck; returns the exit status.
pub fn run(args: &FsckArgs) -> u8 {
    let path = args.device.display();
    let repair = (args.preen || args.yes) && !args.no;
    let access = if repair {
        Access::ReadWrite
    } else {
        Access::ReadOnly
    };
    let dev = match FileDevice::open(&args.device, access) {
        Ok(dev) => dev,
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            eprintln!("fsck.sixfs: {path}: in use (mounted?); check it unmounted, or with -n");
            return EXIT_OPERATIONAL;
        }
        Err(e) => {
            eprintln!("fsck.sixfs: {path}: cannot open: {e}");
            return EXIT_OPERATIONAL;
        }
    };
    let copies = read_superblocks(&dev);
    let Some((source, newest)) = copies.newest() else {
        return no_superblock(args, &copies.primary, &copies.backup);
    };
    let newest = *newest;
    let mut repair_allowed = repair;
    if let Ok(features::Access::ReadOnly { unknown_ro_compat }) = newest.features.access() {
        eprintln!(
            "fsck.sixfs: {path}: read-only-compatible features {unknown_ro_compat:#x} unknown to this fsck: checking what it knows, repairing nothing"
        );
        repair_allowed = false;
    }
    if args.verbose {
        let g = newest.geometry;
        println!(
            "fsck.sixfs: {path}: sixfs of {}, sequence {}, newest copy: the {}",
            messages::size(g.bytes()),
            newest.seq,
            name(source)
        );
    }

    // Each copy that is not the newest valid one is a problem.
    let mut bad = Vec::new();
    for (copy, result) in [
        (SuperblockCopy::Primary, &copies.primary),
        (SuperblockCopy::Backup, &copies.backup),
    ] {
        let problem = match result {
            Err(e) => messages::read(e),
            Ok(sb) if sb.seq < newest.seq => format!(
                "older than the {} (sequence {} < {})",
                name(source),
                sb.seq,
                newest.seq
            ),
            Ok(sb) if *sb != newest => format!("differs from the {}", name(source)),
            Ok(_) => continue,
        };
        eprintln!("fsck.sixfs: {path}: {}: {problem}", name(copy));
        bad.push(copy);
    }
    if bad.is_empty() {
        if !args.verbose {
            return EXIT_OK;
        }
        println!(
            "fsck.sixfs: {path}: clean{}",
            if newest.clean {
                ""
            } else {
                " (not unmounted cleanly: mount recovers it)"
            }
        );
        return EXIT_OK;
    }
    if !repair_allowed {
        if !repair {
            eprintln!("fsck.sixfs: {path}: not repaired (run with -p or -y to repair)");
        }
        return EXIT_UNCORRECTED;
    }
    let offset_of = |copy| match copy {
        SuperblockCopy::Primary => SUPERBLOCK_OFFSET,
        SuperblockCopy::Backup => newest.geometry.backup_offset(),
    };
    for copy in bad {
        if let Err(e) = copy_bytes(&dev, offset_of(source), offset_of(copy)) {
            eprintln!(
                "fsck.sixfs: {path}: cannot repair the {}: {}",
                name(copy),
                messages::device(&e)
            );
            return EXIT_OPERATIONAL;
        }
        println!(
            "fsck.sixfs: {path}: {} repaired from the {}",
            name(copy),
            name(source)
        );
    }
    let after = read_superblocks(&dev);
    if after.primary == Ok(newest) && after.backup == Ok(newest) {
        EXIT_CORRECTED
    } else {
        eprintln!("fsck.sixfs: {path}: the repair did not hold (the device does not keep what is written?)");
        EXIT_UNCORRECTED
    }
}

/// Copies one superblock copy's bytes over the other's place, and flushes:
/// the bytes exactly, so that fields a newer sixfs added survive.
fn copy_bytes(dev: &FileDevice, from: u64, to: u64) -> Result<(), sixfs_core::device::DeviceError> {
    let mut buf = vec![0u8; SUPERBLOCK_SIZE];
    dev.read(from, &mut buf)?;
    dev.write(to, &buf)?;
    dev.flush()
}

fn no_superblock(
    args: &FsckArgs,
    primary: &Result<Superblock, ReadError>,
    backup: &Result<Superblock, ReadError>,
) -> u8 {
    let path = args.device.display();
    let newer = |r: &Result<Superblock, ReadError>| {
        matches!(
            r,
            Err(ReadError::Invalid(
                SuperblockError::UnsupportedVersion(_) | SuperblockError::UnknownIncompat(_)
            ))
        )
    };
    if newer(primary) {
        eprintln!(
            "fsck.sixfs: {path}: made by a newer sixfs, which this fsck cannot check: {}",
            primary
                .as_ref()
                .err()
                .map(messages::read)
                .unwrap_or_default()
        );
    } else if primary == &Err(ReadError::Invalid(SuperblockError::BadMagic))
        && backup == &Err(ReadError::NoBackupFound)
    {
        eprintln!("fsck.sixfs: {path}: no sixfs filesystem found");
    } else {
        for (copy, result) in [
            (SuperblockCopy::Primary, primary),
            (SuperblockCopy::Backup, backup),
        ] {
            if let Err(e) = result {
                eprintln!("fsck.sixfs: {path}: {}: {}", name(copy), messages::read(e));
            }
        }
        eprintln!("fsck.sixfs: {path}: no valid superblock: cannot check or repair");
    }
    EXIT_OPERATIONAL
}
