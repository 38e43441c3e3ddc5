//! The iterators behind `iter(m)`, `list(m)` and `reversed(m)`: 1-byte `bytes`, as CPython's
//! sequence slot gives them (while `m[i]` is an int).

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::object::PyMmap;

/// Iterates over the bytes of a map, reading each at the time it is reached (so writes made
/// meanwhile show, and a map closed meanwhile raises ValueError).
#[pyclass(module = "mmap", frozen)]
pub struct MmapIter {
    map: Py<PyMmap>,
    /// How many items were handed out (or asked for past the end).
    taken: AtomicUsize,
    /// For `reversed(m)`: the length when iteration started; items go from `len - 1` down.
    reverse_from: Option<usize>,
}

impl MmapIter {
    pub(crate) fn new(map: Py<PyMmap>) -> Self {
        Self {
            map,
            taken: AtomicUsize::new(0),
            reverse_from: None,
        }
    }

    pub(crate) fn reversed(map: Py<PyMmap>, len: usize) -> Self {
        Self {
            map,
            taken: AtomicUsize::new(0),
            reverse_from: Some(len),
        }
    }
}

#[pymethods]
impl MmapIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let taken = self.taken.fetch_add(1, Ordering::SeqCst);
        let index = match self.reverse_from {
            None => taken,
            Some(len) if taken < len => len - 1 - taken,
            Some(_) => return Ok(None),
        };
        // An index past a map that shrank meanwhile ends the iteration, as in CPython.
        self.map.get().item_bytes(py, index)
    }
}
