//! `walk_in` and the threaded `count_in` over real files long enough for their threads.

use std::ops::ControlFlow;

use mmapfile::{MmapOptions, WalkStep};

/// Long enough for the threaded path (64 MiB and more), with a needle on both sides of
/// several 4 MiB piece edges and at both ends.
const LEN: usize = 80 << 20;
const NEEDLE: &[u8] = b"needle";

fn needles() -> Vec<usize> {
    let mut at = vec![0, LEN - NEEDLE.len()];
    for edge in [4usize << 20, 8 << 20, 40 << 20, 77 << 20] {
        at.extend([edge - 3, edge + 10]);
    }
    at.sort_unstable();
    at
}

fn file_with_needles() -> (tempfile::TempDir, std::path::PathBuf) {
    let mut bytes = vec![b'.'; LEN];
    for at in needles() {
        bytes[at..at + NEEDLE.len()].copy_from_slice(NEEDLE);
    }
    crate::util::temp_file(&bytes)
}

fn walk(map: &mmapfile::Mmap, reverse: bool) -> (Vec<usize>, std::io::Result<()>) {
    let mut found = Vec::new();
    let result = map.walk_in(NEEDLE, .., reverse, |step| {
        if let WalkStep::Found(at) = step {
            found.push(at);
        }
        ControlFlow::Continue(())
    });
    (found, result)
}

#[test]
fn a_long_walk_finds_what_find_iter_finds_in_both_directions() {
    let (_dir, path) = file_with_needles();
    let file = crate::util::open_ro(&path);
    // SAFETY: the test owns the file and nothing changes it while mapped.
    let map = unsafe { MmapOptions::new().map(&file) }.expect("map");
    let (forward, result) = walk(&map, false);
    result.expect("walk");
    assert_eq!(forward, needles());
    let iterated: Vec<usize> = map.find_iter(NEEDLE).collect::<Result<_, _>>().unwrap();
    assert_eq!(forward, iterated);
    let (mut backward, result) = walk(&map, true);
    result.expect("walk back");
    backward.reverse();
    assert_eq!(backward, needles());
    assert_eq!(map.count(NEEDLE).unwrap(), needles().len());
    assert_eq!(map.count_in(NEEDLE, 1..).unwrap(), needles().len() - 1);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_walk_over_a_truncated_file_reports_what_came_before_then_the_truncation() {
    // In-process, like the unaligned-window truncation test: the guard handles the fault
    // or this test binary dies.
    let (_dir, path) = file_with_needles();
    let file = crate::util::open_ro(&path);
    // SAFETY: the truncation is the point of the test.
    let map = unsafe { MmapOptions::new().map(&file) }.expect("map");
    let cut = 20 << 20;
    crate::util::open_rw(&path)
        .set_len(cut as u64)
        .expect("truncate");
    let (found, result) = walk(&map, false);
    let err = result.expect_err("a walk into vanished bytes");
    assert!(mmapfile::is_truncated(&err), "{err:?}");
    let before: Vec<usize> = needles().into_iter().filter(|&at| at < cut).collect();
    assert_eq!(
        found, before,
        "only occurrences before the cut, and no zeros' matches"
    );
    let err = map.count(NEEDLE).expect_err("a count into vanished bytes");
    assert!(mmapfile::is_truncated(&err), "{err:?}");
    assert_eq!(map.count_in(NEEDLE, ..cut).unwrap(), before.len());
}
