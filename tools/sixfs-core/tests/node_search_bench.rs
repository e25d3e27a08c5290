// SPDX-License-Identifier: GPL-2.0

//! Micro-benchmark of search within one bset: a linear scan, the lookup
//! table at several spacings (spacing 1 samples every key: a plain binary
//! search), the same samples in Eytzinger order (bcachefs's auxiliary
//! search tree layout) and in sixfs's search tree (an implicit B-tree of
//! 8-position blocks); first with the bset in cache, then over many bsets,
//! so that every search misses. Run with
//!
//!     cargo test --release -p sixfs-core --test node_search_bench -- --ignored --nocapture
//!
//! and copy the table into Documentation/btree-node.rst.

use sixfs_core::bkey::{Key, Pos, TestVal, Value};
use sixfs_core::node::lookup::{build, scan, search, Sample};
use sixfs_core::node::search_tree::{self, Block};
use sixfs_core::node::{Filter, Node, NodeParams};
use sixfs_core::platform::vec::Vec as PVec;
use std::hint::black_box;
use std::time::Instant;

/// One bset of `size` bytes of 48-byte keys at even offsets of inode 1.
fn bset(size: usize) -> (Vec<u8>, u64) {
    let mut data = vec![0u8; size];
    let mut at = 0;
    let mut n = 0;
    while at + 48 <= size {
        let key = Key::new(Pos::new(1, n * 2, 0), Value::Test(TestVal::from_u64(n)));
        at += key.encode(&mut data[at..]).unwrap();
        n += 1;
    }
    data.truncate(at);
    (data, n)
}

/// Query positions: random offsets over the key range, hits and misses.
fn queries(keys: u64, count: usize) -> Vec<Pos> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Pos::new(1, x % (keys * 2), 0)
        })
        .collect()
}

/// Samples in Eytzinger (BFS) order, each with the offset of the sample
/// before it, so a lower-bound descent also yields where to scan from.
struct Eytzinger {
    nodes: Vec<(u64, u64, u32, u32, u32)>,
}

impl Eytzinger {
    fn new(sorted: &[Sample]) -> Eytzinger {
        let mut nodes = vec![(0, 0, 0, 0, 0); sorted.len() + 1];
        fn fill(
            sorted: &[Sample],
            nodes: &mut [(u64, u64, u32, u32, u32)],
            next: &mut usize,
            k: usize,
        ) {
            if k < nodes.len() {
                fill(sorted, nodes, next, 2 * k);
                let s = sorted[*next];
                let prev = if *next == 0 { 0 } else { sorted[*next - 1].at };
                nodes[k] = (s.inode, s.offset, s.snapshot, s.at, prev);
                *next += 1;
                fill(sorted, nodes, next, 2 * k + 1);
            }
        }
        fill(sorted, &mut nodes, &mut 0, 1);
        Eytzinger { nodes }
    }

    fn search(&self, data: &[u8], end: usize, t: Pos) -> usize {
        let t = (t.inode, t.offset, t.snapshot);
        let n = self.nodes.len();
        let mut k = 1;
        while k < n {
            let e = &self.nodes[k];
            k = 2 * k + usize::from((e.0, e.1, e.2) < t);
        }
        // Drop the trailing right turns and the last left turn: k is then
        // the first sample >= t, or 0 if there is none.
        k >>= k.trailing_ones() + 1;
        if k == 0 {
            let last_at = self.last_at();
            return scan(data, last_at, end, Pos::new(t.0, t.1, t.2));
        }
        let e = &self.nodes[k];
        scan(data, e.4 as usize, e.3 as usize, Pos::new(t.0, t.1, t.2))
    }

    fn last_at(&self) -> usize {
        // The rightmost node in BFS order is the largest sample.
        let mut k = 1;
        let mut last = 0;
        while k < self.nodes.len() {
            last = self.nodes[k].3 as usize;
            k = 2 * k + 1;
        }
        last
    }
}

fn tree_of(samples: &[Sample]) -> PVec<Block> {
    let mut tree = PVec::try_with_capacity(search_tree::blocks_for(samples.len())).unwrap();
    assert!(search_tree::build(&mut tree, samples));
    tree
}

/// How `Node::search_bset` searches a bset with a tree.
fn tree_search(tree: &[Block], data: &[u8], end: usize, t: Pos) -> usize {
    scan(data, search_tree::search(tree, t).unwrap_or(0), end, t)
}

fn time(label: &str, queries: &[Pos], mut f: impl FnMut(Pos) -> usize) -> f64 {
    let mut sum = 0usize;
    // Warm up, then take the best of five rounds: the machine is shared.
    for &q in queries.iter().take(10_000) {
        sum = sum.wrapping_add(f(q));
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for &q in queries {
            sum = sum.wrapping_add(f(black_box(q)));
        }
        best = best.min(start.elapsed().as_nanos() as f64 / queries.len() as f64);
    }
    black_box(sum);
    println!("  {label:<34} {best:8.1} ns");
    best
}

