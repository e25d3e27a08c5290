// SPDX-License-Identifier: GPL-2.0

//! Every fuzz target in every `cargo test`: its seeds are accepted, its
//! regression inputs pass, and the mutation fuzzer runs on it for
//! `SIXFS_FUZZ_SECS` seconds (1 by default) from a printed seed
//! (`SIXFS_FUZZ_SEED` replays one). A failing input is saved under
//! `regressions/<target>/`: commit it with the fix.

use sixfs_fuzz::{mutate, regression_inputs, save_regression, targets, Outcome};
use std::time::Duration;

#[test]
fn every_seed_is_accepted() {
    for t in targets::ALL {
        for (i, seed) in (t.seeds)().iter().enumerate() {
            assert_eq!(
                t.run_catching(seed),
                Ok(Outcome::Accepted),
                "{}: seed {i} is not accepted (the seeds no longer fit the parser)",
                t.name
            );
        }
    }
}

#[test]
fn regressions_still_pass() {
    let mut failed = Vec::new();
    for t in targets::ALL {
        for path in regression_inputs(t) {
            let input = std::fs::read(&path).unwrap();
            if let Err(why) = t.run_catching(&input) {
                failed.push(format!("{}: {why}", path.display()));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn mutation_fuzzer_finds_nothing() {
    let secs: u64 = std::env::var("SIXFS_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let seed = std::env::var("SIXFS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    for t in targets::ALL {
        match mutate::fuzz(t, seed, Duration::from_secs(secs), 256) {
            Ok(stats) => {
                println!(
                    "{}: {} inputs in {secs} s (seed {seed}), {} accepted",
                    t.name, stats.runs, stats.accepted
                );
                assert!(
                    stats.accepted > 0,
                    "{}: no mutated input accepted: the fuzzer tests only the first check",
                    t.name
                );
            }
            Err(failure) => {
                let path = save_regression(t, &failure.input).unwrap();
                panic!(
                    "{}: {} (SIXFS_FUZZ_SEED={seed}); input saved as {}",
                    t.name,
                    failure.why,
                    path.display()
                );
            }
        }
    }
}
