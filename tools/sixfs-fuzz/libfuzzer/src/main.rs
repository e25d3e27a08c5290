// SPDX-License-Identifier: GPL-2.0

//! libFuzzer over one sixfs-fuzz target, chosen by `SIXFS_FUZZ_TARGET`:
//! one binary for every target, so a new target needs no new binary.
//! A failed check panics, which libFuzzer reports as a crash and saves.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sixfs_fuzz::Target;
use std::sync::OnceLock;

fn target() -> &'static Target {
    static TARGET: OnceLock<&'static Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let name = std::env::var("SIXFS_FUZZ_TARGET").unwrap_or_default();
        sixfs_fuzz::find(&name)
            .unwrap_or_else(|| panic!("SIXFS_FUZZ_TARGET={name:?} names no target"))
    })
}

fuzz_target!(|input: &[u8]| {
    if let Err(why) = target().run(input) {
        panic!("{}: {why}", target().name);
    }
});
