// SPDX-License-Identifier: GPL-2.0

//! The locks compared, each driven through its own safe API behind the
//! kernel perf_test's interface (`sixfs_core::perf::locks::BenchLock`), so
//! that the same workloads run on all of them. std's RwLock has no intent
//! mode: intent takes it exclusive and write adds nothing. parking_lot's
//! upgradable read is an intent mode: shared with readers, exclusive with
//! other upgradable readers, upgraded to write once the readers are gone.

use parking_lot::{RwLockUpgradableReadGuard, RwLockWriteGuard};
use sixfs_core::perf::locks::{BenchLock, BENCH_SIX_CLASS};
use sixfs_core::six::SixLock;

/// A lock of the table: its column title and how to make one.
pub trait Named: BenchLock + Sized {
    /// The column title.
    const NAME: &'static str;
    /// An unlocked lock.
    fn new() -> Self;
}

/// Runs `f` while `guard` lives; false if the lock was not taken.
fn holding<G, E>(guard: Result<G, E>, f: impl FnOnce()) -> bool {
    let Ok(_guard) = guard else {
        return false;
    };
    f();
    true
}

/// sixfs's six lock, through the core's `BenchLock` (its raw operations, as
/// the btree and the kernel's perf_test use it).
impl Named for SixLock {
    const NAME: &'static str = "sixfs six";

    fn new() -> Self {
        SixLock::new(c"sixfs_bench", &BENCH_SIX_CLASS)
            .expect("a six lock allocates nothing in userspace")
    }
}

/// std's reader-writer lock.
pub struct StdRwLock(std::sync::RwLock<()>);

impl Named for StdRwLock {
    const NAME: &'static str = "std RwLock";

    fn new() -> Self {
        Self(std::sync::RwLock::new(()))
    }
}

impl BenchLock for StdRwLock {
    fn read(&self, f: impl FnOnce()) -> bool {
        holding(self.0.read(), f)
    }

    fn intent(&self, f: impl FnOnce()) -> bool {
        holding(self.0.write(), f)
    }

    fn write(&self, f: impl FnOnce()) -> bool {
        self.intent(f)
    }
}

/// parking_lot's reader-writer lock.
pub struct ParkingLot(parking_lot::RwLock<()>);

impl Named for ParkingLot {
    const NAME: &'static str = "parking_lot";

    fn new() -> Self {
        Self(parking_lot::RwLock::new(()))
    }
}

impl BenchLock for ParkingLot {
    fn read(&self, f: impl FnOnce()) -> bool {
        let _read = self.0.read();
        f();
        true
    }

    fn intent(&self, f: impl FnOnce()) -> bool {
        let _upgradable = self.0.upgradable_read();
        f();
        true
    }

    fn write(&self, f: impl FnOnce()) -> bool {
        let upgradable = self.0.upgradable_read();
        let write = RwLockUpgradableReadGuard::upgrade(upgradable);
        f();
        drop(RwLockWriteGuard::downgrade_to_upgradable(write));
        true
    }
}