#[test]
#[ignore]
fn bench_bset_search() {
    for size in [4096usize, 65536, 262144] {
        let (data, keys) = bset(size);
        let end = data.len();
        let qs = queries(keys, 200_000);
        println!("bset of {size} bytes, {keys} keys of 48 bytes:");
        if size <= 65536 {
            time("linear scan", &qs, |t| scan(&data, 0, end, t));
        }
        for spacing in [1usize, 64, 128, 256, 512] {
            let mut table = PVec::try_with_capacity(end / spacing.max(48) + 1).unwrap();
            build(&mut table, usize::MAX, &data, 0, end, spacing);
            let label = format!("table, spacing {spacing} ({} samples)", table.len());
            time(&label, &qs, |t| search(&table, &data, 0, end, t));
            let ey = Eytzinger::new(&table);
            let label = format!("eytzinger, spacing {spacing}");
            time(&label, &qs, |t| ey.search(&data, end, t));
            let tree = tree_of(&table);
            let label = format!("search tree, spacing {spacing}");
            time(&label, &qs, |t| tree_search(&tree, &data, end, t));
            // Every layout must agree with the scan.
            for &q in qs.iter().take(2000) {
                let want = scan(&data, 0, end, q);
                assert_eq!(search(&table, &data, 0, end, q), want);
                assert_eq!(ey.search(&data, end, q), want);
                assert_eq!(tree_search(&tree, &data, end, q), want);
            }
        }
    }
}

#[test]
#[ignore]
fn bench_node_insert_and_lookup() {
    for size in [4096usize, 65536, 262144] {
        let params = NodeParams {
            size,
            level: 0,
            min: Pos::MIN,
            max: Pos::MAX,
        };
        let mut node = Node::new(params).unwrap();
        let n = (size / 48 * 9 / 10) as u64;
        let mut x = 12345u64;
        let order: Vec<u64> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % (n * 4)
            })
            .collect();
        let start = Instant::now();
        for &o in &order {
            let key = Key::new(Pos::new(1, o, 0), Value::Test(TestVal::from_u64(o)));
            node.insert(&key).unwrap();
        }
        let ins = start.elapsed().as_nanos() as f64 / n as f64;
        let start = Instant::now();
        let mut hits = 0;
        for &o in order.iter().cycle().take(200_000) {
            hits += usize::from(node.get(Pos::new(1, black_box(o), 0)).is_some());
        }
        let get = start.elapsed().as_nanos() as f64 / 200_000.0;
        assert_eq!(hits, 200_000);
        let keys = node.keys(Filter::Live).count();
        println!("node {size} B: {keys} keys, random insert {ins:.0} ns, get {get:.0} ns");
    }
}

/// One 256 KiB bset's keys and search structures, copied `copies` times.
struct ColdBsets {
    data: Vec<Vec<u8>>,
    tables: Vec<PVec<Sample>>,
    trees: Vec<PVec<Block>>,
    eytzinger: Vec<Eytzinger>,
}

#[test]
#[ignore]
fn bench_cold_bset_search() {
    // 512 bsets of 256 KiB (128 MiB of keys, 12 MiB of tables): far more
    // than the caches, as the leaves of a btree of 10^7 keys are.
    let copies = 512;
    let (data, keys) = bset(256 << 10);
    let end = data.len();
    let mut table = PVec::try_with_capacity(end / 256 + 1).unwrap();
    build(&mut table, usize::MAX, &data, 0, end, 256);
    let mut cold = ColdBsets {
        data: Vec::new(),
        tables: Vec::new(),
        trees: Vec::new(),
        eytzinger: Vec::new(),
    };
    for _ in 0..copies {
        cold.data.push(data.clone());
        let mut t = PVec::try_with_capacity(table.len()).unwrap();
        t.try_extend_from_slice(&table).unwrap();
        cold.tables.push(t);
        cold.trees.push(tree_of(&table));
        cold.eytzinger.push(Eytzinger::new(&table));
    }
    // A random bset and position per query.
    let qs = queries(keys, 400_000);
    let which: Vec<usize> = queries(copies as u64, qs.len())
        .iter()
        .map(|p| (p.offset / 2) as usize % copies)
        .collect();
    println!(
        "{copies} bsets of 256 KiB, {keys} keys and {} samples each, random bset per lookup:",
        table.len()
    );
    let mut n = 0usize;
    let mut next = || {
        n = (n + 1) % which.len();
        which[n]
    };
    time("table, spacing 256", &qs, |t| {
        let i = next();
        search(&cold.tables[i], &cold.data[i], 0, end, t)
    });
    time("eytzinger, spacing 256", &qs, |t| {
        let i = next();
        cold.eytzinger[i].search(&cold.data[i], end, t)
    });
    time("search tree, spacing 256", &qs, |t| {
        let i = next();
        tree_search(&cold.trees[i], &cold.data[i], end, t)
    });
}
