//! Walking every occurrence of a needle through a range of a map with several threads:
//! [`DynMmap::walk_in`], and the walked path of [`DynMmap::count_in_reporting`] (and so of
//! [`DynMmap::count_in`]).
//!
//! The range is cut into pieces of [`Plan::piece`] start positions, and the pieces into one
//! contiguous stripe per thread, as `find_in` splits its range. Each worker thread claims a
//! stripe and searches its pieces in order, collecting every occurrence that starts in a
//! piece (overlapping ones included; for a count, only how many when the needle cannot
//! overlap itself, or when one thread searches the pieces in order, each from where the
//! last occurrence picked ended) under the fault guard; the calling thread takes the
//! pieces' results back in order, picks the non-overlapping occurrences in the walk's
//! direction, and hands them to the caller's visitor, with the progress of all the threads.
//!
//! Contiguous stripes give each thread one long sequential run, so on a cold file each
//! thread's faults drive a readahead stream of their own; threads taking turns on nearby
//! pieces measured several times as many page faults (the page cache then holds the file
//! in smaller folios). A thread pauses while the results waiting for the calling thread
//! exceed [`MAX_WAITING`] offsets, unless it holds the piece the calling thread needs next,
//! so a walk holds a bounded amount of results whatever the file; a visitor that stops
//! early stops the workers too.

use std::collections::BTreeMap;
use std::io;
use std::ops::{ControlFlow, Range, RangeBounds};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use memchr::memmem::Finder;

use crate::kind::Readable;
use crate::search::Plan;
use crate::{DynMmap, Map};

/// Occurrences (4 bytes each) the workers may leave waiting for the calling thread before
/// they pause.
const MAX_WAITING: usize = 4 << 20;

/// How a threaded walk shares out its work; tests shrink both.
#[derive(Debug, Clone, Copy)]
struct Sharing {
    /// Bytes per stripe at most (a stripe is never longer than the range's share of one
    /// thread).
    stripe_bytes: usize,
    max_waiting: usize,
}

const SHARING: Sharing = Sharing {
    stripe_bytes: usize::MAX,
    max_waiting: MAX_WAITING,
};

/// What a walk reports to its visitor; see [`DynMmap::walk_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkStep {
    /// An occurrence starts at this offset in the map.
    Found(usize),
    /// This many bytes of the range have been searched so far, by all the walk's threads
    /// together (not necessarily a prefix of the range: threads search parts of their own).
    /// Never decreases; comes once with the range's whole length at the end of a walk that
    /// was not stopped.
    Progress(usize),
}

impl<K: Readable> Map<K> {
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
    /// Long ranges (64 MiB and more) are split between up to
    /// [`search_threads`](crate::MmapOptions::search_threads) threads (one per available
    /// core, at most four, by default), one contiguous part each, as `find_in` splits them,
    /// while `visit` always runs on the calling thread; a walk over a short range, or with
    /// one thread allowed, runs on the calling thread only. Each piece is searched under the
    /// fault guard and reported only once it is known intact: a file truncated under the
    /// walk ends it with the truncation error, after the occurrences found before the
    /// vanished part.
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
        let plan = Plan::with_limit(self.search_threads);
        let pieces = Pieces::new(range, needle.len(), reverse, plan);
        Walker::new(self.erased(), needle, pieces, false)
            .run(plan, SHARING, &mut visit)
            .map(drop)
    }

    /// [`count_in_reporting`](Self::count_in_reporting) by a walk of pieces, with the
    /// progress after each piece going to `counted` when there is one; `None` when the
    /// count is one pass on the calling thread instead: a range too short for threads to pay,
    /// an empty needle, or one thread allowed and no progress wanted.
    pub(crate) fn count_walked(
        &self,
        needle: &[u8],
        range: Range<usize>,
        counted: Option<&mut dyn FnMut(usize)>,
    ) -> Option<io::Result<usize>> {
        let plan = Plan::with_limit(self.search_threads);
        if needle.is_empty()
            || range.len() < plan.min_len
            || (plan.threads < 2 && counted.is_none())
        {
            return None;
        }
        Some(self.count_pieces(needle, range, plan, counted))
    }

    /// Counts the non-overlapping occurrences of `needle` (not empty) in `range` by a
    /// counting walk as `plan` shares it out, telling `counted` the walk's progress.
    fn count_pieces(
        &self,
        needle: &[u8],
        range: Range<usize>,
        plan: Plan,
        mut counted: Option<&mut dyn FnMut(usize)>,
    ) -> io::Result<usize> {
        let pieces = Pieces::new(range, needle.len(), false, plan);
        let walker = Walker::new(self.erased(), needle, pieces, true);
        walker.run(plan, SHARING, &mut |step| {
            if let (WalkStep::Progress(done), Some(counted)) = (step, counted.as_mut()) {
                counted(done);
            }
            ControlFlow::Continue(())
        })
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
}

