//! `mmapfile find FILE NEEDLE [--all] [--count] [--reverse] [--start N] [--end N]`.

use std::path::Path;

use assert_cmd::assert::Assert;

use crate::common::{fails, missing_file_text, occurrences, on, pages, shown, Scratch, LOREM};

fn find(file: &Path, args: &[&str]) -> Assert {
    on("find", file, args)
}

fn lines(offsets: &[usize]) -> String {
    offsets.iter().map(|at| format!("{at}\n")).collect()
}

#[test]
fn the_first_occurrence_by_default() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    find(&file, &["consectetuer"])
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
    find(&file, &["Vivamus", "--all"])
        .success()
        .stdout(lines(&every));
    let mut backwards = every.clone();
    backwards.reverse();
    find(&file, &["Vivamus", "--all", "--reverse"])
        .success()
        .stdout(lines(&backwards));
    find(&file, &["Vivamus", "-r"])
        .success()
        .stdout(lines(&backwards[..1]));
}

#[test]
fn count_counts_without_overlap() {
    let scratch = Scratch::new();
    let file = scratch.file("a.txt", b"aaaaa");
    find(&file, &["aa", "--count"]).success().stdout("2\n");
    // Picked from the end (3, 1) there are as many as from the start (0, 2).
    find(&file, &["aa", "--count", "--reverse"])
        .success()
        .stdout("2\n");
    find(&file, &["aa", "--all"]).success().stdout("0\n2\n");
    find(&file, &["aa", "--all", "--reverse"])
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
    find(&file, &["Vivamus", "--all", "--start", &second.to_string()])
        .success()
        .stdout(lines(&every[1..]));
    find(
        &file,
        &["Vivamus", "--all", "--start", &(second + 1).to_string()],
    )
    .success()
    .stdout(lines(&every[2..]));
    find(
        &file,
        &["Vivamus", "--all", "--end", &(third + 7).to_string()],
    )
    .success()
    .stdout(lines(&every));
    find(
        &file,
        &["Vivamus", "--all", "--end", &(third + 6).to_string()],
    )
    .success()
    .stdout(lines(&every[..2]));
    // Bounds past the end clamp; a start after the end finds nothing.
    find(&file, &["Vivamus", "--count", "--end", "99999999"])
        .success()
        .stdout("3\n");
    find(&file, &["Vivamus", "--start", "500", "--end", "400"])
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
    find(
        &file,
        &["marker-3", "--all", "--start", "4097", "--end", "9001"],
    )
    .success()
    .stdout(lines(&inside));
}

#[test]
fn nothing_found_exits_1() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    find(&file, &["zebra"]).code(1).stdout("").stderr("");
    find(&file, &["zebra", "--count"]).code(1).stdout("0\n");
}

#[test]
fn an_empty_file_has_nothing_to_find() {
    let scratch = Scratch::new();
    let file = scratch.file("empty.txt", b"");
    find(&file, &["a"]).code(1).stdout("").stderr("");
    find(&file, &["a", "-c"]).code(1).stdout("0\n");
}

#[test]
fn an_empty_needle_is_an_error() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    fails(find(&file, &[""]), "NEEDLE", "empty");
}

#[test]
fn a_needle_starting_with_a_dash_after_double_dash() {
    let scratch = Scratch::new();
    let file = scratch.file("flags.txt", b"run it with --verbose please");
    find(&file, &["--", "--verbose"]).success().stdout("12\n");
}

#[test]
fn a_missing_file_and_a_directory_are_errors() {
    let scratch = Scratch::new();
    let missing = scratch.missing();
    fails(
        find(&missing, &["x"]),
        &shown(&missing),
        &missing_file_text(),
    );
    fails(
        find(scratch.path(), &["x"]),
        &shown(scratch.path()),
        "is a directory",
    );
}

