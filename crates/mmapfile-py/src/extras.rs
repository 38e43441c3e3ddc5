//! What CPython's mmap lacks, from the core's scans: `count` and `finditer` (`lines()` is in
//! `lines.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use regex::bytes::Regex;

use crate::errors;
use crate::object::{PyMmap, DETACH_MIN};

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
