// SPDX-License-Identifier: GPL-2.0
/*
 * Mounting sixfs, and the mounts it must refuse cleanly.
 *
 * The disks, as make check passes them (each variable overrides one):
 * /dev/vda holds ext4 (SIXFS_FOREIGN_DISK); /dev/vdb is made by mkfs.sixfs
 * (SIXFS_VALID_DISK); /dev/vdc is the same with a bit of its primary
 * superblock flipped, its backup intact (SIXFS_BACKUP_DISK); /dev/vdd is a
 * second mkfs.sixfs disk (SIXFS_SECOND_DISK); /dev/vde has a bit flipped in
 * both copies (SIXFS_CORRUPT_DISK). A test whose disk is missing is
 * skipped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include "kselftest_harness.h"
#include "sixfs_util.h"

FIXTURE(mount) {
	char dir[64];
	char dir2[64];
};

FIXTURE_SETUP(mount)
{
	sixfs_unload();
	ASSERT_EQ(0, sixfs_load());
	strcpy(self->dir, "/tmp/sixfs-mnt-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	strcpy(self->dir2, "/tmp/sixfs-mnt-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir2));
}

FIXTURE_TEARDOWN(mount)
{
	umount(self->dir);
	umount(self->dir2);
	rmdir(self->dir);
	rmdir(self->dir2);
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

/* syncfs() on the filesystem of @dir; returns 0 or the errno. */
static int syncfs_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	int ret;

	if (fd < 0)
		return errno;
	ret = syncfs(fd) ? errno : 0;
	close(fd);
	return ret;
}

/* The sixfs magic of statfs's f_type ("sixf"). */
#define SIXFS_MAGIC 0x73697866

/* Skips the test unless @disk (from @variable, or @fallback) is a sixfs disk. */
#define SIXFS_DISK(disk, variable, fallback)					\
	const char *disk = disk_from(variable, fallback);			\
	if (!has_sixfs_magic(disk))						\
		SKIP(return, "no sixfs disk at %s", disk)

/*
 * The /proc/mounts line of the mount at @dir, in @line; false when there is
 * none.
 */
static bool mounts_line(const char *dir, char *line, size_t size)
{
	FILE *f = fopen("/proc/mounts", "r");
	char field[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, size, f))
		found = sscanf(line, "%*s %255s", field) == 1 && !strcmp(field, dir);
	fclose(f);
	return found;
}

/* Whether the /proc/mounts line of @dir contains every one of @needles. */
static bool mounted_with(const char *dir, const char *needles[], int count)
{
	char line[1024];

	if (!mounts_line(dir, line, sizeof(line)))
		return false;
	for (int i = 0; i < count; i++)
		if (!strstr(line, needles[i])) {
			fprintf(stderr, "# /proc/mounts: no '%s' in: %s", needles[i], line);
			return false;
		}
	return true;
}

#define MOUNTED_WITH(dir, ...)							\
	({									\
		const char *_needles[] = { __VA_ARGS__ };			\
		mounted_with(dir, _needles, sizeof(_needles) / sizeof(*_needles)); \
	})

/* The names in the directory @dir, space separated, in @names. */
static int list_dir(const char *dir, char *names, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int count = 0;

	if (!d)
		return -errno;
	names[0] = '\0';
	while ((e = readdir(d))) {
		strncat(names, e->d_name, size - strlen(names) - 2);
		strcat(names, " ");
		count++;
	}
	closedir(d);
	return count;
}

/* Tries to create a file in @dir; returns 0 or the errno. */
static int try_create(const char *dir)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno;
}

static uint64_t disk_bytes(const char *disk)
{
	off_t bytes = -1;
	int fd = open(disk, O_RDONLY);

	if (fd >= 0) {
		bytes = lseek(fd, 0, SEEK_END);
		close(fd);
	}
	return bytes < 0 ? 0 : (uint64_t)bytes;
}

