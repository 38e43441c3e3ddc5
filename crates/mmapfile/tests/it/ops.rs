//! Map operations: resize, move_within, flush_range, advise, close.

use std::io::{ErrorKind, SeekFrom};

use mmapfile::{page_size, Access, Advice, MmapMut, MmapOptions};

use crate::util::{open_ro, open_rw, pattern, temp_file};

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn resize_grows_a_write_through_map_and_its_file() {
    let data = pattern(100);
    let (_dir, path) = temp_file(&data);
    let file = open_rw(&path);
    // SAFETY: the file lives in our own temporary directory; nothing else changes it.
    let mut map = unsafe { MmapMut::map_mut(&file).unwrap() };
    let new_len = 3 * page_size() + 17;
    map.resize(new_len).unwrap();
    assert_eq!(map.len(), new_len);
    assert_eq!(map.size().unwrap(), new_len as u64);
    assert_eq!(file_len(&path), new_len as u64);
    assert_eq!(&map[..100], &data[..], "the old bytes survive");
    assert!(map[100..].iter().all(|&b| b == 0), "the new bytes are zero");
    map[new_len - 1] = b'$';
    map.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap()[new_len - 1], b'$');
}

#[test]
fn resize_shrinks_the_map_and_the_file_and_clamps_the_cursor() {
    let data = pattern(3 * page_size());
    let (_dir, path) = temp_file(&data);
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut map = unsafe { MmapMut::map_mut(&file).unwrap() };
    map.seek(SeekFrom::End(0)).unwrap();
    map.resize(10).unwrap();
    assert_eq!(map.len(), 10);
    assert_eq!(map.tell(), 10, "the cursor is clamped to the new length");
    assert_eq!(&map[..], &data[..10]);
    assert_eq!(std::fs::read(&path).unwrap(), &data[..10]);
}

#[test]
fn resize_to_zero_and_back() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut map = unsafe { MmapMut::map_mut(&file).unwrap() };
    map.seek(SeekFrom::Start(4)).unwrap();
    map.resize(0).unwrap();
    assert_eq!(map.len(), 0);
    assert!(map.is_empty());
    assert_eq!(&map[..], b"");
    assert_eq!(map.tell(), 0);
    assert_eq!(map.size().unwrap(), 0);
    assert_eq!(file_len(&path), 0);
    assert_eq!(map.read_vec(10).unwrap(), b"");
    assert!(map.read_byte().is_err());
    assert_eq!(map.find(b"").unwrap(), Some(0));
    map.flush().unwrap();
    map.advise(Advice::Normal).unwrap();

    map.resize(5).unwrap();
    assert_eq!(&map[..], &[0; 5]);
    map.write(b"again").unwrap();
    map.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"again");
    map.close().unwrap();
}

#[test]
fn resize_a_window_at_an_unaligned_offset() {
    let data = pattern(page_size() + 100);
    let (_dir, path) = temp_file(&data);
    let file = open_rw(&path);
    let offset = page_size() + 3;
    // SAFETY: as above.
    let mut map = unsafe {
        MmapOptions::new()
            .offset(offset as u64)
            .len(20)
            .map_mut(&file)
            .unwrap()
    };
    map.resize(2 * page_size()).unwrap();
    assert_eq!(file_len(&path), (offset + 2 * page_size()) as u64);
    assert_eq!(&map[..20], &data[offset..offset + 20]);
    map.resize(4).unwrap();
    assert_eq!(
        file_len(&path),
        offset as u64 + 4,
        "Python's rule: offset + new length"
    );
    assert_eq!(&map[..], &data[offset..offset + 4]);
    map.resize(0).unwrap();
    map.resize(1).unwrap();
    assert_eq!(file_len(&path), offset as u64 + 1);
    assert_eq!(std::fs::read(&path).unwrap()[..offset], data[..offset]);
}

#[test]
fn resize_anonymous_private_and_shared_memory() {
    for access in [Access::Copy, Access::Write] {
        let mut map = MmapOptions::new().len(10).map_anon_dyn(access).unwrap();
        map.write(b"keep me").unwrap();
        map.resize(5 * page_size()).unwrap();
        assert_eq!(&map.as_slice()[..7], b"keep me", "{access:?}");
        // Reading the grown part must not fault (CPython dies of SIGBUS here for shared maps).
        assert!(map.as_slice()[7..].iter().all(|&b| b == 0), "{access:?}");
        map.write_at(5 * page_size() - 1, b"!").unwrap();
        map.resize(4).unwrap();
        assert_eq!(map.as_slice(), b"keep", "{access:?}");
        map.resize(0).unwrap();
        map.resize(3).unwrap();
        assert_eq!(map.as_slice(), &[0; 3], "{access:?}");
        assert_eq!(map.size().unwrap(), 3);
    }
}

