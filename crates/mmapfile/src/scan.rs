//! Bulk scans over a map: [`count`](DynMmap::count), [`find_iter`](DynMmap::find_iter),
//! [`lines`](DynMmap::lines) and [`regex_find_iter`](DynMmap::regex_find_iter), each with an
//! `_in` variant over a window of the map.
//!
//! Every scan runs inside [`DynMmap::load`], the door the fault guard watches, so a file
//! truncated under the map is reported as an error instead of killing the process. The
//! iterators scan in batches (a few hundred results per `load`), which keeps the guard's
//! per-call cost out of the per-item cost.
//!
//! # Paging advice
//!
//! The scans give the kernel no `madvise` advice of their own. Advice is a property of the
//! whole map, which the caller may have set for reasons of its own, and `MADV_SEQUENTIAL`
//! also tells the kernel that the pages are used once, so a file the program will scan again
//! is evicted sooner. `benches/compare.py` measures each advice against none, warm and
//! cold (BENCHMARKS.md has the figures): no advice helped a scan consistently, and
//! Sequential can slow a cold one. Mapping with
//! [`MmapOptions::populate`](crate::MmapOptions::populate) helps some scans and slows
//! others, so that too is left to the caller.
//!
//! # Ranges
//!
//! These methods look at the whole map (or the `range` given to the `_in` variants), never
//! at the cursor, and do not move it. A range follows the rules of a Python slice with
//! non-negative indices, as `bytes.count(sub, start, end)` does: an end past the map is
//! clamped to `len()`, and a start past the (clamped) end selects nothing — not even the
//! one position an empty needle could match.

use std::io;
use std::ops::{Range, RangeBounds};

use memchr::memmem::Finder;
use regex::bytes::Regex;

use crate::dynmap::bounds;
use crate::kind::Readable;
use crate::search;
use crate::{DynMmap, Map};

/// Results gathered by the first guarded `load` of an iterator; later loads double it up
/// to the `MAX_*` value. Small first batches keep `iter.next()` cheap when only the first
/// few results are wanted.
const FIRST_BATCH: usize = 16;
const MAX_OFFSET_BATCH: usize = 1024;
const MAX_LINE_BATCH: usize = 4096;
const MAX_REGEX_BATCH: usize = 256;

