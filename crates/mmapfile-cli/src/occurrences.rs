//! Walking the non-overlapping occurrences of a needle through a map with the core's
//! threaded [`walk_in`](DynMmap::walk_in), keeping a progress bar up to date, and counting
//! them with the core's threaded [`count_in`](DynMmap::count_in). Shared by `find` and
//! `replace`.

use std::io;
use std::ops::ControlFlow;

use mmapfile::{DynMmap, WalkStep};

use crate::progress::Progress;

/// Start positions counted per call of the core's `count_in` while a bar is shown: enough
/// for the call to be split between threads (64 MiB and more), few enough calls for the
/// bar to move.
const COUNT_CHUNK: usize = 64 << 20;

/// How many non-overlapping occurrences of `needle` (not empty) the map holds, as the
/// core's [`count`](DynMmap::count) counts them (and a walk in either direction finds),
/// keeping `progress` up to date when it is shown.
///
/// Without a bar this is the core's count itself. With one, a needle that cannot overlap
/// itself is counted by `count_in` over successive chunks of at least [`COUNT_CHUNK`]
/// start positions, one 64th of the map at most, the bar moving after each: its
/// occurrences never overlap, so each is counted once, in the chunk it starts in. A needle
/// that can overlap itself (`aa`, `abab`) is walked, since where one chunk's last pick
/// ends decides the next chunk's first.
pub fn count(map: &DynMmap, needle: &[u8], progress: &Progress) -> io::Result<u64> {
    if !progress.shown() {
        return map.count(needle).map(|n| n as u64);
    }
    let chunk = map.len().div_ceil(64).max(COUNT_CHUNK);
    count_in_chunks(map, needle, progress, chunk)
}

/// [`count`] with a bar, `chunk` start positions per `count_in`.
fn count_in_chunks(
    map: &DynMmap,
    needle: &[u8],
    progress: &Progress,
    chunk: usize,
) -> io::Result<u64> {
    if needle.is_empty() || overlaps_itself(needle) {
        let mut found = 0;
        walk(map, needle, false, progress, |_| {
            found += 1;
            Ok::<_, std::convert::Infallible>(ControlFlow::Continue(()))
        })?
        .unwrap_or_else(|never| match never {});
        return Ok(found);
    }
    let m = needle.len();
    let positions = (map.len() + 1).saturating_sub(m);
    let chunk = chunk.max(1);
    let mut found = 0;
    let mut lo = 0;
    while lo < positions {
        let hi = (lo + chunk).min(positions);
        // Bytes `lo..hi + m - 1` hold exactly the occurrences that start in `lo..hi`.
        found += map.count_in(needle, lo..hi + m - 1)? as u64;
        progress.set(hi as u64);
        lo = hi;
    }
    Ok(found)
}

/// Whether two occurrences of `needle` can overlap: whether some proper prefix of it is
/// also a suffix (a border), found with the prefix function of Knuth, Morris and Pratt.
fn overlaps_itself(needle: &[u8]) -> bool {
    let mut border = vec![0usize; needle.len()];
    for i in 1..needle.len() {
        let mut k = border[i - 1];
        while k > 0 && needle[i] != needle[k] {
            k = border[k - 1];
        }
        if needle[i] == needle[k] {
            k += 1;
        }
        border[i] = k;
    }
    border.last().is_some_and(|&k| k > 0)
}

