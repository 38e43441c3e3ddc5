//! The `mmap` class: CPython's `mmap.mmap` over the core's [`DynMmap`].
//!
//! # Threads and the GIL
//!
//! The map lives in an `RwLock` (as `None` once closed), with the `bytes` objects that
//! `readline()` recycles ([`BytesRing`]). Short operations take
//! the lock while holding the GIL. Long ones (big reads, copies, searches, flush, resize)
//! release the GIL first and take the lock inside [`Python::detach`], dropping it before the
//! GIL comes back. So no thread ever waits for the GIL while holding the lock, and a thread
//! that holds the GIL while waiting for the lock only waits for work that needs nothing from
//! Python: no deadlock. `close()` and `resize()` take the write lock, so they wait until a
//! search or copy running in another thread is done; the memory cannot be unmapped or moved
//! under it. No Python code (`__index__`, buffer exports) ever runs while the lock is held.
//!
//! Buffer exports (`memoryview(m)`, `re` on the map, …) hand out the raw pointer; while any
//! is alive `close()` and `resize()` refuse with CPython's `BufferError`.

use std::io::SeekFrom;
use std::os::fd::BorrowedFd;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use mmapfile::{Access, DynMmap, MmapOptions};
use pyo3::exceptions::{PyIndexError, PyOverflowError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PySlice, PyTuple};
use pyo3::Borrowed;

use crate::args::{self, adjust_slice};
use crate::errors::{self, closed, readonly};
use crate::recycle::BytesRing;

pub(crate) const ACCESS_DEFAULT: i32 = 0;
pub(crate) const ACCESS_READ: i32 = 1;
pub(crate) const ACCESS_WRITE: i32 = 2;
pub(crate) const ACCESS_COPY: i32 = 3;

/// The largest mapping a process can hold (Linux's `TASK_SIZE`): mremap(2) refuses longer
/// ones with EINVAL, where a fresh mmap(2) would say ENOMEM.
#[cfg(target_arch = "x86_64")]
const ADDRESS_SPACE: u64 = (1 << 47) - 4096;
#[cfg(not(target_arch = "x86_64"))]
const ADDRESS_SPACE: u64 = 1 << 48;

/// Work on at least this many bytes runs with the GIL released; below it the cost of
/// releasing and re-taking the GIL outweighs what other threads would gain.
pub(crate) const DETACH_MIN: usize = 64 * 1024;

/// A memory-mapped file or anonymous memory, with CPython's `mmap.mmap` interface.
#[pyclass(name = "mmap", module = "mmap", subclass, weakref, frozen)]
pub struct PyMmap {
    map: RwLock<Locked>,
    /// Live buffer exports; `close()` and `resize()` refuse while it is non-zero. Changed only
    /// under the lock (read lock for exports, which `close`/`resize` exclude with the write
    /// lock); released exports decrement it without the lock.
    exports: AtomicUsize,
    /// False once `close()` has taken the map out: what `lines()` checks for each line it
    /// hands out from its read-ahead (one plain load, where the lock costs two atomic
    /// read-modify-writes). Cleared under the write lock.
    open: AtomicBool,
    /// The Python access constant the map reports (ACCESS_DEFAULT/READ/WRITE/COPY).
    access: i32,
    /// `trackfd` for file maps; false for anonymous memory, which keeps no descriptor
    /// (so `size()` is EBADF as in CPython).
    has_fd: bool,
    trackfd: bool,
    /// The `offset=` the map was made with, which `repr()` shows (for anonymous memory too,
    /// where the core's map reports 0).
    offset: u64,
}

/// What the lock guards.
struct Locked {
    /// The map; `None` once closed.
    map: Option<DynMmap>,
    /// The `bytes` objects `readline()` refills once the caller has let go of them; used
    /// under the write lock only.
    lines: BytesRing,
}

/// Runs `work` with the GIL released when it concerns `bytes` bytes or more.
fn maybe_detach<T, F>(py: Python<'_>, bytes: usize, work: F) -> T
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    if bytes >= DETACH_MIN {
        py.detach(work)
    } else {
        work()
    }
}

