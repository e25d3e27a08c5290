// SPDX-License-Identifier: GPL-2.0

//! The geometry of a filesystem: its block, bucket and btree node sizes,
//! its size, and where that puts the superblocks and the space for data.
//!
//! The device is cut into buckets, the unit of allocation (a bucket is
//! filled, then reused as a whole, as in bcachefs). The first buckets hold
//! the primary superblock (4 KiB at byte 4096, after 4 KiB left to boot
//! loaders and partition tables) and the last bucket holds the backup
//! superblock in its last 4 KiB; the buckets between are for data:
//!
//! ```text
//! 0      4096   8192                                   size-4096  size
//! | boot | sb   | ...   data buckets   ...  | last bucket | backup |
//! |<-- reserved buckets -->|                |<--- reserved ------->|
//! ```

use core::ops::Range;

/// Byte offset of the primary superblock.
pub const SUPERBLOCK_OFFSET: u64 = 4096;
/// Bytes of a superblock copy, primary or backup.
pub const SUPERBLOCK_SIZE: usize = 4096;
/// End of the primary superblock: nothing but it and the boot area lies
/// before, so buckets from here on may hold data.
pub const PRIMARY_END: u64 = SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE as u64;

/// Smallest block: a sector.
pub const MIN_BLOCK_SIZE: u32 = 512;
/// Largest block.
pub const MAX_BLOCK_SIZE: u32 = 64 * 1024;
/// Smallest bucket: room for the backup superblock.
pub const MIN_BUCKET_SIZE: u32 = 4096;
/// Largest bucket.
pub const MAX_BUCKET_SIZE: u32 = 64 * 1024 * 1024;
/// Smallest btree node: a sector (tests use tiny nodes for deep trees).
pub const MIN_NODE_SIZE: u32 = 512;
/// Largest btree node.
pub const MAX_NODE_SIZE: u32 = 1024 * 1024;
/// Fewest data buckets a filesystem has: below this it could not hold a
/// btree root, a journal and room to rewrite them.
pub const MIN_DATA_BUCKETS: u64 = 8;

/// mkfs's btree node size when not told (bcachefs's default).
pub const DEFAULT_NODE_SIZE: u32 = 256 * 1024;
/// mkfs's block size when not told: the page size of common machines.
pub const DEFAULT_BLOCK_SIZE: u32 = 4096;
/// The largest bucket mkfs picks by itself.
pub const DEFAULT_MAX_BUCKET_SIZE: u32 = 2 * 1024 * 1024;
/// mkfs picks buckets small enough for at least this many on the device.
pub const DEFAULT_MIN_BUCKETS: u64 = 128;

/// Sizes and extent of a filesystem, as its superblock records them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per block, the unit of file data: a power of two in
    /// [`MIN_BLOCK_SIZE`]`..=`[`MAX_BLOCK_SIZE`].
    pub block_size: u32,
    /// Bytes per bucket, the unit of allocation: a power of two in
    /// [`MIN_BUCKET_SIZE`]`..=`[`MAX_BUCKET_SIZE`], at least a node.
    pub bucket_size: u32,
    /// Bytes per btree node: a power of two in
    /// [`MIN_NODE_SIZE`]`..=`[`MAX_NODE_SIZE`], at least a block.
    pub node_size: u32,
    /// Size of the filesystem in blocks; in bytes a multiple of the
    /// bucket size, at most the device's size.
    pub block_count: u64,
}

/// Why a geometry is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeometryError {
    /// Block size not a power of two in range.
    BlockSize(u32),
    /// Bucket size not a power of two in range.
    BucketSize(u32),
    /// Node size not a power of two in range.
    NodeSize(u32),
    /// Node size not a multiple of the block size (smaller than it).
    NodeNotMultipleOfBlock {
        /// The node size.
        node_size: u32,
        /// The block size.
        block_size: u32,
    },
    /// A node does not fit in a bucket.
    NodeLargerThanBucket {
        /// The node size.
        node_size: u32,
        /// The bucket size.
        bucket_size: u32,
    },
    /// Size in bytes beyond `u64`.
    SizeOverflow,
    /// Size in bytes not a whole number of buckets.
    SizeNotBucketMultiple {
        /// The size in bytes.
        bytes: u64,
        /// The bucket size.
        bucket_size: u32,
    },
    /// Fewer than [`MIN_DATA_BUCKETS`] data buckets.
    TooSmall {
        /// Bytes the filesystem (or device) has.
        bytes: u64,
        /// Bytes it needs at least with this bucket size.
        needed: u64,
    },
}

fn power_of_two_in(value: u32, min: u32, max: u32) -> bool {
    value.is_power_of_two() && (min..=max).contains(&value)
}

/// What mkfs was told: `None` lets it choose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeometryChoice {
    /// `--block-size`.
    pub block_size: Option<u32>,
    /// `--bucket-size`.
    pub bucket_size: Option<u32>,
    /// `--node-size`.
    pub node_size: Option<u32>,
}

