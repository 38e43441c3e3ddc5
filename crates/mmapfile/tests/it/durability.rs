//! Durability: what `flush` promises, measured, and copy-on-write never reaching the file.

use std::fs::File;

use mmapfile::{page_size, MmapMut, MmapOptions};

use crate::util::{open_ro, open_rw, read_exact_at, temp_file};

/// The dirty kilobytes (shared + private) Linux reports for the mapping that contains
/// `addr`, from its entry in `/proc/self/smaps`; `None` elsewhere, where the tests check
/// only what another reader sees.
fn dirty_kb(addr: *const u8) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let mapping = crate::util::KernelMapping::of(addr);
        Some((mapping.bytes("Shared_Dirty") + mapping.bytes("Private_Dirty")) / 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = addr;
        None
    }
}

/// The test files live in the target directory, on a disk file system: on tmpfs pages are
/// never cleaned, since there is nowhere to write them back to.
fn disk_file(contents: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a directory on disk");
    let path = dir.path().join("durable.bin");
    std::fs::write(&path, contents).expect("write the test file");
    (dir, path)
}

#[test]
fn after_flush_the_range_has_no_dirty_pages_and_another_fd_reads_the_bytes() {
    let page = page_size();
    let (_dir, path) = disk_file(&vec![b'.'; 8 * page]);
    let file = open_rw(&path);
    // SAFETY: the file is ours alone for the test.
    let mut map = unsafe { MmapMut::map_mut(&file) }.expect("map");
    for i in 0..8 {
        map.write_at(i * page + 7, format!("page {i}").as_bytes())
            .expect("write a page");
    }
    if let Some(before) = dirty_kb(map.as_ptr()) {
        assert!(
            before > 0,
            "writing 8 pages dirties them (smaps says {before} kB)"
        );
    }

    // Flushing six pages leaves at most the other two dirty.
    map.flush_range(0, 6 * page).expect("flush part");
    if let Some(partly) = dirty_kb(map.as_ptr()) {
        assert!(
            partly <= (2 * page / 1024) as u64,
            "{partly} kB still dirty after flushing 6 of 8 pages"
        );
    }

    map.flush().expect("flush");
    if let Some(dirty) = dirty_kb(map.as_ptr()) {
        assert_eq!(dirty, 0, "no dirty pages after flush()");
    }

    // A separate descriptor sees the new bytes (read, not mapped).
    let reader = File::open(&path).expect("a second descriptor");
    for i in 0..8u64 {
        let mut buf = [0u8; 6];
        read_exact_at(&reader, &mut buf, i * page as u64 + 7).expect("pread");
        assert_eq!(&buf, format!("page {i}").as_bytes());
    }
    map.close().expect("close");
}

#[test]
fn a_flushed_window_at_an_unaligned_offset_is_clean_and_on_disk() {
    let page = page_size();
    let (_dir, path) = disk_file(&vec![b'.'; 4 * page]);
    let file = open_rw(&path);
    let offset = page + 100;
    // SAFETY: as above.
    let mut map = unsafe {
        MmapOptions::new()
            .offset(offset as u64)
            .len(2 * page)
            .map_mut(&file)
    }
    .expect("map a window");
    map.write_at(0, b"window start").expect("write");
    map.write_at(2 * page - 10, b"window end").expect("write");
    assert!(dirty_kb(map.as_ptr()).is_none_or(|dirty| dirty > 0));
    map.flush_range(0, 2 * page).expect("flush the window");
    assert!(dirty_kb(map.as_ptr()).is_none_or(|dirty| dirty == 0));
    let on_disk = std::fs::read(&path).expect("read back");
    assert_eq!(&on_disk[offset..offset + 12], b"window start");
    assert_eq!(
        &on_disk[offset + 2 * page - 10..offset + 2 * page],
        b"window end"
    );
    assert_eq!(&on_disk[..offset], &vec![b'.'; offset][..]);
}

#[test]
fn a_copy_on_write_map_never_changes_the_file() {
    let page = page_size();
    let original: Vec<u8> = (0..3 * page + 17).map(|i| (i % 251) as u8).collect();
    let (_dir, path) = temp_file(&original);
    let modified_before = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let file = open_ro(&path);
    // SAFETY: the file is ours alone for the test.
    let mut map = unsafe { MmapMut::map_copy(&file) }.expect("copy-on-write map");
    map.write_at(0, &vec![0xAA; map.len()])
        .expect("overwrite everything");
    map.move_within(10, 0, 100).expect("move");
    map[5] = 1;
    map.flush().expect("flush is a no-op for copy-on-write");
    assert!(map.iter().skip(6).all(|&b| b == 0xAA));

    // While the map lives, the file and other views of it are unchanged...
    assert_eq!(std::fs::read(&path).expect("read"), original);
    // SAFETY: as above.
    let other = unsafe { mmapfile::Mmap::map(&file) }.expect("a second map");
    assert_eq!(&other[..], &original[..]);
    drop(other);

    // ...and after it is closed too.
    map.close().expect("close");
    assert_eq!(std::fs::read(&path).expect("read"), original);
    assert_eq!(
        std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime"),
        modified_before,
        "the file was never written"
    );
}
