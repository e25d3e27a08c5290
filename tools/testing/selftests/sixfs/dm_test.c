// SPDX-License-Identifier: GPL-2.0
/*
 * Device errors under a mounted sixfs, from device mapper: the filesystem
 * is mounted on /dev/mapper/sixfs-dm, a dm-linear device over a test disk,
 * and its table is swapped while mounted (suspend, load, resume, as
 * `dmsetup reload` does) for
 *
 *  - dm-error: every read and write fails;
 *  - dm-flakey with error_writes: writes fail, reads work;
 *  - dm-flakey with drop_writes: writes and flushes are acknowledged and
 *    never reach the disk.
 *
 * Keys go through the mount's perf_test file. Each test asserts that the
 * caller sees EIO where the device failed, that unmounting works, and
 * that after the linear table is back the filesystem mounts and holds
 * every key made durable (by a sync) before the failure, and none written
 * after it. A workload run while writes fail may succeed (its commits wait
 * in the open journal entry or the node cache) or fail with EIO (a commit
 * that had to write the journal or a checkpoint): both are allowed, and
 * nothing it wrote is durable. The guest run fails on any oops, WARNING,
 * KASAN report, lockdep splat or hung task.
 *
 * The disk: /dev/vdi (SIXFS_DM_DISK), made by mkfs.sixfs with 4 KiB nodes
 * (scripts/check.sh); skipped when missing or without device mapper.
 */
#define _GNU_SOURCE
#include <sys/mount.h>
#include "kselftest_harness.h"
#include "sixfs_util.h"

#define DM_NAME "sixfs-dm"
#define DM_NODE "/dev/mapper/" DM_NAME

/* The keys of the tests: seq_insert 0..2000, then 2000..4000. */
#define SYNCED "seq_insert 2K 1"
#define LATER "seq_insert 4K 2"
#define UNSYNCED "rand_insert 1K 1"

/* How many kernel log lines contain @needle; reads /dev/kmsg. */
static int kmsg_count(const char *needle)
{
	char record[2048];
	int found = 0;
	ssize_t n;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	while ((n = read(fd, record, sizeof(record) - 1)) != 0) {
		if (n < 0) {
			if (errno == EPIPE)
				continue;
			break;
		}
		record[n] = '\0';
		found += strstr(record, needle) != NULL;
	}
	close(fd);
	return found;
}

FIXTURE(dm) {
	char dir[64];
	char perf[128];
	char linear[128];
	char flakey[192];
	const char *disk;
	uint64_t sectors;
};

FIXTURE_SETUP(dm)
{
	self->disk = getenv("SIXFS_DM_DISK") ? getenv("SIXFS_DM_DISK") : "/dev/vdi";
	if (access(self->disk, R_OK))
		SKIP(return, "no disk %s", self->disk);
	if (!dm_available())
		SKIP(return, "no device mapper (%s)", DM_CONTROL);
	sixfs_unload();
	ASSERT_EQ(0, sixfs_load());
	strcpy(self->dir, "/tmp/sixfs-dm-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->sectors = disk_sectors(self->disk);
	ASSERT_GT(self->sectors, 0);
	snprintf(self->linear, sizeof(self->linear), "%s 0", self->disk);
	dm_remove(DM_NAME);	/* a leftover of a failed run */
	ASSERT_EQ(0, dm_create(DM_NAME, self->sectors, "linear", self->linear)) {
		TH_LOG("cannot create %s over %s", DM_NODE, self->disk);
	}
	ASSERT_EQ(0, perf_path(DM_NODE, self->perf, sizeof(self->perf)));

	/* A known start: only the SYNCED keys, on the disk. */
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(0, perf(self->perf, "reset"));
	ASSERT_EQ(0, perf(self->perf, SYNCED));
	ASSERT_EQ(0, perf(self->perf, "sync"));
}

FIXTURE_TEARDOWN(dm)
{
	umount(self->dir);
	rmdir(self->dir);
	EXPECT_EQ(0, dm_remove(DM_NAME));
	EXPECT_EQ(0, sixfs_unload());
}

/*
 * Runs the LATER workload while writes fail: 0 or EIO, as said above, or
 * EROFS once errors=remount-ro (the default) has stopped writes.
 */
#define EXPECT_LATER_OK_OR_EIO(ret)						\
	do {									\
		ret = perf(self->perf, LATER);					\
		EXPECT_TRUE(ret == 0 || ret == -EIO || ret == -EROFS) {	\
			TH_LOG("%s while writes fail: %d, wanted 0, -EIO or -EROFS", LATER, ret); \
		}								\
	} while (0)

/* Swaps the live table of the device for @target @params. */
static int swap_table(FIXTURE_DATA(dm) *self, bool lockfs, const char *target,
		      const char *params)
{
	return dm_reload(DM_NAME, lockfs, self->sectors, target, params);
}

/*
 * Back on the linear table and mounted read-only (replaying what the
 * journal holds): the SYNCED keys are there, the LATER ones are not, and
 * every node checks out.
 */
static void expect_last_checkpoint(struct __test_metadata *_metadata,
				   FIXTURE_DATA(dm) *self)
{
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify " SYNCED));
	EXPECT_EQ(-EIO, perf(self->perf, "verify " LATER)) {
		TH_LOG("keys written after the device failed were found on it");
	}
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
	/* A clean unmount, so that fsck on the host finds it clean. */
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(0, umount(self->dir));
}

/*
 * dm-error: writes and syncs fail with EIO, the unmount goes through with
 * a message, a mount is refused with EIO; with the disk back, everything
 * synced before the failure is there.
 */
TEST_F_TIMEOUT(dm, dm_error_gives_eio_and_keeps_what_was_synced, 600)
{
	int unmount_errors = kmsg_count("the filesystem keeps its last checkpoint");
	int fd, ret;

	/*
	 * Keys not synced yet: `dmsetup suspend` freezes the filesystem
	 * first, and the freeze syncs them.
	 */
	ASSERT_EQ(0, perf(self->perf, UNSYNCED));
	ASSERT_EQ(0, swap_table(self, true, "error", ""));

	/* Their sync fails, every time. */
	EXPECT_LATER_OK_OR_EIO(ret);
	EXPECT_EQ(-EIO, perf(self->perf, "sync"));
	EXPECT_EQ(-EIO, perf(self->perf, "sync"));
	fd = open(self->dir, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, syncfs(fd));
	EXPECT_EQ(EIO, errno);
	close(fd);
	/* The unmount cannot write either: it says so and goes through. */
	ASSERT_EQ(0, umount(self->dir));
	EXPECT_EQ(unmount_errors + 1, kmsg_count("the filesystem keeps its last checkpoint"));
	/* Nothing to read a superblock from. */
	EXPECT_EQ(-1, mount(DM_NODE, self->dir, "sixfs", 0, NULL));
	EXPECT_EQ(EIO, errno);

	ASSERT_EQ(0, swap_table(self, false, "linear", self->linear));
	expect_last_checkpoint(_metadata, self);
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify " UNSYNCED)) {
		TH_LOG("the freeze of dmsetup suspend did not sync the filesystem");
	}
	ASSERT_EQ(0, umount(self->dir));
}

