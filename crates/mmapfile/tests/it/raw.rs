//! `MmapRaw`: a pointer and a length for memory shared between threads and processes.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use mmapfile::{Access, Mmap, MmapMut, MmapOptions, MmapRaw};

use crate::util::{expect_err, open_ro, open_rw, temp_file};

/// The `AtomicU64` at byte `offset` of `map`.
///
/// # Safety
/// `offset` must be 8-byte aligned and `offset + 8 <= map.len()`, the map writable, and
/// every access to those bytes atomic while the reference lives.
unsafe fn atomic_at(map: &MmapRaw, offset: usize) -> &AtomicU64 {
    assert!(offset % 8 == 0 && offset + 8 <= map.len());
    // SAFETY: the caller's promise; the map starts page aligned.
    unsafe { &*map.as_mut_ptr().add(offset).cast::<AtomicU64>() }
}

#[test]
fn threads_increment_one_atomic_in_shared_anonymous_memory() {
    let map = MmapOptions::new()
        .len(4096)
        .map_anon_raw()
        .expect("anon raw");
    assert_eq!(map.access(), Access::Write);
    assert!(map.is_anonymous());
    // SAFETY: offset 64 is aligned and inside the writable map; all accesses are atomic.
    let counter = unsafe { atomic_at(&map, 64) };
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..100_000 {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(counter.load(Ordering::SeqCst), 400_000);
}

#[test]
#[cfg(unix)]
fn a_forked_child_increments_what_the_parent_sees() {
    let map = MmapOptions::new()
        .len(4096)
        .map_anon_raw()
        .expect("anon raw");
    // SAFETY: offset 0 is aligned and inside the writable map; all accesses are atomic.
    let counter = unsafe { atomic_at(&map, 0) };
    counter.store(5, Ordering::SeqCst);
    // SAFETY: the child only does atomic adds and `_exit`s, all async-signal-safe.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        for _ in 0..1000 {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: leaves the child at once, running no destructor of the parent's state.
        unsafe { libc::_exit(0) };
    }
    for _ in 0..1000 {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    assert_eq!(counter.load(Ordering::SeqCst), 2005);
}

#[test]
fn a_file_backed_raw_map_writes_through_to_the_file() {
    let (_dir, path) = temp_file(&[0; 100]);
    let file = open_rw(&path);
    let map = MmapOptions::new()
        .offset(8)
        .map_raw(&file)
        .expect("map_raw");
    assert_eq!(
        (map.len(), map.offset(), map.access()),
        (92, 8, Access::Write)
    );
    // SAFETY: the window starts at file offset 8, so byte 0 of the map sits 8 bytes into a
    // page: aligned for u64; all accesses are atomic.
    let counter = unsafe { atomic_at(&map, 0) };
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..10_000 {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    // SAFETY: byte 50 is inside the writable map, and nothing else accesses it.
    unsafe { map.as_mut_ptr().add(50).write_volatile(b'!') };
    map.flush_range(0, 8).expect("flush_range");
    map.flush().expect("flush");
    let bytes = std::fs::read(&path).expect("read back");
    assert_eq!(u64::from_ne_bytes(bytes[8..16].try_into().unwrap()), 20_000);
    assert_eq!(bytes[58], b'!');
    // Another map of the file sees the same bytes.
    // SAFETY: nothing changes the file while this map is borrowed.
    let reader = unsafe { Mmap::map(&file) }.expect("map");
    assert_eq!(reader[58], b'!');
    map.close().expect("close");
}

#[test]
fn raw_map_errors_say_what_was_wrong() {
    let (_dir, path) = temp_file(b"0123456789");
    // A shared writable map needs a descriptor open for writing.
    let err = MmapOptions::new()
        .map_raw(&open_ro(&path))
        .expect_err("read-only descriptor");
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    // Read-only raw maps need only a readable one.
    let map = MmapOptions::new()
        .map_raw_read_only(&open_ro(&path))
        .expect("read-only raw");
    assert_eq!(map.access(), Access::Read);
    // SAFETY: byte 3 is inside the map; nothing writes the file meanwhile.
    assert_eq!(unsafe { map.as_ptr().add(3).read_volatile() }, b'3');
    expect_err(
        map.flush_range(5, 6),
        io::ErrorKind::InvalidInput,
        &["flush range 5..11", "10-byte map"],
    );
    expect_err(
        map.check_intact(9, 2),
        io::ErrorKind::InvalidInput,
        &["check range 9..11"],
    );
    map.check_intact(0, 10).expect("intact");
    // Window errors are the other maps' errors.
    expect_err(
        MmapOptions::new()
            .offset(11)
            .map_raw_read_only(&open_ro(&path)),
        io::ErrorKind::InvalidInput,
        &["offset"],
    );
}

#[test]
fn typed_maps_become_raw_keeping_their_bytes() {
    let mut map = MmapMut::map_anon(16).expect("anon");
    map[..3].copy_from_slice(b"abc");
    let raw = MmapRaw::from(map);
    // SAFETY: 3 bytes inside the live map; nothing else accesses them.
    let first = unsafe { std::slice::from_raw_parts(raw.as_ptr(), 3) }.to_vec();
    assert_eq!(first, b"abc");
    assert_eq!(
        format!("{raw:?}").split_whitespace().next(),
        Some("MmapRaw")
    );
}
