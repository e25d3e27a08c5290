// SPDX-License-Identifier: GPL-2.0

//! The tools as a user runs them: mkfs, fsck and dump on image files.

#[path = "../src/test_dir.rs"]
mod test_dir;

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
