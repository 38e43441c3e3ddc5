//! CPython 3.15's additions to `mmap`, offered on every supported version: they only add
//! (a keyword, constants, a method), so code written for 3.15 runs on older interpreters.
//! Where 3.15 changed what an older version does (`size()` of anonymous memory), the
//! running interpreter's behaviour is kept.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::errors;
use crate::handle::PyMmap;

/// The `msync` flags `flush(..., flags=)` takes (Unix only: Windows has no msync).
#[cfg(unix)]
pub(crate) const MS_CONSTANTS: [(&str, i32); 3] = [
    ("MS_SYNC", libc::MS_SYNC),
    ("MS_ASYNC", libc::MS_ASYNC),
    ("MS_INVALIDATE", libc::MS_INVALIDATE),
];

/// What 3.15 puts before a name given to `set_name()`, so that `/proc/<pid>/maps` shows
/// `[anon:cpython:mmap:<name>]`.
const NAME_PREFIX: &str = "cpython:mmap:";

/// The kernel keeps at most 80 bytes of a name, its NUL included.
const NAME_MAX: usize = 79;

/// `flush(offset, size, /, *, flags=MS_SYNC)` called with `METH_FASTCALL | METH_KEYWORDS`:
/// the value of `flags` if given. Any other keyword is refused as the other methods refuse
/// keywords (3.15's message on 3.15).
///
/// # Safety
///
/// `args` holds `nargs` positional then `len(kwnames)` keyword values, all live borrowed
/// references; `kwnames` is NULL or a tuple of `str` (CPython's vectorcall contract); the
/// thread is attached.
pub(crate) unsafe fn flush_keywords(
    py: Python<'_>,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Option<*mut ffi::PyObject>> {
    if kwnames.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract, `kwnames` is a live tuple.
    let names = unsafe { pyo3::Borrowed::from_ptr(py, kwnames).cast_unchecked::<PyTuple>() };
    let mut flags = None;
    for (i, name) in names.iter().enumerate() {
        if name.eq(pyo3::intern!(py, "flags"))? {
            // SAFETY: the keyword values follow the `nargs` positional ones.
            flags = Some(unsafe { *args.add(nargs as usize + i) });
        } else if cfg!(Py_3_15) {
            return Err(PyTypeError::new_err(format!(
                "flush() got an unexpected keyword argument '{name}'"
            )));
        } else {
            // As the other methods word it (see [bound-method-keywords]).
            return Err(PyTypeError::new_err(
                "mmap.flush() takes no keyword arguments",
            ));
        }
    }
    Ok(flags)
}

/// `set_name(name, /)`: names anonymous memory in `/proc/<pid>/maps` (Linux 5.17+ built with
/// `CONFIG_ANON_VMA_NAME`), with 3.15's checks and messages; where the kernel cannot name
/// maps, `OSError` says so.
pub(crate) fn set_name(map: &PyMmap, name: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = name.py();
    let Ok(name) = name.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "set_name() argument must be str, not {}",
            crate::args::type_name(name)
        )));
    };
    let name = name.to_str()?;
    if name.contains('\0') {
        return Err(PyValueError::new_err("embedded null character"));
    }
    map.handle.check_open()?;
    let full = format!("{NAME_PREFIX}{name}");
    if full.len() > NAME_MAX {
        return Err(PyValueError::new_err("name is too long"));
    }
    map.handle.read(py, |map| {
        if !map.is_anonymous() {
            return Err(PyValueError::new_err(
                "Cannot set annotation on non-anonymous mappings",
            ));
        }
        map.set_anon_name(&full).map_err(errors::from_io)
    })
}

/// 3.15's `size()` where no descriptor is kept: the length of anonymous memory, and a
/// `ValueError` with `trackfd=False` (before 3.15 both are `OSError(EBADF)`). `None` when the
/// map keeps a descriptor.
#[cfg(Py_3_15)]
pub(crate) fn size_without_descriptor(py: Python<'_>, map: &PyMmap) -> PyResult<Option<u64>> {
    map.handle.read(py, |inner| {
        if inner.is_anonymous() {
            Ok(Some(inner.len() as u64))
        } else if !map.has_fd {
            Err(PyValueError::new_err("can't get size with trackfd=False"))
        } else {
            Ok(None)
        }
    })
}
