//! The typed maps: [`Mmap`] (read-only) and [`MmapMut`] (write-through, copy-on-write or
//! anonymous). Both wrap a [`DynMmap`]; the read-only one simply has no mutating method.

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::ops::{Deref, DerefMut, RangeBounds};

use crate::{Access, Advice, DynMmap};

/// A read-only memory map. Writing to it is a compile error: it has no mutating method and
/// no `DerefMut`.
///
/// `Mmap` is `Send` and `Sync`; see [`DynMmap`'s notes on threads](DynMmap#threads) for why
/// that is sound.
///
/// ```compile_fail,E0594
/// # fn main() -> std::io::Result<()> {
/// let file = std::fs::File::open("Cargo.toml")?;
/// // SAFETY: nothing changes Cargo.toml while it is mapped.
/// let mut map = unsafe { mmapfile::Mmap::map(&file)? };
/// map[0] = 1; // error: cannot assign through `Deref`: `Mmap` has no `DerefMut`
/// # Ok(()) }
/// ```
///
/// ```
/// use std::io::{Read, Seek, SeekFrom};
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("lorem.txt");
/// std::fs::write(&path, b"Lorem ipsum dolor sit amet")?;
/// let file = std::fs::File::open(&path)?;
/// // SAFETY: the file is not truncated or changed while mapped.
/// let mut map = unsafe { mmapfile::Mmap::map(&file)? };
/// assert_eq!(map.read(5)?, b"Lorem");          // file API, with a cursor
/// assert_eq!(&map[6..11], b"ipsum");           // byte-string API
/// assert_eq!(map.find(b"dolor")?, Some(12));   // searches from the cursor
/// map.seek(SeekFrom::Start(0))?;
/// let mut all = String::new();
/// map.read_to_string(&mut all)?;               // std::io::Read
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Mmap {
    map: DynMmap,
}

/// A writable memory map: write-through, copy-on-write or anonymous, as the constructor chose.
///
/// `MmapMut` is `Send` and `Sync`; see [`DynMmap`'s notes on threads](DynMmap#threads) for
/// why that is sound.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data.txt");
/// std::fs::write(&path, b"hello world")?;
/// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
/// // SAFETY: the file is not truncated or changed by others while mapped.
/// let mut map = unsafe { mmapfile::MmapMut::map_mut(&file)? };
/// map[..5].copy_from_slice(b"HELLO");          // slice assignment
/// map.seek(std::io::SeekFrom::End(-5))?;
/// map.write(b"WORLD")?;                        // all or nothing
/// map.flush()?;
/// assert_eq!(std::fs::read(&path)?, b"HELLO WORLD");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MmapMut {
    map: DynMmap,
}

impl Mmap {
    pub(crate) fn from_dyn(map: DynMmap) -> Self {
        Self { map }
    }

    /// Maps the whole file read-only; see [`MmapOptions`](crate::MmapOptions) for windows.
    ///
    /// # Safety
    /// See the crate-level contract.
    pub unsafe fn map<F: crate::AsDesc + ?Sized>(file: &F) -> io::Result<Self> {
        // SAFETY: forwarded contract.
        unsafe { crate::MmapOptions::new().map(file) }
    }
}

impl MmapMut {
    pub(crate) fn from_dyn(map: DynMmap) -> Self {
        Self { map }
    }

    /// Maps the whole file write-through.
    ///
    /// # Safety
    /// See the crate-level contract.
    pub unsafe fn map_mut<F: crate::AsDesc + ?Sized>(file: &F) -> io::Result<Self> {
        // SAFETY: forwarded contract.
        unsafe { crate::MmapOptions::new().map_mut(file) }
    }

    /// Maps the whole file copy-on-write.
    ///
    /// # Safety
    /// See the crate-level contract.
    pub unsafe fn map_copy<F: crate::AsDesc + ?Sized>(file: &F) -> io::Result<Self> {
        // SAFETY: forwarded contract.
        unsafe { crate::MmapOptions::new().map_copy(file) }
    }

    /// `len` bytes of private zero-filled anonymous memory (0: an empty map).
    pub fn map_anon(len: usize) -> io::Result<Self> {
        crate::MmapOptions::new().len(len).map_anon()
    }

