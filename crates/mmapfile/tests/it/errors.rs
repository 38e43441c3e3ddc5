//! Every error case of the core: the kind, and a message naming the argument and the bound.

use std::fs::OpenOptions;
use std::io::{ErrorKind, SeekFrom};

use mmapfile::{Access, Advice, DynMmap, MmapMut, MmapOptions};

use crate::util::{expect_err, open_ro, open_rw, temp_file};

const INVALID: ErrorKind = ErrorKind::InvalidInput;

fn ten_bytes() -> MmapMut {
    let mut map = MmapMut::map_anon(10).unwrap();
    map.copy_from_slice(b"0123456789");
    map
}

#[test]
fn out_of_range_seeks() {
    let mut map = ten_bytes();
    expect_err(
        map.seek(SeekFrom::Start(11)),
        INVALID,
        &["seek position 11 is past the end of the 10-byte map"],
    );
    expect_err(
        map.seek(SeekFrom::End(1)),
        INVALID,
        &["seek position 11", "10-byte map"],
    );
    map.seek(SeekFrom::Start(4)).unwrap();
    expect_err(
        map.seek(SeekFrom::Current(-5)),
        INVALID,
        &["seek", "-5", "before the start", "position -1"],
    );
    expect_err(
        map.seek(SeekFrom::End(-11)),
        INVALID,
        &["seek", "-11", "from the end", "before the start"],
    );
    expect_err(
        map.seek(SeekFrom::Start(u64::MAX)),
        INVALID,
        &[&format!("seek position {}", u64::MAX), "10-byte map"],
    );
    expect_err(
        map.seek(SeekFrom::Current(i64::MAX)),
        INVALID,
        &["seek position", "10-byte map"],
    );
    assert_eq!(map.tell(), 4, "failed seeks leave the cursor");
}

#[test]
#[allow(clippy::reversed_empty_ranges)] // start after end is an input we must handle
fn out_of_range_indices() {
    let mut map = ten_bytes();
    expect_err(
        map.get_byte(10),
        INVALID,
        &["index 10 is past the end of the 10-byte map"],
    );
    expect_err(
        map.set_byte(usize::MAX, 0),
        INVALID,
        &[&format!("index {}", usize::MAX), "10-byte map"],
    );
    expect_err(
        map.copy_range(5..11),
        INVALID,
        &["range 5..11", "10-byte map"],
    );
    expect_err(
        map.with_bytes(..=usize::MAX, |_| ()),
        INVALID,
        &["range 0..", "10-byte map"],
    );
    expect_err(map.copy_range(7..3), INVALID, &["range start 7", "end 3"]);
    expect_err(
        map.with_bytes_mut(9..12, |_| ()),
        INVALID,
        &["range 9..12", "10-byte map"],
    );
}

#[test]
fn out_of_range_reads() {
    let mut map = ten_bytes();
    map.seek(SeekFrom::End(0)).unwrap();
    expect_err(
        map.read_byte(),
        ErrorKind::UnexpectedEof,
        &["read_byte at position 10", "10-byte map"],
    );
    // read and readline are short at the end, like a file, not errors.
    assert_eq!(map.read_vec(5).unwrap(), b"");
    assert_eq!(map.readline().unwrap(), b"");
}

#[test]
fn out_of_range_writes() {
    let mut map = ten_bytes();
    map.seek(SeekFrom::Start(8)).unwrap();
    expect_err(
        map.write(b"abc"),
        ErrorKind::WriteZero,
        &[
            "write of 3 bytes at position 8",
            "10-byte map",
            "room for 2",
        ],
    );
    map.seek(SeekFrom::End(0)).unwrap();
    expect_err(
        map.write_byte(b'x'),
        ErrorKind::WriteZero,
        &["write_byte at position 10", "10-byte map"],
    );
    expect_err(
        map.write_at(8, b"abc"),
        INVALID,
        &["write of 3 bytes at offset 8", "10-byte map"],
    );
    expect_err(
        map.write_at(usize::MAX, b"a"),
        INVALID,
        &[&format!("offset {}", usize::MAX), "10-byte map"],
    );
    expect_err(
        map.move_within(0, 5, 6),
        INVALID,
        &["move source range 5..11", "10-byte map"],
    );
    expect_err(
        map.move_within(8, 0, 3),
        INVALID,
        &["move destination range 8..11", "10-byte map"],
    );
    expect_err(
        map.flush_range(4, 7),
        INVALID,
        &["flush range 4..11", "10-byte map"],
    );
    expect_err(
        map.advise_range(Advice::Normal, 11, 0),
        INVALID,
        &["advise range 11..11", "10-byte map"],
    );
    assert_eq!(&map[..], b"0123456789", "failed calls change nothing");
}

