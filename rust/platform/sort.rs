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
