// SPDX-License-Identifier: GPL-2.0

//! Inserting an extent into a leaf: the extents it overlaps (same inode
//! and snapshot) are trimmed, split or deleted first, so extents never
//! overlap. See `bkey::extent` for the cases.
//!
//! The whole change is planned and checked before the node is touched, so
//! it happens entirely or not at all. Every key it writes must fall inside
//! the node: an existing extent reaching back into the previous node is
//! refused with [`NodeError::OutOfRange`], for the tree layer to handle.

use super::error::NodeError;
use super::iter::Filter;
use super::Node;
use crate::bkey::extent::{cut_back, cut_front, overwrite, Overwrite, Span};
use crate::bkey::{Key, Pos};
use crate::platform::vec::Vec;

/// One key the insert writes: a replacement or a deletion.
pub type Plan = Vec<Key>;

impl Node {
    /// The keys that inserting extent `key` writes, in order, ending with
    /// `key` itself.
    pub fn plan_extent(&self, key: &Key) -> Result<Plan, NodeError> {
        let new = Span::of(key);
        let (inode, snapshot) = (key.pos.inode, key.pos.snapshot);
        let mut plan = Vec::new();
        let from = Pos::new(inode, new.start.saturating_add(1), 0);
        for k in self.keys_from(from, Filter::Live) {
            let pos = k.pos();
            if pos.inode != inode || pos.offset.saturating_sub(u64::from(u32::MAX)) >= new.end {
                break;
            }
            if pos.snapshot != snapshot || k.size() == 0 {
                continue;
            }
            let old = Span {
                start: k.start(),
                end: pos.offset,
            };
            if old.start >= new.end {
                break;
            }
            let owned = k.to_key()?;
            match overwrite(old, new) {
                Overwrite::None => {}
                Overwrite::All => plan.try_push(Key::deleted(pos))?,
                Overwrite::Front => {
                    plan.try_push(cut_front(&owned, new.end).ok_or(NodeError::OutOfRange)?)?
                }
                Overwrite::Back => {
                    plan.try_push(Key::deleted(pos))?;
                    plan.try_push(cut_back(&owned, new.start).ok_or(NodeError::OutOfRange)?)?;
                }
                Overwrite::Middle => {
                    plan.try_push(cut_back(&owned, new.start).ok_or(NodeError::OutOfRange)?)?;
                    plan.try_push(cut_front(&owned, new.end).ok_or(NodeError::OutOfRange)?)?;
                }
            }
        }
        plan.try_push(*key)?;
        Ok(plan)
    }

    /// Inserts extent `key`, trimming what it overlaps. Unchanged on error;
    /// [`NodeError::Full`] if the node might not hold all of it.
    pub fn insert_extent(&mut self, key: &Key) -> Result<(), NodeError> {
        self.check_key(key)?;
        let plan = self.plan_extent(key)?;
        let mut needed = 0usize;
        for k in plan.iter() {
            self.check_key(k)?;
            needed = needed.saturating_add(k.encoded_len());
        }
        if needed > self.free_bytes() {
            return Err(NodeError::Full);
        }
        for k in plan.iter() {
            self.insert(k)?;
        }
        Ok(())
    }
}
