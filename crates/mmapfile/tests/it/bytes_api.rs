//! The map as a byte string: slices, slice assignment, find/rfind, regex and memchr.

use std::io::{ErrorKind, SeekFrom};
use std::ops::Bound;

use mmapfile::{Mmap, MmapMut};

use crate::util::{open_ro, temp_file};

fn anon_with(bytes: &[u8]) -> MmapMut {
    let mut map = MmapMut::map_anon(bytes.len()).unwrap();
    map.copy_from_slice(bytes);
    map
}

#[test]
fn slices_and_indexing_read_the_map() {
    let map = anon_with(b"hello, world");
    assert_eq!(&map[..5], b"hello");
    assert_eq!(&map[7..], b"world");
    assert_eq!(map[4], b'o');
    assert_eq!(map.get(12), None);
    assert_eq!(map.get_byte(0).unwrap(), b'h');
    assert_eq!(map.get_byte(11).unwrap(), b'd');
    assert_eq!(
        map.get_byte(12).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(map.copy_range(3..8).unwrap(), b"lo, w");
    assert_eq!(map.copy_range(..).unwrap(), b"hello, world");
    assert_eq!(map.with_bytes(..=4, |b| b.len()).unwrap(), 5);
    assert_eq!(map.as_ref(), b"hello, world");
}

#[test]
fn slice_assignment_and_set_byte_write_the_map() {
    let mut map = anon_with(b"hello, world");
    map[..5].copy_from_slice(b"HELLO");
    map[7] = b'W';
    map.set_byte(11, b'D').unwrap();
    map.write_at(8, b"OR").unwrap();
    map.with_bytes_mut(9..10, |b| b[0] = b'R').unwrap();
    map.as_mut().reverse();
    map.as_mut().reverse();
    assert_eq!(&map[..], b"HELLO, WORlD");
    assert!(map.set_byte(12, 0).is_err());
    assert!(map.write_at(10, b"abc").is_err());
    assert_eq!(&map[..], b"HELLO, WORlD", "failed writes change nothing");
}

#[test]
fn find_starts_at_the_cursor_by_default() {
    let mut map = anon_with(b"abc abc abc");
    assert_eq!(map.find(b"abc").unwrap(), Some(0));
    map.seek(SeekFrom::Start(1)).unwrap();
    assert_eq!(map.find(b"abc").unwrap(), Some(4));
    map.seek(SeekFrom::Start(9)).unwrap();
    assert_eq!(map.find(b"abc").unwrap(), None);
    assert_eq!(
        map.find(b"").unwrap(),
        Some(9),
        "an empty needle is found at the start"
    );
    assert_eq!(map.tell(), 9, "find does not move the cursor");
}

#[test]
fn rfind_searches_from_the_cursor_to_the_end() {
    let mut map = anon_with(b"abc abc abc");
    assert_eq!(map.rfind(b"abc").unwrap(), Some(8));
    map.seek(SeekFrom::Start(9)).unwrap();
    assert_eq!(
        map.rfind(b"abc").unwrap(),
        None,
        "matches before the cursor are not seen"
    );
    assert_eq!(
        map.rfind(b"").unwrap(),
        Some(11),
        "an empty needle is found at the end"
    );
}

#[test]
#[allow(clippy::reversed_empty_ranges)] // start after end is an input we must handle
fn find_in_clamps_ranges_like_python_slices() {
    let map = anon_with(b"abc abc abc");
    assert_eq!(map.find_in(b"abc", 1..).unwrap(), Some(4));
    assert_eq!(
        map.find_in(b"abc", 1..6).unwrap(),
        None,
        "must lie wholly inside"
    );
    assert_eq!(map.find_in(b"abc", 1..=6).unwrap(), Some(4));
    assert_eq!(
        map.find_in(b"abc", 5..1000).unwrap(),
        Some(8),
        "end clamps to len"
    );
    assert_eq!(
        map.find_in(b"abc", 1000..).unwrap(),
        None,
        "start clamps to len"
    );
    assert_eq!(map.find_in(b"", 1000..2000).unwrap(), Some(11));
    assert_eq!(
        map.find_in(b"", 7..3).unwrap(),
        None,
        "start after end finds nothing"
    );
    assert_eq!(map.find_in(b"abc", ..=usize::MAX).unwrap(), Some(0));
    let excluded = (Bound::Excluded(0), Bound::Unbounded);
    assert_eq!(map.find_in(b"bc", excluded).unwrap(), Some(1));
    assert_eq!(map.rfind_in(b"abc", ..7).unwrap(), Some(4));
    assert_eq!(map.rfind_in(b"abc", ..6).unwrap(), Some(0));
    assert_eq!(map.rfind_in(b"abc", ..).unwrap(), Some(8));
    assert_eq!(map.rfind_in(b"abc", 3..1000).unwrap(), Some(8));
    assert_eq!(map.rfind_in(b"", 2..5).unwrap(), Some(5));
    assert_eq!(map.rfind_in(b"", 20..30).unwrap(), Some(11));
    assert_eq!(map.rfind_in(b"abc", 9..2).unwrap(), None);
    assert_eq!(map.find_in(b"abc abc abc abc", ..).unwrap(), None);
}

#[test]
fn find_works_in_a_file_backed_window() {
    let (_dir, path) = temp_file(b"needle in a haystack with a needle");
    let file = open_ro(&path);
    // SAFETY: the file lives in our own temporary directory; nothing else changes it.
    let map = unsafe { mmapfile::MmapOptions::new().offset(3).map(&file).unwrap() };
    assert_eq!(
        map.find(b"needle").unwrap(),
        Some(25),
        "indices are relative to the map"
    );
    assert_eq!(map.rfind_in(b"dle", ..10).unwrap(), Some(0));
}

#[test]
fn regex_and_memchr_work_on_the_map_directly() {
    let (_dir, path) = temp_file(b"Lorem ipsum dolor sit amet, consectetuer adipiscing elit.");
    let file = open_ro(&path);
    // SAFETY: as above.
    let map = unsafe { Mmap::map(&file).unwrap() };
    let pattern = regex::bytes::Regex::new(r"(?i)\w+(or|it)\b").unwrap();
    let words: Vec<&[u8]> = pattern.find_iter(&map).map(|m| m.as_bytes()).collect();
    assert_eq!(words, [&b"dolor"[..], b"sit", b"elit"]);
    assert_eq!(memchr::memchr(b',', &map), Some(26));
    assert_eq!(
        memchr::memmem::find(&map, b"sit"),
        map.find(b"sit").unwrap()
    );
}
