//! The one door to mapped memory.
//!
//! Every read and write of mapped bytes that the crate itself performs goes through
//! [`DynMmap::with_bytes`] and [`DynMmap::with_bytes_mut`], which take an already
//! bounds-checked range. Keeping the door this small is what lets the fault guard watch all of
//! the crate's accesses without touching the public API.

use std::io;
use std::ops::Range;

use crate::DynMmap;

impl DynMmap {
    /// Runs `f` over the bytes in `range`, which the caller has checked against `len()`.
    pub(crate) fn load<R>(&self, range: Range<usize>, f: impl FnOnce(&[u8]) -> R) -> io::Result<R> {
        debug_assert!(range.start <= range.end && range.end <= self.len());
        Ok(f(&self.as_slice()[range]))
    }

    /// Runs `f` over the bytes in `range` mutably; the caller has checked the range and that
    /// the map is writable.
    pub(crate) fn store<R>(
        &mut self,
        range: Range<usize>,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> io::Result<R> {
        debug_assert!(range.start <= range.end && range.end <= self.len());
        debug_assert!(self.access().is_writable());
        // SAFETY: the map is writable (checked by every caller), so the pages are mapped
        // with PROT_WRITE, and `&mut self` excludes every other borrow of the bytes.
        let bytes = unsafe { self.bytes_mut_unchecked() };
        Ok(f(&mut bytes[range]))
    }
}
