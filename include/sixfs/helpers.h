/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of the sixfs module: thin wrappers around static inline kernel
 * functions and macros that Rust cannot call directly. Their Rust
 * declarations live in rust/glue/ffi.rs and must match these prototypes.
 */
#ifndef SIXFS_HELPERS_H
#define SIXFS_HELPERS_H

#include <linux/spinlock_types.h>
#include <linux/types.h>

struct block_device;
struct completion;
struct dentry;
struct file;
struct fs_context;
struct fs_context_operations;
struct fs_parameter;
struct fs_parameter_spec;
struct kstatfs;
struct file_operations;
struct kunit;
struct lock_class_key;
struct lockdep_map;
struct raw_spinlock;
struct rw_semaphore;
struct super_block;

/*
 * Kernel atomics for the platform layer (rust/platform/kernel/sync.rs): one
 * helper per operation and memory order. "full" is the kernel's fully
 * ordered variant (no suffix).
 */
#define SIXFS_ATOMIC_PROTOS(name, type, atype)					\
	type sixfs_##name##_read(const atype *v);				\
	type sixfs_##name##_read_acquire(const atype *v);			\
	void sixfs_##name##_set(atype *v, type i);				\
	void sixfs_##name##_set_release(atype *v, type i);			\
	SIXFS_ATOMIC_RMW_PROTOS(name, type, atype, fetch_add)			\
	SIXFS_ATOMIC_RMW_PROTOS(name, type, atype, fetch_sub)			\
	SIXFS_ATOMIC_RMW_PROTOS(name, type, atype, fetch_or)			\
	SIXFS_ATOMIC_RMW_PROTOS(name, type, atype, fetch_and)			\
	type sixfs_##name##_cmpxchg_full(atype *v, type old, type new);		\
	type sixfs_##name##_cmpxchg_acquire(atype *v, type old, type new);	\
	type sixfs_##name##_cmpxchg_release(atype *v, type old, type new);	\
	type sixfs_##name##_cmpxchg_relaxed(atype *v, type old, type new);

#define SIXFS_ATOMIC_RMW_PROTOS(name, type, atype, op)				\
	type sixfs_##name##_##op##_full(atype *v, type i);			\
	type sixfs_##name##_##op##_acquire(atype *v, type i);			\
	type sixfs_##name##_##op##_release(atype *v, type i);			\
	type sixfs_##name##_##op##_relaxed(atype *v, type i);

SIXFS_ATOMIC_PROTOS(atomic64, s64, atomic64_t)
SIXFS_ATOMIC_PROTOS(atomic, int, atomic_t)

/* Sleeping and waking: the current task's state around schedule(). */
void sixfs_set_current_state_uninterruptible(void);
void sixfs_set_current_state_running(void);
void sixfs_might_sleep(void);
void sixfs_cond_resched(void);

/* A completion; all of sixfs's share one lockdep class. */
void sixfs_init_completion(struct completion *x);

/*
 * Starts a kernel thread named "@name/@index" running @fn(@data); returns
 * it or an ERR_PTR.
 */
struct task_struct *sixfs_kthread_run(int (*fn)(void *data), void *data,
				      const char *name, unsigned int index);
/*
 * In a kernel thread: sleeps (TASK_IDLE) for @msecs or until kthread_stop(),
 * without losing a stop that comes just before the sleep.
 */
void sixfs_kthread_sleep_idle(unsigned int msecs);

/* debugfs, which Rust's bindings do not reach. */
struct dentry *sixfs_debugfs_create_dir(const char *name, struct dentry *parent);
struct dentry *sixfs_debugfs_create_file(const char *name, umode_t mode,
					 struct dentry *parent, void *data,
					 const struct file_operations *fops);
void sixfs_debugfs_remove(struct dentry *dentry);

/* An rw_semaphore, for benchmarks; all of sixfs's share one lockdep class. */
void sixfs_init_rwsem(struct rw_semaphore *sem);

