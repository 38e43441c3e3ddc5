//! Line-sized `bytes` objects refilled in place once nothing else holds them.
//!
//! A `readline()` loop and a `for line in m.lines()` loop make one `bytes` per line and drop
//! it a line later; allocating and freeing it is a large part of what a line costs. CPython's
//! own `zip()`, `enumerate()` and dict item iterators avoid the same cost for their result
//! tuples: when the iterator's own reference is the only one left, no other code can see the
//! object, so it is filled with the next result instead of making a new one. [`BytesRing`]
//! does that for `bytes`: it keeps a few objects it made, and hands one out again only when
//! its reference count is 1 (the ring's own reference). An object the caller kept (in a
//! list, a dict, a variable) has a higher count and is never touched again; the ring lets go
//! of it and makes a new one. To Python code every line is a distinct, immutable `bytes`
//! whose value never changes while anything can see it.
//!
//! Each object is made with room for a longer line than the one it first holds, so that it
//! fits the lines that follow; `len()`, `sys.getsizeof` and the contents are always those of
//! the current line (the spare room only shows to memory tracers such as `tracemalloc`).
//! Lines of 0 or 1 byte come from CPython's own shared objects and lines longer than
//! [`MAX_RECYCLED`] are made as usual.
//!
//! Free-threaded CPython (`Py_GIL_DISABLED`) lets another thread take a new reference while
//! the count is read, so there the ring only ever makes new objects.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// How many objects a ring keeps: the line the caller still holds while asking for the next
/// one (the loop variable is rebound only after the call returns), plus room for loops that
/// keep a line or two longer, such as `zip(it, it)`.
const SLOTS: usize = 4;

/// Longer lines are allocated as usual: keeping their memory around is not worth it.
pub(crate) const MAX_RECYCLED: usize = 4096;

/// The smallest room an object is made with, so that most text lines fit every object.
const MIN_CAPACITY: usize = 256;

/// One `bytes` object made by the ring, and the longest value it can hold.
struct Recycled {
    bytes: Py<PyBytes>,
    capacity: usize,
}

/// A few `bytes` objects that are reused for the next lines once only the ring holds them.
#[derive(Default)]
pub(crate) struct BytesRing {
    slots: [Option<Recycled>; SLOTS],
    /// The slot a new object goes into when no slot can be reused (round robin).
    next: usize,
}

impl BytesRing {
    /// A `bytes` equal to `data`: a kept object refilled in place when one is free and big
    /// enough, else a new one (kept for later when `data` is short enough).
    pub(crate) fn bytes<'py>(&mut self, py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
        if !cfg!(Py_GIL_DISABLED) && data.len() > 1 && data.len() <= MAX_RECYCLED {
            for slot in self.slots.iter().flatten() {
                let object = slot.bytes.as_ptr();
                // SAFETY: `object` is alive (the slot owns a reference). With the GIL held no
                // other thread can change its count, and a count of 1 is the slot's own
                // reference: no other code holds the object, so nothing can see it change.
                // It was made by `PyBytes_FromStringAndSize` with `capacity` bytes of room
                // (plus the terminating NUL), and `data` fits in it.
                if slot.capacity >= data.len() && unsafe { ffi::Py_REFCNT(object) } == 1 {
                    unsafe { refill(object, data) };
                    return slot.bytes.bind(py).clone();
                }
            }
            if let Some(made) = self.make(py, data) {
                return made;
            }
        }
        PyBytes::new(py, data)
    }

    /// Makes a new object with spare room, holding `data`, and keeps it in the next slot
    /// (letting go of the object that was there, which the caller may still hold).
    fn make<'py>(&mut self, py: Python<'py>, data: &[u8]) -> Option<Bound<'py, PyBytes>> {
        let capacity = data
            .len()
            .next_power_of_two()
            .clamp(MIN_CAPACITY, MAX_RECYCLED);
        // SAFETY: a NULL source asks CPython for an uninitialised object of `capacity`
        // bytes (at least 2, so never one of the shared 0- or 1-byte objects); it returns a
        // new reference or NULL with an exception set.
        let made = unsafe {
            Bound::from_owned_ptr_or_opt(
                py,
                ffi::PyBytes_FromStringAndSize(std::ptr::null(), capacity as ffi::Py_ssize_t),
            )
        };
        let Some(made) = made else {
            // Out of memory: leave the exception to the plain allocation that follows.
            // SAFETY: the GIL is held; the exception is discarded, the caller retries.
            unsafe { ffi::PyErr_Clear() };
            return None;
        };
        // SAFETY: `made` is a new object that only this function holds, with room for
        // `capacity >= data.len()` bytes.
        unsafe { refill(made.as_ptr(), data) };
        let made = made.cast_into::<PyBytes>().ok()?;
        let evicted = self.slots[self.next].replace(Recycled {
            bytes: made.clone().unbind(),
            capacity,
        });
        self.next = (self.next + 1) % SLOTS;
        release(py, evicted);
        Some(made)
    }

    /// Lets go of every kept object (the map is closing).
    pub(crate) fn clear(&mut self, py: Python<'_>) {
        for slot in &mut self.slots {
            release(py, slot.take());
        }
    }
}

/// Lets go of a kept object at once. A `Py` dropped in a raw slot, whose thread is attached
/// without PyO3 counting it, would wait in PyO3's pool for its next call, and a loop of raw
/// slots alone would hold every line it ever made.
fn release(py: Python<'_>, recycled: Option<Recycled>) {
    drop(recycled.map(|recycled| recycled.bytes.into_bound(py)));
}

/// Makes the `bytes` object at `object` hold `data`: contents, size, terminating NUL, and a
/// forgotten hash.
///
/// # Safety
///
/// `object` must be a `bytes` object that nothing but the caller can reach (a reference count
/// of 1, held by the caller, or just made), allocated with room for at least `data.len()`
/// bytes plus the NUL, and the GIL must be held.
unsafe fn refill(object: *mut ffi::PyObject, data: &[u8]) {
    let bytes = object.cast::<ffi::PyBytesObject>();
    // SAFETY: per the contract, the object has room for `data.len() + 1` bytes from
    // `ob_sval`, and no one else reads or writes it meanwhile.
    unsafe {
        let contents = std::ptr::addr_of_mut!((*bytes).ob_sval).cast::<u8>();
        std::ptr::copy_nonoverlapping(data.as_ptr(), contents, data.len());
        *contents.add(data.len()) = 0;
        (*bytes).ob_base.ob_size = data.len() as ffi::Py_ssize_t;
        // The hash of the previous contents may be cached: -1 means "not computed yet".
        #[allow(deprecated)]
        {
            (*bytes).ob_shash = -1;
        }
    }
}
