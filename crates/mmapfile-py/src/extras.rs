//! What CPython's mmap lacks, from the core's scans: `count` and `finditer` (`lines()` is in
//! `lines.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::ffi;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple, PyType};
use pyo3::{Borrowed, PyTraverseError};
use regex::bytes::Regex;

use crate::args;
use crate::errors;
use crate::handle::{fastcall_args, install_methods, slot, MapLink, PyMmap, RawMethod, DETACH_MIN};

/// `count(sub[, start[, end]])`: non-overlapping occurrences of `sub` in `start..end`, which
/// clamp like slice indices (the whole map by default, as `bytes.count`; the cursor is
/// ignored).
fn count(map: &PyMmap, py: Python<'_>, args: &[*mut ffi::PyObject]) -> PyResult<usize> {
    map.handle.check_open()?;
    let [sub, start, end] = args::positional::<3>("count", py, args, 1)?;
    let sub = sub.ok_or_else(|| errors::type_error("missing required argument"))?;
    let needle = args::with_buffer(&sub, <[u8]>::to_vec)?;
    let start = start.map(|s| args::ssize(&s)).transpose()?;
    let end = end.map(|e| args::ssize(&e)).transpose()?;
    let mut lease = map.handle.lease(py)?;
    let len = lease.map().len();
    lease.run(py, len, move |lease| {
        let map = lease.map();
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
fn find_spans(map: &PyMmap, py: Python<'_>, re: Regex) -> PyResult<Vec<(usize, usize)>> {
    let mut lease = map.handle.lease(py)?;
    let len = lease.map().len();
    lease.run(py, len, move |lease| {
        lease
            .map()
            .regex_find_iter(&re)
            .map(|found| found.map(|m| (m.start(), m.end())))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(errors::from_io)
    })
}

/// The iterator of `m.finditer(pattern)`: a `Match` per match, left to right.
#[pyclass(module = "mmap", frozen)]
pub struct MatchIter {
    map: MapLink,
    spans: Vec<(usize, usize)>,
    next: AtomicUsize,
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
        // short match becomes `bytes` straight from the mapped memory, with the GIL held; a
        // long one is copied once into its `bytes`, with the GIL released.
        let map = self.map.get(py)?;
        let handle = &map.get().handle;
        let bytes = if end - start < DETACH_MIN {
            handle.read(py, |map| {
                map.with_bytes(start..end, |bytes| PyBytes::new(py, bytes).unbind())
                    .map_err(errors::from_io)
            })?
        } else {
            let mut lease = handle.lease(py)?;
            crate::handle::bytes_from_map(
                py,
                &mut lease,
                start..end,
                end - start,
                |mapped, out| out.copy_from_slice(mapped),
            )?
            .unbind()
        };
        Ok(Some(Match { start, end, bytes }))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.map.traverse(&visit)
    }

    fn __clear__(&self, py: Python<'_>) {
        self.map.clear(py);
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

/// `m.count(sub[, start[, end]])`, a `METH_FASTCALL` method of the map class.
///
/// # Safety
///
/// Called by CPython with the thread attached, `slf` a live `PyMmap` (the method descriptor
/// checks the type) and `nargs` live borrowed references at `args`.
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_count(
    slf: *mut ffi::PyObject,
    args: *mut *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    unsafe {
        slot("mmap.count", |py| {
            let found = count(PyMmap::from_ptr(py, slf), py, fastcall_args(args, nargs))?;
            Ok(found.into_pyobject(py)?.into_ptr())
        })
    }
}

/// `m.finditer(pattern)`, a `METH_O` method of the map class.
///
/// # Safety
///
/// Called by CPython with the thread attached, `slf` a live `PyMmap` (the method descriptor
/// checks the type) and `pattern` a live borrowed reference.
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_finditer(
    slf: *mut ffi::PyObject,
    pattern: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    unsafe {
        slot("mmap.finditer", |py| {
            let map = Borrowed::from_ptr(py, slf).cast_unchecked::<PyMmap>();
            map.get().handle.check_open()?;
            let re = compile(&Borrowed::from_ptr(py, pattern))?;
            let spans = find_spans(map.get(), py, re)?;
            let iterator = MatchIter {
                map: MapLink::new(map.to_owned()),
                spans,
                next: AtomicUsize::new(0),
            };
            Ok(Bound::new(py, iterator)?.into_ptr())
        })
    }
}

/// Installs `count` and `finditer` on the map class.
pub(crate) fn install(map_class: &Bound<'_, PyType>) -> PyResult<()> {
    install_methods(
        map_class,
        vec![
            RawMethod {
                name: c"count",
                method: ffi::PyMethodDefPointer {
                    PyCFunctionFast: raw_count,
                },
                flags: ffi::METH_FASTCALL,
                doc: c"count($self, sub, start=0, end=<len>, /)\n--\n\nmmapfile extra: non-overlapping occurrences of sub in the whole map (or [start, end)).",
            },
            RawMethod {
                name: c"finditer",
                method: ffi::PyMethodDefPointer {
                    PyCFunction: raw_finditer,
                },
                flags: ffi::METH_O,
                doc: c"finditer($self, pattern, /)\n--\n\nmmapfile extra: an iterator over the matches of a Rust-syntax regex in the whole map.",
            },
        ],
    )
}
