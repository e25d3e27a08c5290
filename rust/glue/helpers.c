// SPDX-License-Identifier: GPL-2.0
/*
 * Thin wrappers around static inline kernel functions, for the Rust glue.
 * Keep each one a single call: the logic belongs in Rust.
 */
#include <linux/blkdev.h>
#include <kunit/test.h>
#include <sixfs/helpers.h>

u64 sixfs_bdev_nr_sectors(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}

unsigned int sixfs_bdev_logical_block_size(struct block_device *bdev)
{
	return bdev_logical_block_size(bdev);
}

#if IS_ENABLED(CONFIG_KUNIT)
void sixfs_kunit_fail(struct kunit *test, const void *fmt_args)
{
	KUNIT_FAIL(test, "%pA", fmt_args);
}
#endif
