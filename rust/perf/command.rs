// SPDX-License-Identifier: GPL-2.0

//! Parsing "NAME COUNT THREADS" commands.

/// A parsed perf test command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// The workload.
    pub name: &'a str,
    /// Iterations over all threads.
    pub count: u64,
    /// Threads.
    pub threads: u32,
}

/// Why a command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// Not three words.
    Syntax,
    /// COUNT is not a number (with an optional K, M or G suffix) above 0.
    BadCount,
    /// THREADS is not a number from 1 to 64.
    BadThreads,
}

/// The most threads a command may ask for.
pub const MAX_THREADS: u32 = 64;

/// Parses "NAME COUNT THREADS", e.g. "six_read 10M 2".
pub fn parse_command(text: &str) -> Result<Command<'_>, CommandError> {
    let mut words = text.split_ascii_whitespace();
    let (Some(name), Some(count), Some(threads), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(CommandError::Syntax);
    };
    let count = parse_count(count).ok_or(CommandError::BadCount)?;
    let threads = threads
        .parse::<u32>()
        .ok()
        .filter(|t| (1..=MAX_THREADS).contains(t))
        .ok_or(CommandError::BadThreads)?;
    if count < u64::from(threads) {
        return Err(CommandError::BadCount);
    }
    Ok(Command {
        name,
        count,
        threads,
    })
}

/// Parses a count such as "1000", "10K", "2M" or "1G".
pub fn parse_count(text: &str) -> Option<u64> {
    let units: [([char; 2], u64); 3] = [
        (['K', 'k'], 1_000),
        (['M', 'm'], 1_000_000),
        (['G', 'g'], 1_000_000_000),
    ];
    let (digits, unit) = units
        .iter()
        .find_map(|&(suffix, unit)| Some((text.strip_suffix(suffix)?, unit)))
        .unwrap_or((text, 1));
    digits
        .parse::<u64>()
        .ok()?
        .checked_mul(unit)
        .filter(|&n| n > 0)
}
