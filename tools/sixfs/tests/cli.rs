// SPDX-License-Identifier: GPL-2.0

//! The tools as a user runs them: mkfs, fsck and dump on image files.

#[path = "../src/test_dir.rs"]
mod test_dir;

use sixfs_core::bkey::{Key, Pos, TestVal, Value};
use sixfs_core::btree::BtreeId;
use sixfs_core::device::memory::MemoryDevice;
use sixfs_core::device::{Device, SECTOR_SIZE};
use sixfs_core::format::geometry::{Geometry, GeometryChoice};
use sixfs_core::format::label::Label;
use sixfs_core::format::space_map::{self, BucketKind};
use sixfs_core::format::superblock::Superblock;
use sixfs_core::format::superblock_io::{read_superblocks, write_superblocks};
use sixfs_core::store::{self, OpenOptions, Store, WalkStep};
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use test_dir::TestDir;

const MIB: u64 = 1 << 20;
const SB: u64 = 4096;

fn sixfs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sixfs"))
}

fn run(command: &mut Command) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run the sixfs binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code().expect("exited, not killed"), text)
}

/// A sparse image of `bytes`.
fn image(dir: &TestDir, name: &str, bytes: u64) -> PathBuf {
    let path = dir.path().join(name);
    File::create(&path).unwrap().set_len(bytes).unwrap();
    path
}

fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    File::open(path)
        .unwrap()
        .read_exact_at(&mut buf, offset)
        .unwrap();
    buf
}

fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 1 << bit;
    file.write_all_at(&byte, offset).unwrap();
}

fn mkfs(path: &Path, options: &[&str]) -> (i32, String) {
    run(sixfs().arg("mkfs").args(options).arg(path))
}

fn fsck(path: &Path, options: &[&str]) -> (i32, String) {
    run(sixfs().arg("fsck").args(options).arg(path))
}

#[test]
fn mkfs_then_fsck_on_several_geometries() {
    let dir = TestDir::new("geometries");
    // (device bytes, mkfs options, expected block / bucket / node sizes)
    let cases: [(u64, &[&str], &str); 6] = [
        (64 * MIB, &[], "bucket size     512 KiB"),
        // Tiny nodes and blocks: trees get deep.
        (
            4 * MIB,
            &["-b", "512", "--bucket-size", "4k", "--node-size", "512"],
            "btree node size 512 bytes",
        ),
        (
            8 * MIB + 12345,
            &["--node-size", "4k"],
            "btree node size 4 KiB",
        ),
        (
            1 << 30,
            &["-b", "64k", "--bucket-size", "64M", "--node-size", "1M"],
            "bucket size     64 MiB",
        ),
        (
            2 << 30,
            &["--bucket-size", "1M", "--node-size", "64k"],
            "btree node size 64 KiB",
        ),
        // A sparse 64 GiB image.
        (64 << 30, &[], "size            16777216 blocks, 64 GiB"),
    ];
    for (i, (bytes, options, expected)) in cases.iter().enumerate() {
        let img = image(&dir, &format!("{i}.img"), *bytes);
        let (rc, out) = mkfs(&img, &[&["-q", "-L", "geo"], *options].concat());
        assert_eq!(rc, 0, "mkfs {options:?}: {out}");
        let (rc, out) = fsck(&img, &["-n"]);
        assert_eq!((rc, out.as_str()), (0, ""), "fsck {options:?}");
        let (rc, out) = fsck(&img, &["-f", "-v"]);
        assert_eq!(rc, 0, "{out}");
        assert!(out.contains("clean"), "{out}");
        let (rc, out) = run(sixfs().arg("dump").arg(&img));
        assert_eq!(rc, 0, "{out}");
        assert!(out.contains(expected), "{options:?}: {out}");
        assert!(out.contains("label           \"geo\""), "{out}");
        assert!(out.contains("identical to the primary"), "{out}");
        let (rc, out) = run(sixfs().arg("dump").arg(&img).arg("space"));
        assert_eq!(rc, 0, "{out}");
        assert!(out.contains("         0 S"), "{out}");
        let (rc, out) = run(sixfs().arg("dump").arg(&img).arg("btree"));
        assert_eq!((rc, out.lines().count()), (0, 4), "{out}");
    }
}

