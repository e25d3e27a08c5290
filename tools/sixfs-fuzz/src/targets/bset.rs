// SPDX-License-Identifier: GPL-2.0

//! `Node::new` with parameters as a parent's pointer would give them, then
//! `Node::read_bset` for each bset of the input, as a node read does.
//!
//! Input: the node's parameters (`PARAMS_BYTES`: size u32, level u8, min
//! and max positions, each inode u64, offset u64, snapshot u32), then
//! bsets, each a u16 length and that many bytes. After every bset the node
//! must pass `Node::check`; an accepted bset's keys must all be found; a
//! refused one must leave the node as it was. At the end the node's bsets,
//! read into a new node, must be accepted again and show the same keys.

use super::key::{encode_all, sample_keys};
use crate::{Outcome, Target};
use sixfs_core::bkey::{BtreePtr, Key, Pos, TestVal, Value};
use sixfs_core::node::{Node, NodeParams};

pub static TARGET: Target = Target {
    name: "bset",
    seeds,
    check,
    fix_up: None,
    // Size, level, min, max, the first bset's length and its first key's
    // length and value length.
    fields: &[0, 4, 5, 13, 21, 25, 33, 41, 45, 47, 49, 85],
    // Bsets of nodes up to 64 KiB: larger ones take nothing new but time.
    max_input: 64 * 1024,
};

/// Bytes of the parameters at the start of an input.
pub const PARAMS_BYTES: usize = 4 + 1 + 2 * 20;

fn put_pos(out: &mut Vec<u8>, pos: Pos) {
    out.extend_from_slice(&pos.inode.to_le_bytes());
    out.extend_from_slice(&pos.offset.to_le_bytes());
    out.extend_from_slice(&pos.snapshot.to_le_bytes());
}

