//! Walking every occurrence of a needle through a range of a map with several threads:
//! [`DynMmap::walk_in`], and the threaded path of [`DynMmap::count_in`].
//!
//! The range is cut into pieces of [`Plan::piece`] start positions. Worker threads take the
//! pieces in order, each collecting every occurrence that starts in its piece (overlapping
//! ones included) under the fault guard; the calling thread takes the pieces' results back in
//! order, picks the non-overlapping occurrences in the walk's direction, and hands them to
//! the caller's visitor. Workers stay at most a few pieces ahead of the calling thread, so a
//! walk holds a bounded amount of results whatever the file's size, and a visitor that stops
//! early stops the workers too.

use std::collections::BTreeMap;
use std::io;
use std::ops::{ControlFlow, Range, RangeBounds};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use memchr::memmem::Finder;

use crate::search::Plan;
use crate::DynMmap;

/// Pieces each worker may run ahead of the calling thread.
const AHEAD_PER_THREAD: usize = 2;

/// What a walk reports to its visitor; see [`DynMmap::walk_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkStep {
    /// An occurrence starts at this offset in the map.
    Found(usize),
    /// This many bytes of the range have been searched (counted from the end the walk
    /// started at); every occurrence in them has been reported. Comes after each piece, and
    /// once with the range's whole length at the end of a walk that was not stopped.
    Progress(usize),
}

impl DynMmap {
    /// Walks the non-overlapping occurrences of `needle` in `range` (read like a Python
    /// slice, as in [`count_in`](Self::count_in)), calling `visit` with each one in order and
    /// with the progress made, until `visit` returns [`ControlFlow::Break`] or the range is
    /// done.
    ///
    /// Forwards (`reverse` false) the walk reports exactly what
    /// [`find_iter_in`](Self::find_iter_in) yields: each occurrence starts at or after the
    /// end of the previous one, as Python's `count` and `replace` count them. Backwards it
    /// reports the last occurrence, then the last one that ends at or before its start, and
    /// so on, as repeated [`rfind_in`](Self::rfind_in) calls would; for a needle that overlaps
    /// itself (`b"aa"` in `b"aaa"`) the two directions pick different occurrences. An empty
    /// needle occurs at every offset of the range, its end included.
    ///
    /// Long ranges are searched by up to [`search_threads`](crate::MmapOptions::search_threads)
    /// threads (one per available core, at most four, by default), as `find_in` searches
    /// them, while `visit` always runs on the calling thread; a walk over a short range, or
    /// with one thread allowed, runs on the calling thread only. Each piece is searched
    /// under the fault guard and reported only once it is known intact: a file truncated
    /// under the walk ends it with the truncation error, after the occurrences found before
    /// the vanished part.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use mmapfile::{Access, MmapOptions, WalkStep};
    /// let mut map = MmapOptions::new().len(11).map_anon_dyn(Access::Write)?;
    /// map.write(b"abc abc abc")?;
    /// let mut found = Vec::new();
    /// map.walk_in(b"abc", 1.., true, |step| {
    ///     if let WalkStep::Found(at) = step {
    ///         found.push(at);
    ///     }
    ///     ControlFlow::Continue(())
    /// })?;
    /// assert_eq!(found, [8, 4]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn walk_in(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
        reverse: bool,
        mut visit: impl FnMut(WalkStep) -> ControlFlow<()>,
    ) -> io::Result<()> {
        let Some(range) = self.slice_range(range) else {
            return Ok(());
        };
        if needle.is_empty() {
            for k in 0..=range.len() {
                let at = if reverse {
                    range.end - k
                } else {
                    range.start + k
                };
                if visit(WalkStep::Found(at)).is_break() {
                    return Ok(());
                }
            }
            let _ = visit(WalkStep::Progress(range.len()));
            return Ok(());
        }
        self.walk_with(
            needle,
            range,
            reverse,
            Plan::with_limit(self.search_threads),
            visit,
        )
    }

    /// [`walk_in`](Self::walk_in) over a resolved, non-empty-needle `range`, by `plan`.
    fn walk_with(
        &self,
        needle: &[u8],
        range: Range<usize>,
        reverse: bool,
        plan: Plan,
        mut visit: impl FnMut(WalkStep) -> ControlFlow<()>,
    ) -> io::Result<()> {
        let pieces = Pieces::new(range, needle.len(), reverse, plan);
        Walker::new(self, needle, pieces).run(plan, &mut visit)
    }

    /// [`count_in`](Self::count_in) by a threaded walk, when the range is long enough for
    /// threads to pay (`None` otherwise).
    pub(crate) fn count_threaded(
        &self,
        needle: &[u8],
        range: Range<usize>,
    ) -> Option<io::Result<usize>> {
        let plan = Plan::with_limit(self.search_threads);
        if plan.threads < 2 || needle.is_empty() || range.len() < plan.min_len {
            return None;
        }
        let mut count = 0;
        let walked = self.walk_in(needle, range, false, |step| {
            count += usize::from(matches!(step, WalkStep::Found(_)));
            ControlFlow::Continue(())
        });
        Some(walked.map(|()| count))
    }
}

