// SPDX-License-Identifier: GPL-2.0

//! Tests of superblock probing, run by `cargo test` and as KUnit suite
//! `sixfs_superblock`.

use super::superblock::{probe, ProbeError, MAGIC, SUPERBLOCK_SIZE};
use crate::platform::{check_eq, test_suite};

test_suite! {
    sixfs_superblock;

    fn probe_accepts_the_magic() {
        let mut block = [0u8; SUPERBLOCK_SIZE];
        block[..MAGIC.len()].copy_from_slice(&MAGIC);
        check_eq!(probe(&block), Ok(()));
    }

    fn probe_refuses_zeroes_and_near_misses() {
        let mut block = [0u8; SUPERBLOCK_SIZE];
        check_eq!(probe(&block), Err(ProbeError::NoMagic));
        block[..MAGIC.len()].copy_from_slice(&MAGIC);
        block[MAGIC.len() - 1] ^= 1;
        check_eq!(probe(&block), Err(ProbeError::NoMagic));
    }

    fn probe_refuses_a_short_block() {
        check_eq!(probe(&MAGIC[..MAGIC.len() - 1]), Err(ProbeError::TooSmall));
    }
}
