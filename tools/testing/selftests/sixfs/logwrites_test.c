// SPDX-License-Identifier: GPL-2.0
/*
 * Power cuts on the real kernel, with dm-log-writes (the method of
 * xfstests' log-writes tests; the replayer here is our own).
 *
 * Recording: the filesystem on the data disk is mounted through
 * /dev/mapper/sixfs-lw, a dm-log-writes device that passes every I/O to
 * the data disk and logs each write, flush, FUA write and discard, in the
 * order they reached the disk, on the log disk. A series of perf_test
 * workloads runs on it (journal_flush_delay short, so the journal thread
 * writes entries on its own too), some followed by syncfs, one by a
 * checkpoint, some with a thread calling syncfs in a loop meanwhile; after
 * each syncfs or checkpoint has returned, a MARK "durable-N" goes in the
 * log: the first N workloads are durable from there on.
 *
 * Replay: the log is parsed here (the format of drivers/md/dm-log-writes.c:
 * a super block at sector 0, then per entry one sector of struct
 * log_write_entry, followed by the data written, nr_sectors sectors, none
 * for a discard or a mark) and applied, from the disk as it was before the
 * recording, onto the scratch disk up to each replay point: after every
 * flush and FUA write (what a power cut there leaves on a disk that had
 * written everything it acknowledged), after every mark, at random points
 * between (only some of the writes before the next flush made it), and at
 * the end. At each point the scratch disk is mounted (read-only, every
 * fourth point read-write), which replays the journal, and:
 *
 *  - the mount succeeds (the guest run fails on any oops or WARNING);
 *  - `check` passes;
 *  - every workload made durable by a mark before the point verifies;
 *  - a workload not durable yet verifies or is missing keys (EIO), nothing
 *    else; and the durable commits form a prefix: a workload whose keys
 *    are all there (each writes keys no earlier one did) means every
 *    earlier one is whole too (Documentation/journal.rst's promise);
 *  - the unmount succeeds.
 *
 * The last line is a summary: "log-writes: N replay points, N mounts, all
 * consistent" (or how many were not). A failing point's image is left on
 * the scratch disk, and the kernel log has "logwrites_test: point ..."
 * before each mount.
 *
 * The disks (scripts/check.sh): /dev/vdj (SIXFS_LW_DATA) made by mkfs.sixfs
 * with 4 KiB nodes, /dev/vdk (SIXFS_LW_LOG) the log, /dev/vdl
 * (SIXFS_LW_SCRATCH) the scratch disk, as big as the data disk. Skipped
 * when one is missing or without device mapper. SIXFS_LW_SEED picks the
 * random points, SIXFS_LW_RANDOM how many (20), SIXFS_LW_MAX_FLUSH at most
 * how many flush points (every one up to it, else evenly spread; 150).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <pthread.h>
#include <time.h>
#include <linux/fs.h>
#include <sys/mount.h>
#include "kselftest_harness.h"
#include "sixfs_util.h"

#define LW_NAME "sixfs-lw"
#define LW_NODE "/dev/mapper/" LW_NAME

/* The log's format (drivers/md/dm-log-writes.c). */
#define LOG_FLUSH_FLAG (1 << 0)
#define LOG_FUA_FLAG (1 << 1)
#define LOG_DISCARD_FLAG (1 << 2)
#define LOG_MARK_FLAG (1 << 3)
#define LOG_METADATA_FLAG (1 << 4)
#define LOG_MAGIC 0x6a736677736872ULL
#define LOG_VERSION 1

struct log_super {
	uint64_t magic;
	uint64_t version;
	uint64_t nr_entries;
	uint32_t sectorsize;
} __attribute__((packed));

struct log_entry {
	uint64_t sector;
	uint64_t nr_sectors;
	uint64_t flags;
	uint64_t data_len;
};

