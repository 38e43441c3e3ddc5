//! Walking the non-overlapping occurrences of a needle through a map, forwards or backwards,
//! with the crate's `find_iter_in`/`rfind_in`. Shared by `find` and `replace`.

use std::io;

use mmapfile::{DynMmap, FindIter};

use crate::progress::Progress;

/// Bytes searched per call, so that progress can be reported on long stretches with no match.
const CHUNK: usize = 16 * 1024 * 1024;

/// The non-overlapping occurrences of a needle in `lo..hi` of a map. Forwards, each search
/// resumes after the previous match (as Python's `count` and `replace` do); backwards, before
/// it, so for a self-overlapping needle the two directions can pick different occurrences.
pub struct Occurrences<'a> {
    map: &'a DynMmap,
    needle: &'a [u8],
    /// Occurrences still to report lie wholly inside `lo..hi`.
    lo: usize,
    hi: usize,
    reverse: bool,
    chunk: usize,
    progress: Option<&'a Progress>,
    /// Forwards: the occurrences of the window being walked (one search, in batches, for
    /// all of a window's matches, where a `find_in` per match would set up the searcher
    /// again each time), and where the occurrences it may report must start before.
    window: Option<(FindIter<'a, 'a>, usize)>,
}

impl<'a> Occurrences<'a> {
    /// Occurrences of `needle` (which must not be empty) in the whole map.
    pub fn new(map: &'a DynMmap, needle: &'a [u8], reverse: bool) -> io::Result<Self> {
        Self::with_chunk(map, needle, reverse, CHUNK)
    }

    fn with_chunk(
        map: &'a DynMmap,
        needle: &'a [u8],
        reverse: bool,
        chunk: usize,
    ) -> io::Result<Self> {
        if needle.is_empty() {
            // An empty needle "occurs" everywhere; a walk over it would never advance.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the needle is empty: give at least one byte to look for",
            ));
        }
        Ok(Self {
            map,
            needle,
            lo: 0,
            hi: map.len(),
            reverse,
            chunk: chunk.max(1),
            progress: None,
            window: None,
        })
    }

    /// Reports [`scanned`](Self::scanned) to `progress` after every window searched.
    pub fn with_progress(mut self, progress: &'a Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// How many bytes of the map the walk has finished with, for a progress bar.
    pub fn scanned(&self) -> usize {
        if self.reverse {
            self.map.len() - self.hi
        } else {
            self.lo
        }
    }

    fn tick(&self) {
        if let Some(progress) = self.progress {
            progress.set(self.scanned() as u64);
        }
    }

    fn step(&mut self) -> io::Result<Option<usize>> {
        let found = self.search();
        self.tick();
        found
    }

    fn search(&mut self) -> io::Result<Option<usize>> {
        let n = self.needle.len();
        // A window of `chunk + n - 1` bytes holds every occurrence that starts in its first
        // `chunk` bytes, so stepping by `chunk` misses none that straddle two windows.
        let span = self.chunk.saturating_add(n - 1);
        while self.hi - self.lo >= n {
            self.tick();
            if self.reverse {
                let from = self.hi.saturating_sub(span).max(self.lo);
                if let Some(at) = self.map.rfind_in(self.needle, from..self.hi)? {
                    self.hi = at;
                    return Ok(Some(at));
                }
                self.hi = if from == self.lo {
                    self.lo
                } else {
                    self.hi - self.chunk
                };
            } else {
                if let Some(at) = self.next_in_window()? {
                    return Ok(Some(at));
                }
                if self.hi - self.lo < n {
                    break;
                }
                let to = self.lo.saturating_add(span).min(self.hi);
                let starts_before = if to == self.hi {
                    self.hi
                } else {
                    self.lo + self.chunk
                };
                let matches = self.map.find_iter_in(self.needle, self.lo..to);
                self.window = Some((matches, starts_before));
            }
        }
        Ok(None)
    }

    /// The next occurrence of the current forward window; at its end, moves `lo` past it.
    fn next_in_window(&mut self) -> io::Result<Option<usize>> {
        let Some((matches, starts_before)) = &mut self.window else {
            return Ok(None);
        };
        let starts_before = *starts_before;
        match matches.next().transpose()? {
            Some(at) if at < starts_before => {
                // The window's matches are non-overlapping left to right: the next starts
                // at or after this one's end.
                self.lo = at + self.needle.len();
                Ok(Some(at))
            }
            // Matches from `starts_before` on belong to the next window, which starts there
            // (or after the last match reported, if that ran past it).
            _ => {
                self.window = None;
                self.lo = self.lo.max(starts_before);
                Ok(None)
            }
        }
    }
}

