//! `m.lines()`: an iterator over the lines of the whole map, as fast as Python can take them.
//!
//! A `for line in m.lines()` loop spends most of each line in the loop itself, so the
//! iterator keeps its own share small:
//!
//! - the map is read ahead in chunks of up to [`CHUNK`] bytes that end at a newline, copied
//!   out under one lock and one guarded access each (a file truncated meanwhile is an
//!   OSError for the chunk); the lines of a chunk then need neither;
//! - each line's `bytes` comes from a [`BytesRing`], refilled in place once the loop has let
//!   go of it, instead of being allocated and freed;
//! - CPython's `for` calls the type's `tp_iternext` slot directly: [`install`] points it at
//!   [`raw_next`], a plain C function behind the handle's one wrapper, past PyO3's
//!   method trampoline.
//!
//! A line therefore shows the map as it was when its chunk was read: changes made while
//! iterating show from the next chunk on, as with a buffered file, and after a `resize()`
//! that cuts a line the part before the new end comes out as the map's last line. Once the
//! map is closed, `next()` raises ValueError. A line longer than a chunk is found and copied
//! with the GIL released. The cursor is not used.

use std::cell::{Cell, UnsafeCell};

use pyo3::ffi;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};
use pyo3::{Borrowed, PyTraverseError};

use crate::errors;
use crate::handle::{install_methods, slot, MapLink, PyMmap, RawMethod};
use crate::recycle::BytesRing;

/// At most this many bytes are read ahead (the chunk then ends at its last newline). Copying
/// it takes a few microseconds with the GIL held; it stays in the L2 cache while its lines
/// are handed out.
const CHUNK: usize = 64 * 1024;

/// The iterator returned by `m.lines()`.
#[pyclass(module = "mmap", frozen)]
pub struct LinesIter {
    map: MapLink,
    state: GilCell<Ahead>,
}

/// What the iterator has read ahead.
struct Ahead {
    /// Whole lines copied from the map (the last may lack its newline at the map's end).
    chunk: Vec<u8>,
    /// Where each line of `chunk` ends (after its newline), found when the chunk is read
    /// (a `memchr` per line would spend much of its time starting up).
    ends: Vec<usize>,
    /// The next line to hand out: an index into `ends`.
    line: usize,
    /// Where the next chunk starts in the map; `None` once the end was reached.
    next: Option<usize>,
    lines: BytesRing,
}

impl LinesIter {
    fn new(map: Bound<'_, PyMmap>) -> Self {
        Self {
            map: MapLink::new(map),
            state: GilCell::new(Ahead {
                chunk: Vec::new(),
                ends: Vec::new(),
                line: 0,
                next: Some(0),
                lines: BytesRing::default(),
            }),
        }
    }

    /// The next line, or `None` at the end of the map.
    fn next_line<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.state
            .with(py, |ahead| loop {
                // A borrow, not a new reference, for each line: nothing below runs Python code
                // or allocates tracked objects until the refill, which takes its own.
                if !self.map.with(|map| Ok(map.handle.is_open()))? {
                    return Err(errors::closed());
                }
                if let Some(&end) = ahead.ends.get(ahead.line) {
                    let start = match ahead.line {
                        0 => 0,
                        line => ahead.ends[line - 1],
                    };
                    ahead.line += 1;
                    let line = &ahead.chunk[start..end];
                    return Ok(Some(ahead.lines.bytes(py, line)));
                }
                let Some(pos) = ahead.next else {
                    return Ok(None);
                };
                ahead.line = 0;
                // A new reference for the refill: a long line is read with the GIL released,
                // while another thread's collection may clear the link.
                let map = self.map.get(py)?;
                match read_ahead(map.get(), py, pos, &mut ahead.chunk, &mut ahead.ends) {
                    Ok(next) => ahead.next = next,
                    Err(err) => {
                        // Nothing of a chunk that failed is handed out (its ends may be there
                        // without its bytes, or its bytes may be the guard's zeros); the next
                        // call reads it again, and fails again if the file is still short.
                        ahead.chunk.clear();
                        ahead.ends.clear();
                        return Err(err);
                    }
                }
            })
            .unwrap_or_else(|| Err(errors::value_error("lines() iterator already executing")))
    }
}

