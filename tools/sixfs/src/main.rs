// SPDX-License-Identifier: GPL-2.0

//! `sixfs`: mkfs, fsck and dump for sixfs, one binary.
//!
//! Run as `sixfs mkfs|fsck|dump ...`, or under the names `mkfs.sixfs` and
//! `fsck.sixfs` (links to this binary), which is how `mkfs -t sixfs` and
//! `fsck -t sixfs` find it.

mod dump;
mod file_device;
mod fsck;
mod journal;
mod messages;
mod mkfs;
mod signatures;
#[cfg(test)]
mod test_dir;
mod uuid;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "sixfs",
    version,
    about = "Make, check and show sixfs filesystems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Make a filesystem (also run as mkfs.sixfs).
    Mkfs(mkfs::MkfsArgs),
    /// Check and repair a filesystem (also run as fsck.sixfs).
    Fsck(fsck::FsckArgs),
    /// Show a filesystem's superblock, space map, btrees or journal.
    Dump(dump::DumpArgs),
}

/// Prints a parse error (or the help or version asked for) and gives the
/// exit status: `usage` for an error, 0 for help and version.
fn parse_failure(error: clap::Error, usage: u8) -> u8 {
    let _ = error.print();
    if error.use_stderr() {
        usage
    } else {
        0
    }
}

/// Runs one tool under its own name (`mkfs.sixfs`, `fsck.sixfs`).
fn run_as<A: Args>(name: &'static str, usage: u8, args: Vec<OsString>, run: fn(&A) -> u8) -> u8 {
    let command = A::augment_args(
        clap::Command::new(name)
            .version(env!("CARGO_PKG_VERSION"))
            .about(format!("sixfs {}", &name[..4])),
    );
    match command
        .try_get_matches_from(args)
        .and_then(|m| A::from_arg_matches(&m))
    {
        Ok(parsed) => run(&parsed),
        Err(e) => parse_failure(e, usage),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("sixfs")
        .to_string();
    let status = match invoked_as.as_str() {
        "mkfs.sixfs" => run_as("mkfs.sixfs", mkfs::EXIT_FAILED, args, mkfs::run),
        "fsck.sixfs" => run_as("fsck.sixfs", fsck::EXIT_USAGE, args, fsck::run),
        _ => {
            // A usage error exits as the subcommand's own name would.
            let usage = match args.get(1).and_then(|a| a.to_str()) {
                Some("fsck") => fsck::EXIT_USAGE,
                Some("mkfs") => mkfs::EXIT_FAILED,
                _ => 2,
            };
            match Cli::command()
                .try_get_matches_from(args)
                .and_then(|m| Cli::from_arg_matches(&m))
            {
                Ok(cli) => match cli.command {
                    Command::Mkfs(a) => mkfs::run(&a),
                    Command::Fsck(a) => fsck::run(&a),
                    Command::Dump(a) => dump::run(&a),
                },
                Err(e) => parse_failure(e, usage),
            }
        }
    };
    ExitCode::from(status)
}
