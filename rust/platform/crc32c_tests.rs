// SPDX-License-Identifier: GPL-2.0

//! Tests of the CRC-32C, run by `cargo test` and as the KUnit suite
//! `sixfs_crc32c` (where they will check the kernel's function once the
//! kernel platform uses it).

use super::crc32c::{crc32c, crc32c_update};
use crate::platform::{check_eq, test_suite};

test_suite! {
    sixfs_crc32c;

    fn standard_check_values() {
        // The check value of the CRC catalogue (CRC-32/ISCSI) and RFC 3720's
        // test vectors (32 bytes of zeroes, of 0xff, ascending).
        check_eq!(crc32c(b"123456789"), 0xe306_9283);
        check_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        check_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let mut ascending = [0u8; 32];
        for (i, byte) in ascending.iter_mut().enumerate() {
            *byte = i as u8;
        }
        check_eq!(crc32c(&ascending), 0x46dd_794e);
        check_eq!(crc32c(&[]), 0);
    }

    fn eight_bytes_at_a_time_equals_one_at_a_time() {
        // Every length and alignment against the bitwise definition.
        let mut data = [0u8; 40];
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
        for start in 0..8 {
            for end in start..data.len() {
                let piece = &data[start..end];
                let mut crc = !0u32;
                for &byte in piece {
                    crc ^= u32::from(byte);
                    for _ in 0..8 {
                        crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
                    }
                }
                check_eq!(crc32c(piece), !crc);
            }
        }
    }

    fn pieces_give_the_checksum_of_the_whole() {
        let data = b"sixfs superblock, checksummed piece by piece";
        for split in 0..=data.len() {
            let (head, tail) = data.split_at(split);
            check_eq!(!crc32c_update(crc32c_update(!0, head), tail), crc32c(data));
        }
    }
}
