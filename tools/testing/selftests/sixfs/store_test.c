// SPDX-License-Identifier: GPL-2.0
/*
 * The btrees of a mounted sixfs on its device, through the mount's
 * perf_test file (/sys/kernel/debug/sixfs/<uuid>/perf_test): a million
 * keys surviving a remount in a tree at least 3 deep, a cache smaller than
 * the tree (and the shrinker), read-only mounts refusing writes, a full
 * disk, corrupt nodes and failing writes.
 *
 * The disks, as make check passes them (each variable overrides one), all
 * made by mkfs.sixfs with 4 KiB nodes: /dev/vdf, 512 MiB
 * (SIXFS_BIG_DISK); /dev/vdg, 4 MiB (SIXFS_SMALL_DISK); /dev/vdh, 16 MiB
 * (SIXFS_SCRATCH_DISK). A test whose disk is missing is skipped.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "kselftest_harness.h"
#include "sixfs_util.h"

#define NODE_SIZE 4096

#define STORE_DISK(var, env, fallback)						\
	const char *var = getenv(env) ? getenv(env) : fallback;			\
	if (access(var, R_OK))							\
		SKIP(return, "no disk %s", var)

FIXTURE(store) {
	char dir[64];
	char perf[128];
};

FIXTURE_SETUP(store)
{
	sixfs_unload();
	ASSERT_EQ(0, sixfs_load());
	strcpy(self->dir, "/tmp/sixfs-store-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(store)
{
	umount(self->dir);
	rmdir(self->dir);
	EXPECT_EQ(0, sixfs_unload());
}

/*
 * The number after @key in the last kernel log line containing @key, or
 * -1. Reads /dev/kmsg from the start.
 */
static long long kmsg_last_number(const char *key)
{
	char record[2048];
	long long value = -1;
	ssize_t n;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	while ((n = read(fd, record, sizeof(record) - 1)) != 0) {
		char *at;

		if (n < 0) {
			if (errno == EPIPE)
				continue;
			break;
		}
		record[n] = '\0';
		at = strstr(record, key);
		if (at)
			value = strtoll(at + strlen(key), NULL, 10);
	}
	close(fd);
	return value;
}

TEST_F_TIMEOUT(store, a_million_keys_survive_a_remount, 3600)
{
	STORE_DISK(disk, "SIXFS_BIG_DISK", "/dev/vdf");
	long long depth, evicted, cached;

	ASSERT_EQ(0, perf_path(disk, self->perf, sizeof(self->perf)));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, NULL));
	/* Two threads at once on the same tree, larger than the cache. */
	ASSERT_EQ(0, perf(self->perf, "rand_insert 1M 2"));
	ASSERT_EQ(0, perf(self->perf, "sync"));
	ASSERT_EQ(0, perf(self->perf, "check"));
	depth = kmsg_last_number("check: clean, depth ");
	EXPECT_GE(depth, 3);
	ASSERT_EQ(0, perf(self->perf, "stats"));
	EXPECT_GT(kmsg_last_number(", evicted "), 0);
	/* Dirty nodes went back to the device between checkpoints. */
	EXPECT_GT(kmsg_last_number(", written back "), 0);
	cached = kmsg_last_number("stats: cached ");
	evicted = kmsg_last_number(", evicted ");
	/* Memory pressure: the shrinker gives clean nodes back. */
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	ASSERT_EQ(0, perf(self->perf, "stats"));
	EXPECT_GT(kmsg_last_number(", evicted "), evicted);
	EXPECT_LT(kmsg_last_number("stats: cached "), cached);
	ASSERT_EQ(0, umount(self->dir));

	/* Every key back after the remount, read from the device. */
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify rand_insert 1M 2"));
	/* Keys never written are missing: EIO. */
	EXPECT_EQ(-EIO, perf(self->perf, "verify seq_insert 1000 1"));
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
}

TEST_F_TIMEOUT(store, read_only_refuses_writes_with_erofs, 600)
{
	STORE_DISK(disk, "SIXFS_SCRATCH_DISK", "/dev/vdh");

	ASSERT_EQ(0, perf_path(disk, self->perf, sizeof(self->perf)));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(-EROFS, perf(self->perf, "seq_insert 10 1"));
	EXPECT_EQ(0, perf(self->perf, "sync"));
	ASSERT_EQ(0, mount(NULL, self->dir, NULL, MS_REMOUNT, NULL));
	EXPECT_EQ(0, perf(self->perf, "seq_insert 1000 1"));
	ASSERT_EQ(0, mount(NULL, self->dir, NULL, MS_REMOUNT | MS_RDONLY, NULL));
	EXPECT_EQ(-EROFS, perf(self->perf, "seq_insert 10 1"));
	EXPECT_EQ(0, perf(self->perf, "verify seq_insert 1000 1"));
	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify seq_insert 1000 1"));
	ASSERT_EQ(0, umount(self->dir));
}

TEST_F_TIMEOUT(store, a_full_disk_says_enospc_and_takes_writes_after_deletes, 600)
{
	STORE_DISK(disk, "SIXFS_SMALL_DISK", "/dev/vdg");

	ASSERT_EQ(0, perf_path(disk, self->perf, sizeof(self->perf)));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, NULL));
	EXPECT_EQ(-ENOSPC, perf(self->perf, "seq_insert 1M 1"));
	/* What was acknowledged is there and sound. */
	EXPECT_EQ(0, perf(self->perf, "sync"));
	EXPECT_EQ(0, perf(self->perf, "check"));
	EXPECT_EQ(0, perf(self->perf, "reset"));
	EXPECT_EQ(0, perf(self->perf, "sync"));
	EXPECT_EQ(0, perf(self->perf, "sync"));
	EXPECT_EQ(0, perf(self->perf, "seq_insert 5K 1"));
	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify seq_insert 5K 1"));
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
}

