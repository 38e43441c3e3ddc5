//! The Python exceptions of the module: CPython's exact types and messages, and the
//! translation of the core's `io::Error`s.

use std::io;

use pyo3::exceptions::{PyBufferError, PyOSError, PyTypeError, PyValueError};
use pyo3::PyErr;

/// Every use of a closed map (CPython's `CHECK_VALID`).
pub(crate) fn closed() -> PyErr {
    PyValueError::new_err("mmap closed or invalid")
}

/// Any change to an ACCESS_READ map.
pub(crate) fn readonly() -> PyErr {
    PyTypeError::new_err("mmap can't modify a readonly memory map.")
}

pub(crate) fn value_error(message: &'static str) -> PyErr {
    PyValueError::new_err(message)
}

pub(crate) fn type_error(message: &'static str) -> PyErr {
    PyTypeError::new_err(message)
}

pub(crate) fn buffer_error(message: &'static str) -> PyErr {
    PyBufferError::new_err(message)
}

/// `OSError(errno, strerror)`; Python picks the subclass (PermissionError for EACCES, …)
/// from the errno, exactly as `PyErr_SetFromErrno` does.
pub(crate) fn os_error(errno: i32) -> PyErr {
    PyOSError::new_err((errno, strerror(errno)))
}

/// The OS's text for an error code (`errno`, or a Windows error), without Rust's
/// " (os error N)" suffix.
pub(crate) fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// Translates an error of the core crate. System-call failures keep their errno (so Python
/// sees the same `OSError` subclass and `errno` as with the builtin module); the core's own
/// argument errors cannot normally reach here because the bindings check arguments first with
/// CPython's messages, so they become `ValueError`/`OSError` with the core's message.
pub(crate) fn from_io(err: io::Error) -> PyErr {
    #[cfg(windows)]
    if let Some(code) = crate::windows::error_code(&err) {
        return crate::windows::win_error(code);
    }
    if let Some(errno) = err.raw_os_error() {
        return os_error(errno);
    }
    match err.kind() {
        io::ErrorKind::PermissionDenied => os_error(libc::EACCES),
        io::ErrorKind::InvalidInput => PyValueError::new_err(err.to_string()),
        // Among them UnexpectedEof: the file was truncated under the map (CPython dies of
        // SIGBUS there). It is a failure of the file, so OSError, i.e. `mmap.error`.
        _ => PyOSError::new_err(err.to_string()),
    }
}