/// Calls `each` with the offset of every non-overlapping occurrence of `needle` (which must
/// not be empty) in the whole map, forwards or (`reverse`) backwards, until it returns
/// `Break`. Forwards, each search resumes after the previous match (as Python's `count` and
/// `replace` do); backwards, before it, so for a self-overlapping needle the two directions
/// can pick different occurrences. Whatever `each` fails with stops the walk and is
/// returned as `Ok(Err(..))`; a failed search (a truncated file) is the outer `Err`.
pub fn walk<E>(
    map: &DynMmap,
    needle: &[u8],
    reverse: bool,
    progress: &Progress,
    mut each: impl FnMut(usize) -> Result<ControlFlow<()>, E>,
) -> io::Result<Result<(), E>> {
    if needle.is_empty() {
        // An empty needle "occurs" everywhere; the commands refuse it before they get here.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the needle is empty: give at least one byte to look for",
        ));
    }
    let mut failed = None;
    map.walk_in(needle, .., reverse, |step| match step {
        WalkStep::Found(at) => match each(at) {
            Ok(flow) => flow,
            Err(err) => {
                failed = Some(err);
                ControlFlow::Break(())
            }
        },
        WalkStep::Progress(done) => {
            progress.set(done as u64);
            ControlFlow::Continue(())
        }
    })?;
    Ok(failed.map_or(Ok(()), Err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmapfile::{Access, MmapOptions};

    fn map_of(bytes: &[u8]) -> DynMmap {
        let mut map = MmapOptions::new()
            .len(bytes.len())
            .map_anon_dyn(Access::Copy)
            .unwrap();
        map.write_at(0, bytes).unwrap();
        map
    }

    fn offsets(bytes: &[u8], needle: &[u8], reverse: bool, take: usize) -> Vec<usize> {
        let map = map_of(bytes);
        let mut found = Vec::new();
        let off = Progress::new(0, 0, "testing");
        walk(&map, needle, reverse, &off, |at| {
            found.push(at);
            Ok::<_, ()>(if found.len() == take {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })
        .unwrap()
        .unwrap();
        found
    }

    #[test]
    fn occurrences_in_either_direction_and_early_stops() {
        assert_eq!(offsets(b"aaaaa", b"aa", false, 9), [0, 2]);
        assert_eq!(offsets(b"aaaaa", b"aa", true, 9), [3, 1]);
        assert_eq!(offsets(b"ab ab ab", b"ab", false, 2), [0, 3]);
        assert_eq!(offsets(b"ab ab ab", b"ab", true, 1), [6]);
        assert!(offsets(b"ab ab ab", b"x", false, 9).is_empty());
    }

    #[test]
    fn the_visitor_error_stops_the_walk_and_comes_back() {
        let map = map_of(b"ab ab ab");
        let off = Progress::new(0, 0, "testing");
        let mut calls = 0;
        let result = walk(&map, b"ab", false, &off, |at| {
            calls += 1;
            if at == 3 {
                Err("stop")
            } else {
                Ok(ControlFlow::Continue(()))
            }
        });
        assert_eq!(result.unwrap(), Err("stop"));
        assert_eq!(calls, 2);
    }

    #[test]
    fn overlapping_needles_are_told_apart() {
        for needle in [&b"aa"[..], b"abab", b"aba", b"abcab", b"aabaa"] {
            assert!(overlaps_itself(needle), "{needle:?}");
        }
        for needle in [&b"a"[..], b"ab", b"aab", b"abc", b"nulla", b"abcdb"] {
            assert!(!overlaps_itself(needle), "{needle:?}");
        }
    }

    #[test]
    fn a_count_in_chunks_counts_what_the_core_counts() {
        let mut bytes = b"abab.ab..aab-nulla-ababab-aaaa-".repeat(50);
        bytes.extend_from_slice(b"ab");
        let map = map_of(&bytes);
        let shown = Progress::shown_if(true, bytes.len() as u64, "testing");
        for needle in [&b"ab"[..], b"abab", b"aa", b"a", b"nulla", b"b-", b"zz"] {
            let want = map.count(needle).unwrap() as u64;
            // Chunk edges land inside occurrences, between them and at the very end.
            for chunk in [1, 2, 3, 7, 64, bytes.len()] {
                assert_eq!(
                    count_in_chunks(&map, needle, &shown, chunk).unwrap(),
                    want,
                    "{needle:?} in chunks of {chunk}"
                );
            }
            assert_eq!(count(&map, needle, &shown).unwrap(), want);
            let off = Progress::new(0, 0, "testing");
            assert_eq!(count(&map, needle, &off).unwrap(), want);
        }
    }

    #[test]
    fn an_empty_needle_is_refused() {
        let map = map_of(b"abc");
        let off = Progress::new(0, 0, "testing");
        assert!(walk(&map, b"", false, &off, |_| Ok::<_, ()>(
            ControlFlow::Continue(())
        ))
        .is_err());
    }
}
