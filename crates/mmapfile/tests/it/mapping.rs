//! Creating maps: whole files, windows at any offset, growing the file, populate, anonymous.

use mmapfile::{page_size, Access, Mmap, MmapMut, MmapOptions};

use crate::util::{open_ro, open_rw, pattern, temp_file};

#[test]
fn whole_file_maps_every_byte() {
    let data = pattern(10_000);
    let (_dir, path) = temp_file(&data);
    let file = open_ro(&path);
    // SAFETY: the file lives in our own temporary directory; nothing else changes it.
    let map = unsafe { Mmap::map(&file).unwrap() };
    assert_eq!(map.len(), data.len());
    assert!(!map.is_empty());
    assert_eq!(map.offset(), 0);
    assert_eq!(map.size().unwrap(), data.len() as u64);
    assert_eq!(&map[..], &data[..]);
}

#[test]
fn windows_at_any_offset_show_the_right_bytes() {
    let page = page_size();
    let data = pattern(4 * page + 123);
    let (_dir, path) = temp_file(&data);
    let file = open_ro(&path);
    let offsets = [0, 1, 7, page - 1, page, page + 1, 2 * page + 13, 3 * page];
    for offset in offsets {
        for len in [1, 2, 100, page, data.len() - offset] {
            if offset + len > data.len() {
                continue;
            }
            // SAFETY: as above.
            let map = unsafe {
                MmapOptions::new()
                    .offset(offset as u64)
                    .len(len)
                    .map(&file)
                    .unwrap()
            };
            assert_eq!(map.len(), len, "offset {offset} len {len}");
            assert_eq!(map.offset(), offset as u64);
            assert_eq!(
                &map[..],
                &data[offset..offset + len],
                "offset {offset} len {len}"
            );
        }
    }
}

#[test]
fn len_zero_means_to_the_end_even_at_an_unaligned_offset() {
    let data = pattern(3 * page_size() + 5);
    let (_dir, path) = temp_file(&data);
    let file = open_ro(&path);
    for offset in [0, 5, page_size() + 3, data.len() - 1] {
        // SAFETY: as above.
        let map = unsafe {
            MmapOptions::new()
                .offset(offset as u64)
                .len(0)
                .map(&file)
                .unwrap()
        };
        assert_eq!(&map[..], &data[offset..]);
    }
}

#[test]
fn write_through_window_at_unaligned_offset_writes_the_right_place() {
    let data = pattern(2 * page_size() + 50);
    let (_dir, path) = temp_file(&data);
    let file = open_rw(&path);
    let offset = page_size() + 7;
    // SAFETY: as above.
    let mut map = unsafe {
        MmapOptions::new()
            .offset(offset as u64)
            .len(10)
            .map_mut(&file)
            .unwrap()
    };
    map.write(b"XYZ").unwrap();
    map.flush().unwrap();
    let mut expected = data.clone();
    expected[offset..offset + 3].copy_from_slice(b"XYZ");
    assert_eq!(std::fs::read(&path).unwrap(), expected);
}

#[test]
fn grow_extends_the_file_to_cover_the_window() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut map = unsafe {
        MmapOptions::new()
            .offset(5)
            .len(20)
            .grow(true)
            .map_mut(&file)
            .unwrap()
    };
    assert_eq!(map.len(), 20);
    assert_eq!(map.size().unwrap(), 25);
    assert_eq!(&map[..5], b"56789");
    assert!(
        map[5..].iter().all(|&b| b == 0),
        "the grown part reads as zeros"
    );
    map[19] = b'!';
    map.flush().unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk.len(), 25);
    assert_eq!(on_disk[24], b'!');
}

#[test]
fn grow_reaches_an_offset_past_the_end_and_an_empty_file() {
    let (_dir, path) = temp_file(b"abc");
    let file = open_rw(&path);
    // SAFETY: as above.
    let map = unsafe {
        MmapOptions::new()
            .offset(100)
            .len(10)
            .grow(true)
            .map_mut(&file)
            .unwrap()
    };
    assert_eq!(map.len(), 10);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 110);
    drop(map);

    let (_dir2, empty) = temp_file(b"");
    let file = open_rw(&empty);
    // SAFETY: as above.
    let map = unsafe { MmapOptions::new().len(4).grow(true).map_mut(&file).unwrap() };
    assert_eq!(&map[..], &[0; 4]);
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 4);
}

#[test]
fn grow_leaves_a_file_that_is_long_enough_alone() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_rw(&path);
    // SAFETY: as above.
    let map = unsafe { MmapOptions::new().len(4).grow(true).map_mut(&file).unwrap() };
    assert_eq!(&map[..], b"0123");
    assert_eq!(map.size().unwrap(), 10);
}

#[test]
fn populate_maps_the_same_bytes() {
    let data = pattern(5 * page_size());
    let (_dir, path) = temp_file(&data);
    let file = open_ro(&path);
    // SAFETY: as above.
    let map = unsafe { MmapOptions::new().populate().map(&file).unwrap() };
    assert_eq!(&map[..], &data[..]);
    let anon = MmapOptions::new().len(8192).populate().map_anon().unwrap();
    assert!(anon.iter().all(|&b| b == 0));
}

#[test]
fn anonymous_maps_are_zeroed_and_writable() {
    let mut map = MmapMut::map_anon(10_000).unwrap();
    assert_eq!(map.len(), 10_000);
    assert!(map.iter().all(|&b| b == 0));
    assert_eq!(map.size().unwrap(), 10_000);
    assert_eq!(map.access(), Access::Copy);
    assert!(map.as_dyn().is_anonymous());
    map[9_999] = 7;
    map.write(b"hi").unwrap();
    assert_eq!(&map[..2], b"hi");
    assert_eq!(map[9_999], 7);

    let mut shared = MmapOptions::new()
        .len(100)
        .map_anon_dyn(Access::Write)
        .unwrap();
    assert_eq!(shared.access(), Access::Write);
    shared.write(b"shared").unwrap();
    assert_eq!(&shared.as_slice()[..6], b"shared");

    // An anonymous map ignores the offset: there is no file to be a window of.
    let anon = MmapOptions::new().offset(12345).len(10).map_anon().unwrap();
    assert_eq!(anon.offset(), 0);
}

#[test]
fn maps_without_a_kept_descriptor_still_read_and_write() {
    let (_dir, path) = temp_file(b"hello");
    let file = open_rw(&path);
    // SAFETY: as above.
    let mut map = unsafe { MmapOptions::new().keep_file(false).map_mut(&file).unwrap() };
    drop(file);
    map[0] = b'j';
    map.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"jello");
    map.close().unwrap();
}

#[cfg(unix)]
#[test]
fn a_device_maps_with_an_explicit_length() {
    let Ok(zero) = std::fs::File::open("/dev/zero") else {
        return; // no /dev/zero on this system: nothing to test
    };
    // SAFETY: /dev/zero reads as zeros and cannot be truncated.
    let map = unsafe { MmapOptions::new().len(8192).map(&zero).unwrap() };
    assert_eq!(map.len(), 8192);
    assert!(map.iter().all(|&b| b == 0));
}

#[test]
fn the_map_outlives_the_file_handle() {
    let (_dir, path) = temp_file(b"still here");
    let map = {
        let file = open_ro(&path);
        // SAFETY: as above.
        unsafe { Mmap::map(&file).unwrap() }
    };
    assert_eq!(&map[..], b"still here");
    assert_eq!(map.size().unwrap(), 10);
}
