// SPDX-License-Identifier: GPL-2.0
/*
 * The debugfs files of sixfs: btree_transactions lists the locks of running
 * transactions (here: the btree perf test's threads), and is empty when
 * nothing runs; perf_test refuses malformed commands; an open file keeps
 * the module loaded.
 */
#include <sys/wait.h>
#include "kselftest_harness.h"
#include "sixfs_util.h"

#define DEBUGFS "/sys/kernel/debug/sixfs/"

/* Reads @path whole into @buf (NUL-terminated); returns the length or -errno. */
static ssize_t read_all(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	return n < 0 ? -errno : (ssize_t)len;
}

/* Writes @command to the perf_test file; returns 0 or -errno. */
static int perf_test(const char *command)
{
	int fd = open(DEBUGFS "perf_test", O_WRONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, command, strlen(command)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Parses one line of the listing, e.g.
 * "trans 12 task 345 path 0 btree 0 pos 0:17:0 level 0 node 9 intent held"
 * or, for the lock a transaction waits for, "... path - ... intent waiting"
 * (read, intent or write: a write lock is listed only while awaited).
 * Returns 1 for a held lock, 0 for an awaited one, -1 for a malformed line.
 */
static int parse_lock_line(const char *line)
{
	unsigned long trans, task, node;
	unsigned int btree, level;
	char path[16], pos[64], type[16], state[16];

	if (sscanf(line, "trans %lu task %lu path %15s btree %u pos %63s level %u node %lu %15s %15s",
		   &trans, &task, path, &btree, pos, &level, &node, type, state) != 9)
		return -1;
	if (!trans || !task)
		return -1;
	if (!strcmp(type, "write"))
		return !strcmp(state, "waiting") && !strcmp(path, "-") ? 0 : -1;
	if (strcmp(type, "read") && strcmp(type, "intent"))
		return -1;
	if (!strcmp(state, "held") && strcmp(path, "-"))
		return 1;
	if (!strcmp(state, "waiting") && !strcmp(path, "-"))
		return 0;
	return -1;
}

FIXTURE(debugfs) {};

FIXTURE_SETUP(debugfs)
{
	sixfs_unload();
	ASSERT_EQ(0, sixfs_load());
}

FIXTURE_TEARDOWN(debugfs)
{
	sixfs_unload();
}

TEST_F(debugfs, btree_transactions_is_empty_when_idle)
{
	char buf[4096];

	ASSERT_EQ(0, read_all(DEBUGFS "btree_transactions", buf, sizeof(buf)));
}

TEST_F(debugfs, btree_transactions_lists_running_transactions)
{
	static char buf[1 << 20];
	int held = 0, waiting = 0, reads = 0, status;
	pid_t child = fork();

	ASSERT_LE(0, child);
	if (child == 0)
		_exit(perf_test("rand_insert 20000 2") ? 1 : 0);

	/* Read the listing for as long as the inserts run. */
	while (waitpid(child, &status, WNOHANG) == 0) {
		ssize_t len = read_all(DEBUGFS "btree_transactions", buf, sizeof(buf));

		ASSERT_LE(0, len);
		reads++;
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
			int kind = parse_lock_line(line);

			ASSERT_LE(0, kind) {
				TH_LOG("unexpected line: %s", line);
			}
			if (kind)
				held++;
			else
				waiting++;
		}
	}
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	TH_LOG("%d held and %d awaited locks listed in %d reads", held, waiting, reads);
	ASSERT_LT(0, held);
	/* Finished: nothing left behind. */
	ASSERT_EQ(0, read_all(DEBUGFS "btree_transactions", buf, sizeof(buf)));
}

/*
 * An open file pins the module: unloading is refused (EWOULDBLOCK, the
 * kernel's answer for a module in use) until the file is closed. Without
 * the pin the module went away under the open file, and closing it ran the
 * file's release from unloaded code: an oops, which fails the guest run.
 */
static void unload_refused_while_open(struct __test_metadata *_metadata,
				      const char *name, int flags)
{
	char buf[4096];
	int fd = open(name, flags | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(-EWOULDBLOCK, sixfs_unload());
	ASSERT_TRUE(fs_type_registered("sixfs"));
	/* Still usable, and still removable once closed. */
	if (flags == O_RDONLY)
		ASSERT_LE(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, sixfs_unload());
	ASSERT_FALSE(fs_type_registered("sixfs"));
}

TEST_F(debugfs, unload_refused_while_btree_transactions_is_open)
{
	unload_refused_while_open(_metadata, DEBUGFS "btree_transactions", O_RDONLY);
}

TEST_F(debugfs, unload_refused_while_perf_test_is_open)
{
	unload_refused_while_open(_metadata, DEBUGFS "perf_test", O_WRONLY);
}

TEST_F(debugfs, perf_test_refuses_malformed_commands)
{
	ASSERT_EQ(-EINVAL, perf_test("rand_insert"));
	ASSERT_EQ(-EINVAL, perf_test("rand_insert many 1"));
	ASSERT_EQ(-EINVAL, perf_test("no_such_workload 10 1"));
}

TEST_HARNESS_MAIN
