// SPDX-License-Identifier: GPL-2.0

//! `sixfs fsck` (`fsck.sixfs`): checks a filesystem and repairs what is
//! safe to repair.
//!
//! First the superblocks: both copies' checksums and rules (geometry,
//! features, label, journal range, roots), that the filesystem fits on the
//! device, and that the backup equals the primary; a bad or stale copy is
//! repaired by copying the good one's bytes over it. Then the filesystem
//! the newest copy describes, opened read-only: every node of every btree
//! read and checked, every slot referenced once, the space map's records
//! against what the trees use (`Store::check`). A wrong space map is
//! rebuilt from the trees when nothing else is wrong with them; bad nodes
//! are reported, not repaired.

use crate::file_device::{Access, FileDevice};
use crate::{journal, messages};
use clap::Args;
use sixfs_core::bkey::Pos;
use sixfs_core::device::Device;
use sixfs_core::format::btree_root::BtreeRoot;
use sixfs_core::format::features;
use sixfs_core::format::geometry::{SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE};
use sixfs_core::format::superblock::{Superblock, SuperblockError};
use sixfs_core::format::superblock_io::{read_superblocks, ReadError, SuperblockCopy};
use sixfs_core::node::disk::{self, NodeHeader};
use sixfs_core::store::{CheckReport, OpenOptions, Store, StoreError};
use std::io::IsTerminal;
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
    let superblocks = if bad.is_empty() {
        Outcome::Clean
    } else if !repair_allowed {
        Outcome::Uncorrected
    } else {
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
            Outcome::Corrected
        } else {
            eprintln!("fsck.sixfs: {path}: the repair did not hold (the device does not keep what is written?)");
            Outcome::Uncorrected
        }
    };
    let journal = match check_journal(args, &dev, &newest) {
        Ok(outcome) => outcome,
        Err(status) => return status,
    };
    let trees = match check_store(
        args,
        &dev,
        &newest,
        repair_allowed,
        journal == Outcome::Clean,
    ) {
        Ok(outcome) => outcome,
        Err(status) => return status,
    };
    match superblocks.max(journal).max(trees) {
        Outcome::Clean => {
            if args.verbose {
                println!(
                    "fsck.sixfs: {path}: clean{}",
                    if newest.clean {
                        ""
                    } else {
                        " (not unmounted cleanly: mount replays the journal)"
                    }
                );
            }
            EXIT_OK
        }
        Outcome::Corrected => EXIT_CORRECTED,
        Outcome::Uncorrected => {
            if !repair {
                eprintln!("fsck.sixfs: {path}: not repaired (run with -p or -y to repair)");
            }
            EXIT_UNCORRECTED
        }
    }
}

/// What came of one part of the check; the worst part decides the exit
/// status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Nothing wrong.
    Clean,
    /// Something was wrong and is repaired.
    Corrected,
    /// Something is wrong still.
    Uncorrected,
}

/// Nodes to check from which a progress bar is shown (on a terminal): a
/// check of fewer takes about a second or less.
const PROGRESS_MIN_NODES: u64 = 50_000;

