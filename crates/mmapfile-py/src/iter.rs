//! `iter(m)`, `list(m)` and `reversed(m)`: 1-byte `bytes`, as CPython's sequence slot gives
//! them (while `m[i]` is an int).
//!
//! The class's `tp_iter` slot and the iterator's `tp_iternext` slot are raw functions behind
//! the handle's one wrapper: a `for b in m` loop costs what CPython's own sequence iterator
//! does.

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::ffi;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};
use pyo3::PyTraverseError;

use crate::handle::{byte_object, install_methods, slot, MapLink, PyMmap, RawMethod};

/// Iterates over the bytes of a map, reading each at the time it is reached (so writes made
/// meanwhile show, and a map closed meanwhile raises ValueError).
#[pyclass(module = "mmap", frozen)]
pub struct MmapIter {
    map: MapLink,
    /// How many items were handed out, or [`ENDED`]. Loaded and stored, not
    /// incremented atomically: with the GIL only one thread runs `next` at a time (on
    /// free-threaded builds two threads sharing one iterator may see an item twice, as
    /// with other sequence iterators there).
    taken: AtomicUsize,
    /// For `reversed(m)`: the length when iteration started (or as `__setstate__` put it);
    /// items go from `reverse_from - 1 - taken` down.
    reverse_from: Option<AtomicUsize>,
}

/// `taken` of an iterator that has ended: it stays ended, whatever happens to the map.
const ENDED: usize = usize::MAX;

impl MmapIter {
    /// The next 1-byte `bytes`, or NULL at the end (no exception) or on error.
    ///
    /// As CPython's sequence iterators (`iter(m)`, `reversed(m)`): an item past the end
    /// (the map shrank) ends the iteration for good, even if the map grows again, and lets
    /// go of the map; a closed map raises ValueError, after which `iter(m)` raises again
    /// while `reversed(m)`, which ends on any error, is at its end.
    fn next(&self, py: Python<'_>) -> PyResult<*mut ffi::PyObject> {
        let taken = self.taken.load(Ordering::Relaxed);
        if taken == ENDED {
            return Ok(std::ptr::null_mut());
        }
        let index = match self.reverse_from() {
            None => taken,
            Some(len) if taken < len => len - 1 - taken,
            Some(_) => {
                self.end(py);
                return Ok(std::ptr::null_mut());
            }
        };
        let byte = self.map.with(|map| {
            map.handle.read(py, |map| {
                if index >= map.len() {
                    return Ok(None);
                }
                map.get_byte(index)
                    .map(Some)
                    .map_err(crate::errors::from_io)
            })
        });
        match byte {
            Ok(Some(byte)) => {
                self.taken.store(taken + 1, Ordering::Relaxed);
                Ok(byte_object(py, byte))
            }
            Ok(None) => {
                self.end(py);
                Ok(std::ptr::null_mut())
            }
            Err(err) => {
                if self.reverse_from.is_some() {
                    self.end(py);
                }
                Err(err)
            }
        }
    }

    /// The length a reverse iteration counts down from; `None` for a forward one.
    #[inline(always)]
    fn reverse_from(&self) -> Option<usize> {
        self.reverse_from
            .as_ref()
            .map(|len| len.load(Ordering::Relaxed))
    }

    /// Ends the iteration for good and, with a GIL, drops the map as CPython's iterators
    /// do (free-threaded builds keep it: another thread may be reading the link, which only
    /// the collector, with the world stopped, may clear there).
    fn end(&self, py: Python<'_>) {
        self.taken.store(ENDED, Ordering::Relaxed);
        #[cfg(not(Py_GIL_DISABLED))]
        self.map.clear(py);
        #[cfg(Py_GIL_DISABLED)]
        let _ = py;
    }
}

