//! Substring search over byte slices: the kernels behind `find`, `rfind`, `count` and the
//! iterators of `scan.rs`.
//!
//! Forward search is `memchr::memmem`, whose SIMD prefilter runs at memory bandwidth.
//! Reverse search is the interesting part: memchr's `FinderRev` is a plain Two-Way search
//! with no prefilter, many times slower than the forward search on text. Instead, [`rfind`] walks
//! the haystack backwards in windows and runs the *forward* finder (prefilter and all) on
//! each window; the first window (from the end) that holds a match holds the last match.
//! Windows start small, so a needle near the end is found after touching a few KiB, and
//! grow to [`MAX_WINDOW`], so the per-window overhead vanishes on long scans.
//!
//! Both directions split long haystacks between threads ([`Plan`]): a scan of a big warm map
//! is bound by how fast one core reads memory, not by the machine's memory bandwidth, so
//! more cores read faster; on a cold map, more threads keep more reads in flight. The
//! measurements behind the thresholds belong to one machine and are kept with the
//! benchmarks (`benches/results/doc-figures.md`, BENCHMARKS.md), not here.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use memchr::memmem::{self, Finder};

/// Start positions covered by the first reverse window (the last ones of the haystack).
const FIRST_WINDOW: usize = 16 * 1024;
/// Start positions covered by a reverse window once it has grown.
const MAX_WINDOW: usize = 1024 * 1024;
/// Below this many bytes, `FinderRev` costs less than building a forward `Finder`.
const SMALL_HAYSTACK: usize = 256;
/// Forward probes for a later match in the winning window before `FinderRev` takes over:
/// a needle that matches densely (say `b"ab"` in `ababab…`) would otherwise cost one
/// finder call per match; `FinderRev` is linear-time whatever the data.
const FORWARD_PROBES: usize = 8;

/// How `find` and `rfind` split long searches between threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Haystacks shorter than this are searched on the calling thread only: starting a
    /// thread costs a fixed time, which a short scan does not earn back.
    pub min_len: usize,
    /// Start positions searched alone first, from the end the search starts at: most
    /// searches end early, and those should not pay for a thread.
    pub head: usize,
    /// Start positions per piece; a thread checks between pieces whether a thread with a
    /// better-placed part has found a match already, which makes its own part moot.
    pub piece: usize,
    /// Threads, the calling one included.
    pub threads: usize,
}

impl Plan {
    /// The plan for a map: at most `limit` threads (the map's `search_threads` option),
    /// else one per available core, at most four: long scans are bound by how fast each
    /// core reads memory, so threads beyond the cores would only wait.
    pub(crate) fn with_limit(limit: Option<NonZeroUsize>) -> Self {
        static THREADS: OnceLock<usize> = OnceLock::new();
        let threads = limit.map_or_else(
            || {
                *THREADS.get_or_init(|| {
                    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
                })
            },
            NonZeroUsize::get,
        );
        Plan {
            min_len: 64 << 20,
            head: 8 << 20,
            piece: 4 << 20,
            threads,
        }
    }
}

/// The first index of `needle` in `haystack`; an empty needle is found at 0.
///
/// Haystacks of 64 MiB and more are searched by up to `plan.threads` threads once the first
/// 8 MiB hold no match (see [`Plan`]).
#[cfg(test)]
pub(crate) fn find_with(haystack: &[u8], needle: &[u8], plan: Plan) -> Option<usize> {
    find_reporting(haystack, needle, plan, &|_| {})
}

/// Tells how many start positions a search has done so far, all threads together; see
/// [`find_reporting`].
pub(crate) type Searched<'p> = &'p (dyn Fn(usize) + Sync);

/// [`find_with`], calling `searched` with the start positions searched so far, from the
/// searching threads, after the head and after each piece of a threaded search (a search
/// on the calling thread alone reports nothing). Calls from different threads may arrive
/// out of order.
pub(crate) fn find_reporting(
    haystack: &[u8],
    needle: &[u8],
    plan: Plan,
    searched: Searched<'_>,
) -> Option<usize> {
    let m = needle.len();
    if plan.threads < 2 || m == 0 || haystack.len() < plan.min_len {
        return memmem::find(haystack, needle);
    }
    let finder = Finder::new(needle);
    let positions = haystack.len().checked_sub(m)? + 1;
    let search = |lo: usize, hi: usize| finder.find(&haystack[lo..hi + m - 1]).map(|i| lo + i);
    let head = plan.head.min(positions);
    if let Some(found) = search(0, head) {
        return Some(found);
    }
    searched(head);
    parallel(head..positions, plan, false, &search, head, searched)
}

