// SPDX-License-Identifier: GPL-2.0

//! `probe` and `Superblock::decode` on one superblock image.
//!
//! An accepted image must be canonical: it is exactly what `encode` writes
//! for the decoded superblock (unless unknown read-only-compat features
//! allow reserved bytes to carry their data), and that decodes to the same
//! superblock. `probe` must agree: no superblock decodes without its magic.

use crate::{Outcome, Target};
use sixfs_core::format::btree_root::BtreeRoot;
use sixfs_core::format::features::Features;
use sixfs_core::format::geometry::{Geometry, GeometryChoice};
use sixfs_core::format::label::Label;
use sixfs_core::format::superblock::{probe, JournalLocation, Superblock, SUPERBLOCK_SIZE};
use sixfs_core::platform::crc32c::crc32c;

pub static TARGET: Target = Target {
    name: "superblock",
    seeds,
    check,
    fix_up: Some(fix_checksum),
    fields: FIELDS,
    max_input: SUPERBLOCK_SIZE + 512,
};

/// Offsets of the superblock's fields (format.rst): sizes, counts, the
/// features, the journal and the first root slots.
pub const FIELDS: &[usize] = &[
    0x008, 0x00c, 0x010, 0x014, 0x018, 0x020, 0x028, 0x030, 0x038, 0x040, 0x058, 0x098, 0x0a0,
    0x0a8, 0x0b0, 0x100, 0x108, 0x110, 0x118,
];

/// Encodes `sb` into a fresh image.
pub fn encode(sb: &Superblock) -> Vec<u8> {
    let mut image = vec![0u8; SUPERBLOCK_SIZE];
    sb.encode(&mut image).expect("a seed superblock is valid");
    image
}

/// Superblocks as mkfs makes them for a few device sizes and geometries,
/// and one with every optional part filled in.
pub fn sample_superblocks() -> Vec<Superblock> {
    let mut out = Vec::new();
    for (bytes, choice) in [
        (1u64 << 20, GeometryChoice::default()),
        (
            8 << 20,
            GeometryChoice {
                block_size: Some(512),
                bucket_size: Some(4096),
                node_size: Some(512),
            },
        ),
        (64 << 30, GeometryChoice::default()),
    ] {
        let geometry = Geometry::for_device(bytes, choice).expect("a seed geometry is valid");
        out.push(Superblock::new(geometry, [0x5a; 16], Label::EMPTY));
    }
    let geometry = Geometry::for_device(
        4 << 20,
        GeometryChoice {
            node_size: Some(4096),
            ..Default::default()
        },
    )
    .expect("a seed geometry is valid");
    let data = geometry.data_buckets();
    let mut full = Superblock::new(geometry, *b"0123456789abcdef", Label::new("fuzz").unwrap());
    full.seq = 7;
    full.clean = false;
    full.features = Features {
        compat: 1 << 3,
        ro_compat: 0,
        incompat: 0,
    };
    full.journal = JournalLocation {
        first_bucket: full.space_map.buckets().end,
        bucket_count: 2,
    };
    let first_node = data.start * u64::from(geometry.bucket_size) / 512;
    full.roots[0] = BtreeRoot::Node {
        sector: first_node,
        level: 2,
    };
    full.roots[1] = BtreeRoot::Node {
        sector: first_node + u64::from(geometry.node_size) / 512,
        level: 0,
    };
    out.push(full);
    out
}

fn seeds() -> Vec<Vec<u8>> {
    sample_superblocks().iter().map(encode).collect()
}

/// Writes the right checksum into the image's last 4 bytes.
pub fn fix_checksum(input: &mut [u8]) {
    if let Some(image) = input.get_mut(..SUPERBLOCK_SIZE) {
        let csum = crc32c(&image[..SUPERBLOCK_SIZE - 4]);
        image[SUPERBLOCK_SIZE - 4..].copy_from_slice(&csum.to_le_bytes());
    }
}

/// The property every image read from a device must have.
pub fn check(input: &[u8]) -> Result<Outcome, String> {
    let probed = probe(input.get(..SUPERBLOCK_SIZE).unwrap_or(input));
    let Ok(sb) = Superblock::decode(input) else {
        return Ok(Outcome::Refused);
    };
    if probed.is_err() {
        return Err(format!("probe refused ({probed:?}) what decode accepted"));
    }
    let again = encode(&sb);
    if Superblock::decode(&again) != Ok(sb) {
        return Err("the re-encoded superblock decodes differently".into());
    }
    if sb.features.unknown_ro_compat() == 0 && again[..] != input[..SUPERBLOCK_SIZE] {
        return Err("accepted an image that is not what encode writes".into());
    }
    Ok(Outcome::Accepted)
}
