// SPDX-License-Identifier: GPL-2.0

//! Space: which buckets hold what, and handing out node slots.
//!
//! Buckets are filled in order and reused only as a whole, as in bcachefs:
//! the allocator keeps one *open* bucket and hands out its node slots one
//! after the other; when it is full, the next free bucket is opened. Each
//! bucket counts the slots in use ([`Bucket::used`]); a freed slot is not
//! reusable by itself, but once a bucket's count drops to zero the whole
//! bucket is free again.
//!
//! A slot freed by a node that left the tree (split, merge, copy-on-write
//! move) may still be what the durable tree (the last checkpoint's) points
//! to, so the free is only *pending* until the next checkpoint is durable:
//! [`Space::image`] gives the records that checkpoint writes (pending
//! frees already subtracted, since its tree no longer points there), and
//! [`Space::checkpoint_done`] applies them once it is on the device. No
//! slot is ever handed out twice: a slot is handed out only from a free
//! bucket, and a bucket is free only when no live node and no durable tree
//! uses any of its slots.
//!
//! A few buckets are held back for checkpoints ([`Space::new`]'s
//! `reserve`): a checkpoint moves every dirty node of the durable tree to a
//! new slot, and must not fail for want of space that ordinary allocations
//! took; this is what makes a full filesystem writable again after
//! deletions.
//!
//! Nothing here allocates memory after [`Space::new`]: the records and the
//! pending counts are fixed-size arrays under a spinlock.

use crate::format::geometry::Geometry;
use crate::format::space_map::{Bucket, BucketKind};
use crate::platform::sync::{AllocError, SpinLock};
use crate::platform::vec::Vec;

#[cfg(any(test, CONFIG_KUNIT))]
mod space_tests;

/// Why no slot was handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceError {
    /// No free bucket (beyond the reserve, unless it was asked for).
    NoSpace,
    /// A sector that is not a node slot of a btree bucket in use: a bug
    /// of the caller, or a corrupt pointer.
    NotInUse(u64),
}

struct State {
    buckets: Vec<Bucket>,
    /// Slots of each bucket freed since the last checkpoint.
    pending: Vec<u32>,
    /// The bucket slots are handed out from, and its next slot.
    open: Option<(u64, u32)>,
    /// Free buckets, kept up to date.
    free: u64,
    /// Where the search for a free bucket goes on.
    cursor: u64,
}

/// The space of one filesystem.
pub struct Space {
    bucket_bytes: u64,
    slot_bytes: u64,
    slots_per_bucket: u32,
    reserve: u64,
    state: SpinLock<State>,
}

/// Counts of buckets, for statfs and the tools.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpaceStats {
    /// Buckets of the filesystem.
    pub buckets: u64,
    /// Free buckets.
    pub free: u64,
    /// Buckets holding btree nodes.
    pub btree: u64,
    /// Node slots in use.
    pub slots_used: u64,
    /// Free buckets held back for checkpoints.
    pub reserve: u64,
}

impl Space {
    /// The space described by `records` (one per bucket, as read from the
    /// space map or made by mkfs), holding `reserve` buckets back for
    /// checkpoints.
    pub fn new(geometry: &Geometry, records: &[Bucket], reserve: u64) -> Result<Self, AllocError> {
        let mut buckets = Vec::try_with_capacity(records.len())?;
        let mut pending = Vec::try_with_capacity(records.len())?;
        let mut free = 0;
        for r in records {
            buckets.try_push(*r)?;
            pending.try_push(0)?;
            if r.kind == BucketKind::Free {
                free += 1;
            }
        }
        let node = u64::from(geometry.node_size.max(1));
        Ok(Space {
            bucket_bytes: u64::from(geometry.bucket_size),
            slot_bytes: node,
            slots_per_bucket: geometry.bucket_size / geometry.node_size.max(1),
            reserve,
            state: SpinLock::new(State {
                buckets,
                pending,
                open: None,
                free,
                cursor: 0,
            }),
        })
    }

    /// Hands out a node slot: its first sector. `use_reserve` lets a
    /// checkpoint take the buckets held back.
    pub fn alloc_slot(&self, use_reserve: bool) -> Result<u64, SpaceError> {
        let mut s = self.state.lock();
        let (bucket, slot) = match s.open {
            Some((b, next)) if next < self.slots_per_bucket => (b, next),
            _ => {
                let floor = if use_reserve { 0 } else { self.reserve };
                if s.free <= floor {
                    return Err(SpaceError::NoSpace);
                }
                let b = Self::find_free(&mut s).ok_or(SpaceError::NoSpace)?;
                (b, 0)
            }
        };
        let rec = s
            .buckets
            .get_mut(bucket as usize)
            .ok_or(SpaceError::NoSpace)?;
        if slot == 0 {
            *rec = Bucket {
                kind: BucketKind::Btree,
                used: 0,
            };
            s.free = s.free.saturating_sub(1);
        }
        let rec = s
            .buckets
            .get_mut(bucket as usize)
            .ok_or(SpaceError::NoSpace)?;
        rec.used = rec.used.saturating_add(1);
        s.open = Some((bucket, slot.saturating_add(1)));
        let byte = bucket
            .saturating_mul(self.bucket_bytes)
            .saturating_add(u64::from(slot).saturating_mul(self.slot_bytes));
        Ok(byte / 512)
    }