/// The pieces of a walk's range, numbered in the walk's direction.
#[derive(Debug, Clone)]
struct Pieces {
    range: Range<usize>,
    needle_len: usize,
    reverse: bool,
    /// Start positions per piece.
    piece: usize,
    /// Start positions in the range: `range.len() - needle_len + 1`, or 0.
    positions: usize,
}

impl Pieces {
    fn new(range: Range<usize>, needle_len: usize, reverse: bool, plan: Plan) -> Self {
        let positions = (range.len() + 1).saturating_sub(needle_len);
        Pieces {
            range,
            needle_len,
            reverse,
            piece: plan.piece.max(1),
            positions,
        }
    }

    fn count(&self) -> usize {
        self.positions.div_ceil(self.piece)
    }

    /// The start positions of piece `i`, as offsets in the map.
    fn starts(&self, i: usize) -> Range<usize> {
        let from = i * self.piece;
        let to = (from + self.piece).min(self.positions);
        if self.reverse {
            self.range.start + self.positions - to..self.range.start + self.positions - from
        } else {
            self.range.start + from..self.range.start + to
        }
    }

    /// Bytes of the range done once pieces `0..=i` are.
    fn done_after(&self, i: usize) -> usize {
        if i + 1 == self.count() {
            self.range.len()
        } else {
            (i + 1) * self.piece
        }
    }
}

/// Every occurrence of `finder`'s needle starting in `starts`, relative to `starts.start`,
/// overlapping ones included; `hay` is the map's bytes `starts.start..` (at least up to
/// `starts.end + m - 1`).
fn occurrences(finder: &Finder<'_>, self_overlapping: bool, hay: &[u8], count: usize) -> Vec<u32> {
    let m = finder.needle().len();
    let hay = &hay[..count + m - 1];
    let step = if self_overlapping { 1 } else { m };
    let mut found = Vec::new();
    let mut pos = 0;
    while let Some(i) = finder.find(&hay[pos..]) {
        // `count` is at most a piece, which `Plan` keeps far below 4 GiB.
        found.push((pos + i) as u32);
        pos += i + step;
        if pos >= count {
            break;
        }
    }
    found
}

