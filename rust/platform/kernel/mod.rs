// SPDX-License-Identifier: GPL-2.0

//! Kernel platform: the shared core's view of the kernel. Like the rest of
//! the glue layer, it is where the `unsafe` calls live.

#[cfg(not(all(CONFIG_X86_64, not(CONFIG_KASAN), not(CONFIG_KCSAN))))]
mod atomic;
pub mod log;
pub mod sync;
pub mod vec;
pub mod wait;

// Only where lockdep can say what it saw: elsewhere the annotations are
// no-ops, with nothing to check.
#[cfg(all(CONFIG_KUNIT, CONFIG_LOCKDEP))]
mod lockdep_tests;
#[cfg(CONFIG_KUNIT)]
mod test;
#[cfg(CONFIG_KUNIT)]
pub(crate) use test::*;
