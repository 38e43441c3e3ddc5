//! What CPython's mmap lacks, from the core's scans: `count`, `lines()` and `finditer`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use regex::bytes::Regex;

use crate::errors;
use crate::object::{PyMmap, DETACH_MIN};

/// A batch of `lines()` stops after this many lines or at the end of a window of this many
/// bytes, whichever comes first. Each batch is built with the GIL held, so it must stay
/// short (a 32 KiB scan and copy take microseconds); a few hundred lines amortise taking the
/// lock and the call into Rust. On a 256 MiB file of 137-byte lines, batches of 32 to 4096
/// lines and windows of 8 KiB to 256 KiB timed the same within noise: the per-line cost is
/// Python's (allocating and freeing each `bytes`, and the consumer's loop).
const LINE_BATCH: usize = 256;
const LINE_WINDOW: usize = 32 * 1024;

/// `count(sub[, start[, end]])`: non-overlapping occurrences in `start..end`, which clamp
/// like slice indices (the whole map by default, as `bytes.count`; the cursor is ignored).
pub(crate) fn count(
    map: &PyMmap,
    py: Python<'_>,
    needle: Vec<u8>,
    start: Option<isize>,
    end: Option<isize>,
) -> PyResult<usize> {
    let len = map.len_checked()?;
    map.with_map_detached(py, len, move |map| {
        let len = map.len() as isize;
        let clamp = |index: isize| {
            let index = if index < 0 { index + len } else { index };
            index.max(0) as usize
        };
        let start = start.map_or(0, clamp);
        let end = end.map_or(len as usize, clamp);
        map.count_in(&needle, start..end).map_err(errors::from_io)
    })
}

/// The lines of the map from `pos`: up to `max_lines` `bytes` objects (each with its `\n`,
/// the last line of the map may lack it) and the offset just past them. Empty at the end.
///
/// The common case scans a window of at most `LINE_WINDOW` bytes with the GIL held and
/// builds the `bytes` objects straight from the mapped memory, all inside one guarded access
/// (a file truncated meanwhile is reported after the copies, which are then dropped). A line
/// longer than the window is found and copied with the GIL released.
pub(crate) fn line_batch<'py>(
    map: &PyMmap,
    py: Python<'py>,
    pos: usize,
    max_lines: usize,
) -> PyResult<(Vec<Bound<'py, PyBytes>>, usize)> {
    let (lines, next) = map.with_map(|map| {
        let len = map.len();
        let pos = pos.min(len);
        let window_end = len.min(pos.saturating_add(LINE_WINDOW));
        map.with_bytes(pos..window_end, |window| {
            let mut lines = Vec::with_capacity(max_lines.min(window.len() / 32 + 1));
            let mut start = 0;
            for newline in memchr::memchr_iter(b'\n', window) {
                if lines.len() == max_lines {
                    break;
                }
                lines.push(PyBytes::new(py, &window[start..=newline]));
                start = newline + 1;
            }
            // The rest of the map is one last line without a newline.
            if window_end == len && start < window.len() && lines.len() < max_lines {
                lines.push(PyBytes::new(py, &window[start..]));
                start = window.len();
            }
            (lines, pos + start)
        })
        .map_err(errors::from_io)
    })?;
    if !lines.is_empty() || next >= map.len_checked()? {
        return Ok((lines, next));
    }
    // No newline in the whole window: one line longer than it.
    let line = map.with_map_detached(py, usize::MAX, |map| {
        // The map may have shrunk since the window was scanned (the lock was let go).
        let pos = pos.min(map.len());
        let end = match map.find_in(b"\n", pos..).map_err(errors::from_io)? {
            Some(newline) => newline + 1,
            None => map.len(),
        };
        Ok((map.copy_range(pos..end).map_err(errors::from_io)?, end))
    })?;
    match line {
        (bytes, _) if bytes.is_empty() => Ok((Vec::new(), next)),
        (bytes, end) => Ok((vec![PyBytes::new(py, &bytes)], end)),
    }
}

/// The batches behind `m.lines()`: each `next()` is a list of up to `LINE_BATCH` lines from
/// [`line_batch`]. `lines()` flattens them with `itertools.chain.from_iterable`, so handing
/// out a line costs no call into Rust. The cursor is not used.
#[pyclass(module = "mmap", frozen)]
pub struct LineBatches {
    map: Py<PyMmap>,
    /// Where the next batch starts in the map; `usize::MAX` once the end was reached.
    pos: Mutex<usize>,
}

impl LineBatches {
    pub(crate) fn new(map: Py<PyMmap>) -> Self {
        Self {
            map,
            pos: Mutex::new(0),
        }
    }
}

