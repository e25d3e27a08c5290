// SPDX-License-Identifier: GPL-2.0

//! The sixfs shared core, compiled for userspace.
//!
//! These are the same source files that the kernel module compiles (see
//! `rust/sixfs.rs`); only the platform layer differs. Nothing here may be
//! written twice: add a core module in `rust/` and list it in both roots.
//! The core has no `unsafe`, by rule (`forbid(unsafe_code)` on every module;
//! the userspace platform forbids it in `platform/mod.rs`).

#[path = "../../../rust/platform/mod.rs"]
pub mod platform;

#[path = "../../../rust/six/mod.rs"]
#[forbid(unsafe_code)]
pub mod six;

#[path = "../../../rust/bkey/mod.rs"]
#[forbid(unsafe_code)]
pub mod bkey;

#[path = "../../../rust/node/mod.rs"]
#[forbid(unsafe_code)]
pub mod node;

// Loom checks the six lock only; the btree's statics are not loom's.
#[cfg(not(loom))]
#[path = "../../../rust/btree/mod.rs"]
#[forbid(unsafe_code)]
pub mod btree;

#[path = "../../../rust/device/mod.rs"]
#[forbid(unsafe_code)]
pub mod device;

#[path = "../../../rust/format/mod.rs"]
#[forbid(unsafe_code)]
pub mod format;

#[path = "../../../rust/space/mod.rs"]
#[forbid(unsafe_code)]
pub mod space;

#[cfg(not(loom))]
#[path = "../../../rust/journal/mod.rs"]
#[forbid(unsafe_code)]
pub mod journal;

#[cfg(not(loom))]
#[path = "../../../rust/store/mod.rs"]
#[forbid(unsafe_code)]
pub mod store;

// Benchmarks run threads and read clocks, which loom does not model.
#[cfg(not(loom))]
#[path = "../../../rust/perf/mod.rs"]
#[forbid(unsafe_code)]
pub mod perf;