    /// The access: [`Access::Write`] or [`Access::Copy`].
    pub fn access(&self) -> Access {
        self.map.access()
    }

    /// Writes all of `data` at the cursor and advances, returning `data.len()`; if it does not
    /// fit, nothing is written.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.map.write(data)
    }

    /// Writes one byte at the cursor and advances; an error at the end.
    pub fn write_byte(&mut self, byte: u8) -> io::Result<()> {
        self.map.write_byte(byte)
    }

    /// Sets the byte at `index`; an error, not a panic, past the end.
    pub fn set_byte(&mut self, index: usize, value: u8) -> io::Result<()> {
        self.map.set_byte(index, value)
    }

    /// Copies `data` into the map at `offset`; all or nothing.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> io::Result<()> {
        self.map.write_at(offset, data)
    }

    /// Runs `f` over `range` mutably, with truncation reported as an error.
    pub fn with_bytes_mut<R>(
        &mut self,
        range: impl RangeBounds<usize>,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> io::Result<R> {
        self.map.with_bytes_mut(range, f)
    }

    /// Copies `count` bytes from `src` to `dest` inside the map (ranges may overlap).
    pub fn move_within(&mut self, dest: usize, src: usize, count: usize) -> io::Result<()> {
        self.map.move_within(dest, src, count)
    }

    /// Grows or shrinks a write-through or anonymous map, and the file with it.
    pub fn resize(&mut self, new_len: usize) -> io::Result<()> {
        self.map.resize(new_len)
    }

    /// Flushes the whole map to the file and waits.
    pub fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }

    /// Flushes `len` bytes from `offset` and waits.
    pub fn flush_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.map.flush_range(offset, len)
    }

    /// Starts writing the whole map back without waiting.
    pub fn flush_async(&self) -> io::Result<()> {
        self.map.flush_async()
    }

    /// Borrows `range` as a mutable slice of plain-old-data records, zero-copy; see
    /// [`DynMmap::records_mut`].
    pub fn records_mut<T: zerocopy::FromBytes + zerocopy::IntoBytes>(
        &mut self,
        range: impl RangeBounds<usize>,
    ) -> io::Result<&mut [T]> {
        self.map.records_mut(range)
    }

    /// Starts writing `len` bytes from `offset` back without waiting.
    pub fn flush_async_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.map.flush_async_range(offset, len)
    }
}

