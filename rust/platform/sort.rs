// SPDX-License-Identifier: GPL-2.0

//! Sorting small slices without `core`'s sort, whose panicking paths the
//! kernel's objtool refuses in a module.

/// Sorts `v` by `key`, stably, in place: an insertion sort, for the few
/// entries (a transaction's updates, its remembered paths) it is used on.
pub fn insertion_sort_by_key<T, K: PartialOrd>(v: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 {
            let (Some(a), Some(b)) = (v.get(j - 1), v.get(j)) else {
                break;
            };
            if key(a) <= key(b) {
                break;
            }
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Sorts `v` by `key`, not stably, in place: a heapsort, for the large
/// slices (every node slot of a filesystem) an insertion sort is too slow
/// for. No recursion, no allocation.
pub fn heap_sort_by_key<T, K: PartialOrd>(v: &mut [T], key: impl Fn(&T) -> K) {
    let n = v.len();
    // Sifts the entry at `root` down the heap of the first `end` entries.
    let sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && v.get(child + 1).map(&key) > v.get(child).map(&key) {
            child += 1;
        }
        if v.get(root).map(&key) >= v.get(child).map(&key) {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    for start in (0..n / 2).rev() {
        sift(v, start, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}
