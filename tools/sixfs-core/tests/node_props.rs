// SPDX-License-Identifier: GPL-2.0

//! Property tests of btree nodes against a model (a `BTreeMap`): random
//! inserts, overwrites, deletes, whiteouts, writes, compactions, rewrites,
//! splits and merges over a row of tiny sibling nodes, and random extent
//! inserts; every invariant is checked after every step.

use proptest::prelude::*;
use sixfs_core::bkey::{Key, KeyType, Pos, TestVal, Value};
use sixfs_core::node::{merge, should_merge, Filter, Node, NodeError, NodeIter, NodeParams};
use std::collections::BTreeMap;

/// What the model holds at a position.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Val {
    Bytes(Vec<u8>),
    Whiteout,
}

#[derive(Clone, Debug)]
enum Op {
    Insert { key: u64, bytes: Vec<u8> },
    Delete { key: u64 },
    Whiteout { key: u64 },
    MarkWritten { node: usize },
    Compact { node: usize },
    Rewrite { node: usize },
    Split { node: usize },
    Merge { node: usize },
}

const KEYS: u64 = 96;
/// Positions for big nodes: enough live keys to fill bsets past
/// `SEAL_BYTES` and to split.
const BIG_KEYS: u64 = 1536;

fn pos(key: u64) -> Pos {
    // Spread over inodes and snapshots so every field of Pos matters.
    Pos::new(key / 32, key % 32 / 2, (key % 2) as u32)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..KEYS, proptest::collection::vec(any::<u8>(), 0..=24))
            .prop_map(|(key, bytes)| Op::Insert { key, bytes }),
        4 => (0..KEYS).prop_map(|key| Op::Delete { key }),
        1 => (0..KEYS).prop_map(|key| Op::Whiteout { key }),
        2 => (0..8usize).prop_map(|node| Op::MarkWritten { node }),
        1 => (0..8usize).prop_map(|node| Op::Compact { node }),
        1 => (0..8usize).prop_map(|node| Op::Rewrite { node }),
        1 => (0..8usize).prop_map(|node| Op::Split { node }),
        2 => (0..8usize).prop_map(|node| Op::Merge { node }),
    ]
}

/// Mostly inserts and deletes, for big nodes: open bsets fill past the
/// threshold and are sealed and merged, with writes now and then.
fn big_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        120 => (0..BIG_KEYS, proptest::collection::vec(any::<u8>(), 0..=24))
            .prop_map(|(key, bytes)| Op::Insert { key, bytes }),
        50 => (0..BIG_KEYS).prop_map(|key| Op::Delete { key }),
        4 => (0..BIG_KEYS).prop_map(|key| Op::Whiteout { key }),
        2 => (0..8usize).prop_map(|node| Op::MarkWritten { node }),
        1 => (0..8usize).prop_map(|node| Op::Compact { node }),
        1 => (0..8usize).prop_map(|node| Op::Rewrite { node }),
        1 => (0..8usize).prop_map(|node| Op::Split { node }),
        2 => (0..8usize).prop_map(|node| Op::Merge { node }),
    ]
}

/// A row of sibling leaves covering all positions, like the leaves of a
/// btree, kept next to the model.
struct Row {
    nodes: Vec<Node>,
    model: BTreeMap<Pos, Val>,
    /// Positions `pos(0..keys)` are in use.
    keys: u64,
}

impl Row {
    fn new(size: usize, keys: u64) -> Row {
        let params = NodeParams {
            size,
            level: 0,
            min: Pos::MIN,
            max: Pos::MAX,
        };
        Row {
            nodes: vec![Node::new(params).unwrap()],
            model: BTreeMap::new(),
            keys,
        }
    }

    fn owner(&self, p: Pos) -> usize {
        self.nodes.iter().position(|n| n.max() >= p).unwrap()
    }

