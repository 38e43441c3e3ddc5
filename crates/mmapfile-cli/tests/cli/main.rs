//! Integration tests of the `mmapfile` binary: every subcommand, its output, its exit status
//! and its errors, run as a user would run it.

mod common;
mod demo;
mod find;
mod grep;
mod help;
mod read;
mod replace;
// Windows refuses to truncate a mapped file, so only Unix can cut one under the command.
#[cfg(unix)]
mod truncation;
