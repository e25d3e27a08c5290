// SPDX-License-Identifier: GPL-2.0

//! The VFS face of sixfs.
//!
//! A mount reads both superblock copies through the kernel's
//! [`BioDevice`] and keeps what it needs in a [`MountedFs`] (the VFS's
//! `s_fs_info`) until the superblock goes. Every hook of the VFS calls one
//! method of [`MountedFs`]: `open` (mount), `sync`, `remount_ro`,
//! `remount_rw`, `unmount`; that is where the store of btrees goes.

use crate::device::bio::BioDevice;
use crate::format::superblock::{SuperblockError, SUPERBLOCK_OFFSET};
use crate::format::superblock_io::{self, ReadError, SuperblockCopy, Superblocks};
use crate::glue::debugfs::{Handler, MountDir};
use crate::glue::fs_type::{Errors, FileSystem, FileSystemType, MountOptions, Reconfigure, StatFs};
use crate::glue::kthread::{run_parallel, Periodic};
use crate::glue::shrinker::{memory_bytes, Shrink, Shrinker};
use crate::glue::super_block::SuperBlock;
use crate::perf::mounted::{parse_mounted, run_mounted};
use crate::platform::sync::SpinLock;
use crate::store::{ErrorPolicy, OpenOptions, OpenReport, Store, StoreError};
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::{c_str, prelude::*, str::CStr, sync::Arc};

/// The `sixfs` filesystem type.
pub(crate) struct SixFs;

/// Where the VFS's structures for the type live (a `static`, as lockdep
/// wants).
static SIXFS_TYPE: FileSystemType = FileSystemType::new();

/// `errors=` when the mount does not say.
const DEFAULT_ERRORS: Errors = Errors::RemountRo;

/// `journal_flush_delay=` when the mount does not say: milliseconds
/// between journal writes of commits no one syncs (bcachefs's default).
const DEFAULT_JOURNAL_FLUSH_DELAY_MS: u32 = 1000;
/// The shortest and longest delays allowed.
const JOURNAL_FLUSH_DELAY_RANGE: core::ops::RangeInclusive<u32> = 1..=600_000;

/// The longest file name (a dirent's limit, as most Linux filesystems).
const NAME_MAX: u32 = 255;

/// The node cache's bound, by default: this share of the machine's
/// memory (and at most an eighth of the device's node slots).
const CACHE_SHARE: u64 = 8;

/// One mounted sixfs: lives in `s_fs_info` from mount until `kill_sb`.
///
/// It is `Send + Sync` (VFS callbacks come from any task): the store is,
/// and the options that a remount may change are atomics. The fields drop
/// in order: the debugfs directory (whose files use the store) and the
/// shrinker go before the store, which by then has been closed by
/// `put_super`.
pub(crate) struct MountedFs {
    /// Writes the journal's open entry every `journal_flush_delay` ms
    /// (stopped first: it uses the store).
    journal_flusher: Periodic,
    /// `/sys/kernel/debug/sixfs/<uuid>/`, if it could be made.
    _debugfs: Option<MountDir>,
    /// Gives clean nodes back under memory pressure.
    _shrinker: Option<Shrinker<Store<BioDevice>>>,
    /// The btrees on the device.
    store: Arc<Store<BioDevice>>,
    /// `errors=`, as an [`Errors`] index (`errors_to_u8`).
    errors: AtomicU8,
    /// `journal_flush_delay=`, in milliseconds (fixed at mount).
    journal_flush_delay: u32,
    /// `norecovery`.
    no_recovery: bool,
}

fn errors_to_u8(errors: Errors) -> u8 {
    match errors {
        Errors::Continue => 0,
        Errors::RemountRo => 1,
        Errors::Panic => 2,
    }
}

fn errors_from_u8(value: u8) -> Errors {
    match value {
        0 => Errors::Continue,
        2 => Errors::Panic,
        _ => Errors::RemountRo,
    }
}

/// What the store does on a run-time error, as `errors=` says.
fn error_policy(errors: Errors) -> ErrorPolicy {
    match errors {
        Errors::Continue => ErrorPolicy::Continue,
        Errors::RemountRo => ErrorPolicy::ReadOnly,
        Errors::Panic => ErrorPolicy::Panic,
    }
}

/// The errno of a store error, after a log line naming the device and
/// what was being done.
fn store_error(name: &CStr, doing: &str, e: StoreError) -> Error {
    pr_err!("{name}: {doing}: {e}\n");
    Error::from_errno(-e.errno())
}

/// A UUID as `blkid` prints it, NUL-terminated for debugfs.
struct UuidName([u8; 37]);

