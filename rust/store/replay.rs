// SPDX-License-Identifier: GPL-2.0

//! Replay: the journal's updates since the last checkpoint, applied at
//! mount, in the order they were committed.
//!
//! Each entry's records go in as plain updates, in batches, each batch one
//! transaction (within one, the last update of a position wins, which is
//! the journal's order too). Updates are blind, so applying them onto a
//! tree that already holds some (a checkpoint during replay, then a crash)
//! leaves the same tree: replay can always be done again.

use super::{Store, StoreError};
use crate::bkey::Value;
use crate::btree::{BtreeId, BTREE_ID_NR};
use crate::device::Device;
use crate::format::journal::Entry;
use crate::format::superblock::JournalCursor;
use crate::journal::{read_chain, ChainEnd, ReadError, Ring};
use crate::platform::vec::Vec;

/// Updates replayed in one transaction.
const BATCH: usize = 64;

impl<D: Device + Sync> Store<D> {
    /// Replays the chain of entries from `cursor`; returns where it ended
    /// and how many updates it applied. Out of line: its transactions go
    /// deep, and open's frame is large.
    #[inline(never)]
    pub(super) fn replay(
        &self,
        ring: &Ring,
        cursor: JournalCursor,
    ) -> Result<(ChainEnd, u64), StoreError> {
        let mut keys = 0u64;
        let end = read_chain(&self.dev, ring, cursor, |entry| {
            keys += self.replay_entry(entry)?;
            Ok(())
        })
        .map_err(|e| match e {
            ReadError::Device(e) => StoreError::Device(e),
            ReadError::NoMemory => StoreError::NoMemory,
            ReadError::Apply(e) => e,
        })?;
        Ok((end, keys))
    }

    /// Applies one entry's records; returns how many.
    fn replay_entry(&self, entry: &Entry<'_>) -> Result<u64, StoreError> {
        let bad = |why| StoreError::BadJournal {
            seq: entry.seq,
            why,
        };
        let mut batch = Vec::try_with_capacity(BATCH)?;
        let mut applied = 0u64;
        let mut records = entry.records().peekable();
        while records.peek().is_some() {
            batch.clear();
            for record in records.by_ref().take(BATCH) {
                // decode checked every record already.
                let (btree, key) = record.map_err(|_| bad("a record is not a key"))?;
                let key = key.to_key().map_err(|_| bad("a record is not a key"))?;
                if usize::from(btree) >= BTREE_ID_NR {
                    return Err(bad("an update of an unknown btree"));
                }
                if matches!(key.value, Value::BtreePtr(_)) {
                    return Err(bad("a btree pointer among the updates"));
                }
                batch.try_push((BtreeId(btree), key))?;
            }
            self.trans().run(|t| {
                for &(btree, key) in batch.iter() {
                    t.update(btree, key)?;
                }
                t.commit()
            })?;
            applied += batch.len() as u64;
        }
        Ok(applied)
    }
}