/*
 * A device failing for a while under the mount: syncs fail with EIO while
 * it does; once it is back (the table swapped while mounted) the
 * filesystem takes writes again, and the next sync writes everything:
 * nothing lost.
 */
TEST_F_TIMEOUT(dm, a_passing_dm_error_loses_nothing_after_a_sync, 600)
{
	int ret;

	/* errors=continue: the filesystem keeps trying (the default stops). */
	ASSERT_EQ(0, mount(NULL, self->dir, NULL, MS_REMOUNT, "errors=continue"));
	/* --nolockfs: a freeze would sync, and the device is gone. */
	ASSERT_EQ(0, swap_table(self, false, "error", ""));
	EXPECT_LATER_OK_OR_EIO(ret);
	EXPECT_EQ(-EIO, perf(self->perf, "sync"));
	ASSERT_EQ(0, swap_table(self, false, "linear", self->linear));
	/* The same keys again, as a caller retries what failed. */
	EXPECT_EQ(0, perf(self->perf, LATER));
	EXPECT_EQ(0, perf(self->perf, "sync"));
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify " SYNCED));
	EXPECT_EQ(0, perf(self->perf, "verify " LATER));
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
}

/*
 * dm-flakey failing every write (up 0 s, down 1 s: always down): syncs
 * fail with EIO, reads still work, including reads of nodes the cache
 * dropped; with the disk back, what was synced before is whole.
 */
TEST_F_TIMEOUT(dm, flakey_error_writes_give_eio_and_reads_go_on, 600)
{
	int ret;

	snprintf(self->flakey, sizeof(self->flakey), "%s 0 0 1 1 error_writes", self->disk);
	ASSERT_EQ(0, swap_table(self, true, "flakey", self->flakey));
	EXPECT_LATER_OK_OR_EIO(ret);
	EXPECT_EQ(-EIO, perf(self->perf, "sync"));
	/* Clean nodes leave the cache and are read again from the disk. */
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	EXPECT_EQ(0, perf(self->perf, "verify " SYNCED));
	if (ret == 0)
		EXPECT_EQ(0, perf(self->perf, "verify " LATER));
	ASSERT_EQ(0, umount(self->dir));

	ASSERT_EQ(0, swap_table(self, false, "linear", self->linear));
	expect_last_checkpoint(_metadata, self);
}

/*
 * dm-flakey dropping every write and flush while acknowledging them: the
 * filesystem cannot tell (there is no read-back of what it wrote), so
 * sync and unmount succeed, and what they wrote is gone. What this
 * asserts is that nothing worse happens: the disk still holds the
 * checkpoint from before the drop, untouched because checkpoints are
 * copy-on-write (nothing the durable tree points to is overwritten), so
 * the next mount finds it whole (with a warning: the clean flag was
 * dropped too), check passes and the keys synced before are all there;
 * the keys "synced" while writes were dropped are missing.
 */
