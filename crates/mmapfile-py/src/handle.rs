//! The map handle: the one owner of a Python map's state, and the one door from CPython's C
//! calls into Rust.
//!
//! [`MapHandle`] alone owns the core's [`DynMmap`], whether it is open, the file-like cursor,
//! the count of buffer exports and the rule for when the GIL is released. `object.rs` (the
//! class), `iter.rs`, `lines.rs` and `extras.rs` use it and never each other. [`slot`] is the
//! one wrapper for the raw CPython slots and `METH_FASTCALL` methods of the face.
//!
//! # Threads, the GIL and the map
//!
//! With the GIL held no other thread runs Python code, so a call that keeps the GIL for its
//! whole duration needs no lock: it checks the handle's state word with one plain load and
//! uses the map ([`MapHandle::idle`] is that check for the slots' fast paths). Only work that releases the GIL can overlap with another thread's calls. Such
//! work first registers in the state word (with the GIL held, so that no other thread can
//! register or check at the same moment), then releases the GIL, and unregisters when done:
//!
//! - GIL-released *readers* (searches, big copies, flush) share the map: short reads go on
//!   beside them (the cursor lives here, outside the map, so `seek`/`tell` never touch it);
//! - a GIL-released *writer* (big writes, `move`, `resize`) has the map to itself;
//! - a call that needs what is registered to finish (a short write while a search runs,
//!   `close()` or `resize()` during a search, anything during a resize) waits **with the GIL
//!   released**, then checks again with the GIL held: no call ever waits for another thread's
//!   work while holding the GIL, so the other Python threads keep running.
//!
//! `close()` and `resize()` therefore never unmap or move memory that a running call reads.
//!
//! # Buffer exports
//!
//! A writable buffer export (`memoryview(m)`, a numpy array over the map) lets Python code
//! store into the map with nothing but the GIL. A GIL-released call holds a Rust `&[u8]` (or
//! `&mut [u8]`) over the same bytes, and a store through the export during it would be
//! undefined behaviour in Rust (CPython's C has the same race, without the UB rule). So: while
//! a writable map has exports, nothing is done with the GIL released (long calls keep the
//! GIL, as CPython's do), and making a writable export waits, with the GIL released, until no
//! GIL-released call is running. Read-only maps export read-only buffers and keep releasing
//! the GIL. Stores made by native code that itself released the GIL while holding an export,
//! or by other processes, are outside the module's reach, as they are for any map (the
//! contract of the core's `unsafe` constructors).
//!
//! # fork()
//!
//! A child made by `fork()` while another thread was inside a GIL-released call inherits a
//! registration that no thread of the child will ever end. The state word carries the fork
//! generation of its registrations; a `pthread_atfork` child handler moves the process to the
//! next generation, and a registration of an older generation counts as ended. The child's
//! calls (`m[0] = 1`, `close()`) go on as with CPython's mmap.
//!
//! # Free-threaded CPython
//!
//! Where there is no GIL (`Py_GIL_DISABLED`) the handle serialises every call's access to
//! the map with a mutex of its own (taken without blocking while attached; a contended
//! caller retries with the thread detached), which stands in for the GIL in all of the
//! above. This build is not tested here (no free-threaded interpreter on the test machine).

use std::cell::UnsafeCell;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Once;

use mmapfile::DynMmap;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors;
use crate::recycle::BytesRing;

/// Work on at least this many bytes runs with the GIL released (when the rules above allow);
/// below it releasing and re-taking the GIL costs more than other threads would gain.
pub(crate) const DETACH_MIN: usize = 64 * 1024;

/// `close()` unmaps maps of at least this many bytes with the GIL released.
const UNMAP_DETACH_MIN: usize = 1 << 20;

/// The state word: the fork generation of the registrations in the high 32 bits, a writer
/// flag, a closed flag and the number of registered readers in the low 30 bits. The low 32
/// bits are all zero exactly when the map is open and nothing is registered: the one test
/// of the fast paths ([`MapHandle::idle`]).
const WRITER: u64 = 1 << 31;
/// Set by `close()`, never cleared: the map is `None`. While it is clear the map is `Some`.
const CLOSED: u64 = 1 << 30;
/// The registrations: the writer flag and the readers' count.
const REGISTERED: u64 = WRITER | (CLOSED - 1);

/// The fork generation of this process: 0 in the first, bumped in every child of `fork()`.
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);

#[cfg_attr(not(unix), allow(dead_code))]
extern "C" fn forked_child() {
    // Async-signal-safe: one atomic add.
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Registers the `fork()` child handler once per process.
pub(crate) fn install_fork_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Windows has no fork.
        #[cfg(unix)]
        // SAFETY: `forked_child` is a plain function that only does an atomic add, which is
        // allowed in a child of a multi-threaded fork.
        unsafe {
            libc::pthread_atfork(None, None, Some(forked_child))
        };
    });
}