/// What the search of one piece found: every occurrence starting in it (relative to its
/// first start position, ascending), or, for a count whose occurrences found are all
/// picked, only how many.
#[derive(Debug)]
enum Found {
    Offsets(Vec<u32>),
    /// How many occurrences the piece adds to a count, and the offset in the map where the
    /// last of them ends (0 when there is none).
    Count {
        picked: usize,
        end: usize,
    },
}

impl Found {
    /// Offsets held, for the limit on results waiting.
    fn held(&self) -> usize {
        match self {
            Found::Offsets(offsets) => offsets.len(),
            Found::Count { .. } => 0,
        }
    }
}

/// Every occurrence of `finder`'s needle starting in the first `count` positions of `hay`
/// (which holds at least `count + m - 1` bytes), overlapping ones included.
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
    /// The next stripe a worker may claim.
    next_stripe: usize,
    /// Pieces the calling thread has taken back: the next one it needs.
    delivered: usize,
    /// Set when the walk is over early (visitor stop, error, panic): workers quit.
    stop: bool,
    /// Results waiting to be taken back, by piece; `Err` holds a worker's panic.
    done: BTreeMap<usize, std::thread::Result<io::Result<Found>>>,
    /// Offsets held in `done`.
    waiting: usize,
    /// Bytes of the range searched by all workers.
    searched: usize,
}

struct Walker<'a> {
    map: &'a DynMmap,
    finder: Finder<'a>,
    self_overlapping: bool,
    /// Only counting: pieces may report how many occurrences instead of where.
    counting: bool,
    pieces: Pieces,
}

impl<'a> Walker<'a> {
    fn new(map: &'a DynMmap, needle: &'a [u8], pieces: Pieces, counting: bool) -> Self {
        Walker {
            map,
            finder: Finder::new(needle),
            self_overlapping: overlaps_itself(needle),
            counting,
            pieces,
        }
    }

    /// The occurrences starting in piece `i`, searched under the guard. `limit` is the
    /// picker's limit when the pieces are searched in order, `None` when not.
    fn search(&self, i: usize, limit: Option<usize>) -> io::Result<Found> {
        let starts = self.pieces.starts(i);
        let end = starts.end + self.pieces.needle_len - 1;
        // A count picks every occurrence it finds when no two can overlap, or when the
        // search starts where the last picked one ended (searching in order, forwards): no
        // offsets need be kept then, only how many and where the last one ends.
        let resume = limit.filter(|_| !self.pieces.reverse);
        if self.counting && (!self.self_overlapping || resume.is_some()) {
            let from = resume.map_or(starts.start, |limit| limit.clamp(starts.start, starts.end));
            return self.map.load(from..end, |hay| {
                let m = self.pieces.needle_len;
                let (picked, last) = self
                    .finder
                    .find_iter(hay)
                    .fold((0, None), |(n, _), at| (n + 1, Some(at)));
                let end = last.map_or(0, |at| from + at + m);
                Found::Count { picked, end }
            });
        }
        self.map.load(starts.start..end, |hay| {
            Found::Offsets(occurrences(
                &self.finder,
                self.self_overlapping,
                hay,
                starts.len(),
            ))
        })
    }

    /// Bytes of the range that piece `i` accounts for in the progress (the last piece
    /// also the needle's length less one, so the pieces add up to the range).
    fn piece_bytes(&self, i: usize) -> usize {
        let len = self.pieces.starts(i).len();
        if i + 1 == self.pieces.count() {
            len + (self.pieces.range.len() - self.pieces.positions)
        } else {
            len
        }
    }

