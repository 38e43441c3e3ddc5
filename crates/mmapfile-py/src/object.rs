//! The `mmap` class's own methods: CPython's `mmap.mmap` over the map handle.
//!
//! Every call that Python code makes often is a raw CPython slot (`mp_length`,
//! `mp_subscript`, `mp_ass_subscript`, `sq_contains`, the buffer slots) or a `METH_FASTCALL`
//! / `METH_NOARGS` method descriptor, each through the one wrapper [`slot`]: no PyO3
//! trampoline, no tuple of arguments, no lock (the handle's rules, `handle.rs`), and `bytes`
//! results made once, straight from the mapped memory. The hottest slots first try a fast
//! path for the common case (exact ints, a plain `[a:b]` slice, the map open with nothing
//! GIL-released in flight) that calls only C functions and the core's byte paths, and hand
//! everything else, errors included, to the general path through [`slot`]. The PyO3 methods that remain
//! (`__getitem__`, … as called by name, the constructor, `__repr__`) share the same code.

use std::ops::Range;
#[cfg(unix)]
use std::os::fd::BorrowedFd;
use std::os::raw::c_int;

use mmapfile::{Access, DynMmap};
#[cfg(unix)]
use mmapfile::{MmapOptions, WindowError};
use pyo3::exceptions::{PyIndexError, PyOverflowError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySlice, PyType};
#[cfg(unix)]
use pyo3::types::{PyDict, PyTuple};

use crate::args::{self, adjust_slice};
use crate::errors::{self, readonly};
use crate::handle::{
    bytes_from_map, fastcall_args, install_methods, slot, PyMmap, RawMethod, ACCESS_COPY,
    ACCESS_DEFAULT, ACCESS_READ, ACCESS_WRITE, DETACH_MIN,
};

type Object = *mut ffi::PyObject;

/// `None`, as a new reference.
/// The largest mapping a process can hold (Linux's `TASK_SIZE`): mmap(2) refuses longer ones
/// with ENOMEM, mremap(2) with EINVAL.
#[cfg(target_arch = "x86_64")]
const ADDRESS_SPACE: u64 = (1 << 47) - 4096;
#[cfg(not(target_arch = "x86_64"))]
const ADDRESS_SPACE: u64 = 1 << 48;

fn none() -> Object {
    // SAFETY: Py_None is a live (immortal on 3.12+) object; the reference is returned new.
    unsafe {
        let none = ffi::Py_None();
        ffi::Py_IncRef(none);
        none
    }
}

/// A Python int, as a new reference (NULL with an exception set on failure).
fn int(value: usize) -> PyResult<Object> {
    // SAFETY: PyLong_FromSize_t returns a new reference or NULL with an exception set.
    let object = unsafe { ffi::PyLong_FromSize_t(value) };
    if object.is_null() {
        // SAFETY: only called with the GIL held.
        Err(PyErr::fetch(unsafe { Python::assume_attached() }))
    } else {
        Ok(object)
    }
}

/// A required argument, which `args::positional` has already checked is present.
fn required<'a, 'py>(
    arg: Option<pyo3::Borrowed<'a, 'py, PyAny>>,
) -> PyResult<pyo3::Borrowed<'a, 'py, PyAny>> {
    arg.ok_or_else(|| PyTypeError::new_err("missing required argument"))
}

