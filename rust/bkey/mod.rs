// SPDX-License-Identifier: GPL-2.0

//! Keys: positions in a btree, key headers and typed values.

mod pos;

pub use pos::Pos;

#[cfg(any(test, CONFIG_KUNIT))]
mod pos_tests;
