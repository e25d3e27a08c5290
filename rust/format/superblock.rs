// SPDX-License-Identifier: GPL-2.0

//! Where the superblock lives and how a sixfs device is recognised.

/// Byte offset of the superblock: the first 4 KiB stay free for boot loaders
/// and partition labels.
pub const SUPERBLOCK_OFFSET: u64 = 4096;

/// Bytes read to look at the superblock.
pub const SUPERBLOCK_SIZE: usize = 4096;

/// The first bytes of every sixfs superblock.
pub const MAGIC: [u8; 8] = *b"SIXFS\0sb";

/// Why a device is not a mountable sixfs filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// The device is smaller than the superblock's end.
    TooSmall,
    /// No sixfs magic where the superblock should be.
    NoMagic,
}

/// Checks that `block` (the [`SUPERBLOCK_SIZE`] bytes at
/// [`SUPERBLOCK_OFFSET`]) starts a sixfs superblock.
pub fn probe(block: &[u8]) -> Result<(), ProbeError> {
    match block.get(..MAGIC.len()) {
        None => Err(ProbeError::TooSmall),
        Some(magic) if magic == MAGIC => Ok(()),
        Some(_) => Err(ProbeError::NoMagic),
    }
}
