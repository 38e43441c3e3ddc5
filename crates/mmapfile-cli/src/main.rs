//! `mmapfile`: the guide's demo, and read, find, grep and replace through memory maps.
//!
//! Exit status follows grep: 0 success or found, 1 nothing found, 2 error. An error is one
//! line on stderr naming the file and the cause; a closed stdout (`| head`) ends the command
//! quietly; a panic, which would be a bug, is reported as one line too, never a backtrace.

mod args;
mod cli;
mod demo;
mod failure;
mod find;
mod grep;
mod occurrences;
mod progress;
mod read;
mod replace;
mod source;

use std::io::{self, BufWriter, Write};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::{Failure, Outcome};

fn main() -> ExitCode {
    // Help, version and usage errors are clap's to print; they exit 0 or 2 by themselves.
    let cli = Cli::parse();
    panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_string());
        let place = info
            .location()
            .map(|at| format!(" at {}:{}", at.file(), at.line()))
            .unwrap_or_default();
        let message = message.replace('\n', "; ");
        failure::report(format_args!(
            "mmapfile: internal error (a bug, please report it): {message}{place}"
        ));
    }));
    match panic::catch_unwind(AssertUnwindSafe(|| run(&cli))) {
        Ok(Ok(outcome)) => outcome.into(),
        Ok(Err(failure)) if failure.is_closed_stdout() => ExitCode::SUCCESS,
        Ok(Err(failure)) => {
            failure::report(&failure);
            ExitCode::from(2)
        }
        // The hook has already printed the one line.
        Err(_) => ExitCode::from(2),
    }
}

fn run(cli: &Cli) -> Result<Outcome, Failure> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let outcome = match &cli.command {
        Command::Demo(args) => demo::run(args, &mut out),
        Command::Read(args) => read::run(args, &mut out),
        Command::Find(args) => find::run(args, &mut out),
        Command::Grep(args) => grep::run(args, &mut out),
        Command::Replace(args) => replace::run(args, &mut out),
    };
    // What was printed before a failure still goes out, ahead of the error line.
    let flushed = out.flush().map_err(Failure::Stdout);
    let outcome = outcome?;
    flushed?;
    Ok(outcome)
}
