// SPDX-License-Identifier: GPL-2.0

//! `sixfs dump`: the superblock, the space map, a btree or the journal,
//! readable.

use crate::file_device::{Access, FileDevice};
use crate::{journal, messages, uuid};
use clap::{Args, Subcommand};
use sixfs_core::bkey::{KeyError, Value};
use sixfs_core::btree::{BtreeId, BTREE_ID_NR};
use sixfs_core::device::Device;
use sixfs_core::device::SECTOR_SIZE;
use sixfs_core::format::btree_root::BtreeRoot;
use sixfs_core::format::geometry::SUPERBLOCK_OFFSET;
use sixfs_core::format::space_map::{self, Bucket, BucketKind};
use sixfs_core::format::superblock::{Superblock, MAGIC, VERSION};
use sixfs_core::format::superblock_io::read_superblocks;
use sixfs_core::node::Filter;
use sixfs_core::store::{OpenOptions, Store, StoreError, WalkStep};
use std::fmt::Write;
use std::io::Write as _;
use std::path::PathBuf;

/// Show a sixfs filesystem: its superblock (both copies; the default),
/// its space map, its btrees or its journal.
#[derive(Args, Debug)]
pub struct DumpArgs {
    /// The block device or image file.
    pub device: PathBuf,
    #[command(subcommand)]
    pub what: Option<DumpWhat>,
}

