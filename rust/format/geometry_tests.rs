// SPDX-License-Identifier: GPL-2.0

//! Tests of the geometry rules and of mkfs's choice of sizes, run by
//! `cargo test` and as the KUnit suite `sixfs_geometry`.

use super::geometry::{
    Geometry, GeometryChoice, GeometryError, DEFAULT_NODE_SIZE, PRIMARY_END, SUPERBLOCK_SIZE,
};
use crate::platform::{check, check_eq, ok, test_suite};

const MIB: u64 = 1 << 20;

test_suite! {
    sixfs_geometry;

    fn defaults_fit_devices_from_tiny_to_huge() {
        for bytes in [MIB, 4 * MIB, 64 * MIB + 12345, 1 << 30, 64 << 30, 1 << 50] {
            let g = ok!(Geometry::for_device(bytes, GeometryChoice::default()));
            check_eq!(g.validate(), Ok(()));
            check!(g.bytes() <= bytes);
            // Never more than a bucket is left unused at the end.
            check!(bytes - g.bytes() < u64::from(g.bucket_size));
            check!(g.node_size <= DEFAULT_NODE_SIZE);
            let data = g.data_bytes();
            check!(data.start >= PRIMARY_END);
            check!(data.end <= g.backup_offset());
            check_eq!(g.backup_offset() + SUPERBLOCK_SIZE as u64, g.bytes());
        }
    }

    fn chosen_sizes_are_kept() {
        let choice = GeometryChoice {
            block_size: Some(512),
            bucket_size: Some(8192),
            node_size: Some(1024),
        };
        let g = ok!(Geometry::for_device(16 * MIB, choice));
        check_eq!((g.block_size, g.bucket_size, g.node_size), (512, 8192, 1024));
        check_eq!(g.block_count, 16 * MIB / 512);
        check_eq!(g.data_buckets(), 1..2047);
    }

    fn bad_sizes_are_refused() {
        let choose = |block: u32, bucket: u32, node: u32| {
            Geometry::for_device(64 * MIB, GeometryChoice {
                block_size: Some(block),
                bucket_size: Some(bucket),
                node_size: Some(node),
            })
        };
        check_eq!(choose(0, 1 << 20, 4096), Err(GeometryError::BlockSize(0)));
        check_eq!(choose(256, 1 << 20, 4096), Err(GeometryError::BlockSize(256)));
        check_eq!(choose(1 << 17, 1 << 20, 1 << 17), Err(GeometryError::BlockSize(1 << 17)));
        check_eq!(choose(4096, 3 << 20, 4096), Err(GeometryError::BucketSize(3 << 20)));
        check_eq!(choose(4096, 2048, 2048), Err(GeometryError::BucketSize(2048)));
        check_eq!(choose(4096, 1 << 20, 6000), Err(GeometryError::NodeSize(6000)));
        check_eq!(choose(4096, 1 << 20, 2 << 20), Err(GeometryError::NodeSize(2 << 20)));
        check_eq!(
            choose(4096, 1 << 20, 2048),
            Err(GeometryError::NodeNotMultipleOfBlock { node_size: 2048, block_size: 4096 })
        );
        check_eq!(
            choose(4096, 1 << 16, 1 << 17),
            Err(GeometryError::NodeLargerThanBucket { node_size: 1 << 17, bucket_size: 1 << 16 })
        );
    }

    fn a_device_too_small_is_refused() {
        let needed = Geometry::min_bytes(1 << 20);
        // One reserved bucket in front, eight for data, one for the backup.
        check_eq!(needed, 10 * MIB);
        let choice = GeometryChoice { bucket_size: Some(1 << 20), ..GeometryChoice::default() };
        check_eq!(
            Geometry::for_device(needed - 1, choice),
            Err(GeometryError::TooSmall { bytes: needed - MIB, needed })
        );
        check!(Geometry::for_device(needed, choice).is_ok());
        check!(Geometry::for_device(0, GeometryChoice::default()).is_err());
        check!(Geometry::for_device(40 * 1024, GeometryChoice::default()).is_err());
        // 4 KiB buckets: two in front (boot area and superblock), 8, backup.
        check_eq!(Geometry::min_bytes(4096), 11 * 4096);
    }
}