/// Whether a match of `needle` can start inside another one (it has a proper prefix that
/// is also a suffix), found with the failure function of Knuth-Morris-Pratt in linear time.
fn overlaps_itself(needle: &[u8]) -> bool {
    let mut border = vec![0usize; needle.len()];
    let mut k = 0;
    for i in 1..needle.len() {
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

/// The shared state of a threaded walk.
struct Shared {
    /// The next piece a worker may take.
    next: usize,
    /// Pieces the calling thread has taken back.
    delivered: usize,
    /// Set when the walk is over early (visitor stop, error, panic): workers quit.
    stop: bool,
    /// Results waiting to be taken back, by piece; `Err` holds a worker's panic.
    done: BTreeMap<usize, std::thread::Result<io::Result<Vec<u32>>>>,
}

struct Walker<'a> {
    map: &'a DynMmap,
    finder: Finder<'a>,
    self_overlapping: bool,
    pieces: Pieces,
}

impl<'a> Walker<'a> {
    fn new(map: &'a DynMmap, needle: &'a [u8], pieces: Pieces) -> Self {
        Walker {
            map,
            finder: Finder::new(needle),
            self_overlapping: overlaps_itself(needle),
            pieces,
        }
    }

    /// The occurrences starting in piece `i`, as offsets in the map, searched under the
    /// guard.
    fn search(&self, i: usize) -> io::Result<Vec<u32>> {
        let starts = self.pieces.starts(i);
        let bytes = starts.start..starts.end + self.pieces.needle_len - 1;
        self.map.load(bytes, |hay| {
            occurrences(&self.finder, self.self_overlapping, hay, starts.len())
        })
    }

    fn run(
        &self,
        plan: Plan,
        visit: &mut dyn FnMut(WalkStep) -> ControlFlow<()>,
    ) -> io::Result<()> {
        let count = self.pieces.count();
        let mut pick = Picker::new(&self.pieces);
        if plan.threads < 2 || self.pieces.range.len() < plan.min_len || count < 2 {
            for i in 0..count {
                let found = self.search(i)?;
                if pick.piece(i, &found, visit).is_break() {
                    return Ok(());
                }
            }
            let _ = visit(WalkStep::Progress(self.pieces.range.len()));
            return Ok(());
        }
        let shared = Mutex::new(Shared {
            next: 0,
            delivered: 0,
            stop: false,
            done: BTreeMap::new(),
        });
        let (work, ready) = (Condvar::new(), Condvar::new());
        let ahead = plan.threads * AHEAD_PER_THREAD;
        let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
        let worker = || loop {
            let i = {
                let mut state = lock();
                while !state.stop && state.next < count && state.next >= state.delivered + ahead {
                    state = wait(&work, state);
                }
                if state.stop || state.next >= count {
                    return;
                }
                state.next += 1;
                state.next - 1
            };
            let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.search(i)));
            lock().done.insert(i, found);
            ready.notify_one();
        };
        let stop = || {
            lock().stop = true;
            work.notify_all();
        };
        std::thread::scope(|scope| {
            let mut spawned = 0;
            for _ in 0..plan.threads.min(count) {
                let started = std::thread::Builder::new()
                    .name("mmapfile-walk".into())
                    .spawn_scoped(scope, worker);
                spawned += usize::from(started.is_ok());
            }
            for i in 0..count {
                let found = if spawned == 0 {
                    // No thread to be had: search here.
                    Ok(self.search(i))
                } else {
                    let mut state = lock();
                    let found = loop {
                        if let Some(found) = state.done.remove(&i) {
                            break found;
                        }
                        state = wait(&ready, state);
                    };
                    state.delivered = i + 1;
                    drop(state);
                    work.notify_all();
                    found
                };
                let found = match found {
                    Ok(Ok(found)) => found,
                    Ok(Err(err)) => {
                        stop();
                        return Err(err);
                    }
                    Err(panic) => {
                        stop();
                        std::panic::resume_unwind(panic)
                    }
                };
                if pick.piece(i, &found, visit).is_break() {
                    stop();
                    return Ok(());
                }
            }
            let _ = visit(WalkStep::Progress(self.pieces.range.len()));
            Ok(())
        })
    }
}

fn wait<'m>(condvar: &Condvar, guard: MutexGuard<'m, Shared>) -> MutexGuard<'m, Shared> {
    condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// Picks the non-overlapping occurrences out of each piece's list, in the walk's direction.
struct Picker<'p> {
    pieces: &'p Pieces,
    /// Forwards: occurrences must start at or after this offset. Backwards: they must end
    /// at or before it.
    limit: usize,
}

impl<'p> Picker<'p> {
    fn new(pieces: &'p Pieces) -> Self {
        let limit = if pieces.reverse {
            pieces.range.end
        } else {
            pieces.range.start
        };
        Picker { pieces, limit }
    }