#[test]
fn fsck_reports_a_corrupt_primary_and_repairs_it_from_the_backup() {
    let dir = TestDir::new("corrupt-primary");
    let img = image(&dir, "a.img", 32 * MIB);
    assert_eq!(mkfs(&img, &["-q"]).0, 0);
    let good = read_at(&img, SB, 4096);
    flip_bit(&img, SB + 0x20, 3); // the sequence number
    let corrupt = fs::read(&img).unwrap();
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("primary superblock: bad checksum"), "{out}");
    // -n, and no option at all, change nothing.
    assert_eq!(fsck(&img, &[]).0, 4);
    assert!(fs::read(&img).unwrap() == corrupt, "fsck -n wrote");
    let (rc, out) = fsck(&img, &["-y"]);
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains("primary superblock repaired from the backup superblock"),
        "{out}"
    );
    assert_eq!(read_at(&img, SB, 4096), good);
    assert_eq!(fsck(&img, &["-n"]), (0, String::new()));
}

#[test]
fn fsck_finds_the_backup_when_the_primary_is_gone() {
    let dir = TestDir::new("no-primary");
    // The device is a little larger than the filesystem: the backup is
    // not at the device's end.
    let img = image(&dir, "a.img", 16 * MIB + 8192);
    assert_eq!(mkfs(&img, &["-q", "--bucket-size", "1M"]).0, 0);
    File::options()
        .write(true)
        .open(&img)
        .unwrap()
        .write_all_at(&[0u8; 4096], SB)
        .unwrap();
    let (rc, out) = fsck(&img, &["-p"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("no sixfs magic"), "{out}");
    assert_eq!(fsck(&img, &["-n"]).0, 0);
}

#[test]
fn fsck_repairs_a_bad_or_stale_backup_with_preen() {
    let dir = TestDir::new("bad-backup");
    let img = image(&dir, "a.img", 32 * MIB);
    assert_eq!(mkfs(&img, &["-q"]).0, 0);
    flip_bit(&img, 32 * MIB - 4096 + 0x58, 0); // the label
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("backup superblock: bad checksum"), "{out}");
    let (rc, out) = fsck(&img, &["-a"]);
    assert_eq!(rc, 1, "{out}");
    assert_eq!(fsck(&img, &["-n"]).0, 0);
    assert_eq!(
        read_at(&img, SB, 4096),
        read_at(&img, 32 * MIB - 4096, 4096)
    );
}

#[test]
fn fsck_without_any_superblock_is_an_operational_error() {
    let dir = TestDir::new("nothing");
    let img = image(&dir, "a.img", 8 * MIB);
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 8, "{out}");
    assert!(out.contains("no sixfs filesystem found"), "{out}");
    assert_eq!(mkfs(&img, &["-q"]).0, 0);
    // Both copies bad.
    flip_bit(&img, SB + 100, 1);
    flip_bit(&img, 8 * MIB - 4096 + 100, 1);
    let (rc, out) = fsck(&img, &["-y"]);
    assert_eq!(rc, 8, "{out}");
    assert!(out.contains("no valid superblock"), "{out}");
    // A truncated image: the filesystem no longer fits.
    assert_eq!(mkfs(&img, &["-q", "-f"]).0, 0);
    File::options()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(4 * MIB)
        .unwrap();
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 8, "{out}");
    assert!(out.contains("larger than the device"), "{out}");
    // Usage errors.
    assert_eq!(run(sixfs().args(["fsck", "-n", "-y"]).arg(&img)).0, 16);
    assert_eq!(run(sixfs().args(["fsck"])).0, 16);
    assert_eq!(fsck(&dir.path().join("missing"), &[]).0, 8);
}

