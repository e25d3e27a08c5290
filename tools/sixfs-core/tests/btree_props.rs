// SPDX-License-Identifier: GPL-2.0

//! Property test of the btree against a `BTreeMap` model: random inserts,
//! overwrites, deletes, batches, extent inserts and iteration, with an
//! iterator held across the updates, on tiny nodes so that splits, merges
//! and new roots happen all the time. After every step the whole tree is
//! checked (order, node ranges tiling their parents', no key lost).

// The btree is not built under loom (see src/lib.rs).
#![cfg(not(loom))]

use proptest::prelude::*;
use sixfs_core::bkey::{Key, Pos, TestVal, Value};
use sixfs_core::btree::{Btree, BtreeId, BtreeParams, Iter, IterFlags, Trans};
use std::collections::BTreeMap;

const KEYS: BtreeId = BtreeId(0);
const EXTENTS: BtreeId = BtreeId(1);

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, u64),
    Delete(u64),
    Batch(Vec<(u64, Option<u64>)>),
    Extent(u64, u64, u64),
    Scan(u64, usize),
    ScanBack(u64, usize),
    HeldNext,
    HeldSeek(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..300u64, 1..1000u64).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0..300u64).prop_map(Op::Delete),
        1 => prop::collection::vec((0..300u64, prop::option::of(1..1000u64)), 1..12).prop_map(Op::Batch),
        3 => (0..400u64, 1..40u64, 1..1000u64).prop_map(|(s, l, v)| Op::Extent(s, l, v)),
        1 => (0..300u64, 1..40usize).prop_map(|(k, n)| Op::Scan(k, n)),
        1 => (0..300u64, 1..40usize).prop_map(|(k, n)| Op::ScanBack(k, n)),
        2 => Just(Op::HeldNext),
        1 => (0..300u64).prop_map(Op::HeldSeek),
    ]
}

fn p(k: u64) -> Pos {
    Pos::new(1, k, 0)
}

fn val(v: u64) -> Value {
    Value::Test(TestVal::from_u64(v))
}

fn val_of(k: &Key) -> u64 {
    match k.value {
        Value::Test(v) => v.as_u64().unwrap_or(u64::MAX),
        _ => u64::MAX,
    }
}

/// The extents of the tree, expanded to one value per sector.
fn sectors(b: &Btree) -> BTreeMap<u64, u64> {
    let mut out = BTreeMap::new();
    let mut last_end = 0;
    Trans::new(b)
        .run(|t| {
            out.clear();
            last_end = 0;
            let mut it = Iter::new(t, EXTENTS, Pos::MIN, IterFlags::EXTENTS)?;
            while let Some(k) = it.next(t)? {
                assert!(k.start() >= last_end, "extents overlap: {k:?}");
                last_end = k.pos.offset;
                for s in k.start()..k.pos.offset {
                    out.insert(s, val_of(k));
                }
            }
            Ok(())
        })
        .expect("extent scan");
    out
}

fn keys(b: &Btree) -> BTreeMap<u64, u64> {
    Trans::new(b)
        .run(|t| {
            let mut out = BTreeMap::new();
            let mut it = Iter::new(t, KEYS, Pos::MIN, IterFlags::NONE)?;
            while let Some(k) = it.next(t)? {
                out.insert(k.pos.offset, val_of(k));
            }
            Ok(out)
        })
        .expect("key scan")
}

fn check(b: &Btree, model: &BTreeMap<u64, u64>, ext_model: &BTreeMap<u64, u64>) {
    let stats = b.check(KEYS).expect("key tree structure");
    assert_eq!(stats.keys, model.len());
    b.check(EXTENTS).expect("extent tree structure");
    assert_eq!(&keys(b), model);
    assert_eq!(&sectors(b), ext_model);
}

