// SPDX-License-Identifier: GPL-2.0
/*
 * Thin wrappers around static inline kernel functions, for the Rust glue.
 * Keep each one a single call: the logic belongs in Rust.
 */
#include <linux/atomic.h>
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/kthread.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/statfs.h>
#include <kunit/test.h>
#include <sixfs/helpers.h>

#define SIXFS_ATOMIC_RMW(name, type, atype, op)					\
	type sixfs_##name##_##op##_full(atype *v, type i)			\
	{ return name##_##op(i, v); }						\
	type sixfs_##name##_##op##_acquire(atype *v, type i)			\
	{ return name##_##op##_acquire(i, v); }					\
	type sixfs_##name##_##op##_release(atype *v, type i)			\
	{ return name##_##op##_release(i, v); }					\
	type sixfs_##name##_##op##_relaxed(atype *v, type i)			\
	{ return name##_##op##_relaxed(i, v); }

#define SIXFS_ATOMIC(name, type, atype)						\
	type sixfs_##name##_read(const atype *v)				\
	{ return name##_read(v); }						\
	type sixfs_##name##_read_acquire(const atype *v)			\
	{ return name##_read_acquire(v); }					\
	void sixfs_##name##_set(atype *v, type i)				\
	{ name##_set(v, i); }							\
	void sixfs_##name##_set_release(atype *v, type i)			\
	{ name##_set_release(v, i); }						\
	SIXFS_ATOMIC_RMW(name, type, atype, fetch_add)				\
	SIXFS_ATOMIC_RMW(name, type, atype, fetch_sub)				\
	SIXFS_ATOMIC_RMW(name, type, atype, fetch_or)				\
	SIXFS_ATOMIC_RMW(name, type, atype, fetch_and)				\
	type sixfs_##name##_cmpxchg_full(atype *v, type old, type new)		\
	{ return name##_cmpxchg(v, old, new); }					\
	type sixfs_##name##_cmpxchg_acquire(atype *v, type old, type new)	\
	{ return name##_cmpxchg_acquire(v, old, new); }				\
	type sixfs_##name##_cmpxchg_release(atype *v, type old, type new)	\
	{ return name##_cmpxchg_release(v, old, new); }				\
	type sixfs_##name##_cmpxchg_relaxed(atype *v, type old, type new)	\
	{ return name##_cmpxchg_relaxed(v, old, new); }

SIXFS_ATOMIC(atomic64, s64, atomic64_t)
SIXFS_ATOMIC(atomic, int, atomic_t)

void sixfs_set_current_state_uninterruptible(void)
{
	set_current_state(TASK_UNINTERRUPTIBLE);
}

void sixfs_set_current_state_running(void)
{
	__set_current_state(TASK_RUNNING);
}

void sixfs_might_sleep(void)
{
	might_sleep();
}

void sixfs_cond_resched(void)
{
	cond_resched();
}

void sixfs_init_completion(struct completion *x)
{
	init_completion(x);
}

struct task_struct *sixfs_kthread_run(int (*fn)(void *data), void *data,
				      const char *name, unsigned int index)
{
	return kthread_run(fn, data, "%s/%u", name, index);
}

void sixfs_kthread_sleep_idle(unsigned int msecs)
{
	set_current_state(TASK_IDLE);
	if (!kthread_should_stop())
		schedule_timeout(msecs_to_jiffies(msecs));
	__set_current_state(TASK_RUNNING);
}

struct dentry *sixfs_debugfs_create_dir(const char *name, struct dentry *parent)
{
	return debugfs_create_dir(name, parent);
}

struct dentry *sixfs_debugfs_create_file(const char *name, umode_t mode,
					 struct dentry *parent, void *data,
					 const struct file_operations *fops)
{
	return debugfs_create_file(name, mode, parent, data, fops);
}

void sixfs_debugfs_remove(struct dentry *dentry)
{
	debugfs_remove(dentry);
}

void sixfs_init_rwsem(struct rw_semaphore *sem)
{
	init_rwsem(sem);
}

void sixfs_raw_spin_lock_init(struct raw_spinlock *lock)
{
	raw_spin_lock_init(lock);
}

void sixfs_raw_spin_lock(struct raw_spinlock *lock)
{
	raw_spin_lock(lock);
}

void sixfs_raw_spin_unlock(struct raw_spinlock *lock)
{
	raw_spin_unlock(lock);
}

void sixfs_rwlock_init(rwlock_t *lock)
{
	rwlock_init(lock);
}

void sixfs_read_lock(rwlock_t *lock)
{
	read_lock(lock);
}

void sixfs_read_unlock(rwlock_t *lock)
{
	read_unlock(lock);
}

void sixfs_write_lock(rwlock_t *lock)
{
	write_lock(lock);
}

void sixfs_write_unlock(rwlock_t *lock)
{
	write_unlock(lock);
}

void sixfs_lockdep_init_map(struct lockdep_map *map, const char *name,
			    struct lock_class_key *key)
{
	lockdep_init_map(map, name, key, 0);
}

/* A lock lockdep does not track at all (bcachefs's btree node locks). */
void sixfs_lockdep_init_map_untracked(struct lockdep_map *map, const char *name)
{
#ifdef CONFIG_LOCKDEP
	lockdep_init_map(map, name, &__lockdep_no_track__, 0);
#endif
}

/* 0 also when lockdep has turned itself off (after a report). */
int sixfs_lockdep_depth(void)
{
	return lockdep_depth(current);
}

/* _RET_IP_ names the Rust caller in lockdep's reports. */
void sixfs_lock_acquire(struct lockdep_map *map, bool trylock, bool read)
{
	lock_acquire(map, 0, trylock, read, 1, NULL, _RET_IP_);
}

void sixfs_lock_release(struct lockdep_map *map)
{
	lock_release(map, _RET_IP_);
}

u64 sixfs_bdev_nr_sectors(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}

unsigned int sixfs_bdev_logical_block_size(struct block_device *bdev)
{
	return bdev_logical_block_size(bdev);
}

bool sixfs_gfp_allows_fs_io(gfp_t gfp)
{
	return gfp & __GFP_FS;
}

u64 sixfs_totalram_bytes(void)
{
	return (u64)totalram_pages() << PAGE_SHIFT;
}

void sixfs_get_file(struct file *file)
{
	get_file(file);
}

/*
 * The glue fills this table from Rust (rust/glue/fs_type.rs mirrors it as
 * FsContextOperations, six function pointers in this order).
 */
static_assert(sizeof(struct fs_context_operations) == 6 * sizeof(void *));
static_assert(offsetof(struct fs_context_operations, free) == 0 * sizeof(void *));
static_assert(offsetof(struct fs_context_operations, dup) == 1 * sizeof(void *));
static_assert(offsetof(struct fs_context_operations, parse_param) == 2 * sizeof(void *));
static_assert(offsetof(struct fs_context_operations, parse_monolithic) == 3 * sizeof(void *));
static_assert(offsetof(struct fs_context_operations, get_tree) == 4 * sizeof(void *));
static_assert(offsetof(struct fs_context_operations, reconfigure) == 5 * sizeof(void *));

/* The values of errors= (sorted by name). */
static const struct constant_table sixfs_errors_values[] = {
	{ "continue",	SIXFS_ERRORS_CONTINUE },
	{ "panic",	SIXFS_ERRORS_PANIC },
	{ "remount-ro",	SIXFS_ERRORS_REMOUNT_RO },
	{}
};

const struct fs_parameter_spec sixfs_fs_parameters[] = {
	fsparam_enum("errors", SIXFS_OPT_ERRORS, sixfs_errors_values),
	fsparam_flag("norecovery", SIXFS_OPT_NORECOVERY),
	fsparam_u32("journal_flush_delay", SIXFS_OPT_JOURNAL_FLUSH_DELAY),
	{}
};

int sixfs_fs_parse(struct fs_context *fc, struct fs_parameter *param, u32 *value)
{
	struct fs_parse_result result;
	int opt = fs_parse(fc, sixfs_fs_parameters, param, &result);

	*value = opt >= 0 ? result.uint_32 : 0;
	return opt;
}

void sixfs_fc_init(struct fs_context *fc, const struct fs_context_operations *ops,
		   void *fs_private)
{
	fc->ops = ops;
	fc->fs_private = fs_private;
}

void *sixfs_fc_fs_private(struct fs_context *fc)
{
	return fc->fs_private;
}

bool sixfs_fc_read_only(struct fs_context *fc)
{
	return fc->sb_flags & SB_RDONLY;
}

bool sixfs_fc_changes_read_only(struct fs_context *fc)
{
	return fc->sb_flags_mask & SB_RDONLY;
}

struct super_block *sixfs_fc_root_sb(struct fs_context *fc)
{
	return fc->root->d_sb;
}

int sixfs_get_tree_bdev(struct fs_context *fc,
			int (*fill_super)(struct super_block *sb, struct fs_context *fc))
{
	return get_tree_bdev(fc, fill_super);
}

bool sixfs_sb_rdonly(struct super_block *sb)
{
	return sb_rdonly(sb);
}

void sixfs_statfs_fill(struct kstatfs *buf, long type, long bsize, u64 blocks, u64 bfree,
		       u64 bavail, u64 files, u64 ffree, long namelen, u64 fsid)
{
	*buf = (struct kstatfs) {
		.f_type = type, .f_bsize = bsize, .f_blocks = blocks, .f_bfree = bfree,
		.f_bavail = bavail, .f_files = files, .f_ffree = ffree,
		.f_fsid = u64_to_fsid(fsid), .f_namelen = namelen, .f_frsize = bsize,
	};
}

#if IS_ENABLED(CONFIG_KUNIT)
void sixfs_kunit_fail(struct kunit *test, const void *fmt_args)
{
	KUNIT_FAIL(test, "%pA", fmt_args);
}
#endif