/*
 * Flips a byte in every node slot of @disk whose level is @level (or, for
 * @level -1, the root's slot alone), saving the slots' bytes in @saved
 * (room for @max); returns how many were flipped.
 */
static int corrupt_nodes(const char *disk, int level, uint8_t (*saved)[NODE_SIZE],
			 uint64_t *where, int max)
{
	uint8_t sb[512], node[NODE_SIZE];
	uint64_t root, offset;
	int fd = open(disk, O_RDWR), n = 0;
	off_t size;

	if (fd < 0 || pread(fd, sb, sizeof(sb), 4096 + 0x100) != sizeof(sb))
		return -1;
	memcpy(&root, sb, sizeof(root));	/* btree 0's root sector */
	size = lseek(fd, 0, SEEK_END);
	for (offset = 8192; offset + NODE_SIZE <= (uint64_t)size && n < max; offset += NODE_SIZE) {
		bool is_root;

		if (pread(fd, node, NODE_SIZE, offset) != NODE_SIZE)
			break;
		if (memcmp(node, "SIXFSnod", 8))
			continue;
		is_root = offset / 512 == root;
		if (level < 0 ? !is_root : (is_root || node[33] != level))
			continue;
		memcpy(saved[n], node, NODE_SIZE);
		where[n++] = offset;
		node[200] ^= 0x10;
		if (pwrite(fd, node, NODE_SIZE, offset) != NODE_SIZE)
			break;
	}
	fsync(fd);
	close(fd);
	return n;
}

static void restore_nodes(const char *disk, uint8_t (*saved)[NODE_SIZE], uint64_t *where, int n)
{
	int fd = open(disk, O_RDWR), i;

	for (i = 0; fd >= 0 && i < n; i++)
		if (pwrite(fd, saved[i], NODE_SIZE, where[i]) != NODE_SIZE)
			break;
	fsync(fd);
	close(fd);
}

/* Every slot of the 16 MiB disk: stale copies of nodes (copy-on-write) are
 * there too, and every live one must be hit. */
#define MAX_CORRUPT 4096

TEST_F_TIMEOUT(store, corrupt_nodes_are_refused_with_a_message, 600)
{
	STORE_DISK(disk, "SIXFS_SCRATCH_DISK", "/dev/vdh");
	static uint8_t saved[MAX_CORRUPT][NODE_SIZE];
	static uint64_t where[MAX_CORRUPT];
	int level, n;

	ASSERT_EQ(0, perf_path(disk, self->perf, sizeof(self->perf)));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(0, perf(self->perf, "reset"));
	ASSERT_EQ(0, perf(self->perf, "rand_insert 20K 1"));
	ASSERT_EQ(0, umount(self->dir));

	/* Leaves, then interior nodes: the mount works, reading them fails. */
	for (level = 0; level <= 1; level++) {
		n = corrupt_nodes(disk, level, saved, where, MAX_CORRUPT);
		ASSERT_GT(n, 0);
		ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
		EXPECT_EQ(-EUCLEAN, perf(self->perf, "verify rand_insert 20K 1"));
		EXPECT_EQ(-EUCLEAN, perf(self->perf, "check"));
		EXPECT_TRUE(kmsg_contains(level ? "level 1 node at sector" : "level 0 node at sector"));
		EXPECT_TRUE(kmsg_contains("is bad: BadChecksum"));
		ASSERT_EQ(0, umount(self->dir));
		restore_nodes(disk, saved, where, n);
	}
	/* The root: the mount is refused. */
	n = corrupt_nodes(disk, -1, saved, where, MAX_CORRUPT);
	ASSERT_EQ(1, n);
	EXPECT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(kmsg_contains("the root of btree 0 cannot be read"));
	restore_nodes(disk, saved, where, n);
	/* Restored, everything is back. */
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify rand_insert 20K 1"));
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
}

TEST_F_TIMEOUT(store, failed_node_writes_give_eio_and_lose_nothing_synced, 600)
{
	STORE_DISK(disk, "SIXFS_SCRATCH_DISK", "/dev/vdh");

	ASSERT_EQ(0, perf_path(disk, self->perf, sizeof(self->perf)));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(0, perf(self->perf, "reset"));
	ASSERT_EQ(0, perf(self->perf, "seq_insert 2K 1"));
	ASSERT_EQ(0, perf(self->perf, "sync"));
	ASSERT_EQ(0, perf(self->perf, "rand_insert 2K 1"));
	if (!fail_disk_io(disk, true))
		SKIP(return, "no fail_make_request fault injection");
	EXPECT_EQ(-EIO, perf(self->perf, "sync"));
	ASSERT_TRUE(fail_disk_io(disk, false));
	/* The device is back: the retry writes everything. */
	EXPECT_EQ(0, perf(self->perf, "sync"));
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify seq_insert 2K 1"));
	EXPECT_EQ(0, perf(self->perf, "verify rand_insert 2K 1"));
	ASSERT_EQ(0, umount(self->dir));
}

TEST_HARNESS_MAIN