/// Checks the journal of the filesystem `sb` describes: the chain of
/// entries from its cursor, as mount reads it, every record as replay
/// takes it. The journal is not replayed (that writes; mount does it) and
/// nothing in it is repaired. `Err` holds the exit status of an
/// operational error.
fn check_journal(args: &FsckArgs, dev: &FileDevice, sb: &Superblock) -> Result<Outcome, u8> {
    let path = args.device.display();
    let Some((ring, cursor)) = journal::ring_of(sb) else {
        if args.verbose {
            println!(
                "fsck.sixfs: {path}: no journal (commits are durable through checkpoints only)"
            );
        }
        return Ok(Outcome::Clean);
    };
    let chain = match journal::read(dev, &ring, cursor, |_, _| {}) {
        Ok(chain) => chain,
        Err(e) => {
            eprintln!("fsck.sixfs: {path}: reading the journal: {e}");
            return Err(EXIT_OPERATIONAL);
        }
    };
    let end = &chain.end;
    let entries = journal::count(end.entries, "journal entry", "journal entries");
    let updates = journal::count(chain.records, "update", "updates");
    let ending = match chain.stop {
        journal::Stop::RingFull => "the ring is full".to_string(),
        journal::Stop::OutOfNumbers => format!(
            "the chain ends at block {}: no entry may be numbered {}",
            end.head,
            u64::MAX
        ),
        journal::Stop::Torn { block, why } | journal::Stop::Corrupt { block, why, .. } => format!(
            "the chain ends at block {block}: {}",
            journal::entry_error(&why, end.next_seq)
        ),
    };
    if args.verbose {
        println!(
            "fsck.sixfs: {path}: journal: a ring of {} blocks of {} at byte {}; from entry {} at block {}: {entries}, {updates}, {} blocks; {ending}",
            ring.blocks,
            messages::size(ring.block_size as u64),
            ring.offset,
            cursor.seq,
            cursor.block,
            end.used
        );
    }
    let mut outcome = Outcome::Clean;
    for bad in chain.bad_records.iter().take(MAX_LISTED) {
        eprintln!(
            "fsck.sixfs: {path}: journal entry {} at block {}, record {}: {}; replaying it, the next mount fails",
            bad.seq, bad.block, bad.index, bad.why
        );
        outcome = Outcome::Uncorrected;
    }
    if chain.bad_records.len() > MAX_LISTED {
        eprintln!(
            "fsck.sixfs: {path}: and {} more bad journal records, not listed",
            chain.bad_records.len() - MAX_LISTED
        );
    }
    if let journal::Stop::Corrupt { block, why, later } = chain.stop {
        eprintln!(
            "fsck.sixfs: {path}: journal entry {} at block {block}: corrupt (its checksum is right): {}; mount ends replay before it, so its updates are lost, and those of the {} after it",
            end.next_seq,
            journal::entry_error(&why, end.next_seq),
            journal::count(later, "entry", "entries")
        );
        outcome = Outcome::Uncorrected;
    }
    if let journal::Stop::OutOfNumbers = chain.stop {
        eprintln!(
            "fsck.sixfs: {path}: the journal's sequence numbers ran out at entry {}: the superblock's cursor (entry {}) is wrong",
            u64::MAX,
            cursor.seq
        );
        outcome = Outcome::Uncorrected;
    }
    if outcome == Outcome::Uncorrected {
        // Said with or without -y: no option repairs it.
        eprintln!(
            "fsck.sixfs: {path}: the journal is not repaired: this fsck cannot repair a journal yet"
        );
        return Ok(outcome);
    }
    if end.entries == 0 {
        return Ok(outcome);
    }
    if sb.clean {
        // A clean unmount checkpoints everything and leaves the cursor
        // where no entry is: entries there were never meant to be seen.
        eprintln!(
            "fsck.sixfs: {path}: warning: marked clean, yet the journal holds {entries} ({updates}) from its cursor (entry {} at block {}); mount does not replay a clean filesystem's journal",
            cursor.seq, cursor.block
        );
    } else {
        println!(
            "fsck.sixfs: {path}: not unmounted cleanly: the next mount replays {entries} ({updates}) onto the last checkpoint's btrees, checked here as they are; {ending}"
        );
    }
    Ok(outcome)
}

/// Bad journal records listed at most (then how many more there were).
const MAX_LISTED: usize = 16;

