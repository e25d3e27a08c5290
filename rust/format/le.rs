// SPDX-License-Identifier: GPL-2.0

//! Little-endian fields at fixed byte offsets: how every on-disk structure
//! is read and written, without transmutes or unaligned pointers.
//!
//! Offsets out of range read as zeroes and are not written: callers check
//! the buffer's length once, against the structure's size, before touching
//! its fields, and the structures' layouts are asserted at compile time, so
//! the fallback never happens; it exists so that no input can panic.

/// The `N` bytes at `offset`, or zeroes.
pub fn bytes<const N: usize>(buf: &[u8], offset: usize) -> [u8; N] {
    offset
        .checked_add(N)
        .and_then(|end| buf.get(offset..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

/// The `u8` at `offset`.
pub fn u8_at(buf: &[u8], offset: usize) -> u8 {
    u8::from_le_bytes(bytes(buf, offset))
}

/// The little-endian `u32` at `offset`.
pub fn u32_at(buf: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes(buf, offset))
}

/// The little-endian `u64` at `offset`.
pub fn u64_at(buf: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes(buf, offset))
}

/// Writes `value` at `offset`.
pub fn put(buf: &mut [u8], offset: usize, value: &[u8]) {
    let dst = offset
        .checked_add(value.len())
        .and_then(|end| buf.get_mut(offset..end));
    if let Some(dst) = dst {
        dst.copy_from_slice(value);
    }
}

/// Writes the little-endian `value` at `offset`.
pub fn put_u32(buf: &mut [u8], offset: usize, value: u32) {
    put(buf, offset, &value.to_le_bytes());
}

/// Writes the little-endian `value` at `offset`.
pub fn put_u64(buf: &mut [u8], offset: usize, value: u64) {
    put(buf, offset, &value.to_le_bytes());
}

/// The offset of the first non-zero byte of `buf[range]`, if any.
pub fn first_nonzero(buf: &[u8], range: core::ops::Range<usize>) -> Option<usize> {
    let start = range.start;
    let bytes = buf.get(range)?;
    bytes.iter().position(|&b| b != 0).map(|i| start + i)
}