impl<K: Readable> Map<K> {
    /// The number of non-overlapping occurrences of `needle` in the whole map, counted left
    /// to right like Python's `bytes.count`: `b"aaaa"` holds `b"aa"` twice, and an empty
    /// needle matches `len() + 1` times. Ignores the cursor.
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// let mut map = MmapOptions::new().len(8).map_anon_dyn(Access::Write)?;
    /// map.write(b"aaaa-aa-")?;
    /// assert_eq!(map.count(b"aa")?, 3);
    /// assert_eq!(map.count_in(b"aa", 1..6)?, 1);
    /// assert_eq!(map.count(b"")?, 9);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn count(&self, needle: &[u8]) -> io::Result<usize> {
        self.count_in(needle, ..)
    }

    /// [`count`](Self::count) over `range`; occurrences must lie wholly inside it.
    ///
    /// A range of 64 MiB or more is counted by up to
    /// [`search_threads`](crate::MmapOptions::search_threads) threads, by the walk of
    /// [`walk_in`](Self::walk_in); the count is the same.
    ///
    /// `range` is read like a Python slice with non-negative indices, as
    /// `bytes.count(sub, start, end)` reads it, and so is the range of every `_in` scan
    /// (`find_iter_in`, `lines_in`, `regex_find_iter_in`): an end past the map is clamped to
    /// `len()`, and a start past the clamped end selects nothing, not even the one position
    /// an empty needle could match there.
    pub fn count_in(&self, needle: &[u8], range: impl RangeBounds<usize>) -> io::Result<usize> {
        self.count_reporting(needle, range, None)
    }

    /// [`count_in`](Self::count_in), telling `counted` how many bytes of the range have been
    /// counted so far: for a progress bar over a long count. Same count, same errors, same
    /// reading of `range` (a Python slice: never an error, an end past the map is clamped,
    /// a start past the clamped end selects nothing and counts 0), and an empty needle
    /// counts the selected length plus one.
    ///
    /// `counted` runs on the calling thread, with a number that never decreases and ends,
    /// once the count is done, with the length of the selected range (0 when it selects
    /// nothing). A range of 64 MiB or more is counted in 4 MiB pieces, by several threads as
    /// in `count_in` or, with one thread allowed
    /// ([`search_threads`](crate::MmapOptions::search_threads)), by the calling thread
    /// alone, and `counted` hears of the pieces done as they come (at most once a piece,
    /// never once a match); a shorter range, or an empty needle, is one pass, reported once
    /// at its end. A file truncated under the count ends it with the truncation error, like
    /// every guarded scan.
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// let mut map = MmapOptions::new().len(8).map_anon_dyn(Access::Write)?;
    /// map.write(b"aaaa-aa-")?;
    /// let mut progress = Vec::new();
    /// let found = map.count_in_reporting(b"aa", 1.., |done| progress.push(done))?;
    /// assert_eq!(found, map.count_in(b"aa", 1..)?);
    /// assert_eq!(found, 2);
    /// assert_eq!(progress.last(), Some(&7)); // all 7 bytes of `1..` counted
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn count_in_reporting(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
        mut counted: impl FnMut(usize),
    ) -> io::Result<usize> {
        self.count_reporting(needle, range, Some(&mut counted as &mut dyn FnMut(usize)))
    }

    /// `count_in` and `count_in_reporting`: the walk of pieces when it pays or progress is
    /// wanted over a long range, else one guarded pass.
    fn count_reporting(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
        mut counted: Option<&mut dyn FnMut(usize)>,
    ) -> io::Result<usize> {
        let Some(range) = self.slice_range(range) else {
            if let Some(counted) = counted {
                counted(0);
            }
            return Ok(0);
        };
        let len = range.len();
        let walking = counted.as_mut().map(|c| &mut **c as &mut dyn FnMut(usize));
        if let Some(found) = self.count_walked(needle, range.clone(), walking) {
            return found;
        }
        let found = self.load(range, |hay| search::count(hay, needle))?;
        if let Some(counted) = counted {
            counted(len);
        }
        Ok(found)
    }

    /// An iterator over the offsets of the non-overlapping occurrences of `needle`, left to
    /// right: exactly the matches [`count`](Self::count) counts (an empty needle yields every
    /// offset from 0 to `len()` inclusive). Ignores the cursor.
    ///
    /// Items are `io::Result`s because each batch of results is searched under the fault
    /// guard; after an error the iterator ends.
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// let mut map = MmapOptions::new().len(9).map_anon_dyn(Access::Write)?;
    /// map.write(b"abcabcabc")?;
    /// let found: Vec<usize> = map.find_iter(b"bc").collect::<Result<_, _>>()?;
    /// assert_eq!(found, [1, 4, 7]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn find_iter<'a, 'n>(&'a self, needle: &'n [u8]) -> FindIter<'a, 'n> {
        self.find_iter_in(needle, ..)
    }

    /// [`find_iter`](Self::find_iter) over `range`, read as in [`count_in`](Self::count_in); the
    /// offsets yielded are offsets in the map, not in the range.
    pub fn find_iter_in<'a, 'n>(
        &'a self,
        needle: &'n [u8],
        range: impl RangeBounds<usize>,
    ) -> FindIter<'a, 'n> {
        let range = self.slice_range(range);
        FindIter {
            map: self.erased(),
            finder: Finder::new(needle),
            // An empty selection is searched as `0..0` with the search already over.
            pos: if range.is_some() { 0 } else { 1 },
            range: range.unwrap_or(0..0),
            found: Vec::new(),
            next_found: 0,
            batch: FIRST_BATCH,
        }
    }

    /// An iterator over the lines of the whole map, without copying: each line is a
    /// `&[u8]` into the mapped memory and keeps its `\n`, as [`readline`](Self::readline)
    /// returns it; a last line without `\n` is yielded as it is, and an empty map has no
    /// lines. Concatenated, the lines are the map. Ignores the cursor.
    ///
    /// The newline scan runs under the fault guard, in batches of lines; a truncated file is
    /// an `Err` item, after which the iterator ends. Reading the bytes of a line you were
    /// given is a plain memory read, like reading through `Deref`: if the file is truncated
    /// while you hold a line, the vanished pages read as zeros rather than as an error.
    ///
    /// Like every scan, it gives the kernel no paging advice of its own: none measured
    /// helps enough to override what the caller chose (see BENCHMARKS.md).
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// let mut map = MmapOptions::new().len(9).map_anon_dyn(Access::Write)?;
    /// map.write(b"ab\n\ncd\nef")?;
    /// let lines: Vec<&[u8]> = map.lines().collect::<Result<_, _>>()?;
    /// assert_eq!(lines, [&b"ab\n"[..], b"\n", b"cd\n", b"ef"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lines(&self) -> Lines<'_> {
        self.lines_in(..)
    }

    /// [`lines`](Self::lines) of `range`, read as in [`count_in`](Self::count_in): the first line
    /// starts at the range's start and the last one is cut at its end.
    pub fn lines_in(&self, range: impl RangeBounds<usize>) -> Lines<'_> {
        let range = self.slice_range(range).unwrap_or(0..0);
        Lines {
            bytes: self.as_slice(),
            map: self.erased(),
            start: range.start,
            scanned: 0,
            range,
            ends: Vec::new(),
            next_end: 0,
            batch: FIRST_BATCH,
            failed: false,
        }
    }

    /// An iterator over the successive non-overlapping matches of `re` in the whole map:
    /// the same matches as `re.find_iter(&map[..])`, searched under the fault guard.
    /// Ignores the cursor.
    ///
    /// Like [`lines`](Self::lines), matches are zero-copy views of the mapped memory.
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// let mut map = MmapOptions::new().len(13).map_anon_dyn(Access::Write)?;
    /// map.write(b"a1 b22 c333 d")?;
    /// let re = regex::bytes::Regex::new(r"[0-9]+").unwrap();
    /// let found: Vec<_> = map.regex_find_iter(&re).collect::<Result<_, _>>()?;
    /// assert_eq!(found[1].as_bytes(), b"22");
    /// assert_eq!(found[2].range(), 8..11);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn regex_find_iter<'a, 'r>(&'a self, re: &'r Regex) -> RegexMatches<'a, 'r> {
        self.regex_find_iter_in(re, ..)
    }

    /// [`regex_find_iter`](Self::regex_find_iter) over `range`, read as in
    /// [`count_in`](Self::count_in). The regex sees only the range, as if searching `&map[range]`: `^`, `$` and `\b`
    /// treat its edges as the edges of the text. Offsets are offsets in the map.
    pub fn regex_find_iter_in<'a, 'r>(
        &'a self,
        re: &'r Regex,
        range: impl RangeBounds<usize>,
    ) -> RegexMatches<'a, 'r> {
        let range = self.slice_range(range);
        RegexMatches {
            bytes: self.as_slice(),
            map: self.erased(),
            re,
            pos: if range.is_some() { 0 } else { 1 },
            range: range.unwrap_or(0..0),
            last_end: None,
            found: Vec::new(),
            next_found: 0,
            batch: FIRST_BATCH,
        }
    }

    /// `range` resolved like a Python slice with non-negative indices; `None` when it
    /// selects nothing because its start lies past its (clamped) end.
    pub(crate) fn slice_range(&self, range: impl RangeBounds<usize>) -> Option<Range<usize>> {
        let len = self.len();
        let (start, end) = bounds(&range, len);
        let end = end.min(len as u128);
        // `start <= end <= len` here, so both fit in usize.
        (start <= end).then_some(start as usize..end as usize)
    }
}