/// The last index of `needle` in `haystack`; an empty needle is found at `haystack.len()`.
///
/// Long haystacks are split between threads as in [`find_with`].
#[cfg(test)]
pub(crate) fn rfind_with(haystack: &[u8], needle: &[u8], plan: Plan) -> Option<usize> {
    rfind_reporting(haystack, needle, plan, &|_| {})
}

/// [`rfind_with`], reporting as [`find_reporting`] does.
pub(crate) fn rfind_reporting(
    haystack: &[u8],
    needle: &[u8],
    plan: Plan,
    searched: Searched<'_>,
) -> Option<usize> {
    match needle.len() {
        0 => Some(haystack.len()),
        // memrchr has its own SIMD loop, and a single byte cannot straddle windows.
        1 => memchr::memrchr(needle[0], haystack),
        m if m > haystack.len() => None,
        _ if haystack.len() < SMALL_HAYSTACK => memmem::rfind(haystack, needle),
        m => {
            let finder = Finder::new(needle);
            // The last match starting in `lo..hi`, searched in windows from `first` wide.
            let search = |lo: usize, hi: usize, first: usize| {
                rfind_windows(
                    &finder,
                    &haystack[lo..hi + m - 1],
                    first,
                    first.max(MAX_WINDOW),
                )
                .map(|i| lo + i)
            };
            let positions = haystack.len() - m + 1;
            if plan.threads < 2 || haystack.len() < plan.min_len {
                return search(0, positions, FIRST_WINDOW);
            }
            let head = positions - plan.head.min(positions);
            if let Some(found) = search(head, positions, FIRST_WINDOW) {
                return Some(found);
            }
            searched(positions - head);
            // Past the head a match is no longer expected soon: each piece is one window,
            // searched forwards in one pass like `find` does, without the growing windows
            // that find a match near the end quickly (each window is a jump backwards that
            // the prefetcher must follow, which made a long rfind measurably slower than
            // find).
            let piece = |lo, hi| search(lo, hi, hi - lo);
            parallel(0..head, plan, true, &piece, positions - head, searched)
        }
    }
}

/// Searches the start positions `range` split into `plan.threads` contiguous parts, one
/// thread each, and returns what the best-placed part with a match found: the lowest part
/// for a forward search, the highest for a `reverse` one. `search(lo, hi)` finds the first
/// (or, reversed, the last) match starting in `lo..hi`. After each piece without a match,
/// `searched` gets the positions searched so far, `already` (searched before) included.
///
/// Each part is searched in pieces of `plan.piece` positions, in the search's direction;
/// before each piece a thread checks `best`, the rank of the best-placed part that has a
/// match so far, and gives up when that part outranks its own. Parts ranked above the winner
/// never give up, so the winner's match is the first (or last) in the range.
fn parallel(
    range: std::ops::Range<usize>,
    plan: Plan,
    reverse: bool,
    search: &(dyn Fn(usize, usize) -> Option<usize> + Sync),
    already: usize,
    searched: Searched<'_>,
) -> Option<usize> {
    // The running total for `searched`, from the positions searched before (the head).
    let total = AtomicUsize::new(already);
    let parts = plan.threads.max(1);
    let part_len = range.len().div_ceil(parts).max(1);
    let piece = plan.piece.max(1);
    // Rank 0 is the part searched first: the lowest one forward, the highest reversed.
    let best = AtomicUsize::new(usize::MAX);
    let search_part = |rank: usize| -> Option<usize> {
        let (from, to) = (rank * part_len, ((rank + 1) * part_len).min(range.len()));
        if from >= to {
            return None;
        }
        let (lo, hi) = if reverse {
            (range.end - to, range.end - from)
        } else {
            (range.start + from, range.start + to)
        };
        let mut done = 0;
        while done < hi - lo {
            if best.load(Ordering::Relaxed) < rank {
                return None;
            }
            let step = piece.min(hi - lo - done);
            let (a, b) = if reverse {
                (hi - done - step, hi - done)
            } else {
                (lo + done, lo + done + step)
            };
            if let Some(found) = search(a, b) {
                best.fetch_min(rank, Ordering::Relaxed);
                return Some(found);
            }
            searched(total.fetch_add(step, Ordering::Relaxed) + step);
            done += step;
        }
        None
    };
    let search_part = &search_part;
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..parts)
            .map(|rank| {
                std::thread::Builder::new()
                    .name("mmapfile-search".into())
                    .spawn_scoped(scope, move || search_part(rank))
                    // No thread to be had: search that part here, after our own.
                    .map_err(|_| rank)
            })
            .collect();
        let mut found = vec![search_part(0)];
        for helper in helpers {
            found.push(match helper {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(rank) => search_part(rank),
            });
        }
        found.into_iter().flatten().next()
    })
}

