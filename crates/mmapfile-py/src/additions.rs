//! CPython 3.15's additions to `mmap`, offered on every supported version: they only add
//! (a keyword, constants, a method), so code written for 3.15 runs on older interpreters.
//! Where 3.15 changed what an older version does (`size()` of anonymous memory), the
//! running interpreter's behaviour is kept.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors;
use crate::object::PyMmap;

/// The `msync` flags `flush(..., flags=)` takes.
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

/// `flush`'s `flags=` keyword (if given) and the keywords left.
type FlushKeywords<'py> = (Option<Bound<'py, PyAny>>, Option<Bound<'py, PyDict>>);

/// `flush(offset, size, /, *, flags=MS_SYNC)`: takes `flags` out of the keywords, returning
/// it and the keywords left (which `flush` refuses as before).
pub(crate) fn flush_flags<'py>(
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<FlushKeywords<'py>> {
    let Some(kwargs) = kwargs else {
        return Ok((None, None));
    };
    let key = pyo3::intern!(kwargs.py(), "flags");
    let Some(flags) = kwargs.get_item(key)? else {
        return Ok((None, Some(kwargs.clone())));
    };
    let rest = kwargs.copy()?;
    rest.del_item(key)?;
    Ok((Some(flags), Some(rest)))
}

/// `set_name(name, /)`: names anonymous memory in `/proc/<pid>/maps` (Linux 5.17+ built with
/// `CONFIG_ANON_VMA_NAME`), with 3.15's checks and messages; where the kernel cannot name
/// maps, `OSError` says so.
pub(crate) fn set_name(map: &PyMmap, name: &Bound<'_, PyAny>) -> PyResult<()> {
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
    map.check_valid()?;
    let full = format!("{NAME_PREFIX}{name}");
    if full.len() > NAME_MAX {
        return Err(PyValueError::new_err("name is too long"));
    }
    map.with_map(|map| {
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
pub(crate) fn size_without_descriptor(map: &PyMmap) -> PyResult<Option<u64>> {
    map.with_map(|inner| {
        if inner.is_anonymous() {
            Ok(Some(inner.len() as u64))
        } else if !map.keeps_descriptor() {
            Err(PyValueError::new_err("can't get size with trackfd=False"))
        } else {
            Ok(None)
        }
    })
}