    fn find_free(s: &mut State) -> Option<u64> {
        let n = s.buckets.len() as u64;
        for i in 0..n {
            let b = (s.cursor + i).checked_rem(n)?;
            if s.buckets.get(b as usize)?.kind == BucketKind::Free {
                s.cursor = b.saturating_add(1);
                return Some(b);
            }
        }
        None
    }

    /// The bucket of a node slot in use, checked.
    fn bucket_of(&self, s: &State, sector: u64) -> Result<usize, SpaceError> {
        let byte = sector.saturating_mul(512);
        let b = byte
            .checked_div(self.bucket_bytes)
            .ok_or(SpaceError::NotInUse(sector))?;
        let aligned = byte.checked_rem(self.slot_bytes) == Some(0);
        let i = usize::try_from(b).map_err(|_| SpaceError::NotInUse(sector))?;
        match s.buckets.get(i) {
            Some(r) if aligned && r.kind == BucketKind::Btree => Ok(i),
            _ => Err(SpaceError::NotInUse(sector)),
        }
    }

    /// Frees the slot at `sector` once the next checkpoint is durable.
    pub fn free_slot(&self, sector: u64) -> Result<(), SpaceError> {
        let mut s = self.state.lock();
        let i = self.bucket_of(&s, sector)?;
        let used = s.buckets.get(i).map_or(0, |r| r.used);
        let p = s.pending.get_mut(i).ok_or(SpaceError::NotInUse(sector))?;
        if *p >= used {
            return Err(SpaceError::NotInUse(sector));
        }
        *p += 1;
        Ok(())
    }

    /// The records a checkpoint writes: the use counts with the pending
    /// frees taken off (buckets left with none are free in it), into `out`
    /// (one per bucket).
    pub fn image(&self, out: &mut [Bucket]) {
        let s = self.state.lock();
        for ((o, r), p) in out.iter_mut().zip(s.buckets.iter()).zip(s.pending.iter()) {
            let used = r.used.saturating_sub(*p);
            *o = if r.kind == BucketKind::Btree && used == 0 {
                Bucket::FREE
            } else {
                Bucket { used, ..*r }
            };
        }
    }

    /// The checkpoint whose [`Self::image`] was taken is durable: the
    /// pending frees take effect, and buckets left empty become free.
    pub fn checkpoint_done(&self) {
        let mut s = self.state.lock();
        let State {
            buckets,
            pending,
            open,
            free,
            ..
        } = &mut *s;
        for (b, (r, p)) in buckets.iter_mut().zip(pending.iter_mut()).enumerate() {
            r.used = r.used.saturating_sub(*p);
            *p = 0;
            if r.kind == BucketKind::Btree && r.used == 0 {
                *r = Bucket::FREE;
                *free = free.saturating_add(1);
                if open.is_some_and(|(o, _)| o == b as u64) {
                    *open = None;
                }
            }
        }
    }

    /// Replaces every record with `records` (one per bucket; a shorter
    /// list leaves the buckets past it as they are), with no frees
    /// pending and no bucket open: the space map was rebuilt. Nothing
    /// handed out before may still be in use other than what `records`
    /// counts.
    pub fn reset(&self, records: &[Bucket]) {
        let mut s = self.state.lock();
        let State {
            buckets,
            pending,
            open,
            free,
            cursor,
        } = &mut *s;
        for (r, new) in buckets.iter_mut().zip(records.iter()) {
            *r = *new;
        }
        pending.fill(0);
        *open = None;
        *cursor = 0;
        *free = buckets
            .iter()
            .filter(|r| r.kind == BucketKind::Free)
            .count() as u64;
    }

    /// Whether slots were freed since the last checkpoint.
    pub fn has_pending(&self) -> bool {
        self.state.lock().pending.iter().any(|&p| p != 0)
    }

    /// Whether the next checkpoint frees a whole bucket (every slot in use
    /// in it was freed since the last one): only then does it give
    /// allocation room, which works by whole buckets.
    pub fn checkpoint_frees_a_bucket(&self) -> bool {
        let s = self.state.lock();
        s.buckets
            .iter()
            .zip(s.pending.iter())
            .any(|(r, &p)| r.kind == BucketKind::Btree && p != 0 && p >= r.used)
    }

    /// Bucket counts.
    pub fn stats(&self) -> SpaceStats {
        let s = self.state.lock();
        let mut stats = SpaceStats {
            buckets: s.buckets.len() as u64,
            free: s.free,
            reserve: self.reserve,
            ..SpaceStats::default()
        };
        for r in s.buckets.iter() {
            if r.kind == BucketKind::Btree {
                stats.btree += 1;
                stats.slots_used += u64::from(r.used);
            }
        }
        stats
    }

    /// Buckets held back for checkpoints.
    pub fn reserve(&self) -> u64 {
        self.reserve
    }
}