#[test]
fn mkfs_refuses_a_device_holding_a_filesystem_unless_forced() {
    let dir = TestDir::new("foreign");
    let img = image(&dir, "ext4.img", 32 * MIB);
    let made = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&img)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfs.ext4 not available: skipping the ext4 case");
    } else {
        let (rc, out) = mkfs(&img, &[]);
        assert_eq!(rc, 1, "{out}");
        assert!(
            out.contains("holds a filesystem (ext2/3/4); use -f"),
            "{out}"
        );
        let (rc, out) = mkfs(&img, &["-f", "-q"]);
        assert_eq!(rc, 0, "{out}");
        // The ext4 magic is gone, so nothing takes the image for ext4.
        assert_eq!(read_at(&img, 1024 + 0x38, 2), [0, 0]);
        assert_eq!(fsck(&img, &["-n"]).0, 0);
    }
    // XFS and btrfs by their magic numbers; sixfs itself.
    let xfs = image(&dir, "xfs.img", 32 * MIB);
    File::options()
        .write(true)
        .open(&xfs)
        .unwrap()
        .write_all_at(b"XFSB", 0)
        .unwrap();
    assert!(mkfs(&xfs, &[]).1.contains("(xfs)"));
    let btrfs = image(&dir, "btrfs.img", 32 * MIB);
    File::options()
        .write(true)
        .open(&btrfs)
        .unwrap()
        .write_all_at(b"_BHRfS_M", 65536 + 0x40)
        .unwrap();
    assert!(mkfs(&btrfs, &[]).1.contains("(btrfs)"));
    assert_eq!(mkfs(&btrfs, &["-f", "-q"]).0, 0);
    assert_eq!(read_at(&btrfs, 65536 + 0x40, 8), [0; 8]);
    let (rc, out) = mkfs(&btrfs, &[]);
    assert_eq!(rc, 1);
    assert!(out.contains("(sixfs)"), "{out}");
}

#[test]
fn mkfs_refuses_bad_options_and_small_devices() {
    let dir = TestDir::new("bad-options");
    let img = image(&dir, "a.img", 16 * MIB);
    for (options, message) in [
        (&["-b", "3000"][..], "block size 3000 is not a power of two"),
        (
            &["--node-size", "8k", "--bucket-size", "4k"][..],
            "larger than the bucket size",
        ),
        (
            &["-b", "8k", "--node-size", "4k"][..],
            "not a multiple of the block size",
        ),
        (&["--bucket-size", "4M"][..], "too small"),
        (
            &[
                "-L",
                "0123456789012345678901234567890123456789012345678901234567890123456789",
            ][..],
            "label longer than 64 bytes",
        ),
        (&["-U", "nope"][..], "invalid UUID"),
        (&["--node-size", "1G"][..], "unknown size unit"),
    ] {
        let (rc, out) = mkfs(&img, options);
        assert_eq!(rc, 1, "{options:?}: {out}");
        assert!(out.contains(message), "{options:?}: {out}");
    }
    assert_eq!(
        read_at(&img, 0, 8192),
        vec![0; 8192],
        "a refused mkfs wrote"
    );
    let tiny = image(&dir, "tiny.img", 40 * 1024);
    assert!(mkfs(&tiny, &[]).1.contains("too small"));
}

#[test]
fn mkfs_keeps_the_uuid_and_label_it_is_given() {
    let dir = TestDir::new("uuid");
    let img = image(&dir, "a.img", 16 * MIB);
    let uuid = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
    assert_eq!(mkfs(&img, &["-q", "-U", uuid, "-L", "données"]).0, 0);
    let (_, out) = run(sixfs().arg("dump").arg(&img));
    assert!(out.contains(uuid), "{out}");
    assert!(out.contains("\"données\""), "{out}");
}

