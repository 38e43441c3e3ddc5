//! Typed record views: `records` / `records_mut` over files and anonymous maps.

use std::io::ErrorKind;

use mmapfile::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use mmapfile::{Access, MmapMut, MmapOptions};

use crate::util::{expect_err, open_ro, open_rw, temp_file};

/// A fixed-size log entry as a program would lay it out on disk (8-byte aligned on every
/// target: a `u64` alone needs only 4 on 32-bit x86).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C, align(8))]
struct Entry {
    time: u64,
    code: u32,
    flags: u32,
}

fn entries_file(n: u64) -> Vec<u8> {
    let mut bytes = b"HEADER--".to_vec();
    for i in 0..n {
        bytes.extend(
            Entry {
                time: 1000 + i,
                code: i as u32 * 7,
                flags: 1,
            }
            .as_bytes(),
        );
    }
    bytes
}

#[test]
fn a_file_of_records_reads_without_copying() {
    let (_dir, path) = temp_file(&entries_file(100));
    let file = open_ro(&path);
    // SAFETY: the test owns the file.
    let map = unsafe { mmapfile::Mmap::map(&file) }.unwrap();
    let entries: &[Entry] = map.records(8..).unwrap();
    assert_eq!(entries.len(), 100);
    assert_eq!(
        entries[42],
        Entry {
            time: 1042,
            code: 294,
            flags: 1
        }
    );
    assert_eq!(
        entries.as_ptr().cast::<u8>(),
        map[8..].as_ptr(),
        "a view, not a copy"
    );
    let words: &[u64] = map.records(..).unwrap();
    assert_eq!(words[0], u64::from_ne_bytes(*b"HEADER--"));
    assert!(map.records::<Entry>(8..8).unwrap().is_empty());
}

#[test]
fn records_written_through_the_view_reach_the_file() {
    let (_dir, path) = temp_file(&entries_file(4));
    let file = open_rw(&path);
    // SAFETY: the test owns the file.
    let mut map = unsafe { MmapMut::map_mut(&file) }.unwrap();
    map.records_mut::<Entry>(8..).unwrap()[3].code = 0xdead;
    map.flush().unwrap();
    drop(map);
    let bytes = std::fs::read(&path).unwrap();
    let entries = <[Entry]>::ref_from_bytes(&bytes[8..]).unwrap();
    assert_eq!(entries[3].code, 0xdead);
    assert_eq!(entries[2].code, 14);
}

#[test]
fn each_failed_check_says_which() {
    let mut map = MmapOptions::new()
        .len(64)
        .map_anon_dyn(Access::Write)
        .unwrap();
    expect_err(
        map.records::<u32>(0..10),
        ErrorKind::InvalidInput,
        &[
            "0..10 is 10 bytes long",
            "not a whole number of 4-byte records of u32",
            "2 bytes left over",
        ],
    );
    if std::mem::align_of::<u64>() == 8 {
        expect_err(
            map.records::<u64>(4..20),
            ErrorKind::InvalidInput,
            &[
                "map offset 4 are misaligned",
                "u64 needs 8-byte alignment",
                "4 bytes past a multiple of 8",
            ],
        );
    } else {
        // 32-bit x86: a u64 needs only 4-byte alignment, so offset 4 is fine.
        assert_eq!(map.records::<u64>(4..20).unwrap().len(), 2);
    }
    expect_err(map.records::<u8>(60..70), ErrorKind::InvalidInput, &["70"]);
    expect_err(
        map.records_mut::<u32>(3..7),
        ErrorKind::InvalidInput,
        &["misaligned"],
    );
    let mut read_only = MmapOptions::new()
        .len(64)
        .map_anon_dyn(Access::Read)
        .unwrap();
    expect_err(
        read_only.records_mut::<u32>(..),
        ErrorKind::PermissionDenied,
        &["cannot borrow records mutably: the map is read-only"],
    );
    // Byte-sized records fit anywhere.
    assert_eq!(map.records::<[u8; 3]>(1..7).unwrap().len(), 2);
}

#[test]
fn a_window_at_an_odd_offset_shifts_the_alignment() {
    let (_dir, path) = temp_file(&entries_file(10));
    let file = open_ro(&path);
    // SAFETY: the test owns the file.
    let map = unsafe { MmapOptions::new().offset(3).map(&file) }.unwrap();
    // Offset 1 of the window is file offset 4: not a multiple of 8.
    expect_err(
        map.records::<Entry>(1..17),
        ErrorKind::InvalidInput,
        &["misaligned", "file offset 3"],
    );
    // Offset 5 of the window is file offset 8, page offset 8: aligned for u64.
    let ok: &[u64] = mmapfile::Mmap::records(&map, 5..21).unwrap();
    assert_eq!(ok[0], 1000);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_view_of_vanished_records_is_refused() {
    let page = mmapfile::page_size();
    let (_dir, path) = temp_file(&vec![7u8; 4 * page]);
    let file = open_ro(&path);
    // SAFETY: the truncation is the point of the test; no view is held across it.
    let map = unsafe { mmapfile::Mmap::map(&file) }.unwrap();
    open_rw(&path).set_len(page as u64).unwrap();
    let err = map.records::<u32>(..).unwrap_err();
    assert!(mmapfile::is_truncated(&err), "{err:?}");
    assert_eq!(
        map.records::<u32>(..page).unwrap()[0],
        u32::from_ne_bytes([7; 4])
    );
}
