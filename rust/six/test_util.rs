// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the six lock's test suites.

use super::SixLockCounts;

/// The counts a lock should report.
pub(super) fn counts(read: u32, intent: u32, write: bool) -> SixLockCounts {
    SixLockCounts {
        read,
        intent,
        write,
    }
}