/// Python's item index `index` (negative: from the end) in a sequence of `len` items, or
/// `None` when it is out of range.
#[inline(always)]
fn item_index(index: isize, len: usize) -> Option<usize> {
    let len = len as isize;
    let index = if index < 0 { index + len } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

/// `(first, count)` of the slice `[start:stop]` (step 1) of a sequence of `len` items, as
/// `PySlice_AdjustIndices` gives them: two clamps.
#[inline(always)]
fn clamp_slice(len: usize, start: isize, stop: isize) -> (usize, usize) {
    let len = len as isize;
    let clamp = |at: isize| {
        if at < 0 {
            (at + len).max(0)
        } else {
            at.min(len)
        }
    };
    let (first, end) = (clamp(start), clamp(stop));
    (
        first as usize,
        if end > first {
            (end - first) as usize
        } else {
            0
        },
    )
}

/// The index range `low..high` covering `count > 0` indices from `first` by `step`.
fn span(first: usize, step: isize, count: usize) -> (usize, usize) {
    let last = (first as isize + (count as isize - 1) * step) as usize;
    (first.min(last), first.max(last) + 1)
}

/// What a slice of the map selects, for a copy of its bytes: `range` and, when the step is
/// not 1, where the first byte is and the step.
#[derive(Clone)]
struct Selection {
    range: Range<usize>,
    first: usize,
    step: isize,
    count: usize,
}

impl Selection {
    fn new(len: usize, start: isize, stop: isize, step: isize) -> Self {
        let (first, step, count) = adjust_slice(len, start, stop, step);
        let range = if count == 0 {
            first.min(len)..first.min(len)
        } else {
            let (low, high) = span(first, step, count);
            low..high
        };
        Self {
            range,
            first,
            step,
            count,
        }
    }

    /// Copies the selected bytes of `mapped` (the bytes of `range`) into `out`.
    fn gather(&self, mapped: &[u8], out: &mut [u8]) {
        if self.step == 1 {
            out.copy_from_slice(mapped);
            return;
        }
        let low = self.range.start as isize;
        for (k, slot) in out.iter_mut().enumerate() {
            *slot = mapped[(self.first as isize + k as isize * self.step - low) as usize];
        }
    }
}

impl PyMmap {
    fn is_writable(&self) -> bool {
        self.access != ACCESS_READ
    }

    fn require_writable(&self) -> PyResult<()> {
        if self.is_writable() {
            Ok(())
        } else {
            Err(readonly())
        }
    }

    fn type_name(slf: Object) -> String {
        // SAFETY: every live object has a type whose tp_name is a NUL-terminated C string
        // that lives as long as the type (which `slf` keeps alive).
        unsafe {
            let ty = ffi::Py_TYPE(slf);
            std::ffi::CStr::from_ptr((*ty).tp_name)
                .to_string_lossy()
                .into_owned()
        }
    }

    /// A new `bytes` with the bytes `select` picks from the open map (it may be called twice:
    /// once with the GIL held, and again under a lease for a big copy).
    #[inline]
    fn copy_out<'py>(
        &self,
        py: Python<'py>,
        select: impl Fn(&DynMmap) -> PyResult<Selection>,
    ) -> PyResult<(Bound<'py, PyBytes>, Selection)> {
        let small = self.handle.read(py, |map| {
            let selection = select(map)?;
            if selection.step != 1 || selection.count >= DETACH_MIN {
                return Ok(None);
            }
            let bytes = map
                .with_bytes(selection.range.clone(), |mapped| PyBytes::new(py, mapped))
                .map_err(errors::from_io)?;
            Ok(Some((bytes, selection)))
        })?;
        if let Some(done) = small {
            return Ok(done);
        }
        let mut lease = self.handle.lease(py)?;
        let selection = select(lease.map())?;
        let gather = selection.clone();
        let bytes = bytes_from_map(
            py,
            &mut lease,
            selection.range.clone(),
            selection.count,
            move |mapped, out| gather.gather(mapped, out),
        )?;
        Ok((bytes, selection))
    }

    // ----- the raw slots -----

    #[inline(always)]
    fn length(&self, py: Python<'_>) -> PyResult<usize> {
        self.handle.read(py, |map| Ok(map.len()))
    }

    #[inline(always)]
    fn subscript(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Object> {
        self.handle.check_open()?;
        if args::is_index(key) {
            let index = args::index_value(key, true)?;
            let byte = self.handle.read(py, |map| {
                let index = item_index(index, map.len())
                    .ok_or_else(|| PyIndexError::new_err("mmap index out of range"))?;
                map.get_byte(index).map_err(errors::from_io)
            })?;
            return int(byte.into());
        }
        let Ok(slice) = key.cast::<PySlice>() else {
            return Err(errors::type_error("mmap indices must be integers"));
        };
        let (start, stop, step) = args::unpack_slice(slice)?;
        if step == 1 {
            // The common contiguous slice below DETACH_MIN: PySlice_AdjustIndices for step 1
            // is two clamps, and the bytes are copied once, under the guard, without the
            // general `Selection` (its count division and span) or `copy_out`.
            let small = self.handle.read(py, |map| {
                let (first, count) = clamp_slice(map.len(), start, stop);
                if count >= DETACH_MIN {
                    return Ok(None);
                }
                map.with_bytes(first..first + count, |mapped| PyBytes::new(py, mapped))
                    .map(Some)
                    .map_err(errors::from_io)
            })?;
            if let Some(bytes) = small {
                return Ok(bytes.into_ptr());
            }
        }
        let (bytes, _) =
            self.copy_out(py, |map| Ok(Selection::new(map.len(), start, stop, step)))?;
        Ok(bytes.into_ptr())
    }

    /// `CHECK_VALID`, writability, then the item assignment or deletion of `key`.
    #[inline(always)]
    fn assign(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.handle.check_open()?;
        self.require_writable()?;
        if args::is_index(key) {
            let index = args::index_value(key, true)?;
            // The length is read after `__index__`, which may have closed or resized the map.
            let index = item_index(index, self.length(py)?)
                .ok_or_else(|| PyIndexError::new_err("mmap index out of range"))?;
            let Some(value) = value else {
                return Err(errors::type_error("mmap doesn't support item deletion"));
            };
            if !args::is_index(value) {
                return Err(errors::type_error("mmap item value must be an int"));
            }
            let byte = args::item_value(value)?;
            let byte = u8::try_from(byte)
                .map_err(|_| errors::value_error("mmap item value must be in range(0, 256)"))?;
            return self.handle.write(py, |map| {
                if index >= map.len() {
                    return Err(PyIndexError::new_err("mmap index out of range"));
                }
                map.set_byte(index, byte).map_err(errors::from_io)
            });
        }
        let Ok(slice) = key.cast::<PySlice>() else {
            return Err(errors::type_error("mmap indices must be integer"));
        };
        let (start, stop, step) = args::unpack_slice(slice)?;
        let Some(value) = value else {
            return Err(errors::type_error(
                "mmap object doesn't support slice deletion",
            ));
        };
        if let Some(data) = args::exact_bytes(value) {
            // Nothing runs between here and the store: the size is checked there, once.
            return self.store_slice(py, (start, stop, step), data);
        }
        let (_, _, count) = adjust_slice(self.length(py)?, start, stop, step);
        args::with_buffer(value, |data| {
            if data.len() != count {
                return Err(PyIndexError::new_err("mmap slice assignment is wrong size"));
            }
            self.store_slice(py, (start, stop, step), data)
        })?
    }

    /// Stores `data` into the slice `(start, stop, step)` of the map, which must select
    /// exactly `data.len()` bytes.
    #[inline]
    fn store_slice(
        &self,
        py: Python<'_>,
        (start, stop, step): (isize, isize, isize),
        data: &[u8],
    ) -> PyResult<()> {
        let store = |map: &mut DynMmap| {
            let (first, step, count) = adjust_slice(map.len(), start, stop, step);
            if count != data.len() {
                return Err(PyIndexError::new_err("mmap slice assignment is wrong size"));
            }
            if count == 0 {
                return Ok(());
            }
            if step == 1 {
                return map.write_at(first, data).map_err(errors::from_io);
            }
            let (low, high) = span(first, step, count);
            map.with_bytes_mut(low..high, |bytes| {
                for (k, &byte) in data.iter().enumerate() {
                    bytes[(first as isize + k as isize * step) as usize - low] = byte;
                }
            })
            .map_err(errors::from_io)
        };
        if data.len() < DETACH_MIN {
            return self.handle.write(py, store);
        }
        let mut lease = self.handle.lease_mut(py)?;
        lease.run(py, data.len(), |lease| store(lease.map_mut()))
    }

    /// `x in m` compares `x` with each 1-byte `bytes` item, as CPython's fallback does.
    #[inline]
    fn contains(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.handle.check_open()?;
        if let Ok(bytes) = item.cast::<PyBytes>() {
            let needle = bytes.as_bytes();
            if needle.len() != 1 {
                return Ok(false);
            }
            let byte = needle[0];
            let find = move |map: &DynMmap| {
                map.find_in(&[byte], ..)
                    .map(|found| found.is_some())
                    .map_err(errors::from_io)
            };
            let len = self.length(py)?;
            if len < DETACH_MIN {
                return self.handle.read(py, find);
            }
            let mut lease = self.handle.lease(py)?;
            return lease.run(py, len, |lease| find(lease.map()));
        }
        let mut index = 0;
        loop {
            let byte = self.handle.read(py, |map| {
                if index >= map.len() {
                    return Ok(None);
                }
                map.get_byte(index).map(Some).map_err(errors::from_io)
            })?;
            let Some(byte) = byte else {
                return Ok(false);
            };
            if item.eq(PyBytes::new(py, &[byte]))? {
                return Ok(true);
            }
            index += 1;
        }
    }

    #[inline(always)]
    fn get_buffer(&self, slf: Object, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        // SAFETY: only called with the GIL held.
        let py = unsafe { Python::assume_attached() };
        let (address, len) = self.handle.export(py)?;
        let readonly = c_int::from(!self.is_writable());
        // SAFETY: `view` is the caller's Py_buffer; PyBuffer_FillInfo fills it for `len` bytes
        // at the map's address (which stays put: close/resize refuse while exports > 0) and
        // keeps a reference to `slf`. It raises BufferError itself for a writable request on
        // a read-only map.
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf,
                address.cast(),
                len as ffi::Py_ssize_t,
                readonly,
                flags,
            )
        };
        if rc != 0 {
            return Err(
                PyErr::take(py).unwrap_or_else(|| errors::buffer_error("Object is not writable."))
            );
        }
        self.handle.exported();
        Ok(())
    }

    // ----- the methods -----

    #[inline]
    fn close(&self, py: Python<'_>) -> PyResult<Object> {
        self.handle.close(py)?;
        Ok(none())
    }

    #[inline]
    fn enter(&self, slf: Object) -> PyResult<Object> {
        self.handle.check_open()?;
        // SAFETY: `slf` is live; the reference is returned new.
        unsafe { ffi::Py_IncRef(slf) };
        Ok(slf)
    }

    #[inline]
    fn search(
        &self,
        py: Python<'_>,
        method: &str,
        args: &[Object],
        reverse: bool,
    ) -> PyResult<Object> {
        // CPython's CHECK_VALID comes first; the conversions may run Python code that
        // resizes or closes the map, so the length is read after them.
        self.handle.check_open()?;
        let [sub, start, end] = args::positional::<3>(method, py, args, 1)?;
        let sub = required(sub)?;
        // CPython converts `sub` (the `y*` format) before start and end.
        args::require_buffer(&sub)?;
        let start = start.map(|s| args::ssize(&s)).transpose()?;
        let end = end.map(|e| args::ssize(&e)).transpose()?;
        let cursor = self.handle.cursor();
        // start and end clamp like slice indices; start defaults to the cursor.
        let bounds = |len: usize| {
            let clamp = |index: isize| {
                let index = if index < 0 {
                    index + len as isize
                } else {
                    index
                };
                index.clamp(0, len as isize) as usize
            };
            start.map_or(cursor.min(len), clamp)..end.map_or(len, clamp)
        };
        let found = args::with_buffer(&sub, |needle| {
            let search = |map: &DynMmap| {
                let range = bounds(map.len());
                if reverse {
                    map.rfind_in(needle, range)
                } else {
                    map.find_in(needle, range)
                }
                .map_err(errors::from_io)
            };
            let short = self.handle.read(py, |map| {
                if bounds(map.len()).len() < DETACH_MIN {
                    search(map).map(Some)
                } else {
                    Ok(None)
                }
            })?;
            match short {
                Some(found) => Ok(found),
                None => {
                    let mut lease = self.handle.lease(py)?;
                    lease.run(py, usize::MAX, |lease| search(lease.map()))
                }
            }
        })??;
        match found {
            Some(at) => int(at),
            // SAFETY: PyLong_FromLong returns a new reference (-1 is a cached small int).
            None => Ok(unsafe { ffi::PyLong_FromLong(-1) }),
        }
    }

    /// `flush([offset[, size]], *, flags=MS_SYNC)`; `flags=` is 3.15's (see additions.rs).
    fn flush(&self, py: Python<'_>, args: &[Object], flags: Option<Object>) -> PyResult<Object> {
        let len = self.length(py)? as isize;
        let [offset, size] = args::positional::<2>("flush", py, args, 0)?;
        let flags = match flags {
            // SAFETY: a live borrowed reference from the call's arguments.
            Some(flags) => args::int(&unsafe { pyo3::Borrowed::from_ptr(py, flags) }.to_owned())?,
            #[cfg(unix)]
            None => libc::MS_SYNC,
            // Windows has no msync flags: FlushViewOfFile and FlushFileBuffers.
            #[cfg(windows)]
            None => 0,
        };
        let offset = offset.map(|o| args::ssize(&o)).transpose()?.unwrap_or(0);
        let size = size.map(|s| args::ssize(&s)).transpose()?.unwrap_or(len);
        if size < 0 || offset < 0 || len - offset < size {
            return Err(errors::value_error("flush values out of range"));
        }
        if self.access == ACCESS_READ || self.access == ACCESS_COPY {
            return Ok(none());
        }
        // msync(2) wants a page-aligned address (the core would align it for us);
        // FlushViewOfFile takes any.
        #[cfg(unix)]
        if offset as usize % mmapfile::page_size() != 0 {
            return Err(errors::os_error(libc::EINVAL));
        }
        let flush = |map: &DynMmap| {
            if offset as usize + size as usize > map.len() {
                return Err(errors::value_error("flush values out of range"));
            }
            #[cfg(unix)]
            let flushed = map.flush_raw(offset as usize, size as usize, flags);
            #[cfg(windows)]
            let flushed = {
                let _ = flags;
                map.flush_range(offset as usize, size as usize)
            };
            flushed.map_err(errors::from_io)
        };
        // A range below DETACH_MIN keeps the GIL, as CPython's flush always does; a bigger
        // one, whose dirty pages may take long to write, releases it.
        if (size as usize) < DETACH_MIN {
            self.handle.read(py, flush)?;
        } else {
            let mut lease = self.handle.lease(py)?;
            lease.run(py, usize::MAX, |lease| flush(lease.map()))?;
        }
        Ok(none())
    }

    #[cfg(unix)]
    fn madvise(&self, py: Python<'_>, args: &[Object]) -> PyResult<Object> {
        let len = self.length(py)? as isize;
        let [option, start, length] = args::positional::<3>("madvise", py, args, 1)?;
        let option = args::int(&*required(option)?)?;
        let start = start.map(|s| args::ssize(&s)).transpose()?.unwrap_or(0);
        let length = length.map(|l| args::ssize(&l)).transpose()?.unwrap_or(len);
        if start < 0 || start >= len {
            return Err(errors::value_error("madvise start out of bounds"));
        }
        if length < 0 {
            return Err(errors::value_error("madvise length invalid"));
        }
        if isize::MAX - start < length {
            return Err(PyOverflowError::new_err("madvise length too large"));
        }
        let length = length.min(len - start);
        if start as usize % mmapfile::page_size() != 0 {
            // madvise(2) wants a page-aligned address; the core would align it for us.
            return Err(errors::os_error(libc::EINVAL));
        }
        // Exclusive access: advice such as MADV_DONTNEED may change the contents, so no other
        // call of ours may be reading them.
        self.handle.write(py, |map| {
            if start as usize + length as usize > map.len() {
                return Err(errors::value_error("madvise start out of bounds"));
            }
            // SAFETY: exclusive access excludes every borrow of the map's bytes in this
            // module; content-changing advice is what the Python caller asked for, exactly as
            // with CPython's mmap.madvise (which passes the option to the kernel unchecked).
            unsafe { map.advise_raw(option, start as usize, length as usize) }
                .map_err(errors::from_io)
        })?;
        Ok(none())
    }

    #[inline]
    fn move_(&self, py: Python<'_>, args: &[Object]) -> PyResult<Object> {
        self.handle.check_open()?;
        let [dest, src, count] = args::positional::<3>("move", py, args, 3)?;
        let dest = args::ssize(&*required(dest)?)?;
        let src = args::ssize(&*required(src)?)?;
        let count = args::ssize(&*required(count)?)?;
        self.require_writable()?;
        let out_of_range = || errors::value_error("source, destination, or count out of range");
        if dest < 0 || src < 0 || count < 0 {
            return Err(out_of_range());
        }
        let work = |map: &mut DynMmap| {
            let len = map.len() as isize;
            if len - dest < count || len - src < count {
                return Err(out_of_range());
            }
            map.move_within(dest as usize, src as usize, count as usize)
                .map_err(errors::from_io)
        };
        if (count as usize) < DETACH_MIN {
            self.handle.write(py, work)?;
        } else {
            let mut lease = self.handle.lease_mut(py)?;
            lease.run(py, count as usize, |lease| work(lease.map_mut()))?;
        }
        Ok(none())
    }

    #[inline]
    fn read(&self, py: Python<'_>, args: &[Object]) -> PyResult<Object> {
        self.handle.check_open()?;
        let [n] = args::positional::<1>("read", py, args, 0)?;
        let n = match n {
            Some(n) => args::optional_ssize(&n)?.unwrap_or(-1),
            None => -1,
        };
        let cursor = self.handle.cursor();
        let (bytes, selection) = self.copy_out(py, |map| {
            let len = map.len();
            let pos = cursor.min(len);
            let end = if n < 0 {
                len
            } else {
                pos.saturating_add(n as usize).min(len)
            };
            Ok(Selection::new(len, pos as isize, end as isize, 1))
        })?;
        // A cursor past the end (after a shrinking resize) stays where it is, as in CPython.
        self.handle.set_cursor(selection.range.end.max(cursor));
        Ok(bytes.into_ptr())
    }

    #[inline(always)]
    fn read_byte(&self, py: Python<'_>) -> PyResult<Object> {
        let cursor = self.handle.cursor();
        let byte = self.handle.read(py, |map| {
            if cursor >= map.len() {
                return Err(errors::value_error("read byte out of range"));
            }
            map.get_byte(cursor).map_err(errors::from_io)
        })?;
        self.handle.set_cursor(cursor + 1);
        int(byte.into())
    }

    /// `readline()`. A line shorter than `DETACH_MIN` keeps the GIL and fills the `bytes`
    /// straight from the mapped line inside the guarded access, reusing the object of an
    /// earlier line that the caller has let go of (`recycle.rs`); a longer line is found and
    /// copied with the GIL released.
    #[inline]
    fn readline(&self, py: Python<'_>) -> PyResult<Object> {
        let cursor = self.handle.cursor();
        let short = self.handle.with_lines(py, |map, lines| {
            let len = map.len();
            let pos = cursor.min(len);
            let window_end = len.min(pos.saturating_add(DETACH_MIN));
            map.with_bytes(pos..window_end, |window| {
                let end = match memchr::memchr(b'\n', window) {
                    Some(i) => i + 1,
                    None if window_end == len => window.len(),
                    None => return None,
                };
                // A fault while copying (file truncated meanwhile) is reported by
                // `with_bytes` after this returns, and the `bytes` is dropped.
                Some((pos + end, lines.bytes(py, &window[..end])))
            })
            .map_err(errors::from_io)
        })?;
        if let Some((end, line)) = short {
            // A cursor past the end (after a shrinking resize) stays where it is.
            self.handle.set_cursor(end.max(cursor));
            return Ok(line.into_ptr());
        }
        // No newline within DETACH_MIN bytes: a long line, found and copied without the GIL.
        let mut lease = self.handle.lease(py)?;
        let pos = cursor.min(lease.map().len());
        let end = lease
            .run(py, usize::MAX, |lease| {
                let map = lease.map();
                map.find_in(b"\n", pos..)
                    .map(|found| found.map_or(map.len(), |newline| newline + 1))
            })
            .map_err(errors::from_io)?;
        let line = bytes_from_map(py, &mut lease, pos..end, end - pos, |mapped, out| {
            out.copy_from_slice(mapped)
        })?;
        drop(lease);
        self.handle.set_cursor(end);
        Ok(line.into_ptr())
    }

    fn resize(&self, py: Python<'_>, args: &[Object]) -> PyResult<Object> {
        self.handle.check_open()?;
        let [new_size] = args::positional::<1>("resize", py, args, 1)?;
        let new_size = args::ssize(&*required(new_size)?)?;
        let refuse_exports =
            || errors::buffer_error("mmap can't resize with extant buffers exported.");
        if self.handle.has_exports() {
            return Err(refuse_exports());
        }
        if !self.trackfd {
            return Err(errors::value_error("mmap can't resize with trackfd=False."));
        }
        if self.access != ACCESS_WRITE && self.access != ACCESS_DEFAULT {
            return Err(errors::type_error(
                "mmap can't resize a readonly or copy-on-write memory map.",
            ));
        }
        if new_size < 0 {
            return Err(errors::value_error("new size out of range"));
        }
        let has_fd = self.has_fd;
        // Remapping copies or moves memory and ftruncate may write: release the GIL. The
        // exclusive lease makes every other call wait until the memory is in its new place.
        let mut lease = self.handle.lease_mut(py)?;
        // Re-checked with the lease: a buffer may have been exported while it was awaited.
        if self.handle.has_exports() {
            return Err(refuse_exports());
        }
        lease.run(py, usize::MAX, |lease| {
            let map = lease.map_mut();
            if has_fd && map.access() == Access::Copy {
                // ACCESS_DEFAULT with MAP_PRIVATE over a read-only descriptor: CPython's
                // ftruncate fails there with EINVAL.
                return Err(errors::os_error(libc::EINVAL));
            }
            if map
                .offset()
                .checked_add(new_size as u64)
                .is_none_or(|end| end > isize::MAX as u64)
            {
                return Err(errors::value_error("new size out of range"));
            }
            // What CPython's mremap(2) refuses and the core would do: no size at all (CPython
            // truncates the file first, then fails, leaving a map over nothing; the file is
            // left alone here), or more than the address space of a process.
            if new_size == 0 || (map.is_anonymous() && new_size as u64 > ADDRESS_SPACE) {
                return Err(errors::os_error(libc::EINVAL));
            }
            map.resize(new_size as usize).map_err(errors::from_io)
        })?;
        // The cursor stays, past the end after a shrink (as CPython's): reads there give
        // b'', writes fail, and growing the map again makes it valid.
        Ok(none())
    }

    #[inline(always)]
    fn seek(&self, py: Python<'_>, args: &[Object]) -> PyResult<Object> {
        self.handle.check_open()?;
        let [pos, whence] = args::positional::<2>("seek", py, args, 1)?;
        let dist = args::ssize(&*required(pos)?)?;
        let whence = whence.map(|w| args::int(&w)).transpose()?.unwrap_or(0);
        let len = self.length(py)?;
        let base = match whence {
            0 if dist < 0 => return Err(errors::value_error("seek out of range")),
            0 => 0,
            1 => self.handle.cursor(),
            2 => len,
            _ => return Err(errors::value_error("unknown seek type")),
        };
        let target = (base as isize)
            .checked_add(dist)
            .filter(|&target| target >= 0 && target as usize <= len)
            .ok_or_else(|| errors::value_error("seek out of range"))?;
        self.handle.set_cursor(target as usize);
        int(target as usize)
    }

    #[inline]
    fn size(&self, py: Python<'_>) -> PyResult<Object> {
        self.handle.check_open()?;
        #[cfg(Py_3_15)]
        if let Some(size) = crate::additions::size_without_descriptor(py, self)? {
            return int(size as usize);
        }
        if !self.has_fd {
            // CPython asks the size of the descriptor it keeps, which is -1 for anonymous
            // memory and for trackfd=False (EBADF). On Windows it reports the map's size
            // instead.
            #[cfg(windows)]
            return int(self.length(py)?);
            #[cfg(unix)]
            return Err(errors::os_error(libc::EBADF));
        }
        let size = self
            .handle
            .read(py, |map| map.size().map_err(errors::from_io))?;
        // SAFETY: returns a new reference or NULL with an exception set.
        let object = unsafe { ffi::PyLong_FromUnsignedLongLong(size) };
        if object.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(object)
    }

    #[inline(always)]
    fn tell(&self) -> PyResult<Object> {
        self.handle.check_open()?;
        int(self.handle.cursor())
    }

    #[inline]
    fn write(&self, py: Python<'_>, args: &[Object]) -> PyResult<Object> {
        self.handle.check_open()?;
        let [data] = args::positional::<1>("write", py, args, 1)?;
        let data = required(data)?;
        args::with_buffer(&data, |data| {
            self.require_writable()?;
            let cursor = self.handle.cursor();
            let store = |map: &mut DynMmap| {
                if cursor > map.len() || map.len() - cursor < data.len() {
                    return Err(errors::value_error("data out of range"));
                }
                map.write_at(cursor, data).map_err(errors::from_io)
            };
            if data.len() < DETACH_MIN {
                self.handle.write(py, store)?;
            } else {
                let mut lease = self.handle.lease_mut(py)?;
                lease.run(py, data.len(), |lease| store(lease.map_mut()))?;
            }
            self.handle.set_cursor(cursor + data.len());
            int(data.len())
        })?
    }

    #[inline(always)]
    fn write_byte(&self, py: Python<'_>, args: &[Object]) -> PyResult<Object> {
        self.handle.check_open()?;
        let [byte] = args::positional::<1>("write_byte", py, args, 1)?;
        let byte = args::unsigned_byte(&*required(byte)?)?;
        self.require_writable()?;
        let cursor = self.handle.cursor();
        self.handle.write(py, |map| {
            if cursor >= map.len() {
                return Err(errors::value_error("write byte out of range"));
            }
            map.set_byte(cursor, byte).map_err(errors::from_io)
        })?;
        self.handle.set_cursor(cursor + 1);
        Ok(none())
    }
}