#[test]
fn mkfs_sixfs_and_fsck_sixfs_are_the_same_binary_under_other_names() {
    let dir = TestDir::new("names");
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    for name in ["mkfs.sixfs", "fsck.sixfs"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_sixfs"), bin.join(name)).unwrap();
    }
    let img = image(&dir, "a.img", 16 * MIB);
    let (rc, out) = run(Command::new(bin.join("mkfs.sixfs"))
        .arg("-L")
        .arg("named")
        .arg(&img));
    assert_eq!(rc, 0, "{out}");
    assert!(out.starts_with("mkfs.sixfs: "), "{out}");
    let (rc, out) = run(Command::new(bin.join("fsck.sixfs")).arg("-n").arg(&img));
    assert_eq!((rc, out.as_str()), (0, ""));
    let (rc, out) = run(Command::new(bin.join("fsck.sixfs")).arg("--help"));
    assert_eq!(rc, 0);
    assert!(out.contains("Usage: fsck.sixfs"), "{out}");
    assert_eq!(
        run(Command::new(bin.join("fsck.sixfs")).arg("--bogus")).0,
        16
    );
    assert_eq!(run(&mut Command::new(bin.join("mkfs.sixfs"))).0, 1);
    // mkfs(8) and fsck(8) find them on the PATH by these names.
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let img2 = image(&dir, "b.img", 16 * MIB);
    if Command::new("mkfs").arg("-V").output().is_ok() {
        let (rc, out) = run(Command::new("mkfs")
            .env("PATH", &path)
            .args(["-t", "sixfs", "-q"])
            .arg(&img2));
        assert_eq!(rc, 0, "mkfs -t sixfs: {out}");
    }
    if Command::new("fsck").arg("-V").output().is_ok() {
        let (rc, out) = run(Command::new("fsck")
            .env("PATH", &path)
            .args(["-t", "sixfs", "-n"])
            .arg(&img2));
        assert_eq!(rc, 0, "fsck -t sixfs: {out}");
    }
}

/// Keys in the images [`keyed`] makes.
const KEYS: u64 = 3000;

/// An 8 MiB filesystem of 512-byte nodes holding [`KEYS`] keys, written
/// through the core as the kernel would, in memory; and its nodes as
/// (level, sector), root first.
fn keyed() -> (MemoryDevice, Vec<(u8, u64)>) {
    let bytes = 8 * MIB;
    let dev = MemoryDevice::new(bytes).unwrap();
    let choice = GeometryChoice {
        block_size: Some(512),
        bucket_size: Some(4096),
        node_size: Some(512),
    };
    let geometry = Geometry::for_device(bytes, choice).unwrap();
    let sb = Superblock::new(geometry, [9; 16], Label::new("keys").unwrap());
    store::format(&dev, &sb).unwrap();
    let small_cache = OpenOptions {
        read_only: false,
        cache_nodes: 64,
        ..OpenOptions::default()
    };
    let (s, _) = Store::open(&dev, small_cache).unwrap();
    for i in 0..KEYS {
        // Scattered, distinct (3001 is prime).
        let k = i * 7919 % 3001;
        let key = Key::new(Pos::new(1, k, 0), Value::Test(TestVal::from_u64(k)));
        s.trans()
            .run(|t| {
                t.update(BtreeId(0), key)?;
                t.commit()
            })
            .unwrap();
    }
    s.close().unwrap();
    let read_only = OpenOptions {
        read_only: true,
        cache_nodes: 64,
        ..OpenOptions::default()
    };
    let (s, _) = Store::open(&dev, read_only).unwrap();
    let mut nodes = Vec::new();
    s.walk(BtreeId(0), |step| {
        if let WalkStep::Node(r, _) = step {
            nodes.push((r.level, r.id));
        }
        Ok(())
    })
    .unwrap();
    drop(s);
    (dev, nodes)
}

