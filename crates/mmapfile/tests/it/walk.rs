//! `walk_in`, the threaded `count_in` and `count_in_reporting` over real files long enough
//! for their threads.

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
    let (counted, progress) = count_reporting(&map, ..);
    let err = counted.expect_err("a reporting count into vanished bytes");
    assert!(mmapfile::is_truncated(&err), "{err:?}");
    assert!(progress.iter().all(|&done| done < LEN), "{progress:?}");
    assert_eq!(map.count_in(NEEDLE, ..cut).unwrap(), before.len());
}

/// `count_in_reporting` over `range`, with every progress report in order.
fn count_reporting(
    map: &mmapfile::Mmap,
    range: impl std::ops::RangeBounds<usize>,
) -> (std::io::Result<usize>, Vec<usize>) {
    let mut progress = Vec::new();
    let counted = map.count_in_reporting(NEEDLE, range, |done| progress.push(done));
    (counted, progress)
}

/// 4 MiB pieces of the range's start positions, as the walk cuts them.
const PIECE: usize = 4 << 20;

#[test]
fn a_long_count_reports_its_progress_by_pieces_and_counts_what_count_counts() {
    let (_dir, path) = file_with_needles();
    let file = crate::util::open_ro(&path);
    for threads in [1, 2, 4] {
        // SAFETY: the test owns the file and nothing changes it while mapped.
        let map = unsafe { MmapOptions::new().search_threads(threads).map(&file) }.expect("map");
        for (range, len, found) in [
            (0.., LEN, needles().len()),
            (1.., LEN - 1, needles().len() - 1),
        ] {
            let (counted, progress) = count_reporting(&map, range.clone());
            let counted = counted.expect("count");
            assert_eq!(counted, found, "{threads} threads");
            assert_eq!(counted, map.count_in(NEEDLE, range).unwrap());
            assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
            assert_eq!(progress.last(), Some(&len), "{threads} threads");
            // Coarse: never more than once a piece (20 of them), never once a match.
            let pieces = (len - NEEDLE.len() + 1).div_ceil(PIECE);
            assert!(
                progress.len() <= pieces + 1,
                "{threads} threads: {progress:?}"
            );
            if threads == 1 {
                // The calling thread alone hears of each piece as it finishes it.
                let each: Vec<usize> = (1..pieces).map(|i| i * PIECE).chain([len]).collect();
                assert_eq!(progress, each);
            }
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_count_truncated_mid_scan_reports_the_truncation_after_the_pieces_before_the_cut() {
    // In-process, like the walk above: the guard handles the fault or this binary dies.
    let (_dir, path) = file_with_needles();
    let file = crate::util::open_ro(&path);
    // One thread: the pieces are counted in order, so the cut lands mid-scan for sure.
    // SAFETY: the truncation is the point of the test.
    let map = unsafe { MmapOptions::new().search_threads(1).map(&file) }.expect("map");
    let cut = 18 << 20;
    let mut progress = Vec::new();
    let counted = map.count_in_reporting(NEEDLE, .., |done| {
        if progress.is_empty() {
            // After the first piece: the rest of the scan runs into the cut.
            crate::util::open_rw(&path)
                .set_len(cut as u64)
                .expect("truncate");
        }
        progress.push(done);
    });
    let err = counted.expect_err("a count that runs into vanished bytes");
    assert!(mmapfile::is_truncated(&err), "{err:?}");
    // Every piece wholly before the cut was counted and reported, none from the one the
    // cut falls in.
    assert_eq!(progress, [PIECE, 2 * PIECE, 3 * PIECE, 4 * PIECE]);
    let before = needles().into_iter().filter(|&at| at < cut).count();
    assert_eq!(map.count_in(NEEDLE, ..cut).unwrap(), before);
}