    /// Runs the walk; returns how many occurrences were picked (and, unless counting,
    /// reported).
    fn run(
        &self,
        plan: Plan,
        sharing: Sharing,
        visit: &mut dyn FnMut(WalkStep) -> ControlFlow<()>,
    ) -> io::Result<usize> {
        let count = self.pieces.count();
        let mut pick = Picker::new(&self.pieces, self.counting);
        if plan.threads < 2 || self.pieces.range.len() < plan.min_len || count < 2 {
            let mut searched = 0;
            for i in 0..count {
                let found = self.search(i, Some(pick.limit))?;
                searched += self.piece_bytes(i);
                if pick.piece(i, &found, visit).is_break()
                    || visit(WalkStep::Progress(searched)).is_break()
                {
                    return Ok(pick.picked);
                }
            }
            if count == 0 {
                let _ = visit(WalkStep::Progress(self.pieces.range.len()));
            }
            return Ok(pick.picked);
        }
        let shared = Mutex::new(Shared {
            next_stripe: 0,
            delivered: 0,
            stop: false,
            done: BTreeMap::new(),
            waiting: 0,
            searched: 0,
        });
        let (work, ready) = (Condvar::new(), Condvar::new());
        let per_stripe =
            (sharing.stripe_bytes / self.pieces.piece).clamp(1, count.div_ceil(plan.threads));
        let stripes = count.div_ceil(per_stripe);
        let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
        let worker = || loop {
            let stripe = {
                let mut state = lock();
                // At most `threads` stripes beyond the one the calling thread is in.
                while !state.stop
                    && state.next_stripe < stripes
                    && state.next_stripe > state.delivered / per_stripe + plan.threads
                {
                    state = wait(&work, state);
                }
                if state.stop || state.next_stripe >= stripes {
                    return;
                }
                state.next_stripe += 1;
                state.next_stripe - 1
            };
            for i in stripe * per_stripe..((stripe + 1) * per_stripe).min(count) {
                {
                    let mut state = lock();
                    // The piece the calling thread needs next is always searched, so the
                    // walk never waits on itself.
                    while !state.stop && i != state.delivered && state.waiting > sharing.max_waiting
                    {
                        state = wait(&work, state);
                    }
                    if state.stop {
                        return;
                    }
                }
                let found =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.search(i, None)));
                let mut state = lock();
                state.waiting += found
                    .as_ref()
                    .map_or(0, |r| r.as_ref().map_or(0, Found::held));
                state.searched += self.piece_bytes(i);
                state.done.insert(i, found);
                drop(state);
                ready.notify_one();
            }
        };
        let stop = || {
            lock().stop = true;
            work.notify_all();
        };
        std::thread::scope(|scope| {
            let mut spawned = 0;
            for _ in 0..plan.threads.min(stripes) {
                let started = std::thread::Builder::new()
                    .name("mmapfile-walk".into())
                    .spawn_scoped(scope, worker);
                spawned += usize::from(started.is_ok());
            }
            let mut reported = 0;
            for i in 0..count {
                let found = if spawned == 0 {
                    // No thread to be had: search here.
                    let found = Ok(self.search(i, None));
                    reported += self.piece_bytes(i);
                    if visit(WalkStep::Progress(reported)).is_break() {
                        return Ok(pick.picked);
                    }
                    found
                } else {
                    let mut state = lock();
                    let found = loop {
                        if let Some(found) = state.done.remove(&i) {
                            break found;
                        }
                        if state.searched > reported {
                            // Report what all threads have searched while waiting.
                            reported = state.searched;
                            drop(state);
                            if visit(WalkStep::Progress(reported)).is_break() {
                                stop();
                                return Ok(pick.picked);
                            }
                            state = lock();
                            continue;
                        }
                        state = wait(&ready, state);
                    };
                    state.waiting -= found
                        .as_ref()
                        .map_or(0, |r| r.as_ref().map_or(0, Found::held));
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
                    return Ok(pick.picked);
                }
            }
            if reported < self.pieces.range.len() {
                let _ = visit(WalkStep::Progress(self.pieces.range.len()));
            }
            Ok(pick.picked)
        })
    }
}

fn wait<'m>(condvar: &Condvar, guard: MutexGuard<'m, Shared>) -> MutexGuard<'m, Shared> {
    condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// Picks the non-overlapping occurrences out of each piece's results, in the walk's
/// direction.
struct Picker<'p> {
    pieces: &'p Pieces,
    /// Forwards: occurrences must start at or after this offset. Backwards: they must end
    /// at or before it.
    limit: usize,
    /// Only counting: occurrences are not reported one by one.
    counting: bool,
    picked: usize,
}

impl<'p> Picker<'p> {
    fn new(pieces: &'p Pieces, counting: bool) -> Self {
        let limit = if pieces.reverse {
            pieces.range.end
        } else {
            pieces.range.start
        };
        Picker {
            pieces,
            limit,
            counting,
            picked: 0,
        }
    }

