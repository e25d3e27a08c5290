/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the sixfs kselftests: loading and unloading the module,
 * the kernel log, sysfs and debugfs files, a mount's perf_test file,
 * failing a disk's I/O, device-mapper devices.
 */
#ifndef SIXFS_UTIL_H
#define SIXFS_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Where the guest keeps the module; SIXFS_KO overrides it. */
static inline const char *sixfs_module_path(void)
{
	const char *path = getenv("SIXFS_KO");

	return path ? path : "/sixfs/sixfs.ko";
}

/* Loads sixfs.ko; returns 0 or -errno. */
static inline int sixfs_load(void)
{
	int fd = open(sixfs_module_path(), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(__NR_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Unloads sixfs; returns 0 or -errno: -EWOULDBLOCK while the module is in
 * use (an open file of it, a mount), -ENOENT when it is not loaded.
 */
static inline int sixfs_unload(void)
{
	return syscall(__NR_delete_module, "sixfs", O_NONBLOCK) ? -errno : 0;
}

/* Whether /proc/filesystems lists the type @name. */
static inline bool fs_type_registered(const char *name)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* "nodev\tname\n" or "\tname\n" */
		char *type = strrchr(line, '\t');

		if (type) {
			type[strcspn(type, "\n")] = '\0';
			found = !strcmp(type + 1, name);
		}
	}
	fclose(f);
	return found;
}


/* Whether the kernel log has a line containing @needle; reads /dev/kmsg. */
static inline bool kmsg_contains(const char *needle)
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

/* Writes @value to the file @path; returns 0 or -errno. */
static inline int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -EIO;
}