/// The offsets of a needle's occurrences; see [`DynMmap::find_iter`].
#[derive(Debug)]
pub struct FindIter<'a, 'n> {
    map: &'a DynMmap,
    finder: Finder<'n>,
    range: Range<usize>,
    /// Where the next batch's search starts, relative to `range`; past `range.len()` once
    /// the whole range has been searched.
    pos: usize,
    /// Offsets (relative to `range`) found by the last batch, and the next one to yield.
    found: Vec<usize>,
    next_found: usize,
    batch: usize,
}

impl Iterator for FindIter<'_, '_> {
    type Item = io::Result<usize>;

    fn next(&mut self) -> Option<io::Result<usize>> {
        loop {
            if let Some(&offset) = self.found.get(self.next_found) {
                self.next_found += 1;
                return Some(Ok(self.range.start + offset));
            }
            if self.pos > self.range.len() {
                return None;
            }
            self.found.clear();
            self.next_found = 0;
            let Self {
                map,
                finder,
                range,
                pos,
                found,
                batch,
                ..
            } = self;
            let searched = map.load(range.clone(), |hay| {
                search::find_batch(finder, hay, *pos, found, *batch)
            });
            self.batch = (self.batch * 2).min(MAX_OFFSET_BATCH);
            match searched {
                Ok(next) => self.pos = next,
                Err(err) => {
                    // What the batch found may come from the zero pages the guard mapped in.
                    self.found.clear();
                    self.pos = usize::MAX;
                    return Some(Err(err));
                }
            }
        }
    }
}

impl std::iter::FusedIterator for FindIter<'_, '_> {}