impl Iterator for Occurrences<'_> {
    type Item = io::Result<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(found) => found.map(Ok),
            Err(err) => {
                // Stop after an error: the same search would only fail again.
                self.lo = self.hi;
                Some(Err(err))
            }
        }
    }
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

    fn walk(bytes: &[u8], needle: &[u8], reverse: bool, chunk: usize) -> Vec<usize> {
        let map = map_of(bytes);
        Occurrences::with_chunk(&map, needle, reverse, chunk)
            .unwrap()
            .collect::<io::Result<_>>()
            .unwrap()
    }

    /// The same walk done the obvious way over a slice.
    fn expected(bytes: &[u8], needle: &[u8], reverse: bool) -> Vec<usize> {
        let n = needle.len();
        let mut found = Vec::new();
        if reverse {
            let mut hi = bytes.len();
            while hi >= n {
                match (0..=hi - n).rev().find(|&i| &bytes[i..i + n] == needle) {
                    Some(at) => {
                        found.push(at);
                        hi = at;
                    }
                    None => break,
                }
            }
        } else {
            let mut lo = 0;
            while lo + n <= bytes.len() {
                match (lo..=bytes.len() - n).find(|&i| &bytes[i..i + n] == needle) {
                    Some(at) => {
                        found.push(at);
                        lo = at + n;
                    }
                    None => break,
                }
            }
        }
        found
    }

    #[test]
    fn every_chunk_size_finds_the_same_occurrences() {
        let text = b"abcab ab aab abab ba ab\nab xxabx ab";
        for needle in [&b"ab"[..], b"a", b"ab ", b"xab", b"zz", b"abab"] {
            for reverse in [false, true] {
                let want = expected(text, needle, reverse);
                for chunk in [1, 2, 3, 5, 7, 64] {
                    assert_eq!(
                        walk(text, needle, reverse, chunk),
                        want,
                        "needle {needle:?} reverse {reverse} chunk {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn random_texts_and_windows_find_what_the_obvious_walk_finds() {
        // Small alphabets make dense and self-overlapping matches, which cross window edges.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for _ in 0..400 {
            let text: Vec<u8> = (0..1 + next(200)).map(|_| b"ab"[next(2)]).collect();
            let needle: Vec<u8> = (0..1 + next(4)).map(|_| b"ab"[next(2)]).collect();
            let chunk = 1 + next(40);
            for reverse in [false, true] {
                assert_eq!(
                    walk(&text, &needle, reverse, chunk),
                    expected(&text, &needle, reverse),
                    "text {text:?} needle {needle:?} reverse {reverse} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn self_overlapping_needles_do_not_overlap() {
        assert_eq!(walk(b"aaaaa", b"aa", false, 2), [0, 2]);
        assert_eq!(walk(b"aaaaa", b"aa", true, 2), [3, 1]);
    }

    #[test]
    fn scanned_reaches_the_whole_map() {
        let map = map_of(b"xxxxxxxxab");
        let mut walk = Occurrences::with_chunk(&map, b"ab", false, 3).unwrap();
        assert_eq!(walk.next().transpose().unwrap(), Some(8));
        assert_eq!(walk.scanned(), 10);
        let mut back = Occurrences::with_chunk(&map, b"ab", true, 3).unwrap();
        assert_eq!(back.next().transpose().unwrap(), Some(8));
        assert_eq!(back.scanned(), 2);
        assert_eq!(back.next().transpose().unwrap(), None);
        assert_eq!(back.scanned(), 10);
    }

    #[test]
    fn an_empty_needle_is_refused() {
        let map = map_of(b"abc");
        assert!(Occurrences::new(&map, b"", false).is_err());
    }
}