    /// Reports the occurrences of piece `i` (all of them, relative to the piece's first start
    /// position, ascending), then the progress.
    fn piece(
        &mut self,
        i: usize,
        found: &[u32],
        visit: &mut dyn FnMut(WalkStep) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let base = self.pieces.starts(i).start;
        let m = self.pieces.needle_len;
        if self.pieces.reverse {
            for &at in found.iter().rev() {
                let at = base + at as usize;
                if at + m <= self.limit {
                    self.limit = at;
                    visit(WalkStep::Found(at))?;
                }
            }
        } else {
            for &at in found {
                let at = base + at as usize;
                if at >= self.limit {
                    self.limit = at + m;
                    visit(WalkStep::Found(at))?;
                }
            }
        }
        visit(WalkStep::Progress(self.pieces.done_after(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Access, MmapOptions};
    use proptest::prelude::*;

    fn map_of(bytes: &[u8]) -> DynMmap {
        let mut map = MmapOptions::new()
            .len(bytes.len().max(1))
            .map_anon_dyn(Access::Write)
            .unwrap();
        map.write_at(0, bytes).unwrap();
        map
    }

    /// The walk as repeated `find`/`rfind` over a slice would do it.
    fn naive(hay: &[u8], needle: &[u8], range: Range<usize>, reverse: bool) -> Vec<usize> {
        let m = needle.len();
        let at = |i: usize| hay[i..].starts_with(needle) && i + m <= range.end;
        let mut found = Vec::new();
        if reverse {
            let mut hi = range.end;
            while let Some(i) = (range.start..(hi + 1).saturating_sub(m))
                .rev()
                .find(|&i| at(i))
            {
                found.push(i);
                hi = i;
            }
        } else {
            let mut lo = range.start;
            while let Some(i) = (lo..range.end).find(|&i| at(i)) {
                found.push(i);
                lo = i + m;
            }
        }
        found
    }

    /// What a walk reports: the occurrences, and the progress steps in order.
    fn walk(
        map: &DynMmap,
        needle: &[u8],
        range: Range<usize>,
        reverse: bool,
        plan: Plan,
    ) -> (Vec<usize>, Vec<usize>) {
        let (mut found, mut progress) = (Vec::new(), Vec::new());
        map.walk_with(needle, range, reverse, plan, |step| {
            match step {
                WalkStep::Found(at) => found.push(at),
                WalkStep::Progress(done) => progress.push(done),
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        (found, progress)
    }

    fn bytes_over(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(alphabet), 0..max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        #[test]
        fn threaded_walks_match_repeated_find_and_rfind(
            hay in bytes_over(b"ab", 300),
            needle in bytes_over(b"ab", 5).prop_filter("not empty", |n| !n.is_empty()),
            cut in (0usize..300, 0usize..300),
            piece in 1usize..40,
            threads in 1usize..4,
            reverse in any::<bool>(),
        ) {
            let map = map_of(&hay);
            let (a, b) = (cut.0.min(hay.len()), cut.1.min(hay.len()));
            let range = a.min(b)..a.max(b);
            // Tiny pieces and no minimum length put short maps through the threaded path.
            let plan = Plan { min_len: 0, head: 0, piece, threads };
            let (found, progress) = walk(&map, &needle, range.clone(), reverse, plan);
            prop_assert_eq!(found, naive(&hay, &needle, range.clone(), reverse));
            prop_assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{:?}", progress);
            prop_assert_eq!(progress.last().copied(), Some(range.len()));
        }
    }

    #[test]
    fn self_overlapping_needles_are_picked_per_direction() {
        let map = map_of(b"aaaaa");
        let plan = Plan {
            min_len: 0,
            head: 0,
            piece: 1,
            threads: 3,
        };
        assert_eq!(walk(&map, b"aa", 0..5, false, plan).0, [0, 2]);
        assert_eq!(walk(&map, b"aa", 0..5, true, plan).0, [3, 1]);
        assert!(overlaps_itself(b"abca"));
        assert!(!overlaps_itself(b"abc"));
        assert!(!overlaps_itself(b"a"));
    }

    #[test]
    fn a_visitor_that_breaks_stops_the_walk() {
        let map = map_of(&b"ab".repeat(500));
        let plan = Plan {
            min_len: 0,
            head: 0,
            piece: 7,
            threads: 2,
        };
        let mut seen = Vec::new();
        map.walk_with(b"b", 0..1000, true, plan, |step| {
            if let WalkStep::Found(at) = step {
                seen.push(at);
            }
            if seen.len() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(seen, [999, 997, 995]);
    }

    #[test]
    fn an_empty_needle_occurs_at_every_offset() {
        let map = map_of(b"abc");
        let mut found = Vec::new();
        map.walk_in(b"", 1..3, true, |step| {
            if let WalkStep::Found(at) = step {
                found.push(at);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(found, [3, 2, 1]);
    }

    #[test]
    fn threaded_count_matches_the_single_threaded_one() {
        let mut text = b"abab aab ".repeat(20_000);
        text.extend_from_slice(b"aaaa");
        let map = map_of(&text);
        let plan = Plan {
            min_len: 0,
            head: 0,
            piece: 333,
            threads: 3,
        };
        for needle in [&b"ab"[..], b"aa", b"a", b" ", b"zz"] {
            let (found, _) = walk(&map, needle, 0..text.len(), false, plan);
            assert_eq!(
                found.len(),
                crate::search::count(&text, needle),
                "{needle:?}"
            );
        }
    }
}
