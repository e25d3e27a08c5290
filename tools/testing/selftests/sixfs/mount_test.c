// SPDX-License-Identifier: GPL-2.0
/*
 * Mount attempts that sixfs must refuse cleanly: a disk holding another
 * filesystem (the guest's /dev/vda unless SIXFS_FOREIGN_DISK says
 * otherwise), a missing device and a path that is not a block device; and
 * the superblock checks on disks made by mkfs.sixfs (make check passes
 * /dev/vdb, freshly made, and /dev/vdc, the same with a bit of its primary
 * superblock flipped; SIXFS_VALID_DISK and SIXFS_CORRUPT_DISK override).
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include "kselftest_harness.h"
#include "sixfs_util.h"

/* Whether the kernel log has a line containing @needle; reads /dev/kmsg. */
static bool kmsg_contains(const char *needle)
{
	char record[2048];
	bool found = false;
	ssize_t n;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return false;
	while (!found && (n = read(fd, record, sizeof(record) - 1)) != 0) {
		if (n < 0) {
			if (errno == EPIPE)	/* overwritten records: go on */
				continue;
			break;			/* EAGAIN: the end */
		}
		record[n] = '\0';
		found = strstr(record, needle) != NULL;
	}
	close(fd);
	return found;
}

FIXTURE(mount) {
	char dir[64];
};

FIXTURE_SETUP(mount)
{
	sixfs_unload();
	ASSERT_EQ(0, sixfs_load());
	strcpy(self->dir, "/tmp/sixfs-mnt-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(mount)
{
	umount(self->dir);
	rmdir(self->dir);
	EXPECT_EQ(0, sixfs_unload());
}

TEST_F(mount, foreign_disk_is_refused_with_einval)
{
	const char *disk = getenv("SIXFS_FOREIGN_DISK");
	struct stat st;

	if (!disk)
		disk = "/dev/vda";
	if (stat(disk, &st) || !S_ISBLK(st.st_mode))
		SKIP(return, "no foreign disk at %s", disk);

	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(EINVAL, errno);
	/* One clear line naming the device and the reason. */
	ASSERT_TRUE(kmsg_contains("not a sixfs filesystem"));
	/* Refusing must not leave the module pinned. */
	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	ASSERT_EQ(EINVAL, errno);
}

/* Whether @disk is a block device with the sixfs magic at byte 4096. */
static bool has_sixfs_magic(const char *disk)
{
	char magic[8];
	struct stat st;
	int fd;
	bool found;

	if (stat(disk, &st) || !S_ISBLK(st.st_mode))
		return false;
	fd = open(disk, O_RDONLY);
	if (fd < 0)
		return false;
	found = pread(fd, magic, sizeof(magic), 4096) == sizeof(magic) &&
		memcmp(magic, "SIXFS\0sb", sizeof(magic)) == 0;
	close(fd);
	return found;
}

static const char *disk_from(const char *variable, const char *fallback)
{
	const char *disk = getenv(variable);

	return disk ? disk : fallback;
}

TEST_F(mount, valid_superblock_is_read_and_mount_not_yet_supported)
{
	const char *disk = disk_from("SIXFS_VALID_DISK", "/dev/vdb");

	if (!has_sixfs_magic(disk))
		SKIP(return, "no sixfs disk at %s", disk);
	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	ASSERT_EQ(EOPNOTSUPP, errno);
	ASSERT_TRUE(kmsg_contains("valid sixfs superblock (version 1, sequence 1)"));
}

TEST_F(mount, corrupt_superblock_is_refused_with_einval)
{
	const char *disk = disk_from("SIXFS_CORRUPT_DISK", "/dev/vdc");

	if (!has_sixfs_magic(disk))
		SKIP(return, "no sixfs disk at %s", disk);
	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmsg_contains("invalid sixfs superblock: BadChecksum"));
}

TEST_F(mount, missing_device_is_refused_with_enoent)
{
	ASSERT_EQ(-1, mount("/dev/sixfs-no-such-device", self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(ENOENT, errno);
}

TEST_F(mount, directory_is_refused_with_enotblk)
{
	ASSERT_EQ(-1, mount("/tmp", self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(ENOTBLK, errno);
}

TEST_HARNESS_MAIN
