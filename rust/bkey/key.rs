// SPDX-License-Identifier: GPL-2.0

//! Keys: an owned form to build and insert, a borrowed view of the byte
//! form that lives in node memory.

use super::encoding::*;
use super::key_type::KeyType;
use super::pos::Pos;
use super::value::Value;

/// The fields of a key header, decoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KeyHeader {
    /// Where the key sorts; for an extent, its end.
    pub pos: Pos,
    /// What the value means.
    pub kind: KeyType,
    /// Extent length: the key covers `[pos.offset - size, pos.offset)`.
    pub size: u32,
    /// Version number, for the layers above.
    pub version: u64,
    /// Value length in bytes.
    pub val_len: u16,
}

impl KeyHeader {
    /// The first offset an extent covers (`pos.offset - size`).
    pub const fn start(&self) -> u64 {
        self.pos.offset.saturating_sub(self.size as u64)
    }
}

/// An owned key: header fields and a typed value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Key {
    /// Where the key sorts; for an extent, its end.
    pub pos: Pos,
    /// Extent length: the key covers `[pos.offset - size, pos.offset)`.
    pub size: u32,
    /// Version number, for the layers above.
    pub version: u64,
    /// The value, which also gives the key type.
    pub value: Value,
}

impl Key {
    /// A non-extent key.
    pub const fn new(pos: Pos, value: Value) -> Key {
        Key {
            pos,
            size: 0,
            version: 0,
            value,
        }
    }

    /// A deleted key at `pos`.
    pub const fn deleted(pos: Pos) -> Key {
        Key::new(pos, Value::Deleted)
    }

    /// The deleted key stored in place of this one, where a deletion must
    /// be kept (its position and version; no size, no value).
    pub const fn whiteout(&self) -> Key {
        Key {
            pos: self.pos,
            size: 0,
            version: self.version,
            value: Value::Deleted,
        }
    }

    /// An extent covering `[start, end)` of `inode` in `snapshot`, or
    /// `None` if empty, reversed or longer than `u32::MAX`.
    pub fn extent(inode: u64, start: u64, end: u64, snapshot: u32, value: Value) -> Option<Key> {
        let size = u32::try_from(end.checked_sub(start)?).ok()?;
        (size > 0).then_some(Key {
            pos: Pos::new(inode, end, snapshot),
            size,
            version: 0,
            value,
        })
    }

    /// The key type.
    pub const fn kind(&self) -> KeyType {
        self.value.kind()
    }

    /// The first offset an extent covers (`pos.offset - size`).
    pub const fn start(&self) -> u64 {
        self.pos.offset.saturating_sub(self.size as u64)
    }

    /// The header fields.
    pub fn header(&self) -> KeyHeader {
        KeyHeader {
            pos: self.pos,
            kind: self.kind(),
            size: self.size,
            version: self.version,
            val_len: u16::try_from(self.value.encoded_len()).unwrap_or(u16::MAX),
        }
    }

    /// Bytes of the encoded key.
    pub fn encoded_len(&self) -> usize {
        key_bytes(self.value.encoded_len())
    }

    /// Checks what encoding needs: a value that fits, an extent that does
    /// not start before offset 0.
    pub fn validate(&self) -> Result<(), KeyError> {
        if self.value.encoded_len() > MAX_VAL_BYTES {
            return Err(KeyError::TooBig);
        }
        if u64::from(self.size) > self.pos.offset {
            return Err(KeyError::BadSize);
        }
        Ok(())
    }

