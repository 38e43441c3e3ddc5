//! The search and scan methods of a map against their naive definitions: find/rfind (the
//! windowed reverse search included), count, find_iter, lines and regex_find_iter, over
//! whole maps and Python-style ranges.

use std::ops::Range;

use mmapfile::{Mmap, MmapMut, MmapOptions};
use proptest::prelude::*;
use regex::bytes::Regex;

use crate::util::{open_ro, temp_file};

/// A read-only map holding exactly `bytes`. Empty files cannot be mapped, so an empty map is
/// anonymous memory resized to nothing.
fn map_of(bytes: &[u8]) -> (Option<tempfile::TempDir>, Mmap) {
    if bytes.is_empty() {
        let mut map = MmapMut::map_anon(1).unwrap();
        map.resize(0).unwrap();
        return (None, Mmap::from(map.into_dyn()));
    }
    let (dir, path) = temp_file(bytes);
    // SAFETY: the test owns the file and nothing changes it while mapped.
    let map = unsafe { Mmap::map(&open_ro(&path)).unwrap() };
    (Some(dir), map)
}

/// Python's slice rules for non-negative `start`/`end` as `bytes.count` applies them:
/// `None` when nothing is selected.
fn python_slice(len: usize, start: usize, end: usize) -> Option<Range<usize>> {
    let end = end.min(len);
    (start <= end).then_some(start..end)
}

/// `mmap.find`'s rules: both bounds clamp to the length.
fn clamped(len: usize, start: usize, end: usize) -> Option<Range<usize>> {
    let (start, end) = (start.min(len), end.min(len));
    (start <= end).then_some(start..end)
}

fn naive_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    (0..=hay.len().checked_sub(needle.len())?).find(|&i| &hay[i..i + needle.len()] == needle)
}

fn naive_rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    (0..=hay.len().checked_sub(needle.len())?)
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

/// Left to right, skipping past each match; an empty needle matches at every position.
fn naive_matches(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            found.push(i);
            i += needle.len().max(1);
        } else {
            i += 1;
        }
    }
    found
}

/// Repeated `readline`: through each `\n`, the rest as a last line.
fn naive_lines(hay: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut rest = hay;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        lines.push(&rest[..end]);
        rest = &rest[end..];
    }
    lines
}

