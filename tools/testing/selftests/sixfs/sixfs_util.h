/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the sixfs kselftests: loading and unloading the module. */
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

#endif /* SIXFS_UTIL_H */