#[pymethods]
impl PyMmap {
    #[cfg(unix)]
    #[new]
    // CPython's constructor signature, parsed by the interpreter's own argument parser.
    #[pyo3(signature = (*args, **kwargs))]
    fn new(
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let args::NewArgs {
            fileno,
            length,
            flags,
            prot,
            access,
            offset,
            trackfd,
        } = args::new_args(
            args,
            kwargs,
            libc::MAP_SHARED,
            libc::PROT_READ | libc::PROT_WRITE,
            ACCESS_DEFAULT,
        )?;
        // 1. Signs.
        check_signs(length, offset)?;
        // 2. access excludes flags/prot.
        let default_prot = libc::PROT_READ | libc::PROT_WRITE;
        if access != ACCESS_DEFAULT && (flags != libc::MAP_SHARED || prot != default_prot) {
            return Err(errors::value_error(
                "mmap can't specify both access and flags, prot.",
            ));
        }
        // 3. What the access means.
        let (flags, prot, access) = match access {
            ACCESS_READ => (libc::MAP_SHARED, libc::PROT_READ, ACCESS_READ),
            ACCESS_WRITE => (libc::MAP_SHARED, default_prot, ACCESS_WRITE),
            ACCESS_COPY => (libc::MAP_PRIVATE, default_prot, ACCESS_COPY),
            ACCESS_DEFAULT => {
                let access = if prot & libc::PROT_READ != 0 && prot & libc::PROT_WRITE != 0 {
                    ACCESS_DEFAULT
                } else if prot & libc::PROT_WRITE != 0 {
                    ACCESS_WRITE
                } else {
                    ACCESS_READ
                };
                (flags, prot, access)
            }
            _ => return Err(errors::value_error("mmap invalid access parameter.")),
        };
        // 4. The window against the file (one stat of it, in the core); CPython checks sizes for
        // regular files only and leaves other files to mmap(2), whose errno is reproduced below.
        let mut length = length as u64;
        let offset = offset as u64;
        let mut options = MmapOptions::new();
        options
            .offset(offset)
            .len(usize::try_from(length).map_err(|_| errors::os_error(libc::ENOMEM))?);
        // SAFETY: the descriptor is only borrowed for the duration of this call (the core
        // dup()s it when it keeps one); an invalid number makes the core's stat of it fail with
        // EBADF before anything else uses it.
        let fd = (fileno != -1).then(|| unsafe { BorrowedFd::borrow_raw(fileno) });
        let mut unmappable = None;
        let window = match &fd {
            None => None,
            Some(fd) => match options.check_window(fd) {
                // The core maps the empty rest of a file (an empty file, or the offset at its
                // end); CPython refuses it, the empty file first.
                Ok(window) if window.is_empty() && window.offset() == 0 => {
                    return Err(errors::value_error("cannot mmap an empty file"))
                }
                Ok(window) if window.is_empty() => {
                    return Err(errors::value_error("mmap offset is greater than file size"))
                }
                Ok(window) => {
                    length = window.len() as u64;
                    Some(window)
                }
                Err(err) => match WindowError::of(&err) {
                    Some(WindowError::OffsetPastEnd { size: 0, .. }) => {
                        return Err(errors::value_error("cannot mmap an empty file"))
                    }
                    Some(WindowError::OffsetPastEnd { .. }) => {
                        return Err(errors::value_error("mmap offset is greater than file size"))
                    }
                    Some(WindowError::PastEnd { .. } | WindowError::Overflow { .. }) => {
                        return Err(errors::value_error("mmap length is greater than file size"))
                    }
                    Some(WindowError::TooLong { .. }) => {
                        return Err(errors::value_error("mmap length is too large"))
                    }
                    // A device with no length: mmap(2) refuses the length 0 (EINVAL, below).
                    Some(WindowError::DeviceNeedsLength) => None,
                    Some(
                        refusal @ (WindowError::Directory { .. }
                        | WindowError::NoRandomAccess { .. }),
                    ) => {
                        unmappable = Some(refusal);
                        None
                    }
                    // CPython skips its checks when its stat fails, then dup() (or the kernel's
                    // look-up of the descriptor) fails with the same errno.
                    _ => return Err(errors::from_io(err)),
                },
            },
        };
        // 6. What mmap(2) itself would refuse: CPython hands these to the kernel, the core
        // accepts them (it aligns any offset, picks the sharing itself), so the errno is
        // reproduced here, in the kernel's order: no length or an unaligned offset, more than
        // the address space, no known map type (anonymous memory knows no
        // MAP_SHARED_VALIDATE), then the file's own refusal.
        let map_type = flags & 0xf;
        if length == 0 || offset % mmapfile::allocation_granularity() as u64 != 0 {
            return Err(errors::os_error(libc::EINVAL));
        }
        if length > ADDRESS_SPACE {
            return Err(errors::os_error(libc::ENOMEM));
        }
        // MAP_SHARED_VALIDATE is Linux's; elsewhere no map type matches it.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let shared_validate = libc::MAP_SHARED_VALIDATE;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let shared_validate = -1;
        if !(map_type == libc::MAP_SHARED
            || map_type == libc::MAP_PRIVATE
            || (map_type == shared_validate && fileno != -1))
        {
            return Err(errors::os_error(libc::EINVAL));
        }
        if let Some(refusal) = unmappable {
            return Err(errors::os_error(unmappable_errno(refusal, map_type, prot)));
        }
        // The core refuses protections that would let a read fault (PROT_NONE, write-only).
        // Python code must never crash either, so such maps are made readable: a PROT_NONE
        // guard region reads as its contents instead of killing the interpreter.
        let prot = if access == ACCESS_READ {
            prot | libc::PROT_READ
        } else {
            prot | libc::PROT_READ | libc::PROT_WRITE
        };
        let length = usize::try_from(length).map_err(|_| errors::os_error(libc::ENOMEM))?;
        let core_access = match access {
            ACCESS_READ => Access::Read,
            ACCESS_COPY => Access::Copy,
            // ACCESS_DEFAULT keeps the caller's flags: a private mapping stays private.
            _ if flags & libc::MAP_PRIVATE != 0 && flags & libc::MAP_SHARED == 0 => Access::Copy,
            _ => Access::Write,
        };
        options
            .len(length)
            .raw_protection(prot)
            .raw_mmap_flags(flags)
            .keep_file(trackfd);
        // 5. Anonymous memory for fileno -1, else the checked window of the file (dup()ed
        // when trackfd).
        let make = || match window {
            None => options.map_anon_dyn(core_access),
            // SAFETY: the file-contract of `map_window` (no truncation under the map) is the
            // Python caller's, as with CPython's mmap; the core reports a truncated file
            // instead of crashing.
            Some(window) => unsafe {
                if access == ACCESS_DEFAULT && core_access == Access::Copy {
                    // CPython resizes an ACCESS_DEFAULT map with MAP_PRIVATE: it sets the
                    // file's size and remaps, privately. The core does that for maps it may
                    // write the file for, so such a map is one (its MAP_PRIVATE flag still
                    // keeps every store out of the file) when the descriptor is writable; a
                    // read-only descriptor gets a copy-on-write map.
                    match options.map_window(window, Access::Write) {
                        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                            options.map_window(window, Access::Copy)
                        }
                        mapped => mapped,
                    }
                } else {
                    options.map_window(window, core_access)
                }
            },
        };
        // mmap(2) itself is quick; MAP_POPULATE makes it read the whole map in, which is
        // worth releasing the GIL for.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let populates = flags & libc::MAP_POPULATE != 0;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let populates = false;
        let map = if populates { py.detach(make) } else { make() };
        // The core's check of the open mode becomes the kernel's EACCES (PermissionError).
        let map = map.map_err(errors::from_io)?;
        Ok(PyMmap {
            handle: crate::handle::MapHandle::new(map, access != ACCESS_READ),
            access,
            has_fd: fileno != -1 && trackfd,
            trackfd,
            offset,
        })
    }

    /// CPython's Windows constructor: `tagname` instead of `flags`/`prot`, and no `trackfd`
    /// (`windows.rs`).
    #[cfg(windows)]
    #[new]
    #[pyo3(signature = (fileno, length, tagname = None, access = ACCESS_DEFAULT, offset = 0))]
    fn new(
        py: Python<'_>,
        fileno: c_int,
        length: isize,
        tagname: Option<&Bound<'_, PyAny>>,
        access: c_int,
        offset: i64,
    ) -> PyResult<Self> {
        crate::windows::new_map(py, fileno, length, tagname, access, offset)
    }

    /// As CPython's on Windows: the object plus the stored tagname.
    #[cfg(windows)]
    fn __sizeof__(slf: &Bound<'_, Self>) -> usize {
        // SAFETY: the type object of a live instance.
        let base = unsafe { (*slf.get_type().as_type_ptr()).tp_basicsize } as usize;
        base + 2 * slf.get().tagname_units
    }

    #[getter]
    fn closed(&self) -> bool {
        !self.handle.is_open()
    }

    fn seekable(&self) -> bool {
        true
    }

    /// 3.15's `set_name(name)`, offered on every version (see additions.rs).
    #[pyo3(signature = (name, /))]
    fn set_name(&self, name: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::additions::set_name(self, name)
    }

    // The dunder methods below are what `m.__len__()` and friends call by name, and what a
    // subclass's `super()` reaches; `install` points the type's slots (and these methods'
    // wrappers) at the raw functions, which share the code.

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.length(py)
    }

    fn __getitem__<'py>(&self, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let object = self.subscript(key.py(), key)?;
        // SAFETY: `subscript` returned a new reference.
        Ok(unsafe { Bound::from_owned_ptr(key.py(), object) })
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign(key.py(), key, Some(value))
    }

    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign(key.py(), key, None)
    }

    fn __contains__(&self, item: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.contains(item.py(), item)
    }

    /// `bytes(m)`: a copy of the whole map. CPython's mmap leaves this to the buffer protocol,
    /// which cannot report an error; going through the core's guarded copy instead makes a
    /// copy of a truncated map raise rather than return zeros for the vanished bytes.
    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.handle.check_open()?;
        let (bytes, _) = self.copy_out(py, |map| {
            Ok(Selection::new(map.len(), 0, map.len() as isize, 1))
        })?;
        Ok(bytes)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let name = Self::type_name(slf.as_ptr());
        let this = slf.get();
        if !this.handle.is_open() {
            return Ok(format!("<{name} closed=True>"));
        }
        let cursor = this.handle.cursor();
        this.handle.read(slf.py(), |map| {
            Ok(format!(
                "<{name} closed=False, access={}, length={}, pos={}, offset={}>",
                access_name(this.access),
                map.len(),
                cursor,
                this.offset
            ))
        })
    }

    /// Maps cannot be pickled (CPython's messages for protocols 0-1 and 2+).
    fn __reduce_ex__(slf: &Bound<'_, Self>, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let protocol = protocol.extract::<i64>().unwrap_or(2);
        let name = if protocol < 2 {
            "mmap".to_string()
        } else {
            Self::type_name(slf.as_ptr())
        };
        Err(PyTypeError::new_err(format!(
            "cannot pickle '{name}' object"
        )))
    }

    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<()> {
        Err(PyTypeError::new_err(format!(
            "cannot pickle '{}' object",
            Self::type_name(slf.as_ptr())
        )))
    }

    /// One contiguous block of unsigned bytes (format `B`), read-only for ACCESS_READ.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        slf.get().get_buffer(slf.as_ptr(), view, flags)
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.handle.released();
    }
}

