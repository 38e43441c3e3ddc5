//! [`MmapRaw`]: a map that hands out only a pointer and a length, for memory shared with
//! other threads or processes (atomics, volatile access).

use std::io;

use crate::kind::{Raw, Readable};
use crate::options::MmapOptions;
use crate::sys::AsDesc;
use crate::{Access, Map};

/// A map that hands out only a pointer and a length: for memory that other threads or
/// processes change while this program uses it, where a `&[u8]` would be unsound. Use
/// atomics (`&*ptr.cast::<AtomicU64>()`) or volatile reads and writes through
/// [`as_ptr`](Map::as_ptr) and [`as_mut_ptr`](Map::as_mut_ptr); every access is `unsafe`
/// code of yours, so making one is safe.
///
/// It is built from [`MmapOptions`] like the other maps (a file, or anonymous memory shared
/// with child processes: [`map_raw`](MmapOptions::map_raw),
/// [`map_raw_read_only`](MmapOptions::map_raw_read_only),
/// [`map_anon_raw`](MmapOptions::map_anon_raw)), and has the methods every map has:
/// [`len`](Map::len), [`flush`](Map::flush), [`flush_range`](Map::flush_range),
/// [`advise`](Map::advise), [`close`](Map::close), … It has no cursor and none of the
/// reading or writing methods (those borrow the bytes as slices). [`Mmap`](crate::Mmap)
/// and [`MmapMut`](crate::MmapMut) convert into it.
///
/// # The fault guard and raw accesses
///
/// A raw map of a file is registered with the fault guard like any other map. If the file
/// is truncated, an access of yours to a vanished page does not kill the process: the guard
/// maps a page of zeros there and lets the access go on, so a read sees zeros and a write
/// lands in memory that never reaches the file. What the guard cannot do is tell your
/// code: a raw access has no error to return. Ask afterwards with
/// [`check_intact`](Map::check_intact) (the guard's record and the file's size) or
/// [`flush_range`](Map::flush_range), which report the truncation as an error. Faults that
/// are not about a vanished file page (a write through a read-only map, a pointer past
/// `len()`) are not the guard's: they crash as they would without it.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// let map = mmapfile::MmapOptions::new().len(4096).map_anon_raw()?;
/// // SAFETY: the map is page aligned, writable, 4096 bytes long, and lives as long as
/// // `counter`; every access to these 8 bytes is atomic.
/// let counter = unsafe { &*map.as_mut_ptr().cast::<AtomicU64>() };
/// std::thread::scope(|scope| {
///     for _ in 0..4 {
///         scope.spawn(|| {
///             for _ in 0..1000 {
///                 counter.fetch_add(1, Ordering::Relaxed);
///             }
///         });
///     }
/// });
/// assert_eq!(counter.load(Ordering::Relaxed), 4000);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// It lends no slice and has no reading method:
///
/// ```compile_fail,E0608
/// let map = mmapfile::MmapOptions::new().len(4096).map_anon_raw()?;
/// let first = map[0]; // error: `MmapRaw` cannot be indexed (no `Deref` to `[u8]`)
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// ```compile_fail,E0599
/// let map = mmapfile::MmapOptions::new().len(4096).map_anon_raw()?;
/// let bytes = map.copy_range(..4)?; // error: `copy_range` needs `K: Readable`
/// # Ok::<(), std::io::Error>(())
/// ```
pub type MmapRaw = Map<Raw>;

impl MmapRaw {
    /// A mutable pointer to the first mapped byte (dangling when the map is empty). Writing
    /// through it is only allowed when the map is writable ([`access`](Map::access) is
    /// [`Access::Write`] or [`Access::Copy`]); on a read-only map a write faults.
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.inner.ptr()
    }

    /// Whether `len` bytes from `offset` are still backed by the file: an error (the
    /// truncation error, see [`is_truncated`](crate::is_truncated)) if the fault guard saw
    /// a page of the range vanish under a raw access, or the file is now shorter than the
    /// range (when the map keeps its descriptor). The way to learn that zeros read through
    /// the pointer came from the guard rather than the file.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("shared.bin");
    /// std::fs::write(&path, [1u8; 64])?;
    /// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    /// let map = mmapfile::MmapOptions::new().map_raw(&file)?;
    /// // SAFETY: byte 10 is inside the live map.
    /// let byte = unsafe { map.as_ptr().add(10).read_volatile() };
    /// map.check_intact(10, 1)?; // the byte came from the file, not from the guard
    /// assert_eq!(byte, 1);
    /// let err = map.check_intact(60, 8).unwrap_err(); // past the end of the map
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    pub fn check_intact(&self, offset: usize, len: usize) -> io::Result<()> {
        self.check_span("check", offset, len)?;
        self.check_intact_range(offset..offset + len)
    }
}

impl MmapOptions {
    /// Maps the file read-write and shared, as a [`MmapRaw`]: stores through the pointer
    /// reach the file and every other map of it. The file must be open for reading and
    /// writing.
    ///
    /// Safe, unlike [`map_mut`](MmapOptions::map_mut): the map never lends its bytes as a
    /// slice, so others changing or truncating the file breaks no promise of this crate;
    /// what your raw accesses assume is yours to uphold.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("counter.bin");
    /// std::fs::write(&path, [0u8; 8])?;
    /// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    /// let map = mmapfile::MmapOptions::new().map_raw(&file)?;
    /// // SAFETY: 8 writable bytes at a page-aligned address, inside the live map.
    /// unsafe { map.as_mut_ptr().cast::<u64>().write_volatile(7u64.to_le()) };
    /// map.flush()?;
    /// assert_eq!(std::fs::read(&path)?, 7u64.to_le_bytes());
    /// # Ok(()) }
    /// ```
    pub fn map_raw<F: AsDesc + ?Sized>(&self, file: &F) -> io::Result<MmapRaw> {
        // SAFETY: the crate-level contract is about bytes the program borrows through the
        // map; a raw map lends none (only a pointer), so it holds whatever others do.
        unsafe { self.map_dyn(Some(file), Access::Write) }.map(Map::retype)
    }

    /// Maps the file read-only, as a [`MmapRaw`]: for reading memory another process
    /// writes. Writing through [`as_mut_ptr`](Map::as_mut_ptr) faults.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("status.bin");
    /// std::fs::write(&path, b"ready")?;
    /// let file = std::fs::File::open(&path)?; // read-only is enough
    /// let map = mmapfile::MmapOptions::new().map_raw_read_only(&file)?;
    /// assert_eq!(map.access(), mmapfile::Access::Read);
    /// // SAFETY: the first byte is inside the live map.
    /// assert_eq!(unsafe { map.as_ptr().read_volatile() }, b'r');
    /// # Ok(()) }
    /// ```
    pub fn map_raw_read_only<F: AsDesc + ?Sized>(&self, file: &F) -> io::Result<MmapRaw> {
        // SAFETY: as in `map_raw`.
        unsafe { self.map_dyn(Some(file), Access::Read) }.map(Map::retype)
    }

    /// `len` bytes of zero-filled anonymous memory shared with the threads of this process
    /// and with child processes forked while it lives, as a [`MmapRaw`] (the example on
    /// [`MmapRaw`] shares a counter between threads with it).
    pub fn map_anon_raw(&self) -> io::Result<MmapRaw> {
        self.map_anon_dyn(Access::Write).map(Map::retype)
    }
}

impl<K: Readable> From<Map<K>> for MmapRaw {
    /// Any map can become a raw one: it gives up its slices and cursor for a pointer.
    fn from(map: Map<K>) -> MmapRaw {
        map.retype()
    }
}