pub(crate) const ACCESS_DEFAULT: i32 = 0;
pub(crate) const ACCESS_READ: i32 = 1;
pub(crate) const ACCESS_WRITE: i32 = 2;
pub(crate) const ACCESS_COPY: i32 = 3;

/// A memory-mapped file or anonymous memory, with CPython's `mmap.mmap` interface. Its
/// methods are in `object.rs`, `iter.rs`, `lines.rs` and `extras.rs`, each installed on the
/// class by its own module.
#[pyclass(name = "mmap", module = "mmap", subclass, weakref, frozen)]
pub struct PyMmap {
    pub(crate) handle: MapHandle,
    /// The Python access constant the map reports (ACCESS_DEFAULT/READ/WRITE/COPY).
    pub(crate) access: i32,
    /// `trackfd` for file maps; false for anonymous memory, which keeps no descriptor
    /// (so `size()` is EBADF as in CPython).
    pub(crate) has_fd: bool,
    pub(crate) trackfd: bool,
    /// Windows: the UTF-16 units of `tagname` with its NUL (0 without one), which
    /// CPython counts in `__sizeof__`.
    #[cfg(windows)]
    pub(crate) tagname_units: usize,
    /// The `offset=` the map was made with, which `repr()` shows (for anonymous memory too,
    /// where the core's map reports 0).
    pub(crate) offset: u64,
}

impl PyMmap {
    /// The map object behind `slf`.
    ///
    /// # Safety
    ///
    /// `slf` is a live instance of `PyMmap` or a subclass, borrowed for `'a`, and the thread
    /// is attached.
    #[inline(always)]
    pub(crate) unsafe fn from_ptr<'a>(py: Python<'_>, slf: *mut ffi::PyObject) -> &'a PyMmap {
        // SAFETY: per the contract; the object outlives `'a`, and a frozen pyclass hands out
        // shared references to its value without a borrow flag.
        unsafe {
            let bound = pyo3::Borrowed::from_ptr(py, slf).cast_unchecked::<PyMmap>();
            &*(bound.get() as *const PyMmap)
        }
    }
}

impl PyMmap {
    /// The map object behind a slot's `slf`, for a fast path (always `Some`: the `Option`
    /// only shapes the callers' code).
    ///
    /// # Safety
    ///
    /// As [`from_ptr`](Self::from_ptr); in particular `slf` is not NULL, which CPython
    /// never passes as a slot's or method's `self` (this lets the check go).
    #[inline(always)]
    pub(crate) unsafe fn peek<'a>(slf: *mut ffi::PyObject) -> Option<&'a PyMmap> {
        // SAFETY: per the contract.
        unsafe {
            std::hint::assert_unchecked(!slf.is_null());
            Some(Self::from_ptr(Python::assume_attached(), slf))
        }
    }
}

/// An iterator's reference to its map, which the garbage collector can see and clear (a map
/// subclass instance that holds its own iterator is a cycle the builtin's collector frees).
pub(crate) struct MapLink {
    map: UnsafeCell<Option<Py<PyMmap>>>,
}

// SAFETY: the cell is read and changed only with the GIL held (by the iterator's methods and
// by the collector's traverse/clear, which run with the GIL held, or the world stopped on
// free-threaded builds).
unsafe impl Sync for MapLink {}

impl MapLink {
    pub(crate) fn new(map: Bound<'_, PyMmap>) -> Self {
        Self {
            map: UnsafeCell::new(Some(map.unbind())),
        }
    }

    /// The map (a new reference, so that a collection that clears the link meanwhile cannot
    /// free it under the caller); a cleared link is a closed map.
    #[inline]
    pub(crate) fn get<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyMmap>> {
        // SAFETY: GIL held; see the `Sync` impl.
        match unsafe { &*self.map.get() } {
            Some(map) => Ok(map.bind(py).clone()),
            None => Err(errors::closed()),
        }
    }

