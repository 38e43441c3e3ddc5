//! Walking the non-overlapping occurrences of a needle through a map with the core's
//! threaded [`walk_in`](DynMmap::walk_in), keeping a progress bar up to date. Shared by
//! `find` and `replace`.

use std::io;
use std::ops::ControlFlow;

use mmapfile::{DynMmap, WalkStep};

use crate::progress::Progress;

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
    fn an_empty_needle_is_refused() {
        let map = map_of(b"abc");
        let off = Progress::new(0, 0, "testing");
        assert!(walk(&map, b"", false, &off, |_| Ok::<_, ()>(
            ControlFlow::Continue(())
        ))
        .is_err());
    }
}
