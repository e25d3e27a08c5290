// SPDX-License-Identifier: GPL-2.0

//! Fuzz targets for every parser of bytes that come from a device.
//!
//! A [`Target`] is one parser: seed inputs that the encoders make, and a
//! check that parses any input and fails (returns `Err` or panics) when the
//! parser misbehaves: a panic, an accepted input whose decoded value does
//! not encode to something accepted again, a broken invariant. Two engines
//! drive the same targets:
//!
//! - libFuzzer, coverage-guided (`libfuzzer/`, built by `scripts/fuzz.sh`
//!   with the stable toolchain's sanitizer-coverage passes), in `make check`
//!   and `make fuzz`;
//! - the mutation fuzzer in [`mutate`], which needs no instrumentation and
//!   runs in every `cargo test` for a moment per target.
//!
//! Inputs that once failed are kept in `regressions/<target>/` and replayed
//! by `cargo test` (`tests/regressions.rs`). Documentation/testing.rst says
//! how to add a target.

#![forbid(unsafe_code)]

pub mod mutate;
pub mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// What a parser made of an input that it handled correctly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It accepted the input (or part of it, for a target that parses a
    /// sequence), and what it decoded passed the target's checks.
    Accepted,
    /// It refused the input with an error.
    Refused,
}

/// One parser under test.
pub struct Target {
    /// The name on the command line and of its regression directory.
    pub name: &'static str,
    /// Valid inputs, made by the encoders: where fuzzing starts.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Parses `input`; `Err` says what went wrong. A panic is a failure too.
    pub check: fn(&[u8]) -> Result<Outcome, String>,
    /// Makes the checksums in `input` right, so that a mutation reaches the
    /// checks behind them: every input is checked as it is and, when this
    /// is set, once more fixed up.
    pub fix_up: Option<fn(&mut [u8])>,
    /// Byte offsets of the input's fields (lengths, counts, sizes) that the
    /// mutation fuzzer sets to interesting values.
    pub fields: &'static [usize],
    /// Longest input worth trying (libFuzzer's `-max_len`): a little past
    /// what the parser can read.
    pub max_input: usize,
}

impl Target {
    /// The target's check on `input` and, when it has checksums, on
    /// `input` with them fixed up. Panics propagate (libFuzzer wants them).
    pub fn run(&self, input: &[u8]) -> Result<Outcome, String> {
        let mut outcome = (self.check)(input)?;
        if let Some(fix_up) = self.fix_up {
            let mut fixed = input.to_vec();
            fix_up(&mut fixed);
            let fixed = (self.check)(&fixed)
                .map_err(|why| format!("{why} (with its checksums fixed up)"))?;
            if fixed == Outcome::Accepted {
                outcome = Outcome::Accepted;
            }
        }
        Ok(outcome)
    }

    /// [`Target::run`] with a panic turned into an `Err`.
    pub fn run_catching(&self, input: &[u8]) -> Result<Outcome, String> {
        match catch_unwind(AssertUnwindSafe(|| self.run(input))) {
            Ok(result) => result,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(format!("panicked: {message}"))
            }
        }
    }

    /// Where this target's regression inputs live.
    pub fn regressions_dir(&self) -> PathBuf {
        regressions_root().join(self.name)
    }
}

/// `tools/sixfs-fuzz/regressions`: one directory per target.
pub fn regressions_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

/// Every target, by name.
pub fn find(name: &str) -> Option<&'static Target> {
    targets::ALL.iter().copied().find(|t| t.name == name)
}

/// The regression inputs of `target`, sorted by name (`*.bin` files).
pub fn regression_inputs(target: &Target) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(target.regressions_dir()) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    paths.sort();
    paths
}

/// Saves `input` as a regression case of `target`, named by its crc32c,
/// and returns the path.
pub fn save_regression(target: &Target, input: &[u8]) -> std::io::Result<PathBuf> {
    let dir = target.regressions_dir();
    std::fs::create_dir_all(&dir)?;
    let crc = sixfs_core::platform::crc32c::crc32c(input);
    let path = dir.join(format!("{crc:08x}.bin"));
    std::fs::write(&path, input)?;
    Ok(path)
}