    /// Runs `f` on the map without taking a new reference (a cleared link is a closed map).
    /// `f` must not run Python code nor allocate objects the collector tracks (a collection
    /// could clear the link and free the map under it); `bytes` and `int` are not tracked.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&PyMmap) -> PyResult<R>) -> PyResult<R> {
        // SAFETY: GIL held (the caller's `Python` token is implied by the contract of the
        // iterators' methods); see the `Sync` impl. The map stays referenced by the link
        // for as long as `f` runs, since `f` cannot trigger a collection.
        match unsafe { &*self.map.get() } {
            Some(map) => f(map.get()),
            None => Err(errors::closed()),
        }
    }

    /// Runs `f` on the map, if the link holds one, without a new reference; for fast paths
    /// that run no Python code and allocate nothing (so no collection can clear the link).
    #[inline(always)]
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&PyMmap) -> R) -> Option<R> {
        // SAFETY: GIL held (the callers are slots); see the `Sync` impl.
        unsafe { &*self.map.get() }.as_ref().map(|map| f(map.get()))
    }

    /// Whether the link still holds its map (GIL held).
    pub(crate) fn is_set(&self) -> bool {
        // SAFETY: GIL held (the callers are the iterators' methods); see the `Sync` impl.
        unsafe { &*self.map.get() }.is_some()
    }

    /// `tp_traverse`: visits the map.
    pub(crate) fn traverse(
        &self,
        visit: &pyo3::gc::PyVisit<'_>,
    ) -> Result<(), pyo3::PyTraverseError> {
        // SAFETY: the collector holds the GIL (or has stopped the world).
        visit.call(unsafe { &*self.map.get() })
    }

    /// `tp_clear`, and the end of an iteration: lets go of the map.
    pub(crate) fn clear(&self, py: Python<'_>) {
        // SAFETY: the collector or the ending iterator holds the GIL (free-threaded builds:
        // only the collector, with the world stopped); the reference is taken out before it
        // is dropped, so code run by the drop sees a cleared link.
        let taken = unsafe { (*self.map.get()).take() };
        // Dropped as a `Bound`, which lets go at once: a raw slot's thread is attached
        // without PyO3 counting it, and a `Py` dropped there would wait for PyO3's next call.
        drop(taken.map(|map| map.into_bound(py)));
    }
}

/// What a Python map object holds: see the module docs.
pub(crate) struct MapHandle {
    /// The map; `None` once closed. Reached through `read`/`write` (GIL held, nothing
    /// registered that excludes it) or a [`Lease`].
    map: UnsafeCell<Option<DynMmap>>,
    /// The file-like cursor. Only changed with the GIL held; an atomic so that the handle is
    /// `Sync` without further argument (relaxed loads and stores are plain moves).
    cursor: AtomicUsize,
    /// GIL-released work in flight: see [`WRITER`].
    state: AtomicU64,
    /// Live buffer exports; `close()` and `resize()` refuse while it is non-zero.
    exports: AtomicUsize,
    /// Whether the map was made writable (so its exports are writable).
    writable: bool,
    /// The `bytes` objects `readline()` refills; used with the GIL held only.
    lines: UnsafeCell<BytesRing>,
    #[cfg(Py_GIL_DISABLED)]
    serial: std::sync::Mutex<()>,
}

// SAFETY: every access to the `UnsafeCell`s follows the protocol of the module docs: with the
// GIL held (or `serial` on free-threaded builds) and with the state word showing that no
// GIL-released work excludes it, or through a lease that registered in the state word.
// `DynMmap` is `Send + Sync`; `BytesRing` holds `Py` objects, which are `Send + Sync`.
unsafe impl Sync for MapHandle {}

/// Runs `f` with `serial` held on free-threaded builds; just `f` elsewhere.
macro_rules! serial {
    ($self:expr, $py:expr, $body:expr) => {{
        #[cfg(Py_GIL_DISABLED)]
        let _serial = $self.serialise($py);
        $body
    }};
}

impl MapHandle {
    pub(crate) fn new(map: DynMmap, writable: bool) -> Self {
        install_fork_handler();
        Self {
            map: UnsafeCell::new(Some(map)),
            cursor: AtomicUsize::new(0),
            state: AtomicU64::new(0),
            exports: AtomicUsize::new(0),
            writable,
            lines: UnsafeCell::new(BytesRing::default()),
            #[cfg(Py_GIL_DISABLED)]
            serial: std::sync::Mutex::new(()),
        }
    }

