// SPDX-License-Identifier: GPL-2.0

//! The locks compared, behind one interface with read, intent and write
//! modes. std's RwLock has no intent mode: intent takes it exclusive and
//! write adds nothing. parking_lot's upgradable read is an intent mode:
//! shared with readers, exclusive with other upgradable readers, upgraded
//! to write once the readers are gone.

use parking_lot::{RwLockUpgradableReadGuard, RwLockWriteGuard};
use sixfs_core::platform::sync::LockClass;
use sixfs_core::six::SixLock;

/// A lock with read, intent and write modes; `f` runs with it held.
pub trait BenchLock: Sync + Sized {
    /// The column title.
    const NAME: &'static str;
    /// An unlocked lock.
    fn new() -> Self;
    /// Runs `f` holding read.
    fn read(&self, f: impl FnOnce());
    /// Runs `f` holding intent.
    fn intent(&self, f: impl FnOnce());
    /// Runs `f` holding intent and write (taken and released in that
    /// nesting).
    fn write(&self, f: impl FnOnce());
}

static CLASS: LockClass = LockClass::new();

/// sixfs's six lock, through its guards.
pub struct Six(SixLock);

impl BenchLock for Six {
    const NAME: &'static str = "sixfs six";

    fn new() -> Self {
        Self(SixLock::new(c"sixfs_bench", &CLASS))
    }

    fn read(&self, f: impl FnOnce()) {
        let _read = self.0.read().expect("six read");
        f();
    }

    fn intent(&self, f: impl FnOnce()) {
        let _intent = self.0.intent().expect("six intent");
        f();
    }

    fn write(&self, f: impl FnOnce()) {
        let mut intent = self.0.intent().expect("six intent");
        let _write = intent.write().expect("six write");
        f();
    }
}

/// std's reader-writer lock.
pub struct StdRwLock(std::sync::RwLock<()>);

impl BenchLock for StdRwLock {
    const NAME: &'static str = "std RwLock";

    fn new() -> Self {
        Self(std::sync::RwLock::new(()))
    }

    fn read(&self, f: impl FnOnce()) {
        let _read = self.0.read().expect("std read");
        f();
    }

    fn intent(&self, f: impl FnOnce()) {
        let _exclusive = self.0.write().expect("std write");
        f();
    }

    fn write(&self, f: impl FnOnce()) {
        let _exclusive = self.0.write().expect("std write");
        f();
    }
}

/// parking_lot's reader-writer lock.
pub struct ParkingLot(parking_lot::RwLock<()>);

impl BenchLock for ParkingLot {
    const NAME: &'static str = "parking_lot";

    fn new() -> Self {
        Self(parking_lot::RwLock::new(()))
    }

    fn read(&self, f: impl FnOnce()) {
        let _read = self.0.read();
        f();
    }

    fn intent(&self, f: impl FnOnce()) {
        let _upgradable = self.0.upgradable_read();
        f();
    }

    fn write(&self, f: impl FnOnce()) {
        let upgradable = self.0.upgradable_read();
        let write = RwLockUpgradableReadGuard::upgrade(upgradable);
        f();
        drop(RwLockWriteGuard::downgrade_to_upgradable(write));
    }
}