#[test]
fn zero_length_file() {
    let (_dir, path) = temp_file(b"");
    let file = open_rw(&path);
    // The whole of an empty file is an empty map (tests/it/empty.rs); a byte of it is not.
    // SAFETY: the file lives in our own temporary directory; nothing else changes it.
    expect_err(
        unsafe { MmapOptions::new().len(1).map(&file) },
        INVALID,
        &["window 0..1", "0-byte file", "grow(true)"],
    );
    // SAFETY: as above.
    expect_err(
        unsafe { MmapOptions::new().offset(1).map(&file) },
        INVALID,
        &["offset 1 is past the end of the 0-byte file"],
    );
    // SAFETY: as above.
    let map = unsafe { MmapOptions::new().len(3).grow(true).map_mut(&file) }.unwrap();
    assert_eq!(&map[..], &[0; 3]);
}

#[test]
fn window_past_the_end_of_the_file() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_ro(&path);
    // SAFETY: as above.
    expect_err(
        unsafe { MmapOptions::new().offset(5).len(10).map(&file) },
        INVALID,
        &["window 5..15", "offset 5", "length 10", "10-byte file"],
    );
    // SAFETY: as above.
    expect_err(
        unsafe { MmapOptions::new().len(11).map(&file) },
        INVALID,
        &["length 11", "10-byte file"],
    );
}

#[test]
fn offset_past_the_end_of_the_file() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_ro(&path);
    // SAFETY: as above.
    expect_err(
        unsafe { MmapOptions::new().offset(11).map(&file) },
        INVALID,
        &["offset 11 is past the end of the 10-byte file"],
    );
    // At the end, the rest of the file is empty: an empty map (tests/it/empty.rs).
    // SAFETY: as above.
    assert!(unsafe { MmapOptions::new().offset(10).map(&file) }
        .unwrap()
        .is_empty());
    // SAFETY: as above.
    expect_err(
        unsafe { MmapOptions::new().offset(20).len(5).map(&file) },
        INVALID,
        &["offset 20 is past the end of the 10-byte file"],
    );
}

#[test]
fn length_overflow() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_rw(&path);
    // SAFETY: as above.
    expect_err(
        unsafe { MmapOptions::new().offset(u64::MAX).len(2).map(&file) },
        INVALID,
        &[&format!("offset {}", u64::MAX), "length 2", "overflows"],
    );
    // SAFETY: as above.
    expect_err(
        unsafe {
            MmapOptions::new()
                .offset(u64::MAX - 1)
                .len(1)
                .grow(true)
                .map_mut(&file)
        },
        INVALID,
        &[
            "file length",
            if cfg!(windows) {
                "signed 64-bit"
            } else {
                "off_t"
            },
        ],
    );
    expect_err(
        MmapOptions::new().len(usize::MAX).map_anon(),
        INVALID,
        &[&format!("map length {}", usize::MAX), "isize::MAX"],
    );
    let mut map = MmapMut::map_anon(10).unwrap();
    expect_err(
        map.resize(usize::MAX),
        INVALID,
        &[&format!("new length {}", usize::MAX), "isize::MAX"],
    );
    assert_eq!(map.len(), 10);
    // SAFETY: as above.
    let mut window = unsafe { MmapOptions::new().len(4).map_mut(&file).unwrap() };
    for too_long in [usize::MAX, isize::MAX as usize + 1] {
        expect_err(
            window.resize(too_long),
            INVALID,
            &[&format!("new length {too_long}"), "isize::MAX"],
        );
    }
    assert_eq!(window.len(), 4);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 10);
}

