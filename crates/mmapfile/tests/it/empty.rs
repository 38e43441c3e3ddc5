//! Empty maps: the whole of an empty file, the rest of a file from its end, anonymous memory
//! of no length. No OS mapping is made, and every method behaves as on an empty byte string.

use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};

use mmapfile::{Access, Advice, DynMmap, Mmap, MmapMut, MmapOptions};

use crate::util::{expect_err, open_ro, open_rw, temp_file};

/// What an empty map must do, whatever its access and backing.
fn behaves_as_an_empty_byte_string(map: &mut DynMmap) {
    assert_eq!(map.len(), 0);
    assert!(map.is_empty());
    assert!(!map.as_ptr().is_null());
    assert_eq!(map.as_slice(), b"");
    assert_eq!(map.read_vec(10).unwrap(), b"");
    assert_eq!(map.read_into(&mut [0; 4]).unwrap(), 0);
    assert_eq!(map.readline().unwrap(), b"");
    assert_eq!(map.remaining(), b"");
    assert_eq!(map.copy_range(..).unwrap(), b"");
    assert!(map.read_byte().is_err());
    assert!(map.get_byte(0).is_err());
    assert_eq!(map.find(b"x").unwrap(), None);
    assert_eq!(map.rfind(b"x").unwrap(), None);
    assert_eq!(map.find(b"").unwrap(), Some(0));
    assert_eq!(map.find_in(b"x", ..).unwrap(), None);
    assert_eq!(map.seek(SeekFrom::Start(0)).unwrap(), 0);
    assert_eq!(map.seek(SeekFrom::End(0)).unwrap(), 0);
    assert_eq!(map.tell(), 0);
    expect_err(
        map.seek(SeekFrom::Start(1)),
        ErrorKind::InvalidInput,
        &["seek position 1", "0-byte map"],
    );
    map.flush().unwrap();
    map.flush_async().unwrap();
    map.flush_range(0, 0).unwrap();
    for advice in [Advice::Normal, Advice::WillNeed] {
        map.advise(advice).unwrap();
    }
    if map.access() == Access::Read {
        expect_err(map.write(b"x"), ErrorKind::PermissionDenied, &[]);
    } else {
        // Nothing to write into: the usual out-of-range refusal, and no bytes are lost.
        assert!(map.write(b"x").is_err());
        assert!(map.write_byte(b'x').is_err());
        assert!(map.set_byte(0, b'x').is_err());
        assert!(map.write_at(0, b"x").is_err());
        assert_eq!(map.write(b"").unwrap(), 0);
        map.write_at(0, b"").unwrap();
        assert_eq!(map.as_mut_slice().unwrap(), b"");
    }
}

#[test]
fn an_empty_file_maps_as_an_empty_map_with_every_access() {
    let (_dir, path) = temp_file(b"");
    let file = open_rw(&path);
    for access in [Access::Read, Access::Write, Access::Copy] {
        // SAFETY: the file lives in our own temporary directory; nothing else changes it.
        let mut map = unsafe { MmapOptions::new().map_dyn(Some(&file), access) }.unwrap();
        behaves_as_an_empty_byte_string(&mut map);
        assert!(!map.is_anonymous());
        assert_eq!(map.size().unwrap(), 0);
        map.close().unwrap();
    }
    // The typed constructors too, and std's traits.
    // SAFETY: as above.
    let mut map = unsafe { Mmap::map(&open_ro(&path)) }.unwrap();
    assert_eq!(&map[..], b"");
    let mut buf = Vec::new();
    assert_eq!(map.read_to_end(&mut buf).unwrap(), 0);
    assert_eq!(map.stream_position().unwrap(), 0);
    // SAFETY: as above.
    let mut map = unsafe { MmapMut::map_mut(&file) }.unwrap();
    assert_eq!(map.write(b"").unwrap(), 0);
    assert!(map.write_all(b"x").is_err());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"",
        "nothing reaches the file"
    );
}

#[test]
fn the_rest_of_a_file_from_its_end_is_an_empty_map() {
    let (_dir, path) = temp_file(b"0123456789");
    let file = open_rw(&path);
    // SAFETY: the file lives in our own temporary directory; nothing else changes it.
    let mut map = unsafe {
        MmapOptions::new()
            .offset(10)
            .map_dyn(Some(&file), Access::Write)
    }
    .unwrap();
    behaves_as_an_empty_byte_string(&mut map);
    assert_eq!(map.offset(), 10);
    // Growing it maps the bytes past the old end.
    map.resize(4).unwrap();
    map.write(b"abcd").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"0123456789abcd");
    // The window checker says so without mapping.
    let window = MmapOptions::new().offset(14).check_window(&file).unwrap();
    assert!(window.is_empty());
    assert_eq!((window.len(), window.offset()), (0, 14));
}

#[test]
fn an_empty_map_of_a_file_grows_with_resize() {
    let (_dir, path) = temp_file(b"");
    let file = open_rw(&path);
    // SAFETY: the file lives in our own temporary directory; nothing else changes it.
    let mut map = unsafe { MmapOptions::new().map_dyn(Some(&file), Access::Write) }.unwrap();
    map.resize(6).unwrap();
    assert_eq!(map.as_slice(), &[0; 6]);
    map.write(b"grown!").unwrap();
    map.flush().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"grown!");
    map.resize(0).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    behaves_as_an_empty_byte_string(&mut map);
    // A copy-on-write map never changes the file, so it cannot grow it either.
    // SAFETY: as above.
    let mut copy = unsafe { MmapOptions::new().map_dyn(Some(&file), Access::Copy) }.unwrap();
    assert!(copy.resize(4).is_err());
    assert_eq!(copy.len(), 0);
}

#[test]
fn anonymous_memory_of_no_length_is_an_empty_map() {
    for access in [Access::Write, Access::Copy] {
        let mut map = MmapOptions::new().map_anon_dyn(access).unwrap();
        behaves_as_an_empty_byte_string(&mut map);
        assert!(map.is_anonymous());
        map.resize(5000).unwrap();
        assert!(map.as_slice().iter().all(|&byte| byte == 0));
        map.write(b"hello").unwrap();
        assert_eq!(&map.as_slice()[..5], b"hello");
    }
    let map = MmapMut::map_anon(0).unwrap();
    assert_eq!(map.len(), 0);
    assert_eq!(&map[..], b"");
}