fn run(ops: Vec<Op>, node_size: usize) {
    let b = Btree::new(BtreeParams { node_size }).expect("btree");
    let mut model = BTreeMap::new();
    let mut ext_model = BTreeMap::new();
    // An iterator held across everything, in a transaction of its own that
    // drops its locks between steps (it re-traverses or relocks).
    let mut held_trans = Trans::new(&b);
    let mut held = Iter::new(&mut held_trans, KEYS, Pos::MIN, IterFlags::NONE).expect("iter");
    for op in ops {
        match op {
            Op::Insert(k, v) => {
                Trans::new(&b)
                    .run(|t| {
                        t.update(KEYS, Key::new(p(k), val(v)))?;
                        t.commit()
                    })
                    .expect("insert");
                model.insert(k, v);
            }
            Op::Delete(k) => {
                Trans::new(&b)
                    .run(|t| {
                        t.delete(KEYS, p(k))?;
                        t.commit()
                    })
                    .expect("delete");
                model.remove(&k);
            }
            Op::Batch(ups) => {
                Trans::new(&b)
                    .run(|t| {
                        for &(k, v) in ups.iter() {
                            match v {
                                Some(v) => t.update(KEYS, Key::new(p(k), val(v)))?,
                                None => t.delete(KEYS, p(k))?,
                            }
                        }
                        t.commit()
                    })
                    .expect("batch");
                for &(k, v) in ups.iter() {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            Op::Extent(s, l, v) => {
                let key = Key::extent(1, s, s + l, 0, val(v)).expect("extent");
                Trans::new(&b)
                    .run(|t| {
                        t.insert_extent(EXTENTS, key)?;
                        t.commit()
                    })
                    .expect("extent insert");
                for x in s..s + l {
                    ext_model.insert(x, v);
                }
            }
            Op::Scan(k, n) => {
                let got: Vec<(u64, u64)> = Trans::new(&b)
                    .run(|t| {
                        let mut out = Vec::new();
                        let mut it = Iter::new(t, KEYS, p(k), IterFlags::NONE)?;
                        while out.len() < n {
                            match it.next(t)? {
                                Some(k) => out.push((k.pos.offset, val_of(k))),
                                None => break,
                            }
                        }
                        Ok(out)
                    })
                    .expect("scan");
                let want: Vec<(u64, u64)> =
                    model.range(k..).take(n).map(|(&a, &b)| (a, b)).collect();
                assert_eq!(got, want);
            }
            Op::ScanBack(k, n) => {
                let got: Vec<(u64, u64)> = Trans::new(&b)
                    .run(|t| {
                        let mut out = Vec::new();
                        let mut it = Iter::new(t, KEYS, p(k), IterFlags::NONE)?;
                        while out.len() < n {
                            match it.prev(t)? {
                                Some(k) => out.push((k.pos.offset, val_of(k))),
                                None => break,
                            }
                        }
                        Ok(out)
                    })
                    .expect("scan back");
                let want: Vec<(u64, u64)> = model
                    .range(..k)
                    .rev()
                    .take(n)
                    .map(|(&a, &b)| (a, b))
                    .collect();
                assert_eq!(got, want);
            }
            Op::HeldNext => {
                let from = held.pos;
                let got = held.next(&mut held_trans).expect("held next").copied();
                held_trans.unlock();
                // A held iterator sees the tree as it is now.
                let want = model
                    .range(from.offset..)
                    .map(|(&a, &b)| (a, b))
                    .find(|&(a, _)| p(a) >= from);
                assert_eq!(got.map(|k| (k.pos.offset, val_of(&k))), want);
            }
            Op::HeldSeek(k) => {
                held.set_pos(&mut held_trans, p(k)).expect("seek");
            }
        }
        check(&b, &model, &ext_model);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn btree_matches_model_tiny_nodes(ops in prop::collection::vec(op(), 1..200)) {
        run(ops, 512);
    }

    #[test]
    fn btree_matches_model_small_nodes(ops in prop::collection::vec(op(), 1..200)) {
        run(ops, 1024);
    }
}
