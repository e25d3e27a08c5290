// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the node test suites (both builds).

use super::{Filter, Node, NodeParams};
use crate::bkey::{BtreePtr, Key, Pos, TestVal, Value};

/// Leaf parameters covering everything.
pub(crate) fn leaf(size: usize) -> NodeParams {
    NodeParams {
        size,
        level: 0,
        min: Pos::MIN,
        max: Pos::MAX,
    }
}

/// Position `offset` of inode 1.
pub(crate) fn p(offset: u64) -> Pos {
    Pos::new(1, offset, 0)
}

/// A test key at `p(offset)` holding `v`.
pub(crate) fn tkey(offset: u64, v: u64) -> Key {
    Key::new(p(offset), Value::Test(TestVal::from_u64(v)))
}

/// A test key at `p(offset)` holding `v` in 16 bytes: longer than
/// [`tkey`]'s, so it never overwrites one of those in place.
pub(crate) fn long_tkey(offset: u64, v: u64) -> Key {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&v.to_le_bytes());
    let value = TestVal::new(&bytes).unwrap_or_default();
    Key::new(p(offset), Value::Test(value))
}

/// A child pointer keyed by `p(offset)`.
pub(crate) fn ptr(offset: u64, node: u64) -> Key {
    Key::new(p(offset), Value::BtreePtr(BtreePtr { node, seq: 1 }))
}

/// The u64 a test key holds, [`tkey`]'s or [`long_tkey`]'s (`u64::MAX`
/// for other values).
pub(crate) fn val(k: &crate::bkey::KeyRef<'_>) -> u64 {
    match k.value() {
        Ok(Value::Test(t)) => match t.as_bytes() {
            &[a, b, c, d, e, f, g, h, ..] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
            _ => u64::MAX,
        },
        Ok(Value::BtreePtr(b)) => b.node,
        _ => u64::MAX,
    }
}

/// Whether the node's live keys are exactly `(offset, value)` in `want`.
pub(crate) fn holds(node: &Node, want: &[(u64, u64)]) -> bool {
    let mut keys = node.keys(Filter::Live);
    for &(offset, v) in want {
        match keys.next() {
            Some(k) if k.pos() == p(offset) && val(&k) == v => {}
            _ => return false,
        }
    }
    keys.next().is_none() && node.check().is_ok()
}
