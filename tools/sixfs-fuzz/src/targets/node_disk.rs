// SPDX-License-Identifier: GPL-2.0

//! `node::disk::decode`: a btree node's slot as read from a device.
//!
//! The slot is checked against what a parent's pointer would say of it
//! (two expectations, a leaf and an interior node, as the seeds were
//! written). An accepted node must pass `Node::check` and re-encode to a
//! slot that decodes to the same keys.

use super::key::sample_keys;
use crate::{Outcome, Target};
use sixfs_core::bkey::{BtreePtr, Key, Pos, Value};
use sixfs_core::node::disk::{self, NodeHeader, HEADER_BYTES};
use sixfs_core::node::{Filter, Node, NodeParams};
use sixfs_core::platform::crc32c::crc32c;

pub static TARGET: Target = Target {
    name: "node_disk",
    seeds,
    check,
    fix_up: Some(fix_checksum),
    // bytes, sector, tag, btree/level/nsets, the bset sizes, min, max, and
    // the first key's length and value length.
    fields: &[12, 16, 24, 32, 33, 34, 36, 40, 44, 48, 64, 72, 88, 96, 132],
    max_input: 4096 + 512,
};

/// What the pointer to the leaf seeds says.
const LEAF: NodeHeader = NodeHeader {
    sector: 4096,
    tag: 0x1234_5678,
    btree: 0,
    level: 0,
    min: Pos::MIN,
    max: Pos::MAX,
};

/// What the pointer to the interior seeds says.
const INTERIOR: NodeHeader = NodeHeader {
    sector: 8192,
    tag: 99,
    btree: 2,
    level: 1,
    min: Pos {
        inode: 1,
        offset: 0,
        snapshot: 0,
    },
    max: Pos {
        inode: 9,
        offset: u64::MAX,
        snapshot: u32::MAX,
    },
};

fn slot(node: &Node, header: &NodeHeader, slot_bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; slot_bytes];
    let len = disk::encode(node, header, &mut out).expect("a seed node fits its slot");
    out.truncate(slot_bytes.max(len));
    out
}

fn params(header: &NodeHeader, slot_bytes: usize) -> NodeParams {
    NodeParams {
        size: disk::key_bytes(slot_bytes),
        level: header.level,
        min: header.min,
        max: header.max,
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for slot_bytes in [512, 4096] {
        // A leaf with up to three bsets.
        let mut leaf = Node::new(params(&LEAF, slot_bytes)).unwrap();
        out.push(slot(&leaf, &LEAF, slot_bytes));
        for (i, k) in sample_keys().iter().enumerate() {
            if leaf.insert(k).is_err() {
                break;
            }
            if i % 3 == 2 {
                out.push(slot(&leaf, &LEAF, slot_bytes));
                leaf.mark_written();
            }
        }
        out.push(slot(&leaf, &LEAF, slot_bytes));
        // An interior node: pointers ending at its max.
        let mut interior = Node::new(params(&INTERIOR, slot_bytes)).unwrap();
        for (i, max) in [Pos::new(3, 5, 0), Pos::new(5, 0, 1), INTERIOR.max]
            .into_iter()
            .enumerate()
        {
            let ptr = Key::new(
                max,
                Value::BtreePtr(BtreePtr {
                    node: 16 + i as u64,
                    seq: 7,
                }),
            );
            interior.insert(&ptr).unwrap();
        }
        out.push(slot(&interior, &INTERIOR, slot_bytes));
    }
    out
}

/// Writes the right checksum for the byte count the header claims.
pub fn fix_checksum(input: &mut [u8]) {
    if input.len() < HEADER_BYTES {
        return;
    }
    let bytes = u32::from_le_bytes(input[12..16].try_into().unwrap()) as usize;
    if let Some(covered) = input.get(12..bytes) {
        let csum = crc32c(covered);
        input[8..12].copy_from_slice(&csum.to_le_bytes());
    }
}

pub fn check(input: &[u8]) -> Result<Outcome, String> {
    let mut outcome = Outcome::Refused;
    for expect in [LEAF, INTERIOR] {
        let Ok((node, header)) = disk::decode(input, &expect, true) else {
            continue;
        };
        outcome = Outcome::Accepted;
        if header != expect {
            return Err(format!(
                "accepted a header {header:?} not the expected {expect:?}"
            ));
        }
        node.check()
            .map_err(|e| format!("an accepted node fails its check: {e:?}"))?;
        let again = slot(&node, &expect, input.len());
        let (node2, _) = disk::decode(&again, &expect, true)
            .map_err(|e| format!("a re-encoded node is refused: {e:?}"))?;
        let keys = |n: &Node| {
            n.keys(Filter::NoDeleted)
                .map(|k| k.as_bytes().to_vec())
                .collect::<Vec<_>>()
        };
        if keys(&node) != keys(&node2) {
            return Err("a re-encoded node holds other keys".into());
        }
    }
    Ok(outcome)
}
