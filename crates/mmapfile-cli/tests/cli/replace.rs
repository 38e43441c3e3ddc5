//! `mmapfile replace FILE OLD NEW [--all] [--dry-run]`.

use std::fs;
use std::path::Path;

use assert_cmd::assert::Assert;

use crate::common::{
    fails, missing_file_text, mmapfile, on, pages, replaced, shown, Scratch, LOREM,
};

fn replace(file: &Path, args: &[&str]) -> Assert {
    on("replace", file, args)
}

/// Runs a real replacement and checks the file against the reference replace.
fn check(bytes: &[u8], old: &str, new: &str, all: bool) {
    let scratch = Scratch::new();
    let file = scratch.file("data.txt", bytes);
    let mut command = mmapfile();
    command.arg("replace").arg(&file).args([old, new]);
    if all {
        command.arg("--all");
    }
    command.assert().success().stderr("");
    let want = replaced(bytes, old.as_bytes(), new.as_bytes(), all);
    let got = fs::read(&file).unwrap();
    assert_eq!(got.len(), want.len(), "{old:?} -> {new:?} all {all}: size");
    assert!(got == want, "{old:?} -> {new:?} all {all}: contents differ");
}

#[test]
fn same_length_is_patched_in_place() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    replace(&file, &["consectetuer", "reutetcesnoc"])
        .success()
        .stdout(format!(
            "replaced 1 occurrence in {}; it stayed 737 bytes\n",
            shown(&file)
        ));
    assert_eq!(
        fs::read(&file).unwrap(),
        replaced(LOREM, b"consectetuer", b"reutetcesnoc", false)
    );
    check(LOREM, "consectetuer", "reutetcesnoc", true);
}

#[test]
fn a_longer_replacement_grows_the_file() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    replace(&file, &["ipsum", "IPSUM IPSUM"])
        .success()
        .stdout(format!(
            "replaced 1 occurrence in {}; it grew from 737 to 743 bytes\n",
            shown(&file)
        ));
    assert_eq!(
        fs::read(&file).unwrap(),
        replaced(LOREM, b"ipsum", b"IPSUM IPSUM", false)
    );
    check(LOREM, "e", "EEE", true);
    check(LOREM, "Lorem", "Lorem Lorem", true);
    check(LOREM, "justo.\n", "justo.\nThe end.\n", true);
}

#[test]
fn a_shorter_replacement_shrinks_the_file() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    replace(&file, &["consectetuer ", "", "--all"])
        .success()
        .stdout(format!(
            "replaced 2 occurrences in {}; it shrank from 737 to 711 bytes\n",
            shown(&file)
        ));
    assert_eq!(
        fs::read(&file).unwrap(),
        replaced(LOREM, b"consectetuer ", b"", true)
    );
    check(LOREM, "e", "", true);
    check(LOREM, "Lorem ipsum", "L", false);
    check(LOREM, "justo.\n", "", false);
}

#[test]
fn across_pages_growing_and_shrinking_match_the_reference() {
    // Occurrences on both sides of page boundaries, tails that cross several pages.
    let bytes = pages();
    for (old, new) in [
        ("marker-3", "M3"),
        ("marker-3", "a much longer marker number three"),
        ("of the pages, ", ""),
        ("\n", "\r\n"),
        ("line", "LINE"),
    ] {
        check(&bytes, old, new, true);
        check(&bytes, old, new, false);
    }
}

/// A file long enough for the core's threaded search (64 MiB and more), the first
/// occurrence past the part searched before threads start: only that one is replaced.
#[test]
fn the_first_occurrence_in_a_long_file_is_found_by_threads() {
    let mut bytes = vec![b'.'; 72 << 20];
    for at in [(20 << 20) + 3, 50 << 20, (72 << 20) - 6] {
        bytes[at..at + 6].copy_from_slice(b"needle");
    }
    check(&bytes, "needle", "pin", false);
    check(&bytes, "needle", "NEEDLES", false);
    check(&bytes, "needle", "NEEDLE", true);
}

#[test]
fn the_whole_file_can_be_replaced_away() {
    let scratch = Scratch::new();
    let file = scratch.file("all.txt", b"xyz");
    replace(&file, &["xyz", ""]).success();
    assert_eq!(fs::read(&file).unwrap(), b"");
}

#[test]
fn self_overlapping_occurrences_are_taken_left_to_right() {
    check(b"aaaaa", "aa", "b", true);
    check(b"aaaaa", "aa", "bbb", true);
    let scratch = Scratch::new();
    let file = scratch.file("a.txt", b"aaaaa");
    replace(&file, &["aa", "b", "--all"]).success();
    assert_eq!(fs::read(&file).unwrap(), b"bba");
}