#[cfg(unix)]
#[test]
fn a_fifo_cannot_be_mapped() {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    let fifo = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    // SAFETY: the FIFO is refused before anything is mapped.
    expect_err(
        unsafe { mmapfile::Mmap::map(&fifo) },
        INVALID,
        &["FIFO", "no random access"],
    );
}

#[test]
fn a_directory_cannot_be_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let handle = crate::util::open_dir(dir.path());
    // SAFETY: the directory is refused before anything is mapped.
    expect_err(
        unsafe { mmapfile::Mmap::map(&handle) },
        ErrorKind::IsADirectory,
        &["directory"],
    );
}

#[test]
fn a_read_only_descriptor_cannot_back_a_writable_map() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_ro(&path);
    // SAFETY: as above.
    expect_err(
        unsafe { MmapMut::map_mut(&file) },
        ErrorKind::PermissionDenied,
        &["open read-only", "write-through map"],
    );
    // SAFETY: as above.
    expect_err(
        unsafe { MmapOptions::new().len(20).grow(true).map(&file) },
        ErrorKind::PermissionDenied,
        &["growing the file", "open for writing"],
    );
    // Copy-on-write never writes the file, so a read-only descriptor is enough.
    // SAFETY: as above.
    let copy = unsafe { MmapMut::map_copy(&file).unwrap() };
    assert_eq!(&copy[..], b"0123456789");
}

#[test]
fn a_write_only_descriptor_cannot_be_mapped() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    // SAFETY: as above.
    expect_err(
        unsafe { mmapfile::Mmap::map(&file) },
        ErrorKind::PermissionDenied,
        &["not open for reading"],
    );
}

#[test]
fn a_device_needs_a_length() {
    let Ok(device) = std::fs::File::open(crate::util::sizeless_device()) else {
        return; // no such device on this system: nothing to test
    };
    // SAFETY: refused before anything is mapped.
    expect_err(
        unsafe { mmapfile::Mmap::map(&device) },
        INVALID,
        &["device", "non-zero length"],
    );
}

#[test]
fn a_read_only_dyn_map_refuses_every_change() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_ro(&path);
    // SAFETY: as above.
    let mut map: DynMmap =
        unsafe { MmapOptions::new().map_dyn(Some(&file), Access::Read) }.unwrap();
    let denied = ErrorKind::PermissionDenied;
    expect_err(map.write(b"x"), denied, &["cannot write", "read-only"]);
    expect_err(map.write_byte(b'x'), denied, &["write a byte", "read-only"]);
    expect_err(map.write_at(0, b"x"), denied, &["read-only"]);
    expect_err(map.set_byte(0, b'x'), denied, &["set a byte", "read-only"]);
    expect_err(
        map.move_within(0, 1, 1),
        denied,
        &["move bytes", "read-only"],
    );
    expect_err(map.with_bytes_mut(.., |_| ()), denied, &["read-only"]);
    expect_err(
        map.as_mut_slice(),
        denied,
        &["borrow the map mutably", "read-only"],
    );
    // The access check comes before the range check, as in CPython.
    expect_err(map.write_at(100, b"x"), denied, &["read-only"]);
    assert_eq!(map.as_slice(), b"0123456789");
    assert_eq!(std::fs::read(&path).unwrap(), b"0123456789");
}

#[cfg(target_os = "linux")]
#[test]
fn raw_protection_and_flags_that_would_fault_are_refused() {
    expect_err(
        MmapOptions::new()
            .len(10)
            .raw_protection(libc::PROT_READ)
            .map_anon(),
        INVALID,
        &["raw protection 0x1", "PROT_WRITE", "writable"],
    );
    expect_err(
        MmapOptions::new()
            .len(10)
            .raw_protection(libc::PROT_NONE)
            .map_anon_dyn(Access::Read),
        INVALID,
        &["raw protection 0x0", "PROT_READ"],
    );
    expect_err(
        MmapOptions::new()
            .len(10)
            .raw_flags(libc::MAP_FIXED)
            .map_anon(),
        INVALID,
        &["raw_flags(0x10)", "MAP_FIXED"],
    );
    // A read-only protection with a read-only access is fine.
    let map = MmapOptions::new()
        .len(10)
        .raw_protection(libc::PROT_READ)
        .map_anon_dyn(Access::Read)
        .unwrap();
    assert_eq!(map.as_slice(), &[0; 10]);
}