// ----------------------------------------------------------------------------- raw functions
//
// SAFETY (for every function below): CPython calls them with the thread attached, through
// the slots and method descriptors `install` sets on the class, with `slf` a live instance
// of `PyMmap` or a subclass (the descriptors check the type; the slots belong to the type),
// and the other arguments as the slot's or calling convention's contract says.

// Each hot slot has a fast path for the common case (exact ints, a simple slice, the map open
// and idle: `MapHandle::idle`) that calls only CPython's C functions and the core's byte
// paths, and otherwise hands over to its general path through `slot`, out of line, so that
// the fast path needs no stack frame of its own.

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_length(slf: Object) -> ffi::Py_ssize_t {
    // SAFETY: see above.
    if let Some(this) = unsafe { PyMmap::peek(slf) } {
        if let Some(len) = this.handle.idle(|map| map.len()) {
            return len as ffi::Py_ssize_t;
        }
    }
    // SAFETY: see above.
    unsafe { length_slow(slf) }
}

#[cold]
#[inline(never)]
unsafe extern "C" fn length_slow(slf: Object) -> ffi::Py_ssize_t {
    // SAFETY: see above.
    unsafe { slot("len(mmap)", |py| PyMmap::from_ptr(py, slf).length(py)) }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_subscript(slf: Object, key: Object) -> Object {
    // SAFETY: see above; `key` is a live borrowed reference.
    if let Some(this) = unsafe { PyMmap::peek(slf) } {
        if let Some(index) = args::exact_isize(key) {
            let byte = this
                .handle
                .idle(|map| map.get_byte(item_index(index, map.len())?).ok());
            if let Some(Some(byte)) = byte {
                // SAFETY: a new reference (a cached small int) or NULL with an exception set.
                return unsafe { ffi::PyLong_FromLong(byte.into()) };
            }
        } else if let Some((start, stop)) = args::simple_slice(key) {
            let bytes = this.handle.idle(|map| {
                let (first, count) = clamp_slice(map.len(), start, stop);
                if count >= DETACH_MIN {
                    return None;
                }
                // SAFETY: the thread is attached (see above).
                let py = unsafe { Python::assume_attached() };
                map.with_bytes(first..first + count, |mapped| {
                    // SAFETY: `mapped` is readable for its length; a new reference comes
                    // back, or NULL with an exception set. An error of the guard after the
                    // copy drops (and frees) the object.
                    unsafe {
                        Bound::from_owned_ptr_or_opt(
                            py,
                            ffi::PyBytes_FromStringAndSize(
                                mapped.as_ptr().cast(),
                                mapped.len() as ffi::Py_ssize_t,
                            ),
                        )
                    }
                })
                .ok()
            });
            match bytes {
                Some(Some(bytes)) => return bytes.map_or(std::ptr::null_mut(), Bound::into_ptr),
                // The guard refused after PyBytes_FromStringAndSize had failed: its
                // exception (MemoryError) is set and stands; the general path must not run
                // with it set.
                // SAFETY: the thread is attached; only reads the thread's exception.
                Some(None) if !unsafe { ffi::PyErr_Occurred() }.is_null() => {
                    return std::ptr::null_mut()
                }
                _ => {}
            }
        }
    }
    // SAFETY: see above.
    unsafe { subscript_slow(slf, key) }
}

#[cold]
#[inline(never)]
unsafe extern "C" fn subscript_slow(slf: Object, key: Object) -> Object {
    // SAFETY: see above; `key` is a live borrowed reference.
    unsafe {
        slot("mmap[]", |py| {
            PyMmap::from_ptr(py, slf).subscript(py, &pyo3::Borrowed::from_ptr(py, key))
        })
    }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_ass_subscript(slf: Object, key: Object, value: Object) -> c_int {
    // SAFETY: see above; `key` is live, `value` live or NULL for deletion.
    if let Some(this) = unsafe { PyMmap::peek(slf) }.filter(|this| this.is_writable()) {
        if !value.is_null() {
            if let Some(index) = args::exact_isize(key) {
                if let Some(byte) = args::exact_isize(value).and_then(|v| u8::try_from(v).ok()) {
                    let stored = this.handle.idle_mut(|map| {
                        item_index(index, map.len())
                            .is_some_and(|index| map.set_byte(index, byte).is_ok())
                    });
                    if stored == Some(true) {
                        return 0;
                    }
                }
            } else if let Some((start, stop)) = args::simple_slice(key) {
                // SAFETY: the thread is attached; `value` is a live borrowed reference.
                let value = unsafe { pyo3::Borrowed::from_ptr(Python::assume_attached(), value) };
                if let Some(data) = args::exact_bytes(&value) {
                    let stored = this.handle.idle_mut(|map| {
                        let (first, count) = clamp_slice(map.len(), start, stop);
                        count == data.len()
                            && count < DETACH_MIN
                            && (count == 0 || map.write_at(first, data).is_ok())
                    });
                    if stored == Some(true) {
                        return 0;
                    }
                }
            }
        }
    }
    // SAFETY: see above.
    unsafe { ass_subscript_slow(slf, key, value) }
}

#[cold]
#[inline(never)]
unsafe extern "C" fn ass_subscript_slow(slf: Object, key: Object, value: Object) -> c_int {
    // SAFETY: see above; `key` is live, `value` live or NULL for deletion.
    unsafe {
        slot("mmap[] =", |py| {
            let value = (!value.is_null()).then(|| pyo3::Borrowed::from_ptr(py, value));
            PyMmap::from_ptr(py, slf).assign(
                py,
                &pyo3::Borrowed::from_ptr(py, key),
                value.as_deref(),
            )
        })
    }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_contains(slf: Object, item: Object) -> c_int {
    // SAFETY: see above; `item` is a live borrowed reference.
    unsafe {
        slot("mmap.__contains__", |py| {
            PyMmap::from_ptr(py, slf).contains(py, &pyo3::Borrowed::from_ptr(py, item))
        })
    }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_getbuffer(slf: Object, view: *mut ffi::Py_buffer, flags: c_int) -> c_int {
    // SAFETY: see above.
    if let Some(this) = unsafe { PyMmap::peek(slf) } {
        if let Some((address, len)) = this.handle.idle(|map| (map.as_ptr(), map.len())) {
            // SAFETY: as in `get_buffer`: nothing GIL-released runs (`idle`), so no Rust
            // reference to the bytes outlives this moment; PyBuffer_FillInfo fills `view`
            // (the caller's) for the map's bytes, which stay put while exported, keeps a
            // reference to `slf`, and raises BufferError itself for a writable request on a
            // read-only map.
            let rc = unsafe {
                ffi::PyBuffer_FillInfo(
                    view,
                    slf,
                    address.cast_mut().cast(),
                    len as ffi::Py_ssize_t,
                    c_int::from(!this.is_writable()),
                    flags,
                )
            };
            if rc == 0 {
                this.handle.exported();
            }
            return rc;
        }
    }
    // SAFETY: see above.
    unsafe { getbuffer_slow(slf, view, flags) }
}

#[cold]
#[inline(never)]
unsafe extern "C" fn getbuffer_slow(slf: Object, view: *mut ffi::Py_buffer, flags: c_int) -> c_int {
    // SAFETY: see above; `view` is the caller's Py_buffer.
    unsafe {
        slot("mmap.__buffer__", |py| {
            PyMmap::from_ptr(py, slf).get_buffer(slf, view, flags)
        })
    }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_releasebuffer(slf: Object, _view: *mut ffi::Py_buffer) {
    // SAFETY: see above. Releasing cannot fail; the count goes down with the GIL held.
    if let Some(this) = unsafe { PyMmap::peek(slf) } {
        this.handle.released();
    }
}

/// A `METH_NOARGS` method `$name` calling `PyMmap::$method(py)`.
macro_rules! noargs {
    ($shim:ident, $name:literal, |$this:ident, $py:ident, $slf:ident| $call:expr) => {
        #[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
        unsafe extern "C" fn $shim($slf: Object, _unused: Object) -> Object {
            // SAFETY: see above.
            unsafe {
                slot($name, |$py| {
                    let $this = PyMmap::from_ptr($py, $slf);
                    $call
                })
            }
        }
    };
}

/// A `METH_FASTCALL` method `$name` calling `PyMmap::$method(py, args)`.
macro_rules! fastcall {
    ($shim:ident, $name:literal, $method:ident) => {
        #[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
        unsafe extern "C" fn $shim(
            slf: Object,
            args: *mut Object,
            nargs: ffi::Py_ssize_t,
        ) -> Object {
            // SAFETY: see above; `args` holds `nargs` live borrowed references.
            unsafe {
                slot($name, |py| {
                    PyMmap::from_ptr(py, slf).$method(py, fastcall_args(args, nargs))
                })
            }
        }
    };
}

noargs!(raw_close, "mmap.close", |this, py, slf| this.close(py));
noargs!(raw_enter, "mmap.__enter__", |this, py, slf| this.enter(slf));
noargs!(raw_read_byte, "mmap.read_byte", |this, py, slf| this
    .read_byte(py));
noargs!(raw_readline, "mmap.readline", |this, py, slf| this
    .readline(py));
noargs!(raw_size, "mmap.size", |this, py, slf| this.size(py));
#[cold]
#[inline(never)]
unsafe extern "C" fn tell_slow(slf: Object, _unused: Object) -> Object {
    // SAFETY: see above.
    unsafe { slot("mmap.tell", |py| PyMmap::from_ptr(py, slf).tell()) }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_tell(slf: Object, unused: Object) -> Object {
    // SAFETY: see above.
    if let Some(this) = unsafe { PyMmap::peek(slf) } {
        if this.handle.is_open() {
            // SAFETY: a new reference or NULL with an exception set.
            return unsafe { ffi::PyLong_FromSize_t(this.handle.cursor()) };
        }
    }
    // SAFETY: see above.
    unsafe { tell_slow(slf, unused) }
}
#[cfg(unix)]
fastcall!(raw_madvise, "mmap.madvise", madvise);
fastcall!(raw_move, "mmap.move", move_);
fastcall!(raw_read, "mmap.read", read);
fastcall!(raw_resize, "mmap.resize", resize);
fastcall!(raw_seek, "mmap.seek", seek);
fastcall!(raw_write, "mmap.write", write);
fastcall!(raw_write_byte, "mmap.write_byte", write_byte);

/// `flush` takes the keyword `flags` (CPython 3.15's), so it is `METH_FASTCALL |
/// METH_KEYWORDS`: the keywords' values follow the positional arguments, named by `kwnames`.
#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_flush(
    slf: Object,
    args: *const Object,
    nargs: ffi::Py_ssize_t,
    kwnames: Object,
) -> Object {
    // SAFETY: see above; `args` holds `nargs` positional then `len(kwnames)` keyword values.
    unsafe {
        slot("mmap.flush", |py| {
            let flags = crate::additions::flush_keywords(py, args, nargs, kwnames)?;
            PyMmap::from_ptr(py, slf).flush(py, fastcall_args(args, nargs), flags)
        })
    }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_find(slf: Object, args: *mut Object, nargs: ffi::Py_ssize_t) -> Object {
    // SAFETY: see above.
    unsafe {
        slot("mmap.find", |py| {
            PyMmap::from_ptr(py, slf).search(py, "find", fastcall_args(args, nargs), false)
        })
    }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_rfind(slf: Object, args: *mut Object, nargs: ffi::Py_ssize_t) -> Object {
    // SAFETY: see above.
    unsafe {
        slot("mmap.rfind", |py| {
            PyMmap::from_ptr(py, slf).search(py, "rfind", fastcall_args(args, nargs), true)
        })
    }
}

#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]
unsafe extern "C" fn raw_exit(slf: Object, _args: *mut Object, _nargs: ffi::Py_ssize_t) -> Object {
    // SAFETY: see above.
    unsafe { slot("mmap.__exit__", |py| PyMmap::from_ptr(py, slf).close(py)) }
}

fn noargs_method(
    name: &'static std::ffi::CStr,
    method: unsafe extern "C" fn(Object, Object) -> Object,
    doc: &'static std::ffi::CStr,
) -> RawMethod {
    RawMethod {
        name,
        method: ffi::PyMethodDefPointer {
            PyCFunction: method,
        },
        flags: ffi::METH_NOARGS,
        doc,
    }
}

fn fastcall_method(
    name: &'static std::ffi::CStr,
    method: unsafe extern "C" fn(Object, *mut Object, ffi::Py_ssize_t) -> Object,
    doc: &'static std::ffi::CStr,
) -> RawMethod {
    RawMethod {
        name,
        method: ffi::PyMethodDefPointer {
            PyCFunctionFast: method,
        },
        flags: ffi::METH_FASTCALL,
        doc,
    }
}

/// Puts the raw methods on the class and points its slots at the raw functions.
pub(crate) fn install(ty: &Bound<'_, PyType>) -> PyResult<()> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut methods = vec![
            noargs_method(c"close", raw_close, c"close($self, /)\n--\n\nCloses the map; later uses raise ValueError. Refused while buffers are exported."),
            noargs_method(c"__enter__", raw_enter, c"__enter__($self, /)\n--\n\n"),
            fastcall_method(c"__exit__", raw_exit, c"__exit__($self, *args, /)\n--\n\nCloses the map."),
            fastcall_method(c"find", raw_find, c"find($self, sub, start=<cursor>, end=<len>, /)\n--\n\nThe lowest index of sub in [start, end), or -1."),
            fastcall_method(c"rfind", raw_rfind, c"rfind($self, sub, start=<cursor>, end=<len>, /)\n--\n\nThe highest index of sub in [start, end), or -1."),
            RawMethod {
                name: c"flush",
                method: ffi::PyMethodDefPointer {
                    PyCFunctionFastWithKeywords: raw_flush,
                },
                flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
                doc: c"flush($self, offset=0, size=<len>, /, *, flags=MS_SYNC)\n--\n\nWrites changes in [offset, offset+size) to the file (msync with flags).",
            },
            fastcall_method(c"move", raw_move, c"move($self, dest, src, count, /)\n--\n\nCopies count bytes from src to dest."),
            fastcall_method(c"read", raw_read, c"read($self, n=None, /)\n--\n\nUp to n bytes from the cursor (all the rest by default)."),
            noargs_method(c"read_byte", raw_read_byte, c"read_byte($self, /)\n--\n\nThe byte at the cursor, as an int."),
            noargs_method(c"readline", raw_readline, c"readline($self, /)\n--\n\nThe bytes up to and including the next newline (or the end); b'' at the end."),
            fastcall_method(c"resize", raw_resize, c"resize($self, newsize, /)\n--\n\nChanges the size of the map and of its file."),
            fastcall_method(c"seek", raw_seek, c"seek($self, pos, whence=0, /)\n--\n\nMoves the cursor; returns the new position."),
            noargs_method(c"size", raw_size, c"size($self, /)\n--\n\nThe size of the file (not of the map)."),
            noargs_method(c"tell", raw_tell, c"tell($self, /)\n--\n\nThe cursor position."),
            fastcall_method(c"write", raw_write, c"write($self, bytes, /)\n--\n\nWrites bytes at the cursor; returns how many."),
            fastcall_method(c"write_byte", raw_write_byte, c"write_byte($self, byte, /)\n--\n\nWrites one byte at the cursor."),
        ];
    // CPython's Windows mmap has no madvise.
    #[cfg(unix)]
    methods.push(fastcall_method(c"madvise", raw_madvise, c"madvise($self, option, start=0, length=<len>, /)\n--\n\nAdvises the kernel about the use of [start, start+length)."));
    install_methods(ty, methods)?;
    let ty_ptr = ty.as_type_ptr();
    // SAFETY: `ty` is the live heap type PyO3 made for `PyMmap`, with the mapping, sequence
    // and buffer slot tables of its heap type object, not yet used by any instance or
    // subclass. Each raw function has its slot's signature and does what PyO3's trampoline
    // for the same dunder did; the wrappers (`__len__`, `__getitem__`, …) that called the
    // trampolines are pointed at them too, so that calls by name and subclasses use them.
    // PyType_Modified drops whatever CPython cached about the type.
    unsafe {
        let mapping = (*ty_ptr).tp_as_mapping;
        let sequence = (*ty_ptr).tp_as_sequence;
        let buffer = (*ty_ptr).tp_as_buffer;
        macro_rules! point {
            ($table:ident . $slot:ident = $function:ident) => {
                if !$table.is_null() {
                    let old = (*$table).$slot.map(|f| f as *const ());
                    retarget(ty, old, $function as *const ());
                    (*$table).$slot = Some($function);
                }
            };
        }
        point!(mapping.mp_length = raw_length);
        point!(mapping.mp_subscript = raw_subscript);
        point!(mapping.mp_ass_subscript = raw_ass_subscript);
        point!(sequence.sq_length = raw_length);
        point!(sequence.sq_contains = raw_contains);
        point!(buffer.bf_getbuffer = raw_getbuffer);
        point!(buffer.bf_releasebuffer = raw_releasebuffer);
        ffi::PyType_Modified(ty_ptr);
    }
    Ok(())
}

/// Points the slot wrappers in `ty`'s dict that call `old` at `new` (same signature).
///
/// # Safety
///
/// `new` must be a function with the signature of the slot `old` fills.
unsafe fn retarget(ty: &Bound<'_, PyType>, old: Option<*const ()>, new: *const ()) {
    let Some(old) = old else { return };
    // SAFETY: reading the live type's dict; every wrapper descriptor object has the layout of
    // PyWrapperDescrObject, and `d_wrapped` is the slot function its wrapper calls.
    unsafe {
        let dict = (*ty.as_type_ptr()).tp_dict;
        if dict.is_null() {
            return;
        }
        let mut pos: ffi::Py_ssize_t = 0;
        let mut key = std::ptr::null_mut();
        let mut value = std::ptr::null_mut();
        let wrapper_type = std::ptr::addr_of_mut!(ffi::PyWrapperDescr_Type);
        while ffi::PyDict_Next(dict, &mut pos, &mut key, &mut value) != 0 {
            if ffi::Py_TYPE(value) == wrapper_type {
                let descr = value.cast::<ffi::PyWrapperDescrObject>();
                if (*descr).d_wrapped as *const () == old {
                    (*descr).d_wrapped = new.cast_mut().cast();
                }
            }
        }
    }
}

/// The constructor's first checks, on every platform: neither length nor offset negative.
pub(crate) fn check_signs(length: isize, offset: i64) -> PyResult<()> {
    if length < 0 {
        return Err(PyOverflowError::new_err(
            "memory mapped length must be positive",
        ));
    }
    if offset < 0 {
        return Err(PyOverflowError::new_err(
            "memory mapped offset must be positive",
        ));
    }
    Ok(())
}

#[cfg(unix)]
/// The errno mmap(2) gives for a directory, FIFO or socket (which the core's window check
/// refused, with the descriptor's open mode), in the kernel's order: the open mode is checked
/// first (EACCES: a shared writable map of a descriptor not open for writing, a private map
/// of one not open for reading), then the file's own mmap operation: none for directories and
/// FIFOs (ENODEV); TCP's refuses writable maps (EPERM).
fn unmappable_errno(refusal: WindowError, map_type: c_int, prot: c_int) -> i32 {
    let (socket, readable, writable) = match refusal {
        WindowError::NoRandomAccess {
            socket,
            readable,
            writable,
        } => (socket, readable, writable),
        WindowError::Directory { readable, writable } => (false, readable, writable),
        _ => (false, true, true),
    };
    let wants_write = prot & libc::PROT_WRITE != 0;
    if map_type == libc::MAP_PRIVATE {
        if !readable {
            return libc::EACCES;
        }
    } else if wants_write && !writable {
        return libc::EACCES;
    }
    if socket && wants_write {
        libc::EPERM
    } else {
        libc::ENODEV
    }
}

fn access_name(access: i32) -> &'static str {
    match access {
        ACCESS_READ => "ACCESS_READ",
        ACCESS_WRITE => "ACCESS_WRITE",
        ACCESS_COPY => "ACCESS_COPY",
        _ => "ACCESS_DEFAULT",
    }
}
