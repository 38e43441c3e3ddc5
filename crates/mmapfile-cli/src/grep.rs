//! `mmapfile grep PATTERN FILE...`: `regex::bytes` straight over each file's map.

use std::io::{self, Write};

use regex::bytes::{Match, Regex, RegexBuilder};

use crate::args::path_bytes;
use crate::cli::GrepArgs;
use crate::failure::{report, Failure, Outcome};
use crate::progress::Progress;
use crate::source::{Purpose, Source};

pub fn run(args: &GrepArgs, out: &mut impl Write) -> Result<Outcome, Failure> {
    let regex = RegexBuilder::new(&args.pattern)
        .case_insensitive(args.ignore_case)
        // As in grep, `^` and `$` are about lines, not the whole file.
        .multi_line(true)
        .build()
        .map_err(|err| invalid_pattern(&args.pattern, &err))?;
    let mut matched = false;
    let mut failed = false;
    for path in &args.files {
        match search_file(&regex, path, args, out) {
            Ok(count) => matched |= count > 0,
            Err(failure @ Failure::Stdout(_)) => return Err(failure),
            Err(failure) => {
                // Like grep: report the file, go on with the others, exit 2 at the end.
                // Flushing first keeps the error after the matches that came before it.
                out.flush().map_err(Failure::Stdout)?;
                report(&failure);
                failed = true;
            }
        }
    }
    Ok(if failed {
        Outcome::Reported
    } else if matched {
        Outcome::Success
    } else {
        Outcome::NothingFound
    })
}

/// A regex syntax error as one line: the "error: …" part of regex's multi-line report.
fn invalid_pattern(pattern: &str, err: &regex::Error) -> Failure {
    let text = err.to_string();
    let reason = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .unwrap_or(&text);
    Failure::Argument(format!("invalid regex {pattern:?}: {reason}"))
}

/// Bytes searched between two moves of the progress bar.
const BAR_STEP: usize = 1 << 20;

/// Prints the matches in one file and returns how many there were.
fn search_file(
    regex: &Regex,
    path: &std::path::Path,
    args: &GrepArgs,
    out: &mut impl Write,
) -> Result<u64, Failure> {
    let source = Source::open(path, Purpose::Read)?;
    let name = path_bytes(path);
    let count = match source.map_window(0..source.size())? {
        // The regex sees the map as one byte string, matches across lines included.
        Some(map) => {
            let progress = Progress::new(source.size(), source.size(), "grep");
            // `scan_with`: the regex engine's assertions break if the file is truncated
            // mid-search; that becomes the truncation error, never a panic.
            map.scan_with(.., |haystack| {
                let mut count = 0;
                let mut reported = 0;
                for found in regex.find_iter(haystack) {
                    count += 1;
                    // Moving the bar reads the clock: once a MiB, not once a match.
                    if found.end() - reported >= BAR_STEP {
                        reported = found.end();
                        progress.set(reported as u64);
                    }
                    if !args.count {
                        print_match(out, &name, haystack, &found, args.only_matching)?;
                    }
                }
                io::Result::Ok(count)
            })
            .map_err(|err| source.fail(err))?
            .map_err(Failure::Stdout)?
        }
        // An empty file has nothing to map and nothing to match.
        None => 0,
    };
    if args.count {
        out.write_all(&name)
            .and_then(|()| writeln!(out, ":{count}"))
            .map_err(Failure::Stdout)?;
    }
    Ok(count)
}

/// `FILE:OFFSET:LINE`, or `FILE:OFFSET:MATCH` with `-o`. LINE is every line the match
/// touches, without the final newline.
fn print_match(
    out: &mut impl Write,
    name: &[u8],
    haystack: &[u8],
    found: &Match<'_>,
    only_matching: bool,
) -> io::Result<()> {
    out.write_all(name)?;
    write!(out, ":{}:", found.start())?;
    if only_matching {
        out.write_all(found.as_bytes())?;
    } else {
        let start = memchr::memrchr(b'\n', &haystack[..found.start()]).map_or(0, |i| i + 1);
        // A match that ends with its newline ends its line there.
        let last = found.end().saturating_sub(1).max(found.start());
        let end = memchr::memchr(b'\n', &haystack[last..]).map_or(haystack.len(), |i| last + i);
        out.write_all(&haystack[start..end])?;
    }
    out.write_all(b"\n")
}