/// Checks the btrees and the space map of the filesystem `sb` describes
/// (the newest superblock), and rebuilds a wrong space map if `repair`
/// and the journal is sound (the rebuild opens the filesystem read-write,
/// which replays the journal).
/// `Err` holds the exit status of an operational error.
fn check_store(
    args: &FsckArgs,
    dev: &FileDevice,
    sb: &Superblock,
    repair: bool,
    journal_sound: bool,
) -> Result<Outcome, u8> {
    let path = args.device.display();
    // What the device holds: the last checkpoint, the journal not
    // replayed (replaying would write).
    let read_only = OpenOptions {
        read_only: true,
        no_recovery: true,
        ..OpenOptions::default()
    };
    let report = match Store::open(dev, read_only) {
        Ok((store, _)) => check_all(args, &store)?,
        Err(StoreError::BadRoot { btree, .. }) => {
            bad_root(args, dev, sb, btree)?;
            eprintln!(
                "fsck.sixfs: {path}: bad nodes are reported, not repaired: this fsck cannot rebuild a btree"
            );
            return Ok(Outcome::Uncorrected);
        }
        Err(StoreError::SpaceMap(e)) => {
            eprintln!(
                "fsck.sixfs: {path}: space map copy {} (of sequence {}): {}; not repaired: this fsck cannot rebuild a space map it cannot read",
                sb.seq % 2,
                sb.seq,
                messages::space_map(&e)
            );
            return Ok(Outcome::Uncorrected);
        }
        Err(e) => {
            eprintln!(
                "fsck.sixfs: {path}: cannot open the filesystem: {}",
                messages::store(&e)
            );
            return Err(EXIT_OPERATIONAL);
        }
    };
    if report.is_clean() {
        return Ok(Outcome::Clean);
    }
    if report.bad_node_count > 0 || !report.shared_slots.is_empty() {
        eprintln!(
            "fsck.sixfs: {path}: bad nodes are reported, not repaired: this fsck cannot rebuild a btree; the space map is left as it is, since the nodes under a bad one are unknown"
        );
        return Ok(Outcome::Uncorrected);
    }
    if !repair {
        return Ok(Outcome::Uncorrected);
    }
    if !journal_sound {
        eprintln!(
            "fsck.sixfs: {path}: the space map is not rebuilt while the journal is bad: rebuilding opens the filesystem read-write, which replays the journal"
        );
        return Ok(Outcome::Uncorrected);
    }
    rebuild_space_map(args, dev)
}

/// Runs the check with a progress bar when it is worth one, and reports
/// what it found.
fn check_all(args: &FsckArgs, store: &Store<&FileDevice>) -> Result<CheckReport, u8> {
    let path = args.device.display();
    // The space map's count of nodes is what the check will visit, unless
    // it is wrong (the bar then stops short or runs long: it is a guide).
    let expected = store.stats().space.slots_used;
    let bar = (std::io::stderr().is_terminal() && expected >= PROGRESS_MIN_NODES).then(|| {
        let bar = indicatif::ProgressBar::new(expected);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "checking btree nodes {wide_bar} {pos}/{len} ({eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let result = store.check(|checked| {
        if let Some(bar) = &bar {
            bar.set_length(expected.max(checked));
            bar.set_position(checked);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            eprintln!(
                "fsck.sixfs: {path}: checking the btrees: {}",
                messages::store(&e)
            );
            return Err(EXIT_OPERATIONAL);
        }
    };
    for (node, fault) in report.bad_nodes.iter() {
        eprintln!(
            "fsck.sixfs: {path}: btree {} level {} node at sector {} covering {}..{}: {}",
            node.btree,
            node.level,
            node.id,
            node.min,
            node.max,
            messages::node_fault(fault)
        );
    }
    for slot in report.shared_slots.iter() {
        eprintln!("fsck.sixfs: {path}: the node at sector {slot} is pointed to more than once");
    }
    for b in report.bad_buckets.iter() {
        eprintln!(
            "fsck.sixfs: {path}: bucket {}: the space map says {}, the btrees and the layout call for {}",
            b.bucket,
            messages::bucket(&b.recorded),
            messages::bucket(&b.expected)
        );
    }
    if report.unlisted > 0 {
        eprintln!(
            "fsck.sixfs: {path}: and {} more problems of these kinds, not listed",
            report.unlisted
        );
    }
    if args.verbose {
        let levels: Vec<String> = report
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(level, n)| format!("{n} at level {level}"))
            .collect();
        println!(
            "fsck.sixfs: {path}: {} btree nodes checked ({}), {} keys, deepest tree {} level{}",
            report.nodes.iter().sum::<u64>(),
            if levels.is_empty() {
                "every btree empty".to_string()
            } else {
                levels.join(", ")
            },
            report.keys,
            report.depth,
            if report.depth == 1 { "" } else { "s" }
        );
    }
    Ok(report)
}

