// SPDX-License-Identifier: GPL-2.0

//! The node cache: nodes are found by id whatever order they arrive in.

use super::test_util::{tree, T};
use crate::platform::ok;
use crate::platform::{check, check_eq, test_suite};

test_suite! { sixfs_btree_cache;

// Threads take ids in order but add their nodes in any order; a table
// that assumed otherwise lost nodes (a parent then pointed to "no node").
fn test_find_after_out_of_order_adds() {
    let b = ok!(tree(1024));
    let root = ok!(b.root(T));
    let before = b.nr_nodes();
    // A permutation of 1000..1097 (97 is prime), crossing several growths
    // of the table.
    for i in 0..97u64 {
        ok!(b.insert_entry(1000 + (i * 37) % 97, root.clone()));
    }
    check_eq!(b.nr_nodes(), before + 97);
    for id in 1000..1097u64 {
        check!(b.find(id).is_some());
    }
    check!(b.find(1097).is_none());
    // Removal keeps the rest findable.
    for id in (1000..1097u64).step_by(2) {
        b.remove(id);
    }
    for id in 1000..1097u64 {
        check_eq!(b.find(id).is_some(), id % 2 == 1);
    }
}

}