fn text(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(alphabet), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn find_and_rfind_in_ranges(
        hay in text(b"ab\n", 700),
        needle in text(b"ab\n", 5),
        start in 0usize..800,
        end in 0usize..800,
    ) {
        let (_dir, map) = map_of(&hay);
        let expected_find = clamped(hay.len(), start, end)
            .and_then(|r| naive_find(&hay[r.clone()], &needle).map(|i| r.start + i));
        let expected_rfind = clamped(hay.len(), start, end)
            .and_then(|r| naive_rfind(&hay[r.clone()], &needle).map(|i| r.start + i));
        prop_assert_eq!(map.find_in(&needle, start..end).unwrap(), expected_find);
        prop_assert_eq!(map.rfind_in(&needle, start..end).unwrap(), expected_rfind);
        prop_assert_eq!(map.rfind_in(&needle, ..).unwrap(), naive_rfind(&hay, &needle));
    }

    #[test]
    fn count_count_in_reporting_and_find_iter_follow_bytes_count(
        hay in text(b"ab", 400),
        needle in text(b"ab", 4),
        start in 0usize..450,
        end in 0usize..450,
    ) {
        let (_dir, map) = map_of(&hay);
        let selected = python_slice(hay.len(), start, end);
        let expected: Vec<usize> = match selected.clone() {
            None => Vec::new(),
            Some(r) if needle.is_empty() => r.clone().chain(Some(r.end)).collect(),
            Some(r) => naive_matches(&hay[r.clone()], &needle).iter().map(|i| r.start + i).collect(),
        };
        prop_assert_eq!(map.count_in(&needle, start..end).unwrap(), expected.len());
        // The same count with progress, which never goes back and ends at the selected length.
        let mut progress = Vec::new();
        let counted = map.count_in_reporting(&needle, start..end, |done| progress.push(done));
        prop_assert_eq!(counted.unwrap(), expected.len());
        prop_assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{:?}", progress);
        prop_assert_eq!(progress.last().copied(), Some(selected.map_or(0, |r| r.len())));
        let found: Vec<usize> =
            map.find_iter_in(&needle, start..end).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(found, expected);

        let whole = if needle.is_empty() { hay.len() + 1 } else { naive_matches(&hay, &needle).len() };
        prop_assert_eq!(map.count(&needle).unwrap(), whole);
        prop_assert_eq!(map.find_iter(&needle).count(), whole);
    }

    #[test]
    fn lines_split_like_readline(
        hay in text(b"ab\n", 3000),
        start in 0usize..3100,
        end in 0usize..3100,
    ) {
        let (_dir, mut map) = map_of(&hay);
        // The readline loop and the iterator agree.
        let mut by_readline = Vec::new();
        loop {
            let line = map.readline().unwrap();
            if line.is_empty() {
                break;
            }
            by_readline.push(line);
        }

        let lines: Vec<&[u8]> = map.lines().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&lines, &naive_lines(&hay));
        prop_assert_eq!(lines.concat(), hay.clone());
        prop_assert_eq!(&lines, &by_readline);

        let selected = python_slice(hay.len(), start, end);
        let expected = selected.clone().map_or(Vec::new(), |r| naive_lines(&hay[r]));
        let mut iter = map.lines_in(start..end);
        let in_range: Vec<&[u8]> = iter.by_ref().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&in_range, &expected);
        if let Some(r) = selected {
            prop_assert_eq!(iter.position(), r.end);
        }
    }

    #[test]
    fn regex_find_iter_is_regex_on_the_slice(
        hay in text(b"ab .\n", 300),
        pattern in prop::sample::select(vec![
            "a", "ab*", "b?", "", r"(?m)^a", "(?m)$", r"\b", r"\.\s*", "[ab]+", "(?s).",
            r"(?sim)(\.\W+)?([^.]?ab[^.]*?\.)",
        ]),
        start in 0usize..320,
        end in 0usize..320,
    ) {
        let re = Regex::new(pattern).unwrap();
        let (_dir, map) = map_of(&hay);
        let expected: Vec<(usize, usize)> = match python_slice(hay.len(), start, end) {
            None => Vec::new(),
            Some(r) => re
                .find_iter(&hay[r.clone()])
                .map(|m| (r.start + m.start(), r.start + m.end()))
                .collect(),
        };
        let found: Vec<(usize, usize)> = map
            .regex_find_iter_in(&re, start..end)
            .map(|m| m.map(|m| (m.start(), m.end())))
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(found, expected);
        for m in map.regex_find_iter(&re) {
            let m = m.unwrap();
            prop_assert_eq!(m.as_bytes(), &hay[m.range()]);
            prop_assert_eq!(m.len(), m.end() - m.start());
        }
    }
}

/// Text long enough for the windowed reverse search to take many windows.
fn long_text() -> Vec<u8> {
    let mut text = Vec::new();
    let mut i = 0u32;
    while text.len() < 3 << 20 {
        text.extend_from_slice(format!("line {i} lorem ipsum dolor sit amet\n").as_bytes());
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345) % 1_000_003;
    }
    text
}