TEST_F(mount, valid_disk_mounts_with_an_empty_root)
{
	SIXFS_DISK(disk, "SIXFS_VALID_DISK", "/dev/vdb");
	char names[256];
	struct statfs sfs;
	struct stat st;

	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, "errors=continue"));
	ASSERT_TRUE(kmsg_contains("mounted (rw, errors=continue"));

	/* The root: an empty directory, 0755, owned by root. */
	ASSERT_EQ(0, stat(self->dir, &st));
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(0755, st.st_mode & 07777);
	ASSERT_EQ(0, st.st_uid);
	ASSERT_EQ(2, list_dir(self->dir, names, sizeof(names)));
	ASSERT_TRUE(strstr(names, ". ") && strstr(names, ".. ")) TH_LOG("root lists: %s", names);

	/* Sizes from the superblock: the filesystem spans the 64 MiB disk. */
	ASSERT_EQ(0, statfs(self->dir, &sfs));
	ASSERT_EQ(SIXFS_MAGIC, sfs.f_type);
	ASSERT_EQ(4096, sfs.f_bsize);
	ASSERT_EQ(disk_bytes(disk), (uint64_t)sfs.f_blocks * sfs.f_bsize);
	ASSERT_LT(0, sfs.f_bfree);
	ASSERT_LE(sfs.f_bfree, sfs.f_blocks);
	ASSERT_EQ(255, sfs.f_namelen);

	ASSERT_TRUE(MOUNTED_WITH(self->dir, " sixfs ", " rw,", ",errors=continue"));

	/* Nothing can be made in it yet (the POSIX layer comes later). */
	ASSERT_EQ(EOPNOTSUPP, try_create(self->dir));
	ASSERT_EQ(-1, mkdir(strcat(strcpy(names, self->dir), "/d"), 0755));
	ASSERT_EQ(EOPNOTSUPP, errno);
	ASSERT_EQ(0, syncfs_dir(self->dir));

	ASSERT_EQ(0, umount(self->dir));
}

TEST_F(mount, read_only_mount_refuses_create_with_erofs)
{
	SIXFS_DISK(disk, "SIXFS_VALID_DISK", "/dev/vdb");
	char path[128];

	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	/* The default errors= is shown too. */
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " sixfs ", " ro,", ",errors=remount-ro"));
	ASSERT_EQ(EROFS, try_create(self->dir));
	snprintf(path, sizeof(path), "%s/d", self->dir);
	ASSERT_EQ(-1, mkdir(path, 0755));
	ASSERT_EQ(EROFS, errno);
	ASSERT_EQ(0, umount(self->dir));
}

TEST_F(mount, remount_ro_rw_ro)
{
	SIXFS_DISK(disk, "SIXFS_VALID_DISK", "/dev/vdb");

	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, NULL));
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " rw,", ",errors=remount-ro"));
	ASSERT_EQ(EOPNOTSUPP, try_create(self->dir));

	ASSERT_EQ(0, mount(NULL, self->dir, NULL, MS_REMOUNT | MS_RDONLY, NULL));
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " ro,", ",errors=remount-ro"));
	ASSERT_EQ(EROFS, try_create(self->dir));

	/* Back to rw, changing errors= on the way. */
	ASSERT_EQ(0, mount(NULL, self->dir, NULL, MS_REMOUNT, "errors=panic"));
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " rw,", ",errors=panic"));
	ASSERT_EQ(EOPNOTSUPP, try_create(self->dir));

	/* A bad option refuses the remount and changes nothing. */
	ASSERT_EQ(-1, mount(NULL, self->dir, NULL, MS_REMOUNT | MS_RDONLY, "errors=bogus"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " rw,", ",errors=panic"));

	ASSERT_EQ(0, mount(NULL, self->dir, NULL, MS_REMOUNT | MS_RDONLY, "errors=continue"));
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " ro,", ",errors=continue"));
	ASSERT_EQ(EROFS, try_create(self->dir));
	ASSERT_EQ(0, umount(self->dir));
}

TEST_F(mount, bad_options_are_refused_with_einval_and_named)
{
	SIXFS_DISK(disk, "SIXFS_VALID_DISK", "/dev/vdb");

	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, "foo=1"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmsg_contains("sixfs: Unknown parameter 'foo'"));

	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, "errors=bogus"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmsg_contains("sixfs: Bad value for 'errors'"));

	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, "errors"));
	ASSERT_EQ(EINVAL, errno);

	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, "journal_flush_delay=abc"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmsg_contains("sixfs: Bad value for 'journal_flush_delay'"));
	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, "journal_flush_delay=0"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmsg_contains("journal_flush_delay=0: milliseconds from 1 to 600000"));

	/* norecovery does not write, so it must be read-only. */
	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", 0, "norecovery"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmsg_contains("norecovery mounts read-only only"));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, "norecovery,journal_flush_delay=250"));
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " ro,", ",journal_flush_delay=250,norecovery"));
	/* Going read-write would drop the journal it did not replay. */
	ASSERT_EQ(-1, mount(NULL, self->dir, NULL, MS_REMOUNT, NULL));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmsg_contains("a norecovery mount stays read-only"));
	ASSERT_EQ(0, umount(self->dir));

	/* Nothing was left mounted, and ro/rw are the VFS's. */
	ASSERT_FALSE(MOUNTED_WITH(self->dir, " sixfs "));
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, "ro,errors=panic"));
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " ro,", ",errors=panic"));
	ASSERT_EQ(0, umount(self->dir));
}