/* A raw spinlock; all of sixfs's share one lockdep class. */
void sixfs_raw_spin_lock_init(struct raw_spinlock *lock);
void sixfs_raw_spin_lock(struct raw_spinlock *lock);
void sixfs_raw_spin_unlock(struct raw_spinlock *lock);

/*
 * A reader-writer spinlock (rwlock_t): readers share it; all of sixfs's
 * share one lockdep class.
 */
void sixfs_rwlock_init(rwlock_t *lock);
void sixfs_read_lock(rwlock_t *lock);
void sixfs_read_unlock(rwlock_t *lock);
void sixfs_write_lock(rwlock_t *lock);
void sixfs_write_unlock(rwlock_t *lock);

/* Lockdep annotations for locks implemented in Rust (no-ops without lockdep). */
void sixfs_lockdep_init_map(struct lockdep_map *map, const char *name,
			    struct lock_class_key *key);
void sixfs_lockdep_init_map_untracked(struct lockdep_map *map, const char *name);
void sixfs_lock_acquire(struct lockdep_map *map, bool trylock, bool read);
void sixfs_lock_release(struct lockdep_map *map);
/* How many locks lockdep sees the current task hold (for tests). */
int sixfs_lockdep_depth(void);

/* Size of the device in 512-byte sectors. */
u64 sixfs_bdev_nr_sectors(struct block_device *bdev);
/* Smallest unit the device can read or write, in bytes. */
unsigned int sixfs_bdev_logical_block_size(struct block_device *bdev);
/* Takes a reference to an open file (a block device's, for bios). */
void sixfs_get_file(struct file *file);
/*
 * Whether a shrinker called for an allocation with @gfp may write through
 * a filesystem (the allocation is not inside one's I/O path: __GFP_FS).
 */
bool sixfs_gfp_allows_fs_io(gfp_t gfp);
/* The machine's memory, in bytes (what caches size themselves by). */
u64 sixfs_totalram_bytes(void);

/*
 * Mount options (rust/glue/fs_context.rs): the option numbers and the values
 * of errors=, which rust/glue/ffi.rs repeats.
 */
enum {
	SIXFS_OPT_ERRORS = 0,
	SIXFS_OPT_NORECOVERY = 1,
	SIXFS_OPT_JOURNAL_FLUSH_DELAY = 2,
};
enum {
	SIXFS_ERRORS_CONTINUE = 0,
	SIXFS_ERRORS_REMOUNT_RO = 1,
	SIXFS_ERRORS_PANIC = 2,
};
extern const struct fs_parameter_spec sixfs_fs_parameters[];
/*
 * fs_parse() against sixfs_fs_parameters: the option number, its value in
 * *@value; or -errno (-ENOPARAM for a name that is not ours; a bad value is
 * logged, naming the option).
 */
int sixfs_fs_parse(struct fs_context *fc, struct fs_parameter *param, u32 *value);

/* fs_context fields, which Rust's bindings do not reach. */
void sixfs_fc_init(struct fs_context *fc, const struct fs_context_operations *ops,
		   void *fs_private);
void *sixfs_fc_fs_private(struct fs_context *fc);
/* Whether SB_RDONLY is asked for, and whether the request changes it. */
bool sixfs_fc_read_only(struct fs_context *fc);
bool sixfs_fc_changes_read_only(struct fs_context *fc);
/* The superblock a reconfiguration is for. */
struct super_block *sixfs_fc_root_sb(struct fs_context *fc);
int sixfs_get_tree_bdev(struct fs_context *fc,
			int (*fill_super)(struct super_block *sb, struct fs_context *fc));
bool sixfs_sb_rdonly(struct super_block *sb);
/* Fills a whole struct kstatfs. */
void sixfs_statfs_fill(struct kstatfs *buf, long type, long bsize, u64 blocks, u64 bfree,
		       u64 bavail, u64 files, u64 ffree, long namelen, u64 fsid);

/*
 * Marks the running KUnit case failed with a message; @fmt_args points to a
 * Rust core::fmt::Arguments (printed with %pA).
 */
void sixfs_kunit_fail(struct kunit *test, const void *fmt_args);

#endif /* SIXFS_HELPERS_H */