/* What the replay keeps of an entry. */
struct entry {
	uint64_t sector;	/* in the log's sectors */
	uint64_t nr_sectors;
	uint64_t flags;
	uint64_t data_offset;	/* of the data, in bytes on the log disk */
	int durable;		/* a "durable-N" mark: N; else -1 */
};

/* What follows a workload. */
enum after { NOTHING, SYNCFS, CHECKPOINT };

/*
 * The workloads, in order. Each writes keys no earlier one wrote (values
 * are the keys' offsets, so overlaps agree): rand_* thread t draws from
 * its own sequence, seq_insert N T writes 0..N.
 */
static const struct step {
	const char *workload;
	enum after after;
	bool syncer;	/* a thread calls syncfs in a loop meanwhile */
} steps[] = {
	{ "rand_insert 300 1", SYNCFS, false },
	{ "seq_insert 600 2", NOTHING, false },
	{ "rand_insert_multi 800 2", SYNCFS, true },
	{ "seq_insert 1200 3", CHECKPOINT, false },
	{ "rand_insert 1000 1", NOTHING, true },
	{ "seq_insert 1800 2", SYNCFS, true },
	{ "rand_insert_multi 1500 3", NOTHING, false },
	{ "seq_insert 2400 4", SYNCFS, false },
};
#define NR_STEPS ((int)(sizeof(steps) / sizeof(steps[0])))

static long env_or(const char *name, long fallback)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : fallback;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A line in the kernel log, to tie its messages to a replay point. */
static void kmsg_say(const char *line)
{
	write_file("/dev/kmsg", line);
}

/* Reads or writes all of @len at @offset of @fd; 0 or -errno. */
static int full_io(int fd, bool write, void *buf, size_t len, uint64_t offset)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, buf, len, offset) : pread(fd, buf, len, offset);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (char *)buf + n;
		len -= n;
		offset += n;
	}
	return 0;
}

struct syncer {
	pthread_t thread;
	int fd;
	volatile bool stop;
	int syncs, errors;
};

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;

	while (!s->stop) {
		if (syncfs(s->fd))
			s->errors++;
		s->syncs++;
		usleep(2000);
	}
	return NULL;
}

FIXTURE(lw) {
	char dir[64];
	char perf[128];
	char table[160];
	const char *data, *log, *scratch;
	uint64_t sectors;	/* of the data disk, 512-byte */
	uint8_t *initial;	/* the data disk before the recording */
	uint8_t *img;		/* the replayed disk */
	size_t bytes;
	int log_fd, scratch_fd;
	uint32_t ss;		/* the log's sector size */
	struct entry *e;
	size_t n;		/* entries */
	size_t applied;		/* entries applied to img */
	bool created;
};

