// SPDX-License-Identifier: GPL-2.0

//! What the store does when a metadata write fails or a node read at run
//! time is bad (`errors=`): report it, then go on, stop writing, or panic.

use super::{Store, StoreError};
use crate::device::Device;
use crate::platform::log;
use crate::platform::sync::Ordering;

/// The answer to a run-time error (`errors=continue|remount-ro|panic`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorPolicy {
    /// Report it and go on (the store's default; a mount's is
    /// `ReadOnly`).
    #[default]
    Continue,
    /// Report it and refuse writes from then on (`EROFS`): what is durable
    /// stays as it is.
    ReadOnly,
    /// Report it and panic.
    Panic,
}

impl ErrorPolicy {
    fn to_u32(self) -> u32 {
        match self {
            ErrorPolicy::Continue => 0,
            ErrorPolicy::ReadOnly => 1,
            ErrorPolicy::Panic => 2,
        }
    }

    fn from_u32(v: u32) -> Self {
        match v {
            0 => ErrorPolicy::Continue,
            2 => ErrorPolicy::Panic,
            _ => ErrorPolicy::ReadOnly,
        }
    }
}

impl<D: Device + Sync> Store<D> {
    /// Sets what run-time errors do (a remount may change it).
    pub fn set_error_policy(&self, policy: ErrorPolicy) {
        self.error_policy.store(policy.to_u32(), Ordering::Relaxed);
    }

    /// What run-time errors do.
    pub fn error_policy(&self) -> ErrorPolicy {
        ErrorPolicy::from_u32(self.error_policy.load(Ordering::Relaxed))
    }

    /// A run-time error while `doing`: logged with the filesystem's name,
    /// then the policy's answer. Errors during open are the open's result
    /// instead (the policy applies from the end of open).
    pub(super) fn runtime_error(&self, doing: &str, e: &StoreError) {
        if !self.opened() {
            return;
        }
        let uuid = self.uuid();
        // The UUID's first four bytes, as the other messages name it.
        let name = u32::from_be_bytes([uuid[0], uuid[1], uuid[2], uuid[3]]);
        match self.error_policy() {
            ErrorPolicy::Continue => {
                log::error(format_args!(
                    "sixfs {name:08x}: {doing}: {e} (errors=continue)"
                ));
            }
            ErrorPolicy::ReadOnly => {
                log::error(format_args!(
                    "sixfs {name:08x}: {doing}: {e}; read-only from now on (errors=remount-ro)"
                ));
                self.stopped_by_error.store(1, Ordering::Release);
                self.read_only.store(1, Ordering::Release);
            }
            ErrorPolicy::Panic => log::fatal(format_args!(
                "sixfs {name:08x}: {doing}: {e} (errors=panic)"
            )),
        }
    }
}
