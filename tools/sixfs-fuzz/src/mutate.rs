// SPDX-License-Identifier: GPL-2.0

//! A mutation fuzzer without instrumentation: it starts from a target's
//! seeds and keeps every mutated input the parser accepted as a new
//! starting point (acceptance is the only feedback it has). Deterministic
//! for a seed, so a failure replays with `SIXFS_FUZZ_SEED`.

use crate::{Outcome, Target};
use sixfs_core::platform::rng::Rng;
use std::time::{Duration, Instant};

/// Inputs the fuzzer keeps at most, seeds included: enough variety,
/// bounded memory.
const MAX_CORPUS: usize = 512;

/// An input slower than this counts as a hang: no parser of one node or
/// superblock has a reason to take that long.
pub const SLOW_INPUT: Duration = Duration::from_secs(1);

/// Values that break arithmetic on lengths, counts and sizes.
const INTERESTING: [u64; 16] = [
    0,
    1,
    2,
    7,
    8,
    0x7f,
    0x80,
    0xff,
    0x100,
    511,
    512,
    4096,
    0x7fff,
    0xffff,
    u32::MAX as u64,
    u64::MAX,
];

/// What a fuzzing run did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Inputs checked.
    pub runs: u64,
    /// Of those, inputs the parser accepted.
    pub accepted: u64,
    /// Inputs kept to mutate further.
    pub corpus: usize,
}

/// An input that made the target fail.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The input.
    pub input: Vec<u8>,
    /// What went wrong.
    pub why: String,
}

/// Fuzzes `target` from `seed` until `budget` has passed and at least
/// `min_runs` inputs were checked (a loaded machine still tests something).
pub fn fuzz(target: &Target, seed: u64, budget: Duration, min_runs: u64) -> Result<Stats, Failure> {
    let deadline = Instant::now() + budget;
    let mut rng = Rng::new(seed);
    let mut corpus = (target.seeds)();
    assert!(!corpus.is_empty(), "target {} has no seeds", target.name);
    let mut stats = Stats::default();
    while Instant::now() < deadline || stats.runs < min_runs {
        // Check the clock every few inputs only: it costs more than a
        // refused superblock.
        for _ in 0..64 {
            let mut input = corpus[rng.below(corpus.len() as u64) as usize].clone();
            let steps = 1 + rng.below(4);
            for _ in 0..steps {
                let other = &corpus[rng.below(corpus.len() as u64) as usize];
                mutate(&mut rng, &mut input, other, target.fields);
            }
            let started = Instant::now();
            let outcome = target.run_catching(&input).map_err(|why| Failure {
                input: input.clone(),
                why,
            })?;
            let took = started.elapsed();
            if took > SLOW_INPUT {
                return Err(Failure {
                    why: format!("took {} ms", took.as_millis()),
                    input,
                });
            }
            stats.runs += 1;
            if outcome == Outcome::Accepted {
                stats.accepted += 1;
                if corpus.len() < MAX_CORPUS {
                    corpus.push(input);
                } else {
                    let at = rng.below(MAX_CORPUS as u64) as usize;
                    corpus[at] = input;
                }
            }
        }
    }
    stats.corpus = corpus.len();
    Ok(stats)
}

/// One random change to `input`; `other` is another corpus entry to splice
/// from, `fields` the offsets worth aiming at.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8], fields: &[usize]) {
    let len = input.len() as u64;
    match rng.below(10) {
        0 | 1 if len > 0 => {
            let bit = rng.below(len * 8) as usize;
            input[bit / 8] ^= 1 << (bit % 8);
        }
        2 if len > 0 => {
            let at = rng.below(len) as usize;
            input[at] = rng.next_u64() as u8;
        }
        3 | 4 => {
            // An interesting value, or a field nudged by a little: lengths
            // and counts one off are where bounds checks go wrong.
            let at = if !fields.is_empty() && rng.below(4) != 0 {
                fields[rng.below(fields.len() as u64) as usize]
            } else {
                rng.below(len.max(1)) as usize
            };
            let width = [1, 2, 4, 8][rng.below(4) as usize];
            let Some(dst) = input.get_mut(at..at + width) else {
                return;
            };
            let value = if rng.below(2) == 0 {
                INTERESTING[rng.below(INTERESTING.len() as u64) as usize]
            } else {
                let mut old = [0u8; 8];
                old[..width].copy_from_slice(dst);
                let delta = 1 + rng.below(8);
                let old = u64::from_le_bytes(old);
                if rng.below(2) == 0 {
                    old.wrapping_add(delta)
                } else {
                    old.wrapping_sub(delta)
                }
            };
            dst.copy_from_slice(&value.to_le_bytes()[..width]);
        }
        5 => input.truncate(rng.below(len + 1) as usize),
        6 => {
            // Longer: random bytes or zeros at the end.
            let extra = 1 + rng.below(64) as usize;
            let zeros = rng.below(2) == 0;
            input.extend((0..extra).map(|_| if zeros { 0 } else { rng.next_u64() as u8 }));
        }
        7 if len > 0 => {
            // A range copied over another place of the same input: a key
            // or record duplicated or shifted.
            let from = rng.below(len) as usize;
            let to = rng.below(len) as usize;
            let n = (1 + rng.below(64) as usize).min(input.len() - from.max(to));
            input.copy_within(from..from + n, to);
        }
        8 if len > 0 => {
            // A range removed: the rest moves up, as a lost record would.
            let from = rng.below(len) as usize;
            let n = (1 + rng.below(64) as usize).min(input.len() - from);
            input.drain(from..from + n);
        }
        _ => {
            // Splice: the start of this input, the end of another.
            let cut = rng.below(len + 1) as usize;
            let other_cut = rng.below(other.len() as u64 + 1) as usize;
            input.truncate(cut);
            input.extend_from_slice(&other[other_cut..]);
        }
    }
}