/// An input: `params`, then each of `bsets` encoded.
pub fn input_for(params: NodeParams, bsets: &[&[Key]]) -> Vec<u8> {
    let mut out = (params.size as u32).to_le_bytes().to_vec();
    out.push(params.level);
    put_pos(&mut out, params.min);
    put_pos(&mut out, params.max);
    for keys in bsets {
        let bytes = encode_all(keys);
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn seeds() -> Vec<Vec<u8>> {
    let leaf = |size| NodeParams {
        size,
        level: 0,
        min: Pos::MIN,
        max: Pos::MAX,
    };
    let keys = sample_keys();
    let leaf_keys: Vec<Key> = keys
        .iter()
        .copied()
        .filter(|k| !matches!(k.value, Value::BtreePtr(_)))
        .collect();
    let test = |pos: Pos, byte: u8| Key::new(pos, Value::Test(TestVal::new(&[byte; 8]).unwrap()));
    let older = [test(Pos::new(1, 2, 3), 1), test(Pos::new(9, 0, 0), 2)];
    let newer = [test(Pos::new(1, 2, 3), 3), Key::deleted(Pos::new(9, 0, 0))];
    let newest = [test(Pos::new(0, 5, 0), 4)];
    let pointers: Vec<Key> = (0..4)
        .map(|i| {
            Key::new(
                Pos::new(10 + i, 0, 0),
                Value::BtreePtr(BtreePtr { node: i, seq: 1 }),
            )
        })
        .collect();
    vec![
        input_for(leaf(1024), &[&leaf_keys]),
        // The smallest node, one key.
        input_for(leaf(256), &[&leaf_keys[..1]]),
        // Four bsets: the fourth makes the node compact the first three.
        input_for(leaf(1024), &[&older, &newer, &newest, &older[1..]]),
        // The same, with every key deleted before the fourth: the
        // compaction leaves an empty node.
        input_for(
            leaf(1024),
            &[&older[1..], &newer[1..], &newer[1..], &newest],
        ),
        input_for(
            NodeParams {
                size: 512,
                level: 1,
                min: Pos::new(10, 0, 0),
                max: Pos::new(13, u64::MAX, u32::MAX),
            },
            &[&pointers[..2], &pointers[2..]],
        ),
    ]
}

fn get_pos(bytes: &[u8], at: usize) -> Pos {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let snapshot = u32::from_le_bytes(bytes[at + 16..at + 20].try_into().unwrap());
    Pos::new(u64_at(at), u64_at(at + 8), snapshot)
}

/// Parameters, and the bsets after them (a short last one as it is).
fn split_input(input: &[u8]) -> Option<(NodeParams, Vec<&[u8]>)> {
    let params = input.get(..PARAMS_BYTES)?;
    let params = NodeParams {
        size: u32::from_le_bytes(params[..4].try_into().unwrap()) as usize,
        level: params[4],
        min: get_pos(params, 5),
        max: get_pos(params, 25),
    };
    let mut rest = &input[PARAMS_BYTES..];
    let mut bsets = Vec::new();
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let bytes = rest.get(2..2 + len).unwrap_or(&rest[2..]);
        bsets.push(bytes);
        rest = &rest[2 + bytes.len()..];
    }
    Some((params, bsets))
}

/// The node's bsets, copied.
fn bsets_of(node: &Node) -> Vec<Vec<u8>> {
    (0..node.nsets())
        .map(|i| node.bset_bytes(i).unwrap_or(&[]).to_vec())
        .collect()
}

/// What a lookup finds at every position a key of the node has.
fn visible(node: &Node) -> Vec<(Pos, Option<Vec<u8>>)> {
    let mut positions: Vec<Pos> = (0..node.nsets())
        .flat_map(|i| node.bset_keys(i).map(|k| k.pos()).collect::<Vec<_>>())
        .collect();
    positions.sort();
    positions.dedup();
    positions
        .into_iter()
        .map(|pos| (pos, node.get(pos).map(|k| k.as_bytes().to_vec())))
        .collect()
}

fn check(input: &[u8]) -> Result<Outcome, String> {
    let Some((params, bsets)) = split_input(input) else {
        return Ok(Outcome::Refused);
    };
    let Ok(mut node) = Node::new(params) else {
        return Ok(Outcome::Refused);
    };
    let mut outcome = Outcome::Refused;
    for (i, bytes) in bsets.iter().enumerate() {
        let before = bsets_of(&node);
        match node.read_bset(bytes) {
            Ok(()) if bytes.is_empty() => {
                if bsets_of(&node) != before {
                    return Err(format!("bset {i}: empty, but the node changed"));
                }
            }
            Ok(()) => {
                outcome = Outcome::Accepted;
                let newest = node.nsets() - 1;
                if node.bset_bytes(newest) != Some(bytes) {
                    return Err(format!("bset {i}: the node holds other bytes than it read"));
                }
                for key in node.bset_keys(newest) {
                    let found = node.get(key.pos());
                    let deleted = key.kind() == sixfs_core::bkey::KeyType::Deleted;
                    if found.map(|k| k.as_bytes()) != (!deleted).then_some(key.as_bytes()) {
                        return Err(format!("bset {i}: {key:?} read, lookup finds {found:?}"));
                    }
                }
            }
            Err(_) => {
                if bsets_of(&node) != before {
                    return Err(format!("bset {i}: refused, but the node changed"));
                }
            }
        }
        node.check()
            .map_err(|why| format!("bset {i}: node broken after reading: {why}"))?;
    }
    // The round trip: what a node write would store, read into a new node.
    let mut again = Node::new(params).map_err(|e| format!("new node: {e:?}"))?;
    for (i, bytes) in bsets_of(&node).iter().enumerate() {
        again
            .read_bset(bytes)
            .map_err(|e| format!("the node's bset {i}, read back, is refused: {e:?}"))?;
    }
    if visible(&again) != visible(&node) {
        return Err("the node's bsets, read back, show other keys".into());
    }
    Ok(outcome)
}
