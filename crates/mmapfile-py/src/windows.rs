//! CPython's Windows `mmap` constructor: `mmap(fileno, length, tagname=None,
//! access=ACCESS_DEFAULT, offset=0)`, and Windows error codes as `OSError`.
//!
//! What differs from Unix, as CPython's `Modules/mmapmodule.c` does it on Windows:
//! `tagname` names the section (shared with every map of that name); a window past the end
//! of the file grows it for writable access; the offset must be a multiple of
//! `ALLOCATIONGRANULARITY` (`OSError` winerror 1132 otherwise); the descriptor's file
//! position is set to 0; there are no `flags`/`prot`. Tested under wine with the embeddable
//! CPython for Windows, not on a real Windows machine.

use std::os::raw::c_int;
use std::os::windows::io::{BorrowedHandle, RawHandle};

use mmapfile::{Access, MmapOptions, WindowError};
use pyo3::exceptions::{PyOSError, PyTypeError};
use pyo3::prelude::*;

use crate::errors;
use crate::handle::{MapHandle, PyMmap, ACCESS_COPY, ACCESS_DEFAULT, ACCESS_READ, ACCESS_WRITE};

/// `ERROR_MAPPED_ALIGNMENT`: MapViewOfFile's answer to an offset that is not a multiple of
/// the allocation granularity.
const ERROR_MAPPED_ALIGNMENT: i32 = 1132;

/// `ERROR_USER_MAPPED_FILE`: Windows refuses to cut a file under a live view. The core
/// reports it as `ResourceBusy` with its own words; CPython users see the code.
const ERROR_USER_MAPPED_FILE: i32 = 1224;
/// `ERROR_NOT_ENOUGH_MEMORY`: CreateFileMappingW's answer to a read-only or copy-on-write
/// section larger than its file, which the builtin module passes on.
const ERROR_NOT_ENOUGH_MEMORY: i32 = 8;

/// The Windows error code behind a core error, if it has one.
pub(crate) fn error_code(err: &std::io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| {
        (err.kind() == std::io::ErrorKind::ResourceBusy).then_some(ERROR_USER_MAPPED_FILE)
    })
}

/// `OSError` for a Windows error code, as `PyErr_SetFromWindowsErr` makes it: Python derives
/// `errno` (and the subclass) from `winerror`.
pub(crate) fn win_error(code: i32) -> PyErr {
    PyOSError::new_err((0, errors::strerror(code), Option::<String>::None, code))
}

pub(crate) fn new_map(
    py: Python<'_>,
    fileno: c_int,
    length: isize,
    tagname: Option<&Bound<'_, PyAny>>,
    access: c_int,
    offset: i64,
) -> PyResult<PyMmap> {
    let tagname: Option<String> = match tagname {
        Some(name) if !name.is_none() => Some(name.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "expected str or None for 'tagname', not {}",
                name.get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })?),
        _ => None,
    };
    // CPython hands an empty tagname to Windows as no name.
    let tagname = tagname.filter(|name| !name.is_empty());
    crate::object::check_signs(length, offset)?;
    let core_access = match access {
        ACCESS_READ => Access::Read,
        ACCESS_DEFAULT | ACCESS_WRITE => Access::Write,
        ACCESS_COPY => Access::Copy,
        _ => return Err(errors::value_error("mmap invalid access parameter.")),
    };
    let offset = offset as u64;
    let length = length as u64;
    let mut options = MmapOptions::new();
    if let Some(name) = &tagname {
        options.shared_name(name);
    }
    let handle = if fileno == -1 {
        None
    } else {
        // The descriptor belongs to Python's C runtime, not this module's: ask Python.
        let msvcrt = py.import("msvcrt")?;
        let raw: isize = msvcrt.call_method1("get_osfhandle", (fileno,))?.extract()?;
        // CPython seeks the descriptor to 0 before mapping.
        py.import("os")?.call_method1("lseek", (fileno, 0, 0))?;
        Some(raw)
    };
    // SAFETY: a handle Python's runtime owns for `fileno`, borrowed for this call only (the
    // core duplicates it when it keeps one).
    let file = handle.map(|raw| unsafe { BorrowedHandle::borrow_raw(raw as RawHandle) });
    if file.is_none() && length == 0 {
        // A section of the paging file needs a size.
        return Err(win_error(87));
    }
    // Writable maps grow the file to the window, as a larger section does on Windows.
    options
        .offset(offset)
        .len(usize::try_from(length).map_err(|_| win_error(ERROR_NOT_ENOUGH_MEMORY))?)
        .grow(core_access == Access::Write);
    // The window against the file, checked by the core; CPython's refusals of an empty
    // window come first, then the offset's alignment, then what the section would refuse.
    let window = match file.as_ref().map(|file| options.check_window(file)) {
        // The file's size could not be read: CPython fails there, before anything else.
        Some(Err(err)) if WindowError::of(&err).is_none() => return Err(errors::from_io(err)),
        window => window,
    };
    match &window {
        Some(Ok(window)) if window.is_empty() && window.offset() == 0 => {
            return Err(errors::value_error("cannot mmap an empty file"))
        }
        Some(Ok(window)) if window.is_empty() => {
            return Err(errors::value_error("mmap offset is greater than file size"))
        }
        Some(Err(err)) => match WindowError::of(err) {
            Some(WindowError::OffsetPastEnd { size: 0, .. }) => {
                return Err(errors::value_error("cannot mmap an empty file"))
            }
            Some(WindowError::OffsetPastEnd { .. }) => {
                return Err(errors::value_error("mmap offset is greater than file size"))
            }
            _ => {}
        },
        _ => {}
    }
    if offset % mmapfile::allocation_granularity() as u64 != 0 {
        return Err(win_error(ERROR_MAPPED_ALIGNMENT));
    }
    let window = match window {
        None => None,
        Some(Ok(window)) => Some(window),
        Some(Err(err)) => {
            return Err(match WindowError::of(&err) {
                // Only a writable section extends its file; the others fail as the OS
                // fails them.
                Some(WindowError::PastEnd { .. } | WindowError::Overflow { .. })
                    if core_access != Access::Write =>
                {
                    win_error(ERROR_NOT_ENOUGH_MEMORY)
                }
                Some(WindowError::TooLong { .. }) => win_error(ERROR_NOT_ENOUGH_MEMORY),
                _ => errors::from_io(err),
            });
        }
    };
    let map = py.detach(|| match window {
        None => options.map_anon_dyn(core_access),
        // SAFETY: the file contract (no truncation under the map) is the Python caller's, as
        // with CPython's mmap.
        Some(window) => unsafe { options.map_window(window, core_access) },
    });
    let map = map.map_err(errors::from_io)?;
    Ok(PyMmap {
        handle: MapHandle::new(map, access != ACCESS_READ),
        access,
        has_fd: fileno != -1,
        trackfd: true,
        offset,
        tagname_units: tagname.map_or(0, |name| name.encode_utf16().count() + 1),
    })
}
