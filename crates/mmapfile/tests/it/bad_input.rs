//! Unusual files, beyond the argument errors of `errors.rs`: a sparse file past 4 GiB
//! (offsets that do not fit in 32 bits), sockets, and character devices.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;

use mmapfile::{page_size, Mmap, MmapOptions};

use crate::util::{expect_err, read_exact_at, write_all_at};

const GIB4: u64 = 4 << 30;

/// A sparse file of 5 GiB + 10 bytes with a few marks written (by `pwrite`) around and above
/// 4 GiB. Sparse: it takes a few pages of disk.
fn sparse_file() -> (tempfile::TempDir, std::path::PathBuf, File) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sparse.bin");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create");
    file.set_len(GIB4 + (1 << 30) + 10).expect("make it sparse");
    write_all_at(&file, b"above four gibibytes", GIB4 + 12_345).expect("pwrite above 4 GiB");
    write_all_at(&file, b"straddle", GIB4 - 3).expect("pwrite across 4 GiB");
    write_all_at(&file, b"the very end", GIB4 + (1 << 30) - 2).expect("pwrite at the end");
    (dir, path, file)
}

#[test]
fn a_sparse_file_over_4_gib_reads_back_above_4_gib() {
    let (_dir, _path, file) = sparse_file();
    // A window at an unaligned offset above 4 GiB.
    // SAFETY: the file is ours alone for the test.
    let map = unsafe {
        MmapOptions::new()
            .offset(GIB4 + 12_000)
            .len(4096)
            .map(&file)
    }
    .expect("map above 4 GiB");
    assert_eq!(map.offset(), GIB4 + 12_000);
    assert_eq!(&map[345..365], b"above four gibibytes");
    assert_eq!(map.find_in(b"gibibytes", ..).expect("find"), Some(356));
    assert!(map[..345].iter().all(|&b| b == 0), "holes read as zeros");

    // A window across the 4 GiB boundary.
    // SAFETY: as above.
    let across = unsafe { MmapOptions::new().offset(GIB4 - 100).len(200).map(&file) }
        .expect("map across 4 GiB");
    assert_eq!(&across[97..105], b"straddle");

    // To the end of the file from above 4 GiB (length 0).
    // SAFETY: as above.
    let tail = unsafe { MmapOptions::new().offset(GIB4 + (1 << 30) - 100).map(&file) }
        .expect("map the tail");
    assert_eq!(tail.len(), 110);
    assert_eq!(&tail[98..], b"the very end");
    assert_eq!(tail.size().expect("size"), GIB4 + (1 << 30) + 10);
}

#[test]
fn a_sparse_file_over_4_gib_takes_writes_above_4_gib() {
    let (_dir, path, file) = sparse_file();
    let at = GIB4 + 8 * page_size() as u64 + 1;
    // SAFETY: the file is ours alone for the test.
    let mut map = unsafe { MmapOptions::new().offset(at).len(64).map_mut(&file) }
        .expect("writable map above 4 GiB");
    map.write(b"written through the map").expect("write");
    map.flush().expect("flush");
    map.close().expect("close");
    // Read back with a separate descriptor, by position.
    let reader = File::open(&path).expect("reopen");
    let mut buf = [0u8; 23];
    read_exact_at(&reader, &mut buf, at).expect("pread");
    assert_eq!(&buf, b"written through the map");
    // The earlier marks are untouched.
    let mut mark = [0u8; 20];
    read_exact_at(&reader, &mut mark, GIB4 + 12_345).expect("pread");
    assert_eq!(&mark, b"above four gibibytes");
}

#[test]
fn a_window_past_the_end_of_a_large_file_is_refused() {
    let (_dir, _path, file) = sparse_file();
    let size = GIB4 + (1 << 30) + 10;
    // SAFETY: refused before anything is mapped.
    expect_err(
        unsafe { MmapOptions::new().offset(size - 5).len(10).map(&file) },
        ErrorKind::InvalidInput,
        &[&format!("{size}-byte file")],
    );
    // SAFETY: as above.
    expect_err(
        unsafe { MmapOptions::new().offset(size + 1).map(&file) },
        ErrorKind::InvalidInput,
        &[&format!(
            "offset {} is past the end of the {size}-byte file",
            size + 1
        )],
    );
    // At the end: the empty rest of the file, past 4 GiB.
    // SAFETY: as above.
    let map = unsafe { MmapOptions::new().offset(size).map(&file) }.unwrap();
    assert!(map.is_empty());
    assert_eq!(map.offset(), size);
}

#[cfg(unix)]
#[test]
fn a_socket_cannot_be_mapped() {
    let (ours, _theirs) = std::os::unix::net::UnixStream::pair().expect("a socket pair");
    // SAFETY: refused before anything is mapped.
    expect_err(
        unsafe { MmapOptions::new().len(4096).map(&ours) },
        ErrorKind::InvalidInput,
        &["socket"],
    );
}

#[cfg(unix)]
#[test]
fn dev_zero_maps_with_a_length_writable_too() {
    let Ok(zero) = OpenOptions::new().read(true).write(true).open("/dev/zero") else {
        return; // no /dev/zero on this system: nothing to test
    };
    // Without a length: a device has no size.
    // SAFETY: refused before anything is mapped.
    expect_err(
        unsafe { mmapfile::MmapMut::map_mut(&zero) },
        ErrorKind::InvalidInput,
        &["device", "non-zero length"],
    );
    // With one: zero-filled memory that takes writes.
    // SAFETY: /dev/zero cannot be truncated; its mapping is private to this map.
    let mut map =
        unsafe { MmapOptions::new().len(3 * page_size()).map_mut(&zero) }.expect("map /dev/zero");
    assert!(map.iter().all(|&b| b == 0));
    map.write_at(page_size() - 2, b"abcd").expect("write");
    assert_eq!(
        map.copy_range(page_size() - 2..page_size() + 2)
            .expect("read"),
        b"abcd"
    );
    map.flush().expect("flush");
    map.close().expect("close");
}

#[test]
fn dev_null_is_refused_by_the_os_with_an_error() {
    let name = if cfg!(windows) { "NUL" } else { "/dev/null" };
    let Ok(null) = File::open(name) else {
        return; // no /dev/null on this system: nothing to test
    };
    // /dev/null (NUL) cannot be mapped (ENODEV): the OS error comes back, no panic.
    // SAFETY: nothing is mapped.
    let result = unsafe { MmapOptions::new().len(4096).map(&null) };
    let err = result.expect_err("mapping /dev/null fails");
    #[cfg(unix)]
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
    #[cfg(windows)]
    assert!(err.raw_os_error().is_some(), "{err}");
    // Without a length it is refused before asking the OS.
    // SAFETY: as above.
    expect_err(
        unsafe { Mmap::map(&null) },
        ErrorKind::InvalidInput,
        &["device"],
    );
}