    /// Writes the byte form to the start of `out` and returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, KeyError> {
        self.validate()?;
        let val_len = self.value.encoded_len();
        let len = key_bytes(val_len);
        let out = out.get_mut(..len).ok_or(KeyError::Truncated)?;
        // Both fit: len <= MAX_KEY_BYTES, checked by validate().
        let u64s = u16::try_from(len / 8).map_err(|_| KeyError::TooBig)?;
        let val_len16 = u16::try_from(val_len).map_err(|_| KeyError::TooBig)?;
        // The header is built whole and copied at once: every key a commit
        // writes is encoded twice (journal and leaf).
        let mut header = [0u8; HEADER_BYTES];
        put(&mut header, OFF_U64S, &u64s.to_le_bytes());
        put(&mut header, OFF_TYPE, &[self.kind() as u8]);
        put(&mut header, OFF_SIZE, &self.size.to_le_bytes());
        put(&mut header, OFF_VERSION, &self.version.to_le_bytes());
        put(&mut header, OFF_INODE, &self.pos.inode.to_le_bytes());
        put(&mut header, OFF_OFFSET, &self.pos.offset.to_le_bytes());
        put(&mut header, OFF_SNAPSHOT, &self.pos.snapshot.to_le_bytes());
        put(&mut header, OFF_VAL_LEN, &val_len16.to_le_bytes());
        let value_end = HEADER_BYTES + val_len;
        out.get_mut(..HEADER_BYTES)
            .ok_or(KeyError::Truncated)?
            .copy_from_slice(&header);
        self.value.encode(
            out.get_mut(HEADER_BYTES..value_end)
                .ok_or(KeyError::Truncated)?,
        );
        out.get_mut(value_end..).ok_or(KeyError::Truncated)?.fill(0);
        Ok(len)
    }
}

/// A key in its byte form, borrowed from wherever it lives (a node).
///
/// INVARIANT: `bytes` is exactly one key with a valid header (checked by
/// [`KeyRef::parse`]); its value was checked against its type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyRef<'a> {
    bytes: &'a [u8],
}

impl<'a> KeyRef<'a> {
    /// Validates the key at the start of `bytes`, as a device or a journal
    /// gives it, and returns it with the bytes after it.
    pub fn parse(bytes: &'a [u8]) -> Result<(KeyRef<'a>, &'a [u8]), KeyError> {
        Self::parse_with_flags(bytes, FLAG_NEEDS_WHITEOUT)
    }

    /// [`Self::parse`] for a key of node memory, which may be dead
    /// ([`FLAG_DEAD`]).
    pub fn parse_in_memory(bytes: &'a [u8]) -> Result<(KeyRef<'a>, &'a [u8]), KeyError> {
        Self::parse_with_flags(bytes, FLAG_NEEDS_WHITEOUT | FLAG_DEAD)
    }

    fn parse_with_flags(bytes: &'a [u8], allowed: u8) -> Result<(KeyRef<'a>, &'a [u8]), KeyError> {
        if bytes.len() < HEADER_BYTES {
            return Err(KeyError::Truncated);
        }
        let len = usize::from(get_u16(bytes, OFF_U64S)) * 8;
        let val_len = usize::from(get_u16(bytes, OFF_VAL_LEN));
        if len < HEADER_BYTES || len != key_bytes(val_len) || val_len > MAX_VAL_BYTES {
            return Err(KeyError::BadLength);
        }
        if bytes.len() < len {
            return Err(KeyError::Truncated);
        }
        let (this, rest) = bytes.split_at(len);
        let raw_type = this.get(OFF_TYPE).copied().unwrap_or(u8::MAX);
        let kind = KeyType::from_raw(raw_type).ok_or(KeyError::BadType(raw_type))?;
        let flags = this.get(OFF_FLAGS).copied().unwrap_or(u8::MAX);
        let padding = this.get(HEADER_BYTES + val_len..).unwrap_or(&[]);
        if flags & !allowed != 0
            || get_u16(this, OFF_RESERVED) != 0
            || padding.iter().any(|&b| b != 0)
        {
            return Err(KeyError::Reserved);
        }
        let key = KeyRef { bytes: this };
        // The stored fields, even of a dead key, which reads as deleted.
        if u64::from(get_u32(this, OFF_SIZE)) > key.pos().offset {
            return Err(KeyError::BadSize);
        }
        let val = this
            .get(HEADER_BYTES..HEADER_BYTES + val_len)
            .unwrap_or(&[]);
        Value::decode(kind, val)?;
        Ok((key, rest))
    }

