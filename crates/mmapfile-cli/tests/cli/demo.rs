//! `mmapfile demo`: the guide's output, byte for byte.

use std::fs;

use crate::common::{fails, mmapfile, shown, Scratch, LOREM};

/// The core crate's examples with the guide's output for each, and the demo's header titles.
const EXPECTED: [(&str, &str, &str); 4] = [
    (
        "mmap_read",
        "reading through read() and a slice",
        include_str!("../../../mmapfile/examples/expected/mmap_read.txt"),
    ),
    (
        "mmap_write_slice",
        "writing through a slice",
        include_str!("../../../mmapfile/examples/expected/mmap_write_slice.txt"),
    ),
    (
        "mmap_write_copy",
        "copy-on-write",
        include_str!("../../../mmapfile/examples/expected/mmap_write_copy.txt"),
    ),
    (
        "mmap_regex",
        "regular expressions over the map",
        include_str!("../../../mmapfile/examples/expected/mmap_regex.txt"),
    ),
];

/// The expected files, each under its header, separated by blank lines.
fn expected_output() -> String {
    EXPECTED
        .iter()
        .map(|(name, title, output)| format!("== {name}: {title} ==\n{output}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn prints_the_guides_output_for_all_four_examples() {
    let output = mmapfile()
        .arg("demo")
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), expected_output());
    assert!(output.stderr.is_empty());
}

#[test]
fn cleans_up_its_temporary_directory() {
    let scratch = Scratch::new();
    mmapfile()
        .arg("demo")
        .env("TMPDIR", scratch.path())
        .assert()
        .success()
        .stdout(expected_output());
    let left: Vec<_> = fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn keeps_its_files_in_dir() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("new").join("demo");
    let assert = mmapfile()
        .args(["demo", "--dir"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(expected_output());
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains(&shown(&dir)), "{stderr:?}");

    assert_eq!(fs::read(dir.join("lorem.txt")).unwrap(), LOREM);
    // Written through the write-through map: the word is reversed in the file.
    let sliced = fs::read(dir.join("lorem_write_slice.txt")).unwrap();
    assert!(sliced.starts_with(b"Lorem ipsum dolor sit amet, reutetcesnoc adipiscing"));
    assert_eq!(sliced.len(), LOREM.len());
    // Written through the copy-on-write map: the file never changed.
    assert_eq!(fs::read(dir.join("lorem_write_copy.txt")).unwrap(), LOREM);
}

#[test]
fn runs_again_over_the_files_it_kept() {
    let scratch = Scratch::new();
    for _ in 0..2 {
        mmapfile()
            .args(["demo", "--dir"])
            .arg(scratch.path())
            .assert()
            .success()
            .stdout(expected_output());
    }
}

#[test]
fn a_dir_that_is_a_file_is_an_error() {
    let scratch = Scratch::new();
    let file = scratch.file("plain.txt", b"not a directory");
    fails(
        mmapfile().args(["demo", "--dir"]).arg(&file).assert(),
        &shown(&file),
        "not a directory",
    )
    .stdout("");
}