impl PyMmap {
    fn read_lock(&self) -> RwLockReadGuard<'_, Locked> {
        // A panic while the lock was held cannot leave the map half-changed (the core's
        // operations are all-or-nothing), so a poisoned lock is still usable.
        self.map.read().unwrap_or_else(|poison| poison.into_inner())
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, Locked> {
        self.map
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Runs `f` on the open map under the read lock (GIL held; keep `f` short).
    pub(crate) fn with_map<R>(&self, f: impl FnOnce(&DynMmap) -> PyResult<R>) -> PyResult<R> {
        match &self.read_lock().map {
            Some(map) => f(map),
            None => Err(closed()),
        }
    }

    /// Runs `f` on the open map under the write lock (GIL held; keep `f` short).
    fn with_map_mut<R>(&self, f: impl FnOnce(&mut DynMmap) -> PyResult<R>) -> PyResult<R> {
        match &mut self.write_lock().map {
            Some(map) => f(map),
            None => Err(closed()),
        }
    }

    /// Runs `f` on the open map under the read lock, with the GIL released when `bytes` is
    /// large. The lock is taken and dropped inside the detached section.
    pub(crate) fn with_map_detached<R: Send>(
        &self,
        py: Python<'_>,
        bytes: usize,
        f: impl Send + FnOnce(&DynMmap) -> PyResult<R>,
    ) -> PyResult<R> {
        maybe_detach(py, bytes, || self.with_map(f))
    }

    /// As [`with_map_detached`](Self::with_map_detached), under the write lock.
    fn with_map_mut_detached<R: Send>(
        &self,
        py: Python<'_>,
        bytes: usize,
        f: impl Send + FnOnce(&mut DynMmap) -> PyResult<R>,
    ) -> PyResult<R> {
        maybe_detach(py, bytes, || self.with_map_mut(f))
    }

    /// Whether a duplicate of the file's descriptor is kept (not for anonymous memory or
    /// `trackfd=False`).
    #[cfg(Py_3_15)]
    pub(crate) fn keeps_descriptor(&self) -> bool {
        self.has_fd
    }

    /// Whether the map is still open (not closed); see `open`.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// CPython's `CHECK_VALID`.
    pub(crate) fn check_valid(&self) -> PyResult<()> {
        self.with_map(|_| Ok(()))
    }

    pub(crate) fn len_checked(&self) -> PyResult<usize> {
        self.with_map(|map| Ok(map.len()))
    }

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

    /// find/rfind: `sub` any buffer; start defaults to the cursor, end to the length; both
    /// clamp like slice indices (negative counts from the end).
    fn search(
        &self,
        py: Python<'_>,
        method: &str,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        reverse: bool,
    ) -> PyResult<isize> {
        args::no_kwargs(method, kwargs)?;
        // CPython's CHECK_VALID comes first; the length it reads only decides whether to
        // release the GIL (the search re-reads it under the lock, after the conversions,
        // which may run Python code that resizes or closes the map).
        let len = self.len_checked()?;
        let [sub, start, end] = args::positional::<3>(method, args, kwargs, 1)?;
        let needle = args::buffer_bytes(&required(sub)?)?;
        let start = start.map(|s| args::ssize(&s)).transpose()?;
        let end = end.map(|e| args::ssize(&e)).transpose()?;
        self.with_map_detached(py, len, move |map| {
            let len = map.len() as isize;
            let clamp = |index: isize| {
                let index = if index < 0 { index + len } else { index };
                index.clamp(0, len) as usize
            };
            let start = start.map_or(map.tell() as usize, clamp);
            let end = end.map_or(len as usize, clamp);
            let found = if reverse {
                map.rfind_in(&needle, start..end)
            } else {
                map.find_in(&needle, start..end)
            }
            .map_err(errors::from_io)?;
            Ok(found.map_or(-1, |i| i as isize))
        })
    }

    /// `CHECK_VALID`, writability, then the item assignment or deletion of `key`.
    fn assign(&self, key: &Bound<'_, PyAny>, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.check_valid()?;
        self.require_writable()?;
        if args::is_index(key) {
            let index = args::index_value(key, true)?;
            // The length is read after `__index__`, which may have closed or resized the map.
            let len = self.len_checked()? as isize;
            let index = if index < 0 { index + len } else { index };
            if index < 0 || index >= len {
                return Err(PyIndexError::new_err("mmap index out of range"));
            }
            let Some(value) = value else {
                return Err(errors::type_error("mmap doesn't support item deletion"));
            };
            if !args::is_index(value) {
                return Err(errors::type_error("mmap item value must be an int"));
            }
            let byte = args::item_value(value)?;
            let byte = u8::try_from(byte)
                .map_err(|_| errors::value_error("mmap item value must be in range(0, 256)"))?;
            return self.with_map_mut(|map| {
                // `value.__index__` may have shrunk the map since the index was checked.
                if index as usize >= map.len() {
                    return Err(PyIndexError::new_err("mmap index out of range"));
                }
                map.set_byte(index as usize, byte).map_err(errors::from_io)
            });
        }
        let Ok(slice) = key.cast::<PySlice>() else {
            return Err(errors::type_error("mmap indices must be integer"));
        };
        let (start, stop, step) = args::unpack_slice(slice)?;
        let len = self.len_checked()?;
        let (_, _, count) = adjust_slice(len, start, stop, step);
        let Some(value) = value else {
            return Err(errors::type_error(
                "mmap object doesn't support slice deletion",
            ));
        };
        let data = args::buffer_bytes(value)?;
        if data.len() != count {
            return Err(PyIndexError::new_err("mmap slice assignment is wrong size"));
        }
        self.with_map_mut_detached(value.py(), count, move |map| {
            // Recomputed under the lock: the map may have changed while `value` was read.
            let (first, step, count) = adjust_slice(map.len(), start, stop, step);
            if count != data.len() {
                return Err(PyIndexError::new_err("mmap slice assignment is wrong size"));
            }
            if count == 0 {
                return Ok(());
            }
            if step == 1 {
                return map.write_at(first, &data).map_err(errors::from_io);
            }
            let (low, high) = span(first, step, count);
            map.with_bytes_mut(low..high, |bytes| {
                for (k, &byte) in data.iter().enumerate() {
                    bytes[(first as isize + k as isize * step) as usize - low] = byte;
                }
            })
            .map_err(errors::from_io)
        })
    }

    fn type_name(slf: &Bound<'_, Self>) -> String {
        args::type_name(slf.as_any())
    }

    /// The byte at `index` as a 1-byte `bytes` (the sequence slot, used by iteration).
    pub(crate) fn item_bytes<'py>(
        &self,
        py: Python<'py>,
        index: usize,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let byte = self.with_map(|map| {
            if index >= map.len() {
                return Ok(None);
            }
            map.get_byte(index).map(Some).map_err(errors::from_io)
        })?;
        Ok(byte.map(|b| PyBytes::new(py, &[b])))
    }
}