/// A file long enough for the core's threaded walk (64 MiB and more): every way of walking
/// reports what the obvious walk over the bytes reports, self-overlapping needles included.
#[test]
fn a_long_file_is_walked_by_threads_with_the_same_results() {
    let mut bytes = vec![b'.'; 72 << 20];
    let mut planted = Vec::new();
    for (i, at) in [0, 3 << 20, (4 << 20) - 2, 8 << 20, 40 << 20, (72 << 20) - 7]
        .into_iter()
        .enumerate()
    {
        let needle: &[u8] = if i % 2 == 0 { b"abab" } else { b"ababab" };
        bytes[at..at + needle.len()].copy_from_slice(needle);
        planted.push(at);
    }
    let scratch = Scratch::new();
    let file = scratch.file("long.txt", &bytes);
    let every = occurrences(&bytes, b"abab");
    assert_eq!(every, planted);
    find(&file, &["abab", "--all"])
        .success()
        .stdout(lines(&every));
    find(&file, &["abab", "--count"])
        .success()
        .stdout(format!("{}\n", every.len()));
    find(&file, &["abab", "--count", "--reverse"])
        .success()
        .stdout(format!("{}\n", every.len()));
    let mut backwards = Vec::new();
    let mut hi = bytes.len();
    while let Some(at) = bytes[..hi].windows(4).rposition(|w| w == b"abab") {
        backwards.push(at);
        hi = at;
    }
    // In `ababab` the walk back picks the occurrence at 2, the walk forwards the one at 0.
    assert_ne!(backwards.iter().rev().copied().collect::<Vec<_>>(), every);
    find(&file, &["abab", "--all", "--reverse"])
        .success()
        .stdout(lines(&backwards));
    find(&file, &["abab", "--reverse"])
        .success()
        .stdout(lines(&backwards[..1]));
    find(&file, &["zzz", "--count"]).code(1).stdout("0\n");
}

/// A count with the progress bar drawn: stderr is a terminal (a pseudo-terminal that
/// util-linux's `script` opens) and the file is over the bar's 256 MiB threshold, so the
/// count goes through the core's reporting count rather than the plain one; it must print
/// the same number.
#[cfg(target_os = "linux")]
#[test]
fn a_count_with_the_progress_bar_shown_counts_the_same() {
    use std::os::unix::fs::FileExt;
    // Sparse: no disk, and the unwritten bytes read as zeros. Occurrences at both ends, on
    // both sides of 4 MiB piece edges, and one straddling an edge.
    let len: u64 = (256 << 20) + (1 << 20);
    let scratch = Scratch::new();
    let file = scratch.file("big.bin", b"");
    let big = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    big.set_len(len).unwrap();
    let mut at = vec![0, len - 6, (4 << 20) - 3, (4 << 20) + 10, (100 << 20) - 1];
    at.extend((0..40).map(|i| (200 << 20) + 4096 * i));
    for &offset in &at {
        big.write_all_at(b"needle", offset).unwrap();
    }
    drop(big);
    let out = scratch.path().join("count.txt");
    let terminal = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(r#"exec "$MMAPFILE" find "$FILE" needle --count > "$OUT""#)
        .arg("/dev/null")
        .env("SHELL", "/bin/sh")
        .env("MMAPFILE", env!("CARGO_BIN_EXE_mmapfile"))
        .env("FILE", &file)
        .env("OUT", &out)
        .output()
        .expect("util-linux's script, to give the command a terminal");
    let drawn = String::from_utf8_lossy(&terminal.stdout);
    assert!(terminal.status.success(), "{terminal:?}");
    assert!(
        drawn.contains("searching"),
        "no bar on the terminal: {drawn:?}"
    );
    let counted = std::fs::read_to_string(&out).unwrap();
    assert_eq!(counted, format!("{}\n", at.len()));
    // Without a terminal: no bar, the plain count, the same number.
    find(&file, &["needle", "--count"])
        .success()
        .stdout(counted)
        .stderr("");
}