/// Reverse search by forward-searching windows taken from the end.
///
/// A window covers the start positions `lo..hi` and so the bytes `lo..hi + m - 1`: every
/// match starting in `lo..hi` lies inside it, whatever straddles `hi` included, and no start
/// position is covered twice. `first` and `max` are window widths in start positions
/// (tests pass tiny ones to exercise many windows on small inputs).
pub(crate) fn rfind_windows(
    finder: &Finder<'_>,
    haystack: &[u8],
    first: usize,
    max: usize,
) -> Option<usize> {
    let m = finder.needle().len();
    if m == 0 {
        return Some(haystack.len());
    }
    // Start positions 0..=len-m exist; `hi` is one past the highest not yet searched.
    let mut hi = haystack.len().checked_sub(m)? + 1;
    let mut width = first.max(1);
    while hi > 0 {
        let lo = hi.saturating_sub(width);
        let window = &haystack[lo..hi + m - 1];
        if let Some(first_match) = finder.find(window) {
            return Some(lo + last_in_window(finder, window, first_match));
        }
        hi = lo;
        width = width.saturating_mul(2).min(max.max(1));
    }
    None
}

/// The last match in `window`, given that `first_match` is one.
fn last_in_window(finder: &Finder<'_>, window: &[u8], first_match: usize) -> usize {
    let mut last = first_match;
    for _ in 0..FORWARD_PROBES {
        match finder.find(&window[last + 1..]) {
            Some(next) => last += 1 + next,
            None => return last,
        }
    }
    // Dense matches: finish with the linear-time reverse searcher on what is left.
    memmem::rfind(&window[last + 1..], finder.needle()).map_or(last, |next| last + 1 + next)
}

/// The number of non-overlapping occurrences, left to right, as Python's `bytes.count`
/// counts them: `b"aaaa"` holds `b"aa"` twice, and an empty needle is found
/// `haystack.len() + 1` times (before every byte and at the end).
pub(crate) fn count(haystack: &[u8], needle: &[u8]) -> usize {
    match needle.len() {
        0 => haystack.len() + 1,
        1 => memchr::memchr_iter(needle[0], haystack).count(),
        _ => Finder::new(needle).find_iter(haystack).count(),
    }
}

/// Appends to `out` the non-overlapping matches of `finder` at or after `pos`, stopping after
/// `limit` of them, and returns where the next search starts (`haystack.len() + 1` once the
/// end has been searched). Matches and restarts follow [`count`]: after a match at `i`, the
/// search resumes at `i + max(1, needle.len())`.
pub(crate) fn find_batch(
    finder: &Finder<'_>,
    haystack: &[u8],
    pos: usize,
    out: &mut Vec<usize>,
    limit: usize,
) -> usize {
    let Some(rest) = haystack.get(pos..) else {
        return haystack.len() + 1;
    };
    let step = finder.needle().len().max(1);
    let mut appended = 0;
    let mut next = haystack.len() + 1;
    for found in finder.find_iter(rest).take(limit) {
        out.push(pos + found);
        appended += 1;
        next = pos + found + step;
    }
    if appended < limit {
        // Fewer than asked for: the rest of the haystack holds no more.
        next = haystack.len() + 1;
    }
    next
}

