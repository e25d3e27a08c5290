// SPDX-License-Identifier: GPL-2.0

//! Tests of sealing and merging bsets, run by `cargo test` and as the
//! KUnit suite `sixfs_node_sort`.

use super::lookup::SPACING;
use super::test_util::{leaf, long_tkey, p, tkey, val};
use super::{Filter, Node, NodeError, MAX_BSETS, SEAL_BYTES};
use crate::bkey::{Key, KeyType};
use crate::platform::ok;
use crate::platform::rng::Rng;
use crate::platform::{check, check_eq, test_suite};

/// Test keys are 48 bytes: this many fill a bset past the threshold.
const KEYS_TO_SEAL: u64 = (SEAL_BYTES / 48 + 1) as u64;

/// Inserts `tkey(o, o)` for `KEYS_TO_SEAL` offsets `from, from + step..`:
/// into an empty open bset, the next insert then seals it.
fn fill(node: &mut Node, from: u64, step: u64) -> Result<(), NodeError> {
    fill_n(node, from, step, KEYS_TO_SEAL)
}

/// Inserts `tkey(o, o)` for `n` offsets `from, from + step..`.
fn fill_n(node: &mut Node, from: u64, step: u64, n: u64) -> Result<(), NodeError> {
    for i in 0..n {
        let o = from + i * step;
        node.insert(&tkey(o, o))?;
    }
    Ok(())
}

/// Whether the node has a deleted key at `p(offset)` (hidden from `get`).
fn has_deleted(node: &Node, offset: u64) -> bool {
    node.keys(Filter::All)
        .any(|k| k.pos() == p(offset) && k.kind() == KeyType::Deleted)
}