/// Writes the whole of `dev` to an image file.
fn save(dev: &MemoryDevice, dir: &TestDir, name: &str) -> PathBuf {
    let mut bytes = vec![0u8; dev.size() as usize];
    dev.read(0, &mut bytes).unwrap();
    let path = dir.path().join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// The first node of `level` that is not the root.
fn node_at_level(nodes: &[(u8, u64)], level: u8) -> u64 {
    nodes[1..]
        .iter()
        .find(|(l, _)| *l == level)
        .map(|(_, sector)| *sector)
        .expect("a node of that level")
}

fn dump(path: &Path, what: &[&str]) -> (i32, String) {
    run(sixfs().arg("dump").arg(path).args(what))
}

#[test]
fn fsck_and_dump_a_filesystem_holding_keys() {
    let dir = TestDir::new("keyed");
    let (dev, nodes) = keyed();
    let img = save(&dev, &dir, "keys.img");
    let depth = nodes[0].0 + 1;
    assert!(depth >= 3, "a tree {depth} deep");
    assert_eq!(fsck(&img, &["-n"]), (0, String::new()));
    let (rc, out) = fsck(&img, &["-n", "-v"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains(&format!("{} btree nodes checked (", nodes.len())),
        "{out}"
    );
    assert!(
        out.contains(&format!("{KEYS} keys, deepest tree {depth} levels")),
        "{out}"
    );
    // Every node, indented by level, the leaves' key counts adding up.
    let (rc, out) = dump(&img, &["btree", "0"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.starts_with(&format!(
            "btree 0: {depth} levels, root at sector {}",
            nodes[0].1
        )),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(" node at sector "))
            .count(),
        nodes.len()
    );
    let leaf_keys: usize = out
        .lines()
        .filter(|l| l.trim_start().starts_with("level 0 node"))
        .map(|l| {
            l.rsplit(", ")
                .next()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(leaf_keys as u64, KEYS);
    assert!(
        out.contains(&format!("\n      level {} node at sector", depth - 3)),
        "{out}"
    );
    let (rc, out) = dump(&img, &["btree", "0", "--keys"]);
    assert_eq!(rc, 0);
    assert!(out.contains("1:0:0 test value 0000000000000000"), "{out}");
    assert!(out.contains("-> node at sector "), "{out}");
    let (rc, out) = dump(&img, &["btree"]);
    assert_eq!(rc, 0);
    assert!(out.contains("btree 3: empty"), "{out}");
    assert_eq!(dump(&img, &["btree", "9"]).0, 1);
    // The space map: as many slots in use as nodes.
    let (rc, out) = dump(&img, &["space"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains(&format!("{} of their ", nodes.len())), "{out}");
    assert!(
        out.contains("         0 SSMMMMMMMMMM") && out.contains('#'),
        "{out}"
    );
}

#[test]
fn fsck_names_a_corrupt_leaf_interior_or_root_node() {
    let dir = TestDir::new("bad-node");
    let (dev, nodes) = keyed();
    let leaf = node_at_level(&nodes, 0);
    let interior = node_at_level(&nodes, 1);
    let root = nodes[0].1;
    for (name, sector, level) in [
        ("leaf", leaf, 0),
        ("interior", interior, 1),
        ("root", root, nodes[0].0),
    ] {
        let img = save(&dev, &dir, &format!("{name}.img"));
        // A byte of the first key: the checksum catches it.
        flip_bit(&img, sector * 512 + 100, 2);
        let corrupt = fs::read(&img).unwrap();
        let (rc, out) = fsck(&img, &["-n"]);
        assert_eq!(rc, 4, "{name}: {out}");
        assert!(
            out.contains(&format!(
                "fsck.sixfs: {}: btree 0 level {level} node at sector {sector} covering ",
                img.display()
            )),
            "{name}: {out}"
        );
        assert!(out.contains("bad checksum"), "{name}: {out}");
        assert!(out.contains("not repaired"), "{name}: {out}");
        assert!(fs::read(&img).unwrap() == corrupt, "fsck -n wrote");
        // -y repairs nothing here, and says so.
        let (rc, out) = fsck(&img, &["-y"]);
        assert_eq!(rc, 4, "{name}: {out}");
        assert!(
            out.contains("bad nodes are reported, not repaired"),
            "{name}: {out}"
        );
        assert!(
            fs::read(&img).unwrap() == corrupt,
            "fsck -y wrote over a bad tree"
        );
        if name != "root" {
            let (rc, out) = dump(&img, &["btree", "0"]);
            assert_eq!(rc, 1, "{out}");
            assert!(
                out.contains(&format!("node at sector {sector}: "))
                    && out.contains("BAD: bad checksum"),
                "{out}"
            );
        }
    }
}

#[test]
fn fsck_rebuilds_a_wrong_space_map_with_yes() {
    let dir = TestDir::new("space-map");
    let (dev, nodes) = keyed();
    // Over-count the bucket of the first leaf, as a miscounting bug
    // would, and write the map back with a good checksum.
    let sb = *read_superblocks(&dev).newest().unwrap().1;
    let g = sb.geometry;
    let offset = sb.space_map.copy_offset(&g, sb.seq);
    let mut bytes =
        vec![0u8; space_map::copy_bytes(g.bucket_count()).next_multiple_of(SECTOR_SIZE)];
    dev.read(offset, &mut bytes).unwrap();
    let mut records = space_map::decode(&bytes, g.bucket_count(), sb.seq).unwrap();
    let bucket = node_at_level(&nodes, 0) * 512 / u64::from(g.bucket_size);
    let record = &mut records[bucket as usize];
    assert_eq!(record.kind, BucketKind::Btree);
    let used = record.used;
    record.used += 1;
    space_map::encode(&records, sb.seq, &mut bytes).unwrap();
    dev.write(offset, &bytes).unwrap();
    let img = save(&dev, &dir, "a.img");
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 4, "{out}");
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    assert!(
        out.contains(&format!(
            "bucket {bucket}: the space map says btree, {} node{}, the btrees and the layout call for btree, {used} node{}",
            used + 1,
            plural(used + 1),
            plural(used)
        )),
        "{out}"
    );
    let (rc, out) = fsck(&img, &["-y"]);
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains("space map rebuilt from the btrees: 1 bucket records corrected"),
        "{out}"
    );
    assert_eq!(fsck(&img, &["-n"]), (0, String::new()));
    let (rc, out) = fsck(&img, &["-n", "-v"]);
    assert_eq!(rc, 0);
    assert!(out.contains(&format!("{KEYS} keys")), "{out}");
}

#[test]
fn fsck_repairs_a_zeroed_primary_superblock_of_a_filesystem_with_keys() {
    let dir = TestDir::new("keyed-primary");
    let (dev, nodes) = keyed();
    let img = save(&dev, &dir, "a.img");
    File::options()
        .write(true)
        .open(&img)
        .unwrap()
        .write_all_at(&[0u8; 4096], SB)
        .unwrap();
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 4, "{out}");
    assert!(out.contains("primary superblock: no sixfs magic"), "{out}");
    let (rc, out) = fsck(&img, &["-y"]);
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains("primary superblock repaired from the backup superblock"),
        "{out}"
    );
    assert_eq!(fsck(&img, &["-n"]), (0, String::new()));
    let (rc, out) = dump(&img, &["btree", "0"]);
    assert_eq!(rc, 0);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(" node at sector "))
            .count(),
        nodes.len()
    );
}