#[test]
fn rfind_over_many_windows_matches_the_definition() {
    let mut text = long_text();
    text[10..16].copy_from_slice(b"NEEDLE");
    text[2 << 20..(2 << 20) + 6].copy_from_slice(b"NEEDLE");
    let (_dir, map) = map_of(&text);
    for needle in [
        &b"NEEDLE"[..],
        b"NEED",
        b"lorem ipsum",
        b"sit amet\nline 7",
        b"absent!",
        b"\n",
    ] {
        assert_eq!(
            map.rfind_in(needle, ..).unwrap(),
            naive_rfind(&text, needle),
            "{needle:?}"
        );
        assert_eq!(
            map.find_in(needle, ..).unwrap(),
            naive_find(&text, needle),
            "{needle:?}"
        );
        assert_eq!(
            map.count(needle).unwrap(),
            naive_matches(&text, needle).len(),
            "{needle:?}"
        );
    }
    // A window of the map: the match at 2 MiB is outside it.
    assert_eq!(map.rfind_in(b"NEEDLE", ..(2 << 20) + 5).unwrap(), Some(10));
    assert_eq!(map.rfind_in(b"NEEDLE", 11..).unwrap(), Some(2 << 20));
}

#[test]
fn iterators_stop_early_and_fuse() {
    let text = long_text();
    let (_dir, map) = map_of(&text);
    let mut found = map.find_iter(b"lorem");
    assert_eq!(
        found.next().unwrap().unwrap(),
        naive_find(&text, b"lorem").unwrap()
    );
    assert_eq!(
        map.find_iter(b"lorem").count(),
        naive_matches(&text, b"lorem").len()
    );
    let mut lines = map.lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, naive_lines(&text)[0]);
    assert_eq!(lines.position(), first.len());
    assert_eq!(lines.count() + 1, naive_lines(&text).len());
    let (start, end) = (5, 4);
    let mut none = map.find_iter_in(b"lorem", start..end);
    assert!(none.next().is_none());
    assert!(none.next().is_none());
}

#[test]
fn typed_maps_forward_the_scans() {
    let mut map = MmapMut::map_anon(11).unwrap();
    map.copy_from_slice(b"ab\nab\nab\nxy");
    assert_eq!(map.count(b"ab").unwrap(), 3);
    assert_eq!(map.count_in(b"ab", 1..).unwrap(), 2);
    let found: Vec<usize> = map.find_iter_in(b"ab", ..7).map(Result::unwrap).collect();
    assert_eq!(found, [0, 3]);
    assert_eq!(map.lines().count(), 4);
    assert_eq!(
        map.lines_in(9..).map(Result::unwrap).collect::<Vec<_>>(),
        [b"xy"]
    );
    let re = Regex::new("[a-z]+").unwrap();
    assert_eq!(map.regex_find_iter(&re).count(), 4);
    assert_eq!(map.regex_find_iter_in(&re, 4..).count(), 3);
    let dynamic = map.as_dyn();
    assert_eq!(dynamic.count(b"\n").unwrap(), 3);
}

/// `count_in_reporting` at its edges, each the same as `count_in`.
#[test]
#[allow(clippy::reversed_empty_ranges)] // start after end is an input we must handle
fn count_in_reporting_at_the_edges() {
    fn with_progress(map: &Mmap, needle: &[u8], range: Range<usize>) -> (usize, Vec<usize>) {
        let mut progress = Vec::new();
        let counted = map
            .count_in_reporting(needle, range.clone(), |done| progress.push(done))
            .unwrap();
        assert_eq!(counted, map.count_in(needle, range).unwrap(), "{needle:?}");
        (counted, progress)
    }
    let (_dir, map) = map_of(b"abcabcab");
    // An empty needle occurs before every byte of the range and at its end, as bytes.count.
    assert_eq!(with_progress(&map, b"", 0..8), (9, vec![8]));
    assert_eq!(with_progress(&map, b"", 2..5), (4, vec![3]));
    // A needle longer than the range, or than the map.
    assert_eq!(with_progress(&map, b"abc", 3..5), (0, vec![2]));
    assert_eq!(with_progress(&map, b"abcabcabca", 0..8), (0, vec![8]));
    // Out of bounds: the end clamps to the map, a start past it selects nothing (not even
    // the empty needle's one position), and neither is an error, as for count_in.
    assert_eq!(with_progress(&map, b"ab", 3..1000), (2, vec![5]));
    assert_eq!(with_progress(&map, b"", 9..1000), (0, vec![0]));
    assert_eq!(with_progress(&map, b"ab", 6..2), (0, vec![0]));
    let everything = map
        .count_in_reporting(b"ab", ..=usize::MAX, |_| {})
        .unwrap();
    assert_eq!(everything, 3);
    // A zero-length map holds the empty needle once, at 0.
    let (_none, empty) = map_of(b"");
    assert_eq!(with_progress(&empty, b"", 0..0), (1, vec![0]));
    assert_eq!(with_progress(&empty, b"a", 0..10), (0, vec![0]));
    assert_eq!(with_progress(&empty, b"a", 1..10), (0, vec![0]));
}