/// Reports a root node that cannot be read: the superblock says where it
/// is; reading it again says why.
fn bad_root(args: &FsckArgs, dev: &FileDevice, sb: &Superblock, btree: u8) -> Result<(), u8> {
    let path = args.device.display();
    let Some(BtreeRoot::Node { sector, level }) = sb.roots.get(usize::from(btree)).copied() else {
        eprintln!("fsck.sixfs: {path}: btree {btree}: its root cannot be read");
        return Ok(());
    };
    let mut slot = vec![0u8; sb.geometry.node_size as usize];
    let why = match dev.read(sector.saturating_mul(512), &mut slot) {
        Err(e) => {
            eprintln!(
                "fsck.sixfs: {path}: reading the root of btree {btree}: {}",
                messages::device(&e)
            );
            return Err(EXIT_OPERATIONAL);
        }
        Ok(()) => {
            let expect = NodeHeader {
                sector,
                tag: 0,
                btree,
                level,
                min: Pos::MIN,
                max: Pos::MAX,
            };
            match disk::decode(&slot, &expect, false) {
                Err(e) => messages::disk_node(&e),
                Ok(_) => "cannot be read".to_string(),
            }
        }
    };
    eprintln!(
        "fsck.sixfs: {path}: btree {btree} level {level} node at sector {sector} covering {}..{} (the root): {why}; nothing under it can be checked",
        Pos::MIN,
        Pos::MAX
    );
    Ok(())
}

/// Rebuilds the space map from the trees (they were found sound), then
/// checks again.
fn rebuild_space_map(args: &FsckArgs, dev: &FileDevice) -> Result<Outcome, u8> {
    let path = args.device.display();
    let fail = |what: &str, e: &StoreError| {
        eprintln!("fsck.sixfs: {path}: {what}: {}", messages::store(e));
        match e {
            StoreError::Device(_) | StoreError::NoMemory | StoreError::SuperblockWrite(_) => {
                Err(EXIT_OPERATIONAL)
            }
            _ => Ok(Outcome::Uncorrected),
        }
    };
    let store = match Store::open(dev, OpenOptions::default()) {
        Ok((store, _)) => store,
        Err(e) => return fail("cannot open the filesystem to repair it", &e),
    };
    let changed = match store.rebuild_space_map() {
        Ok(changed) => changed,
        Err(e) => return fail("rebuilding the space map", &e),
    };
    if let Err(e) = store.close() {
        return fail("writing the repaired filesystem", &e);
    }
    println!(
        "fsck.sixfs: {path}: space map rebuilt from the btrees: {changed} bucket records corrected"
    );
    // What the device holds: the last checkpoint, the journal not
    // replayed (replaying would write).
    let read_only = OpenOptions {
        read_only: true,
        no_recovery: true,
        ..OpenOptions::default()
    };
    let again = match Store::open(dev, read_only) {
        Ok((store, _)) => store.check(|_| {}),
        Err(e) => Err(e),
    };
    match again {
        Ok(report) if report.is_clean() => Ok(Outcome::Corrected),
        Ok(_) => {
            eprintln!("fsck.sixfs: {path}: the space map is still wrong after the rebuild");
            Ok(Outcome::Uncorrected)
        }
        Err(e) => fail("checking the repaired filesystem", &e),
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
