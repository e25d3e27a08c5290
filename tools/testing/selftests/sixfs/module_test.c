// SPDX-License-Identifier: GPL-2.0
/* Loading and unloading sixfs.ko, and the filesystem type it registers. */
#include "kselftest_harness.h"
#include "sixfs_util.h"

FIXTURE(module) {};

FIXTURE_SETUP(module)
{
	/* Start unloaded, whatever an earlier test left behind. */
	sixfs_unload();
	ASSERT_FALSE(fs_type_registered("sixfs"));
}

FIXTURE_TEARDOWN(module)
{
	sixfs_unload();
}

TEST_F(module, load_registers_type_and_unload_removes_it)
{
	ASSERT_EQ(0, sixfs_load());
	ASSERT_TRUE(fs_type_registered("sixfs"));
	ASSERT_EQ(0, sixfs_unload());
	ASSERT_FALSE(fs_type_registered("sixfs"));
}

TEST_F(module, second_load_fails_with_eexist)
{
	ASSERT_EQ(0, sixfs_load());
	ASSERT_EQ(-EEXIST, sixfs_load());
	ASSERT_TRUE(fs_type_registered("sixfs"));
}

TEST_F(module, unload_when_not_loaded_fails_with_enoent)
{
	ASSERT_EQ(-ENOENT, sixfs_unload());
}

TEST_F(module, repeated_load_unload_cycles)
{
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(0, sixfs_load());
		ASSERT_EQ(0, sixfs_unload());
	}
	ASSERT_FALSE(fs_type_registered("sixfs"));
}

TEST_HARNESS_MAIN
