//! `mmapfile find FILE NEEDLE [--all] [--count] [--reverse] [--start N] [--end N]`.

use std::io::Write;
use std::ops::ControlFlow;

use crate::args::arg_bytes;
use crate::cli::FindArgs;
use crate::failure::{Failure, Outcome};
use crate::occurrences;
use crate::progress::Progress;
use crate::source::{Purpose, Source};

pub fn run(args: &FindArgs, out: &mut impl Write) -> Result<Outcome, Failure> {
    let needle = arg_bytes(&args.needle, "NEEDLE")?;
    if needle.is_empty() {
        return Err(Failure::Argument(
            "NEEDLE is empty: give at least one byte to look for".into(),
        ));
    }
    let source = Source::open(&args.file, Purpose::Read)?;
    // Like the bounds of a Python slice: past the end means the end; start after end, nothing.
    let size = source.size();
    let start = args.start.unwrap_or(0).min(size);
    let end = args.end.unwrap_or(size).min(size);
    let found = if start < end {
        // Only the searched window is mapped; offsets are reported from the file's start.
        match source.map_window(start..end)? {
            Some(map) => report(&source, map.as_dyn(), needle, args, start, out)?,
            None => 0,
        }
    } else {
        0
    };
    if args.count {
        writeln!(out, "{found}").map_err(Failure::Stdout)?;
    }
    Ok(if found > 0 {
        Outcome::Success
    } else {
        Outcome::NothingFound
    })
}

/// Prints the occurrences `args` asks for (unless counting) and returns how many there were.
fn report(
    source: &Source,
    map: &mmapfile::DynMmap,
    needle: &[u8],
    args: &FindArgs,
    base: u64,
    out: &mut impl Write,
) -> Result<u64, Failure> {
    let progress = Progress::new(source.size(), map.len() as u64, "searching");
    if !(args.all || args.count) {
        // One occurrence: exactly the core's find_in / rfind_in, with the bar fed by the
        // threads as they search.
        let searched = |done: usize| progress.advance_to(done as u64);
        let found = if args.reverse {
            map.rfind_in_reporting(needle, .., searched)
        } else {
            map.find_in_reporting(needle, .., searched)
        }
        .map_err(|err| source.fail(err))?;
        return match found {
            Some(at) => {
                writeln!(out, "{}", base + at as u64).map_err(Failure::Stdout)?;
                Ok(1)
            }
            None => Ok(0),
        };
    }
    if args.count {
        // Only how many: exactly the core's count (threaded over a long map, keeping no
        // offsets), the bar, when there is one, fed as pieces are counted; without one the
        // count need not be cut into pieces for it. Counting backwards gives the same number
        // (greedy picking of equal-length occurrences finds the most there can be from
        // either end).
        let counted = if progress.shown() {
            map.count_in_reporting(needle, .., |done| progress.set(done as u64))
        } else {
            map.count(needle)
        };
        return counted.map(|n| n as u64).map_err(|err| source.fail(err));
    }
    // Every occurrence (--all): the core's threaded walk, which reports its progress.
    let mut found = 0;
    occurrences::walk(map, needle, args.reverse, &progress, |at| {
        found += 1;
        writeln!(out, "{}", base + at as u64)?;
        Ok(ControlFlow::Continue(()))
    })
    .map_err(|err| source.fail(err))?
    .map_err(Failure::Stdout)?;
    Ok(found)
}