impl UuidName {
    fn new(uuid: &[u8; 16]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 37];
        let mut at = 0;
        for (i, b) in uuid.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out[at] = b'-';
                at += 1;
            }
            out[at] = HEX[usize::from(b >> 4)];
            out[at + 1] = HEX[usize::from(b & 0xf)];
            at += 2;
        }
        Self(out)
    }

    fn as_cstr(&self) -> &core::ffi::CStr {
        core::ffi::CStr::from_bytes_with_nul(&self.0).unwrap_or(c"sixfs")
    }
}

/// Opens the store: reads it, replays its journal, checkpoints. That goes
/// deep (transactions, splits, node reads and writes down to the block
/// layer) under a large frame (the store moves by value), so it runs on a
/// kernel thread of its own, with a whole stack, rather than on top of the
/// mount system call's; the mount waits for it.
#[inline(never)]
fn open_store(
    name: &CStr,
    dev: BioDevice,
    superblocks: &Superblocks,
    opts: OpenOptions,
) -> Result<(Arc<Store<BioDevice>>, OpenReport)> {
    let device = SpinLock::new(Some(dev));
    let opened = SpinLock::new(None);
    run_parallel(c"sixfs_mount", 1, &|_| {
        let Some(dev) = device.lock().take() else {
            return;
        };
        let result = Store::open_from(dev, superblocks, opts)
            .map_err(|e| store_error(name, "cannot mount", e))
            .and_then(|(store, report)| Ok((Arc::new(store, GFP_KERNEL)?, report)));
        *opened.lock() = Some(result);
    })?;
    let result = opened.lock().take();
    result.unwrap_or(Err(EINVAL))
}

impl MountedFs {
    /// Mounts the filesystem on `dev`: the newest valid superblock (a
    /// message says why there is none), then the store, the shrinker and
    /// the debugfs directory.
    #[inline(never)]
    fn open(name: &CStr, dev: BioDevice, options: &MountOptions, read_only: bool) -> Result<Self> {
        // Read once: here for the messages, which say why a device is
        // refused; then the store opens from the same copies.
        let superblocks = read_superblock(name, &dev)?;
        let errors = options.errors.unwrap_or(DEFAULT_ERRORS);
        if options.no_recovery && !read_only {
            pr_err!("{name}: norecovery mounts read-only only (add ro)\n");
            return Err(EINVAL);
        }
        let delay = options
            .journal_flush_delay
            .unwrap_or(DEFAULT_JOURNAL_FLUSH_DELAY_MS);
        if !JOURNAL_FLUSH_DELAY_RANGE.contains(&delay) {
            pr_err!(
                "{name}: journal_flush_delay={delay}: milliseconds from {} to {}\n",
                JOURNAL_FLUSH_DELAY_RANGE.start(),
                JOURNAL_FLUSH_DELAY_RANGE.end()
            );
            return Err(EINVAL);
        }
        let opts = OpenOptions {
            read_only,
            no_recovery: options.no_recovery,
            errors: error_policy(errors),
            // As bcachefs's, the node cache may grow with the machine;
            // the shrinker takes it back when memory is short.
            cache_bytes: usize::try_from(memory_bytes() / CACHE_SHARE).unwrap_or(usize::MAX),
            ..OpenOptions::default()
        };
        let (store, report) = open_store(name, dev, &superblocks, opts)?;
        if !report.was_clean {
            if options.no_recovery {
                pr_warn!("{name}: not unmounted cleanly: norecovery, mounting the last checkpoint without the journal\n");
            } else {
                pr_warn!(
                    "{name}: not unmounted cleanly: replayed {} journal entries ({} updates)\n",
                    report.replayed_entries,
                    report.replayed_keys
                );
            }
        }
        let flusher_store = store.clone();
        let flush: Arc<dyn Fn() + Send + Sync> = Arc::new(
            move || {
                // Errors are the store's to report (errors=); the next
                // tick tries again.
                let _ = flusher_store.flush_pending();
            },
            GFP_KERNEL,
        )?;
        let journal_flusher = Periodic::start(c"sixfs_journal", delay, flush)?;
        let shrinker = Shrinker::register(name, store.clone())
            .inspect_err(|e| {
                pr_warn!(
                    "{name}: no shrinker (error {}): the node cache shrinks only at its bound\n",
                    e.to_errno()
                )
            })
            .ok();
        let sb = store.superblock();
        let debugfs = perf_test_dir(name, &store, &sb.uuid);
        pr_info!(
            "{name}: mounted ({}, errors={}, sequence {}, {} blocks of {} bytes)\n",
            if read_only { "ro" } else { "rw" },
            errors.name(),
            sb.seq,
            sb.geometry.block_count,
            sb.geometry.block_size,
        );
        Ok(Self {
            journal_flusher,
            _debugfs: debugfs,
            _shrinker: shrinker,
            store,
            errors: AtomicU8::new(errors_to_u8(errors)),
            journal_flush_delay: delay,
            no_recovery: options.no_recovery,
        })
    }