    #[cfg(Py_GIL_DISABLED)]
    fn serialise(&self, py: Python<'_>) -> std::sync::MutexGuard<'_, ()> {
        loop {
            match self.serial.try_lock() {
                Ok(held) => return held,
                Err(std::sync::TryLockError::Poisoned(poison)) => return poison.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => py.detach(std::thread::yield_now),
            }
        }
    }

    /// The state word with registrations of an earlier fork generation (made by threads that
    /// do not exist in this process) dropped. GIL held.
    #[inline(always)]
    fn live_state(&self) -> u64 {
        let state = self.state.load(Ordering::Acquire);
        if state & REGISTERED == 0 {
            return 0;
        }
        if (state >> 32) as u32 != FORK_GENERATION.load(Ordering::Relaxed) {
            // A child of fork(): the registering threads are gone. No thread of this process
            // registered since (it would have dropped them first), and registering needs the
            // GIL, which this thread holds.
            self.state.store(state & CLOSED, Ordering::Release);
            return 0;
        }
        state
    }

    /// Waits, with the GIL released, until `ready(state)` holds with the GIL held.
    #[cold]
    #[inline(never)]
    fn wait_for(&self, py: Python<'_>, ready: impl Fn(u64) -> bool + Sync) {
        loop {
            if ready(self.live_state()) {
                return;
            }
            py.detach(|| {
                let mut pause = std::time::Duration::from_micros(20);
                for spin in 0.. {
                    let state = self.state.load(Ordering::Acquire);
                    let stale = (state >> 32) as u32 != FORK_GENERATION.load(Ordering::Relaxed);
                    if ready(state & REGISTERED) || stale {
                        return;
                    }
                    if spin < 16 {
                        std::thread::yield_now();
                    } else {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(std::time::Duration::from_millis(1));
                    }
                }
            });
        }
    }

    /// Runs `f` on the open map with the GIL held. Waits (GIL released) only while a
    /// GIL-released writer runs. `f` must not run Python code.
    #[inline(always)]
    pub(crate) fn read<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&DynMmap) -> PyResult<R>,
    ) -> PyResult<R> {
        serial!(self, py, {
            if self.live_state() & WRITER != 0 {
                self.wait_for(py, |state| state & WRITER == 0);
            }
            // SAFETY: GIL held and no GIL-released writer: the only other references to the
            // map are shared ones of GIL-released readers. `f` runs no Python code, so no
            // `write` of this thread can start meanwhile.
            match unsafe { &*self.map.get() } {
                Some(map) => f(map),
                None => Err(errors::closed()),
            }
        })
    }

    /// Runs `f` on the open map mutably with the GIL held. Waits (GIL released) while any
    /// GIL-released work runs. `f` must not run Python code.
    #[inline(always)]
    pub(crate) fn write<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut DynMmap) -> PyResult<R>,
    ) -> PyResult<R> {
        serial!(self, py, {
            if self.live_state() & REGISTERED != 0 {
                self.wait_for(py, |state| state & REGISTERED == 0);
            }
            // SAFETY: GIL held and nothing registered: no other reference to the map exists,
            // and `f` runs no Python code that could make one.
            match unsafe { &mut *self.map.get() } {
                Some(map) => f(map),
                None => Err(errors::closed()),
            }
        })
    }

    /// Open, and no GIL-released work registered: the low half of the state word is zero
    /// (see [`CLOSED`]). Never on free-threaded builds, which have no GIL to rely on.
    #[inline(always)]
    fn is_idle(&self) -> bool {
        !cfg!(Py_GIL_DISABLED) && self.state.load(Ordering::Acquire) as u32 == 0
    }

    /// Runs `f` on the open map when no GIL-released work is registered: the one check of
    /// the slots' fast paths (GIL held). `None` when the map is closed or work is in flight:
    /// the caller then takes its general path, which waits or raises as the module docs say.
    /// `f` must not run Python code. Free-threaded builds always take the general path.
    #[inline(always)]
    pub(crate) fn idle<R>(&self, f: impl FnOnce(&DynMmap) -> R) -> Option<R> {
        if !self.is_idle() {
            return None;
        }
        // SAFETY: GIL held and nothing registered (a registration of an older fork generation
        // only sends the caller to the general path): no other reference to the map exists,
        // and `f` runs no Python code that could make one or close the map. `CLOSED` is
        // clear, so the map is there.
        let map = unsafe { (*self.map.get()).as_ref() };
        debug_assert!(map.is_some(), "CLOSED clear on a closed map");
        // SAFETY: as just said.
        Some(f(unsafe { map.unwrap_unchecked() }))
    }

    /// [`idle`](Self::idle), mutably.
    #[inline(always)]
    pub(crate) fn idle_mut<R>(&self, f: impl FnOnce(&mut DynMmap) -> R) -> Option<R> {
        if !self.is_idle() {
            return None;
        }
        // SAFETY: as in `idle`; nothing registered, so this is the only reference.
        let map = unsafe { (*self.map.get()).as_mut() };
        debug_assert!(map.is_some(), "CLOSED clear on a closed map");
        // SAFETY: as in `idle`.
        Some(f(unsafe { map.unwrap_unchecked() }))
    }

    /// `readline()`'s recycled `bytes` and the map, mutably; as [`write`](Self::write).
    #[inline(always)]
    pub(crate) fn with_lines<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&DynMmap, &mut BytesRing) -> PyResult<R>,
    ) -> PyResult<R> {
        self.read(py, |map| {
            // SAFETY: the ring is only used here and in `close`, both with the GIL held (or
            // `serial`), and `f` runs no Python code: this is the only reference.
            f(map, unsafe { &mut *self.lines.get() })
        })
    }

    /// Whether the map is open: the state word's [`CLOSED`] bit, an atomic, so that the
    /// question needs no lock on free-threaded builds either (reading the `Option` itself
    /// there would race with another thread's `close()`). A caller that goes on to touch the
    /// map still needs the GIL or `serial`, as everywhere.
    #[inline(always)]
    pub(crate) fn is_open(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED == 0
    }

    /// CPython's `CHECK_VALID`.
    #[inline(always)]
    pub(crate) fn check_open(&self) -> PyResult<()> {
        if self.is_open() {
            Ok(())
        } else {
            Err(errors::closed())
        }
    }

    #[inline(always)]
    pub(crate) fn cursor(&self) -> usize {
        self.cursor.load(Ordering::Relaxed)
    }

    #[inline(always)]
    pub(crate) fn set_cursor(&self, pos: usize) {
        self.cursor.store(pos, Ordering::Relaxed);
    }

    /// Whether work may release the GIL now: not while a writable map has exports.
    #[inline]
    fn may_detach(&self) -> bool {
        !self.writable || self.exports.load(Ordering::Acquire) == 0
    }

    /// A shared lease on the open map, for work that may release the GIL: while it lives no
    /// writer (`close`, `resize`, writes) can start. Waits (GIL released) while a
    /// GIL-released writer runs. Hold it only briefly with the GIL held and run no Python
    /// code meanwhile (a `close()` in the same thread would wait for it forever).
    pub(crate) fn lease(&self, py: Python<'_>) -> PyResult<Lease<'_>> {
        self.register(py, false)
    }

    /// An exclusive lease, for GIL-released work that changes the map (big writes, `move`,
    /// `resize`). Waits (GIL released) while any GIL-released work runs.
    pub(crate) fn lease_mut(&self, py: Python<'_>) -> PyResult<Lease<'_>> {
        self.register(py, true)
    }

    fn register(&self, py: Python<'_>, exclusive: bool) -> PyResult<Lease<'_>> {
        serial!(self, py, {
            let mask = if exclusive { REGISTERED } else { WRITER };
            if self.live_state() & mask != 0 {
                self.wait_for(py, |state| state & mask == 0);
            }
            self.check_open()?;
            let unit = if exclusive { WRITER } else { 1 };
            let state = self.live_state();
            if state & REGISTERED == 0 {
                // Nothing in flight, so nothing can unregister concurrently; registering
                // needs the GIL, which this thread holds.
                let generation = u64::from(FORK_GENERATION.load(Ordering::Relaxed)) << 32;
                self.state.store(generation | unit, Ordering::Release);
            } else {
                self.state.fetch_add(unit, Ordering::AcqRel);
            }
            Ok(Lease { handle: self, unit })
        })
    }

    /// A buffer export is being made: for a writable map, waits (GIL released) until no
    /// GIL-released work runs, so that no Rust reference to the bytes outlives the moment
    /// Python code may store into them. Returns the open map's address and length.
    pub(crate) fn export(&self, py: Python<'_>) -> PyResult<(*mut u8, usize)> {
        serial!(self, py, {
            if self.writable && self.live_state() & REGISTERED != 0 {
                self.wait_for(py, |state| state & REGISTERED == 0);
            }
            // SAFETY: GIL held; only the pointer and length are read.
            match unsafe { &*self.map.get() } {
                Some(map) => Ok((map.as_ptr().cast_mut(), map.len())),
                None => Err(errors::closed()),
            }
        })
    }

    /// Counts an export made (after `export` and a successful fill). GIL held: exports are
    /// made, released and counted only with the GIL, so a load and a store suffice (no
    /// locked read-modify-write); without a GIL, an atomic add.
    #[inline(always)]
    pub(crate) fn exported(&self) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.exports
            .store(self.exports.load(Ordering::Relaxed) + 1, Ordering::Release);
        #[cfg(Py_GIL_DISABLED)]
        self.exports.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts an export released (GIL held, as `PyBuffer_Release` requires).
    #[inline(always)]
    pub(crate) fn released(&self) {
        #[cfg(not(Py_GIL_DISABLED))]
        self.exports.store(
            self.exports.load(Ordering::Relaxed).saturating_sub(1),
            Ordering::Release,
        );
        #[cfg(Py_GIL_DISABLED)]
        self.exports.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn has_exports(&self) -> bool {
        self.exports.load(Ordering::Acquire) > 0
    }

    /// Closes the map: waits (GIL released) until no GIL-released work runs, refuses while
    /// buffers are exported, then unmaps (with the GIL released for big maps). Closing a
    /// closed map is fine.
    pub(crate) fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = serial!(self, py, {
            if self.live_state() & REGISTERED != 0 {
                self.wait_for(py, |state| state & REGISTERED == 0);
            }
            if self.has_exports() {
                return Err(errors::buffer_error("cannot close exported pointers exist"));
            }
            // SAFETY: GIL held and nothing registered: no other reference to the map or the
            // ring exists. Dropping the ring frees `bytes` objects, which runs no Python code.
            let taken = unsafe {
                (*self.lines.get()).clear(py);
                (*self.map.get()).take()
            };
            // Nothing is registered (checked above, GIL held), so no other thread changes the
            // word meanwhile: a load and a store.
            let state = self.state.load(Ordering::Relaxed);
            self.state.store(state | CLOSED, Ordering::Release);
            taken
        });
        match taken {
            // Unmapping takes time in proportion to the pages mapped: worth releasing the
            // GIL for big maps only.
            Some(map) if map.len() >= UNMAP_DETACH_MIN => {
                py.detach(|| map.close()).map_err(errors::from_io)
            }
            Some(map) => map.close().map_err(errors::from_io),
            None => Ok(()),
        }
    }
}

/// A registration of GIL-released work (see [`MapHandle::lease`]); unregisters on drop.
pub(crate) struct Lease<'a> {
    handle: &'a MapHandle,
    unit: u64,
}

impl Lease<'_> {
    /// The map (open: checked when the lease was taken, and it cannot close meanwhile).
    pub(crate) fn map(&self) -> &DynMmap {
        // SAFETY: registered, so no writer other than this lease's holder can start, and the
        // map cannot be closed; a shared lease only hands out shared references.
        unsafe { (*self.handle.map.get()).as_ref() }.expect("a lease is only taken on an open map")
    }

    /// The map, mutably; only on an exclusive lease.
    pub(crate) fn map_mut(&mut self) -> &mut DynMmap {
        assert_eq!(self.unit, WRITER, "map_mut needs an exclusive lease");
        // SAFETY: an exclusive registration excludes every other access: short calls wait
        // for it, and this lease is borrowed mutably.
        unsafe { (*self.handle.map.get()).as_mut() }.expect("a lease is only taken on an open map")
    }

    /// Runs `work` with the GIL released when it concerns at least `bytes` bytes and the
    /// export rule allows it; else with the GIL held.
    ///
    /// On re-attaching, PyO3 drops the references that were dropped while detached, which
    /// can run `__del__` code while this lease is still held: a `close()`/`resize()` of
    /// this map from there would wait for this very lease forever. Nothing of this module
    /// drops a Python reference while detached, so that pool stays empty; keep it so.
    pub(crate) fn run<T: Send>(
        &mut self,
        py: Python<'_>,
        bytes: usize,
        work: impl Send + FnOnce(&mut Self) -> T,
    ) -> T {
        if bytes >= DETACH_MIN && self.handle.may_detach() {
            py.detach(|| work(self))
        } else {
            work(self)
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.handle.state.fetch_sub(self.unit, Ordering::AcqRel);
    }
}

/// A new `bytes` of `len` bytes filled from `range` of the map, copied once, straight from the
/// mapped memory into the object, inside the guarded access (a truncated file is an
/// `OSError`, and the half-filled object is dropped). The GIL is released for big copies when
/// the export rule allows. `fill` gets the mapped bytes and the object's storage.
pub(crate) fn bytes_from_map<'py>(
    py: Python<'py>,
    lease: &mut Lease<'_>,
    range: std::ops::Range<usize>,
    len: usize,
    fill: impl Send + Fn(&[u8], &mut [u8]),
) -> PyResult<Bound<'py, PyBytes>> {
    if len == 0 {
        return Ok(PyBytes::new(py, b""));
    }
    let object = new_bytes(py, len)?;
    // The object's storage as an address: it is not shared yet (only this function holds the
    // object, and `bytes` are not tracked by the garbage collector), so it may be written
    // from a thread without the GIL.
    let storage = object_storage(&object) as usize;
    lease
        .run(py, len, move |lease| {
            lease.map().with_bytes(range, |mapped| {
                // SAFETY: `storage` points at the `len` writable bytes of the new object, which no
                // one else can reach until this function returns it.
                let out = unsafe { std::slice::from_raw_parts_mut(storage as *mut u8, len) };
                fill(mapped, out)
            })
        })
        .map_err(errors::from_io)?;
    Ok(object)
}

