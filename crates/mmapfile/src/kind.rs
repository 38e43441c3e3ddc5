//! The kinds of map: what a [`Map`](crate::Map) lets its holder do, decided at compile time.
//!
//! Every map is a [`Map<K>`](crate::Map); the kind `K` chooses which methods exist on it.
//! The methods are written once, in `impl` blocks bounded by the traits below, so a method
//! added to one of those blocks is at once a method of every kind that block covers:
//!
//! - `impl<K: Kind> Map<K>`: every kind, [`MmapRaw`](crate::MmapRaw) included: length,
//!   flush, advice, lock, close;
//! - `impl<K: Readable> Map<K>`: [`Mmap`](crate::Mmap), [`MmapMut`](crate::MmapMut) and
//!   [`DynMmap`](crate::DynMmap): the cursor, reads, searches and scans;
//! - `impl<K: Writable> Map<K>`: [`MmapMut`](crate::MmapMut) and
//!   [`DynMmap`](crate::DynMmap): writes, resize.
//!
//! So a read-only [`Mmap`](crate::Mmap) has no write method at all (calling one is a compile
//! error), [`MmapMut`](crate::MmapMut) has them all, and [`DynMmap`](crate::DynMmap), whose
//! access is only known at run time, has them too and checks the access on each call
//! ([`io::ErrorKind::PermissionDenied`](std::io::ErrorKind) on a read-only map). A
//! [`MmapRaw`](crate::MmapRaw) has only the methods of every map, and a pointer.
//!
//! The traits are sealed: the crate's kinds are the only ones. They are public so that
//! code can be generic over maps:
//!
//! ```
//! use mmapfile::{kind::Readable, Map};
//! fn lines_starting_with<K: Readable>(map: &Map<K>, prefix: &[u8]) -> std::io::Result<usize> {
//!     let mut count = 0;
//!     for line in map.lines() {
//!         count += usize::from(line?.starts_with(prefix));
//!     }
//!     Ok(count)
//! }
//! let mut map = mmapfile::MmapOptions::new().len(6).map_anon()?;
//! map.write(b"#a\nb\n#")?;
//! assert_eq!(lines_starting_with(&map, b"#")?, 2);
//! # Ok::<(), std::io::Error>(())
//! ```

mod sealed {
    pub trait Sealed {}
}

/// Any kind of map; every kind has the methods of `impl<K: Kind> Map<K>`. Sealed.
pub trait Kind: sealed::Sealed + Send + Sync + 'static {
    /// The name the map's `Debug` output shows.
    #[doc(hidden)]
    const NAME: &'static str;
    /// Whether every map of this kind is writable, so the run-time check can be skipped.
    #[doc(hidden)]
    const ALWAYS_WRITABLE: bool;
}

/// Kinds whose bytes can be read through the crate's methods, as a file (cursor) and as a
/// byte string. Sealed.
pub trait Readable: Kind {}

/// Kinds that have the writing methods. Sealed.
pub trait Writable: Readable {}

/// The kind of [`Mmap`](crate::Mmap): read-only, checked at compile time.
#[derive(Debug)]
pub enum ReadOnly {}

/// The kind of [`MmapMut`](crate::MmapMut): writable (write-through, copy-on-write or
/// anonymous), checked at compile time.
#[derive(Debug)]
pub enum ReadWrite {}

/// The kind of [`DynMmap`](crate::DynMmap): the access is data, checked on each call.
#[derive(Debug)]
pub enum Dynamic {}

/// The kind of [`MmapRaw`](crate::MmapRaw): only a pointer and a length, no reads or
/// writes through the crate.
#[derive(Debug)]
pub enum Raw {}

impl sealed::Sealed for ReadOnly {}
impl sealed::Sealed for Raw {}
impl sealed::Sealed for ReadWrite {}
impl sealed::Sealed for Dynamic {}

impl Kind for ReadOnly {
    const NAME: &'static str = "Mmap";
    const ALWAYS_WRITABLE: bool = false;
}
impl Kind for ReadWrite {
    const NAME: &'static str = "MmapMut";
    const ALWAYS_WRITABLE: bool = true;
}
impl Kind for Dynamic {
    const NAME: &'static str = "DynMmap";
    const ALWAYS_WRITABLE: bool = false;
}

impl Kind for Raw {
    const NAME: &'static str = "MmapRaw";
    const ALWAYS_WRITABLE: bool = false;
}

impl Readable for ReadOnly {}
impl Readable for ReadWrite {}
impl Readable for Dynamic {}

impl Writable for ReadWrite {}
impl Writable for Dynamic {}
