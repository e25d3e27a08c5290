/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of the sixfs module: thin wrappers around static inline kernel
 * functions and macros that Rust cannot call directly. Their Rust
 * declarations live in rust/glue/ffi.rs and must match these prototypes.
 */
#ifndef SIXFS_HELPERS_H
#define SIXFS_HELPERS_H

#include <linux/types.h>

struct block_device;
struct kunit;

/* Size of the device in 512-byte sectors. */
u64 sixfs_bdev_nr_sectors(struct block_device *bdev);
/* Smallest unit the device can read or write, in bytes. */
unsigned int sixfs_bdev_logical_block_size(struct block_device *bdev);

/*
 * Marks the running KUnit case failed with a message; @fmt_args points to a
 * Rust core::fmt::Arguments (printed with %pA).
 */
void sixfs_kunit_fail(struct kunit *test, const void *fmt_args);

#endif /* SIXFS_HELPERS_H */