/// A new, unfilled `bytes` object of `len` bytes, not shared with anything (a NULL source
/// never returns CPython's shared empty or 1-byte objects).
pub(crate) fn new_bytes(py: Python<'_>, len: usize) -> PyResult<Bound<'_, PyBytes>> {
    // SAFETY: a NULL source asks for an uninitialised object of `len` bytes; a new reference
    // or NULL with an exception set comes back.
    let object = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyBytes_FromStringAndSize(std::ptr::null(), len as ffi::Py_ssize_t),
        )?
    };
    // SAFETY: PyBytes_FromStringAndSize returns a `bytes`.
    Ok(unsafe { object.cast_into_unchecked() })
}

/// The storage of a `bytes` object.
fn object_storage(object: &Bound<'_, PyBytes>) -> *mut u8 {
    // SAFETY: `object` is a live `bytes`.
    unsafe { ffi::PyBytes_AsString(object.as_ptr()).cast() }
}

/// CPython's 256 shared 1-byte `bytes` objects, each holding a reference of ours for the
/// life of the process (filled at import by [`init_byte_objects`]): iteration hands them out
/// with one load and an incref instead of a call.
static BYTE_OBJECTS: [AtomicPtr<ffi::PyObject>; 256] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; 256];

/// Fills [`BYTE_OBJECTS`]; called once when the module is imported.
pub(crate) fn init_byte_objects(py: Python<'_>) -> PyResult<()> {
    for (byte, entry) in (0..=u8::MAX).zip(BYTE_OBJECTS.iter()) {
        if entry.load(Ordering::Relaxed).is_null() {
            let object = make_byte_object(py, byte);
            if object.is_null() {
                return Err(PyErr::fetch(py));
            }
            entry.store(object, Ordering::Relaxed);
        }
    }
    Ok(())
}

