// SPDX-License-Identifier: GPL-2.0

//! Tests of a node's bsets as bytes, run by `cargo test` and as the KUnit
//! suite `sixfs_node_image`.

use super::test_util::{leaf, long_tkey, p, ptr, tkey};
use super::{Filter, Node, NodeError, MAX_BSETS};
use crate::bkey::encoding::OFF_FLAGS;
use crate::bkey::{KeyError, KeyType, Pos};
use crate::platform::ok;
use crate::platform::vec::Vec;
use crate::platform::{check, check_eq, test_suite};

/// A node with written bsets, deletes over written keys, and an unwritten
/// open bset: what a node write would find.
fn written_node() -> Result<Node, NodeError> {
    let mut node = Node::new(leaf(8192))?;
    for i in 0..40 {
        node.insert(&tkey(i * 2, i))?;
    }
    node.mark_written();
    for i in 0..20 {
        node.insert(&tkey(i * 3, 100 + i))?;
    }
    node.delete(p(4))?;
    node.mark_written();
    node.insert(&tkey(1, 7))?;
    Ok(node)
}

/// Reads every bset of `from` into a fresh node with its parameters.
fn read_back(from: &Node) -> Result<Node, NodeError> {
    let mut node = Node::new(from.params())?;
    for i in 0..from.nsets() {
        node.read_bset(from.bset_bytes(i).unwrap_or(&[]))?;
    }
    Ok(node)
}

/// The positions and bytes of a node's newest keys through `filter`,
/// without the in-memory flags (a read cannot know them).
fn contents(node: &Node, filter: Filter) -> Result<Vec<(Pos, Vec<u8>)>, NodeError> {
    let mut out = Vec::new();
    for key in node.keys(filter) {
        let mut bytes = Vec::new();
        bytes.try_extend_from_slice(key.as_bytes())?;
        if let Some(flags) = bytes.get_mut(OFF_FLAGS) {
            *flags = 0;
        }
        out.try_push((key.pos(), bytes))?;
    }
    Ok(out)
}

/// Whether two [`contents`] are the same.
fn same(a: &[(Pos, Vec<u8>)], b: &[(Pos, Vec<u8>)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && x.1[..] == y.1[..])
}

