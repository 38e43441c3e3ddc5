//! `mmapfile read FILE [--offset N] [--length N]`.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use assert_cmd::assert::Assert;

use crate::common::{fails, missing_file_text, on, pages, shown, Scratch, LOREM};

fn read(file: &Path, args: &[&str]) -> Assert {
    on("read", file, args)
}

#[test]
fn the_whole_file_by_default() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    read(&file, &[]).success().stdout(LOREM).stderr("");
}

#[test]
fn a_window_at_an_unaligned_offset() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    read(&file, &["--offset", "28", "--length", "12"])
        .success()
        .stdout("consectetuer");
}

#[test]
fn windows_across_page_boundaries_match_the_file() {
    let scratch = Scratch::new();
    let bytes = pages();
    let file = scratch.file("pages.txt", &bytes);
    for (offset, length) in [(0, 1), (4095, 10), (4096, 4096), (4097, 8000), (8191, 2)] {
        read(
            &file,
            &["-o", &offset.to_string(), "-n", &length.to_string()],
        )
        .success()
        .stdout(bytes[offset..offset + length].to_vec());
    }
}

#[test]
fn a_length_past_the_end_stops_at_the_end() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    read(&file, &["--offset", "730", "--length", "1000000"])
        .success()
        .stdout(LOREM[730..].to_vec());
    read(
        &file,
        &["--offset", "700", "--length", &u64::MAX.to_string()],
    )
    .success()
    .stdout(LOREM[700..].to_vec());
}

#[test]
fn the_offset_may_be_the_end_but_not_past_it() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    read(&file, &["--offset", "737"]).success().stdout("");
    fails(
        read(&file, &["--offset", "738"]),
        &shown(&file),
        "offset 738 is past the end of the 737-byte file",
    )
    .stdout("");
}

#[test]
fn a_zero_length_window_is_empty() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    read(&file, &["--offset", "5", "--length", "0"])
        .success()
        .stdout("");
}

#[test]
fn an_empty_file_reads_as_nothing() {
    let scratch = Scratch::new();
    let file = scratch.file("empty.txt", b"");
    read(&file, &[]).success().stdout("").stderr("");
}

#[test]
fn a_missing_file_is_an_error() {
    let scratch = Scratch::new();
    let missing = scratch.missing();
    fails(read(&missing, &[]), &shown(&missing), &missing_file_text());
}

#[test]
fn a_directory_is_an_error() {
    let scratch = Scratch::new();
    fails(
        read(scratch.path(), &[]),
        &shown(scratch.path()),
        "is a directory",
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let scratch = Scratch::new();
    let fifo = scratch.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    fails(
        crate::common::mmapfile()
            .arg("read")
            .arg(&fifo)
            .timeout(std::time::Duration::from_secs(60))
            .assert(),
        &shown(&fifo),
        "not a regular file",
    );
}

#[test]
fn a_closed_stdout_ends_it_quietly() {
    // Far more than a pipe buffers, so the writes meet the closed pipe.
    let scratch = Scratch::new();
    let file = scratch.file("big.bin", &vec![b'x'; 8 * 1024 * 1024]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mmapfile"))
        .arg("read")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(first, *b"x");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error() {
    use assert_cmd::prelude::*;
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mmapfile"));
    command.arg("read").arg(&file).stdout(full);
    fails(
        command.assert(),
        "standard output",
        "No space left on device",
    );
}
