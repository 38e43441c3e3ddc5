//! Access modes: write-through reaches the file, copy-on-write never does, read-only refuses.

use std::io::SeekFrom;

use mmapfile::{Access, DynMmap, Mmap, MmapMut, MmapOptions};

use crate::util::{open_ro, open_rw, temp_file};

#[test]
fn copy_on_write_never_changes_the_file() {
    let (_dir, path) = temp_file(b"original contents");
    let file = open_rw(&path);
    // SAFETY: the file lives in our own temporary directory; nothing else changes it.
    let mut copy = unsafe { MmapMut::map_copy(&file).unwrap() };
    // SAFETY: as above.
    let reader = unsafe { Mmap::map(&file).unwrap() };
    assert_eq!(copy.access(), Access::Copy);
    copy[..8].copy_from_slice(b"ORIGINAL");
    copy.seek(SeekFrom::Start(9)).unwrap();
    copy.write(b"CONTENT").unwrap();
    copy.write_byte(b'S').unwrap();
    copy.move_within(0, 9, 3).unwrap();
    copy.set_byte(3, b'.').unwrap();
    copy.flush().unwrap();
    assert_eq!(&copy[..], b"CON.INAL CONTENTS");
    assert_eq!(
        &reader[..],
        b"original contents",
        "another map of the file sees no change"
    );
    copy.close().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"original contents");
}

#[test]
fn write_through_changes_are_seen_by_other_maps_and_the_file() {
    let (_dir, path) = temp_file(b"original contents");
    let file = open_rw(&path);
    // SAFETY: as above; the two maps are used from this thread only.
    let mut writer = unsafe { MmapMut::map_mut(&file).unwrap() };
    // SAFETY: as above.
    let reader = unsafe { Mmap::map(&file).unwrap() };
    assert_eq!(writer.access(), Access::Write);
    writer[..8].copy_from_slice(b"ORIGINAL");
    assert_eq!(&reader[..8], b"ORIGINAL");
    drop(writer);
    assert_eq!(std::fs::read(&path).unwrap(), b"ORIGINAL contents");
}

#[test]
fn dyn_maps_convert_to_the_typed_maps_by_access() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_ro(&path);
    // SAFETY: as above.
    let read = unsafe { MmapOptions::new().map_dyn(Some(&file), Access::Read) }.unwrap();
    let read = MmapMut::try_from(read).expect_err("a read-only map is not writable");
    assert_eq!(read.access(), Access::Read);
    let typed = Mmap::from(read);
    assert_eq!(&typed[..], b"0123456789");

    // SAFETY: as above.
    let copy = unsafe { MmapOptions::new().map_dyn(Some(&file), Access::Copy) }.unwrap();
    let mut copy = MmapMut::try_from(copy).expect("a copy-on-write map is writable");
    copy[0] = b'X';
    let back: DynMmap = copy.into();
    assert_eq!(back.as_slice(), b"X123456789");
}

#[test]
fn maps_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mmap>();
    assert_send_sync::<MmapMut>();
    assert_send_sync::<DynMmap>();

    let mut map = MmapMut::map_anon(4096).unwrap();
    map.fill(b'z');
    let shared = &map;
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                scope.spawn(move || {
                    shared[i * 1024..(i + 1) * 1024]
                        .iter()
                        .filter(|&&b| b == b'z')
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(counts, [1024; 4]);
    let moved = std::thread::spawn(move || {
        map[0] = b'a';
        map
    })
    .join()
    .unwrap();
    assert_eq!(moved[0], b'a');
}
