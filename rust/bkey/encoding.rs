// SPDX-License-Identifier: GPL-2.0

//! The byte form of a key: the one place that defines it.
//!
//! A key is a 40-byte header followed by its value, padded with zeroes to a
//! multiple of 8 bytes. Every field is little-endian, so the bytes a node
//! holds in memory are the bytes that will go to disk.
//!
//! ```text
//! offset size field
//!      0    2 u64s: length of the key in 8-byte words, header included
//!      2    1 type (KeyType)
//!      3    1 flags: bit 0 = needs whiteout, bit 1 = dead (both in
//!                memory only; a dead key is never written), others 0
//!      4    4 size: extent length, 0 for non-extents
//!      8    8 version
//!     16    8 pos.inode
//!     24    8 pos.offset
//!     32    4 pos.snapshot
//!     36    2 value length in bytes
//!     38    2 reserved, 0
//!     40    . value, then zeroes up to the next multiple of 8
//! ```

/// Bytes in a key header.
pub const HEADER_BYTES: usize = 40;
/// Largest value, in bytes: keeps a whole key within 2 KiB.
pub const MAX_VAL_BYTES: usize = 2048 - HEADER_BYTES;
/// Largest encoded key, in bytes.
pub const MAX_KEY_BYTES: usize = 2048;

pub(crate) const OFF_U64S: usize = 0;
pub(crate) const OFF_TYPE: usize = 2;
pub(crate) const OFF_FLAGS: usize = 3;
pub(crate) const OFF_SIZE: usize = 4;
pub(crate) const OFF_VERSION: usize = 8;
pub(crate) const OFF_INODE: usize = 16;
pub(crate) const OFF_OFFSET: usize = 24;
pub(crate) const OFF_SNAPSHOT: usize = 32;
pub(crate) const OFF_VAL_LEN: usize = 36;
pub(crate) const OFF_RESERVED: usize = 38;

/// Flag: deleting this key must leave a deleted key behind, because an
/// older copy of its position exists (in an older bset or on disk).
pub const FLAG_NEEDS_WHITEOUT: u8 = 1;

/// Flag, in memory only: the key was deleted in place (its bytes stay
/// until the bset is merged, compacted or written, none of which keeps
/// them). It reads as a deleted key: a whiteout if it needs one, else
/// nothing. A node write leaves it out or writes a whiteout for it, and a
/// key read from a device with it set is refused.
pub const FLAG_DEAD: u8 = 2;

/// Why bytes are not a valid key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Fewer bytes than the key claims, or than a header.
    Truncated,
    /// The length field disagrees with the value length.
    BadLength,
    /// An unknown key type.
    BadType(u8),
    /// Reserved bits or bytes are not zero.
    Reserved,
    /// The value does not fit its type.
    BadValue,
    /// An extent that would start before offset 0.
    BadSize,
    /// The value is longer than [`MAX_VAL_BYTES`] or its type allows.
    TooBig,
}

/// Bytes of a key with a value of `val_len` bytes: header, value, padding.
pub const fn key_bytes(val_len: usize) -> usize {
    (HEADER_BYTES + val_len + 7) & !7
}

/// Reads a little-endian `u16` at `off`; 0 if out of range.
#[inline]
pub(crate) fn get_u16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off.saturating_add(2)) {
        Some(&[x, y]) => u16::from_le_bytes([x, y]),
        _ => 0,
    }
}

/// Reads a little-endian `u32` at `off`; 0 if out of range.
///
/// The bytes are taken by a slice pattern, not `copy_from_slice`: the
/// kernel's core library keeps that out of line, and every key position
/// decoded went through it and a `memcpy` (a fifth of the writer's time in
/// the guest profiles).
#[inline]
pub(crate) fn get_u32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off.saturating_add(4)) {
        Some(&[b0, b1, b2, b3]) => u32::from_le_bytes([b0, b1, b2, b3]),
        _ => 0,
    }
}

/// Reads a little-endian `u64` at `off`; 0 if out of range.
/// (As [`get_u32`].)
#[inline]
pub(crate) fn get_u64(b: &[u8], off: usize) -> u64 {
    match b.get(off..off.saturating_add(8)) {
        Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) => {
            u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7])
        }
        _ => 0,
    }
}

/// Writes `v` at `off` when in range (callers size their buffers first).
/// A fixed size, so that the store is inlined (see [`get_u32`]).
#[inline]
pub(crate) fn put<const N: usize>(b: &mut [u8], off: usize, v: &[u8; N]) {
    if let Some(s) = b.get_mut(off..off.saturating_add(N)) {
        if let Ok(s) = <&mut [u8; N]>::try_from(s) {
            *s = *v;
        }
    }
}

/// Writes the bytes `v` at `off` when in range.
pub(crate) fn put_bytes(b: &mut [u8], off: usize, v: &[u8]) {
    if let Some(s) = b.get_mut(off..off.saturating_add(v.len())) {
        s.copy_from_slice(v);
    }
}
