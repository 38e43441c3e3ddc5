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
//!   [`next_line`], a plain C function, past PyO3's method trampoline.
//!
//! A line therefore shows the map as it was when its chunk was read: changes made while
//! iterating show from the next chunk on, as with a buffered file, and after a `resize()`
//! that cuts a line the part before the new end comes out as the map's last line. Once the
//! map is closed, `next()` raises ValueError. A line longer than a chunk is found and copied
//! with the GIL released. The cursor is not used.

use std::cell::{Cell, UnsafeCell};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};
use pyo3::Borrowed;

use crate::errors;
use crate::object::PyMmap;
use crate::recycle::BytesRing;

/// At most this many bytes are read ahead (the chunk then ends at its last newline). Copying
/// it takes a few microseconds with the GIL held; it stays in the L2 cache while its lines
/// are handed out.
const CHUNK: usize = 64 * 1024;

/// The iterator returned by `m.lines()`.
#[pyclass(module = "mmap", frozen)]
pub struct LinesIter {
    map: Py<PyMmap>,
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
    pub(crate) fn new(map: Py<PyMmap>) -> Self {
        Self {
            map,
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
                if !self.map.get().is_open() {
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
                match self.read_ahead(py, pos, &mut ahead.chunk, &mut ahead.ends) {
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

    /// Fills `chunk` with the whole lines that start at `pos` and `ends` with where each
    /// ends in `chunk`, and returns where the lines after them start (`None` when they reach
    /// the end of the map; both are left empty when `pos` is already there). On an error
    /// both may hold part of the chunk: the caller empties them.
    fn read_ahead(
        &self,
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
        let map = self.map.get();
        let copied = map.with_map(|map| {
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
                let (line, next, at_end) = map.with_map_detached(py, usize::MAX, |map| {
                    let pos = pos.min(map.len());
                    let end = match map.find_in(b"\n", pos..).map_err(errors::from_io)? {
                        Some(newline) => newline + 1,
                        None => map.len(),
                    };
                    let line = map.copy_range(pos..end).map_err(errors::from_io)?;
                    Ok((line, end, end == map.len()))
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
}

#[pymethods]
impl LinesIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// `it.__next__()` and `next(it)` through PyO3; a `for` loop calls [`next_line`].
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.next_line(py)
    }
}

/// `m.lines()`.
pub(crate) fn lines(map: Bound<'_, PyMmap>) -> PyResult<Bound<'_, LinesIter>> {
    map.get().check_valid()?;
    Bound::new(map.py(), LinesIter::new(map.unbind()))
}

/// `tp_iternext` of [`LinesIter`]: the next line as a new reference, or NULL at the end
/// (no exception set) or on error (exception set).
///
/// Unlike PyO3's trampoline it does not apply reference drops that PyO3 deferred from
/// threads without the GIL; the next call through PyO3 does, so they are only delayed.
///
/// # Safety
///
/// Called only by CPython, through the slot [`install`] sets: with the thread attached (GIL
/// held) and `slf` a live `LinesIter` (the class cannot be subclassed).
unsafe extern "C" fn next_line(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls tp_iternext with the thread attached.
    let py = unsafe { Python::assume_attached() };
    // The line goes out through `next`, not as the closure's value: a pointer-sized result
    // keeps the hot path in registers (a `PyResult` is returned through memory).
    let mut next = std::ptr::null_mut();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `slf` is a live object borrowed for the call, whose type has this slot:
        // a `LinesIter`.
        let this = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<LinesIter>() };
        match this.get().next_line(py) {
            Ok(Some(line)) => next = line.into_ptr(),
            Ok(None) => {}
            Err(err) => err.restore(py),
        }
    }));
    if outcome.is_err() {
        // Nothing here panics; should it ever, the panic must not unwind into C.
        pyo3::exceptions::PySystemError::new_err("lines() iterator panicked").restore(py);
    }
    next
}

/// Points the `tp_iternext` slot of the [`LinesIter`] class at [`next_line`]. PyO3 filled
/// the slot with its trampoline for `__next__`, which stays in place for `it.__next__()`.
pub(crate) fn install(ty: &Bound<'_, PyType>) {
    let ty = ty.as_type_ptr();
    // SAFETY: `ty` is the live heap type PyO3 made for `LinesIter`, not yet used by any
    // object; `next_line` has the slot's signature and does what the trampoline did.
    // PyType_Modified drops whatever CPython cached about the type.
    unsafe {
        (*ty).tp_iternext = Some(next_line);
        ffi::PyType_Modified(ty);
    }
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
