//! Changing a map's access in place: `make_mut` and `make_read_only`.

use std::io;

use mmapfile::{Access, Mmap, MmapMut, MmapOptions};

use crate::util::{expect_err, open_ro, open_rw, temp_file};

/// The protection bits Linux shows for the mapping that holds `addr`, e.g. `"rw-s"`: what
/// the kernel enforces, not what the map believes.
#[cfg(target_os = "linux")]
fn kernel_protection(addr: *const u8) -> String {
    crate::util::KernelMapping::of(addr).perms
}

#[test]
#[cfg(unix)]
fn a_read_only_map_of_a_writable_file_becomes_write_through() {
    use std::io::SeekFrom;
    let (_dir, path) = temp_file(b"hello world");
    let file = open_rw(&path);
    // SAFETY: nothing else changes the file while it is mapped.
    let mut map = unsafe { Mmap::map(&file) }.expect("map");
    map.seek(SeekFrom::Start(6)).expect("seek");
    let before = map.as_ptr();
    let mut map = map.make_mut().expect("make_mut");
    assert_eq!(map.as_ptr(), before, "the same pages, not a new mapping");
    assert_eq!(map.access(), Access::Write);
    assert_eq!(map.tell(), 6, "the cursor is kept");
    #[cfg(target_os = "linux")]
    assert_eq!(kernel_protection(map.as_ptr()), "rw-s");
    map.write(b"WORLD").expect("write");
    map[..1].copy_from_slice(b"J");
    map.flush().expect("flush");
    assert_eq!(std::fs::read(&path).expect("read back"), b"Jello WORLD");
}

#[test]
fn a_read_only_descriptor_is_refused_and_the_map_handed_back() {
    let (_dir, path) = temp_file(b"read only");
    let file = open_ro(&path);
    // SAFETY: nothing else changes the file while it is mapped.
    let map = unsafe { Mmap::map(&file) }.expect("map");
    let err = map
        .make_mut()
        .expect_err("a read-only descriptor cannot write through");
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    let message = err.to_string();
    #[cfg(unix)]
    assert!(
        message.contains("cannot make the map writable: the file was opened read-only")
            && message.contains("map_copy"),
        "{message}"
    );
    #[cfg(windows)]
    assert!(message.contains("mapped read-only"), "{message}");
    let map = err.into_map();
    assert_eq!(&map[..], b"read only", "the map survives the error");
    assert_eq!(map.access(), Access::Read);
    #[cfg(target_os = "linux")]
    assert_eq!(kernel_protection(map.as_ptr()), "r--s");
    // `?` turns the error into an io::Error.
    let as_io = || -> io::Result<MmapMut> { Ok(map.make_mut()?) };
    expect_err(
        as_io(),
        io::ErrorKind::PermissionDenied,
        &["cannot make the map writable"],
    );
}

#[test]
fn a_copy_on_write_map_goes_read_only_and_back_and_stays_private() {
    let (_dir, path) = temp_file(b"original");
    let file = open_ro(&path); // enough for a private copy
                               // SAFETY: nothing else changes the file while it is mapped.
    let mut map = unsafe { MmapMut::map_copy(&file) }.expect("map_copy");
    map[..4].copy_from_slice(b"ORIG");
    let map = map.make_read_only().expect("make_read_only");
    assert_eq!(map.access(), Access::Read);
    assert_eq!(&map[..], b"ORIGinal", "private changes survive");
    #[cfg(target_os = "linux")]
    assert_eq!(kernel_protection(map.as_ptr()), "r--p");
    let mut map = map
        .make_mut()
        .expect("a private map needs no writable descriptor");
    assert_eq!(map.access(), Access::Copy);
    map[4..].copy_from_slice(b"INAL");
    assert_eq!(&map[..], b"ORIGINAL");
    map.flush().expect("flush is a no-op for a private map");
    assert_eq!(std::fs::read(&path).expect("read back"), b"original");
}

#[test]
fn a_write_through_map_goes_read_only_and_back() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_rw(&path);
    // SAFETY: nothing else changes the file while it is mapped.
    let mut map = unsafe { MmapMut::map_mut(&file) }.expect("map_mut");
    map.write_at(0, b"ab").expect("write");
    let map = map.make_read_only().expect("make_read_only");
    #[cfg(target_os = "linux")]
    assert_eq!(kernel_protection(map.as_ptr()), "r--s");
    assert_eq!(map.copy_range(..4).expect("read"), b"ab23");
    // Changes made before reach the file without a flush from the read-only map.
    let mut map = map.make_mut().expect("writable again");
    assert_eq!(map.access(), Access::Write);
    map.write_at(8, b"YZ").expect("write");
    map.flush().expect("flush");
    assert_eq!(std::fs::read(&path).expect("read back"), b"ab234567YZ");
}

#[test]
fn anonymous_memory_and_dynamic_maps_convert_too() {
    let mut map = MmapMut::map_anon(4096).expect("anon");
    map[..3].copy_from_slice(b"abc");
    let map = map.make_read_only().expect("read-only");
    let mut map = map.make_mut().expect("writable");
    assert_eq!(map.access(), Access::Copy);
    map[3] = b'd';
    assert_eq!(&map[..4], b"abcd");

    let dynamic = MmapOptions::new()
        .len(64)
        .map_anon_dyn(Access::Write)
        .expect("shared anon");
    let read_only = dynamic.make_read_only().expect("read-only");
    let mut dynamic = read_only.into_dyn();
    expect_err(
        dynamic.write_at(0, b"x"),
        io::ErrorKind::PermissionDenied,
        &["read-only"],
    );
    let mut writable = dynamic.make_mut().expect("writable");
    assert_eq!(writable.access(), Access::Write);
    writable.write_at(0, b"x").expect("write");
}

#[test]
fn an_empty_map_converts() {
    let map = MmapMut::map_anon(16).expect("anon");
    let mut dynamic = map.into_dyn();
    dynamic.resize(0).expect("resize to nothing");
    let read_only = dynamic.make_read_only().expect("read-only");
    assert!(read_only.is_empty());
    let writable = read_only.make_mut().expect("writable");
    assert!(writable.is_empty());
}

#[test]
#[cfg(windows)]
fn on_windows_a_map_created_read_only_stays_read_only() {
    let (_dir, path) = temp_file(b"hello");
    let file = open_rw(&path);
    // SAFETY: nothing else changes the file while it is mapped.
    let map = unsafe { Mmap::map(&file) }.expect("map");
    let err = map
        .make_mut()
        .expect_err("a read-only view cannot gain write access");
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("mapped read-only"), "{err}");
    assert_eq!(&err.into_map()[..], b"hello");
}