#[inline]
fn make_byte_object(py: Python<'_>, byte: u8) -> *mut ffi::PyObject {
    let _ = py;
    // SAFETY: one readable byte; a 1-byte `bytes` is CPython's shared object for it (immortal
    // on 3.12+), returned as a new reference, or NULL with an exception set.
    unsafe { ffi::PyBytes_FromStringAndSize((&byte as *const u8).cast(), 1) }
}

/// A 1-byte `bytes` (CPython's shared object for it), as a new reference; NULL with an
/// exception set on failure.
#[inline(always)]
pub(crate) fn byte_object(py: Python<'_>, byte: u8) -> *mut ffi::PyObject {
    let object = BYTE_OBJECTS[usize::from(byte)].load(Ordering::Relaxed);
    if object.is_null() {
        return make_byte_object(py, byte);
    }
    // SAFETY: a live object (the table holds a reference to it); GIL held.
    unsafe { ffi::Py_INCREF(object) };
    object
}

// ----------------------------------------------------------------------------- raw slots
//
// The slots and method functions CPython calls carry
// `#[cfg_attr(target_os = "linux", link_section = ".text.hot.mmapfile_slots")]`: the linker
// puts them side by side at the start of the module's code, so that a loop of calls touches a
// page or two of it instead of one page per function (measured: `memoryview(m).release()` on
// CPython 3.11 went from 0.87x to 1.00x of the builtin with the same instructions).

