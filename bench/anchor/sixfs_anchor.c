// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark anchors for sixfs: bcachefs's six lock (exported by bcachefs.ko)
 * and the kernel's rw_semaphore, run with exactly the workloads, random
 * sequence, thread start barrier and report format of sixfs's perf_test
 * (rust/perf/: mod.rs, rng.rs, locks.rs), so that one boot compares them.
 *
 *   echo "bch_six_mixed_one 1M 2" > /sys/kernel/debug/sixfs_anchor/perf_test
 *
 * Names are LOCK_WORKLOAD with LOCK bch_six or rwsem and WORKLOAD one of
 * read, intent, write, mixed_one, mixed_many; or maple_WORKLOAD for the
 * kernel's maple tree (the in-memory B-tree anchor of sixfs's btree
 * perf_test) with WORKLOAD one of rand_insert, rand_lookup, seq_insert,
 * seq_lookup, seq_delete, reset. The maple tree persists between commands,
 * as the btree does for bcachefs's and sixfs's perf_test. The report goes to
 * the kernel log, as bcachefs's perf_test does.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/maple_tree.h>
#include <linux/module.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include "six.h"

#define MANY_LOCKS 1024
#define MAX_THREADS 64

/* xorshift64*, as rust/perf/rng.rs */
struct rng { u64 s; };

static void rng_init(struct rng *r, u64 seed)
{
	r->s = (seed * 0x9e3779b97f4a7c15ULL) | 1;
}

