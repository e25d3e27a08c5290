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

    fn pieces_give_the_checksum_of_the_whole() {
        let data = b"sixfs superblock, checksummed piece by piece";
        for split in 0..=data.len() {
            let (head, tail) = data.split_at(split);
            check_eq!(!crc32c_update(crc32c_update(!0, head), tail), crc32c(data));
        }
    }
}
