// SPDX-License-Identifier: GPL-2.0

//! `sixfs dump`: the superblock, readable.

use crate::file_device::{Access, FileDevice};
use crate::{messages, uuid};
use clap::Args;
use sixfs_core::device::Device;
use sixfs_core::format::btree_root::BtreeRoot;
use sixfs_core::format::geometry::SUPERBLOCK_OFFSET;
use sixfs_core::format::superblock::{Superblock, MAGIC, VERSION};
use sixfs_core::format::superblock_io::read_superblocks;
use std::fmt::Write;
use std::path::PathBuf;

/// Show a sixfs filesystem's superblock (both copies).
#[derive(Args, Debug)]
pub struct DumpArgs {
    /// The block device or image file.
    pub device: PathBuf,
}

/// The fields of `sb`, one per line, indented.
pub fn describe(sb: &Superblock) -> String {
    let g = sb.geometry;
    let data = g.data_buckets();
    let mut out = String::new();
    let mut line = |name: &str, value: String| {
        let _ = writeln!(out, "  {name:<16}{value}");
    };
    line(
        "magic",
        format!("{:?}, version {VERSION}", String::from_utf8_lossy(&MAGIC)),
    );
    line("uuid", uuid::format(&sb.uuid));
    line("label", format!("{:?}", sb.label.as_str()));
    line("sequence", sb.seq.to_string());
    line("clean", if sb.clean { "yes" } else { "no" }.to_string());
    line(
        "size",
        format!("{} blocks, {}", g.block_count, messages::size(g.bytes())),
    );
    line("block size", messages::size(g.block_size.into()));
    line("bucket size", messages::size(g.bucket_size.into()));
    line("btree node size", messages::size(g.node_size.into()));
    line(
        "buckets",
        format!(
            "{} ({} for data: {}..{})",
            g.bucket_count(),
            data.end - data.start,
            data.start,
            data.end
        ),
    );
    line(
        "superblocks",
        format!("at bytes {SUPERBLOCK_OFFSET} and {}", g.backup_offset()),
    );
    let f = sb.features;
    line(
        "features",
        format!(
            "compat {:#x}, ro_compat {:#x}, incompat {:#x}",
            f.compat, f.ro_compat, f.incompat
        ),
    );
    line(
        "journal",
        if sb.journal.bucket_count == 0 {
            "none".to_string()
        } else {
            format!(
                "buckets {}..{}",
                sb.journal.first_bucket,
                sb.journal.first_bucket + sb.journal.bucket_count
            )
        },
    );
    let roots: Vec<String> = sb
        .roots
        .iter()
        .enumerate()
        .filter_map(|(id, root)| match root {
            BtreeRoot::Empty => None,
            BtreeRoot::Node { sector, level } => {
                Some(format!("{id}: sector {sector}, level {level}"))
            }
        })
        .collect();
    line(
        "btree roots",
        if roots.is_empty() {
            "none (every btree empty)".to_string()
        } else {
            roots.join("; ")
        },
    );
    out
}

/// Runs dump; returns the exit status: 0 when a valid superblock was
/// shown, 1 otherwise.
pub fn run(args: &DumpArgs) -> u8 {
    let path = args.device.display();
    let dev = match FileDevice::open(&args.device, Access::ReadOnly) {
        Ok(dev) => dev,
        Err(e) => {
            eprintln!("sixfs dump: {path}: cannot open: {e}");
            return 1;
        }
    };
    println!("{path}: {} bytes", dev.size());
    let copies = read_superblocks(&dev);
    let backup_at = copies
        .backup_offset
        .map_or("not found".to_string(), |o| format!("at byte {o}"));
    match &copies.primary {
        Ok(sb) => print!(
            "primary superblock at byte {SUPERBLOCK_OFFSET}:\n{}",
            describe(sb)
        ),
        Err(e) => println!(
            "primary superblock at byte {SUPERBLOCK_OFFSET}: invalid: {}",
            messages::read(e)
        ),
    }
    match &copies.backup {
        Ok(sb) if copies.primary.as_ref() == Ok(sb) => {
            println!("backup superblock {backup_at}: identical to the primary");
        }
        Ok(sb) => print!("backup superblock {backup_at}:\n{}", describe(sb)),
        Err(e) => println!(
            "backup superblock {backup_at}: invalid: {}",
            messages::read(e)
        ),
    }
    u8::from(copies.newest().is_none())
}