/// The lines of a map, zero-copy; see [`DynMmap::lines`].
#[derive(Debug)]
pub struct Lines<'a> {
    map: &'a DynMmap,
    bytes: &'a [u8],
    range: Range<usize>,
    /// Where the next line starts (an offset in the map).
    start: usize,
    /// How far (relative to `range`) the newline scan has got.
    scanned: usize,
    /// Line ends (relative to `range`) found by the last batch, and the next one to yield.
    ends: Vec<usize>,
    next_end: usize,
    batch: usize,
    failed: bool,
}

impl<'a> Lines<'a> {
    /// The offset in the map where the next line starts: the end of the last line yielded
    /// (the start of the range before the first). Bindings use it to move a cursor past the
    /// lines they have consumed.
    pub fn position(&self) -> usize {
        self.start
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = io::Result<&'a [u8]>;

    #[inline]
    fn next(&mut self) -> Option<io::Result<&'a [u8]>> {
        if let Some(&end) = self.ends.get(self.next_end) {
            self.next_end += 1;
            let end = self.range.start + end;
            let line = &self.bytes[self.start..end];
            self.start = end;
            return Some(Ok(line));
        }
        self.refill()
    }
}

impl<'a> Lines<'a> {
    /// Scans the next batch of line ends under the guard, then yields the first of them.
    #[cold]
    fn refill(&mut self) -> Option<io::Result<&'a [u8]>> {
        if self.failed || self.scanned >= self.range.len() {
            return None;
        }
        self.ends.clear();
        self.next_end = 0;
        let (scanned, ends, batch) = (self.scanned, &mut self.ends, self.batch);
        match self.map.load(self.range.clone(), |hay| {
            search::line_ends(hay, scanned, ends, batch)
        }) {
            Ok(next) => self.scanned = next,
            Err(err) => {
                // The ends found may come from the zero pages the guard mapped in.
                self.ends.clear();
                self.failed = true;
                return Some(Err(err));
            }
        }
        self.batch = (self.batch * 2).min(MAX_LINE_BATCH);
        self.next()
    }
}

impl std::iter::FusedIterator for Lines<'_> {}

/// One match of a regex in a map: where it is and, zero-copy, what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegexMatch<'a> {
    start: usize,
    bytes: &'a [u8],
}

impl<'a> RegexMatch<'a> {
    /// The offset in the map where the match starts.
    pub fn start(&self) -> usize {
        self.start
    }

    /// The offset in the map just past the match.
    pub fn end(&self) -> usize {
        self.start + self.bytes.len()
    }

    /// `start()..end()`.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end()
    }

    /// The length of the match in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the match is empty (patterns such as `a*` match empty strings).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The matched bytes, borrowed from the map (see [`DynMmap::lines`] on truncation).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// The matches of a regex in a map; see [`DynMmap::regex_find_iter`].
#[derive(Debug)]
pub struct RegexMatches<'a, 'r> {
    map: &'a DynMmap,
    bytes: &'a [u8],
    re: &'r Regex,
    range: Range<usize>,
    /// Where the next search starts, relative to `range`; past `range.len()` when done.
    pos: usize,
    /// Where the previous match ended, for the empty-match rule of `regex_batch`.
    last_end: Option<usize>,
    found: Vec<(usize, usize)>,
    next_found: usize,
    batch: usize,
}

impl<'a> Iterator for RegexMatches<'a, '_> {
    type Item = io::Result<RegexMatch<'a>>;

    fn next(&mut self) -> Option<io::Result<RegexMatch<'a>>> {
        loop {
            if let Some(&(start, end)) = self.found.get(self.next_found) {
                self.next_found += 1;
                let (start, end) = (self.range.start + start, self.range.start + end);
                return Some(Ok(RegexMatch {
                    start,
                    bytes: &self.bytes[start..end],
                }));
            }
            if self.pos > self.range.len() {
                return None;
            }
            self.found.clear();
            self.next_found = 0;
            let (re, pos, last_end, batch) = (self.re, self.pos, self.last_end, self.batch);
            let found = &mut self.found;
            // The regex engine asserts what it read earlier; bytes that change under it (a
            // truncation) break that, and nothing else can make it panic.
            let searched = self.map.load_foreign(self.range.clone(), |hay| {
                search::regex_batch(re, hay, pos, last_end, found, batch)
            });
            self.batch = (self.batch * 2).min(MAX_REGEX_BATCH);
            match searched {
                Ok((pos, last_end)) => (self.pos, self.last_end) = (pos, last_end),
                Err(err) => {
                    // What the batch found may come from the zero pages the guard mapped in.
                    self.found.clear();
                    self.pos = usize::MAX;
                    return Some(Err(err));
                }
            }
        }
    }
}

impl std::iter::FusedIterator for RegexMatches<'_, '_> {}
