//! The iterator behind `iter(m)` and `list(m)`: 1-byte `bytes`, as CPython's sequence slot
//! gives them (while `m[i]` is an int).

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::object::PyMmap;

/// Iterates over the bytes of a map, reading each at the time it is reached (so writes made
/// meanwhile show, and a map closed meanwhile raises ValueError).
#[pyclass(module = "mmap", frozen)]
pub struct MmapIter {
    map: Py<PyMmap>,
    next: AtomicUsize,
}

impl MmapIter {
    pub(crate) fn new(map: Py<PyMmap>) -> Self {
        Self {
            map,
            next: AtomicUsize::new(0),
        }
    }
}

#[pymethods]
impl MmapIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        self.map.get().item_bytes(py, index)
    }
}