/// Fills `chunk` with the whole lines that start at `pos` and `ends` with where each
/// ends in `chunk`, and returns where the lines after them start (`None` when they reach
/// the end of the map; both are left empty when `pos` is already there). On an error
/// both may hold part of the chunk: the caller empties them.
fn read_ahead(
    map: &PyMmap,
    py: Python<'_>,
    pos: usize,
    chunk: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> PyResult<Option<usize>> {
    if chunk.capacity() > 2 * CHUNK {
        // The room a long line needed is not kept for the short ones after it.
        *chunk = Vec::new();
    }
    chunk.clear();
    ends.clear();
    let copied = map.handle.read(py, |map| {
        let len = map.len();
        let pos = pos.min(len);
        let end = len.min(pos.saturating_add(CHUNK));
        // The core's line scan finds the ends (a bit mask per 64 bytes, under the fault
        // guard); a line that reaches `end` before the map's end may be cut: it is left
        // for the next chunk.
        let mut whole = pos;
        for line in map.lines_in(pos..end) {
            let line_end = whole + line.map_err(errors::from_io)?.len();
            if line_end == end && end != len {
                break;
            }
            whole = line_end;
            ends.push(whole - pos);
        }
        if whole == pos && pos < len {
            return Ok(None);
        }
        map.with_bytes(pos..whole, |lines| chunk.extend_from_slice(lines))
            .map_err(errors::from_io)?;
        Ok(Some((whole, whole == len)))
    })?;
    let (next, at_end) = match copied {
        Some(found) => found,
        None => {
            // No whole line in a chunk: one long line, found and copied without the GIL
            // (the map may change size meanwhile, so its length is looked at again).
            let mut lease = map.handle.lease(py)?;
            let (line, next, at_end) = lease.run(py, usize::MAX, |lease| {
                let map = lease.map();
                let pos = pos.min(map.len());
                let end = match map.find_in(b"\n", pos..).map_err(errors::from_io)? {
                    Some(newline) => newline + 1,
                    None => map.len(),
                };
                let line = map.copy_range(pos..end).map_err(errors::from_io)?;
                Ok::<_, PyErr>((line, end, end == map.len()))
            })?;
            if line.is_empty() {
                // The map shrank to `pos` or below meanwhile: no line is left.
                return Ok(None);
            }
            ends.push(line.len());
            *chunk = line;
            (next, at_end)
        }
    };
    Ok((!at_end).then_some(next))
}

#[pymethods]
impl LinesIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// `it.__next__()` and `next(it)` through PyO3; a `for` loop calls [`raw_next`].
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.next_line(py)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.map.traverse(&visit)
    }

    fn __clear__(&self, py: Python<'_>) {
        self.map.clear(py);
    }
}

/// `m.lines()`, a `METH_NOARGS` method of the map class.
///
/// # Safety
///
/// Called by CPython with the thread attached and `slf` a live `PyMmap` (the method
/// descriptor checks the type).
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_lines(
    slf: *mut ffi::PyObject,
    _unused: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    unsafe {
        slot("mmap.lines", |py| {
            let map = Borrowed::from_ptr(py, slf).cast_unchecked::<PyMmap>();
            map.get().handle.check_open()?;
            Ok(Bound::new(py, LinesIter::new(map.to_owned()))?.into_ptr())
        })
    }
}

/// `tp_iternext` of [`LinesIter`]: the next line as a new reference, or NULL at the end
/// (no exception set) or on error (exception set).
///
/// # Safety
///
/// Called by CPython with the thread attached and `slf` a live `LinesIter` (the class
/// cannot be subclassed).
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_next(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    unsafe {
        slot("lines() iterator", |py| {
            let this = Borrowed::from_ptr(py, slf).cast_unchecked::<LinesIter>();
            Ok(this
                .get()
                .next_line(py)?
                .map_or(std::ptr::null_mut(), Bound::into_ptr))
        })
    }
}

/// Installs `m.lines()` on the map class and the raw `tp_iternext` on [`LinesIter`]. PyO3
/// filled the slot with its trampoline for `__next__`, which stays for `it.__next__()`.
pub(crate) fn install(map_class: &Bound<'_, PyType>) -> PyResult<()> {
    install_methods(
        map_class,
        vec![RawMethod {
            name: c"lines",
            method: ffi::PyMethodDefPointer {
                PyCFunction: raw_lines,
            },
            flags: ffi::METH_NOARGS,
            doc: c"lines($self, /)\n--\n\nmmapfile extra: an iterator over the lines of the whole map, as bytes.",
        }],
    )?;
    let ty = map_class.py().get_type::<LinesIter>();
    // SAFETY: `ty` is the live heap type PyO3 made for `LinesIter`, not yet used by any
    // object; `raw_next` has the slot's signature and does what the trampoline did.
    // PyType_Modified drops whatever CPython cached about the type.
    unsafe {
        (*ty.as_type_ptr()).tp_iternext = Some(raw_next);
        ffi::PyType_Modified(ty.as_type_ptr());
    }
    Ok(())
}

/// State mutated by one thread at a time, with the GIL held: a `RefCell` that is `Sync`
/// because the GIL is what keeps threads apart. `with` refuses (returns `None`) while it is
/// already running, so a thread that enters while another has released the GIL inside it
/// (a long line) gets an error instead of a second `&mut`, as a generator running in
/// another thread does. On free-threaded CPython a mutex stands in for the GIL, and any
/// two threads calling at once get that error, not only during a long line.
struct GilCell<T> {
    busy: Cell<bool>,
    value: UnsafeCell<T>,
    #[cfg(Py_GIL_DISABLED)]
    lock: std::sync::Mutex<()>,
}

// SAFETY: `busy` and `value` are only touched in `with`, which requires the GIL (a `Python`
// token), so two threads never touch them at once; on free-threaded CPython `with` holds
// `lock` instead. `T: Send` because the value is used from whichever thread holds the GIL.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    fn new(value: T) -> Self {
        Self {
            busy: Cell::new(false),
            value: UnsafeCell::new(value),
            #[cfg(Py_GIL_DISABLED)]
            lock: std::sync::Mutex::new(()),
        }
    }

    /// Runs `f` on the value, or returns `None` if a call is already running.
    fn with<R>(&self, _py: Python<'_>, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        #[cfg(Py_GIL_DISABLED)]
        let _held = match self.lock.try_lock() {
            Ok(held) => held,
            Err(std::sync::TryLockError::Poisoned(poison)) => poison.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        if self.busy.replace(true) {
            return None;
        }
        // Cleared even if `f` panics, so the cell stays usable.
        struct Done<'a>(&'a Cell<bool>);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _done = Done(&self.busy);
        // SAFETY: `busy` was false and is now true, and only `with` hands out the value, so
        // this is the only reference until `_done` clears the flag.
        Some(f(unsafe { &mut *self.value.get() }))
    }
}
