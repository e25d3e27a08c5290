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

/// One entry per byte value: the CRC register after shifting that byte
/// through it, computed at compile time.
const TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
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
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// Feeds `bytes` through the CRC register `crc`, without the initial and
/// final inversion: the semantics of the kernel's `crc32c(crc, p, len)`, so
/// that a checksum can be computed piece by piece over several ranges.
pub fn crc32c_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &byte in bytes {
        // A `u8` index into a 256-entry table is always in bounds.
        crc = TABLE[usize::from(crc as u8 ^ byte)] ^ (crc >> 8);
    }
    crc
}

/// The standard CRC-32C of `bytes` (initial value and final xor all ones;
/// the check value of `b"123456789"` is `0xe306_9283`).
pub fn crc32c(bytes: &[u8]) -> u32 {
    !crc32c_update(!0, bytes)
}
