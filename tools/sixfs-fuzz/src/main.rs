// SPDX-License-Identifier: GPL-2.0

//! `sixfs-fuzz`: the targets' seeds and regression inputs, and the
//! mutation fuzzer, from the command line (`scripts/fuzz.sh` uses it
//! beside the libFuzzer binary).

use sixfs_fuzz::{find, mutate, save_regression, targets, Target};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: sixfs-fuzz list                 target names and longest inputs
       sixfs-fuzz seeds DIR            write every target's seeds to DIR/TARGET/
       sixfs-fuzz replay TARGET FILE...  check inputs, exit 1 if one fails
       sixfs-fuzz save TARGET FILE...    keep inputs as regression cases
       sixfs-fuzz run TARGET [SECONDS [SEED]]  the mutation fuzzer";

fn target(name: Option<&String>) -> Result<&'static Target, String> {
    let name = name.ok_or(USAGE)?;
    find(name).ok_or_else(|| format!("no target {name}; `sixfs-fuzz list` names them"))
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

fn write_seeds(dir: &Path) -> Result<(), String> {
    for t in targets::ALL {
        let dir = dir.join(t.name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (i, seed) in (t.seeds)().iter().enumerate() {
            let path = dir.join(format!("seed-{i}"));
            std::fs::write(&path, seed).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

fn replay(t: &Target, files: &[String]) -> Result<bool, String> {
    let mut all_pass = true;
    for file in files {
        match t.run_catching(&read(file)?) {
            Ok(outcome) => println!("{file}: ok ({outcome:?})"),
            Err(why) => {
                println!("{file}: FAILED: {why}");
                all_pass = false;
            }
        }
    }
    Ok(all_pass)
}

fn run(t: &Target, args: &[String]) -> Result<bool, String> {
    let secs: u64 = match args.first() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("not a number of seconds: {s}"))?,
        None => 10,
    };
    let seed = match args.get(1) {
        Some(s) => s.parse().map_err(|_| format!("not a seed: {s}"))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    };
    match mutate::fuzz(t, seed, Duration::from_secs(secs), 0) {
        Ok(stats) => {
            println!(
                "{}: {} inputs in {secs} s (seed {seed}), {} accepted, corpus {}",
                t.name, stats.runs, stats.accepted, stats.corpus
            );
            Ok(true)
        }
        Err(failure) => {
            let path = save_regression(t, &failure.input).map_err(|e| e.to_string())?;
            println!(
                "{}: {} (seed {seed}); input saved as {}",
                t.name,
                failure.why,
                path.display()
            );
            Ok(false)
        }
    }
}

fn main_result() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") => {
            for t in targets::ALL {
                println!("{} {}", t.name, t.max_input);
            }
            Ok(true)
        }
        Some("seeds") => write_seeds(Path::new(args.get(1).ok_or(USAGE)?)).map(|()| true),
        Some("replay") => replay(target(args.get(1))?, &args[2..]),
        Some("save") => {
            let t = target(args.get(1))?;
            for file in &args[2..] {
                // Kept even when it passes here: libFuzzer also saves
                // inputs that were too slow or took too much memory.
                let input = read(file)?;
                let verdict = match t.run_catching(&input) {
                    Ok(_) => "passes when replayed".to_string(),
                    Err(why) => why,
                };
                let path = save_regression(t, &input).map_err(|e| e.to_string())?;
                println!("{}: {verdict}", path.display());
            }
            Ok(true)
        }
        Some("run") => run(target(args.get(1))?, &args[2..]),
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    // A panicking input is reported once, by run_catching, not also by the
    // default hook.
    std::panic::set_hook(Box::new(|_| {}));
    match main_result() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(why) => {
            eprintln!("sixfs-fuzz: {why}");
            ExitCode::from(2)
        }
    }
}
