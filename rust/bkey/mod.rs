// SPDX-License-Identifier: GPL-2.0

//! Keys: positions in a btree, key headers and typed values.

pub mod encoding;
pub mod extent;
mod key;
mod key_type;
mod pos;
mod value;

pub use encoding::{KeyError, HEADER_BYTES, MAX_KEY_BYTES, MAX_VAL_BYTES};
pub use key::{Key, KeyHeader, KeyRef};
pub use key_type::KeyType;
pub use pos::Pos;
pub use value::{BtreePtr, TestVal, Value, BTREE_PTR_BYTES, TEST_VAL_MAX};

#[cfg(any(test, CONFIG_KUNIT))]
mod extent_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod key_tests;
#[cfg(any(test, CONFIG_KUNIT))]
mod pos_tests;