TEST_F(mount, corrupt_primary_mounts_from_the_backup)
{
	SIXFS_DISK(disk, "SIXFS_BACKUP_DISK", "/dev/vdc");

	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	ASSERT_TRUE(kmsg_contains("primary superblock invalid (Invalid(BadChecksum"));
	ASSERT_TRUE(kmsg_contains("mounting from the backup"));
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " sixfs ", " ro,"));
	ASSERT_EQ(0, umount(self->dir));
}

TEST_F(mount, two_filesystems_mounted_at_once)
{
	SIXFS_DISK(first, "SIXFS_VALID_DISK", "/dev/vdb");
	const char *second = disk_from("SIXFS_SECOND_DISK", "/dev/vdd");
	struct statfs a, b;

	if (!has_sixfs_magic(second))
		SKIP(return, "no second sixfs disk at %s", second);
	ASSERT_EQ(0, mount(first, self->dir, "sixfs", 0, "errors=continue"));
	ASSERT_EQ(0, mount(second, self->dir2, "sixfs", MS_RDONLY, "errors=panic"));
	ASSERT_TRUE(MOUNTED_WITH(self->dir, " rw,", ",errors=continue"));
	ASSERT_TRUE(MOUNTED_WITH(self->dir2, " ro,", ",errors=panic"));
	ASSERT_EQ(0, statfs(self->dir, &a));
	ASSERT_EQ(0, statfs(self->dir2, &b));
	ASSERT_EQ(SIXFS_MAGIC, a.f_type);
	ASSERT_EQ(SIXFS_MAGIC, b.f_type);
	/* Different filesystems: different UUIDs, so different fsids. */
	ASSERT_NE(0, memcmp(&a.f_fsid, &b.f_fsid, sizeof(a.f_fsid)));
	ASSERT_EQ(0, umount(self->dir2));
	ASSERT_EQ(0, umount(self->dir));
}

TEST_F(mount, unload_is_refused_while_mounted)
{
	SIXFS_DISK(disk, "SIXFS_VALID_DISK", "/dev/vdb");

	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	ASSERT_EQ(-EWOULDBLOCK, sixfs_unload());
	ASSERT_TRUE(fs_type_registered("sixfs"));
	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, sixfs_unload());
	ASSERT_FALSE(fs_type_registered("sixfs"));
	ASSERT_EQ(0, sixfs_load());
}

TEST_F(mount, both_superblocks_corrupt_is_refused_with_einval)
{
	SIXFS_DISK(disk, "SIXFS_CORRUPT_DISK", "/dev/vde");

	ASSERT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_TRUE(kmsg_contains("invalid sixfs superblock: Invalid(BadChecksum"));
}

TEST_F(mount, device_errors_reach_the_caller_as_eio)
{
	SIXFS_DISK(disk, "SIXFS_SECOND_DISK", "/dev/vdd");

	if (!fail_disk_io(disk, true))
		SKIP(return, "no fail_make_request fault injection");
	/* Every read fails: the mount, with EIO and a line saying why. */
	EXPECT_EQ(-1, mount(disk, self->dir, "sixfs", MS_RDONLY, NULL));
	EXPECT_EQ(EIO, errno);
	EXPECT_TRUE(kmsg_contains("cannot read the superblock"));
	ASSERT_TRUE(fail_disk_io(disk, false));

	/*
	 * Mounted, then the device fails: syncfs's flush gets EIO, and
	 * errors=remount-ro (the default) stops writes.
	 */
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, NULL));
	ASSERT_TRUE(fail_disk_io(disk, true));
	EXPECT_EQ(EIO, syncfs_dir(self->dir));
	EXPECT_TRUE(kmsg_contains("read-only from now on (errors=remount-ro)"));
	/* Unmounting still works. */
	EXPECT_EQ(0, umount(self->dir));
	ASSERT_TRUE(fail_disk_io(disk, false));

	/* errors=continue: the unmount tries, and says what it could not do. */
	ASSERT_EQ(0, mount(disk, self->dir, "sixfs", 0, "errors=continue"));
	ASSERT_TRUE(fail_disk_io(disk, true));
	EXPECT_EQ(EIO, syncfs_dir(self->dir));
	EXPECT_EQ(0, umount(self->dir));
	EXPECT_TRUE(kmsg_contains("the filesystem keeps its last checkpoint"));
	ASSERT_TRUE(fail_disk_io(disk, false));
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