/// Commits in [`journaled`]'s journal: each one entry (a sync each).
const SYNCS: u64 = 3;
/// Keys each of them writes.
const KEYS_PER_SYNC: u64 = 10;

/// An 8 MiB filesystem whose last checkpoint is empty and whose journal
/// holds [`SYNCS`] entries of [`KEYS_PER_SYNC`] updates (btree 0, keys
/// `1:k:0` holding `k`): written through the core, each batch made
/// durable by `sync` (a flush write of the journal), then left without
/// `close`, as a crash leaves it (not clean).
fn journaled() -> MemoryDevice {
    let bytes = 8 * MIB;
    let dev = MemoryDevice::new(bytes).unwrap();
    let choice = GeometryChoice {
        block_size: Some(512),
        bucket_size: Some(4096),
        node_size: Some(512),
    };
    let geometry = Geometry::for_device(bytes, choice).unwrap();
    let sb = Superblock::new(geometry, [7; 16], Label::new("journal").unwrap());
    store::format(&dev, &sb).unwrap();
    let (s, _) = Store::open(&dev, OpenOptions::default()).unwrap();
    for k in 0..SYNCS * KEYS_PER_SYNC {
        let key = Key::new(Pos::new(1, k, 0), Value::Test(TestVal::from_u64(k)));
        s.trans()
            .run(|t| {
                t.update(BtreeId(0), key)?;
                t.commit()
            })
            .unwrap();
        if (k + 1) % KEYS_PER_SYNC == 0 {
            s.sync().unwrap();
        }
    }
    drop(s);
    dev
}

/// Byte offsets of the journal entries of `img` from its cursor: the
/// ring holds them one after the other (none wraps in these images).
fn journal_entries(img: &Path) -> Vec<u64> {
    let dev = fs::read(img).unwrap();
    let sb = {
        let mem = MemoryDevice::new(dev.len() as u64).unwrap();
        mem.write(0, &dev).unwrap();
        *read_superblocks(&mem).newest().unwrap().1
    };
    let (ring, blocks) = sb.journal.ring(&sb.geometry);
    let block_size = u64::from(sb.geometry.block_size);
    let mut block = sb.journal_cursor.block;
    let mut out = Vec::new();
    loop {
        let at = ring + block * block_size;
        if &dev[at as usize..at as usize + 8] != b"SIXFSjnl" || block >= blocks {
            return out;
        }
        out.push(at);
        let len = u32::from_le_bytes(dev[at as usize + 12..at as usize + 16].try_into().unwrap());
        block += u64::from(len);
    }
}

