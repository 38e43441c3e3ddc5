//! The map as a file: a cursor with read, readline, seek, write and the std io traits.

use std::io::{BufRead, ErrorKind, Read, Seek, SeekFrom, Write};

use mmapfile::{Access, Mmap, MmapMut, MmapOptions};

use crate::util::{open_ro, open_rw, temp_file};

const TEXT: &[u8] = b"first line\nsecond\n\nlast, no newline";

fn text_map() -> (tempfile::TempDir, Mmap) {
    let (dir, path) = temp_file(TEXT);
    let file = open_ro(&path);
    // SAFETY: the file lives in our own temporary directory; nothing else changes it.
    let map = unsafe { Mmap::map(&file).unwrap() };
    (dir, map)
}

#[test]
fn read_advances_and_stops_at_the_end() {
    let (_dir, mut map) = text_map();
    assert_eq!(map.read_vec(0).unwrap(), b"");
    assert_eq!(map.tell(), 0);
    assert_eq!(map.read_vec(5).unwrap(), b"first");
    assert_eq!(map.tell(), 5);
    assert_eq!(map.read_vec(6).unwrap(), b" line\n");
    let rest = map.read_vec(usize::MAX).unwrap();
    assert_eq!(rest, &TEXT[11..]);
    assert_eq!(map.tell(), TEXT.len() as u64);
    assert_eq!(
        map.read_vec(10).unwrap(),
        b"",
        "reading at the end gives nothing"
    );
}

#[test]
fn read_byte_walks_the_map_then_reports_eof() {
    let mut map = MmapMut::map_anon(3).unwrap();
    map.copy_from_slice(b"xyz");
    assert_eq!(map.read_byte().unwrap(), b'x');
    assert_eq!(map.read_byte().unwrap(), b'y');
    assert_eq!(map.read_byte().unwrap(), b'z');
    let err = map.read_byte().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    assert_eq!(map.tell(), 3);
}

#[test]
fn readline_includes_the_newline_and_is_empty_at_the_end() {
    let (_dir, mut map) = text_map();
    assert_eq!(map.readline().unwrap(), b"first line\n");
    assert_eq!(map.readline().unwrap(), b"second\n");
    assert_eq!(map.readline().unwrap(), b"\n");
    assert_eq!(map.readline().unwrap(), b"last, no newline");
    assert_eq!(map.readline().unwrap(), b"");
    assert_eq!(map.tell(), TEXT.len() as u64);
}

#[test]
fn seek_supports_all_three_whences_and_returns_the_position() {
    let (_dir, mut map) = text_map();
    let len = TEXT.len() as u64;
    assert_eq!(map.seek(SeekFrom::Start(6)).unwrap(), 6);
    assert_eq!(map.tell(), 6);
    assert_eq!(map.seek(SeekFrom::Current(5)).unwrap(), 11);
    assert_eq!(map.seek(SeekFrom::Current(-11)).unwrap(), 0);
    assert_eq!(map.seek(SeekFrom::End(-4)).unwrap(), len - 4);
    assert_eq!(map.read_vec(100).unwrap(), b"line");
    assert_eq!(
        map.seek(SeekFrom::End(0)).unwrap(),
        len,
        "exactly the end is allowed"
    );
    assert_eq!(map.seek(SeekFrom::Start(len)).unwrap(), len);
    // Out of range: an error, and the cursor stays.
    map.seek(SeekFrom::Start(3)).unwrap();
    assert!(map.seek(SeekFrom::Start(len + 1)).is_err());
    assert!(map.seek(SeekFrom::Current(-4)).is_err());
    assert!(map.seek(SeekFrom::End(1)).is_err());
    assert!(map.seek(SeekFrom::Current(i64::MAX)).is_err());
    assert!(map.seek(SeekFrom::End(i64::MIN)).is_err());
    assert_eq!(map.tell(), 3);
}

#[test]
fn write_is_all_or_nothing_and_advances() {
    let mut map = MmapMut::map_anon(8).unwrap();
    assert_eq!(map.write(b"abc").unwrap(), 3);
    assert_eq!(map.tell(), 3);
    assert!(map.write(b"too long!").is_err());
    assert_eq!(map.tell(), 3, "a failed write leaves the cursor");
    assert_eq!(
        &map[..],
        b"abc\0\0\0\0\0",
        "a failed write leaves the bytes"
    );
    assert_eq!(map.write(b"defgh").unwrap(), 5);
    assert_eq!(
        map.write(b"").unwrap(),
        0,
        "an empty write fits even at the end"
    );
    assert!(map.write(b"x").is_err());
    assert_eq!(&map[..], b"abcdefgh");
}

