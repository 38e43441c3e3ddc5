//! Argument conversions with CPython's semantics (`n`, `b`, `y*` formats of
//! `PyArg_ParseTuple`, `PyNumber_AsSsize_t`, `PySlice_Unpack`/`PySlice_AdjustIndices`).
//!
//! The methods convert their arguments themselves, after checking that the map is open,
//! because that is CPython's order: `m.read('x')` on a closed map is "mmap closed or invalid".

use std::os::raw::c_int;

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
#[cfg(unix)]
use pyo3::types::{PyDict, PyTuple};
use pyo3::types::{PyFloat, PyInt, PySlice};
use pyo3::Borrowed;

/// Python 3.9's `PyArg_Parse*` refuses a float for every integer format with this message
/// before converting (3.10 dropped the check; `__index__` then says "'float' object cannot be
/// interpreted as an integer").
fn float_argument_error(obj: &Bound<'_, PyAny>) -> PyResult<()> {
    if cfg!(not(Py_3_10)) && obj.is_instance_of::<PyFloat>() {
        return Err(PyTypeError::new_err("integer argument expected, got float"));
    }
    Ok(())
}

/// The error a C conversion left set, when it returned its error value.
fn conversion_error(py: Python<'_>) -> Option<PyErr> {
    PyErr::take(py)
}

/// The `n` format: any `__index__` object that fits a `Py_ssize_t`, with CPython's messages
/// ("Python int too large to convert to C ssize_t").
#[inline]
pub(crate) fn ssize(obj: &Bound<'_, PyAny>) -> PyResult<isize> {
    if let Some(value) = exact_isize(obj.as_ptr()) {
        return Ok(value);
    }
    float_argument_error(obj)?;
    let index = if obj.is_instance_of::<PyInt>() {
        obj.clone()
    } else {
        // SAFETY: `obj` is a live object; PyNumber_Index returns a new reference or NULL with
        // an exception set ("'str' object cannot be interpreted as an integer").
        unsafe { Bound::from_owned_ptr_or_err(obj.py(), ffi::PyNumber_Index(obj.as_ptr())) }?
    };
    // SAFETY: `index` is an int object.
    let value = unsafe { ffi::PyLong_AsSsize_t(index.as_ptr()) };
    match value {
        -1 => conversion_error(obj.py()).map_or(Ok(-1), Err),
        value => Ok(value),
    }
}

/// `PyLong_AsLong` with the running interpreter's messages (3.9 also takes `__int__`).
fn long(obj: &Bound<'_, PyAny>) -> PyResult<std::os::raw::c_long> {
    float_argument_error(obj)?;
    // SAFETY: `obj` is a live object.
    let value = unsafe { ffi::PyLong_AsLong(obj.as_ptr()) };
    match value {
        -1 => conversion_error(obj.py()).map_or(Ok(-1), Err),
        value => Ok(value),
    }
}

/// The `i` format: a C int, with CPython's messages ("signed integer is greater than
/// maximum").
// A C long is an i32 on Windows and on 32-bit targets: the conversion is then the identity.
#[cfg_attr(
    any(windows, target_pointer_width = "32"),
    allow(clippy::useless_conversion)
)]
pub(crate) fn int(obj: &Bound<'_, PyAny>) -> PyResult<i32> {
    if let Some(value) = exact_isize(obj.as_ptr()).and_then(|value| i32::try_from(value).ok()) {
        return Ok(value);
    }
    let value = long(obj)?;
    i32::try_from(value).map_err(|_| {
        PyOverflowError::new_err(if value > 0 {
            "signed integer is greater than maximum"
        } else {
            "signed integer is less than minimum"
        })
    })
}

