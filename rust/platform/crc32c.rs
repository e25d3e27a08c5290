// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), the checksum of every on-disk structure.
//!
//! This is the seam between the format and the platform: the format calls
//! [`crc32c`] and nothing else. Today both builds compile this table-driven
//! implementation in plain Rust, so the module and the tools compute the
//! same value by construction. The kernel has its own `crc32c()` (with
//! SSE4.2 and PCLMULQDQ acceleration); when the kernel platform routes
//! [`crc32c_update`] to it through a glue helper, the contract stays the
//! one written here, and the shared tests (check value, incremental use)
//! run against the kernel's function under KUnit.

/// The reflected CRC-32C polynomial (0x1EDC6F41 bit-reversed).
const POLY: u32 = 0x82f6_3b78;

/// Slicing-by-8 tables, computed at compile time: `TABLES[0][b]` is the
/// CRC register after shifting byte `b` through it; `TABLES[k][b]` the same
/// followed by `k` zero bytes, so that eight bytes are folded in per step
/// (about six times the speed of a byte at a time).
const TABLES: [[u32; 256]; 8] = make_tables();

const fn make_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut byte = 0;
        while byte < 256 {
            let prev = tables[k - 1][byte];
            tables[k][byte] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
            byte += 1;
        }
        k += 1;
    }
    tables
}

/// The table entry of `k` for the low byte of `x`: a `u8` index into a
/// 256-entry table, always in bounds.
fn entry(k: usize, x: u32) -> u32 {
    TABLES.get(k).map_or(0, |table| table[usize::from(x as u8)])
}

/// Feeds `bytes` through the CRC register `crc`, without the initial and
/// final inversion: the semantics of the kernel's `crc32c(crc, p, len)`, so
/// that a checksum can be computed piece by piece over several ranges.
pub fn crc32c_update(mut crc: u32, bytes: &[u8]) -> u32 {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let Ok([b0, b1, b2, b3, b4, b5, b6, b7]) = <[u8; 8]>::try_from(word) else {
            continue;
        };
        let low = crc ^ u32::from_le_bytes([b0, b1, b2, b3]);
        let high = u32::from_le_bytes([b4, b5, b6, b7]);
        crc = entry(7, low)
            ^ entry(6, low >> 8)
            ^ entry(5, low >> 16)
            ^ entry(4, low >> 24)
            ^ entry(3, high)
            ^ entry(2, high >> 8)
            ^ entry(1, high >> 16)
            ^ entry(0, high >> 24);
    }
    for &byte in words.remainder() {
        crc = entry(0, crc ^ u32::from(byte)) ^ (crc >> 8);
    }
    crc
}

/// The standard CRC-32C of `bytes` (initial value and final xor all ones;
/// the check value of `b"123456789"` is `0xe306_9283`).
pub fn crc32c(bytes: &[u8]) -> u32 {
    !crc32c_update(!0, bytes)
}