#[test]
fn write_byte_writes_at_the_cursor() {
    let mut map = MmapMut::map_anon(2).unwrap();
    map.write_byte(b'o').unwrap();
    map.write_byte(b'k').unwrap();
    assert!(map.write_byte(b'!').is_err());
    assert_eq!(&map[..], b"ok");
    assert_eq!(map.tell(), 2);
}

#[test]
fn write_through_writes_reach_the_file() {
    let (_dir, path) = temp_file(b"..........");
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut map = unsafe { MmapMut::map_mut(&file).unwrap() };
    map.seek(SeekFrom::Start(2)).unwrap();
    map.write(b"abc").unwrap();
    map.write_byte(b'!').unwrap();
    map.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"..abc!....");
    map.close().unwrap();
}

#[test]
fn std_read_and_seek_traits_work() {
    let (_dir, mut map) = text_map();
    let mut head = [0u8; 5];
    map.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"first");
    assert_eq!(map.stream_position().unwrap(), 5);
    let mut rest = Vec::new();
    Read::read_to_end(&mut map, &mut rest).unwrap();
    assert_eq!(rest, &TEXT[5..]);
    assert_eq!(Read::read(&mut map, &mut head).unwrap(), 0, "EOF");
    map.rewind().unwrap();
    let mut all = String::new();
    map.read_to_string(&mut all).unwrap();
    assert_eq!(all.as_bytes(), TEXT);
    assert!(Seek::seek(&mut map, SeekFrom::Current(1)).is_err());
}

#[test]
fn std_write_trait_works_and_is_all_or_nothing() {
    let mut map = MmapMut::map_anon(10).unwrap();
    map.write_all(b"01234").unwrap();
    write!(map, "{}", 56).unwrap();
    Write::flush(&mut map).unwrap();
    assert_eq!(&map[..7], b"0123456");
    let err = map.write_all(b"7890").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WriteZero);
    assert_eq!(map.tell(), 7);
    std::io::copy(&mut &b"789"[..], &mut map).unwrap();
    assert_eq!(&map[..], b"0123456789");
}

#[test]
fn bufread_lines_and_read_until() {
    let (_dir, mut map) = text_map();
    let lines: Vec<String> = (&mut map).lines().map(Result::unwrap).collect();
    assert_eq!(lines, ["first line", "second", "", "last, no newline"]);
    map.rewind().unwrap();
    let mut buf = Vec::new();
    map.read_until(b',', &mut buf).unwrap();
    assert_eq!(buf, b"first line\nsecond\n\nlast,");
}

#[test]
fn fill_buf_is_the_rest_of_the_map_without_copying() {
    let (_dir, mut map) = text_map();
    map.seek(SeekFrom::Start(6)).unwrap();
    let base = map.as_ptr();
    let buf = map.fill_buf().unwrap();
    assert_eq!(buf, &TEXT[6..]);
    // SAFETY: offset 6 is inside the map.
    assert_eq!(
        buf.as_ptr(),
        unsafe { base.add(6) },
        "no copy: it points into the map"
    );
    map.consume(4);
    assert_eq!(map.tell(), 10);
    map.consume(usize::MAX);
    assert_eq!(map.tell(), TEXT.len() as u64, "consume stops at the end");
    assert!(map.fill_buf().unwrap().is_empty());
}

#[test]
fn slicing_does_not_move_the_cursor() {
    // The guide's first example: read, slice, read again.
    let (_dir, mut map) = text_map();
    assert_eq!(map.read_vec(3).unwrap(), b"fir");
    assert_eq!(&map[..3], b"fir");
    assert_eq!(map.read_vec(3).unwrap(), b"st ");
}

#[test]
fn the_dyn_map_has_the_same_cursor_api() {
    let mut map = MmapOptions::new()
        .len(6)
        .map_anon_dyn(Access::Write)
        .unwrap();
    map.write(b"ab\ncd\n").unwrap();
    map.seek(SeekFrom::Start(0)).unwrap();
    assert_eq!(map.readline().unwrap(), b"ab\n");
    let mut buf = [0u8; 2];
    assert_eq!(map.read_into(&mut buf).unwrap(), 2);
    assert_eq!(&buf, b"cd");
    assert_eq!(map.remaining(), b"\n");
    map.advance(10);
    assert_eq!(map.tell(), 6);
}