test_suite! {
    sixfs_node_sort;

    fn open_bset_is_sealed_past_the_threshold() {
        let mut node = ok!(Node::new(leaf(65536)));
        ok!(fill(&mut node, 0, 1));
        check_eq!(node.nsets(), 1);
        check!(node.used_bytes() > SEAL_BYTES);
        ok!(node.insert(&tkey(1000, 1000)));
        check_eq!(node.nsets(), 2);
        check_eq!(node.written_sets(), 0);
        check_eq!(node.bset_keys(0).count() as u64, KEYS_TO_SEAL);
        check_eq!(node.bset_keys(1).count(), 1);
        // Overwriting a key of the sealed bset shadows it from the open one.
        ok!(node.insert(&tkey(3, 33)));
        check_eq!(node.get(p(3)).map(|k| val(&k)), Some(33));
        check!(node.bset_keys(1).all(|k| k.pos() != p(3) || k.needs_whiteout()));
        check_eq!(node.check(), Ok(()));
    }

    fn small_nodes_never_seal() {
        // A 4 KiB node cannot hold more than the threshold in one bset.
        let mut node = ok!(Node::new(leaf(4096)));
        for i in 0..80 {
            ok!(node.insert(&tkey(i, i)));
        }
        check_eq!(node.nsets(), 1);
        check_eq!(node.check(), Ok(()));
    }

    fn full_open_bset_merges_with_the_sealed_one() {
        let mut node = ok!(Node::new(leaf(65536)));
        // Interleaved offsets, so the merge moves keys of both bsets.
        ok!(fill(&mut node, 0, 2));
        // The second bset starts with an overwrite of a sealed key by a
        // longer one; the delete of another marks it dead in the sealed
        // bset.
        ok!(node.insert(&long_tkey(0, 7)));
        ok!(node.delete(p(2)));
        check_eq!(node.nsets(), 2);
        // 64 + 85 * 48 bytes: just past the threshold.
        ok!(fill_n(&mut node, 1, 2, KEYS_TO_SEAL - 1));
        check_eq!(node.check(), Ok(()));
        check_eq!(node.nsets(), 2);
        check!(node.used_bytes() > node.live_bytes());
        let live = node.live_bytes();
        // The next insert finds the open bset full: it merges with the
        // sealed one (and the result, being big, is sealed in turn).
        ok!(node.insert(&tkey(10_000, 1)));
        check_eq!(node.nsets(), 2);
        check_eq!(node.written_sets(), 0);
        check_eq!(node.bset_keys(1).count(), 1);
        check_eq!(node.live_bytes(), live + 48);
        // The merge moves the sealed bset's keys in runs: the dead 2 stays
        // there until a compaction.
        check_eq!(node.used_bytes(), node.live_bytes() + 48);
        check!(node.bset_keys(0).all(|k| !k.needs_whiteout()));
        check_eq!(node.get(p(0)).map(|k| val(&k)), Some(7));
        check!(node.get(p(2)).is_none());
        for o in 3..168 {
            check_eq!(node.get(p(o)).map(|k| val(&k)), Some(o));
        }
        check_eq!(node.check(), Ok(()));
        ok!(node.compact());
        check!(!has_deleted(&node, 2));
        check_eq!(node.used_bytes(), node.live_bytes());
        check_eq!(node.check(), Ok(()));
    }

    fn deleted_keys_of_unwritten_bsets_stay_dead_until_the_merge() {
        let mut node = ok!(Node::new(leaf(32768)));
        ok!(fill(&mut node, 0, 2));
        ok!(node.insert(&tkey(1, 1)));
        check_eq!(node.nsets(), 2);
        // Unwritten, the sealed key is marked dead where it is.
        ok!(node.delete(p(10)));
        check!(node.get(p(10)).is_none());
        check!(has_deleted(&node, 10));
        check!(node.bset_keys(0).any(|k| k.pos() == p(10) && k.is_dead()));
        // So is a key of the open bset.
        ok!(node.delete(p(1)));
        check!(node.bset_keys(1).all(|k| k.pos() != p(1) || k.is_dead()));
        // Nothing is written: the merge drops the deleted key and the key
        // it hid.
        ok!(node.compact());
        check_eq!(node.nsets(), 1);
        check!(!has_deleted(&node, 10));
        check_eq!(node.used_bytes(), node.live_bytes());
        check_eq!(node.check(), Ok(()));
    }

    fn whiteouts_for_written_keys_survive_merges() {
        let mut node = ok!(Node::new(leaf(65536)));
        ok!(node.insert(&tkey(5, 1)));
        ok!(node.insert(&tkey(6, 1)));
        node.mark_written();
        // 5 is overwritten in a bset that gets sealed...
        ok!(node.insert(&tkey(5, 2)));
        ok!(fill(&mut node, 100, 1));
        ok!(node.insert(&tkey(1, 1)));
        check_eq!(node.nsets(), 3);
        check_eq!(node.written_sets(), 1);
        // ...the open bset fills, and the two unwritten bsets merge, in
        // place: the written one stays as it is.
        ok!(fill(&mut node, 1000, 1));
        ok!(node.insert(&tkey(2, 2)));
        check_eq!(node.nsets(), 3);
        check_eq!(node.written_sets(), 1);
        check!(node.bset_keys(0).map(|k| val(&k)).eq([1, 1]));
        // The merged 5 still knows of the written copy.
        check!(node.bset_keys(1).any(|k| k.pos() == p(5) && k.needs_whiteout()));
        ok!(node.delete(p(5)));
        check!(has_deleted(&node, 5));
        ok!(fill(&mut node, 2000, 1));
        ok!(node.insert(&tkey(3, 3)));
        check!(has_deleted(&node, 5));
        // Compaction drops the written 5 but keeps the deleted key, which
        // hides it on disk.
        ok!(node.compact());
        check_eq!(node.nsets(), 2);
        check!(node.bset_keys(0).map(|k| val(&k)).eq([1]));
        check!(has_deleted(&node, 5));
        check!(node.get(p(5)).is_none());
        check_eq!(node.used_bytes(), node.live_bytes() + 40);
        check_eq!(node.check(), Ok(()));
        // Written again, compacted again: now the deleted key goes.
        node.mark_written();
        ok!(node.compact());
        check!(!has_deleted(&node, 5));
        check_eq!(node.used_bytes(), node.live_bytes());
        check_eq!(node.check(), Ok(()));
    }

    fn all_written_bsets_compact_before_a_new_one() {
        let mut node = ok!(Node::new(leaf(65536)));
        for set in 0..MAX_BSETS as u64 {
            ok!(fill(&mut node, set * 1000, 1));
            node.mark_written();
        }
        check_eq!(node.written_sets(), MAX_BSETS);
        ok!(node.insert(&tkey(1, 1)));
        check_eq!(node.nsets(), 2);
        check_eq!(node.written_sets(), 1);
        check_eq!(node.check(), Ok(()));
    }

    fn live_bytes_stay_exact() {
        let mut node = ok!(Node::new(leaf(65536)));
        let mut want = [0u64; 400];
        // Overwrites, deletes and re-inserts over many seals and merges.
        for round in 1..=6u64 {
            for i in 0..400u64 {
                let o = (i * 7 + round * 13) % 400;
                if (i + round) % 5 == 0 {
                    ok!(node.delete(p(o)));
                    want[o as usize] = 0;
                } else {
                    ok!(node.insert(&tkey(o, round)));
                    want[o as usize] = round;
                }
            }
            let live = want.iter().filter(|&&v| v != 0).count() * 48;
            check_eq!(node.live_bytes(), live);
            check_eq!(node.check(), Ok(()));
        }
        for (o, &v) in want.iter().enumerate() {
            check_eq!(node.get(p(o as u64)).map(|k| val(&k)).unwrap_or(0), v);
        }
        let fresh = ok!(node.rewrite());
        check_eq!(fresh.used_bytes(), node.live_bytes());
        check_eq!(fresh.keys(Filter::Live).count(), want.iter().filter(|&&v| v != 0).count());
    }

    fn samples_carried_through_merges_stay_dense() {
        // Random inserts and deletes into a big node: many merges, each
        // carrying the sealed bset's samples along with its keys. They must
        // keep pointing at their keys (`check`), and the gaps the copies
        // widen must be sampled again (without that, gaps grow with every
        // merge).
        const KEYS: u64 = 4000;
        let mut node = ok!(Node::new(leaf(256 << 10)));
        let mut live = [0u64; (KEYS as usize).div_ceil(64)];
        let mut rng = Rng::new(7);
        for i in 0..12_000u64 {
            let o = rng.below(KEYS);
            let (word, bit) = ((o / 64) as usize, 1u64 << (o % 64));
            if rng.below(8) == 0 {
                ok!(node.delete(p(o)));
                live[word] &= !bit;
            } else {
                ok!(node.insert(&tkey(o, o + 1)));
                live[word] |= bit;
            }
            if i % 1000 == 0 {
                check_eq!(node.check(), Ok(()));
            }
        }
        check_eq!(node.check(), Ok(()));
        for o in 0..KEYS {
            let want = ((live[(o / 64) as usize] >> (o % 64)) & 1 == 1).then_some(o + 1);
            check_eq!(node.get(p(o)).map(|k| val(&k)), want);
        }
        let sealed = ok!(node.bset(0).ok_or(NodeError::Full));
        check!(node.nsets() >= 2 && sealed.end - sealed.start > 64 << 10);
        let mut lo = sealed.start;
        for s in node.samples_of(sealed) {
            check!(s.at as usize - lo <= 2 * SPACING + 48);
            lo = s.at as usize;
        }
        check!(sealed.end - lo <= 2 * SPACING + 48);
    }

    fn same_size_overwrites_of_sealed_keys_stay_in_place() {
        let mut node = ok!(Node::new(leaf(65536)));
        ok!(fill(&mut node, 0, 1));
        ok!(node.insert(&tkey(1000, 1000)));
        check_eq!(node.nsets(), 2);
        let used = node.used_bytes();
        // Same size: the sealed key's bytes change where they are.
        ok!(node.insert(&tkey(3, 33)));
        check_eq!(node.used_bytes(), used);
        check_eq!(node.bset_keys(1).count(), 1);
        check_eq!(node.get(p(3)).map(|k| val(&k)), Some(33));
        // A dead sealed key comes back the same way.
        ok!(node.delete(p(4)));
        check!(node.get(p(4)).is_none());
        ok!(node.insert(&tkey(4, 44)));
        check_eq!(node.used_bytes(), used);
        check_eq!(node.get(p(4)).map(|k| val(&k)), Some(44));
        check_eq!(node.check(), Ok(()));
        // Another size shadows it from the open bset.
        ok!(node.insert(&long_tkey(5, 55)));
        check_eq!(node.bset_keys(1).count(), 2);
        check!(node.bset_keys(1).any(|k| k.pos() == p(5) && k.needs_whiteout()));
        check_eq!(node.check(), Ok(()));
        for o in 6..KEYS_TO_SEAL {
            check_eq!(node.get(p(o)).map(|k| val(&k)), Some(o));
        }
    }

    fn deletions_of_unwritten_keys_need_no_room() {
        // A node of one open bset past the seal threshold with almost no
        // free room (a leaf a split or a rewrite made): deletions mark its
        // keys dead where they are, with no whiteout's room and no byte
        // moved, and nothing is sealed.
        let mut node = ok!(Node::new(leaf(8192)));
        for i in 0..150 {
            ok!(node.insert(&tkey(i, i)));
        }
        let mut node = ok!(node.rewrite());
        check!(!node.deletions_need_room());
        let whiteouts = 64 * Key::deleted(p(0)).encoded_len();
        check!(node.free_bytes() < whiteouts);
        let (used, live) = (node.used_bytes(), node.live_bytes());
        for i in 0..64 {
            ok!(node.delete(p(i * 2)));
        }
        check_eq!(node.nsets(), 1);
        check_eq!(node.used_bytes(), used);
        check_eq!(node.live_bytes(), live - 64 * 48);
        for i in 0..150 {
            check_eq!(node.get(p(i)).map(|k| val(&k)), (i >= 128 || i % 2 == 1).then_some(i));
        }
        check_eq!(node.check(), Ok(()));
        // An overwrite of a dead key takes its place; compaction drops
        // the others (nothing lies under them).
        ok!(node.insert(&tkey(0, 7)));
        check_eq!(node.get(p(0)).map(|k| val(&k)), Some(7));
        ok!(node.compact());
        check_eq!(node.used_bytes(), node.live_bytes());
        check!(!has_deleted(&node, 2));
        check_eq!(node.check(), Ok(()));
        // Written, a key's deletion needs a whiteout's room again.
        node.mark_written();
        check!(node.deletions_need_room());
        ok!(node.delete(p(149)));
        check!(node.get(p(149)).is_none());
        check!(has_deleted(&node, 149));
        check_eq!(node.check(), Ok(()));
    }
}