#[test]
fn dry_run_leaves_the_file_byte_for_byte_unchanged() {
    for (old, new) in [
        ("consectetuer", "reutetcesnoc"),
        ("ipsum", "IPSUM IPSUM"),
        ("e", ""),
    ] {
        let scratch = Scratch::new();
        let file = scratch.file("lorem.txt", LOREM);
        let modified = fs::metadata(&file).unwrap().modified().unwrap();
        let assert = replace(&file, &[old, new, "--all", "--dry-run"])
            .success()
            .stderr("");
        assert_eq!(fs::read(&file).unwrap(), LOREM, "{old:?} -> {new:?}");
        assert_eq!(fs::metadata(&file).unwrap().modified().unwrap(), modified);
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        let last = stdout.lines().last().unwrap_or_default();
        assert!(last.starts_with("dry run: "), "{stdout}");
        assert!(last.ends_with("nothing was written"), "{stdout}");
    }
}

#[test]
fn dry_run_shows_each_change_in_its_line() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    let name = shown(&file);
    replace(&file, &["ipsum", "IPSUM IPSUM", "-n"])
        .success()
        .stdout(format!(
            "{name}:6:-Lorem ipsum dolor sit amet, consectetuer adipiscing\n\
             {name}:6:+Lorem IPSUM IPSUM dolor sit amet, consectetuer adipiscing\n\
             dry run: 1 occurrence would be replaced; {name} would grow from 737 to 743 \
             bytes; nothing was written\n"
        ));
}

#[cfg(unix)]
#[test]
fn a_read_only_file_is_refused_and_unchanged() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    fs::set_permissions(&file, fs::Permissions::from_mode(0o444)).unwrap();
    for (old, new) in [("ipsum", "IPSUM"), ("ipsum", "longer ipsum"), ("ipsum", "")] {
        fails(
            replace(&file, &[old, new, "--all"]),
            &shown(&file),
            "read-only",
        )
        .stdout("");
        assert_eq!(fs::read(&file).unwrap(), LOREM);
    }
    // A dry run only reads, so it still shows what would change.
    replace(&file, &["ipsum", "IPSUM", "--dry-run"]).success();
    assert_eq!(fs::read(&file).unwrap(), LOREM);
}

#[test]
fn not_found_exits_1_and_leaves_the_file() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    replace(&file, &["zebra", "horse", "--all"])
        .code(1)
        .stdout(format!(
            "no occurrence in {}; it was not changed\n",
            shown(&file)
        ))
        .stderr("");
    assert_eq!(fs::read(&file).unwrap(), LOREM);
}

#[test]
fn an_empty_file_has_nothing_to_replace() {
    let scratch = Scratch::new();
    let file = scratch.file("empty.txt", b"");
    replace(&file, &["a", "b"]).code(1).stderr("");
    assert_eq!(fs::read(&file).unwrap(), b"");
}

#[test]
fn an_empty_old_is_an_error() {
    let scratch = Scratch::new();
    let file = scratch.file("lorem.txt", LOREM);
    fails(replace(&file, &["", "x"]), "OLD", "empty");
    assert_eq!(fs::read(&file).unwrap(), LOREM);
}

#[test]
fn a_missing_file_and_a_directory_are_errors() {
    let scratch = Scratch::new();
    let missing = scratch.missing();
    fails(
        replace(&missing, &["a", "b"]),
        &shown(&missing),
        &missing_file_text(),
    );
    assert!(!missing.exists(), "replace must not create the file");
    fails(
        replace(scratch.path(), &["a", "b"]),
        &shown(scratch.path()),
        "is a directory",
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_growth_the_system_refuses_leaves_the_file_unchanged() {
    let scratch = Scratch::new();
    let bytes = vec![b'q'; 1000];
    let file = scratch.file("limited.txt", &bytes);
    // A file size limit of 1024 bytes (`ulimit -f` counts 512-byte blocks), with SIGXFSZ
    // ignored so that going past it is an EFBIG error rather than a killed process. Doubling
    // every byte needs 2000.
    let script = r#"trap "" XFSZ; ulimit -f 2; exec "$0" replace "$1" q QQ --all"#;
    let assert = assert_cmd::Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_mmapfile")])
        .arg(&file)
        .assert();
    fails(assert, &shown(&file), "File too large").stdout("");
    assert_eq!(fs::read(&file).unwrap(), bytes);
}
