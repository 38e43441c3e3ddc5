//! The command line, described with clap's derive API.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Memory-mapped files at the shell: the guide's demo, and read, find, grep and replace
/// through memory maps.
#[derive(Debug, Parser)]
#[command(name = "mmapfile", version, after_help = TOP_EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the guide's four examples (read, write through a slice, copy-on-write, regex)
    /// on the bundled lorem.txt and print what each prints.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Write a window of FILE (any offset, any length) to standard output.
    #[command(after_help = READ_EXAMPLES)]
    Read(ReadArgs),
    /// Print the byte offsets at which NEEDLE occurs in FILE, one per line.
    #[command(after_help = FIND_EXAMPLES)]
    Find(FindArgs),
    /// Search files for a regular expression (Rust syntax), matching over the whole map.
    #[command(after_help = GREP_EXAMPLES)]
    Grep(GrepArgs),
    /// Replace OLD with NEW inside FILE, in place through a write-through map.
    #[command(after_help = REPLACE_EXAMPLES)]
    Replace(ReplaceArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Write the demo's files here and keep them (created if missing) instead of using a
    /// temporary directory that is removed afterwards.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The file to read.
    pub file: PathBuf,
    /// Where the window starts, in bytes from the start of the file (any value up to the
    /// file's size; no alignment needed).
    #[arg(short, long, value_name = "N", default_value_t = 0)]
    pub offset: u64,
    /// How many bytes to write; the window stops early at the end of the file.
    /// Without it, everything from OFFSET to the end.
    #[arg(short = 'n', long, value_name = "N")]
    pub length: Option<u64>,
}

#[derive(Debug, Args)]
pub struct FindArgs {
    /// The file to search.
    pub file: PathBuf,
    /// The bytes to look for (taken literally; at least one byte).
    pub needle: OsString,
    /// Print every occurrence (they do not overlap), not just the first.
    #[arg(short, long)]
    pub all: bool,
    /// Print how many occurrences there are instead of where.
    #[arg(short, long)]
    pub count: bool,
    /// Search from the end: the last occurrence first.
    #[arg(short, long)]
    pub reverse: bool,
    /// Only occurrences that start at or after this byte offset.
    #[arg(long, value_name = "N")]
    pub start: Option<u64>,
    /// Only occurrences that end at or before this byte offset.
    #[arg(long, value_name = "N")]
    pub end: Option<u64>,
}

#[derive(Debug, Args)]
pub struct GrepArgs {
    /// The regular expression, in Rust's regex syntax. `^` and `$` match at line boundaries;
    /// `.` does not match a newline unless the pattern starts with `(?s)`.
    pub pattern: String,
    /// The files to search.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print only the matched bytes, not the lines they are in.
    #[arg(short, long)]
    pub only_matching: bool,
    /// Print the number of matches in each file instead of the matches.
    #[arg(short, long)]
    pub count: bool,
    /// Ignore case (Unicode-aware).
    #[arg(short, long)]
    pub ignore_case: bool,
}

#[derive(Debug, Args)]
pub struct ReplaceArgs {
    /// The file to change.
    pub file: PathBuf,
    /// The bytes to replace (taken literally; at least one byte).
    pub old: OsString,
    /// What to put in their place (may be empty, or of another length).
    pub new: OsString,
    /// Replace every occurrence (they do not overlap), not just the first.
    #[arg(short, long)]
    pub all: bool,
    /// Show what would change without touching the file (the file is mapped copy-on-write).
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

const TOP_EXAMPLES: &str = "\
Examples:
  mmapfile demo                          the guide's four examples on the bundled lorem.txt
  mmapfile read big.bin --offset 4097 --length 16 | xxd
  mmapfile find lorem.txt nulla --all
  mmapfile grep -i 'nulla \\w+' lorem.txt
  mmapfile replace notes.txt colour color --all

Exit status: 0 success, 1 nothing found (find, grep, replace), 2 error.";

const DEMO_EXAMPLES: &str = "\
Examples:
  mmapfile demo                  print the four examples' output under their headers
  mmapfile demo --dir /tmp/demo  keep lorem.txt and the two edited copies in /tmp/demo";

const READ_EXAMPLES: &str = "\
Examples:
  mmapfile read lorem.txt --length 10               the first 10 bytes
  mmapfile read lorem.txt --offset 28 --length 12   12 bytes from byte 28 (no alignment needed)
  mmapfile read big.bin --offset 1000000 | head -c 64

An OFFSET equal to the file's size gives no output; one past it is an error.";

const FIND_EXAMPLES: &str = "\
Examples:
  mmapfile find lorem.txt consectetuer          offset of the first occurrence
  mmapfile find lorem.txt Vivamus --all         every offset, ascending
  mmapfile find lorem.txt Vivamus --reverse     the last occurrence
  mmapfile find lorem.txt e --count --start 100 --end 200
  mmapfile find data.bin -- --flag              a needle that starts with '-'

Exit status: 0 found, 1 not found (with --count, prints 0), 2 error.";

const GREP_EXAMPLES: &str = "\
Examples:
  mmapfile grep 'Nulla \\w+' lorem.txt           FILE:OFFSET:LINE for every match
  mmapfile grep -o -i 'nulla[^.]*\\.' lorem.txt   FILE:OFFSET:MATCH
  mmapfile grep -c Vivamus lorem.txt other.txt   FILE:COUNT for each file
  mmapfile grep '(?s)tortor.eu' lorem.txt        (?s) lets '.' match a newline

OFFSET is the byte offset of the match in FILE.
Exit status: 0 something matched, 1 nothing matched, 2 an error (even if something matched).";

const REPLACE_EXAMPLES: &str = "\
Examples:
  mmapfile replace lorem.txt consectetuer reutetcesnoc    same length: patched in place
  mmapfile replace lorem.txt Nulla NULLA --all
  mmapfile replace lorem.txt ipsum 'IPSUM IPSUM' --all     grows the file
  mmapfile replace lorem.txt ' tortor' '' --all --dry-run  shows what would go

A replacement of another length resizes the file and moves the rest of it inside the map.
Everything is checked before the first byte is written, so on an error the file is
unchanged; once writing starts it runs to completion and is flushed before exit.
Exit status: 0 replaced (or would replace), 1 OLD not found (file untouched), 2 error.";

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
