//! Typed record views: a range of the map borrowed as `&[T]` or `&mut [T]`, without copying,
//! for plain-old-data `T` (the [`zerocopy`] traits say which types qualify).

use std::any::type_name;
use std::io;
use std::mem::{align_of, size_of};
use std::ops::{Range, RangeBounds};

use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::error::invalid_input;
use crate::kind::{Readable, Writable};
use crate::Map;

impl<K: Readable> Map<K> {
    /// Borrows the bytes of `range` as a slice of `T` records, without copying: the way to
    /// read fixed-size records (an index, a numeric array, log entries) straight from a
    /// map.
    ///
    /// `T` is any type every byte pattern is a valid value of, with no interior mutability:
    /// integers, floats, arrays of them, and `#[repr(C)]` structs of them that derive
    /// `zerocopy::FromBytes` and `zerocopy::Immutable` (the crate re-exports
    /// [`zerocopy`]). Zero-sized types are refused at compile time.
    ///
    /// # Errors
    ///
    /// All `InvalidInput` except the last, each saying which check failed:
    /// - `range` reaches past the map, or starts after its end;
    /// - its length is not a whole number of `size_of::<T>()`-byte records;
    /// - its first byte does not lie at an address aligned for `T` (the map itself starts
    ///   at a page boundary plus the window's offset within its page, so an odd `offset()`
    ///   shifts every address);
    /// - the file was truncated under the map and `range` reaches the vanished part: the
    ///   fault guard's `UnexpectedEof` error (see [`is_truncated`](crate::is_truncated)).
    ///
    /// # Truncation
    ///
    /// Before the view is handed out the range is checked as [`flush`](Self::flush) checks
    /// it: against the guard's record of vanished bytes and, when the map keeps its file
    /// descriptor, against the file's current size. A truncation that has already happened
    /// is therefore an error. The view itself is a plain borrow, like [`as_slice`]: reads
    /// through it are not watched, so if the file is truncated while the view is held,
    /// vanished records read as zeros (where the guard is active) instead of as an error.
    /// Truncating a mapped file breaks the contract of the map's `unsafe` constructor; the
    /// guard makes that survivable for the crate's own methods, which check every access,
    /// but it cannot make a borrowed slice sound.
    ///
    /// [`as_slice`]: Self::as_slice
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// let mut map = MmapOptions::new().len(16).map_anon_dyn(Access::Write)?;
    /// map.write_at(0, &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])?;
    /// let values: &[u32] = map.records(0..12)?;
    /// assert_eq!(values, [u32::from_le_bytes([1, 0, 0, 0]), 2u32.to_le(), 3u32.to_le()]);
    /// // Which check failed is in the message:
    /// let err = map.records::<u32>(0..10).unwrap_err();
    /// assert!(err.to_string().contains("not a whole number of 4-byte records"));
    /// let err = map.records::<u32>(1..13).unwrap_err();
    /// assert!(err.to_string().contains("needs 4-byte alignment"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn records<T: FromBytes + Immutable>(
        &self,
        range: impl RangeBounds<usize>,
    ) -> io::Result<&[T]> {
        let range = self.record_range::<T>(range)?;
        let bytes = &self.as_slice()[range];
        <[T]>::ref_from_bytes(bytes).map_err(|err| cast_failed::<T>(&err.to_string()))
    }

    /// `range` checked against the map, the record size and alignment of `T`, and the
    /// guard's view of the file, in that order.
    fn record_range<T>(&self, range: impl RangeBounds<usize>) -> io::Result<Range<usize>> {
        let range = self.checked_range(range)?;
        let (size, align) = (size_of::<T>(), align_of::<T>());
        let left_over = range.len() % size.max(1);
        if left_over != 0 {
            return Err(invalid_input(format!(
                "the byte range {}..{} is {} bytes long, not a whole number of {size}-byte \
                 records of {} ({left_over} bytes left over)",
                range.start,
                range.end,
                range.len(),
                type_name::<T>()
            )));
        }
        let address = self.as_ptr() as usize + range.start;
        if !range.is_empty() && address % align != 0 {
            return Err(invalid_input(format!(
                "the records at map offset {} are misaligned: {} needs {align}-byte \
                 alignment, and that byte's address is {} bytes past a multiple of {align} \
                 (the map starts at file offset {})",
                range.start,
                type_name::<T>(),
                address % align,
                self.offset()
            )));
        }
        self.check_intact_range(range.clone())?;
        Ok(range)
    }
}

impl<K: Writable> Map<K> {
    /// [`records`](Self::records), mutably: writes to the records are writes to the map.
    /// An error (`PermissionDenied`) on a read-only map, and the errors of `records`.
    ///
    /// On truncation the same holds as for `records`: the range is checked when the view
    /// is made, not while it is used; writes through the view into pages that vanish
    /// afterwards never reach the file and are not reported.
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// let mut map = MmapOptions::new().len(8).map_anon_dyn(Access::Write)?;
    /// map.records_mut::<u16>(2..6)?.copy_from_slice(&[0x0102_u16.to_be(), 0x0304_u16.to_be()]);
    /// assert_eq!(map.copy_range(..)?, [0, 0, 1, 2, 3, 4, 0, 0]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn records_mut<T: FromBytes + IntoBytes>(
        &mut self,
        range: impl RangeBounds<usize>,
    ) -> io::Result<&mut [T]> {
        self.require_writable("borrow records mutably")?;
        let range = self.record_range::<T>(range)?;
        // SAFETY: the map is writable (checked above), so its pages are mapped with
        // PROT_WRITE; `&mut self` makes the borrow unique.
        let bytes = unsafe { &mut self.bytes_mut_unchecked()[range] };
        <[T]>::mut_from_bytes(bytes).map_err(|err| cast_failed::<T>(&err.to_string()))
    }
}

/// zerocopy refused a cast the checks above passed: a bug, reported rather than a panic.
#[cold]
fn cast_failed<T>(why: &str) -> io::Error {
    io::Error::other(format!(
        "cannot view the bytes as records of {}: {why}",
        type_name::<T>()
    ))
}