test_suite! {
    sixfs_node_image;

    fn bsets_read_back_as_they_were() {
        let node = ok!(written_node());
        check_eq!(node.nsets(), 3);
        let copy = ok!(read_back(&node));
        // Every bset read is written: the copy is what the device holds.
        check_eq!(copy.written_sets(), copy.nsets());
        check_eq!(copy.check(), Ok(()));
        check_eq!(copy.live_bytes(), node.live_bytes());
        let all = |n: &Node| contents(n, Filter::All);
        check!(same(&ok!(all(&node)), &ok!(all(&copy))));
        // A read copy takes inserts like any node.
        let mut copy = copy;
        ok!(copy.insert(&tkey(4, 9)));
        check_eq!(copy.check(), Ok(()));
        check!(copy.get(p(4)).is_some());
    }

    fn more_bsets_than_slots_are_compacted_on_read() {
        let node = ok!(written_node());
        let mut copy = ok!(Node::new(node.params()));
        // Read the same three bsets twice: six bsets, three slots.
        for _ in 0..2 {
            for i in 0..node.nsets() {
                ok!(copy.read_bset(node.bset_bytes(i).unwrap_or(&[])));
                check!(copy.nsets() <= MAX_BSETS);
                check_eq!(copy.check(), Ok(()));
            }
        }
        // Compaction drops the deletes (nothing older is left under them
        // in the node), so compare what is there.
        let live = |n: &Node| contents(n, Filter::NoDeleted);
        check!(same(&ok!(live(&copy)), &ok!(live(&node))));
    }

    fn bad_bsets_are_refused_and_change_nothing() {
        let node = ok!(written_node());
        let bytes = node.bset_bytes(0).unwrap_or(&[]);
        let mut copy = ok!(Node::new(node.params()));
        ok!(copy.read_bset(bytes));
        let before = ok!(contents(&copy, Filter::All));

        // Unsorted: the second key first.
        let mut swapped = Vec::new();
        ok!(swapped.try_extend_from_slice(bytes.get(48..96).unwrap_or(&[])));
        ok!(swapped.try_extend_from_slice(bytes.get(..48).unwrap_or(&[])));
        check_eq!(copy.read_bset(&swapped), Err(NodeError::Corrupt("bset not sorted")));
        // Truncated in the middle of a key.
        check_eq!(
            copy.read_bset(bytes.get(..bytes.len() - 8).unwrap_or(&[])),
            Err(NodeError::BadKey(KeyError::Truncated))
        );
        // A child pointer in a leaf.
        let mut interior = ok!(Node::new(super::NodeParams { level: 1, ..leaf(1024) }));
        ok!(interior.insert(&ptr(9, 3)));
        let ptr_bytes = interior.bset_bytes(0).unwrap_or(&[]);
        check_eq!(
            copy.read_bset(ptr_bytes),
            Err(NodeError::Corrupt("key type does not fit the level"))
        );
        // Outside the node's range.
        let mut narrow = ok!(Node::new(super::NodeParams { max: p(10), ..leaf(8192) }));
        check_eq!(narrow.read_bset(bytes), Err(NodeError::Corrupt("key outside the node's range")));
        // Nothing changed.
        check!(same(&ok!(contents(&copy, Filter::All)), &before));
        check_eq!(copy.check(), Ok(()));

        // A node with unwritten keys takes no bset.
        let mut open = ok!(written_node());
        check_eq!(open.read_bset(bytes), Err(NodeError::BadParams));
    }

    // Found by the bset fuzz target (tools/sixfs-fuzz/regressions/bset/):
    // an empty bset was taken as a bset of its own, and the next one read
    // left it empty before the last, which a node may not have.
    fn empty_bsets_read_as_nothing() {
        let node = ok!(written_node());
        let bytes = node.bset_bytes(0).unwrap_or(&[]);
        let mut copy = ok!(Node::new(node.params()));
        ok!(copy.read_bset(&[]));
        ok!(copy.read_bset(bytes));
        ok!(copy.read_bset(&[]));
        ok!(copy.read_bset(&[]));
        ok!(copy.read_bset(bytes.get(..48).unwrap_or(&[])));
        check_eq!(copy.check(), Ok(()));
        check_eq!(copy.nsets(), 2);
        check_eq!(copy.written_sets(), 2);
    }

    fn a_bset_past_the_limit_after_every_key_was_deleted() {
        // The bset past MAX_BSETS compacts the node first, and the
        // compaction drops every key: the new bset must replace the empty
        // one left, not follow it (found by the bset fuzz target).
        let mut node = ok!(Node::new(leaf(4096)));
        ok!(node.insert(&tkey(1, 1)));
        node.mark_written();
        ok!(node.delete(p(1)));
        let key = node.bset_bytes(0).unwrap_or(&[]);
        let whiteout = node.bset_bytes(1).unwrap_or(&[]);
        let mut copy = ok!(Node::new(node.params()));
        ok!(copy.read_bset(key));
        for _ in 1..MAX_BSETS {
            ok!(copy.read_bset(whiteout));
        }
        check!(copy.get(p(1)).is_none());
        ok!(copy.read_bset(key));
        check_eq!(copy.check(), Ok(()));
        check_eq!(copy.nsets(), 1);
        check_eq!(copy.written_sets(), 1);
        check!(copy.get(p(1)).is_some());
    }

    fn dead_keys_are_left_out_of_the_disk_form_or_written_as_whiteouts() {
        let mut node = ok!(Node::new(leaf(65536)));
        for i in 0..100 {
            ok!(node.insert(&tkey(i, i)));
        }
        // Sealed by the next insert: 5 is shadowed from the open bset.
        ok!(node.insert(&long_tkey(5, 55)));
        check_eq!(node.nsets(), 2);
        // Dead in the open bset over the sealed 5: it stands for a deleted
        // key. Dead in the sealed bset, hiding nothing: it goes.
        ok!(node.delete(p(5)));
        ok!(node.delete(p(7)));
        check!(node.bset_keys(1).any(|k| k.pos() == p(5) && k.is_dead()));
        check!(node.bset_keys(0).any(|k| k.pos() == p(7) && k.is_dead()));
        let mut copy = ok!(Node::new(node.params()));
        let mut buf = Vec::new();
        ok!(buf.try_extend_with(65536, 0u8));
        for i in 0..node.nsets() {
            let len = ok!(node.disk_bset(i, &mut buf));
            let bytes = buf.get(..len).unwrap_or(&[]);
            // What a device gets parses as it must when read back.
            ok!(copy.read_bset(bytes));
        }
        check!(copy.bset_keys(0).all(|k| k.pos() != p(7)));
        check!(copy
            .bset_keys(1)
            .any(|k| k.pos() == p(5) && k.kind() == KeyType::Deleted && !k.is_dead()));
        check!(copy.keys(Filter::All).all(|k| !k.is_dead()));
        let (read, had) = (
            ok!(contents(&copy, Filter::NoDeleted)),
            ok!(contents(&node, Filter::NoDeleted)),
        );
        check!(same(&read, &had));
        check!(copy.get(p(5)).is_none() && copy.get(p(7)).is_none());
        check_eq!(copy.check(), Ok(()));
    }

    fn flipped_bytes_never_make_a_bad_node() {
        let node = ok!(written_node());
        let bytes = node.bset_bytes(0).unwrap_or(&[]);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bad = Vec::new();
            ok!(bad.try_extend_from_slice(bytes));
            for _ in 0..1 + x % 3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = x.checked_rem(bad.len() as u64).unwrap_or(0) as usize;
                if let Some(b) = bad.get_mut(at) {
                    *b ^= 1u8 << (x >> 61);
                }
            }
            let mut copy = ok!(Node::new(node.params()));
            // Refused, or taken and then a valid node.
            if copy.read_bset(&bad).is_ok() {
                check_eq!(copy.check(), Ok(()));
            }
        }
    }
}