    /// Inserts like the tree layer will: on a full node, rewrite it if it
    /// is mostly dead keys, split it otherwise, and retry.
    fn insert(&mut self, key: &Key) {
        for _ in 0..4 {
            let i = self.owner(key.pos);
            match self.nodes[i].insert(key) {
                Ok(()) => return,
                Err(NodeError::Full) => {
                    if self.nodes[i].needs_split() {
                        let (l, r) = self.nodes[i].split().unwrap();
                        self.nodes.splice(i..=i, [l, r]);
                    } else {
                        self.nodes[i] = self.nodes[i].rewrite().unwrap();
                    }
                }
                Err(e) => panic!("insert {key:?}: {e:?}"),
            }
        }
        panic!("no room for {key:?} after splitting");
    }

    fn apply(&mut self, op: &Op) {
        let n = self.nodes.len();
        match op {
            Op::Insert { key, bytes } => {
                let v = Value::Test(TestVal::new(bytes).unwrap());
                self.insert(&Key::new(pos(*key), v));
                self.model.insert(pos(*key), Val::Bytes(bytes.clone()));
            }
            Op::Delete { key } => {
                self.insert(&Key::deleted(pos(*key)));
                self.model.remove(&pos(*key));
            }
            Op::Whiteout { key } => {
                self.insert(&Key::new(pos(*key), Value::Whiteout));
                self.model.insert(pos(*key), Val::Whiteout);
            }
            Op::MarkWritten { node } => self.nodes[node % n].mark_written(),
            Op::Compact { node } => self.nodes[node % n].compact().unwrap(),
            Op::Rewrite { node } => self.nodes[node % n] = self.nodes[node % n].rewrite().unwrap(),
            Op::Split { node } => {
                let i = node % n;
                match self.nodes[i].split() {
                    Ok((l, r)) => {
                        self.nodes.splice(i..=i, [l, r]);
                    }
                    Err(NodeError::TooFewKeys) => {}
                    Err(e) => panic!("split: {e:?}"),
                }
            }
            Op::Merge { node } => {
                let i = node % n;
                if i + 1 < n && should_merge(&self.nodes[i], &self.nodes[i + 1]) {
                    let m = merge(&self.nodes[i], &self.nodes[i + 1]).unwrap();
                    self.nodes.splice(i..=i + 1, [m]);
                }
            }
        }
    }

    fn check(&self) {
        assert_eq!(self.nodes.first().unwrap().min(), Pos::MIN);
        assert_eq!(self.nodes.last().unwrap().max(), Pos::MAX);
        for pair in self.nodes.windows(2) {
            assert_eq!(
                pair[0].max().successor(),
                Some(pair[1].min()),
                "siblings not continuous"
            );
        }
        let mut seen = Vec::new();
        for node in &self.nodes {
            node.check().unwrap();
            assert!(node.nsets() <= 3);
            assert!(node.used_bytes() <= node.size());
            for k in node.keys(Filter::NoDeleted) {
                assert!(k.pos() >= node.min() && k.pos() <= node.max());
                let v = match k.kind() {
                    KeyType::Whiteout => Val::Whiteout,
                    KeyType::Test => Val::Bytes(k.val_bytes().to_vec()),
                    other => panic!("unexpected key type {other:?}"),
                };
                seen.push((k.pos(), v));
            }
            // Backwards gives the same keys reversed.
            let fwd: Vec<Pos> = node.keys(Filter::All).map(|k| k.pos()).collect();
            let mut it = NodeIter::new(node, Pos::MAX, Filter::All);
            let mut back = Vec::new();
            while let Some(k) = it.prev(node) {
                back.push(k.pos());
            }
            back.reverse();
            assert_eq!(fwd, back, "backwards iteration differs");
        }
        let want: Vec<(Pos, Val)> = self.model.iter().map(|(p, v)| (*p, v.clone())).collect();
        assert_eq!(seen, want, "contents differ from the model");
        // Point lookups, hits and misses.
        for key in 0..self.keys {
            let p = pos(key);
            let got = self.nodes[self.owner(p)].get(p).map(|k| k.kind());
            let want = self.model.get(&p).map(|v| match v {
                Val::Whiteout => KeyType::Whiteout,
                Val::Bytes(_) => KeyType::Test,
            });
            assert_eq!(got, want, "get {p}");
        }
    }
}

