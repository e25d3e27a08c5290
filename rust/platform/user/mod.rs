// SPDX-License-Identifier: GPL-2.0

//! Userspace platform: std (or loom, under `--cfg loom`) and libtest.

pub mod log;
pub mod sync;
pub mod vec;
pub mod wait;

#[cfg(test)]
mod test;
#[cfg(test)]
pub(crate) use test::*;