/// Writes `bytes` at `offset` of `img`, then the right checksum of the
/// journal entry at `entry` (crc32c of its bytes 12 to the end of its
/// payload, at byte 8): a change the checksum does not catch.
fn patch_entry(img: &Path, entry: u64, offset: u64, bytes: &[u8]) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .unwrap();
    file.write_all_at(bytes, offset).unwrap();
    let mut header = [0u8; 64];
    file.read_exact_at(&mut header, entry).unwrap();
    let payload = u32::from_le_bytes(header[40..44].try_into().unwrap()) as usize;
    let mut covered = vec![0u8; 64 + payload - 12];
    file.read_exact_at(&mut covered, entry + 12).unwrap();
    let crc = sixfs_core::platform::crc32c::crc32c(&covered);
    file.write_all_at(&crc.to_le_bytes(), entry + 8).unwrap();
}

#[test]
fn fsck_and_dump_show_the_journal_of_a_filesystem_left_dirty() {
    let dir = TestDir::new("journal");
    let img = save(&journaled(), &dir, "a.img");
    let before = fs::read(&img).unwrap();
    let entries = journal_entries(&img);
    assert_eq!(entries.len() as u64, SYNCS, "{entries:?}");
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains(&format!(
            "not unmounted cleanly: the next mount replays {SYNCS} journal entries ({} updates) onto the last checkpoint's btrees",
            SYNCS * KEYS_PER_SYNC
        )),
        "{out}"
    );
    // The chain ends where nothing was written yet.
    assert!(out.contains("no entry there"), "{out}");
    assert!(fs::read(&img).unwrap() == before, "fsck -n wrote");
    let (rc, out) = fsck(&img, &["-n", "-v"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("journal: a ring of "), "{out}");
    assert!(
        out.contains(&format!(
            "{SYNCS} journal entries, {} updates",
            SYNCS * KEYS_PER_SYNC
        )),
        "{out}"
    );
    // -y has nothing to repair: the journal is mount's to replay.
    let (rc, out) = fsck(&img, &["-y"]);
    assert_eq!(rc, 0, "{out}");
    assert!(fs::read(&img).unwrap() == before, "fsck -y wrote");

    let (rc, out) = dump(&img, &["journal", "--keys"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.starts_with("journal: buckets "), "{out}");
    assert!(out.contains("cursor: entry "), "{out}");
    assert!(out.contains("not clean: mount replays the chain"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("entry ")).count() as u64,
        SYNCS,
        "{out}"
    );
    assert!(
        out.contains(&format!(" blocks, {KEYS_PER_SYNC} records\n")),
        "{out}"
    );
    for k in 0..SYNCS * KEYS_PER_SYNC {
        assert!(
            out.contains(&format!(
                "  btree 0 1:{k}:0 test value {:016x}",
                k.swap_bytes()
            )),
            "key {k}: {out}"
        );
    }
    assert!(out.contains("the chain ends at block "), "{out}");
    assert!(
        out.contains(&format!(
            "{SYNCS} entries, {} records, ",
            SYNCS * KEYS_PER_SYNC
        )),
        "{out}"
    );
    let (rc, out) = dump(&img, &["journal"]);
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("test value"), "{out}");
    let (_, out) = dump(&img, &[]);
    assert!(out.contains(", replay from entry "), "{out}");
}