/// Appends to `out` the ends (exclusive, after the `\n`) of up to `limit` lines that start
/// at or after `pos`, and returns the start of the first line not reported. A last line
/// without `\n` ends at `haystack.len()`.
pub(crate) fn line_ends(haystack: &[u8], pos: usize, out: &mut Vec<usize>, limit: usize) -> usize {
    let Some(rest) = haystack.get(pos..) else {
        return haystack.len();
    };
    let before = out.len();
    let next = push_newline_ends(rest, pos, out, limit);
    if out.len() - before < limit && next < haystack.len() {
        out.push(haystack.len());
        return haystack.len();
    }
    next
}

/// Pushes `offset + i + 1` for each `\n` at index `i` of `hay`, at most `limit` of them, and
/// returns the position after the last one pushed (`offset` if none).
///
/// Lines average ~140 bytes in text, so a `memchr` call per line spends much of its time
/// starting up; instead each 64-byte block becomes a bit mask of its newlines (four SSE2
/// compares), and the set bits are walked, which measured faster than `memchr_iter` at that
/// line length, and faster still with [`prefetch_ahead`] (figures in
/// `benches/results/doc-figures.md`).
fn push_newline_ends(hay: &[u8], offset: usize, out: &mut Vec<usize>, limit: usize) -> usize {
    let mut next = offset;
    let mut left = limit;
    if left == 0 {
        return next;
    }
    let mut base = 0;
    for block in hay.chunks_exact(64) {
        let Ok(block) = <&[u8; 64]>::try_from(block) else {
            break;
        };
        prefetch_ahead(block);
        let mut mask = newline_mask(block);
        while mask != 0 {
            next = offset + base + mask.trailing_zeros() as usize + 1;
            out.push(next);
            left -= 1;
            if left == 0 {
                return next;
            }
            mask &= mask - 1;
        }
        base += 64;
    }
    for newline in memchr::memchr_iter(b'\n', &hay[base..]).take(left) {
        next = offset + base + newline + 1;
        out.push(next);
    }
    next
}

/// How far ahead of the block being scanned [`prefetch_ahead`] asks for memory. A cold
/// line of a big map is a cache miss, and the hardware prefetcher stops at every 4 KiB page
/// edge; asking for the line 8 KiB ahead keeps the misses in flight across page edges.
/// Distances from 4 to 16 KiB did equally well when measured; 8 KiB is in the middle.
#[cfg(target_arch = "x86_64")]
const PREFETCH_DISTANCE: usize = 8192;

/// Hints the CPU to fetch the cache line `PREFETCH_DISTANCE` bytes past `block`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn prefetch_ahead(block: &[u8; 64]) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    let ahead = block.as_ptr().wrapping_add(PREFETCH_DISTANCE);
    // SAFETY: a prefetch is only a hint: it never faults and is not a memory access in
    // Rust's sense, so an address past the end of the slice (or of the mapping) is fine;
    // `wrapping_add` keeps the address computation itself defined. SSE is part of the
    // x86_64 baseline.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead.cast::<i8>()) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn prefetch_ahead(_block: &[u8; 64]) {}

/// Bit `i` is set when `block[i]` is `\n`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn newline_mask(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::_mm_set1_epi8;
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8};
    let lanes = |at: usize| -> u64 {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these instructions always exist;
        // the unaligned load reads the 16 bytes `block[at..at + 16]`, in bounds for every
        // `at` passed below (0, 16, 32, 48).
        let bits = unsafe {
            let bytes = _mm_loadu_si128(block.as_ptr().add(at).cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8)))
        };
        // movemask sets only the low 16 bits.
        u64::from(bits as u16)
    };
    lanes(0) | lanes(16) << 16 | lanes(32) << 32 | lanes(48) << 48
}

/// Bit `i` is set when `block[i]` is `\n` (portable fallback).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn newline_mask(block: &[u8; 64]) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0, |mask, (i, &byte)| mask | (u64::from(byte == b'\n') << i))
}

