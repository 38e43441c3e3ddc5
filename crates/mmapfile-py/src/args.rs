//! Argument conversions with CPython's semantics (`n`, `b`, `y*` formats of
//! `PyArg_ParseTuple`, `PyNumber_AsSsize_t`, `PySlice_Unpack`/`PySlice_AdjustIndices`).
//!
//! The methods convert their arguments themselves, after checking that the map is open,
//! because that is CPython's order: `m.read('x')` on a closed map is "mmap closed or invalid".

use std::os::raw::c_int;

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PySlice;
use pyo3::Borrowed;

/// The `n` format: any `__index__` object that fits a `Py_ssize_t`.
pub(crate) fn ssize(obj: &Bound<'_, PyAny>) -> PyResult<isize> {
    obj.extract::<isize>()
}

/// The `i` format: any `__index__` object that fits a C int.
pub(crate) fn int(obj: &Bound<'_, PyAny>) -> PyResult<i32> {
    obj.extract::<i32>()
}

/// The `b` format (an unsigned char), with CPython's overflow messages.
pub(crate) fn unsigned_byte(obj: &Bound<'_, PyAny>) -> PyResult<u8> {
    let value = obj.extract::<std::os::raw::c_long>()?;
    if value < 0 {
        return Err(PyOverflowError::new_err(
            "unsigned byte integer is less than minimum",
        ));
    }
    u8::try_from(value)
        .map_err(|_| PyOverflowError::new_err("unsigned byte integer is greater than maximum"))
}

/// Whether `obj` has `__index__` (`PyIndex_Check`).
#[inline]
pub(crate) fn is_index(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `obj` is a live object; PyIndex_Check only reads its type.
    unsafe { ffi::PyIndex_Check(obj.as_ptr()) != 0 }
}

/// `PyNumber_AsSsize_t(obj, exc)`: with `overflow_as_index_error` a too-large value raises
/// IndexError (item access), otherwise it is clamped (item values, then range-checked).
#[inline]
pub(crate) fn index_value(
    obj: &Bound<'_, PyAny>,
    overflow_as_index_error: bool,
) -> PyResult<isize> {
    let exc = if overflow_as_index_error {
        // SAFETY: reading an exception type object exported by the interpreter.
        unsafe { ffi::PyExc_IndexError }
    } else {
        std::ptr::null_mut()
    };
    // SAFETY: `obj` is a live object and `exc` an exception type or NULL, as the API requires.
    let value = unsafe { ffi::PyNumber_AsSsize_t(obj.as_ptr(), exc) };
    if value == -1 {
        if let Some(err) = PyErr::take(obj.py()) {
            return Err(err);
        }
    }
    Ok(value)
}

/// A slice's (start, stop, step) as `PySlice_Unpack` gives them (this may run `__index__`
/// code, so it happens before the map is locked). Step 0 raises "slice step cannot be zero".
pub(crate) fn unpack_slice(slice: &Bound<'_, PySlice>) -> PyResult<(isize, isize, isize)> {
    let (mut start, mut stop, mut step): (ffi::Py_ssize_t, ffi::Py_ssize_t, ffi::Py_ssize_t) =
        (0, 0, 0);
    // SAFETY: `slice` is a live slice object and the out-pointers are valid locals.
    let rc: c_int =
        unsafe { ffi::PySlice_Unpack(slice.as_ptr(), &mut start, &mut stop, &mut step) };
    if rc < 0 {
        return Err(
            PyErr::take(slice.py()).unwrap_or_else(|| PyTypeError::new_err("invalid slice"))
        );
    }
    Ok((start, stop, step))
}

/// The indices a slice selects in a sequence of `len` items: (first, step, count), as
/// `PySlice_AdjustIndices` computes them. Every selected index is inside `0..len`.
pub(crate) fn adjust_slice(
    len: usize,
    start: isize,
    stop: isize,
    step: isize,
) -> (usize, isize, usize) {
    let len = len as isize;
    let clamp = |index: isize| {
        if index < 0 {
            let index = index + len;
            if index < 0 {
                if step < 0 {
                    -1
                } else {
                    0
                }
            } else {
                index
            }
        } else if index >= len {
            if step < 0 {
                len - 1
            } else {
                len
            }
        } else {
            index
        }
    };
    let (start, stop) = (clamp(start), clamp(stop));
    let count = if step < 0 {
        if stop < start {
            (start - stop - 1) / (-step) + 1
        } else {
            0
        }
    } else if start < stop {
        (stop - start - 1) / step + 1
    } else {
        0
    };
    (start.max(0) as usize, step, count as usize)
}

/// `PyArg_ParseTuple` for a method called `method` taking `min..=N` positional arguments,
/// given as CPython passes them to a `METH_FASTCALL` function (keywords are refused by the
/// method descriptor itself, with CPython's message). Missing optional arguments are `None`.
#[inline]
pub(crate) fn positional<'a, 'py, const N: usize>(
    method: &str,
    py: Python<'py>,
    args: &'a [*mut ffi::PyObject],
    min: usize,
) -> PyResult<[Option<Borrowed<'a, 'py, PyAny>>; N]> {
    let given = args.len();
    if given < min || given > N {
        let (how, count) = if min == N {
            ("exactly", min)
        } else if given < min {
            ("at least", min)
        } else {
            ("at most", N)
        };
        let noun = if count == 1 { "argument" } else { "arguments" };
        return Err(PyTypeError::new_err(format!(
            "{method}() takes {how} {count} {noun} ({given} given)"
        )));
    }
    Ok(std::array::from_fn(|i| {
        // SAFETY: CPython passes live references that stay borrowed for the whole call.
        args.get(i)
            .map(|&arg| unsafe { Borrowed::from_ptr(py, arg) })
    }))
}

/// Runs `f` over a copy of the contents of any object that exports a contiguous buffer (the
/// `y*` format). The copy (on the stack when short) lets `f` write the map even when the
/// object is a view of the map itself, and use the bytes with the GIL released.
#[inline]
pub(crate) fn with_buffer<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    const SHORT: usize = 256;
    let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
    // SAFETY: `obj` is live and `view` is writable storage for one Py_buffer; on success the
    // view is filled in and released below exactly once.
    let rc = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_SIMPLE) };
    if rc != 0 {
        return Err(PyErr::take(obj.py())
            .unwrap_or_else(|| PyTypeError::new_err("a bytes-like object is required")));
    }
    // SAFETY: PyObject_GetBuffer succeeded, so the view is initialised.
    let mut view = unsafe { view.assume_init() };
    let len = usize::try_from(view.len).unwrap_or(0);
    let contents: &[u8] = if len == 0 || view.buf.is_null() {
        &[]
    } else {
        // SAFETY: a PyBUF_SIMPLE view is `len` contiguous readable bytes at `buf` until the
        // view is released.
        unsafe { std::slice::from_raw_parts(view.buf.cast::<u8>(), len) }
    };
    let mut short = std::mem::MaybeUninit::<[u8; SHORT]>::uninit();
    let long;
    let copy: &[u8] = if len <= SHORT {
        // SAFETY: `len <= SHORT` bytes are copied into the array, and only they are read.
        unsafe {
            let short = short.as_mut_ptr().cast::<u8>();
            std::ptr::copy_nonoverlapping(contents.as_ptr(), short, len);
            std::slice::from_raw_parts(short, len)
        }
    } else {
        long = contents.to_vec();
        &long
    };
    // SAFETY: releases the view obtained above, once; `contents` is not used after this.
    unsafe { ffi::PyBuffer_Release(&mut view) };
    Ok(f(copy))
}
