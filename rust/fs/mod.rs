// SPDX-License-Identifier: GPL-2.0

//! The VFS face of sixfs.

use crate::format::superblock::{self, ProbeError, Superblock};
use crate::glue::{errno, fs_type::FileSystem, super_block::SuperBlock};
use kernel::{c_str, prelude::*, str::CStr};

/// The `sixfs` filesystem type.
pub(crate) struct SixFs;

impl FileSystem for SixFs {
    const NAME: &'static CStr = c_str!("sixfs");

    fn fill_super(sb: &SuperBlock) -> Result {
        let dev = sb.id();
        let bdev = sb.block_device()?;
        let end = superblock::SUPERBLOCK_OFFSET + superblock::SUPERBLOCK_SIZE as u64;
        let probed = if bdev.size() < end {
            Err(ProbeError::TooSmall)
        } else {
            let mut block = KVec::from_elem(0u8, superblock::SUPERBLOCK_SIZE, GFP_KERNEL)?;
            bdev.read(superblock::SUPERBLOCK_OFFSET, &mut block)
                .inspect_err(|e| {
                    pr_err!(
                        "{dev}: cannot read the superblock: error {}\n",
                        e.to_errno()
                    );
                })?;
            superblock::probe(&block).map(|()| Superblock::decode(&block))
        };
        match probed {
            Err(ProbeError::TooSmall) => {
                pr_err!("{dev}: device too small for a sixfs superblock\n");
                Err(EINVAL)
            }
            Err(ProbeError::NoMagic) => {
                pr_err!(
                    "{dev}: not a sixfs filesystem (no superblock magic at byte {})\n",
                    superblock::SUPERBLOCK_OFFSET
                );
                Err(EINVAL)
            }
            Ok(Err(error)) => {
                // Only the primary is read here; reading the backup needs
                // the device layer over bios, which comes with mounting.
                pr_err!("{dev}: invalid sixfs superblock: {error:?} (fsck.sixfs repairs it from the backup)\n");
                Err(EINVAL)
            }
            Ok(Ok(sb)) => {
                pr_err!(
                    "{dev}: valid sixfs superblock (version {}, sequence {}), but this module does not mount yet\n",
                    superblock::VERSION,
                    sb.seq
                );
                Err(errno::eopnotsupp())
            }
        }
    }
}