#[test]
fn fsck_calls_a_torn_last_journal_entry_the_normal_end_of_the_chain() {
    let dir = TestDir::new("journal-torn");
    let img = save(&journaled(), &dir, "a.img");
    let entries = journal_entries(&img);
    let last = *entries.last().unwrap();
    // A byte of its first record: the checksum no longer matches, as after
    // a write cut short.
    flip_bit(&img, last + 64 + 20, 4);
    let before = fs::read(&img).unwrap();
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 0, "{out}");
    let block = (last - entries[0]) / 512 + journal_cursor_block(&img);
    assert!(
        out.contains(&format!(
            "replays {} journal entries ({} updates)",
            SYNCS - 1,
            (SYNCS - 1) * KEYS_PER_SYNC
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "the chain ends at block {block}: bad checksum: a torn write"
        )),
        "{out}"
    );
    assert!(fs::read(&img).unwrap() == before, "fsck -n wrote");
    let (rc, out) = dump(&img, &["journal"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains(&format!(
            "the chain ends at block {block}, where entry {} would be: bad checksum",
            journal_cursor_seq(&img) + SYNCS - 1
        )),
        "{out}"
    );
}

fn newest_superblock(img: &Path) -> Superblock {
    let bytes = fs::read(img).unwrap();
    let mem = MemoryDevice::new(bytes.len() as u64).unwrap();
    mem.write(0, &bytes).unwrap();
    *read_superblocks(&mem).newest().unwrap().1
}

fn journal_cursor_block(img: &Path) -> u64 {
    newest_superblock(img).journal_cursor.block
}

fn journal_cursor_seq(img: &Path) -> u64 {
    newest_superblock(img).journal_cursor.seq
}

#[test]
fn fsck_finds_a_bad_record_under_a_right_journal_checksum() {
    let dir = TestDir::new("journal-corrupt");
    let dev = journaled();
    let seq = journal_cursor_seq(&save(&dev, &dir, "probe.img")) + 1;
    // The second entry's first record: its key's type byte (8 bytes of
    // record header, then the key: length u16, type u8), and, in another
    // image, the record's btree id.
    for (name, byte_in_record, value, message) in [
        (
            "key",
            8 + 2,
            0xee,
            "record 0 is not a valid key (BadType(238))",
        ),
        (
            "btree",
            0,
            9,
            "record 0: an update of btree 9, which does not exist",
        ),
    ] {
        let img = save(&dev, &dir, &format!("{name}.img"));
        let entries = journal_entries(&img);
        let entry = entries[1];
        let block = journal_cursor_block(&img) + (entry - entries[0]) / 512;
        patch_entry(&img, entry, entry + 64 + byte_in_record, &[value]);
        let corrupt = fs::read(&img).unwrap();
        let (rc, out) = fsck(&img, &["-n"]);
        assert_eq!(rc, 4, "{name}: {out}");
        assert!(
            out.contains(&format!("journal entry {seq} at block {block}")),
            "{name}: {out}"
        );
        assert!(out.contains(message), "{name}: {out}");
        if name == "key" {
            // Mount would stop there: the last entry is lost with it.
            assert!(
                out.contains("so its updates are lost, and those of the 1 entry after it"),
                "{out}"
            );
        }
        assert!(out.contains("not repaired"), "{name}: {out}");
        assert!(fs::read(&img).unwrap() == corrupt, "fsck -n wrote");
        let (rc, out) = fsck(&img, &["-y"]);
        assert_eq!(rc, 4, "{name}: {out}");
        assert!(
            out.contains("the journal is not repaired: this fsck cannot repair a journal yet"),
            "{name}: {out}"
        );
        assert!(fs::read(&img).unwrap() == corrupt, "fsck -y wrote");
        let (rc, out) = dump(&img, &["journal", "--keys"]);
        assert_eq!(rc, 1, "{name}: {out}");
        assert!(out.contains("BAD: "), "{name}: {out}");
    }
}

#[test]
fn fsck_warns_of_a_clean_filesystem_whose_journal_holds_entries() {
    let dir = TestDir::new("journal-clean");
    let dev = journaled();
    // Marked clean while its journal holds entries, which a clean unmount
    // never leaves: mount would ignore them.
    let mut sb = *read_superblocks(&dev).newest().unwrap().1;
    sb.clean = true;
    write_superblocks(&dev, &sb).unwrap();
    let img = save(&dev, &dir, "a.img");
    let (rc, out) = fsck(&img, &["-n"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains(&format!(
            "warning: marked clean, yet the journal holds {SYNCS} journal entries"
        )),
        "{out}"
    );
    let (rc, out) = dump(&img, &["journal"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("clean: mount replays nothing"), "{out}");
}
