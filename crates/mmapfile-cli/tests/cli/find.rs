//! `mmapfile find FILE NEEDLE [--all] [--count] [--reverse] [--start N] [--end N]`.

use crate::common::{fails, mmapfile, occurrences, pages, shown, Scratch, LOREM};

fn lines(offsets: &[usize]) -> String {
    offsets.iter().map(|at| format!("{at}\n")).collect()
}

#[test]
fn the_first_occurrence_by_default() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    mmapfile()
        .arg("find")
        .arg(&file)
        .arg("consectetuer")
        .assert()
        .success()
        .stdout("28\n")
        .stderr("");
}

#[test]
fn all_occurrences_ascending_and_reversed() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    let every = occurrences(LOREM, b"Vivamus");
    assert_eq!(every.len(), 3);
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "--all"])
        .assert()
        .success()
        .stdout(lines(&every));
    let mut backwards = every.clone();
    backwards.reverse();
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "--all", "--reverse"])
        .assert()
        .success()
        .stdout(lines(&backwards));
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "-r"])
        .assert()
        .success()
        .stdout(lines(&backwards[..1]));
}

#[test]
fn count_counts_without_overlap() {
    let scratch = Scratch::new();
    let file = scratch.file("a.txt", b"aaaaa");
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["aa", "--count"])
        .assert()
        .success()
        .stdout("2\n");
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["aa", "--all"])
        .assert()
        .success()
        .stdout("0\n2\n");
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["aa", "--all", "--reverse"])
        .assert()
        .success()
        .stdout("3\n1\n");
}

#[test]
fn start_and_end_bound_the_search_like_a_slice() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    let every = occurrences(LOREM, b"Vivamus");
    let (second, third) = (every[1], every[2]);
    // --start is inclusive; --end must cover the whole occurrence.
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "--all", "--start", &second.to_string()])
        .assert()
        .success()
        .stdout(lines(&every[1..]));
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "--all", "--start", &(second + 1).to_string()])
        .assert()
        .success()
        .stdout(lines(&every[2..]));
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "--all", "--end", &(third + 7).to_string()])
        .assert()
        .success()
        .stdout(lines(&every));
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "--all", "--end", &(third + 6).to_string()])
        .assert()
        .success()
        .stdout(lines(&every[..2]));
    // Bounds past the end clamp; a start after the end finds nothing.
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "--count", "--end", "99999999"])
        .assert()
        .success()
        .stdout("3\n");
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["Vivamus", "--start", "500", "--end", "400"])
        .assert()
        .code(1)
        .stdout("");
}

#[test]
fn offsets_count_from_the_file_start_in_an_unaligned_window() {
    let scratch = Scratch::new();
    let bytes = pages();
    let file = scratch.file("pages.txt", &bytes);
    let every = occurrences(&bytes, b"marker-3");
    let inside: Vec<usize> = every
        .iter()
        .copied()
        .filter(|&at| at >= 4097 && at + 8 <= 9001)
        .collect();
    assert!(inside.len() > 5);
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["marker-3", "--all", "--start", "4097", "--end", "9001"])
        .assert()
        .success()
        .stdout(lines(&inside));
}

#[test]
fn nothing_found_exits_1() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    mmapfile()
        .arg("find")
        .arg(&file)
        .arg("zebra")
        .assert()
        .code(1)
        .stdout("")
        .stderr("");
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["zebra", "--count"])
        .assert()
        .code(1)
        .stdout("0\n");
}

#[test]
fn an_empty_file_has_nothing_to_find() {
    let scratch = Scratch::new();
    let file = scratch.file("empty.txt", b"");
    mmapfile()
        .arg("find")
        .arg(&file)
        .arg("a")
        .assert()
        .code(1)
        .stdout("")
        .stderr("");
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["a", "-c"])
        .assert()
        .code(1)
        .stdout("0\n");
}

#[test]
fn an_empty_needle_is_an_error() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    fails(
        mmapfile().arg("find").arg(&file).arg("").assert(),
        "NEEDLE",
        "empty",
    );
}

#[test]
fn a_needle_starting_with_a_dash_after_double_dash() {
    let scratch = Scratch::new();
    let file = scratch.file("flags.txt", b"run it with --verbose please");
    mmapfile()
        .arg("find")
        .arg(&file)
        .args(["--", "--verbose"])
        .assert()
        .success()
        .stdout("12\n");
}

#[test]
fn a_missing_file_and_a_directory_are_errors() {
    let scratch = Scratch::new();
    let missing = scratch.missing();
    fails(
        mmapfile().arg("find").arg(&missing).arg("x").assert(),
        &shown(&missing),
        "No such file or directory",
    );
    fails(
        mmapfile().arg("find").arg(scratch.path()).arg("x").assert(),
        &shown(scratch.path()),
        "is a directory",
    );
}