/// The methods both typed maps share, forwarded to [`DynMmap`].
macro_rules! shared_api {
    ($ty:ty) => {
        impl $ty {
            /// The number of mapped bytes.
            pub fn len(&self) -> usize {
                self.map.len()
            }

            /// Whether the map has no bytes.
            pub fn is_empty(&self) -> bool {
                self.map.is_empty()
            }

            /// Where the map starts in the file.
            pub fn offset(&self) -> u64 {
                self.map.offset()
            }

            /// The file's current size (can differ from `len()`).
            pub fn size(&self) -> io::Result<u64> {
                self.map.size()
            }

            /// The cursor position.
            pub fn tell(&self) -> u64 {
                self.map.tell()
            }

            /// Moves the cursor and returns its new position; to exactly `len()` is allowed.
            pub fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
                self.map.seek(target)
            }

            /// Reads up to `n` bytes at the cursor and advances. `std::io::Read` is implemented
            /// too: reach its `read` as `Read::read(&mut map, buf)`.
            pub fn read(&mut self, n: usize) -> io::Result<Vec<u8>> {
                self.map.read(n)
            }

            /// Reads the byte at the cursor and advances; an error at the end.
            pub fn read_byte(&mut self) -> io::Result<u8> {
                self.map.read_byte()
            }

            /// Reads through the next `\n` (included) or to the end.
            pub fn readline(&mut self) -> io::Result<Vec<u8>> {
                self.map.readline()
            }

            /// The first occurrence of `needle` at or after the cursor.
            pub fn find(&self, needle: &[u8]) -> io::Result<Option<usize>> {
                self.map.find(needle)
            }

            /// The last occurrence of `needle` at or after the cursor.
            pub fn rfind(&self, needle: &[u8]) -> io::Result<Option<usize>> {
                self.map.rfind(needle)
            }

            /// The first occurrence of `needle` inside `range` (clamped like a Python slice).
            pub fn find_in(
                &self,
                needle: &[u8],
                range: impl RangeBounds<usize>,
            ) -> io::Result<Option<usize>> {
                self.map.find_in(needle, range)
            }

            /// The last occurrence of `needle` inside `range` (clamped like a Python slice).
            pub fn rfind_in(
                &self,
                needle: &[u8],
                range: impl RangeBounds<usize>,
            ) -> io::Result<Option<usize>> {
                self.map.rfind_in(needle, range)
            }

            /// [`find_in`](Self::find_in), reporting how far a long threaded search has
            /// got; see [`DynMmap::find_in_reporting`].
            pub fn find_in_reporting(
                &self,
                needle: &[u8],
                range: impl RangeBounds<usize>,
                searched: impl Fn(usize) + Sync,
            ) -> io::Result<Option<usize>> {
                self.map.find_in_reporting(needle, range, searched)
            }

            /// [`rfind_in`](Self::rfind_in), reporting how far a long threaded search has
            /// got; see [`DynMmap::rfind_in_reporting`].
            pub fn rfind_in_reporting(
                &self,
                needle: &[u8],
                range: impl RangeBounds<usize>,
                searched: impl Fn(usize) + Sync,
            ) -> io::Result<Option<usize>> {
                self.map.rfind_in_reporting(needle, range, searched)
            }

            /// Non-overlapping occurrences of `needle` in the whole map, as Python's
            /// `bytes.count` counts them; see [`DynMmap::count`].
            pub fn count(&self, needle: &[u8]) -> io::Result<usize> {
                self.map.count(needle)
            }

            /// [`count`](Self::count) inside `range` (a Python-style slice).
            pub fn count_in(
                &self,
                needle: &[u8],
                range: impl RangeBounds<usize>,
            ) -> io::Result<usize> {
                self.map.count_in(needle, range)
            }

            /// The offsets of the non-overlapping occurrences of `needle`; see
            /// [`DynMmap::find_iter`].
            pub fn find_iter<'a, 'n>(&'a self, needle: &'n [u8]) -> crate::FindIter<'a, 'n> {
                self.map.find_iter(needle)
            }

            /// [`find_iter`](Self::find_iter) inside `range` (a Python-style slice).
            pub fn find_iter_in<'a, 'n>(
                &'a self,
                needle: &'n [u8],
                range: impl RangeBounds<usize>,
            ) -> crate::FindIter<'a, 'n> {
                self.map.find_iter_in(needle, range)
            }

            /// Borrows `range` as a slice of plain-old-data records, zero-copy, with length
            /// and alignment checked; see [`DynMmap::records`].
            pub fn records<T: zerocopy::FromBytes + zerocopy::Immutable>(
                &self,
                range: impl RangeBounds<usize>,
            ) -> io::Result<&[T]> {
                self.map.records(range)
            }

            /// Walks the non-overlapping occurrences of `needle` in `range`, forwards or
            /// backwards, with threads on long ranges; see [`DynMmap::walk_in`].
            pub fn walk_in(
                &self,
                needle: &[u8],
                range: impl RangeBounds<usize>,
                reverse: bool,
                visit: impl FnMut(crate::WalkStep) -> std::ops::ControlFlow<()>,
            ) -> io::Result<()> {
                self.map.walk_in(needle, range, reverse, visit)
            }

            /// The lines of the whole map, zero-copy, each with its `\n`; see
            /// [`DynMmap::lines`].
            pub fn lines(&self) -> crate::Lines<'_> {
                self.map.lines()
            }

            /// The lines of `range` (a Python-style slice), zero-copy.
            pub fn lines_in(&self, range: impl RangeBounds<usize>) -> crate::Lines<'_> {
                self.map.lines_in(range)
            }

            /// The matches of `re` in the whole map; see [`DynMmap::regex_find_iter`].
            pub fn regex_find_iter<'a, 'r>(
                &'a self,
                re: &'r regex::bytes::Regex,
            ) -> crate::RegexMatches<'a, 'r> {
                self.map.regex_find_iter(re)
            }

            /// The matches of `re` in `range` (a Python-style slice), which the regex sees
            /// as the whole text.
            pub fn regex_find_iter_in<'a, 'r>(
                &'a self,
                re: &'r regex::bytes::Regex,
                range: impl RangeBounds<usize>,
            ) -> crate::RegexMatches<'a, 'r> {
                self.map.regex_find_iter_in(re, range)
            }

            /// The byte at `index`; an error, not a panic, past the end (`map[index]` panics).
            pub fn get_byte(&self, index: usize) -> io::Result<u8> {
                self.map.get_byte(index)
            }

            /// Copies `range` out, with truncation reported as an error.
            pub fn copy_range(&self, range: impl RangeBounds<usize>) -> io::Result<Vec<u8>> {
                self.map.copy_range(range)
            }

            /// Runs `f` over `range`, with truncation reported as an error.
            pub fn with_bytes<R>(
                &self,
                range: impl RangeBounds<usize>,
                f: impl FnOnce(&[u8]) -> R,
            ) -> io::Result<R> {
                self.map.with_bytes(range, f)
            }

            /// Runs `f` (a regex engine, a parser) over `range`; a panic of `f` is returned
            /// as an error. See [`DynMmap::scan_with`].
            pub fn scan_with<R>(
                &self,
                range: impl RangeBounds<usize>,
                f: impl FnOnce(&[u8]) -> R,
            ) -> io::Result<R> {
                self.map.scan_with(range, f)
            }

            /// Advises the kernel how the whole map will be used.
            pub fn advise(&self, advice: Advice) -> io::Result<()> {
                self.map.advise(advice)
            }

            /// Advises the kernel how `len` bytes from `offset` will be used.
            pub fn advise_range(
                &self,
                advice: Advice,
                offset: usize,
                len: usize,
            ) -> io::Result<()> {
                self.map.advise_range(advice, offset, len)
            }

            /// Unmaps now and reports errors that `Drop` would swallow.
            pub fn close(self) -> io::Result<()> {
                self.map.close()
            }

            /// The access-erased map underneath.
            pub fn into_dyn(self) -> DynMmap {
                self.map
            }

            /// The access-erased map underneath, borrowed.
            pub fn as_dyn(&self) -> &DynMmap {
                &self.map
            }
        }

        impl Deref for $ty {
            type Target = [u8];
            fn deref(&self) -> &[u8] {
                self.map.as_slice()
            }
        }

        impl AsRef<[u8]> for $ty {
            fn as_ref(&self) -> &[u8] {
                self.map.as_slice()
            }
        }

        impl Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.map.read_into(buf)
            }
        }

        impl Seek for $ty {
            fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
                self.map.seek(target)
            }
        }

        impl BufRead for $ty {
            fn fill_buf(&mut self) -> io::Result<&[u8]> {
                Ok(self.map.remaining())
            }
            fn consume(&mut self, amount: usize) {
                self.map.advance(amount)
            }
        }

        impl From<$ty> for DynMmap {
            fn from(map: $ty) -> DynMmap {
                map.map
            }
        }
    };
}

shared_api!(Mmap);
shared_api!(MmapMut);

impl DerefMut for MmapMut {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: an `MmapMut` is only built with write or copy access, and `map_dyn` refuses
        // a writable access whose protection lacks PROT_WRITE, so its pages are mapped
        // writable; `&mut self` makes the borrow unique.
        unsafe { self.map.bytes_mut_unchecked() }
    }
}

impl AsMut<[u8]> for MmapMut {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl Write for MmapMut {
    /// All or nothing: data that does not fit is an error, not a short write.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.map.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.map.flush()
    }
}

impl TryFrom<DynMmap> for MmapMut {
    type Error = DynMmap;

    /// A writable `DynMmap` becomes an `MmapMut`; a read-only one is handed back.
    fn try_from(map: DynMmap) -> Result<Self, DynMmap> {
        if map.access().is_writable() {
            Ok(Self { map })
        } else {
            Err(map)
        }
    }
}

impl From<DynMmap> for Mmap {
    /// Any map can be viewed read-only. (A writable map stays writable underneath, but this
    /// handle offers no way to write.)
    fn from(map: DynMmap) -> Self {
        Self { map }
    }
}