// Windows refuses to truncate a mapped file (see windows.rs).
#[cfg(unix)]
#[test]
fn truncation_during_lines_is_an_error_not_a_crash() {
    let text = long_text();
    let (_dir, path) = temp_file(&text);
    let file = crate::util::open_rw(&path);
    // SAFETY: the test truncates the file on purpose, to check that the iterator reports it;
    // the lines it was given before are not read after the truncation.
    let map = unsafe { MmapOptions::new().map(&file).unwrap() };
    let mut lines = map.lines();
    let first = lines.next().unwrap().unwrap().to_vec();
    assert_eq!(first, naive_lines(&text)[0]);
    file.set_len(0).unwrap();
    // Lines of the batch already scanned may still come; a later batch must fail, and the
    // iterator ends after its error.
    let mut saw_error = false;
    for line in lines.by_ref() {
        if line.is_err() {
            saw_error = true;
            break;
        }
    }
    assert!(saw_error, "truncation was not reported");
    assert!(lines.next().is_none());
    assert!(map.count(b"lorem").is_err());
}

#[cfg(unix)]
#[test]
fn truncation_under_a_threaded_search_is_an_error_not_a_crash() {
    // 72 MiB takes the threaded path of find/rfind (64 MiB and more): the pages that vanish
    // are read by the helper threads as well as by the calling one.
    let text = vec![b'x'; 72 << 20];
    let (_dir, path) = temp_file(&text);
    let file = crate::util::open_rw(&path);
    // SAFETY: the test truncates the file on purpose, to check that the searches report it;
    // no slice of the map is held across the truncation.
    let map = unsafe { MmapOptions::new().map(&file).unwrap() };
    assert_eq!(map.find_in(b"needle", ..).unwrap(), None);
    assert_eq!(map.rfind_in(b"needle", ..).unwrap(), None);
    file.set_len(1 << 20).unwrap();
    assert!(map.find_in(b"needle", ..).is_err());
    assert!(map.rfind_in(b"needle", ..).is_err());
}

#[test]
fn a_search_thread_limit_changes_no_result() {
    // 72 MiB: long enough for the threaded path, which a limit of 1 turns off.
    let mut text = vec![b'x'; 72 << 20];
    text[70 << 20..(70 << 20) + 6].copy_from_slice(b"needle");
    text[5..11].copy_from_slice(b"needle");
    let (_dir, path) = temp_file(&text);
    let file = open_ro(&path);
    for threads in [1, 2, 3, 8] {
        // SAFETY: the test owns the file and nothing changes it while mapped.
        let map = unsafe {
            MmapOptions::new()
                .search_threads(threads)
                .map(&file)
                .unwrap()
        };
        assert_eq!(
            map.find_in(b"needle", 6..).unwrap(),
            Some(70 << 20),
            "{threads}"
        );
        assert_eq!(
            map.rfind_in(b"needle", ..).unwrap(),
            Some(70 << 20),
            "{threads}"
        );
        assert_eq!(
            map.rfind_in(b"needle", ..70 << 20).unwrap(),
            Some(5),
            "{threads}"
        );
        assert_eq!(map.find_in(b"absent", ..).unwrap(), None, "{threads}");
    }
    // SAFETY: as above.
    let err = unsafe { MmapOptions::new().search_threads(0).map(&file) }.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("search_threads(0)"), "{err}");
}