    /// `sync_fs`: a flush write of the journal (nothing to do when
    /// read-only).
    fn sync(&self, name: &CStr) -> Result {
        self.store.sync().map_err(|e| store_error(name, "sync", e))
    }

    /// Remount read-only: the VFS has stopped writers; a checkpoint marks
    /// the filesystem clean.
    fn remount_ro(&self, name: &CStr) -> Result {
        self.store
            .set_read_only(true)
            .map_err(|e| store_error(name, "remount read-only", e))
    }

    /// Remount read-write: marks the filesystem in use again.
    fn remount_rw(&self, name: &CStr) -> Result {
        self.store
            .set_read_only(false)
            .map_err(|e| store_error(name, "remount read-write", e))
    }

    /// Unmount, the device still open: writes every dirty node and the
    /// clean flag. A failure cannot refuse the unmount; it is logged, and
    /// the next mount finds the last checkpoint.
    fn unmount(&self, name: &CStr) {
        // No journal write or checkpoint of the thread's may follow the
        // unmount's (it would mark the filesystem in use again).
        self.journal_flusher.stop();
        if let Err(e) = self.store.close() {
            pr_err!("{name}: unmount: {e}; the filesystem keeps its last checkpoint\n");
        }
    }

    /// The `errors=` in force.
    fn errors(&self) -> Errors {
        errors_from_u8(self.errors.load(Ordering::Relaxed))
    }
}

/// The store's nodes, for the memory shrinker: clean nodes, then dirty
/// ones written back when the allocation allows filesystem I/O; only
/// when no transaction runs (it never waits for one).
impl Shrink for Store<BioDevice> {
    fn count(&self) -> usize {
        self.stats().cached as usize
    }

    fn scan(&self, nr: usize, may_write: bool) -> usize {
        self.shrink(nr, may_write)
    }
}

/// Makes `/sys/kernel/debug/sixfs/<uuid>/perf_test` for the mount; a
/// mount goes on without it (with a warning) if it cannot be made, such as
/// when a copy of the same filesystem is mounted too.
fn perf_test_dir(name: &CStr, store: &Arc<Store<BioDevice>>, uuid: &[u8; 16]) -> Option<MountDir> {
    let uuid = UuidName::new(uuid);
    let made = MountDir::new(uuid.as_cstr()).and_then(|mut dir| {
        let store = store.clone();
        let handler: Handler = Arc::new(
            move |text: &str| -> Result { perf_test(&store, text) },
            GFP_KERNEL,
        )?;
        dir.handler_file(c"perf_test", handler)?;
        Ok(dir)
    });
    made.inspect_err(|e| {
        pr_warn!(
            "{name}: no debugfs directory {:?} (error {})\n",
            uuid.as_cstr(),
            e.to_errno()
        )
    })
    .ok()
}

/// One command written to a mount's perf_test file (`perf/mounted.rs`);
/// the result goes to the kernel log.
fn perf_test(store: &Store<BioDevice>, text: &str) -> Result {
    let command = parse_mounted(text).map_err(|e| {
        pr_err!("perf_test: {text:?}: {e:?}; expected NAME COUNT THREADS, verify NAME COUNT THREADS, reset, sync, check or stats\n");
        Error::from_errno(-e.errno())
    })?;
    match run_mounted(store, command) {
        Ok(outcome) => {
            // "mounted" tells these lines from the in-memory perf_test's.
            pr_info!("mounted {outcome}\n");
            Ok(())
        }
        Err(e) => {
            pr_err!("perf_test: {text:?}: {e:?}\n");
            Err(Error::from_errno(-e.errno()))
        }
    }
}