/// Extents of one inode in two snapshots, against a model of which
/// extent (by value) covers each offset.
const SPAN: u64 = 96;

#[derive(Clone, Debug)]
enum ExtOp {
    Insert { start: u64, len: u64, snapshot: u32 },
    Punch { start: u64, len: u64, snapshot: u32 },
    MarkWritten,
    Compact,
    Rewrite,
}

fn ext_op() -> impl Strategy<Value = ExtOp> {
    prop_oneof![
        8 => (0..SPAN, 1..32u64, 0..2u32)
            .prop_map(|(start, len, snapshot)| ExtOp::Insert { start, len, snapshot }),
        2 => (0..SPAN, 1..32u64, 0..2u32)
            .prop_map(|(start, len, snapshot)| ExtOp::Punch { start, len, snapshot }),
        2 => Just(ExtOp::MarkWritten),
        1 => Just(ExtOp::Compact),
        1 => Just(ExtOp::Rewrite),
    ]
}

fn check_extents(node: &Node, model: &[[u64; SPAN as usize + 32]; 2]) {
    node.check().unwrap();
    let mut got = [[0u64; SPAN as usize + 32]; 2];
    let mut last_end = [0u64; 2];
    for k in node.keys(Filter::Live) {
        let s = k.pos().snapshot as usize;
        assert!(k.start() >= last_end[s], "extents overlap or are unsorted");
        last_end[s] = k.pos().offset;
        let v = u64::from_le_bytes(k.val_bytes().try_into().unwrap());
        for o in k.start()..k.pos().offset {
            got[s][o as usize] = v;
        }
    }
    assert_eq!(&got, model, "extent coverage differs from the model");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn nodes_match_the_model(
        size in prop_oneof![Just(256usize), Just(512), Just(1024), Just(4096)],
        ops in proptest::collection::vec(op(), 1..160),
    ) {
        let mut row = Row::new(size, KEYS);
        for op in &ops {
            row.apply(op);
            row.check();
        }
    }

    #[test]
    fn extents_match_the_model(ops in proptest::collection::vec(ext_op(), 1..80)) {
        let params = NodeParams { size: 32768, level: 0, min: Pos::MIN, max: Pos::MAX };
        let mut node = Node::new(params).unwrap();
        let mut model = [[0u64; SPAN as usize + 32]; 2];
        for (n, op) in ops.iter().enumerate() {
            match *op {
                ExtOp::Insert { start, len, snapshot } | ExtOp::Punch { start, len, snapshot } => {
                    // A punch is a deleted extent: it only removes.
                    let (id, value) = match *op {
                        ExtOp::Insert { .. } => (n as u64 + 1, Value::Test(TestVal::from_u64(n as u64 + 1))),
                        _ => (0, Value::Deleted),
                    };
                    let key = Key::extent(7, start, start + len, snapshot, value).unwrap();
                    match node.insert_extent(&key) {
                        Ok(()) => {}
                        Err(NodeError::Full) => {
                            node = node.rewrite().unwrap();
                            node.insert_extent(&key).unwrap();
                        }
                        Err(e) => panic!("insert_extent: {e:?}"),
                    }
                    for o in start..start + len {
                        model[snapshot as usize][o as usize] = id;
                    }
                }
                ExtOp::MarkWritten => node.mark_written(),
                ExtOp::Compact => node.compact().unwrap(),
                ExtOp::Rewrite => node = node.rewrite().unwrap(),
            }
            check_extents(&node, &model);
        }
    }
}

proptest! {
    // Few cases: every step checks whole 64 KiB nodes. Whether a run seals
    // depends on how the operations spread over nodes; the node unit tests
    // (rust/node/node_tests.rs) seal and merge deterministically.
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn big_nodes_seal_and_merge(
        size in prop_oneof![Just(8192usize), Just(16384), Just(65536)],
        ops in proptest::collection::vec(big_op(), 1..1000),
    ) {
        let mut row = Row::new(size, BIG_KEYS);
        for op in &ops {
            row.apply(op);
            row.check();
        }
    }
}
