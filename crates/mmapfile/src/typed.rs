//! The typed maps, [`Mmap`] (read-only) and [`MmapMut`] (write-through, copy-on-write or
//! anonymous): their constructors, the std traits and the conversions. Their methods are
//! those of [`Map`], written once for every kind (see [`kind`](crate::kind)).

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::ops::{Deref, DerefMut};

use crate::kind::{ReadOnly, ReadWrite, Readable, Writable};
use crate::{DynMmap, Map};

/// A read-only memory map. Writing to it is a compile error: it has no mutating method and
/// no `DerefMut`. Its methods are listed on [`Map`].
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
/// ```compile_fail,E0599
/// # fn main() -> std::io::Result<()> {
/// let file = std::fs::File::open("Cargo.toml")?;
/// // SAFETY: nothing changes Cargo.toml while it is mapped.
/// let mut map = unsafe { mmapfile::Mmap::map(&file)? };
/// map.write_at(0, b"x")?; // error: `write_at` needs `K: Writable`, which `ReadOnly` is not
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
/// assert_eq!(map.read_vec(5)?, b"Lorem");          // file API, with a cursor
/// assert_eq!(&map[6..11], b"ipsum");           // byte-string API
/// assert_eq!(map.find(b"dolor")?, Some(12));   // searches from the cursor
/// map.seek(SeekFrom::Start(0))?;
/// let mut all = String::new();
/// map.read_to_string(&mut all)?;               // std::io::Read
/// # Ok(()) }
/// ```
pub type Mmap = Map<ReadOnly>;

/// A writable memory map: write-through, copy-on-write or anonymous, as the constructor chose.
/// Its methods are listed on [`Map`].
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
pub type MmapMut = Map<ReadWrite>;

impl Mmap {
    pub(crate) fn from_dyn(map: DynMmap) -> Self {
        map.retype()
    }

    /// Maps the whole file read-only; see [`MmapOptions`](crate::MmapOptions) for windows.
    ///
    /// # Safety
    /// See the crate-level contract.
    #[allow(clippy::self_named_constructors)] // `Mmap::map`, as memmap2 names it
    pub unsafe fn map<F: crate::AsDesc + ?Sized>(file: &F) -> io::Result<Self> {
        // SAFETY: forwarded contract.
        unsafe { crate::MmapOptions::new().map(file) }
    }
}

impl MmapMut {
    /// The caller passes a writable map (write or copy access).
    pub(crate) fn from_dyn(map: DynMmap) -> Self {
        debug_assert!(map.access().is_writable());
        map.retype()
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
}

impl<K: Readable> Deref for Map<K> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<K: Readable> AsRef<[u8]> for Map<K> {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<K: Readable> Read for Map<K> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
    }
}

impl<K: Readable> Seek for Map<K> {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        Map::seek(self, target)
    }
}

impl<K: Readable> BufRead for Map<K> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.remaining())
    }
    fn consume(&mut self, amount: usize) {
        self.advance(amount)
    }
}

impl<K: Writable> Write for Map<K> {
    /// All or nothing: data that does not fit is an error, not a short write.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        Map::write(self, data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Map::flush(self)
    }
}

impl DerefMut for MmapMut {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: an `MmapMut` is only built with write or copy access (its constructors,
        // `TryFrom<DynMmap>` and `make_mut` check it), and `map_dyn` refuses a writable
        // access whose protection lacks PROT_WRITE, so its pages are mapped writable;
        // `&mut self` makes the borrow unique.
        unsafe { self.bytes_mut_unchecked() }
    }
}

impl AsMut<[u8]> for MmapMut {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl From<Mmap> for DynMmap {
    fn from(map: Mmap) -> DynMmap {
        map.retype()
    }
}

impl From<MmapMut> for DynMmap {
    fn from(map: MmapMut) -> DynMmap {
        map.retype()
    }
}

impl TryFrom<DynMmap> for MmapMut {
    type Error = DynMmap;

    /// A writable `DynMmap` becomes an `MmapMut`; a read-only one is handed back.
    fn try_from(map: DynMmap) -> Result<Self, DynMmap> {
        if map.access().is_writable() {
            Ok(map.retype())
        } else {
            Err(map)
        }
    }
}

impl From<DynMmap> for Mmap {
    /// Any map can be viewed read-only. (A writable map stays writable underneath, but this
    /// handle offers no way to write.)
    fn from(map: DynMmap) -> Self {
        map.retype()
    }
}