static u64 rng_next(struct rng *r)
{
	u64 x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static u64 rng_below(struct rng *r, u64 bound)
{
	return ((unsigned __int128)rng_next(r) * bound) >> 64;
}

enum lock_kind { BCH_SIX, RWSEM, MAPLE };
enum workload {
	W_READ, W_INTENT, W_WRITE, W_MIXED_ONE, W_MIXED_MANY,
	W_RAND_INSERT, W_RAND_LOOKUP, W_SEQ_INSERT, W_SEQ_LOOKUP, W_SEQ_DELETE, W_RESET,
	W_NR,
};

static const char * const workload_names[W_NR] = {
	"read", "intent", "write", "mixed_one", "mixed_many",
	"rand_insert", "rand_lookup", "seq_insert", "seq_lookup", "seq_delete", "reset",
};

/* Keys a sequential walk visits between two chances to reschedule. */
#define SEQ_CHUNK 1024

/* The maple tree of the maple_* workloads: it persists between commands. */
static DEFINE_MTREE(perf_mt);

/* One thread's share of a maple tree workload; returns failures. */
static u64 maple_work(enum workload workload, struct rng *rng, unsigned int thread, u64 n)
{
	u64 i, bad = 0, first = thread * n;

	switch (workload) {
	case W_RAND_INSERT:
		for (i = 0; i < n; i++) {
			unsigned long key = rng_next(rng) >> 1;

			bad += mtree_store(&perf_mt, key, xa_mk_value(key & LONG_MAX), GFP_KERNEL) != 0;
			/* The perf kernel does not preempt: yield as sixfs's loops do. */
			cond_resched();
		}
		break;
	case W_RAND_LOOKUP:
		for (i = 0; i < n; i++) {
			mtree_load(&perf_mt, rng_next(rng) >> 1);
			cond_resched();
		}
		break;
	case W_SEQ_INSERT:
		for (i = first; i < first + n; i++) {
			bad += mtree_store(&perf_mt, i, xa_mk_value(i), GFP_KERNEL) != 0;
			cond_resched();
		}
		break;
	case W_SEQ_LOOKUP: {
		/* In chunks, leaving RCU and yielding between them, as sixfs's walk does. */
		unsigned long from = first, last = first + n - 1;
		u64 seen = 0;

		while (n) {
			unsigned long to = min(last, from + SEQ_CHUNK - 1), index = from;
			void *entry;

			rcu_read_lock();
			mt_for_each(&perf_mt, entry, index, to)
				seen++;
			rcu_read_unlock();
			cond_resched();
			if (to == last)
				break;
			from = to + 1;
		}
		break;
	}
	case W_SEQ_DELETE:
		for (i = first; i < first + n; i++)
			mtree_erase(&perf_mt, i);
		break;
	default:
		break;
	}
	return bad;
}

/*
 * Each on its own cache line, as Guarded in rust/perf/locks.rs, so that threads
 * on their own locks never share one and both harnesses have the same layout.
 * kvcalloc() gives naturally aligned power-of-two sizes, or pages.
 */
struct guarded {
	union {
		struct six_lock six;
		struct rw_semaphore sem;
	};
	atomic64_t writers;
} ____cacheline_aligned_in_smp;

struct run {
	enum lock_kind kind;
	enum workload workload;
	struct guarded *locks;
	u64 per_thread;
	unsigned int threads;
	atomic_t started, finished;
	atomic64_t violations;
	u64 start, end;
	struct completion done;
};

/* One operation, as one_op() in rust/perf/locks.rs. */
static u64 one_op(enum lock_kind kind, struct guarded *g, u64 op)
{
	u64 bad = 0;

	if (op < 70) {
		if (kind == BCH_SIX)
			six_lock_read(&g->six, NULL, NULL);
		else
			down_read(&g->sem);
		bad += atomic64_read(&g->writers) != 0;
		if (kind == BCH_SIX)
			six_unlock_read(&g->six);
		else
			up_read(&g->sem);
	} else if (op < 90) {
		if (kind == BCH_SIX) {
			six_lock_intent(&g->six, NULL, NULL);
			six_unlock_intent(&g->six);
		} else {
			down_write(&g->sem);
			up_write(&g->sem);
		}
	} else {
		if (kind == BCH_SIX) {
			six_lock_intent(&g->six, NULL, NULL);
			six_lock_write(&g->six, NULL, NULL);
		} else {
			down_write(&g->sem);
		}
		bad += atomic64_fetch_add_relaxed(1, &g->writers);
		atomic64_sub(1, &g->writers);
		if (kind == BCH_SIX) {
			six_unlock_write(&g->six);
			six_unlock_intent(&g->six);
		} else {
			up_write(&g->sem);
		}
	}
	return bad;
}

/* One thread's share of a lock workload; returns violations. */
static u64 lock_work(struct run *run, struct rng *rng, unsigned int thread)
{
	u64 i, bad = 0;

	for (i = 0; i < run->per_thread; i++) {
		struct guarded *g;
		u64 op;

		switch (run->workload) {
		case W_READ:	g = &run->locks[thread]; op = 0; break;
		case W_INTENT:	g = &run->locks[thread]; op = 70; break;
		case W_WRITE:	g = &run->locks[thread]; op = 90; break;
		case W_MIXED_ONE:
			g = &run->locks[0];
			op = rng_below(rng, 100);
			break;
		default:
			g = &run->locks[rng_below(rng, MANY_LOCKS)];
			op = rng_below(rng, 100);
			break;
		}
		bad += one_op(run->kind, g, op);
	}
	return bad;
}

static int thread_main(void *arg, unsigned int thread)
{
	struct run *run = arg;
	struct rng rng;
	u64 bad;

	rng_init(&rng, thread + 1);
	if (atomic_inc_return(&run->started) == READ_ONCE(run->threads))
		run->start = ktime_get_ns();
	while (atomic_read(&run->started) < READ_ONCE(run->threads))
		cpu_relax();

	if (run->kind == MAPLE)
		bad = maple_work(run->workload, &rng, thread, run->per_thread);
	else
		bad = lock_work(run, &rng, thread);
	atomic64_add(bad, &run->violations);

	if (atomic_inc_return(&run->finished) == READ_ONCE(run->threads)) {
		run->end = ktime_get_ns();
		complete(&run->done);
	}
	return 0;
}

struct thread_arg { struct run *run; unsigned int index; };

static int kthread_main(void *p)
{
	struct thread_arg *a = p;

	return thread_main(a->run, a->index);
}

static int run_test(const char *name, enum lock_kind kind, enum workload workload,
		    u64 count, unsigned int threads)
{
	static struct thread_arg args[MAX_THREADS];
	unsigned int nr_locks = workload == W_MIXED_ONE ? 1 :
		workload == W_MIXED_MANY ? MANY_LOCKS : threads;
	struct run run = {
		.kind = kind, .workload = workload, .threads = threads,
		.per_thread = div_u64(count, threads),
	};
	u64 nanos, total;
	unsigned int i;
	int ret = 0;

	if (kind == MAPLE) {
		if (workload == W_RESET) {
			mtree_destroy(&perf_mt);
			return 0;
		}
		nr_locks = 1;	/* unused */
	}
	run.locks = kvcalloc(nr_locks, sizeof(*run.locks), GFP_KERNEL);
	if (!run.locks)
		return -ENOMEM;
	for (i = 0; i < nr_locks; i++) {
		if (kind == BCH_SIX)
			six_lock_init(&run.locks[i].six, 0);
		else if (kind == RWSEM)
			init_rwsem(&run.locks[i].sem);
	}
	init_completion(&run.done);

	for (i = 0; i < threads; i++) {
		struct task_struct *t;

		args[i] = (struct thread_arg) { .run = &run, .index = i };
		t = kthread_run(kthread_main, &args[i], "sixfs_anchor/%u", i);
		if (IS_ERR(t)) {
			pr_err("perf_test: cannot start threads\n");
			ret = PTR_ERR(t);
			/* Release the started ones from the barrier, then wait. */
			WRITE_ONCE(run.threads, i);
			while (atomic_read(&run.finished) < i)
				msleep(10);
			break;
		}
	}
	if (!ret)
		wait_for_completion(&run.done);

	if (!ret && atomic64_read(&run.violations)) {
		pr_err("perf_test: %s: %s\n", name,
		       kind == MAPLE ? "insert failed" : "ExclusionViolated");
		ret = -EIO;
	}
	if (!ret) {
		nanos = run.end - run.start;
		total = run.per_thread * threads;
		pr_info("%s: %llu with %u threads in %llu sec, %llu nsec per iter, %llu per sec\n",
			name, total, threads, div_u64(nanos, NSEC_PER_SEC),
			div64_u64(nanos * threads, total),
			div64_u64(total * NSEC_PER_SEC, max(nanos, 1ULL)));
	}
	if (kind == BCH_SIX)
		for (i = 0; i < nr_locks; i++)
			six_lock_exit(&run.locks[i].six);
	kvfree(run.locks);
	return ret;
}

static u64 parse_count(const char *s)
{
	char *end;
	u64 n = simple_strtoull(s, &end, 10);

	switch (*end) {
	case 'K': case 'k': n *= 1000ULL; break;
	case 'M': case 'm': n *= 1000000ULL; break;
	case 'G': case 'g': n *= 1000000000ULL; break;
	}
	return n;
}

static DEFINE_MUTEX(perf_test_lock);

static ssize_t perf_test_write(struct file *file, const char __user *ubuf,
			       size_t len, loff_t *ppos)
{
	char *buf, name[64], count_s[32];
	unsigned int threads, i;
	enum lock_kind kind;
	const char *w;
	u64 count;
	int ret = -EINVAL;

	if (len > 256)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	if (sscanf(buf, "%63s %31s %u", name, count_s, &threads) != 3 ||
	    !threads || threads > MAX_THREADS ||
	    (count = parse_count(count_s)) < threads) {
		pr_err("perf_test: %s: expected NAME COUNT THREADS\n", buf);
		goto out;
	}
	if (!strncmp(name, "bch_six_", 8)) {
		kind = BCH_SIX;
		w = name + 8;
	} else if (!strncmp(name, "rwsem_", 6)) {
		kind = RWSEM;
		w = name + 6;
	} else if (!strncmp(name, "maple_", 6)) {
		kind = MAPLE;
		w = name + 6;
	} else {
		pr_err("perf_test: unknown test %s\n", name);
		goto out;
	}
	for (i = 0; i < W_NR; i++)
		if (!strcmp(w, workload_names[i]))
			break;
	/* Lock workloads for locks, tree workloads for the maple tree. */
	if (i == W_NR || (kind == MAPLE) != (i >= W_RAND_INSERT)) {
		pr_err("perf_test: unknown test %s\n", name);
		goto out;
	}
	mutex_lock(&perf_test_lock);
	ret = run_test(name, kind, i, count, threads);
	mutex_unlock(&perf_test_lock);
out:
	kfree(buf);
	return ret ?: len;
}

static const struct file_operations perf_test_fops = {
	.owner	= THIS_MODULE,
	.write	= perf_test_write,
	.llseek	= noop_llseek,
};

static struct dentry *anchor_dir;

static int __init anchor_init(void)
{
	anchor_dir = debugfs_create_dir("sixfs_anchor", NULL);
	debugfs_create_file("perf_test", 0200, anchor_dir, NULL, &perf_test_fops);
	return 0;
}

static void __exit anchor_exit(void)
{
	debugfs_remove(anchor_dir);
	mtree_destroy(&perf_mt);
}

module_init(anchor_init);
module_exit(anchor_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sixfs benchmark anchors: bcachefs six lock and rw_semaphore");