FIXTURE_SETUP(lw)
{
	self->data = getenv("SIXFS_LW_DATA") ? getenv("SIXFS_LW_DATA") : "/dev/vdj";
	self->log = getenv("SIXFS_LW_LOG") ? getenv("SIXFS_LW_LOG") : "/dev/vdk";
	self->scratch = getenv("SIXFS_LW_SCRATCH") ? getenv("SIXFS_LW_SCRATCH") : "/dev/vdl";
	self->log_fd = self->scratch_fd = -1;
	if (access(self->data, R_OK) || access(self->log, R_OK) || access(self->scratch, R_OK))
		SKIP(return, "no disks %s, %s, %s", self->data, self->log, self->scratch);
	if (!dm_available())
		SKIP(return, "no device mapper (%s)", DM_CONTROL);
	sixfs_unload();
	ASSERT_EQ(0, sixfs_load());
	strcpy(self->dir, "/tmp/sixfs-lw-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	self->sectors = disk_sectors(self->data);
	ASSERT_GT(self->sectors, 0);
	ASSERT_LE(self->sectors, disk_sectors(self->scratch));
	self->bytes = self->sectors * 512;
	ASSERT_EQ(0, posix_memalign((void **)&self->img, 4096, self->bytes));
	ASSERT_EQ(0, posix_memalign((void **)&self->initial, 4096, self->bytes));
	ASSERT_EQ(0, perf_path(self->data, self->perf, sizeof(self->perf)));
	dm_remove(LW_NAME);	/* a leftover of a failed run */

	/* A known start, whatever an earlier run left: no keys, clean. */
	ASSERT_EQ(0, mount(self->data, self->dir, "sixfs", 0, NULL));
	ASSERT_EQ(0, perf(self->perf, "reset"));
	ASSERT_EQ(0, umount(self->dir));
}

FIXTURE_TEARDOWN(lw)
{
	umount(self->dir);
	if (self->created)
		EXPECT_EQ(0, dm_remove(LW_NAME));
	rmdir(self->dir);
	if (self->log_fd >= 0)
		close(self->log_fd);
	if (self->scratch_fd >= 0)
		close(self->scratch_fd);
	free(self->img);
	free(self->initial);
	free(self->e);
	sixfs_unload();
}

/* The whole of @disk into @buf (@self->bytes), past the page cache. */
static int read_disk(FIXTURE_DATA(lw) *self, const char *disk, uint8_t *buf)
{
	int fd = open(disk, O_RDONLY | O_DIRECT);
	int ret;

	if (fd < 0)
		return -errno;
	ret = full_io(fd, false, buf, self->bytes, 0);
	close(fd);
	return ret;
}

/* Zeroes the log's super block, so that a stale one is never read. */
static int clear_log(const char *log)
{
	uint8_t *zero;
	int fd = open(log, O_WRONLY | O_DIRECT);
	int ret;

	if (fd < 0)
		return -errno;
	if (posix_memalign((void **)&zero, 4096, 4096)) {
		close(fd);
		return -ENOMEM;
	}
	memset(zero, 0, 4096);
	ret = full_io(fd, true, zero, 4096, 0);
	free(zero);
	close(fd);
	return ret;
}

static int mark(int durable)
{
	char message[64];

	snprintf(message, sizeof(message), "mark durable-%d", durable);
	return dm_message(LW_NAME, message);
}

/* The recording: the workloads on the dm-log-writes device. */
static void record(struct __test_metadata *_metadata, FIXTURE_DATA(lw) *self)
{
	struct syncer s = { 0 };
	int i, fd;

	ASSERT_EQ(0, clear_log(self->log));
	snprintf(self->table, sizeof(self->table), "%s %s", self->data, self->log);
	ASSERT_EQ(0, dm_create(LW_NAME, self->sectors, "log-writes", self->table)) {
		TH_LOG("cannot create %s: log-writes %s", LW_NODE, self->table);
	}
	self->created = true;
	ASSERT_EQ(0, mount(LW_NODE, self->dir, "sixfs", 0, "journal_flush_delay=20"));
	fd = open(self->dir, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	for (i = 0; i < NR_STEPS; i++) {
		if (steps[i].syncer) {
			s.fd = fd;
			s.stop = false;
			ASSERT_EQ(0, pthread_create(&s.thread, NULL, syncer_main, &s));
		}
		EXPECT_EQ(0, perf(self->perf, steps[i].workload)) {
			TH_LOG("workload %s failed", steps[i].workload);
		}
		if (steps[i].syncer) {
			s.stop = true;
			pthread_join(s.thread, NULL);
		}
		switch (steps[i].after) {
		case NOTHING:
			/* A few flush delays: entries written with no flush. */
			usleep(100 * 1000);
			break;
		case SYNCFS:
			ASSERT_EQ(0, syncfs(fd));
			ASSERT_EQ(0, mark(i + 1));
			break;
		case CHECKPOINT:
			ASSERT_EQ(0, perf(self->perf, "sync"));
			ASSERT_EQ(0, mark(i + 1));
			break;
		}
	}
	EXPECT_EQ(0, s.errors);
	close(fd);
	/* A clean unmount makes everything durable. */
	ASSERT_EQ(0, umount(self->dir));
	ASSERT_EQ(0, mark(NR_STEPS));
	/* The target's destructor logs what is left and a last mark. */
	ASSERT_EQ(0, dm_remove(LW_NAME));
	self->created = false;
	TH_LOG("recorded %d workloads, %d background syncfs", NR_STEPS, s.syncs);
}

/* Parses the log disk into self->e. */
static void parse_log(struct __test_metadata *_metadata, FIXTURE_DATA(lw) *self)
{
	struct log_super super;
	uint8_t *sector;
	uint64_t at, nr_entries, i;

	self->log_fd = open(self->log, O_RDONLY);
	ASSERT_LE(0, self->log_fd);
	/* dm-log-writes wrote under the page cache: drop what it holds. */
	ioctl(self->log_fd, BLKFLSBUF, 0);
	ASSERT_EQ(0, full_io(self->log_fd, false, &super, sizeof(super), 0));
	ASSERT_EQ(LOG_MAGIC, le64toh(super.magic));
	ASSERT_EQ(LOG_VERSION, le64toh(super.version));
	self->ss = le32toh(super.sectorsize);
	ASSERT_TRUE(self->ss >= 512 && self->ss <= 4096 && !(self->ss & (self->ss - 1)));
	nr_entries = le64toh(super.nr_entries);
	ASSERT_GT(nr_entries, 0);
	self->e = calloc(nr_entries, sizeof(*self->e));
	sector = malloc(self->ss);
	ASSERT_NE(NULL, self->e);
	ASSERT_NE(NULL, sector);
	at = self->ss;	/* the entries follow the super block's sector */
	for (i = 0; i < nr_entries; i++) {
		struct log_entry le;
		struct entry *e = &self->e[i];

		ASSERT_EQ(0, full_io(self->log_fd, false, sector, self->ss, at));
		memcpy(&le, sector, sizeof(le));
		e->sector = le64toh(le.sector);
		e->nr_sectors = le64toh(le.nr_sectors);
		e->flags = le64toh(le.flags);
		e->durable = -1;
		at += self->ss;
		e->data_offset = at;
		if (e->flags & LOG_MARK_FLAG) {
			uint64_t len = le64toh(le.data_len);
			char name[64] = "";

			ASSERT_LE(len, self->ss - sizeof(le));
			memcpy(name, sector + sizeof(le), len < sizeof(name) - 1 ? len : sizeof(name) - 1);
			if (!strncmp(name, "durable-", 8))
				e->durable = atoi(name + 8);
			else {
				ASSERT_EQ(0, strcmp(name, "dm-log-writes-end")) {
					TH_LOG("entry %lu: unknown mark '%s'", (unsigned long)i, name);
				}
			}
		} else if (!(e->flags & LOG_DISCARD_FLAG)) {
			at += e->nr_sectors * self->ss;
		}
		ASSERT_LE((e->sector + e->nr_sectors) * self->ss, self->bytes) {
			TH_LOG("entry %lu: sectors %lu+%lu beyond the disk", (unsigned long)i,
			       (unsigned long)e->sector, (unsigned long)e->nr_sectors);
		}
	}
	free(sector);
	self->n = nr_entries;
	/* Logging never stopped (the log disk did not fill): the last mark is there. */
	ASSERT_TRUE(self->e[self->n - 1].flags & LOG_MARK_FLAG) {
		TH_LOG("the log does not end with the target's last mark: it ran out of space?");
	}
	TH_LOG("log: %lu entries, %lu MiB, %u-byte sectors", (unsigned long)self->n,
	       (unsigned long)(at >> 20), self->ss);
}

/* Brings self->img to the disk after the first @p entries. */
static void replay_to(struct __test_metadata *_metadata, FIXTURE_DATA(lw) *self, size_t p)
{
	if (p < self->applied) {
		memcpy(self->img, self->initial, self->bytes);
		self->applied = 0;
	}
	for (; self->applied < p; self->applied++) {
		struct entry *e = &self->e[self->applied];
		uint8_t *at = self->img + e->sector * self->ss;
		size_t len = e->nr_sectors * self->ss;

		if (e->flags & LOG_MARK_FLAG)
			continue;
		if (e->flags & LOG_DISCARD_FLAG)
			memset(at, 0, len);
		else if (len)
			ASSERT_EQ(0, full_io(self->log_fd, false, at, len, e->data_offset));
	}
}

/* The replayer's own check: the whole log gives the data disk as it is. */
static void check_replayer(struct __test_metadata *_metadata, FIXTURE_DATA(lw) *self)
{
	uint8_t *now;

	ASSERT_EQ(0, posix_memalign((void **)&now, 4096, self->bytes));
	ASSERT_EQ(0, read_disk(self, self->data, now));
	replay_to(_metadata, self, self->n);
	EXPECT_EQ(0, memcmp(now, self->img, self->bytes)) {
		TH_LOG("the whole log replayed is not the data disk");
	}
	free(now);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static const char *flags_name(uint64_t flags)
{
	static char s[64];

	snprintf(s, sizeof(s), "%s%s%s%s%s", flags & LOG_FLUSH_FLAG ? "flush " : "",
		 flags & LOG_FUA_FLAG ? "fua " : "", flags & LOG_DISCARD_FLAG ? "discard " : "",
		 flags & LOG_MARK_FLAG ? "mark " : "", flags & LOG_METADATA_FLAG ? "meta " : "");
	return s[0] ? s : "write ";
}

/*
 * The checks at point @p (the first @p entries replayed), mounted
 * read-write when @rw; returns how many failed.
 */
static int check_point(struct __test_metadata *_metadata, FIXTURE_DATA(lw) *self,
		       int index, size_t p, bool rw)
{
	const char *what = p ? flags_name(self->e[p - 1].flags) : "start ";
	bool full[NR_STEPS];
	char line[160], cmd[96];
	int durable = 0, failed = 0, ret, j;
	size_t i;

	for (i = 0; i < p; i++)
		if (self->e[i].durable > durable)
			durable = self->e[i].durable;
	snprintf(line, sizeof(line),
		 "logwrites_test: point %d: %zu of %zu entries (last %s), %d workloads durable, %s mount",
		 index, p, self->n, what, durable, rw ? "rw" : "ro");
	kmsg_say(line);

#define POINT_FAIL(fmt, ...)							\
	do {									\
		failed++;							\
		TH_LOG("point %d (%zu of %zu entries, last %s; %d durable, %s): " fmt, \
		       index, p, self->n, what, durable, rw ? "rw" : "ro", ##__VA_ARGS__); \
	} while (0)

	ret = mount(self->scratch, self->dir, "sixfs", rw ? 0 : MS_RDONLY, NULL);
	if (ret) {
		POINT_FAIL("mount failed: %s", strerror(errno));
		return failed;
	}
	ret = perf(self->perf, "check");
	if (ret)
		POINT_FAIL("check: %d", ret);
	for (j = 0; j < NR_STEPS; j++) {
		snprintf(cmd, sizeof(cmd), "verify %s", steps[j].workload);
		ret = perf(self->perf, cmd);
		full[j] = ret == 0;
		if (j < durable && ret)
			POINT_FAIL("durable workload %d (%s) lost keys: %d", j, steps[j].workload, ret);
		else if (ret && ret != -EIO)
			POINT_FAIL("workload %d (%s): verify says %d, not 0 or -EIO", j,
				   steps[j].workload, ret);
	}
	for (j = NR_STEPS - 1; j > 0; j--)
		if (full[j] && !full[j - 1]) {
			POINT_FAIL("not a prefix: workload %d (%s) whole, %d (%s) not", j,
				   steps[j].workload, j - 1, steps[j - 1].workload);
			break;
		}
	ret = umount(self->dir);
	if (ret)
		POINT_FAIL("umount: %s", strerror(errno));
	return failed;
#undef POINT_FAIL
}

TEST_F_TIMEOUT(lw, power_cuts_at_every_flush_and_between_come_back_consistent, 1800)
{
	long seed = env_or("SIXFS_LW_SEED", time(NULL) % 100000);
	long nr_random = env_or("SIXFS_LW_RANDOM", 20);
	long max_flush = env_or("SIXFS_LW_MAX_FLUSH", 150);
	size_t *points, nr_points = 0, nr_flush = 0, i, k;
	int failures = 0, failed_points = 0, mounts = 0;
	size_t first_failed = (size_t)-1;
	double t0 = now_s(), t1;

	ASSERT_EQ(0, read_disk(self, self->data, self->initial));
	record(_metadata, self);
	t1 = now_s();
	parse_log(_metadata, self);
	memcpy(self->img, self->initial, self->bytes);
	self->scratch_fd = open(self->scratch, O_RDWR | O_DIRECT);
	ASSERT_LE(0, self->scratch_fd);
	check_replayer(_metadata, self);

	/* The points: flushes (FUA too), marks, random ones, the start and the end. */
	points = calloc(self->n + nr_random + 2, sizeof(*points));
	ASSERT_NE(NULL, points);
	for (i = 0; i < self->n; i++)
		if (self->e[i].flags & (LOG_FLUSH_FLAG | LOG_FUA_FLAG))
			nr_flush++;
	k = 0;
	for (i = 0; i < self->n; i++) {
		if (self->e[i].flags & (LOG_FLUSH_FLAG | LOG_FUA_FLAG)) {
			/* Every one, or max_flush of them evenly spread. */
			if ((long)nr_flush <= max_flush ||
			    (k * max_flush) / nr_flush != ((k + 1) * max_flush) / nr_flush)
				points[nr_points++] = i + 1;
			k++;
		} else if (self->e[i].flags & LOG_MARK_FLAG) {
			points[nr_points++] = i + 1;
		}
	}
	srandom(seed);
	for (i = 0; i < (size_t)nr_random; i++)
		points[nr_points++] = 1 + random() % self->n;
	points[nr_points++] = 0;
	points[nr_points++] = self->n;
	qsort(points, nr_points, sizeof(*points), cmp_size);
	for (i = 1, k = 1; i < nr_points; i++)
		if (points[i] != points[k - 1])
			points[k++] = points[i];
	nr_points = k;
	TH_LOG("%zu flushes or FUA writes, %zu replay points (seed %ld: SIXFS_LW_SEED=%ld)",
	       nr_flush, nr_points, seed, seed);

	for (i = 0; i < nr_points; i++) {
		int failed;

		replay_to(_metadata, self, points[i]);
		ASSERT_EQ(0, full_io(self->scratch_fd, true, self->img, self->bytes, 0));
		failed = check_point(_metadata, self, i, points[i], i % 4 == 3);
		mounts++;
		failures += failed;
		if (failed) {
			failed_points++;
			if (first_failed == (size_t)-1)
				first_failed = points[i];
		}
	}
	if (first_failed != (size_t)-1) {
		/* The first failing point's disk stays on the scratch disk. */
		replay_to(_metadata, self, first_failed);
		ASSERT_EQ(0, full_io(self->scratch_fd, true, self->img, self->bytes, 0));
		TH_LOG("the scratch disk holds the disk at %zu entries", first_failed);
	}
	free(points);
	TH_LOG("recording %.1f s, replays %.1f s", t1 - t0, now_s() - t1);
	if (failed_points)
		printf("# log-writes: %zu replay points, %d mounts, %d inconsistent (%d failures)\n",
		       nr_points, mounts, failed_points, failures);
	else
		printf("# log-writes: %zu replay points, %d mounts, all consistent\n",
		       nr_points, mounts);
	fflush(stdout);
	EXPECT_EQ(0, failed_points);
}

TEST_HARNESS_MAIN
