//! Integration tests of the `mmapfile` binary: every subcommand, its output, its exit status
//! and its errors, run as a user would run it.

mod common;
mod demo;
mod find;
mod grep;
mod help;
mod read;
mod replace;
mod truncation;
