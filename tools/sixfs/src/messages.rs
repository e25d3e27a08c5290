// SPDX-License-Identifier: GPL-2.0

//! The core's errors, said in words for the tools' users.

use sixfs_core::device::{DeviceError, IoKind};
use sixfs_core::format::btree_root::RootError;
use sixfs_core::format::geometry::{
    GeometryError, MAX_BLOCK_SIZE, MAX_BUCKET_SIZE, MAX_NODE_SIZE, MIN_BLOCK_SIZE, MIN_BUCKET_SIZE,
    MIN_NODE_SIZE,
};
use sixfs_core::format::label::LabelError;
use sixfs_core::format::space_map::{Bucket, BucketKind, SpaceMapError};
use sixfs_core::format::superblock::SuperblockError;
use sixfs_core::format::superblock_io::{ReadError, WriteError};
use sixfs_core::node::disk::DiskNodeError;
use sixfs_core::node::NodeError;
use sixfs_core::store::{NodeFault, StoreError};

/// A size in bytes with a binary unit when it is a whole one.
pub fn size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes % unit == 0 {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} bytes")
}

pub fn device(e: &DeviceError) -> String {
    match *e {
        DeviceError::Unaligned { offset, len } => {
            format!("unaligned I/O of {len} bytes at {offset} (a bug)")
        }
        DeviceError::OutOfRange { offset, len, size } => {
            format!("I/O of {len} bytes at {offset} past the device's end ({size})")
        }
        DeviceError::Io {
            kind,
            offset,
            len,
            errno,
        } => {
            let what = match kind {
                IoKind::Read => format!("reading {len} bytes at {offset}"),
                IoKind::Write => format!("writing {len} bytes at {offset}"),
                IoKind::Flush => "flushing".to_string(),
            };
            format!("{what}: {}", std::io::Error::from_raw_os_error(errno))
        }
        DeviceError::NoMemory => "out of memory".to_string(),
    }
}

pub fn geometry(e: &GeometryError) -> String {
    match *e {
        GeometryError::BlockSize(s) => format!(
            "block size {s} is not a power of two from {MIN_BLOCK_SIZE} to {}",
            size(MAX_BLOCK_SIZE.into())
        ),
        GeometryError::BucketSize(s) => format!(
            "bucket size {s} is not a power of two from {} to {}",
            size(MIN_BUCKET_SIZE.into()),
            size(MAX_BUCKET_SIZE.into())
        ),
        GeometryError::NodeSize(s) => format!(
            "btree node size {s} is not a power of two from {MIN_NODE_SIZE} to {}",
            size(MAX_NODE_SIZE.into())
        ),
        GeometryError::NodeNotMultipleOfBlock {
            node_size,
            block_size,
        } => {
            format!("btree node size {node_size} is not a multiple of the block size {block_size}")
        }
        GeometryError::NodeLargerThanBucket {
            node_size,
            bucket_size,
        } => format!("btree node size {node_size} is larger than the bucket size {bucket_size}"),
        GeometryError::SizeOverflow => "filesystem size overflows 64 bits".to_string(),
        GeometryError::SizeNotBucketMultiple { bytes, bucket_size } => {
            format!("filesystem size {bytes} is not a multiple of the bucket size {bucket_size}")
        }
        GeometryError::TooSmall { bytes, needed } => format!(
            "too small: {} usable, at least {} needed with this bucket size",
            size(bytes),
            size(needed)
        ),
    }
}

pub fn label(e: &LabelError) -> String {
    match e {
        LabelError::TooLong => "label longer than 64 bytes".to_string(),
        LabelError::Nul => "label contains a NUL byte".to_string(),
        LabelError::NotUtf8 => "label is not UTF-8".to_string(),
        LabelError::Garbage => "label has bytes after its end".to_string(),
    }
}

fn root(e: &RootError) -> String {
    match *e {
        RootError::BadState(s) => format!("state byte {s} is neither empty nor present"),
        RootError::NotZero => "reserved bytes are not zero".to_string(),
        RootError::BadLevel(l) => format!("level {l} is too deep"),
        RootError::BadLocation(s) => format!("sector {s} is not a node in the data buckets"),
    }
}

pub fn superblock(e: &SuperblockError) -> String {
    match e {
        SuperblockError::TooShort(len) => format!("only {len} bytes"),
        SuperblockError::BadMagic => "no sixfs magic".to_string(),
        SuperblockError::BadChecksum { stored, computed } => {
            format!("bad checksum (stored {stored:#010x}, computed {computed:#010x})")
        }
        SuperblockError::UnsupportedVersion(v) => {
            format!("format version {v}; this sixfs reads version 1 only")
        }
        SuperblockError::UnknownIncompat(bits) => {
            format!("incompatible features {bits:#x} unknown to this sixfs")
        }
        SuperblockError::BadGeometry(g) => geometry(g),
        SuperblockError::BadFlags(bits) => format!("unknown flags {bits:#x}"),
        SuperblockError::BadLabel(l) => label(l),
        SuperblockError::BadJournal(j) => format!(
            "journal at buckets {}..{} lies outside the data buckets",
            j.first_bucket,
            j.first_bucket.saturating_add(j.bucket_count)
        ),
        SuperblockError::BadJournalCursor(c) => format!(
            "journal cursor (entry {} at block {}) lies outside the journal",
            c.seq, c.block
        ),
        SuperblockError::BadSpaceMap(m) => format!(
            "space map at buckets {}..{} (two copies of {}) lies outside the data buckets, is too small or overlaps the journal",
            m.buckets().start,
            m.buckets().end,
            m.bucket_count
        ),
        SuperblockError::BadRoot { slot, error } => format!("btree root {slot}: {}", root(error)),
        SuperblockError::ReservedNotZero { offset } => {
            format!("reserved byte {offset:#x} is not zero")
        }
    }
}