/// Reads both copies of the superblock; says why there is no valid one
/// (an error), or warns when the newest valid one is the backup.
fn read_superblock(name: &CStr, dev: &BioDevice) -> Result<Superblocks> {
    let copies = superblock_io::read_superblocks(dev);
    let Some((copy, sb)) = copies.newest() else {
        match copies.primary {
            Err(ReadError::Invalid(SuperblockError::BadMagic))
            | Err(ReadError::DeviceTooSmall { .. }) => {
                pr_err!(
                    "{name}: not a sixfs filesystem (no superblock at byte {}, no backup)\n",
                    SUPERBLOCK_OFFSET
                );
            }
            Err(ReadError::Device(e)) => {
                pr_err!("{name}: cannot read the superblock: {e:?}\n");
                return Err(EIO);
            }
            Err(primary) => {
                let backup = copies.backup.err().unwrap_or(ReadError::NoBackupFound);
                pr_err!("{name}: invalid sixfs superblock: {primary:?}; backup: {backup:?}\n");
            }
            // `newest` found nothing, so the primary is not valid.
            Ok(_) => {}
        }
        return Err(EINVAL);
    };
    if copy == SuperblockCopy::Backup {
        match &copies.primary {
            Ok(primary) => pr_warn!(
                "{name}: the backup superblock is newer than the primary (sequence {} > {}): mounting from the backup\n",
                sb.seq,
                primary.seq
            ),
            Err(error) => pr_warn!(
                "{name}: primary superblock invalid ({error:?}): mounting from the backup at byte {} (fsck.sixfs repairs the primary)\n",
                copies.backup_offset.unwrap_or(0)
            ),
        }
    }
    Ok(copies)
}

impl FileSystem for SixFs {
    const NAME: &'static CStr = c_str!("sixfs");
    /// "sixf".
    const MAGIC: u32 = 0x7369_7866;
    /// The root directory, as bcachefs numbers it.
    const ROOT_INO: u64 = 4096;

    type Mounted = MountedFs;

    fn storage() -> &'static FileSystemType {
        &SIXFS_TYPE
    }

    fn fill_super(sb: &SuperBlock, options: &MountOptions) -> Result<MountedFs> {
        let name = sb.id();
        let dev = BioDevice::new(sb.block_device()?);
        MountedFs::open(name, dev, options, sb.read_only())
    }

    fn reconfigure(sb: &SuperBlock, mounted: &MountedFs, change: &Reconfigure) -> Result {
        match change.read_only {
            Some(true) => {
                // The VFS has stopped new writers; write out what the page
                // cache and the inodes hold, then the filesystem's own.
                sb.sync()?;
                mounted.remount_ro(sb.id())?;
            }
            Some(false) if mounted.no_recovery => {
                // Writing would drop the journal that was not replayed.
                pr_err!(
                    "{}: a norecovery mount stays read-only: mount again without norecovery\n",
                    sb.id()
                );
                return Err(EINVAL);
            }
            Some(false) => mounted.remount_rw(sb.id())?,
            None => {}
        }
        if let Some(errors) = change.options.errors {
            mounted
                .errors
                .store(errors_to_u8(errors), Ordering::Relaxed);
            mounted.store.set_error_policy(error_policy(errors));
        }
        Ok(())
    }

    fn sync_fs(sb: &SuperBlock, mounted: &MountedFs, wait: bool) -> Result {
        // The VFS calls this without, then with, `wait`: one flush.
        if !wait {
            return Ok(());
        }
        mounted.sync(sb.id())
    }

    fn put_super(sb: &SuperBlock, mounted: &MountedFs) {
        mounted.unmount(sb.id());
    }

    fn statfs(mounted: &MountedFs) -> StatFs {
        let sb = mounted.store.superblock();
        let geometry = &sb.geometry;
        let block_size = geometry.block_size;
        let space = mounted.store.stats().space;
        let blocks_per_bucket = u64::from(geometry.bucket_size / block_size.max(1));
        // Whole free buckets; the ones held back for checkpoints are free
        // but not available.
        let free = space.free.saturating_mul(blocks_per_bucket);
        let available = space
            .free
            .saturating_sub(space.reserve)
            .saturating_mul(blocks_per_bucket);
        let uuid = sb.uuid;
        let mut low = [0u8; 8];
        let mut high = [0u8; 8];
        low.copy_from_slice(&uuid[..8]);
        high.copy_from_slice(&uuid[8..]);
        StatFs {
            block_size,
            blocks: geometry.block_count,
            free,
            available,
            files: 0,
            free_files: 0,
            name_len: NAME_MAX,
            fsid: u64::from_le_bytes(low) ^ u64::from_le_bytes(high),
        }
    }

    fn show_options(mounted: &MountedFs, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, ",errors={}", mounted.errors().name())?;
        if mounted.journal_flush_delay != DEFAULT_JOURNAL_FLUSH_DELAY_MS {
            write!(out, ",journal_flush_delay={}", mounted.journal_flush_delay)?;
        }
        if mounted.no_recovery {
            write!(out, ",norecovery")?;
        }
        Ok(())
    }
}
