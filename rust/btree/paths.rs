// SPDX-License-Identifier: GPL-2.0

//! A transaction's paths, in slots that outlive them.
//!
//! A [`Path`] is about 800 bytes (a level per possible depth, each with a
//! node cursor). Building one and moving it into the array for every
//! iterator cost a lookup more than its search did, so a slot whose path
//! ended keeps its memory and the next path is set up in it in place, as
//! bcachefs hands out paths from a fixed array in each transaction. A
//! retired slot holds no lock and no node.

use super::cache::BtreeId;
use super::path::Path;
use super::trans_list::PathSlot;
use crate::bkey::Pos;
use crate::platform::sync::AllocError;
use crate::platform::vec::Vec;
use core::ops::{Deref, DerefMut};

/// The paths of a transaction: `slots[..live]` are in use.
///
/// # Invariants
///
/// - `live <= slots.len()`.
/// - The slots from `live` on are retired (see `Path::retire`): they hold
///   no lock, no node and no cursor, so a path set up in one inherits
///   nothing.
pub struct Paths {
    slots: Vec<Path>,
    live: usize,
}

impl Paths {
    /// No paths; allocates nothing.
    pub const fn new() -> Paths {
        Paths {
            slots: Vec::new(),
            live: 0,
        }
    }

    /// Adds a path not yet traversed; returns its index.
    pub fn push(
        &mut self,
        btree: BtreeId,
        pos: Pos,
        (level, locks_want): (u8, u8),
        published: Option<&'static PathSlot>,
    ) -> Result<usize, AllocError> {
        let idx = self.live;
        if self.slots.len() == idx {
            self.slots
                .try_push(Path::new(btree, pos, level, locks_want))?;
        }
        if let Some(slot) = self.slots.get_mut(idx) {
            slot.reset(btree, pos, (level, locks_want), published);
        }
        self.live = idx + 1;
        Ok(idx)
    }

    /// Ends the last path: its locks and nodes go. False if there is none.
    pub fn pop(&mut self) -> bool {
        let Some(last) = self.live.checked_sub(1) else {
            return false;
        };
        if let Some(path) = self.slots.get_mut(last) {
            path.retire();
        }
        self.live = last;
        true
    }

    /// Ends every path.
    pub fn clear(&mut self) {
        while self.pop() {}
    }
}

impl Default for Paths {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for Paths {
    type Target = [Path];

    fn deref(&self) -> &[Path] {
        debug_assert!(self.live <= self.slots.len(), "Paths: live past its slots");
        self.slots.get(..self.live).unwrap_or(&[])
    }
}

impl DerefMut for Paths {
    fn deref_mut(&mut self) -> &mut [Path] {
        debug_assert!(self.live <= self.slots.len(), "Paths: live past its slots");
        self.slots.get_mut(..self.live).unwrap_or(&mut [])
    }
}
