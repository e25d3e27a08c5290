/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the sixfs kselftests: loading and unloading the module,
 * the kernel log, sysfs and debugfs files, failing a disk's I/O.
 */
#ifndef SIXFS_UTIL_H
#define SIXFS_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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