/// Appends to `out` up to `limit` successive non-overlapping matches of `re`, continuing an
/// iteration whose next search starts at `pos` and whose last match ended at `last_end`.
///
/// This is the rule `regex::bytes::Regex::find_iter` follows (regex-automata's `Searcher`):
/// search from `pos`; if the match found is empty and ends where the previous match ended,
/// search again one byte further. Byte regexes allow empty matches inside UTF-8 sequences, so
/// no other adjustment applies. Returns the new `(pos, last_end)`; `pos > haystack.len()`
/// once the iteration is over.
pub(crate) fn regex_batch(
    re: &regex::bytes::Regex,
    haystack: &[u8],
    mut pos: usize,
    mut last_end: Option<usize>,
    out: &mut Vec<(usize, usize)>,
    limit: usize,
) -> (usize, Option<usize>) {
    let done = haystack.len() + 1;
    for _ in 0..limit {
        if pos > haystack.len() {
            return (done, last_end);
        }
        let Some(mut found) = re.find_at(haystack, pos) else {
            return (done, last_end);
        };
        if found.is_empty() && Some(found.end()) == last_end {
            if pos + 1 > haystack.len() {
                return (done, last_end);
            }
            match re.find_at(haystack, pos + 1) {
                Some(again) => found = again,
                None => return (done, last_end),
            }
        }
        out.push((found.start(), found.end()));
        pos = found.end();
        last_end = Some(found.end());
    }
    (pos, last_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        find_with(haystack, needle, Plan::with_limit(None))
    }

    #[test]
    fn a_thread_limit_sets_the_plan() {
        assert_eq!(Plan::with_limit(NonZeroUsize::new(1)).threads, 1);
        assert_eq!(Plan::with_limit(NonZeroUsize::new(7)).threads, 7);
        assert!((1..=4).contains(&Plan::with_limit(None).threads));
    }

    fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        rfind_with(haystack, needle, Plan::with_limit(None))
    }
    use proptest::prelude::*;

    /// The definition: the greatest `i` with `haystack[i..i + m] == needle`.
    fn naive_rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        if needle.len() > haystack.len() {
            return None;
        }
        (0..=haystack.len() - needle.len())
            .rev()
            .find(|&i| &haystack[i..i + needle.len()] == needle)
    }

    fn naive_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        if needle.len() > haystack.len() {
            return None;
        }
        (0..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
    }

    /// Python's `bytes.count`: scan left to right, skip past each match.
    fn naive_matches(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
        let mut found = Vec::new();
        let mut i = 0;
        while i + needle.len() <= haystack.len() {
            if &haystack[i..i + needle.len()] == needle {
                found.push(i);
                i += needle.len().max(1);
            } else {
                i += 1;
            }
        }
        found
    }

    /// Small alphabets make matches, near misses and overlaps common.
    fn bytes_over(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(alphabet), 0..max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn find_and_rfind_match_the_definition(
            haystack in bytes_over(b"ab\n", 600),
            needle in bytes_over(b"ab\n", 5),
        ) {
            prop_assert_eq!(find(&haystack, &needle), naive_find(&haystack, &needle));
            prop_assert_eq!(rfind(&haystack, &needle), naive_rfind(&haystack, &needle));
        }

        #[test]
        fn windowed_rfind_matches_the_definition_for_any_window(
            haystack in bytes_over(b"abc", 300),
            needle in bytes_over(b"abc", 6),
            first in 1usize..40,
            max in 1usize..80,
        ) {
            prop_assert_eq!(
                rfind_windows(&Finder::new(&needle), &haystack, first, max),
                naive_rfind(&haystack, &needle)
            );
        }

        #[test]
        fn windowed_rfind_handles_dense_matches(
            period in 1usize..4,
            repeats in 0usize..200,
            needle_periods in 1usize..5,
            first in 1usize..64,
        ) {
            // Periodic text and a periodic needle: every window holds many overlapping
            // matches, which drives `last_in_window` past its forward probes.
            let unit = &b"aab"[..period.min(3)];
            let haystack = unit.repeat(repeats);
            let needle = unit.repeat(needle_periods);
            prop_assert_eq!(
                rfind_windows(&Finder::new(&needle), &haystack, first, 1 << 20),
                naive_rfind(&haystack, &needle)
            );
        }

        #[test]
        fn threaded_find_and_rfind_match_the_definition(
            haystack in bytes_over(b"abc", 900),
            needle in bytes_over(b"abc", 5),
            head in 0usize..40,
            piece in 1usize..30,
            threads in 2usize..5,
        ) {
            // Tiny thresholds put every haystack through the threaded path.
            let plan = Plan { min_len: 0, head, piece, threads };
            prop_assert_eq!(find_with(&haystack, &needle, plan), naive_find(&haystack, &needle));
            prop_assert_eq!(rfind_with(&haystack, &needle, plan), naive_rfind(&haystack, &needle));
        }

        #[test]
        fn count_and_batches_match_python_count(
            haystack in bytes_over(b"ab", 300),
            needle in bytes_over(b"ab", 4),
            limit in 1usize..7,
        ) {
            let expected = naive_matches(&haystack, &needle);
            let expected_count = if needle.is_empty() { haystack.len() + 1 } else { expected.len() };
            prop_assert_eq!(count(&haystack, &needle), expected_count);

            let finder = Finder::new(&needle);
            let mut found = Vec::new();
            let mut pos = 0;
            while pos <= haystack.len() {
                pos = find_batch(&finder, &haystack, pos, &mut found, limit);
            }
            if needle.is_empty() {
                prop_assert_eq!(found, (0..=haystack.len()).collect::<Vec<_>>());
            } else {
                prop_assert_eq!(found, expected);
            }
        }

        #[test]
        fn line_batches_split_like_readline(
            haystack in bytes_over(b"a\n", 200),
            limit in 1usize..6,
        ) {
            let mut ends = Vec::new();
            let mut pos = 0;
            while pos < haystack.len() {
                pos = line_ends(&haystack, pos, &mut ends, limit);
            }
            let mut expected = Vec::new();
            let mut start = 0;
            while start < haystack.len() {
                let end = haystack[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(haystack.len(), |i| start + i + 1);
                expected.push(end);
                start = end;
            }
            prop_assert_eq!(ends, expected);
        }

        #[test]
        fn regex_batches_match_regex_find_iter(
            haystack in bytes_over(b"ab.\n", 120),
            pattern in prop::sample::select(vec![
                "a", "a*", "b?", "", "(?m)^", "(?m)$", r"\b", "a|ab", "[ab]+", r"\.", "(?s).",
                "a*?", r"(?-u:\W)",
            ]),
            limit in 1usize..5,
        ) {
            let re = regex::bytes::Regex::new(pattern).unwrap();
            let expected: Vec<(usize, usize)> =
                re.find_iter(&haystack).map(|m| (m.start(), m.end())).collect();
            let mut found = Vec::new();
            let (mut pos, mut last_end) = (0, None);
            while pos <= haystack.len() {
                (pos, last_end) =
                    regex_batch(&re, &haystack, pos, last_end, &mut found, limit);
            }
            prop_assert_eq!(found, expected);
        }
    }

    #[test]
    fn threaded_searches_report_every_position_searched() {
        let haystack = b"abcd".repeat(250);
        let plan = Plan {
            min_len: 0,
            head: 10,
            piece: 7,
            threads: 3,
        };
        let positions = haystack.len() - 2 + 1;
        for reverse in [false, true] {
            let seen = std::sync::Mutex::new(Vec::new());
            let report = |done: usize| seen.lock().unwrap().push(done);
            let found = if reverse {
                rfind_reporting(&haystack, b"zz", plan, &report)
            } else {
                find_reporting(&haystack, b"zz", plan, &report)
            };
            assert_eq!(found, None);
            let seen = seen.into_inner().unwrap();
            assert_eq!(seen.iter().max(), Some(&positions), "reverse {reverse}");
            assert!(seen.iter().all(|&done| done <= positions));
            // The head, then one call per piece of each thread's part.
            assert!(seen.len() > (positions - 10) / 7, "{}", seen.len());
        }
    }

    #[test]
    fn edge_cases() {
        assert_eq!(rfind(b"", b""), Some(0));
        assert_eq!(rfind(b"abc", b""), Some(3));
        assert_eq!(rfind(b"ab", b"abc"), None);
        assert_eq!(rfind(b"", b"a"), None);
        assert_eq!(count(b"", b""), 1);
        assert_eq!(count(b"aaaa", b"aa"), 2);
        // Long enough to take the windowed path, with the match straddling window edges.
        let mut hay = vec![b'x'; 100_000];
        hay[FIRST_WINDOW - 2..FIRST_WINDOW + 3].copy_from_slice(b"hello");
        hay[5..10].copy_from_slice(b"hello");
        assert_eq!(rfind(&hay, b"hello"), Some(FIRST_WINDOW - 2));
        assert_eq!(rfind(&hay[..FIRST_WINDOW + 2], b"hello"), Some(5));
    }
}