#[pymethods]
impl MmapIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// `it.__next__()` by name; a `for` loop calls [`raw_next`].
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let next = self.next(py)?;
        // SAFETY: `next` is a new reference or NULL (the end).
        Ok(unsafe { Bound::from_owned_ptr_or_opt(py, next) })
    }

    /// How many items are left, as CPython's sequence iterators tell `list()`: 0 once ended,
    /// ValueError for a closed map.
    fn __length_hint__(&self, py: Python<'_>) -> PyResult<usize> {
        let taken = self.taken.load(Ordering::Relaxed);
        if taken == ENDED || !self.map.is_set() {
            return Ok(0);
        }
        let len = self
            .map
            .with(|map| map.handle.read(py, |map| Ok(map.len())))?;
        Ok(match self.reverse_from() {
            None => len.saturating_sub(taken),
            // The items at len_then - 1 - taken and below, if the map still has them.
            Some(len_then) => {
                let left = len_then.saturating_sub(taken);
                if len < left {
                    0
                } else {
                    left
                }
            }
        })
    }

    /// For `copy.copy` and pickle, as CPython's sequence iterators: `(iter, (m,), index)`
    /// (`reversed` and the next index down for `reversed(m)`), or `(iter, ((),))` once the
    /// iteration has ended.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let builtins = py.import("builtins")?;
        let remake = builtins.getattr(if self.reverse_from.is_some() {
            "reversed"
        } else {
            "iter"
        })?;
        let taken = self.taken.load(Ordering::Relaxed);
        let map = if taken == ENDED {
            None
        } else {
            self.map.get(py).ok()
        };
        let Some(map) = map else {
            return (remake, (PyTuple::empty(py),)).into_pyobject(py);
        };
        let index: isize = match self.reverse_from() {
            // CPython's `reversed` keeps the next index itself, -1 at the end.
            Some(len) => len as isize - 1 - taken as isize,
            None => taken as isize,
        };
        (remake, (map,), index).into_pyobject(py)
    }

    /// Where the iteration goes on, as CPython's sequence iterators take it: a forward index
    /// below 0 is 0; a reverse one is kept between -1 (ended) and the map's length - 1. An
    /// ended iterator ignores it.
    fn __setstate__(&self, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        // CPython's PyLong_AsSsize_t, as its iterators use: ints only (no `__index__`), with
        // its TypeError and OverflowError.
        // SAFETY: `state` is a live object; the call only reads it.
        let index = unsafe { ffi::PyLong_AsSsize_t(state.as_ptr()) };
        if index == -1 {
            if let Some(err) = PyErr::take(py) {
                return Err(err);
            }
        }
        if self.taken.load(Ordering::Relaxed) == ENDED || !self.map.is_set() {
            return Ok(());
        }
        match &self.reverse_from {
            None => self.taken.store(index.max(0) as usize, Ordering::Relaxed),
            Some(from) => {
                let len = self
                    .map
                    .with(|map| map.handle.read(py, |map| Ok(map.len())))?;
                let index = index.clamp(-1, len as isize - 1);
                // Count down from the index's successor, nothing taken yet.
                from.store((index + 1) as usize, Ordering::Relaxed);
                self.taken.store(0, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.map.traverse(&visit)
    }

    fn __clear__(&self, py: Python<'_>) {
        self.map.clear(py);
    }
}

/// `tp_iternext` of [`MmapIter`].
///
/// # Safety
///
/// Called by CPython with the thread attached and `slf` a live `MmapIter` (the class cannot
/// be subclassed).
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_next(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: per the contract, `slf` is a live `MmapIter`.
    if let Some(this) = unsafe { pyo3::Borrowed::from_ptr_or_opt(py, slf) } {
        // SAFETY: as above.
        let this = unsafe { this.cast_unchecked::<MmapIter>() }.get();
        // The fast path: forward, the map open and idle, the byte inside it. Anything
        // else (the end included) takes the general path below.
        let taken = this.taken.load(Ordering::Relaxed);
        if this.reverse_from.is_none() {
            let byte = this.map.peek(|map| {
                map.handle.idle(|map| {
                    if taken < map.len() {
                        map.get_byte(taken).ok()
                    } else {
                        None
                    }
                })
            });
            if let Some(Some(Some(byte))) = byte {
                this.taken.store(taken + 1, Ordering::Relaxed);
                return byte_object(py, byte);
            }
        }
    }
    // SAFETY: per the contract.
    unsafe { next_slow(slf) }
}

/// [`raw_next`] when its fast path does not apply.
///
/// # Safety
///
/// As [`raw_next`].
#[cold]
#[inline(never)]
unsafe extern "C" fn next_slow(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: per `raw_next`'s contract.
    unsafe {
        slot("mmap iterator", |py| {
            let this = pyo3::Borrowed::from_ptr(py, slf).cast_unchecked::<MmapIter>();
            this.get().next(py)
        })
    }
}

/// `iter(m)`.
fn iterate(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    reversed: bool,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: `slf` is a live `PyMmap` (the callers' contract).
    let map = unsafe { pyo3::Borrowed::from_ptr(py, slf).cast_unchecked::<PyMmap>() };
    let handle = &map.get().handle;
    let reverse_from = if reversed {
        Some(AtomicUsize::new(handle.read(py, |map| Ok(map.len()))?))
    } else {
        // As CPython's sequence iterator: a closed map fails at the first `next()`.
        None
    };
    let iterator = MmapIter {
        map: MapLink::new(map.to_owned()),
        taken: AtomicUsize::new(0),
        reverse_from,
    };
    Ok(Bound::new(py, iterator)?.into_any().into_ptr())
}

/// `tp_iter` of the map class and its `__iter__` method.
///
/// # Safety
///
/// Called by CPython with the thread attached and `slf` a live `PyMmap` (the slot and the
/// method descriptor belong to the class).
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_iter(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    unsafe { slot("iter(mmap)", |py| iterate(py, slf, false)) }
}

/// `m.__iter__()` by name (subclasses reach `tp_iter` through it).
///
/// # Safety
///
/// As [`raw_iter`].
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_iter_method(
    slf: *mut ffi::PyObject,
    _unused: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    unsafe { slot("mmap.__iter__", |py| iterate(py, slf, false)) }
}

/// `reversed(m)`: the 1-byte `bytes` from the last to the first.
///
/// # Safety
///
/// As [`raw_iter`].
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_reversed(
    slf: *mut ffi::PyObject,
    _unused: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    unsafe { slot("mmap.__reversed__", |py| iterate(py, slf, true)) }
}

/// Installs `iter(m)` and `reversed(m)` on the map class and the raw `tp_iternext` on the
/// iterator class.
pub(crate) fn install(map_class: &Bound<'_, PyType>) -> PyResult<()> {
    install_methods(
        map_class,
        vec![
            RawMethod {
                name: c"__iter__",
                method: ffi::PyMethodDefPointer {
                    PyCFunction: raw_iter_method,
                },
                flags: ffi::METH_NOARGS,
                doc: c"__iter__($self, /)\n--\n\nImplement iter(self): the bytes, as 1-byte bytes.",
            },
            RawMethod {
                name: c"__reversed__",
                method: ffi::PyMethodDefPointer {
                    PyCFunction: raw_reversed,
                },
                flags: ffi::METH_NOARGS,
                doc: c"__reversed__($self, /)\n--\n\nThe bytes from the last to the first, as 1-byte bytes.",
            },
        ],
    )?;
    let iterator_class = map_class.py().get_type::<MmapIter>();
    // SAFETY: both are live heap types made by PyO3, not yet used by any instance; the raw
    // functions have the slots' signatures and do what the trampolines did (the map class
    // had no `tp_iter`; `__iter__` above is its method form). PyType_Modified drops what
    // CPython cached about the types.
    unsafe {
        (*map_class.as_type_ptr()).tp_iter = Some(raw_iter);
        ffi::PyType_Modified(map_class.as_type_ptr());
        (*iterator_class.as_type_ptr()).tp_iternext = Some(raw_next);
        ffi::PyType_Modified(iterator_class.as_type_ptr());
    }
    Ok(())
}
