//! Threads: the maps are `Send` and `Sync` (see `DynMmap`'s "Threads" notes for why that
//! is sound), and the fault guard's registry copes with maps created and dropped on many
//! threads at once.

use std::sync::{Arc, Barrier, Mutex};

use mmapfile::{page_size, DynMmap, Mmap, MmapMut, MmapOptions};

use crate::util::{open_ro, open_rw, pattern, temp_file};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn the_maps_are_send_and_sync() {
    assert_send_sync::<Mmap>();
    assert_send_sync::<MmapMut>();
    assert_send_sync::<DynMmap>();
}

#[test]
fn threads_read_one_shared_map_and_agree() {
    let contents = pattern(64 * 1024 + 3);
    let (_dir, path) = temp_file(&contents);
    let file = open_ro(&path);
    // SAFETY: the file is ours alone for the test and is not changed while mapped.
    let map = unsafe { Mmap::map(&file) }.expect("map");
    let barrier = Barrier::new(8);
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (map, barrier, contents) = (&map, &barrier, &contents);
            scope.spawn(move || {
                barrier.wait();
                for round in 0..50 {
                    let start = (t * 997 + round * 131) % (contents.len() - 100);
                    assert_eq!(
                        map.copy_range(start..start + 100).expect("copy"),
                        &contents[start..start + 100]
                    );
                    let needle = &contents[start..start + 5];
                    let expected = contents
                        .windows(5)
                        .position(|w| w == needle)
                        .expect("the needle is in the file");
                    assert_eq!(map.find_in(needle, ..).expect("find"), Some(expected));
                    assert_eq!(&map[start..start + 10], &contents[start..start + 10]);
                }
            });
        }
    });
}

#[test]
fn a_map_moves_to_another_thread_and_is_written_there() {
    let (_dir, path) = temp_file(&pattern(4096));
    let file = open_rw(&path);
    // SAFETY: the file is ours alone for the test.
    let map = unsafe { MmapMut::map_mut(&file) }.expect("map");
    let map = std::thread::spawn(move || {
        let mut map = map;
        map.write_at(100, b"written on another thread")
            .expect("write");
        map.flush().expect("flush");
        map
    })
    .join()
    .expect("the thread finished");
    assert_eq!(
        map.copy_range(100..125).expect("read back"),
        b"written on another thread"
    );
    drop(map);
    assert_eq!(
        &std::fs::read(&path).expect("read the file")[100..125],
        b"written on another thread"
    );
}

#[test]
fn a_mutex_shares_a_writable_map_between_writers_and_readers() {
    let map = Arc::new(Mutex::new(
        MmapOptions::new()
            .len(8 * 1024)
            .map_anon()
            .expect("anonymous map"),
    ));
    std::thread::scope(|scope| {
        for t in 0..4u8 {
            let map = Arc::clone(&map);
            scope.spawn(move || {
                for i in 0..256usize {
                    let mut map = map.lock().expect("lock");
                    let at = usize::from(t) * 2048 + i * 8;
                    map.write_at(at, &[t + 1; 8]).expect("write");
                }
            });
        }
    });
    let map = map.lock().expect("lock");
    for t in 0..4u8 {
        let part = map
            .copy_range(usize::from(t) * 2048..usize::from(t + 1) * 2048)
            .expect("read");
        assert!(part.iter().all(|&b| b == t + 1), "thread {t}'s quarter");
    }
}

/// Maps created and dropped on eight threads at once: each map must keep its own bytes,
/// and the registry that the fault guard keeps must hand every map its own slot (a map
/// that saw another's slot would report a truncation it never had).
#[test]
fn many_threads_create_and_drop_file_maps_at_once() {
    let page = page_size();
    let dir = tempfile::tempdir().expect("temp dir");
    let barrier = Barrier::new(8);
    std::thread::scope(|scope| {
        for t in 0..8usize {
            let (dir, barrier) = (dir.path(), &barrier);
            scope.spawn(move || {
                let path = dir.join(format!("churn-{t}"));
                let contents = vec![t as u8 + b'a'; 3 * page];
                std::fs::write(&path, &contents).expect("write");
                let file = open_rw(&path);
                barrier.wait();
                let mut kept = Vec::new();
                for round in 0..200 {
                    // SAFETY: each thread's file is its own and is never truncated.
                    let map = unsafe {
                        MmapOptions::new()
                            .offset((round % 7) as u64)
                            .len(page)
                            .map(&file)
                    }
                    .expect("map");
                    assert_eq!(
                        map.copy_range(..).expect("no false truncation"),
                        &contents[..page]
                    );
                    // Keep some alive so that slots are in use while others are freed.
                    if round % 10 == 0 {
                        kept.push(map);
                    }
                }
                for map in kept {
                    assert!(map.find_in(b"zz", ..).expect("find").is_none());
                    map.close().expect("close");
                }
            });
        }
    });
    assert!(mmapfile::fault_guard_active());
}
