//! `mmapfile grep PATTERN FILE...`.

use crate::common::{fails, missing_file_text, mmapfile, occurrences, shown, Scratch, LOREM};

/// The line of `hay` around `at`, without its newline.
fn line_at(hay: &[u8], at: usize) -> &[u8] {
    let start = hay[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = hay[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(hay.len(), |i| at + i);
    &hay[start..end]
}

#[test]
fn each_match_with_file_offset_and_line() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    let name = shown(&file);
    let mut want = Vec::new();
    for at in occurrences(LOREM, b"Vivamus") {
        want.extend_from_slice(format!("{name}:{at}:").as_bytes());
        want.extend_from_slice(line_at(LOREM, at));
        want.push(b'\n');
    }
    mmapfile()
        .args(["grep", "Vivamus"])
        .arg(&file)
        .assert()
        .success()
        .stdout(want)
        .stderr("");
}

#[test]
fn only_matching_and_ignore_case() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    let name = shown(&file);
    // "Nulla" twice and "nulla" once; -i finds all three.
    let mut lower = LOREM.to_ascii_lowercase();
    lower.truncate(LOREM.len());
    let every = occurrences(&lower, b"nulla");
    assert_eq!(every.len(), 3);
    let want: String = every
        .iter()
        .map(|&at| {
            format!(
                "{name}:{at}:{}\n",
                String::from_utf8_lossy(&LOREM[at..at + 5])
            )
        })
        .collect();
    mmapfile()
        .args(["grep", "-o", "-i", "nulla"])
        .arg(&file)
        .assert()
        .success()
        .stdout(want);
    mmapfile()
        .args(["grep", "-o", "nulla"])
        .arg(&file)
        .assert()
        .success()
        .stdout(format!("{name}:{}:nulla\n", every[2]));
}

#[test]
fn the_guides_pattern_spans_lines() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    let name = shown(&file);
    let at = occurrences(LOREM, b"Nulla\nfacilisi.")[0];
    mmapfile()
        .args(["grep", "-o", r"(?s)Nulla\s+facilisi\."])
        .arg(&file)
        .assert()
        .success()
        .stdout(format!("{name}:{at}:Nulla\nfacilisi.\n"));
    // Without -o, every line the match touches.
    let first = line_at(LOREM, at);
    let second = line_at(LOREM, at + 6);
    let mut want = format!("{name}:{at}:").into_bytes();
    want.extend_from_slice(first);
    want.push(b'\n');
    want.extend_from_slice(second);
    want.push(b'\n');
    mmapfile()
        .args(["grep", r"Nulla\nfacilisi"])
        .arg(&file)
        .assert()
        .success()
        .stdout(want);
}

#[test]
fn anchors_are_about_lines() {
    let scratch = Scratch::new();
    let file = scratch.file("three.txt", b"one\ntwo\nthree\n");
    let name = shown(&file);
    mmapfile()
        .args(["grep", "-o", "^t.*$"])
        .arg(&file)
        .assert()
        .success()
        .stdout(format!("{name}:4:two\n{name}:8:three\n"));
}

#[test]
fn count_per_file() {
    let scratch = Scratch::new();
    let lorem = scratch.file("lorem.txt", LOREM);
    let other = scratch.file("other.txt", b"Vivamus\nno\nVivamus Vivamus\n");
    let empty = scratch.file("empty.txt", b"");
    mmapfile()
        .args(["grep", "-c", "Vivamus"])
        .args([&lorem, &other, &empty])
        .assert()
        .success()
        .stdout(format!(
            "{}:3\n{}:3\n{}:0\n",
            shown(&lorem),
            shown(&other),
            shown(&empty)
        ));
}

#[test]
fn no_match_exits_1() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    mmapfile()
        .args(["grep", "zebra"])
        .arg(&file)
        .assert()
        .code(1)
        .stdout("")
        .stderr("");
    mmapfile()
        .args(["grep", "-c", "zebra"])
        .arg(&file)
        .assert()
        .code(1)
        .stdout(format!("{}:0\n", shown(&file)));
}

#[test]
fn an_empty_file_matches_nothing() {
    let scratch = Scratch::new();
    let file = scratch.file("empty.txt", b"");
    mmapfile()
        .args(["grep", "x"])
        .arg(&file)
        .assert()
        .code(1)
        .stdout("")
        .stderr("");
}

#[test]
fn an_invalid_regex_is_one_line_and_exit_2() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    fails(
        mmapfile().args(["grep", "(unclosed"]).arg(&file).assert(),
        "invalid regex \"(unclosed\"",
        "unclosed group",
    )
    .stdout("");
    fails(
        mmapfile().args(["grep", "a{99999999}"]).arg(&file).assert(),
        "invalid regex",
        "size limit",
    );
}

#[test]
fn an_error_on_one_file_still_searches_the_others_and_exits_2() {
    let scratch = Scratch::new();
    let missing = scratch.missing();
    let file = scratch.file("lorem.txt", LOREM);
    let at = occurrences(LOREM, b"potenti")[0];
    fails(
        mmapfile()
            .args(["grep", "-o", "potenti"])
            .arg(&missing)
            .arg(&file)
            .assert(),
        &shown(&missing),
        &missing_file_text(),
    );
    // One error line per bad file, the matches of the good one on stdout.
    let assert = mmapfile()
        .args(["grep", "-o", "potenti"])
        .arg(scratch.path())
        .arg(&missing)
        .arg(&file)
        .assert()
        .code(2)
        .stdout(format!("{}:{at}:potenti\n", shown(&file)));
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].contains(&shown(scratch.path())) && lines[0].contains("is a directory"));
    assert!(lines[1].contains(&shown(&missing)));
}

#[test]
fn a_directory_alone_is_an_error() {
    let scratch = Scratch::new();
    fails(
        mmapfile().args(["grep", "x"]).arg(scratch.path()).assert(),
        &shown(scratch.path()),
        "is a directory",
    );
}

#[test]
fn binary_bytes_are_searched_and_printed_as_they_are() {
    let scratch = Scratch::new();
    let file = scratch.file("bin.dat", b"\x00\xffkey=\x01\x02\nnext\n");
    let mut want = format!("{}:2:", shown(&file)).into_bytes();
    want.extend_from_slice(b"\x00\xffkey=\x01\x02\n");
    mmapfile()
        .args(["grep", "key="])
        .arg(&file)
        .assert()
        .success()
        .stdout(want);
}

#[test]
fn a_big_file_shows_no_progress_bar_when_stderr_is_not_a_terminal() {
    // Just over the 256 MiB threshold, sparse: it costs no disk and reads as zeros.
    let scratch = Scratch::new();
    let file = scratch.file("big.bin", b"");
    let big = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    big.set_len(256 * 1024 * 1024 + 4096).unwrap();
    drop(big);
    mmapfile()
        .args(["grep", "-c", "x"])
        .arg(&file)
        .assert()
        .code(1)
        .stdout(format!("{}:0\n", shown(&file)))
        .stderr("");
}