/// What to show.
#[derive(Subcommand, Debug)]
pub enum DumpWhat {
    /// Both superblock copies, field by field (the default).
    Superblock,
    /// The space map: how many buckets hold what, and a map of every
    /// bucket.
    Space,
    /// The nodes of one btree, or of every btree: level, sector, the
    /// range of positions each covers, its keys.
    Btree {
        /// The btree id (0 to 3); every btree if not given.
        id: Option<u8>,
        /// Print every key of every node too.
        #[arg(long)]
        keys: bool,
    },
    /// The journal: its ring, its cursor, and every entry of the chain
    /// mount would replay; where and why the chain ends.
    Journal {
        /// Print every record of every entry too.
        #[arg(long)]
        keys: bool,
    },
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
                "buckets {}..{}, replay from entry {} at block {}",
                sb.journal.first_bucket,
                sb.journal.first_bucket + sb.journal.bucket_count,
                sb.journal_cursor.seq,
                sb.journal_cursor.block
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

/// A line into a `String` (writing to one cannot fail).
macro_rules! say {
    ($out:ident, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Text without a newline into a `String`.
macro_rules! say_raw {
    ($out:ident, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// Prints what was gathered; a reader that went away (`| head`) is no
/// error of ours, so nothing is said (println! would panic).
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Runs dump; returns the exit status: 0 when everything asked for was
/// shown, 1 otherwise (no valid superblock, a bad space map or node).
pub fn run(args: &DumpArgs) -> u8 {
    match &args.what {
        None | Some(DumpWhat::Superblock) => superblocks(args),
        Some(DumpWhat::Space) => space(args),
        Some(DumpWhat::Btree { id, keys }) => btrees(args, *id, *keys),
        Some(DumpWhat::Journal { keys }) => journal_chain(args, *keys),
    }
}

/// The journal's ring and cursor, then each entry of the chain from the
/// cursor (with `keys`, each record), then where and why it ends. Exit
/// status 1 when an entry or record is bad (not for a torn end: that is
/// how a chain ends after a crash).
fn journal_chain(args: &DumpArgs, keys: bool) -> u8 {
    let (dev, sb) = match open(args) {
        Ok(opened) => opened,
        Err(status) => return status,
    };
    let path = args.device.display();
    let Some((ring, cursor)) = journal::ring_of(&sb) else {
        emit("no journal\n");
        return 0;
    };
    let mut out = std::io::stdout().lock();
    let mut head = String::new();
    say!(
        head,
        "journal: buckets {}..{}, a ring of {} blocks of {} at byte {}",
        sb.journal.first_bucket,
        sb.journal.first_bucket + sb.journal.bucket_count,
        ring.blocks,
        messages::size(ring.block_size as u64),
        ring.offset
    );
    say!(
        head,
        "cursor: entry {} at block {} (the last checkpoint's; {})",
        cursor.seq,
        cursor.block,
        if sb.clean {
            "clean: mount replays nothing"
        } else {
            "not clean: mount replays the chain"
        }
    );
    // Printed as read: a chain may hold thousands of records. A failed
    // print (a closed pipe: `| head`) stops the printing, not the read.
    let mut printing = out.write_all(head.as_bytes()).is_ok();
    let read = journal::read(&dev, &ring, cursor, |e, block| {
        if !printing {
            return;
        }
        let mut text = String::new();
        say!(
            text,
            "entry {} at block {}: {}, {}",
            e.seq,
            block,
            journal::count(u64::from(e.blocks), "block", "blocks"),
            journal::count(u64::from(e.records), "record", "records")
        );
        if keys {
            for record in e.records() {
                match record {
                    Ok((btree, k)) => say!(
                        text,
                        "  btree {btree} {} {}{}",
                        k.pos(),
                        value(k.value()),
                        journal::record_problem(btree, &k)
                            .map(|why| format!(": BAD: {why}"))
                            .unwrap_or_default()
                    ),
                    Err(e) => say!(text, "  BAD: not a key ({e:?})"),
                }
            }
        }
        printing = out.write_all(text.as_bytes()).is_ok();
    });
    let chain = match read {
        Ok(chain) => chain,
        Err(e) => {
            eprintln!("sixfs dump: {path}: reading the journal: {e}");
            return 1;
        }
    };
    let end = &chain.end;
    let mut tail = String::new();
    let mut status = 0;
    for bad in &chain.bad_records {
        status = 1;
        say!(
            tail,
            "BAD: entry {} at block {}, record {}: {}",
            bad.seq,
            bad.block,
            bad.index,
            bad.why
        );
    }
    match chain.stop {
        journal::Stop::RingFull => say!(tail, "the chain fills the ring"),
        journal::Stop::OutOfNumbers => {
            status = 1;
            say!(
                tail,
                "the chain ends at block {}: BAD: no entry may be numbered {}",
                end.head,
                u64::MAX
            );
        }
        journal::Stop::Torn { block, why } => say!(
            tail,
            "the chain ends at block {block}, where entry {} would be: {}",
            end.next_seq,
            journal::entry_error(&why, end.next_seq)
        ),
        journal::Stop::Corrupt { block, why, later } => {
            status = 1;
            say!(
                tail,
                "the chain ends at block {block}: BAD: entry {}, corrupt (its checksum is right): {}; {} after it",
                end.next_seq,
                journal::entry_error(&why, end.next_seq),
                journal::count(later, "entry", "entries")
            );
        }
    }
    say!(
        tail,
        "{}, {}, {} of the ring's {} blocks",
        journal::count(end.entries, "entry", "entries"),
        journal::count(chain.records, "record", "records"),
        end.used,
        ring.blocks
    );
    if printing {
        let _ = out.write_all(tail.as_bytes());
    }
    status
}

fn superblocks(args: &DumpArgs) -> u8 {
    let mut out = String::new();
    let path = args.device.display();
    let dev = match FileDevice::open(&args.device, Access::ReadOnly) {
        Ok(dev) => dev,
        Err(e) => {
            eprintln!("sixfs dump: {path}: cannot open: {e}");
            return 1;
        }
    };
    say!(out, "{path}: {} bytes", dev.size());
    let copies = read_superblocks(&dev);
    let backup_at = copies
        .backup_offset
        .map_or("not found".to_string(), |o| format!("at byte {o}"));
    match &copies.primary {
        Ok(sb) => say_raw!(
            out,
            "primary superblock at byte {SUPERBLOCK_OFFSET}:\n{}",
            describe(sb)
        ),
        Err(e) => say!(
            out,
            "primary superblock at byte {SUPERBLOCK_OFFSET}: invalid: {}",
            messages::read(e)
        ),
    }
    match &copies.backup {
        Ok(sb) if copies.primary.as_ref() == Ok(sb) => {
            say!(
                out,
                "backup superblock {backup_at}: identical to the primary"
            );
        }
        Ok(sb) => say_raw!(out, "backup superblock {backup_at}:\n{}", describe(sb)),
        Err(e) => say!(
            out,
            "backup superblock {backup_at}: invalid: {}",
            messages::read(e)
        ),
    }
    emit(&out);
    u8::from(copies.newest().is_none())
}

/// The device opened read-only and its newest valid superblock, or the
/// exit status after saying why not.
fn open(args: &DumpArgs) -> Result<(FileDevice, Superblock), u8> {
    let path = args.device.display();
    let dev = FileDevice::open(&args.device, Access::ReadOnly).map_err(|e| {
        eprintln!("sixfs dump: {path}: cannot open: {e}");
        1
    })?;
    let copies = read_superblocks(&dev);
    let Some((_, sb)) = copies.newest() else {
        eprintln!(
            "sixfs dump: {path}: no valid superblock (primary: {})",
            copies
                .primary
                .err()
                .map(|e| messages::read(&e))
                .unwrap_or_default()
        );
        return Err(1);
    };
    let sb = *sb;
    Ok((dev, sb))
}

/// Buckets a line of the bucket map shows.
const MAP_WIDTH: u64 = 64;

/// One bucket in the map: its kind, and for a btree bucket how full it is.
fn map_char(b: &Bucket, slots_per_bucket: u32) -> char {
    match b.kind {
        BucketKind::Free => '.',
        BucketKind::Superblock => 'S',
        BucketKind::SpaceMap => 'M',
        BucketKind::Journal => 'J',
        BucketKind::Btree if b.used >= slots_per_bucket => '#',
        BucketKind::Btree => {
            // Tenths of the slots in use, rounded up: a used bucket is
            // never shown as 0.
            let tenths = (u64::from(b.used) * 10).div_ceil(u64::from(slots_per_bucket.max(1)));
            char::from_digit(tenths.clamp(1, 9) as u32, 10).unwrap_or('?')
        }
    }
}

fn space(args: &DumpArgs) -> u8 {
    let (dev, sb) = match open(args) {
        Ok(opened) => opened,
        Err(status) => return status,
    };
    let path = args.device.display();
    let g = sb.geometry;
    let buckets = g.bucket_count();
    let offset = sb.space_map.copy_offset(&g, sb.seq);
    let mut bytes = vec![0u8; space_map::copy_bytes(buckets).next_multiple_of(SECTOR_SIZE)];
    if let Err(e) = dev.read(offset, &mut bytes) {
        eprintln!(
            "sixfs dump: {path}: reading the space map: {}",
            messages::device(&e)
        );
        return 1;
    }
    let records = match space_map::decode(&bytes, buckets, sb.seq) {
        Ok(records) => records,
        Err(e) => {
            eprintln!(
                "sixfs dump: {path}: space map copy {} at byte {offset}: {}",
                sb.seq % 2,
                messages::space_map(&e)
            );
            return 1;
        }
    };
    let slots_per_bucket = g.bucket_size / g.node_size.max(1);
    let mut out = String::new();
    say!(out,
        "space map copy {} at byte {offset}, of checkpoint {}: {buckets} buckets of {}, {} node slots each",
        sb.seq % 2,
        sb.seq,
        messages::size(g.bucket_size.into()),
        slots_per_bucket
    );
    let count = |kind| records.iter().filter(|r| r.kind == kind).count() as u64;
    let bytes_of = |n: u64| messages::size(n * u64::from(g.bucket_size));
    for (name, kind) in [
        ("superblock", BucketKind::Superblock),
        ("space map", BucketKind::SpaceMap),
        ("journal", BucketKind::Journal),
        ("btree", BucketKind::Btree),
        ("free", BucketKind::Free),
    ] {
        let n = count(kind);
        let mut line = format!("  {name:<12}{n:>10} buckets  {:>12}", bytes_of(n));
        if kind == BucketKind::Btree {
            let used: u64 = records.iter().map(|r| u64::from(r.used)).sum();
            let slots = n * u64::from(slots_per_bucket);
            let _ = write!(
                line,
                "  {used} of their {slots} node slots in use ({}%)",
                (used * 100).checked_div(slots).unwrap_or(0)
            );
        }
        say!(out, "{line}");
    }
    say!(
        out,
        "bucket map, {MAP_WIDTH} a line: S superblock, M space map, J journal, . free;\n\
         btree buckets by the share of their slots in use: 1-9 tenths, # all;\n\
         * repeats the line above"
    );
    let mut last: Option<String> = None;
    let mut starred = false;
    for (line, chunk) in (0u64..).zip(records.chunks(MAP_WIDTH as usize)) {
        let text: String = chunk
            .iter()
            .map(|b| map_char(b, slots_per_bucket))
            .collect();
        // Identical lines (a run of free buckets) are shown once, then *.
        if last.as_ref() == Some(&text) && chunk.len() == MAP_WIDTH as usize {
            if !starred {
                say!(out, "{:>10}", "*");
                starred = true;
            }
            continue;
        }
        say!(out, "{:>10} {text}", line * MAP_WIDTH);
        last = Some(text);
        starred = false;
    }
    emit(&out);
    0
}

fn btrees(args: &DumpArgs, id: Option<u8>, keys: bool) -> u8 {
    let (dev, sb) = match open(args) {
        Ok(opened) => opened,
        Err(status) => return status,
    };
    let path = args.device.display();
    let ids: Vec<u8> = match id {
        Some(id) if usize::from(id) < BTREE_ID_NR => vec![id],
        Some(id) => {
            eprintln!(
                "sixfs dump: btree {id} does not exist: ids are 0 to {}",
                BTREE_ID_NR - 1
            );
            return 1;
        }
        None => (0..BTREE_ID_NR as u8).collect(),
    };
    // What the device holds: the last checkpoint, the journal not
    // replayed (replaying would write).
    let read_only = OpenOptions {
        read_only: true,
        no_recovery: true,
        ..OpenOptions::default()
    };
    let store = match Store::open(&dev, read_only) {
        Ok((store, _)) => store,
        Err(e) => {
            eprintln!(
                "sixfs dump: {path}: cannot open the filesystem: {}",
                messages::store(&e)
            );
            return 1;
        }
    };
    let mut status = 0;
    for id in ids {
        match sb.roots.get(usize::from(id)) {
            Some(BtreeRoot::Node { sector, level }) => emit(&format!(
                "btree {id}: {} levels, root at sector {sector}\n",
                u32::from(*level) + 1
            )),
            _ => {
                emit(&format!("btree {id}: empty\n"));
                continue;
            }
        }
        let mut out = std::io::stdout().lock();
        // A failed print (a closed pipe: `| head`) stops the walk; the
        // walk's error then is only the signal.
        let mut stopped = false;
        let walked = store.walk(BtreeId(id), |step| {
            let mut text = String::new();
            match step {
                WalkStep::Node(r, node) => {
                    let indent = indent(sb.roots.get(usize::from(id)), r.level);
                    let count = node.keys(Filter::Live).count();
                    let _ = writeln!(
                        text,
                        "{indent}level {} node at sector {}: {}..{}, {count} key{}",
                        r.level,
                        r.id,
                        r.min,
                        r.max,
                        if count == 1 { "" } else { "s" }
                    );
                    if keys {
                        for k in node.keys(Filter::Live) {
                            let _ = writeln!(text, "{indent}  {} {}", k.pos(), value(k.value()));
                        }
                    }
                }
                WalkStep::Bad(r, fault) => {
                    status = 1;
                    let indent = indent(sb.roots.get(usize::from(id)), r.level);
                    let _ = writeln!(
                        text,
                        "{indent}level {} node at sector {}: {}..{}: BAD: {}",
                        r.level,
                        r.id,
                        r.min,
                        r.max,
                        messages::node_fault(&fault)
                    );
                }
            }
            out.write_all(text.as_bytes()).map_err(|_| {
                stopped = true;
                StoreError::ReadOnly
            })
        });
        match walked {
            Ok(()) => {}
            Err(_) if stopped => return status,
            Err(e) => {
                eprintln!("sixfs dump: {path}: btree {id}: {}", messages::store(&e));
                return 1;
            }
        }
    }
    status
}

/// Two spaces a level below the root.
fn indent(root: Option<&BtreeRoot>, level: u8) -> String {
    let top = match root {
        Some(BtreeRoot::Node { level, .. }) => *level,
        _ => 0,
    };
    "  ".repeat(usize::from(top.saturating_sub(level)) + 1)
}

/// A key's value in words.
fn value(v: Result<Value, KeyError>) -> String {
    match v {
        Ok(Value::BtreePtr(p)) => format!("-> node at sector {}, tag {:#x}", p.node, p.seq),
        Ok(Value::Test(t)) => {
            let mut text = "test value ".to_string();
            for b in t.as_bytes() {
                let _ = write!(text, "{b:02x}");
            }
            text
        }
        Ok(Value::Deleted) => "deleted".to_string(),
        Ok(Value::Whiteout) => "whiteout".to_string(),
        Err(e) => format!("(cannot be decoded: {e:?})"),
    }
}