TEST_F_TIMEOUT(dm, flakey_drop_writes_loses_them_and_keeps_the_checkpoint_before, 600)
{
	int unclean = kmsg_count("not unmounted cleanly");

	snprintf(self->flakey, sizeof(self->flakey), "%s 0 0 1 1 drop_writes", self->disk);
	ASSERT_EQ(0, swap_table(self, true, "flakey", self->flakey));
	EXPECT_EQ(0, perf(self->perf, LATER));
	EXPECT_EQ(0, perf(self->perf, "sync"));
	EXPECT_EQ(0, perf(self->perf, "verify " LATER));
	ASSERT_EQ(0, umount(self->dir));

	ASSERT_EQ(0, swap_table(self, false, "linear", self->linear));
	expect_last_checkpoint(_metadata, self);
	EXPECT_LT(unclean, kmsg_count("not unmounted cleanly")) {
		TH_LOG("no warning that the clean unmount was lost");
	}
}

/* A few keys, too few to fill a journal entry: only a flush writes them. */
#define SMALL "rand_insert 100 1"

/* Unmounts while the device fails: what the disk has is what was durable. */
static void cut_power(struct __test_metadata *_metadata, FIXTURE_DATA(dm) *self)
{
	ASSERT_EQ(0, swap_table(self, false, "error", ""));
	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, swap_table(self, false, "linear", self->linear));
}

/*
 * Commits no one syncs reach the disk within journal_flush_delay (the
 * journal thread writes them), and the next mount replays them.
 */
TEST_F_TIMEOUT(dm, unsynced_commits_reach_the_disk_after_the_flush_delay, 600)
{
	int replays = kmsg_count("replayed");

	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", 0, "journal_flush_delay=100"));
	ASSERT_EQ(0, perf(self->perf, SMALL));
	/* Ten delays. */
	usleep(1000 * 1000);
	cut_power(_metadata, self);

	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(replays + 1, kmsg_count("replayed")) {
		TH_LOG("the mount after the power cut replayed nothing");
	}
	EXPECT_EQ(0, perf(self->perf, "verify " SYNCED));
	EXPECT_EQ(0, perf(self->perf, "verify " SMALL)) {
		TH_LOG("commits older than journal_flush_delay were lost");
	}
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
	/* Clean, for fsck on the host. */
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(0, umount(self->dir));
}

/*
 * syncfs is a journal flush: what it acknowledged survives the power cut,
 * replayed by the next mount; norecovery mounts the last checkpoint
 * instead (read-only only), and a later normal mount still replays.
 */
TEST_F_TIMEOUT(dm, syncfs_is_durable_and_norecovery_skips_the_journal, 600)
{
	int fd;

	ASSERT_EQ(0, umount(self->dir));
	/* No timed flush in this test: only syncfs writes the journal. */
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", 0, "journal_flush_delay=600000"));
	ASSERT_EQ(0, perf(self->perf, SMALL));
	fd = open(self->dir, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, syncfs(fd));
	close(fd);
	cut_power(_metadata, self);

	ASSERT_EQ(-1, mount(DM_NODE, self->dir, "sixfs", 0, "norecovery"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", MS_RDONLY, "norecovery"));
	EXPECT_EQ(0, perf(self->perf, "verify " SYNCED));
	EXPECT_EQ(-EIO, perf(self->perf, "verify " SMALL)) {
		TH_LOG("norecovery found keys only the journal holds");
	}
	ASSERT_EQ(0, umount(self->dir));

	ASSERT_EQ(0, mount(DM_NODE, self->dir, "sixfs", 0, NULL));
	EXPECT_EQ(0, perf(self->perf, "verify " SYNCED));
	EXPECT_EQ(0, perf(self->perf, "verify " SMALL)) {
		TH_LOG("keys acknowledged by syncfs were lost");
	}
	EXPECT_EQ(0, perf(self->perf, "check"));
	ASSERT_EQ(0, umount(self->dir));
}

/*
 * errors=remount-ro (the default): once a journal write fails, writes get
 * EROFS, and every sync after says EIO for the commits it lost.
 */
TEST_F_TIMEOUT(dm, a_failed_journal_write_stops_writes_under_remount_ro, 600)
{
	int fd, ret;

	ASSERT_EQ(0, perf(self->perf, SMALL));
	ASSERT_EQ(0, swap_table(self, false, "error", ""));
	fd = open(self->dir, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, syncfs(fd));
	EXPECT_EQ(EIO, errno);
	EXPECT_TRUE(kmsg_contains("read-only from now on (errors=remount-ro)"));
	ret = perf(self->perf, LATER);
	EXPECT_EQ(-EROFS, ret);
	EXPECT_EQ(-1, syncfs(fd));
	EXPECT_EQ(EIO, errno);
	close(fd);
	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, swap_table(self, false, "linear", self->linear));
	expect_last_checkpoint(_metadata, self);
}

TEST_HARNESS_MAIN