impl PyMmap {
    /// `readline()`, called by [`readline_method`].
    ///
    /// The common case (a line shorter than `DETACH_MIN`) takes the lock once, keeps the GIL
    /// and fills the `bytes` straight from the mapped line inside the guarded access (no
    /// intermediate copy), reusing the object of an earlier line that the caller has let go
    /// of (`recycle.rs`); only a longer line is found and copied with the GIL released.
    pub(crate) fn readline<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        {
            let mut guard = self.write_lock();
            let Locked { map, lines } = &mut *guard;
            let Some(map) = map.as_mut() else {
                return Err(closed());
            };
            let len = map.len();
            let pos = (map.tell() as usize).min(len);
            let window_end = len.min(pos.saturating_add(DETACH_MIN));
            let found = map
                .with_bytes(pos..window_end, |window| {
                    let end = match memchr::memchr(b'\n', window) {
                        Some(i) => i + 1,
                        None if window_end == len => window.len(),
                        None => return None,
                    };
                    // A fault while copying (file truncated meanwhile) is reported by
                    // `with_bytes` after this returns, and the `bytes` is dropped.
                    Some((end, lines.bytes(py, &window[..end])))
                })
                .map_err(errors::from_io)?;
            if let Some((end, line)) = found {
                map.advance(end);
                return Ok(line);
            }
        }
        // No newline within DETACH_MIN bytes: a long line, found and copied without the GIL.
        let line = self.with_map_mut_detached(py, usize::MAX, |map| {
            map.readline().map_err(errors::from_io)
        })?;
        Ok(PyBytes::new(py, &line))
    }
}

/// `mmap.readline` as a plain `METH_NOARGS` C function, installed on the class by
/// [`install_readline`]. A `readline()` loop is the one call Python code makes millions of
/// times in a row, and PyO3's method trampoline cost about 6 ns of each call (readline at
/// the end of a map: 40 ns through PyO3, 34 ns so, 28 ns for CPython's mmap; with lines of
/// 137 bytes a whole loop runs at 1.1-1.2x CPython's, now that the `bytes` are reused). The
/// method descriptor already checks that `slf` is an instance of the class, so all that is
/// left to do here is the work itself. (Reference drops PyO3 deferred from threads without
/// the GIL are applied by the next call through PyO3 instead of this one.)
///
/// # Safety
///
/// Called only by CPython, through the descriptor made in [`install_readline`]: with the
/// thread attached (GIL held) and `slf` a live instance of `PyMmap` or a subclass.
unsafe extern "C" fn readline_method(
    slf: *mut ffi::PyObject,
    _args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls METH_NOARGS functions with the thread attached.
    let py = unsafe { Python::assume_attached() };
    let outcome = std::panic::catch_unwind(|| {
        // SAFETY: `slf` is a live object borrowed for the call; the descriptor has checked
        // that its type is `PyMmap` or a subclass.
        let this = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<PyMmap>() };
        this.get().readline(py).map(Bound::into_ptr)
    });
    let err = match outcome {
        Ok(Ok(line)) => return line,
        Ok(Err(err)) => err,
        // Nothing in readline panics; should it ever, the panic must not unwind into C.
        Err(_) => pyo3::exceptions::PySystemError::new_err("mmap.readline() panicked"),
    };
    err.restore(py);
    std::ptr::null_mut()
}