/// The `b` format (an unsigned char), with CPython's overflow messages.
pub(crate) fn unsigned_byte(obj: &Bound<'_, PyAny>) -> PyResult<u8> {
    let value = match exact_isize(obj.as_ptr())
        .and_then(|value| std::os::raw::c_long::try_from(value).ok())
    {
        Some(value) => value,
        None => long(obj)?,
    };
    if value < 0 {
        return Err(PyOverflowError::new_err(
            "unsigned byte integer is less than minimum",
        ));
    }
    u8::try_from(value)
        .map_err(|_| PyOverflowError::new_err("unsigned byte integer is greater than maximum"))
}

/// `read()`'s size (`_Py_convert_optional_to_ssize_t`): `None` or an `__index__` object that
/// fits a `Py_ssize_t`; `None` gives `None`.
pub(crate) fn optional_ssize(obj: &Bound<'_, PyAny>) -> PyResult<Option<isize>> {
    if obj.is_none() {
        return Ok(None);
    }
    if !is_index(obj) {
        return Err(PyTypeError::new_err(format!(
            "argument should be integer or None, not '{}'",
            type_name(obj)
        )));
    }
    // SAFETY: `obj` is a live object and the exception type one the interpreter exports.
    let value = unsafe { ffi::PyNumber_AsSsize_t(obj.as_ptr(), ffi::PyExc_OverflowError) };
    match value {
        -1 => conversion_error(obj.py()).map_or(Ok(Some(-1)), Err),
        value => Ok(Some(value)),
    }
}

/// An item value (`m[i] = value`): `PyNumber_AsSsize_t(value, TypeError)`, so an int too
/// large for a `Py_ssize_t` is "cannot fit 'int' into an index-sized integer".
pub(crate) fn item_value(obj: &Bound<'_, PyAny>) -> PyResult<isize> {
    // SAFETY: `obj` is a live object and the exception type one the interpreter exports.
    let value = unsafe { ffi::PyNumber_AsSsize_t(obj.as_ptr(), ffi::PyExc_TypeError) };
    match value {
        -1 => conversion_error(obj.py()).map_or(Ok(-1), Err),
        value => Ok(value),
    }
}

/// `Py_TYPE(obj)->tp_name`, as CPython's messages print it.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    // SAFETY: every live object has a type whose tp_name is a NUL-terminated C string that
    // lives as long as the type (which `obj` keeps alive).
    unsafe {
        let ty = ffi::Py_TYPE(obj.as_ptr());
        std::ffi::CStr::from_ptr((*ty).tp_name)
            .to_string_lossy()
            .into_owned()
    }
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
    if let Some(value) = exact_isize(obj.as_ptr()) {
        return Ok(value);
    }
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

/// The contents of an exact `bytes` object, borrowed: immutable and never a view of the map,
/// so they need neither a buffer export nor a copy.
#[inline(always)]
pub(crate) fn exact_bytes<'a>(obj: &'a Bound<'_, PyAny>) -> Option<&'a [u8]> {
    // SAFETY: `obj` is a live object; PyBytes_CheckExact only reads its type.
    if unsafe { ffi::PyBytes_CheckExact(obj.as_ptr()) } == 0 {
        return None;
    }
    // SAFETY: checked above.
    Some(unsafe { obj.cast_unchecked::<pyo3::types::PyBytes>() }.as_bytes())
}