#[pymethods]
impl LineBatches {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        // The position stays locked while a long line is read with the GIL released, so a
        // second thread calling next() meanwhile must not wait for it (it would hold the GIL
        // that the first one needs back): it gets the error generators give in that case.
        let mut pos = match self.pos.try_lock() {
            Ok(pos) => pos,
            Err(std::sync::TryLockError::Poisoned(poison)) => poison.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(errors::value_error("lines() iterator already executing"))
            }
        };
        if *pos == usize::MAX {
            return Ok(None);
        }
        let (lines, next) = line_batch(self.map.get(), py, *pos, LINE_BATCH)?;
        if lines.is_empty() {
            *pos = usize::MAX;
            return Ok(None);
        }
        *pos = next;
        Ok(Some(PyList::new(py, lines)?))
    }
}

/// `m.lines()`: `itertools.chain.from_iterable` over the map's [`LineBatches`].
pub(crate) fn lines<'py>(map: Bound<'py, PyMmap>) -> PyResult<Bound<'py, PyAny>> {
    let py = map.py();
    map.get().check_valid()?;
    let batches = Bound::new(py, LineBatches::new(map.unbind()))?;
    static FROM_ITERABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let from_iterable = FROM_ITERABLE.get_or_try_init(py, || {
        py.import("itertools")?
            .getattr("chain")?
            .getattr("from_iterable")
            .map(Bound::unbind)
    })?;
    from_iterable.bind(py).call1((batches,))
}

/// Compiles a `finditer` pattern: `bytes` (UTF-8) or `str`, in Rust regex syntax.
pub(crate) fn compile(pattern: &Bound<'_, PyAny>) -> PyResult<Regex> {
    let text = if let Ok(text) = pattern.cast::<PyString>() {
        text.to_str()?.to_owned()
    } else if let Ok(bytes) = pattern.cast::<PyBytes>() {
        std::str::from_utf8(bytes.as_bytes())
            .map_err(|_| errors::value_error("finditer pattern must be valid UTF-8"))?
            .to_owned()
    } else {
        return Err(errors::type_error("finditer pattern must be bytes or str"));
    };
    Regex::new(&text).map_err(|err| pyo3::exceptions::PyValueError::new_err(err.to_string()))
}

/// The spans of every match of `re` in the whole map, searched once with the GIL released.
pub(crate) fn find_spans(map: &PyMmap, py: Python<'_>, re: Regex) -> PyResult<Vec<(usize, usize)>> {
    let len = map.len_checked()?;
    map.with_map_detached(py, len, move |map| {
        map.regex_find_iter(&re)
            .map(|found| found.map(|m| (m.start(), m.end())))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(errors::from_io)
    })
}

/// The iterator of `m.finditer(pattern)`: a `Match` per match, left to right.
#[pyclass(module = "mmap", frozen)]
pub struct MatchIter {
    map: Py<PyMmap>,
    spans: Vec<(usize, usize)>,
    next: AtomicUsize,
}

impl MatchIter {
    pub(crate) fn new(map: Py<PyMmap>, spans: Vec<(usize, usize)>) -> Self {
        Self {
            map,
            spans,
            next: AtomicUsize::new(0),
        }
    }
}

#[pymethods]
impl MatchIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Match>> {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        let Some(&(start, end)) = self.spans.get(index) else {
            return Ok(None);
        };
        // The bytes are copied now: a match is a snapshot, as `re` results on a map are. A
        // short match becomes `bytes` straight from the mapped memory, with the GIL held.
        let map = self.map.get();
        let bytes = if end - start < DETACH_MIN {
            map.with_map(|map| {
                map.with_bytes(start..end, |bytes| PyBytes::new(py, bytes).unbind())
                    .map_err(errors::from_io)
            })?
        } else {
            let copy = map.with_map_detached(py, end - start, move |map| {
                map.copy_range(start..end).map_err(errors::from_io)
            })?;
            PyBytes::new(py, &copy).unbind()
        };
        Ok(Some(Match { start, end, bytes }))
    }
}

/// One regex match in a map: `start()`, `end()`, `span()` and `group()` (the bytes).
#[pyclass(module = "mmapfile", frozen)]
pub struct Match {
    start: usize,
    end: usize,
    bytes: Py<PyBytes>,
}

#[pymethods]
impl Match {
    fn start(&self) -> usize {
        self.start
    }

    fn end(&self) -> usize {
        self.end
    }

    fn span<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.start, self.end])
    }

    fn group<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.bytes.bind(py).clone()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let bytes = self.bytes.bind(py).as_bytes();
        let shown: String = bytes
            .iter()
            .take(50)
            .flat_map(|&b| std::ascii::escape_default(b))
            .map(char::from)
            .collect();
        let more = if bytes.len() > 50 { "..." } else { "" };
        format!(
            "<mmapfile.Match span=({}, {}), match=b'{shown}{more}'>",
            self.start, self.end
        )
    }
}