/// What a raw slot returns to CPython, and its error value.
pub(crate) trait SlotReturn {
    type Raw: Copy;
    const ERROR: Self::Raw;
    fn into_raw(self) -> Self::Raw;
}

/// An object: a new reference, NULL on error.
impl SlotReturn for *mut ffi::PyObject {
    type Raw = *mut ffi::PyObject;
    const ERROR: Self::Raw = std::ptr::null_mut();
    #[inline]
    fn into_raw(self) -> Self::Raw {
        self
    }
}

/// A length (`sq_length`, `mp_length`): -1 on error.
impl SlotReturn for usize {
    type Raw = ffi::Py_ssize_t;
    const ERROR: Self::Raw = -1;
    #[inline]
    fn into_raw(self) -> Self::Raw {
        self as ffi::Py_ssize_t
    }
}

/// Success (`mp_ass_subscript`, `bf_getbuffer`): 0, -1 on error.
impl SlotReturn for () {
    type Raw = c_int;
    const ERROR: Self::Raw = -1;
    #[inline]
    fn into_raw(self) -> Self::Raw {
        0
    }
}

/// A truth value (`sq_contains`): 0 or 1, -1 on error.
impl SlotReturn for bool {
    type Raw = c_int;
    const ERROR: Self::Raw = -1;
    #[inline]
    fn into_raw(self) -> Self::Raw {
        c_int::from(self)
    }
}