#[test]
fn a_failed_resize_of_a_window_leaves_the_whole_file() {
    let data = pattern(100);
    let (_dir, path) = temp_file(&data);
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut window = unsafe {
        MmapOptions::new()
            .offset(10)
            .len(20)
            .map_mut(&file)
            .unwrap()
    };
    // Too long for the address space once the hidden slack is added. Depending on the file
    // system, either ftruncate refuses the size (EFBIG) or it succeeds and the remap fails;
    // either way the file must keep all 100 bytes (not be cut to offset + old length).
    assert!(window.resize(isize::MAX as usize - 5).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert_eq!(window.len(), 20);
    assert_eq!(&window[..], &data[10..30]);
}

#[test]
fn only_write_through_and_anonymous_maps_resize() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut copy = unsafe { MmapMut::map_copy(&file).unwrap() };
    let err = copy.resize(20).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("copy-on-write"), "{err}");
    assert_eq!(copy.len(), 10);

    // SAFETY: as above.
    let mut read = unsafe {
        MmapOptions::new()
            .map_dyn(Some(&file), Access::Read)
            .unwrap()
    };
    assert_eq!(
        read.resize(20).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );

    // SAFETY: as above.
    let mut untracked = unsafe { MmapOptions::new().keep_file(false).map_mut(&file).unwrap() };
    assert_eq!(
        untracked.resize(20).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(untracked.size().unwrap_err().kind(), ErrorKind::Unsupported);
    assert_eq!(file_len(&path), 10, "failed resizes leave the file alone");
}

#[test]
fn move_within_copies_overlapping_ranges_both_ways() {
    let mut map = MmapMut::map_anon(10).unwrap();
    map.copy_from_slice(b"0123456789");
    map.move_within(2, 0, 5).unwrap();
    assert_eq!(&map[..], b"0101234789");
    map.move_within(0, 3, 7).unwrap();
    assert_eq!(&map[..], b"1234789789");
    map.move_within(9, 0, 1).unwrap();
    map.move_within(10, 0, 0).unwrap();
    assert_eq!(&map[..], b"1234789781");
    assert!(map.move_within(5, 0, 6).is_err());
    assert!(map.move_within(0, 5, 6).is_err());
    assert!(map.move_within(usize::MAX, 0, 2).is_err());
    assert_eq!(&map[..], b"1234789781", "failed moves change nothing");
}

#[test]
fn move_within_a_file_reaches_the_file() {
    let (_dir, path) = temp_file(b"abcdef");
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut map = unsafe { MmapMut::map_mut(&file).unwrap() };
    map.move_within(0, 3, 3).unwrap();
    map.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"defdef");
}

#[test]
fn flush_range_takes_any_offset() {
    let size = 3 * page_size() + 11;
    let (_dir, path) = temp_file(&vec![b'.'; size]);
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut map = unsafe { MmapOptions::new().offset(5).map_mut(&file).unwrap() };
    let len = map.len();
    for offset in [
        0,
        1,
        page_size() - 5,
        page_size(),
        page_size() + 1,
        len - 1,
        len,
    ] {
        let count = (len - offset).min(7);
        map.with_bytes_mut(offset..offset + count, |b| b.fill(b'x'))
            .unwrap();
        map.flush_range(offset, count).unwrap();
        map.flush_async_range(offset, count).unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert!(
            on_disk[5 + offset..5 + offset + count]
                .iter()
                .all(|&b| b == b'x'),
            "offset {offset}"
        );
    }
    map.flush_async().unwrap();
    map.flush_range(len, 0).unwrap();
    assert!(map.flush_range(len, 1).is_err());
    assert!(map.flush_range(1, len).is_err());
    assert!(map.flush_range(usize::MAX, 2).is_err());
}

#[test]
fn flushing_maps_that_do_not_write_back_is_a_no_op() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_ro(&path);
    // SAFETY: as above.
    let mut copy = unsafe { MmapMut::map_copy(&file).unwrap() };
    copy[0] = b'X';
    copy.flush().unwrap();
    copy.flush_range(3, 4).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"0123456789");
    let anon = MmapMut::map_anon(100).unwrap();
    anon.flush().unwrap();
    anon.flush_async().unwrap();
}

#[test]
fn advise_whole_maps_and_ranges_at_any_offset() {
    let data = pattern(4 * page_size());
    let (_dir, path) = temp_file(&data);
    let file = open_ro(&path);
    // SAFETY: as above.
    let map = unsafe { MmapOptions::new().offset(3).map(&file).unwrap() };
    let anon = MmapMut::map_anon(4 * page_size()).unwrap();
    for advice in [
        Advice::Normal,
        Advice::Random,
        Advice::Sequential,
        Advice::WillNeed,
    ] {
        if cfg!(windows) && matches!(advice, Advice::Random | Advice::Sequential) {
            // No Windows equivalent: refused, for file and anonymous maps alike.
            for refused in [map.advise(advice), anon.advise_range(advice, 5, 10)] {
                assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::Unsupported);
            }
            continue;
        }
        map.advise(advice).unwrap();
        map.advise_range(advice, 1, page_size()).unwrap();
        map.advise_range(advice, page_size() + 7, 10).unwrap();
        anon.advise(advice).unwrap();
        anon.advise_range(advice, 5, 3 * page_size()).unwrap();
    }
    assert_eq!(&map[..], &data[3..], "advice never changes the contents");
    assert!(map.advise_range(Advice::Normal, map.len(), 1).is_err());
    assert!(map.advise_range(Advice::Normal, 1, usize::MAX).is_err());
}

#[test]
fn close_reports_success_and_consumes_the_map() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_rw(&path);
    // SAFETY: as above.
    let map = unsafe { MmapMut::map_mut(&file).unwrap() };
    map.close().unwrap();
    MmapMut::map_anon(10).unwrap().close().unwrap();
    // The caller's descriptor stays open: close only closes the map's own duplicate.
    // SAFETY: as above.
    let again = unsafe { mmapfile::Mmap::map(&file).unwrap() };
    assert_eq!(&again[..], b"0123456789");
    again.into_dyn().close().unwrap();
}
