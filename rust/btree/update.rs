// SPDX-License-Identifier: GPL-2.0

//! An update a transaction queued for its commit (and the journal logs).

use super::cache::BtreeId;
use crate::bkey::Key;

/// One queued update.
#[derive(Clone, Copy, Debug)]
pub struct Update {
    /// Which tree.
    pub btree: BtreeId,
    /// The key; a deleted key deletes.
    pub key: Key,
    /// The path that leads to its leaf: an iterator's that may serve (see
    /// [`Trans::update_via`]), then the one commit chose.
    ///
    /// [`Trans::update_via`]: super::Trans::update_via
    pub path: Option<usize>,
}