    /// Picks (and unless counting, reports) the occurrences of piece `i`.
    fn piece(
        &mut self,
        i: usize,
        found: &Found,
        visit: &mut dyn FnMut(WalkStep) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let found = match found {
            &Found::Count { picked, end } => {
                self.picked += picked;
                self.limit = self.limit.max(end);
                return ControlFlow::Continue(());
            }
            Found::Offsets(found) => found,
        };
        let base = self.pieces.starts(i).start;
        let m = self.pieces.needle_len;
        if self.pieces.reverse {
            for &at in found.iter().rev() {
                let at = base + at as usize;
                if at + m <= self.limit {
                    self.limit = at;
                    self.picked += 1;
                    if !self.counting {
                        visit(WalkStep::Found(at))?;
                    }
                }
            }
        } else {
            for &at in found {
                let at = base + at as usize;
                if at >= self.limit {
                    self.limit = at + m;
                    self.picked += 1;
                    if !self.counting {
                        visit(WalkStep::Found(at))?;
                    }
                }
            }
        }
        ControlFlow::Continue(())
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

    /// One walk's settings: what to search, where, and how the threads share it.
    struct Setup<'m> {
        map: &'m DynMmap,
        needle: &'m [u8],
        range: Range<usize>,
        reverse: bool,
        plan: Plan,
        sharing: Sharing,
    }

    impl Setup<'_> {
        fn run(
            &self,
            counting: bool,
            visit: &mut dyn FnMut(WalkStep) -> ControlFlow<()>,
        ) -> io::Result<usize> {
            let pieces = Pieces::new(
                self.range.clone(),
                self.needle.len(),
                self.reverse,
                self.plan,
            );
            Walker::new(self.map, self.needle, pieces, counting).run(self.plan, self.sharing, visit)
        }

        /// What the walk reports: the occurrences, and the progress steps in order.
        fn collect(&self) -> (Vec<usize>, Vec<usize>) {
            let (mut found, mut progress) = (Vec::new(), Vec::new());
            let picked = self
                .run(false, &mut |step| {
                    match step {
                        WalkStep::Found(at) => found.push(at),
                        WalkStep::Progress(done) => progress.push(done),
                    }
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(picked, found.len());
            (found, progress)
        }

        /// The occurrences a counting walk picks.
        fn count(&self) -> usize {
            self.run(true, &mut |_| ControlFlow::Continue(())).unwrap()
        }
    }

    fn walk(
        map: &DynMmap,
        needle: &[u8],
        range: Range<usize>,
        reverse: bool,
        plan: Plan,
    ) -> (Vec<usize>, Vec<usize>) {
        let sharing = SHARING;
        Setup {
            map,
            needle,
            range,
            reverse,
            plan,
            sharing,
        }
        .collect()
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
            stripe_pieces in 1usize..5,
            max_waiting in 0usize..6,
        ) {
            let map = map_of(&hay);
            let (a, b) = (cut.0.min(hay.len()), cut.1.min(hay.len()));
            let range = a.min(b)..a.max(b);
            // Tiny pieces and no minimum length put short maps through the threaded path.
            let plan = Plan { min_len: 0, head: 0, piece, threads };
            // Tiny stripes and a tiny wait limit exercise the claiming and the pausing.
            let sharing = Sharing { stripe_bytes: stripe_pieces * piece, max_waiting };
            let setup = Setup { map: &map, needle: &needle, range, reverse, plan, sharing };
            let (found, progress) = setup.collect();
            let expected = naive(&hay, &needle, setup.range.clone(), reverse);
            prop_assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{:?}", progress);
            prop_assert_eq!(progress.last().copied(), Some(setup.range.len()));
            if !reverse {
                prop_assert_eq!(setup.count(), expected.len());
                // The count of count_in_reporting, with its progress.
                let mut progress = Vec::new();
                let mut counted = |done| progress.push(done);
                let found = map.count_pieces(&needle, setup.range.clone(), plan, Some(&mut counted));
                prop_assert_eq!(found.unwrap(), expected.len());
                prop_assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{:?}", progress);
                prop_assert_eq!(progress.last().copied(), Some(setup.range.len()));
            }
            prop_assert_eq!(found, expected);
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
        let setup = Setup {
            map: &map,
            needle: b"b",
            range: 0..1000,
            reverse: true,
            plan,
            sharing: SHARING,
        };
        setup
            .run(false, &mut |step| {
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
            let counted = Setup {
                map: &map,
                needle,
                range: 0..text.len(),
                reverse: false,
                plan,
                sharing: SHARING,
            }
            .count();
            assert_eq!(counted, found.len(), "{needle:?}");
            assert_eq!(
                found.len(),
                crate::search::count(&text, needle),
                "{needle:?}"
            );
        }
    }
}