impl Geometry {
    /// Checks every rule of the fields' documentation.
    pub fn validate(&self) -> Result<(), GeometryError> {
        let Self {
            block_size,
            bucket_size,
            node_size,
            block_count,
        } = *self;
        if !power_of_two_in(block_size, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE) {
            return Err(GeometryError::BlockSize(block_size));
        }
        if !power_of_two_in(bucket_size, MIN_BUCKET_SIZE, MAX_BUCKET_SIZE) {
            return Err(GeometryError::BucketSize(bucket_size));
        }
        if !power_of_two_in(node_size, MIN_NODE_SIZE, MAX_NODE_SIZE) {
            return Err(GeometryError::NodeSize(node_size));
        }
        // Powers of two: "at least" is "a multiple of".
        if node_size < block_size {
            return Err(GeometryError::NodeNotMultipleOfBlock {
                node_size,
                block_size,
            });
        }
        if node_size > bucket_size {
            return Err(GeometryError::NodeLargerThanBucket {
                node_size,
                bucket_size,
            });
        }
        let bytes = block_count
            .checked_mul(u64::from(block_size))
            .ok_or(GeometryError::SizeOverflow)?;
        // `checked_rem`, here and below: a `%` the compiler cannot prove
        // safe leaves a panic call that objtool refuses in the module.
        if bytes.checked_rem(u64::from(bucket_size)) != Some(0) {
            return Err(GeometryError::SizeNotBucketMultiple { bytes, bucket_size });
        }
        let needed = Self::min_bytes(bucket_size);
        if bytes < needed {
            return Err(GeometryError::TooSmall { bytes, needed });
        }
        Ok(())
    }

    /// The smallest filesystem with buckets of `bucket_size` bytes: the
    /// reserved buckets at both ends and [`MIN_DATA_BUCKETS`] between.
    pub fn min_bytes(bucket_size: u32) -> u64 {
        let bucket = u64::from(bucket_size.max(1));
        let reserved_front = PRIMARY_END.div_ceil(bucket);
        (reserved_front + MIN_DATA_BUCKETS + 1) * bucket
    }

    /// Size of the filesystem in bytes.
    pub fn bytes(&self) -> u64 {
        self.block_count.saturating_mul(u64::from(self.block_size))
    }

    /// Buckets in the filesystem, reserved ones included.
    pub fn bucket_count(&self) -> u64 {
        self.bytes() / u64::from(self.bucket_size.max(1))
    }

    /// The buckets that may hold data: all but the ones holding the
    /// superblocks (and the boot area) at both ends.
    pub fn data_buckets(&self) -> Range<u64> {
        let first = PRIMARY_END.div_ceil(u64::from(self.bucket_size.max(1)));
        first..self.bucket_count().saturating_sub(1)
    }

    /// The byte range of the data buckets.
    pub fn data_bytes(&self) -> Range<u64> {
        let bucket = u64::from(self.bucket_size);
        let buckets = self.data_buckets();
        buckets.start.saturating_mul(bucket)..buckets.end.saturating_mul(bucket)
    }

    /// Byte offset of the backup superblock: the last 4 KiB of the
    /// filesystem.
    pub fn backup_offset(&self) -> u64 {
        self.bytes().saturating_sub(SUPERBLOCK_SIZE as u64)
    }

    /// The geometry mkfs gives a device of `device_bytes` bytes: the sizes
    /// it was told, defaults for the others, and as many whole buckets as
    /// fit. Buckets are chosen small enough for [`DEFAULT_MIN_BUCKETS`]
    /// (but at least a node, and at most [`DEFAULT_MAX_BUCKET_SIZE`]); nodes
    /// are [`DEFAULT_NODE_SIZE`] unless the bucket is smaller.
    pub fn for_device(device_bytes: u64, choice: GeometryChoice) -> Result<Self, GeometryError> {
        let block_size = choice.block_size.unwrap_or(DEFAULT_BLOCK_SIZE);
        let bucket_size = match choice.bucket_size {
            Some(size) => size,
            None => {
                let target = device_bytes / DEFAULT_MIN_BUCKETS;
                let floor = MIN_BUCKET_SIZE
                    .max(block_size)
                    .max(choice.node_size.unwrap_or(0));
                let mut size = DEFAULT_MAX_BUCKET_SIZE.max(floor);
                while size / 2 >= floor && u64::from(size) > target {
                    size /= 2;
                }
                size
            }
        };
        let node_size = choice
            .node_size
            .unwrap_or(DEFAULT_NODE_SIZE.min(bucket_size).max(block_size));
        let bucket = u64::from(bucket_size.max(1));
        let bytes = device_bytes - device_bytes.checked_rem(bucket).unwrap_or(0);
        let geometry = Self {
            block_size,
            bucket_size,
            node_size,
            block_count: bytes / u64::from(block_size.max(1)),
        };
        geometry.validate()?;
        Ok(geometry)
    }
}