    /// The key at byte `off` of `data`, which only holds keys this module
    /// encoded (node memory): checks the bounds, not the contents.
    pub(crate) fn at(data: &'a [u8], off: usize) -> Option<KeyRef<'a>> {
        let len = usize::from(get_u16(data, off.checked_add(OFF_U64S)?)) * 8;
        if len < HEADER_BYTES {
            return None;
        }
        let bytes = data.get(off..off.checked_add(len)?)?;
        Some(KeyRef { bytes })
    }

    /// The whole byte form.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Bytes of the key, header and padding included.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Never true: a key has at least a header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Where the key sorts.
    pub fn pos(&self) -> Pos {
        Pos::new(
            get_u64(self.bytes, OFF_INODE),
            get_u64(self.bytes, OFF_OFFSET),
            get_u32(self.bytes, OFF_SNAPSHOT),
        )
    }

    /// The key type; a dead key's is [`KeyType::Deleted`].
    pub fn kind(&self) -> KeyType {
        if self.is_dead() {
            return KeyType::Deleted;
        }
        // Checked when the key was encoded or parsed.
        KeyType::from_raw(self.bytes.get(OFF_TYPE).copied().unwrap_or(0))
            .unwrap_or(KeyType::Deleted)
    }

    /// Whether it was deleted in place ([`FLAG_DEAD`]).
    pub fn is_dead(&self) -> bool {
        self.flags() & FLAG_DEAD != 0
    }

    fn flags(&self) -> u8 {
        self.bytes.get(OFF_FLAGS).copied().unwrap_or(0)
    }

    /// Whether the key is deleted or a whiteout.
    pub fn is_deleted_or_whiteout(&self) -> bool {
        self.kind().is_deleted_or_whiteout()
    }

    /// Extent length (none for a dead key, as for a whiteout).
    pub fn size(&self) -> u32 {
        if self.is_dead() {
            return 0;
        }
        get_u32(self.bytes, OFF_SIZE)
    }

    /// Version number.
    pub fn version(&self) -> u64 {
        get_u64(self.bytes, OFF_VERSION)
    }

    /// The first offset an extent covers.
    pub fn start(&self) -> u64 {
        self.pos().offset.saturating_sub(u64::from(self.size()))
    }

    /// Whether deleting this key must leave a deleted key behind.
    pub fn needs_whiteout(&self) -> bool {
        self.flags() & FLAG_NEEDS_WHITEOUT != 0
    }

    /// The value bytes, padding excluded (none for a dead key).
    pub fn val_bytes(&self) -> &'a [u8] {
        let val_len = usize::from(self.val_len());
        self.bytes
            .get(HEADER_BYTES..HEADER_BYTES.saturating_add(val_len))
            .unwrap_or(&[])
    }

    /// The header fields.
    pub fn header(&self) -> KeyHeader {
        KeyHeader {
            pos: self.pos(),
            kind: self.kind(),
            size: self.size(),
            version: self.version(),
            val_len: self.val_len(),
        }
    }

    fn val_len(&self) -> u16 {
        if self.is_dead() {
            return 0;
        }
        get_u16(self.bytes, OFF_VAL_LEN)
    }

    /// The typed value.
    pub fn value(&self) -> Result<Value, KeyError> {
        Value::decode(self.kind(), self.val_bytes())
    }

    /// The deleted key that stands for it (a dead key's stored form).
    pub fn whiteout(&self) -> Key {
        Key {
            version: self.version(),
            ..Key::deleted(self.pos())
        }
    }

    /// An owned copy.
    pub fn to_key(self) -> Result<Key, KeyError> {
        Ok(Key {
            pos: self.pos(),
            size: self.size(),
            version: self.version(),
            value: self.value()?,
        })
    }
}

impl core::fmt::Debug for KeyRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {:?}", self.pos(), self.kind())?;
        if self.size() != 0 {
            write!(f, " size {}", self.size())?;
        }
        Ok(())
    }
}