/// Puts [`readline_method`] on the class as `readline`, a method descriptor like those of
/// CPython's own C types (same `TypeError` for arguments: "mmap.readline() takes no
/// arguments (1 given)").
pub(crate) fn install_readline(ty: &Bound<'_, pyo3::types::PyType>) -> PyResult<()> {
    // The descriptor keeps a pointer to its definition for as long as the class lives: the
    // definition is leaked, once per import of the module.
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: c"readline".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunction: readline_method,
        },
        ml_flags: ffi::METH_NOARGS,
        ml_doc: c"readline($self, /)\n--\n\nThe bytes up to and including the next newline (or the end); b'' at the end.".as_ptr(),
    }));
    // SAFETY: `ty` is a live type object and `def` a valid, never freed method definition;
    // PyDescr_NewMethod returns a new reference or NULL with an exception set.
    let descr = unsafe {
        Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))
    }?;
    ty.setattr("readline", descr)
}

/// A required argument, which `args::positional` has already checked is present.
fn required(arg: Option<Bound<'_, PyAny>>) -> PyResult<Bound<'_, PyAny>> {
    arg.ok_or_else(|| PyTypeError::new_err("missing required argument"))
}

/// The index range `low..high` covering `count > 0` indices from `first` by `step`.
fn span(first: usize, step: isize, count: usize) -> (usize, usize) {
    let last = (first as isize + (count as isize - 1) * step) as usize;
    (first.min(last), first.max(last) + 1)
}

#[pymethods]
impl PyMmap {
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
        // 4. Size checks, for regular files only.
        let mut length = length as u64;
        let offset = offset as u64;
        let file_type = if fileno == -1 {
            None
        } else {
            // CPython skips its checks when fstat fails, then dup() (or the kernel's look-up
            // of the descriptor) fails with the same errno.
            Some(fstat(fileno).map_err(errors::os_error)?)
        };
        if let Some((libc::S_IFREG, size)) = file_type {
            if length == 0 {
                if size == 0 {
                    return Err(errors::value_error("cannot mmap an empty file"));
                }
                if offset >= size {
                    return Err(errors::value_error("mmap offset is greater than file size"));
                }
                length = size - offset;
            } else if offset > size || size - offset < length {
                return Err(errors::value_error("mmap length is greater than file size"));
            }
        }
        // 6. What mmap(2) itself would refuse: CPython hands these to the kernel, the core
        // accepts them (it aligns any offset, picks the sharing itself), so the errno is
        // reproduced here, in the kernel's order: no length or an unaligned offset, more than
        // the address space, no known map type (anonymous memory knows no
        // MAP_SHARED_VALIDATE).
        let map_type = flags & 0xf;
        if length == 0 || offset % mmapfile::allocation_granularity() as u64 != 0 {
            return Err(errors::os_error(libc::EINVAL));
        }
        if length > ADDRESS_SPACE {
            return Err(errors::os_error(libc::ENOMEM));
        }
        if !(map_type == libc::MAP_SHARED
            || map_type == libc::MAP_PRIVATE
            || (map_type == libc::MAP_SHARED_VALIDATE && fileno != -1))
        {
            return Err(errors::os_error(libc::EINVAL));
        }
        if let Some((libc::S_IFDIR | libc::S_IFIFO | libc::S_IFSOCK, _)) = file_type {
            return Err(errors::os_error(unmappable_errno(fileno, map_type, prot)));
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
        let mut options = MmapOptions::new();
        options
            .offset(offset)
            .len(length)
            .raw_protection(prot)
            .raw_flags(flags)
            .keep_file(trackfd);
        // 5. Anonymous memory for fileno -1, else the file (dup()ed when trackfd).
        let map = py.detach(|| {
            if fileno == -1 {
                options.map_anon_dyn(core_access)
            } else {
                // SAFETY: the descriptor is only borrowed for the duration of this call (the
                // core dup()s it when it keeps one); an invalid number makes fstat fail with
                // EBADF before anything else uses it. The file-contract of `map_dyn` (no
                // truncation under the map) is the Python caller's, as with CPython's mmap;
                // the core reports a truncated file instead of crashing.
                unsafe {
                    let fd = BorrowedFd::borrow_raw(fileno);
                    if access == ACCESS_DEFAULT && core_access == Access::Copy {
                        // CPython resizes an ACCESS_DEFAULT map with MAP_PRIVATE: it sets the
                        // file's size and remaps, privately. The core does that for maps it
                        // may write the file for, so such a map is one (its MAP_PRIVATE flag
                        // still keeps every store out of the file) when the descriptor is
                        // writable; a read-only descriptor gets a copy-on-write map.
                        match options.map_dyn(Some(&fd), Access::Write) {
                            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                                options.map_dyn(Some(&fd), Access::Copy)
                            }
                            mapped => mapped,
                        }
                    } else {
                        options.map_dyn(Some(&fd), core_access)
                    }
                }
            }
        });
        // The core's check of the open mode becomes the kernel's EACCES (PermissionError).
        let map = map.map_err(errors::from_io)?;
        Ok(PyMmap {
            map: RwLock::new(Locked {
                map: Some(map),
                lines: BytesRing::default(),
            }),
            exports: AtomicUsize::new(0),
            open: AtomicBool::new(true),
            access,
            has_fd: fileno != -1 && trackfd,
            trackfd,
            offset,
        })
    }

    /// Closes the map; later uses raise ValueError. Refused while buffers are exported.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = {
            let mut guard = self.write_lock();
            if self.exports.load(Ordering::SeqCst) > 0 {
                return Err(errors::buffer_error("cannot close exported pointers exist"));
            }
            // The recycled lines go too (the GIL is held, so they are freed right away).
            guard.lines = BytesRing::default();
            self.open.store(false, Ordering::Release);
            guard.map.take()
        };
        match taken {
            Some(map) => py.detach(|| map.close()).map_err(errors::from_io),
            None => Ok(()),
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.read_lock().map.is_none()
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().check_valid()?;
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.close(py)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn find(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<isize> {
        self.search(py, "find", args, kwargs, false)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn rfind(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<isize> {
        self.search(py, "rfind", args, kwargs, true)
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn flush(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        // `flags=` is 3.15's (see additions.rs); other keywords are refused as before.
        let (flags, kwargs) = crate::additions::flush_flags(kwargs)?;
        args::no_kwargs("flush", kwargs.as_ref())?;
        let len = self.len_checked()? as isize;
        let [offset, size] = args::positional::<2>("flush", args, None, 0)?;
        let flags = flags
            .map(|f| args::int(&f))
            .transpose()?
            .unwrap_or(libc::MS_SYNC);
        let offset = offset.map(|o| args::ssize(&o)).transpose()?.unwrap_or(0);
        let size = size.map(|s| args::ssize(&s)).transpose()?.unwrap_or(len);
        if size < 0 || offset < 0 || len - offset < size {
            return Err(errors::value_error("flush values out of range"));
        }
        if self.access == ACCESS_READ || self.access == ACCESS_COPY {
            return Ok(());
        }
        if offset as usize % mmapfile::page_size() != 0 {
            // msync(2) wants a page-aligned address; the core would align it for us.
            return Err(errors::os_error(libc::EINVAL));
        }
        // msync waits for the disk: always worth releasing the GIL.
        self.with_map_detached(py, usize::MAX, move |map| {
            if offset as usize + size as usize > map.len() {
                return Err(errors::value_error("flush values out of range"));
            }
            map.flush_raw(offset as usize, size as usize, flags)
                .map_err(errors::from_io)
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn madvise(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        args::no_kwargs("madvise", kwargs)?;
        let len = self.len_checked()? as isize;
        let [option, start, length] = args::positional::<3>("madvise", args, kwargs, 1)?;
        let option = args::int(&required(option)?)?;
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
        // The write lock: advice such as MADV_DONTNEED may change the contents, so no other
        // operation of ours may be reading them.
        self.with_map_mut(|map| {
            if start as usize + length as usize > map.len() {
                return Err(errors::value_error("madvise start out of bounds"));
            }
            // SAFETY: the write lock excludes every borrow of the map's bytes in this module;
            // content-changing advice is what the Python caller asked for, exactly as with
            // CPython's mmap.madvise (which passes the option to the kernel unchecked).
            unsafe { map.advise_raw(option, start as usize, length as usize) }
                .map_err(errors::from_io)
        })
    }

    #[pyo3(name = "move", signature = (*args, **kwargs))]
    fn move_(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        args::no_kwargs("move", kwargs)?;
        self.check_valid()?;
        let [dest, src, count] = args::positional::<3>("move", args, kwargs, 3)?;
        let dest = args::ssize(&required(dest)?)?;
        let src = args::ssize(&required(src)?)?;
        let count = args::ssize(&required(count)?)?;
        self.require_writable()?;
        let out_of_range = || errors::value_error("source, destination, or count out of range");
        if dest < 0 || src < 0 || count < 0 {
            return Err(out_of_range());
        }
        self.with_map_mut_detached(py, count as usize, move |map| {
            let len = map.len() as isize;
            if len - dest < count || len - src < count {
                return Err(out_of_range());
            }
            map.move_within(dest as usize, src as usize, count as usize)
                .map_err(errors::from_io)
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        args::no_kwargs("read", kwargs)?;
        self.check_valid()?;
        let [n] = args::positional::<1>("read", args, kwargs, 0)?;
        let n = match &n {
            Some(n) => args::optional_ssize(n)?.unwrap_or(-1),
            None => -1,
        };
        let (len, pos) = self.with_map(|map| Ok((map.len(), map.tell() as usize)))?;
        let remaining = len.saturating_sub(pos);
        let n = if n < 0 {
            remaining
        } else {
            (n as usize).min(remaining)
        };
        let bytes =
            self.with_map_mut_detached(py, n, move |map| map.read(n).map_err(errors::from_io))?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn read_byte(&self) -> PyResult<u8> {
        self.with_map_mut(|map| {
            if map.tell() as usize >= map.len() {
                return Err(errors::value_error("read byte out of range"));
            }
            map.read_byte().map_err(errors::from_io)
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn resize(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        args::no_kwargs("resize", kwargs)?;
        self.check_valid()?;
        let [new_size] = args::positional::<1>("resize", args, kwargs, 1)?;
        let new_size = args::ssize(&required(new_size)?)?;
        if self.exports.load(Ordering::SeqCst) > 0 {
            return Err(errors::buffer_error(
                "mmap can't resize with extant buffers exported.",
            ));
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
        let exports = &self.exports;
        let has_fd = self.has_fd;
        // Remapping copies or moves memory and ftruncate may write: release the GIL. The write
        // lock makes every other operation wait until the memory is in its new place.
        py.detach(move || {
            let mut guard = self.write_lock();
            // Re-checked under the lock: a buffer may have been exported meanwhile.
            if exports.load(Ordering::SeqCst) > 0 {
                return Err(errors::buffer_error(
                    "mmap can't resize with extant buffers exported.",
                ));
            }
            let Some(map) = guard.map.as_mut() else {
                return Err(closed());
            };
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
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn seek(&self, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<u64> {
        args::no_kwargs("seek", kwargs)?;
        self.check_valid()?;
        let [pos, whence] = args::positional::<2>("seek", args, kwargs, 1)?;
        let dist = args::ssize(&required(pos)?)?;
        let whence = whence.map(|w| args::int(&w)).transpose()?.unwrap_or(0);
        let target = match whence {
            0 if dist < 0 => return Err(errors::value_error("seek out of range")),
            0 => SeekFrom::Start(dist as u64),
            1 => SeekFrom::Current(dist as i64),
            2 => SeekFrom::End(dist as i64),
            _ => return Err(errors::value_error("unknown seek type")),
        };
        self.with_map_mut(|map| {
            map.seek(target)
                .map_err(|_| errors::value_error("seek out of range"))
        })
    }

    fn seekable(&self) -> bool {
        true
    }

    /// 3.15's `set_name(name)`, offered on every version (see additions.rs).
    #[pyo3(signature = (name, /))]
    fn set_name(&self, name: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::additions::set_name(self, name)
    }

    fn size(&self) -> PyResult<u64> {
        self.check_valid()?;
        #[cfg(Py_3_15)]
        if let Some(size) = crate::additions::size_without_descriptor(self)? {
            return Ok(size);
        }
        if !self.has_fd {
            // CPython fstat()s the descriptor it keeps, which is -1 for anonymous memory and
            // for trackfd=False.
            return Err(errors::os_error(libc::EBADF));
        }
        self.with_map(|map| map.size().map_err(errors::from_io))
    }

    fn tell(&self) -> PyResult<u64> {
        self.with_map(|map| Ok(map.tell()))
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn write(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<usize> {
        args::no_kwargs("write", kwargs)?;
        self.check_valid()?;
        let [data] = args::positional::<1>("write", args, kwargs, 1)?;
        let data = args::buffer_bytes(&required(data)?)?;
        self.require_writable()?;
        self.with_map_mut_detached(py, data.len(), move |map| {
            let pos = map.tell() as usize;
            if pos > map.len() || map.len() - pos < data.len() {
                return Err(errors::value_error("data out of range"));
            }
            map.write(&data).map_err(errors::from_io)
        })
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn write_byte(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        args::no_kwargs("write_byte", kwargs)?;
        self.check_valid()?;
        let [byte] = args::positional::<1>("write_byte", args, kwargs, 1)?;
        let byte = args::unsigned_byte(&required(byte)?)?;
        self.require_writable()?;
        self.with_map_mut(|map| {
            if map.tell() as usize >= map.len() {
                return Err(errors::value_error("write byte out of range"));
            }
            map.write_byte(byte).map_err(errors::from_io)
        })
    }

    /// mmapfile extra: `count(sub[, start[, end]])`, non-overlapping occurrences of `sub`
    /// in the whole map (or `start..end`, clamped like slice indices), as `bytes.count`.
    #[pyo3(signature = (*args, **kwargs))]
    fn count(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<usize> {
        args::no_kwargs("count", kwargs)?;
        self.check_valid()?;
        let [sub, start, end] = args::positional::<3>("count", args, kwargs, 1)?;
        let needle = args::buffer_bytes(&required(sub)?)?;
        let start = start.map(|s| args::ssize(&s)).transpose()?;
        let end = end.map(|e| args::ssize(&e)).transpose()?;
        crate::extras::count(self, py, needle, start, end)
    }

    /// mmapfile extra: an iterator over the lines of the whole map, as `bytes`.
    fn lines(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        crate::lines::lines(slf).map(Bound::into_any)
    }

    /// mmapfile extra: an iterator over the matches of a Rust-syntax regex in the whole map.
    #[pyo3(signature = (pattern, /))]
    fn finditer(
        slf: Bound<'_, Self>,
        pattern: &Bound<'_, PyAny>,
    ) -> PyResult<crate::extras::MatchIter> {
        slf.get().check_valid()?;
        let re = crate::extras::compile(pattern)?;
        let spans = crate::extras::find_spans(slf.get(), slf.py(), re)?;
        Ok(crate::extras::MatchIter::new(slf.unbind(), spans))
    }

    fn __len__(&self) -> PyResult<usize> {
        self.len_checked()
    }

    /// `bytes(m)`: a copy of the whole map. CPython's mmap leaves this to the buffer protocol,
    /// which cannot report an error; going through the core's guarded copy instead makes a
    /// copy of a truncated map raise rather than return zeros for the vanished bytes.
    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.check_valid()?;
        let len = self.len_checked()?;
        let bytes =
            self.with_map_detached(py, len, |map| map.copy_range(..).map_err(errors::from_io))?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __getitem__<'py>(&self, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = key.py();
        self.check_valid()?;
        if args::is_index(key) {
            let index = args::index_value(key, true)?;
            let byte = self.with_map(|map| {
                let len = map.len() as isize;
                let index = if index < 0 { index + len } else { index };
                if index < 0 || index >= len {
                    return Err(PyIndexError::new_err("mmap index out of range"));
                }
                map.get_byte(index as usize).map_err(errors::from_io)
            })?;
            return Ok(byte.into_pyobject(py)?.into_any());
        }
        let Ok(slice) = key.cast::<PySlice>() else {
            return Err(errors::type_error("mmap indices must be integers"));
        };
        let (start, stop, step) = args::unpack_slice(slice)?;
        let (_, _, count) = adjust_slice(self.len_checked()?, start, stop, step);
        let bytes = self.with_map_detached(py, count, move |map| {
            let (first, step, count) = adjust_slice(map.len(), start, stop, step);
            if count == 0 {
                return Ok(Vec::new());
            }
            if step == 1 {
                return map
                    .copy_range(first..first + count)
                    .map_err(errors::from_io);
            }
            let (low, high) = span(first, step, count);
            map.with_bytes(low..high, |bytes| {
                (0..count)
                    .map(|k| bytes[(first as isize + k as isize * step) as usize - low])
                    .collect()
            })
            .map_err(errors::from_io)
        })?;
        Ok(PyBytes::new(py, &bytes).into_any())
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign(key, Some(value))
    }

    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.assign(key, None)
    }

    /// Iteration yields 1-byte `bytes`, like CPython's sequence slot (`list(m)`).
    /// As CPython's sequence iterator, a closed map raises at the first `next()`, not here.
    fn __iter__(slf: Bound<'_, Self>) -> PyResult<crate::iter::MmapIter> {
        Ok(crate::iter::MmapIter::new(slf.unbind()))
    }

    /// `reversed(m)`: the 1-byte `bytes` from the last to the first.
    fn __reversed__(slf: Bound<'_, Self>) -> PyResult<crate::iter::MmapIter> {
        let len = slf.get().len_checked()?;
        Ok(crate::iter::MmapIter::reversed(slf.unbind(), len))
    }

    /// `x in m` compares `x` with each 1-byte `bytes` item, as CPython's fallback does.
    fn __contains__(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.check_valid()?;
        if let Ok(bytes) = item.cast::<PyBytes>() {
            let needle = bytes.as_bytes();
            if needle.len() != 1 {
                return Ok(false);
            }
            let len = self.len_checked()?;
            return self.with_map_detached(py, len, |map| {
                map.find_in(needle, ..)
                    .map(|found| found.is_some())
                    .map_err(errors::from_io)
            });
        }
        let mut index = 0;
        while let Some(byte) = self.item_bytes(py, index)? {
            if item.eq(byte)? {
                return Ok(true);
            }
            index += 1;
        }
        Ok(false)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let name = Self::type_name(slf);
        let this = slf.get();
        match &this.read_lock().map {
            None => format!("<{name} closed=True>"),
            Some(map) => format!(
                "<{name} closed=False, access={}, length={}, pos={}, offset={}>",
                access_name(this.access),
                map.len(),
                map.tell(),
                this.offset
            ),
        }
    }

    /// Maps cannot be pickled (CPython's messages for protocols 0-1 and 2+).
    fn __reduce_ex__(slf: &Bound<'_, Self>, protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        let protocol = protocol.extract::<i64>().unwrap_or(2);
        let name = if protocol < 2 {
            "mmap".to_string()
        } else {
            Self::type_name(slf)
        };
        Err(PyTypeError::new_err(format!(
            "cannot pickle '{name}' object"
        )))
    }

    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<()> {
        Err(PyTypeError::new_err(format!(
            "cannot pickle '{}' object",
            Self::type_name(slf)
        )))
    }

    /// One contiguous block of unsigned bytes (format `B`), read-only for ACCESS_READ.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let guard = this.read_lock();
        let Some(map) = guard.map.as_ref() else {
            return Err(closed());
        };
        let readonly = c_int::from(!this.is_writable());
        // SAFETY: `view` is the caller's Py_buffer; PyBuffer_FillInfo fills it for `len` bytes
        // at the map's address (which stays put: close/resize refuse while exports > 0) and
        // keeps a reference to `slf`. It raises BufferError itself for a writable request on
        // a read-only map.
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                map.as_ptr().cast_mut().cast(),
                map.len() as ffi::Py_ssize_t,
                readonly,
                flags,
            )
        };
        if rc != 0 {
            return Err(PyErr::take(slf.py())
                .unwrap_or_else(|| errors::buffer_error("Object is not writable.")));
        }
        this.exports.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.exports.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `fstat(fd)`'s file type (`S_IFMT` bits) and size, or the errno.
fn fstat(fd: c_int) -> Result<(libc::mode_t, u64), i32> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `stat` on success; it is read only then.
    let rc = unsafe { libc::fstat(fd, stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EBADF));
    }
    // SAFETY: fstat succeeded, so `stat` is initialised.
    let stat = unsafe { stat.assume_init() };
    Ok((stat.st_mode & libc::S_IFMT, stat.st_size.max(0) as u64))
}

/// The errno mmap(2) gives for a directory, FIFO or socket, in the kernel's order: the open
/// mode is checked first (EACCES: a shared writable map of a descriptor not open for writing,
/// a private map of one not open for reading), then the file's own mmap operation: none for
/// directories and FIFOs (ENODEV); TCP's refuses writable maps (EPERM).
fn unmappable_errno(fd: c_int, map_type: c_int, prot: c_int) -> i32 {
    // SAFETY: F_GETFL only reads the descriptor's flags; the descriptor was fstat()ed.
    let mode = unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_ACCMODE;
    let readable = mode == libc::O_RDONLY || mode == libc::O_RDWR;
    let writable = mode == libc::O_WRONLY || mode == libc::O_RDWR;
    let wants_write = prot & libc::PROT_WRITE != 0;
    if map_type == libc::MAP_PRIVATE {
        if !readable {
            return libc::EACCES;
        }
    } else if wants_write && !writable {
        return libc::EACCES;
    }
    match fstat(fd) {
        Ok((libc::S_IFSOCK, _)) if wants_write => libc::EPERM,
        _ => libc::ENODEV,
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
