// SPDX-License-Identifier: GPL-2.0

//! sixfs: a filesystem built on bcachefs's btree machinery.
//!
//! This is the crate root of the kernel module. The shared core (`platform`,
//! `bkey`, `format`, ...) is also compiled, from the same files, by the
//! userspace crate in `tools/sixfs-core`.

use kernel::prelude::*;

// The shared core is a library: its `pub` items are the API of the userspace
// crate (tools/sixfs-core), and parts of it serve only the tools and the
// tests until the filesystem layer grows into them. It has no `unsafe`, by
// rule: only `glue` and the kernel half of `platform` (which forbids it in
// its other parts itself) meet the kernel's C. With KUnit it is `deny`
// rather than `forbid`: the suites' statics, which the glue's `kunit_suite!`
// expands into each test module, carry `#[link_section]` (counted as
// unsafe) and allow it for themselves alone. The userspace crate compiles
// the same files, tests included, under `forbid`.
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod bkey;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod btree;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod device;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod format;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod journal;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod node;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod perf;
#[allow(unreachable_pub, dead_code, unused_imports)]
mod platform;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod six;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod space;
#[allow(unreachable_pub, dead_code, unused_imports)]
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod store;

// Kernel-only layers; `fs` works through the glue's safe types.
#[cfg_attr(not(CONFIG_KUNIT), forbid(unsafe_code))]
#[cfg_attr(CONFIG_KUNIT, deny(unsafe_code))]
mod fs;
mod glue;
mod perf_command;

module! {
    type: SixfsModule,
    name: "sixfs",
    author: "the sixfs developers",
    description: "sixfs: a btree filesystem with six locks",
    license: "GPL",
}

/// `/sys/kernel/debug/sixfs/btree_transactions`: every running
/// transaction's held and awaited locks.
static BTREE_TRANSACTIONS: glue::debugfs::Text = glue::debugfs::Text {
    show: |out| btree::trans_list::write_text(out),
};

struct SixfsModule {
    _fs: glue::fs_type::Registration<fs::SixFs>,
    _debugfs: glue::debugfs::Dir,
}

impl kernel::Module for SixfsModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let debugfs = glue::debugfs::Dir::new(c"sixfs")?;
        debugfs.set_as_root();
        debugfs.command_file(c"perf_test", &perf_command::COMMAND)?;
        debugfs.text_file(c"btree_transactions", &BTREE_TRANSACTIONS)?;
        let fs = glue::fs_type::Registration::<fs::SixFs>::new(module)?;
        pr_info!("filesystem type registered\n");
        Ok(Self {
            _fs: fs,
            _debugfs: debugfs,
        })
    }
}

impl Drop for SixfsModule {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