/// The one wrapper of every raw slot and `METH_FASTCALL`/`METH_NOARGS` method of the face:
/// runs `body` with the thread's `Python` token, turns an error into the raised exception and
/// the slot's error value, and stops a panic at the border (it becomes a `SystemError`; a
/// panic is a bug, and must never unwind into C).
///
/// Unlike PyO3's trampolines it does not apply reference drops that PyO3 deferred from
/// threads without the GIL; the next call through PyO3 does, so they are only delayed. PyO3
/// does not count this thread as attached either, so a `Py` dropped in `body` is deferred
/// too: drop it as a `Bound` (`into_bound(py)`), which lets go at once. An error is raised
/// through [`raise`], which attaches first for the same reason.
///
/// # Safety
///
/// Only for functions that CPython calls with the thread attached (GIL held).
#[inline(always)]
pub(crate) unsafe fn slot<T: SlotReturn>(
    what: &'static str,
    body: impl FnOnce(Python<'_>) -> PyResult<T>,
) -> T::Raw {
    // SAFETY: per the contract, CPython called us with the thread attached.
    let py = unsafe { Python::assume_attached() };
    // The value goes out through `raw`, not as the closure's result: a pointer-sized value
    // stays in registers on the hot path, where a `Result` of it would go through memory.
    let mut raw = T::ERROR;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match body(py) {
        Ok(value) => raw = value.into_raw(),
        Err(err) => raise(err),
    }));
    if outcome.is_err() {
        report_panic(what);
        return T::ERROR;
    }
    raw
}

/// Raises `err` from a raw slot. Restoring an error lets go of the objects it was made of
/// (a lazily made error's type and message); in a raw slot PyO3 does not count the thread as
/// attached and would defer those drops to its next call, so a loop of failing calls (an
/// `IndexError` loop, a closed map's `tell()`) piled them up. Attaching on a thread that
/// holds the GIL nests (PyGILState_Ensure) and drops them at once; only errors pay it.
/// While the interpreter finalizes (a `__del__` run at exit) PyO3 refuses to attach, and
/// `Python::attach` would panic there: the error is raised without attaching then, its drops
/// deferred (there is no later call to wait for, and nothing to pile up).
#[cold]
#[inline(never)]
fn raise(err: PyErr) {
    let mut err = Some(err);
    let attached = Python::try_attach(|py| {
        if let Some(err) = err.take() {
            err.restore(py);
        }
    });
    if attached.is_none() {
        if let Some(err) = err.take() {
            // SAFETY: raw slots run with the GIL held (`slot`'s contract).
            err.restore(unsafe { Python::assume_attached() });
        }
    }
}

/// Raises the `SystemError` of a slot that panicked. Out of line and cold so that the
/// slots' hot paths do not save registers or spill `what` for it.
#[cold]
#[inline(never)]
fn report_panic(what: &'static str) {
    raise(pyo3::exceptions::PySystemError::new_err(format!(
        "{what} panicked (a bug in mmapfile, please report it)"
    )));
}

/// The arguments of a `METH_FASTCALL` call as a slice.
///
/// # Safety
///
/// `args` and `nargs` are what CPython passed to a `METH_FASTCALL` function.
#[inline(always)]
pub(crate) unsafe fn fastcall_args<'a>(
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> &'a [*mut ffi::PyObject] {
    if nargs <= 0 || args.is_null() {
        return &[];
    }
    // SAFETY: CPython passes `nargs` live borrowed references at `args`.
    unsafe { std::slice::from_raw_parts(args, nargs as usize) }
}

/// A method implemented by a raw C function, for [`install_methods`].
pub(crate) struct RawMethod {
    pub(crate) name: &'static std::ffi::CStr,
    pub(crate) method: ffi::PyMethodDefPointer,
    pub(crate) flags: c_int,
    pub(crate) doc: &'static std::ffi::CStr,
}

/// Puts `methods` on the class `ty` as method descriptors, like those of CPython's own C
/// types (same checks of `self` and of keyword arguments), replacing PyO3's.
pub(crate) fn install_methods(
    ty: &Bound<'_, pyo3::types::PyType>,
    methods: Vec<RawMethod>,
) -> PyResult<()> {
    for method in methods {
        // The descriptor keeps a pointer to its definition for as long as the class lives:
        // the definition is leaked, once per import of the module.
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: method.name.as_ptr(),
            ml_meth: method.method,
            ml_flags: method.flags,
            ml_doc: method.doc.as_ptr(),
        }));
        // SAFETY: `ty` is a live type object and `def` a valid, never freed definition;
        // PyDescr_NewMethod returns a new reference or NULL with an exception set.
        let descr = unsafe {
            Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))
        }?;
        ty.setattr(method.name.to_str().unwrap_or_default(), descr)?;
    }
    Ok(())
}