/// The value of an exact `int` that fits an `isize`, read without the `__index__` protocol
/// (CPython's own fast path for it, much shorter than `PyNumber_AsSsize_t`); `None` for
/// anything else, which the caller converts the general way (with its exact errors). Runs no
/// Python code and leaves no exception set.
#[inline(always)]
pub(crate) fn exact_isize(obj: *mut ffi::PyObject) -> Option<isize> {
    // SAFETY: `obj` is a live object (the callers' contract); the check only reads its type.
    if unsafe { ffi::PyLong_CheckExact(obj) } == 0 {
        return None;
    }
    // SAFETY: `obj` is an exact int: its value, or -1 with an exception set (overflow),
    // which is cleared (the general path raises it again).
    let value = unsafe { ffi::PyLong_AsSsize_t(obj) };
    if value == -1 && !unsafe { ffi::PyErr_Occurred() }.is_null() {
        // SAFETY: the thread is attached (the callers are slots).
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    Some(value)
}

/// `(start, stop)` of the common slice `[a:b]` (no step; bounds exact ints or `None`), as
/// `PySlice_Unpack` would give them (ints beyond `isize` clamped, as it does), without its
/// calls; `None` for `key`s that are not such a slice. Runs no Python code and leaves no
/// exception set.
#[inline(always)]
pub(crate) fn simple_slice(key: *mut ffi::PyObject) -> Option<(isize, isize)> {
    // SAFETY: `key` is a live object (the callers' contract); a slice (whose type cannot be
    // subclassed) has the layout of PySliceObject, and its bounds are live objects.
    unsafe {
        if ffi::PySlice_Check(key) == 0 {
            return None;
        }
        let slice = key.cast::<ffi::PySliceObject>();
        let none = ffi::Py_None();
        if (*slice).step != none {
            return None;
        }
        let bound = |obj: *mut ffi::PyObject, default: isize| {
            if obj == none {
                return Some(default);
            }
            if ffi::PyLong_CheckExact(obj) == 0 {
                return None;
            }
            let mut overflow: c_int = 0;
            let value = ffi::PyLong_AsLongLongAndOverflow(obj, &mut overflow);
            Some(match overflow {
                0 => isize::try_from(value).unwrap_or(if value < 0 {
                    isize::MIN
                } else {
                    isize::MAX
                }),
                positive if positive > 0 => isize::MAX,
                _ => isize::MIN,
            })
        };
        Some((bound((*slice).start, 0)?, bound((*slice).stop, isize::MAX)?))
    }
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

/// The `y*` format's type check alone: `obj` must export a buffer, else the error
/// `PyObject_GetBuffer` gives ("a bytes-like object is required, not 'str'").
#[inline]
pub(crate) fn require_buffer(obj: &Bound<'_, PyAny>) -> PyResult<()> {
    // SAFETY: `obj` is a live object; PyObject_CheckBuffer only reads its type.
    if unsafe { ffi::PyObject_CheckBuffer(obj.as_ptr()) } != 0 {
        return Ok(());
    }
    with_buffer(obj, |_| ())
}

/// Runs `f` over a copy of the contents of any object that exports a contiguous buffer (the
/// `y*` format). The copy (on the stack when short) lets `f` write the map even when the
/// object is a view of the map itself, and use the bytes with the GIL released.
#[inline]
pub(crate) fn with_buffer<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Some(bytes) = exact_bytes(obj) {
        return Ok(f(bytes));
    }
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

/// The constructor's arguments, converted as CPython's `mmap.__new__` converts them (the
/// Unix signature; windows.rs has the Windows one).
#[cfg(unix)]
pub(crate) struct NewArgs {
    pub(crate) fileno: c_int,
    pub(crate) length: isize,
    pub(crate) flags: c_int,
    pub(crate) prot: c_int,
    pub(crate) access: c_int,
    pub(crate) offset: i64,
    pub(crate) trackfd: bool,
}

/// Parses `mmap(fileno, length, flags=MAP_SHARED, prot=PROT_WRITE|PROT_READ,
/// access=ACCESS_DEFAULT, offset=0, *, trackfd=True)` with the interpreter's own
/// `PyArg_ParseTupleAndKeywords` and CPython's format, so that every message (missing,
/// too many, unknown or duplicate keyword, each conversion) is the builtin's, version for
/// version. `trackfd` (new in 3.13) is offered on older versions too: there it is taken out
/// of the keywords before parsing, which leaves the other messages as that version words them.
#[cfg(unix)]
pub(crate) fn new_args(
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    default_flags: c_int,
    default_prot: c_int,
    default_access: c_int,
) -> PyResult<NewArgs> {
    let py = args.py();
    let mut parsed = NewArgs {
        fileno: -1,
        length: 0,
        flags: default_flags,
        prot: default_prot,
        access: default_access,
        offset: 0,
        trackfd: true,
    };
    // The common call, `mmap(fileno, length)` with two ints, without the general parser;
    // anything else (a keyword, a value out of range) goes through it for its messages.
    if args.len() == 2 && kwargs.is_none_or(|kw| kw.is_empty()) {
        // SAFETY: `args` is a tuple of 2 live items, borrowed from it.
        let (fileno, length) = unsafe {
            (
                ffi::PyTuple_GET_ITEM(args.as_ptr(), 0),
                ffi::PyTuple_GET_ITEM(args.as_ptr(), 1),
            )
        };
        if let (Some(fileno), Some(length)) = (exact_isize(fileno), exact_isize(length)) {
            if let Ok(fileno) = c_int::try_from(fileno) {
                parsed.fileno = fileno;
                parsed.length = length;
                return Ok(parsed);
            }
        }
    }
    let mut trackfd: c_int = 1;
    #[cfg(not(Py_3_13))]
    let kwargs = match kwargs {
        Some(kw) if kw.contains(pyo3::intern!(py, "trackfd"))? => {
            let kw = kw.copy()?;
            let value = kw.get_item(pyo3::intern!(py, "trackfd"))?;
            kw.del_item(pyo3::intern!(py, "trackfd"))?;
            if let Some(value) = value {
                trackfd = c_int::from(value.is_truthy()?);
            }
            Some(kw)
        }
        other => other.cloned(),
    };
    #[cfg(Py_3_13)]
    let kwargs = kwargs.cloned();
    let names: [*const std::os::raw::c_char; 8] = [
        c"fileno".as_ptr(),
        c"length".as_ptr(),
        c"flags".as_ptr(),
        c"prot".as_ptr(),
        c"access".as_ptr(),
        c"offset".as_ptr(),
        // Before 3.13 the builtin has no `trackfd`: the list must match the format.
        if cfg!(Py_3_13) {
            c"trackfd".as_ptr()
        } else {
            std::ptr::null()
        },
        std::ptr::null(),
    ];
    let kwargs_ptr = kwargs
        .as_ref()
        .map_or(std::ptr::null_mut(), |kw| kw.as_ptr());
    let mut offset: std::os::raw::c_long = 0;
    // SAFETY: `args` is a tuple and `kwargs` a dict or NULL; the format's conversions write
    // exactly the pointed-to types (i: c_int, n: Py_ssize_t, l: long, p: c_int), and the
    // keyword list is NUL-terminated with one name per format unit. The parser only reads
    // the names (the `*mut` of older signatures is historical).
    let ok = unsafe {
        #[cfg(Py_3_13)]
        let format = c"in|iiil$p".as_ptr();
        #[cfg(not(Py_3_13))]
        let format = c"in|iiil".as_ptr();
        ffi::PyArg_ParseTupleAndKeywords(
            args.as_ptr(),
            kwargs_ptr,
            format,
            names.as_ptr() as _,
            &mut parsed.fileno as *mut c_int,
            &mut parsed.length as *mut ffi::Py_ssize_t,
            &mut parsed.flags as *mut c_int,
            &mut parsed.prot as *mut c_int,
            &mut parsed.access as *mut c_int,
            &mut offset as *mut std::os::raw::c_long,
            &mut trackfd as *mut c_int,
        )
    };
    if ok == 0 {
        return Err(
            PyErr::take(py).unwrap_or_else(|| PyTypeError::new_err("invalid arguments for mmap()"))
        );
    }
    // `long` is 64-bit here; the conversion is for 32-bit targets.
    #[allow(clippy::useless_conversion)]
    {
        parsed.offset = i64::from(offset);
    }
    parsed.trackfd = trackfd != 0;
    Ok(parsed)
}