pub fn read(e: &ReadError) -> String {
    match e {
        ReadError::Device(d) => device(d),
        ReadError::DeviceTooSmall { device_bytes } => {
            format!("the device ({}) is too small to hold it", size(*device_bytes))
        }
        ReadError::Invalid(s) => superblock(s),
        ReadError::FilesystemLargerThanDevice {
            fs_bytes,
            device_bytes,
        } => format!(
            "the filesystem ({}) is larger than the device ({}): truncated image or shrunk partition?",
            size(*fs_bytes),
            size(*device_bytes)
        ),
        ReadError::Misplaced { offset, expected } => {
            format!("a stale copy at byte {offset} (this filesystem's backup belongs at {expected})")
        }
        ReadError::NoBackupFound => "not found at any place the device's size allows".to_string(),
        ReadError::NoMemory => "out of memory".to_string(),
    }
}

pub fn write(e: &WriteError) -> String {
    match e {
        WriteError::Invalid(s) => superblock(s),
        WriteError::FilesystemLargerThanDevice {
            fs_bytes,
            device_bytes,
        } => format!(
            "the filesystem ({}) does not fit the device ({})",
            size(*fs_bytes),
            size(*device_bytes)
        ),
        WriteError::Device(d) => device(d),
        WriteError::NoMemory => "out of memory".to_string(),
    }
}

pub fn disk_node(e: &DiskNodeError) -> String {
    match *e {
        DiskNodeError::TooShort => "shorter than its header says".to_string(),
        DiskNodeError::BadMagic => "no node magic (never written, or overwritten)".to_string(),
        DiskNodeError::BadChecksum { stored, computed } => {
            format!("bad checksum (stored {stored:#010x}, computed {computed:#010x})")
        }
        DiskNodeError::Mismatch(field) => {
            format!("its header's {field} is not what the pointer to it says")
        }
        DiskNodeError::BadHeader(what) => format!("bad header: {what}"),
        DiskNodeError::BadKeys(e) => format!("bad keys: {}", node(&e)),
    }
}

fn node(e: &NodeError) -> String {
    match e {
        NodeError::OutOfRange => "a key outside the node's range".to_string(),
        NodeError::WrongLevel => "a key of the wrong kind for the node's level".to_string(),
        NodeError::BadKey(k) => format!("a key that cannot be decoded ({k:?})"),
        NodeError::Corrupt(what) => what.to_string(),
        other => format!("{other:?}"),
    }
}

pub fn node_fault(f: &NodeFault) -> String {
    match f {
        NodeFault::Disk(e) => disk_node(e),
        NodeFault::Tree(what) => what.to_string(),
    }
}

/// A space map record in words: "free", "btree, 3 nodes", ...
pub fn bucket(b: &Bucket) -> String {
    match b.kind {
        BucketKind::Free => "free".to_string(),
        BucketKind::Superblock => "superblock".to_string(),
        BucketKind::SpaceMap => "space map".to_string(),
        BucketKind::Journal => "journal".to_string(),
        BucketKind::Btree => format!(
            "btree, {} node{}",
            b.used,
            if b.used == 1 { "" } else { "s" }
        ),
    }
}

pub fn space_map(e: &SpaceMapError) -> String {
    match *e {
        SpaceMapError::BadMagic => "no space map magic".to_string(),
        SpaceMapError::TooShort => "shorter than its header says".to_string(),
        SpaceMapError::BadChecksum { stored, computed } => {
            format!("bad checksum (stored {stored:#010x}, computed {computed:#010x})")
        }
        SpaceMapError::WrongSeq { found, expected } => format!(
            "of checkpoint {found}, not of the superblock's ({expected}): a stale or torn copy"
        ),
        SpaceMapError::WrongBucketCount(n) => {
            format!("{n} records, not one per bucket of the filesystem")
        }
        SpaceMapError::BadRecord(i) => format!("record {i} is not valid"),
        SpaceMapError::NoMemory => "out of memory".to_string(),
    }
}

/// A store's error in words (the device's and the space map's in full).
pub fn store(e: &StoreError) -> String {
    match e {
        StoreError::Device(d) => device(d),
        StoreError::SpaceMap(m) => format!("the space map: {}", space_map(m)),
        StoreError::SuperblockWrite(w) => format!("writing the superblocks: {}", write(w)),
        other => other.to_string(),
    }
}
