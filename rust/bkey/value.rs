// SPDX-License-Identifier: GPL-2.0

//! Typed values and their byte forms.

use super::encoding::{get_u64, put, put_bytes, KeyError};
use super::key_type::KeyType;

/// Largest [`TestVal`], in bytes.
pub const TEST_VAL_MAX: usize = 32;

/// A small opaque value for tests and benchmarks: up to
/// [`TEST_VAL_MAX`] bytes, or a `u64` in 8 little-endian bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct TestVal {
    len: u8,
    bytes: [u8; TEST_VAL_MAX],
}

impl TestVal {
    /// A value holding `bytes`, or `None` if they are too many.
    pub fn new(bytes: &[u8]) -> Option<TestVal> {
        let mut v = TestVal::default();
        v.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        v.len = u8::try_from(bytes.len()).ok()?;
        Some(v)
    }

    /// A value holding `n`.
    pub fn from_u64(n: u64) -> TestVal {
        let mut v = TestVal {
            len: 8,
            ..TestVal::default()
        };
        put(&mut v.bytes, 0, &n.to_le_bytes());
        v
    }

    /// The bytes held.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The `u64` held, if the value is 8 bytes long.
    pub fn as_u64(&self) -> Option<u64> {
        (self.len == 8).then(|| get_u64(&self.bytes, 0))
    }
}

/// A pointer from an interior node to a child node.
///
/// The child is named by an opaque `node` number (the node cache's key; a
/// disk address once nodes are persisted) and the sequence number of the
/// child it points to, so a stale pointer can be recognised.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct BtreePtr {
    /// Which node: the cache key, later its address on disk.
    pub node: u64,
    /// The child's sequence number when the pointer was made.
    pub seq: u64,
}

/// Bytes of an encoded [`BtreePtr`].
pub const BTREE_PTR_BYTES: usize = 16;

/// The value of a key, by type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Value {
    /// See [`KeyType::Deleted`]; no value bytes.
    Deleted,
    /// See [`KeyType::Whiteout`]; no value bytes.
    Whiteout,
    /// A child pointer.
    BtreePtr(BtreePtr),
    /// A test value.
    Test(TestVal),
}

impl Value {
    /// The key type that stores this value.
    pub const fn kind(&self) -> KeyType {
        match self {
            Value::Deleted => KeyType::Deleted,
            Value::Whiteout => KeyType::Whiteout,
            Value::BtreePtr(_) => KeyType::BtreePtr,
            Value::Test(_) => KeyType::Test,
        }
    }

    /// Length of the value's byte form, padding excluded.
    pub fn encoded_len(&self) -> usize {
        match self {
            Value::Deleted | Value::Whiteout => 0,
            Value::BtreePtr(_) => BTREE_PTR_BYTES,
            Value::Test(v) => v.as_bytes().len(),
        }
    }

    /// Writes the byte form into `out`, which has `encoded_len()` bytes.
    pub(crate) fn encode(&self, out: &mut [u8]) {
        match self {
            Value::Deleted | Value::Whiteout => {}
            Value::BtreePtr(p) => {
                put(out, 0, &p.node.to_le_bytes());
                put(out, 8, &p.seq.to_le_bytes());
            }
            Value::Test(v) => put_bytes(out, 0, v.as_bytes()),
        }
    }

    /// Decodes the value of a key of type `kind` from exactly `bytes`.
    pub fn decode(kind: KeyType, bytes: &[u8]) -> Result<Value, KeyError> {
        match kind {
            KeyType::Deleted | KeyType::Whiteout if !bytes.is_empty() => Err(KeyError::BadValue),
            KeyType::Deleted => Ok(Value::Deleted),
            KeyType::Whiteout => Ok(Value::Whiteout),
            KeyType::BtreePtr if bytes.len() != BTREE_PTR_BYTES => Err(KeyError::BadValue),
            KeyType::BtreePtr => Ok(Value::BtreePtr(BtreePtr {
                node: get_u64(bytes, 0),
                seq: get_u64(bytes, 8),
            })),
            KeyType::Test => TestVal::new(bytes)
                .map(Value::Test)
                .ok_or(KeyError::BadValue),
        }
    }
}