/* Reads @len bytes at @offset of @disk; 0 or -errno. */
static inline int read_at(const char *disk, uint64_t offset, void *buf, size_t len)
{
	int fd = open(disk, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, offset);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* The mount's perf_test file, from the UUID in @disk's superblock. */
static inline int perf_path(const char *disk, char *path, size_t size)
{
	uint8_t u[16];
	int ret = read_at(disk, 4096 + 0x48, u, sizeof(u));

	if (ret)
		return ret;
	snprintf(path, size,
		 "/sys/kernel/debug/sixfs/%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x/perf_test",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

/* Writes one command to a perf_test file; 0 or -errno of the write. */
static inline int perf(const char *path, const char *command)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;
	int ret;

	if (fd < 0)
		return -errno;
	n = write(fd, command, strlen(command));
	ret = n < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* The size of the block device @disk in 512-byte sectors, or 0. */
static inline uint64_t disk_sectors(const char *disk)
{
	int fd = open(disk, O_RDONLY);
	off_t bytes;

	if (fd < 0)
		return 0;
	bytes = lseek(fd, 0, SEEK_END);
	close(fd);
	return bytes > 0 ? (uint64_t)bytes / 512 : 0;
}

/*
 * Device mapper through its ioctls, as dmsetup drives them (the guest has
 * busybox only, and the kselftests are static): one device of one target,
 * its node made in /dev/mapper by hand (no udev).
 */
#define DM_CONTROL "/dev/mapper/control"
#define DM_BUF_SIZE 16384

union dm_buf {
	struct dm_ioctl io;
	char bytes[DM_BUF_SIZE];
};

static inline void dm_init(union dm_buf *buf, const char *name, uint32_t flags)
{
	memset(buf, 0, sizeof(*buf));
	buf->io.version[0] = DM_VERSION_MAJOR;
	buf->io.data_size = sizeof(*buf);
	buf->io.data_start = sizeof(buf->io);
	buf->io.flags = flags;
	snprintf(buf->io.name, sizeof(buf->io.name), "%s", name);
}

/* One ioctl on the control device; 0 or -errno. */
static inline int dm_call(unsigned long cmd, union dm_buf *buf)
{
	int fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, cmd, buf) ? -errno : 0;
	close(fd);
	return ret;
}

/* Whether the kernel has device mapper (its control device). */
static inline bool dm_available(void)
{
	return access(DM_CONTROL, R_OK | W_OK) == 0;
}

/*
 * Loads the table "0 @sectors @target @params" into the inactive slot of
 * device @name (dmsetup load / reload); dm_resume makes it live.
 */
static inline int dm_load(const char *name, uint64_t sectors, const char *target,
			  const char *params)
{
	union dm_buf buf;
	struct dm_target_spec *spec;

	dm_init(&buf, name, 0);
	buf.io.target_count = 1;
	spec = (struct dm_target_spec *)(buf.bytes + buf.io.data_start);
	spec->sector_start = 0;
	spec->length = sectors;
	snprintf(spec->target_type, sizeof(spec->target_type), "%s", target);
	snprintf((char *)(spec + 1), DM_BUF_SIZE - sizeof(buf.io) - sizeof(*spec), "%s", params);
	return dm_call(DM_TABLE_LOAD, &buf);
}

/*
 * Suspends device @name (dmsetup suspend): in-flight I/O completes first.
 * With @lockfs, as dmsetup does by default, a filesystem mounted on it is
 * frozen (synced) first; without (dmsetup suspend --nolockfs) it is not.
 */
static inline int dm_suspend(const char *name, bool lockfs)
{
	union dm_buf buf;

	dm_init(&buf, name, DM_SUSPEND_FLAG | (lockfs ? 0 : DM_SKIP_LOCKFS_FLAG));
	return dm_call(DM_DEV_SUSPEND, &buf);
}

/* Resumes device @name, the table loaded last becoming live (dmsetup resume). */
static inline int dm_resume(const char *name)
{
	union dm_buf buf;

	dm_init(&buf, name, 0);
	return dm_call(DM_DEV_SUSPEND, &buf);
}

/* Suspends @name, loads a new table and resumes (a live table swap). */
static inline int dm_reload(const char *name, bool lockfs, uint64_t sectors,
			    const char *target, const char *params)
{
	int ret = dm_suspend(name, lockfs);

	if (ret)
		return ret;
	ret = dm_load(name, sectors, target, params);
	if (ret) {
		dm_resume(name);
		return ret;
	}
	return dm_resume(name);
}

/* Removes device @name and its node in /dev/mapper. */
static inline int dm_remove(const char *name)
{
	union dm_buf buf;
	char node[128];

	snprintf(node, sizeof(node), "/dev/mapper/%s", name);
	unlink(node);
	dm_init(&buf, name, 0);
	return dm_call(DM_DEV_REMOVE, &buf);
}

/*
 * Creates device @name with the table "0 @sectors @target @params", live,
 * and its node /dev/mapper/@name (dmsetup create); 0 or -errno.
 */
static inline int dm_create(const char *name, uint64_t sectors, const char *target,
			    const char *params)
{
	union dm_buf buf;
	char node[128];
	int ret;

	dm_init(&buf, name, 0);
	ret = dm_call(DM_DEV_CREATE, &buf);
	if (ret)
		return ret;
	snprintf(node, sizeof(node), "/dev/mapper/%s", name);
	unlink(node);
	if (mknod(node, S_IFBLK | 0600, makedev((buf.io.dev >> 8) & 0xfff,
						(buf.io.dev & 0xff) | ((buf.io.dev >> 12) & 0xfff00)))) {
		ret = -errno;
		dm_remove(name);
		return ret;
	}
	ret = dm_load(name, sectors, target, params);
	if (!ret)
		ret = dm_resume(name);
	if (ret)
		dm_remove(name);
	return ret;
}

/*
 * Sends @message to the target of device @name at sector 0 (dmsetup
 * message NAME 0 MESSAGE), e.g. "mark NAME" to dm-log-writes; 0 or -errno.
 */
static inline int dm_message(const char *name, const char *message)
{
	union dm_buf buf;
	struct dm_target_msg *msg;

	dm_init(&buf, name, 0);
	msg = (struct dm_target_msg *)(buf.bytes + buf.io.data_start);
	msg->sector = 0;
	snprintf(msg->message, DM_BUF_SIZE - sizeof(buf.io) - sizeof(*msg), "%s", message);
	return dm_call(DM_TARGET_MSG, &buf);
}

#define FAIL_MAKE_REQUEST "/sys/kernel/debug/fail_make_request"

/*
 * Makes every I/O to @disk fail (@fail) or not, with the kernel's
 * fail_make_request fault injection; false when the kernel lacks it.
 */
static inline bool fail_disk_io(const char *disk, bool fail)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/block/%s/make-it-fail", strrchr(disk, '/') + 1);
	if (fail && (write_file(FAIL_MAKE_REQUEST "/probability", "100") ||
		     write_file(FAIL_MAKE_REQUEST "/times", "-1") ||
		     write_file(FAIL_MAKE_REQUEST "/verbose", "0")))
		return false;
	return write_file(path, fail ? "1" : "0") == 0;
}

#endif /* SIXFS_UTIL_H */
