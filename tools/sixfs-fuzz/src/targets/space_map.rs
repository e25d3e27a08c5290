// SPDX-License-Identifier: GPL-2.0

//! `format::space_map::decode`: a space map copy as read from a device.
//!
//! The bucket count and sequence number it is checked against are the
//! ones its own header claims (as if the superblock said the same), the
//! count capped so an input cannot ask for gigabytes. An accepted copy must
//! be exactly what `encode` writes for its records.

use crate::{Outcome, Target};
use sixfs_core::format::geometry::{Geometry, GeometryChoice};
use sixfs_core::format::space_map::{self, Bucket, BucketKind, SpaceMapLocation, HEADER_BYTES};
use sixfs_core::platform::crc32c::crc32c;

pub static TARGET: Target = Target {
    name: "space_map",
    seeds,
    check,
    fix_up: Some(fix_checksum),
    // The reserved word, seq, the bucket count, the first records.
    fields: &[12, 16, 24, 32, 36, 40, 44],
    max_input: HEADER_BYTES + 8 * MAX_BUCKETS as usize + 64,
};

/// Most buckets an input may claim.
const MAX_BUCKETS: u64 = 4096;

fn encode(records: &[Bucket], seq: u64) -> Vec<u8> {
    let mut out = vec![0u8; space_map::copy_bytes(records.len() as u64)];
    space_map::encode(records, seq, &mut out).expect("a seed space map encodes");
    out
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for bytes in [1u64 << 20, 16 << 20] {
        let g = Geometry::for_device(bytes, GeometryChoice::default()).unwrap();
        let loc = SpaceMapLocation {
            first_bucket: g.data_buckets().start,
            bucket_count: SpaceMapLocation::buckets_needed(&g),
        };
        let mut records = space_map::initial(&g, &loc, 0..0).unwrap();
        out.push(encode(&records, 1));
        // Some btree buckets, a journal.
        for (i, r) in records.iter_mut().enumerate().skip(5).take(20) {
            *r = if i % 5 == 0 {
                Bucket {
                    kind: BucketKind::Journal,
                    used: 0,
                }
            } else {
                Bucket {
                    kind: BucketKind::Btree,
                    used: i as u32 % 8 + 1,
                }
            };
        }
        out.push(encode(&records, 42));
    }
    out
}

fn header_u64(input: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(input.get(at..at + 8)?.try_into().ok()?))
}

/// Writes the right checksum for the bucket count the header claims.
pub fn fix_checksum(input: &mut [u8]) {
    let Some(buckets) = header_u64(input, 24).filter(|&b| b <= MAX_BUCKETS) else {
        return;
    };
    let end = space_map::copy_bytes(buckets);
    if let Some(body) = input.get(12..end) {
        let csum = crc32c(body);
        input[8..12].copy_from_slice(&csum.to_le_bytes());
    }
}

pub fn check(input: &[u8]) -> Result<Outcome, String> {
    let (Some(buckets), Some(seq)) = (header_u64(input, 24), header_u64(input, 16)) else {
        return Ok(Outcome::Refused);
    };
    let buckets = buckets.min(MAX_BUCKETS);
    let Ok(records) = space_map::decode(input, buckets, seq) else {
        return Ok(Outcome::Refused);
    };
    if records.len() as u64 != buckets {
        return Err(format!("{} records for {buckets} buckets", records.len()));
    }
    let again = encode(&records, seq);
    if input.get(..again.len()) != Some(&again[..]) {
        return Err("accepted a copy that is not what encode writes".into());
    }
    Ok(Outcome::Accepted)
}
