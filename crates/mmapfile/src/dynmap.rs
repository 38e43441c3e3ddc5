//! [`Map`], the one map type, and the methods every kind of it shares; the readers and
//! writers are here too, the scans in `scan.rs`, `walk.rs` and `records.rs`.

use std::fmt;
use std::io::{self, SeekFrom};
use std::marker::PhantomData;
use std::num::NonZeroUsize;
use std::ops::{Bound, Range, RangeBounds};

use crate::error::{self, past_end, ConvertError};
use crate::guard::{MapFacts, Watch};
use crate::kind::{Dynamic, Kind, Readable, Writable};
use crate::search::Plan;
use crate::sys::{self, MapInner, OwnedDesc};
#[cfg(doc)]
use crate::MmapRaw;
use crate::{Access, Advice};

/// What is behind the memory.
pub(crate) enum Backing {
    Anonymous,
    /// A file, with a duplicate of its descriptor unless `keep_file(false)` was asked for.
    File(Option<OwnedDesc>),
}

/// A memory map of kind `K`: [`Mmap`](crate::Mmap) (read-only), [`MmapMut`](crate::MmapMut)
/// (writable), [`DynMmap`] (access chosen at run time) or [`MmapRaw`] (a pointer and a
/// length); see [`kind`](crate::kind).
///
/// Each method is written once, in the `impl` block of the kinds that have it:
/// `impl<K: Kind>` for every map (length, flush, advice, lock, close), `impl<K: Readable>` for the
/// file-like cursor (`read_vec`, `readline`, `seek`, …), the byte-string view (`as_slice`,
/// `find_in`, `rfind_in`, …) and the scans, `impl<K: Writable>` for the writes (`write`,
/// `write_at`, `resize`, `move_within`, …). Use the typed [`Mmap`](crate::Mmap) and
/// [`MmapMut`](crate::MmapMut) from Rust, where a write to a read-only map is a compile
/// error, and [`DynMmap`] where the access is data (language bindings, a command line flag).
///
/// # Threads
///
/// Every map is `Send` and `Sync`. The mapping's raw pointer lives in a private type that
/// asserts both by hand, and that is sound because:
///
/// - the mapping is ordinary process memory owned by the value, not tied to the thread that
///   created it: any thread may read it, write it or unmap it;
/// - every way to change the bytes or the cursor (`write`, `seek`, `with_bytes_mut`,
///   `DerefMut`, `move_within`, `resize`, …) takes `&mut self`, so the borrow checker already
///   rules out two threads racing on them;
/// - what `&self` allows — reading the bytes, `msync`, `madvise`, `mlock`, `fstat` of the
///   kept descriptor — is safe to do from several threads at once ([`MmapRaw`]'s
///   `as_mut_ptr(&self)` hands out a pointer, and writing through it is `unsafe` code whose
///   synchronisation is its author's, as for any shared memory);
/// - changes made by other processes (or through other maps of the same file) are outside
///   Rust's aliasing model whatever the number of threads, and are what the contract of the
///   `unsafe` constructors covers.
///
/// ```
/// use mmapfile::{Access, MmapOptions};
/// let mut map = MmapOptions::new().len(16).map_anon_dyn(Access::Copy)?;
/// map.write(b"abc\ndef\n")?;
/// map.seek(std::io::SeekFrom::Start(0))?;
/// assert_eq!(map.readline()?, b"abc\n");
/// assert_eq!(map.tell(), 4);
/// # Ok::<(), std::io::Error>(())
/// ```
// `repr(C)`: the layout does not depend on `K` (a zero-sized last field), so a borrowed map
// of any kind can be viewed as a `DynMmap` (`as_dyn`).
#[repr(C)]
pub struct Map<K: Kind> {
    /// The fault guard's registration of the mapping. Declared before `inner` so that it is
    /// dropped (taken out of the registry) before the memory is unmapped.
    pub(crate) watch: Watch,
    /// The OS mapping.
    pub(crate) inner: MapInner,
    access: Access,
    backing: Backing,
    /// Where the map starts in the file (0 for anonymous memory).
    offset: u64,
    /// The file-like cursor, always `<= len()`.
    pos: usize,
    /// At most this many threads for one `find_in`/`rfind_in` (`MmapOptions::search_threads`);
    /// `None`: one per core, at most four.
    pub(crate) search_threads: Option<NonZeroUsize>,
    kind: PhantomData<K>,
}

/// A memory map whose [`Access`] is known only at run time.
///
/// Mutating calls check the access and return [`io::ErrorKind::PermissionDenied`] on a
/// read-only map. The typed [`Mmap`](crate::Mmap) and [`MmapMut`](crate::MmapMut) turn that
/// run-time check into a compile-time one; all three are the one [`Map`] type, whose page
/// lists every method.
///
/// ```
/// use mmapfile::{Access, MmapOptions};
/// let mut map = MmapOptions::new().len(16).map_anon_dyn(Access::Copy)?;
/// map.write(b"abc\ndef\n")?;
/// map.seek(std::io::SeekFrom::Start(0))?;
/// assert_eq!(map.readline()?, b"abc\n");
/// assert_eq!(map.tell(), 4);
/// let read_only = MmapOptions::new().len(16).map_anon_dyn(Access::Read)?;
/// let mut read_only = read_only;
/// let err = read_only.write(b"x").unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
/// # Ok::<(), std::io::Error>(())
/// ```
pub type DynMmap = Map<Dynamic>;

impl<K: Kind> fmt::Debug for Map<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(K::NAME)
            .field("ptr", &self.inner.ptr())
            .field("len", &self.len())
            .field("access", &self.access)
            .field("offset", &self.offset)
            .field("pos", &self.pos)
            .finish()
    }
}

/// What every kind of map has: its shape, flushing, advice and closing.
impl<K: Kind> Map<K> {
    /// The number of mapped bytes.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the map has no bytes (an empty file or window, or after `resize(0)`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The access this map was created with.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Where the map starts in the file (0 for anonymous memory).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the map is anonymous memory rather than a file.
    pub fn is_anonymous(&self) -> bool {
        matches!(self.backing, Backing::Anonymous)
    }

    /// A pointer to the first mapped byte (dangling when the map is empty).
    pub fn as_ptr(&self) -> *const u8 {
        self.inner.ptr()
    }

    /// The current size of the mapped file, which can differ from [`len`](Self::len) when
    /// the map is a window or the file changed; `len()` for anonymous memory.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.bin");
    /// std::fs::write(&path, b"0123456789")?;
    /// let file = std::fs::File::open(&path)?;
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let map = unsafe { mmapfile::MmapOptions::new().offset(3).len(4).map(&file)? };
    /// assert_eq!((map.len(), map.size()?), (4, 10));
    /// # Ok(()) }
    /// ```
    pub fn size(&self) -> io::Result<u64> {
        match &self.backing {
            Backing::Anonymous => Ok(self.len() as u64),
            Backing::File(Some(file)) => Ok(sys::file_info(sys::borrow_desc(file))?.size),
            Backing::File(None) => Err(no_descriptor("know the file's size")),
        }
    }

    /// Flushes the whole map to the file (`msync(MS_SYNC)`); a no-op for read-only,
    /// copy-on-write and anonymous maps, which have nothing to write back.
    pub fn flush(&self) -> io::Result<()> {
        self.flush_range(0, self.len())
    }

    /// Flushes `len` bytes from `offset` and waits for the write-back. Any offset works.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.bin");
    /// std::fs::write(&path, vec![b'.'; 10_000])?;
    /// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let mut map = unsafe { mmapfile::MmapOptions::new().map_mut(&file)? };
    /// map[5000..5003].copy_from_slice(b"abc");
    /// map.flush_range(5000, 3)?; // not page aligned: the crate aligns it
    /// assert_eq!(&std::fs::read(&path)?[5000..5003], b"abc");
    /// # Ok(()) }
    /// ```
    pub fn flush_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.flush_impl(offset, len, true)
    }

    /// Starts writing the whole map back (`MS_ASYNC`) without waiting.
    pub fn flush_async(&self) -> io::Result<()> {
        self.flush_impl(0, self.len(), false)
    }

    /// Starts writing `len` bytes from `offset` back without waiting.
    pub fn flush_async_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.flush_impl(offset, len, false)
    }

    /// Unix only: `msync` of `len` bytes from `offset` with raw `MS_*` flags (`MS_SYNC`,
    /// `MS_ASYNC`, `MS_INVALIDATE`), which the kernel checks. As
    /// [`flush_range`](Self::flush_range), a no-op for read-only and copy-on-write maps;
    /// unlike it, shared anonymous memory goes to the kernel too (which has nothing to
    /// write but still checks the flags).
    #[cfg(unix)]
    pub fn flush_raw(&self, offset: usize, len: usize, flags: i32) -> io::Result<()> {
        self.check_span("flush", offset, len)?;
        self.check_intact_range(offset..offset + len)?;
        if self.access != Access::Write {
            return Ok(());
        }
        self.inner.msync(offset, len, flags)
    }

    /// Linux only: names anonymous memory in `/proc/<pid>/maps`, where it shows as
    /// `[anon:<name>]` (`prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME)`). The name may hold at most
    /// 79 bytes of printable ASCII other than `\\`, `` ` ``, `$`, `[` and `]`.
    ///
    /// Errors: [`io::ErrorKind::InvalidInput`] for a map of a file or a name the kernel
    /// would refuse; [`io::ErrorKind::Unsupported`] for shared anonymous memory (a memfd,
    /// which the kernel names by its file), where the kernel cannot name maps (Linux before
    /// 5.17, or built without `CONFIG_ANON_VMA_NAME`) and on other systems.
    ///
    /// ```
    /// // Private anonymous memory (Access::Copy); shared memory is a memfd, named by its file.
    /// let map = mmapfile::MmapOptions::new().len(4096).map_anon_dyn(mmapfile::Access::Copy)?;
    /// match map.set_anon_name("cache") {
    ///     Ok(()) => {}
    ///     Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::Unsupported),
    /// }
    /// assert!(map.set_anon_name("[x]").is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_anon_name(&self, name: &str) -> io::Result<()> {
        if !self.is_anonymous() {
            return Err(error::invalid_input(
                "only anonymous memory can be named (a file map is named by its file)".to_string(),
            ));
        }
        #[cfg(unix)]
        if self.inner.is_shared() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "shared anonymous memory cannot be named: it lives in a memfd (so that it can \
                 grow and stay shared), which the kernel names by its file \
                 (/memfd:mmapfile-anonymous); private anonymous memory can be",
            ));
        }
        if name.len() > 79 {
            return Err(error::invalid_input(format!(
                "a map name holds at most 79 bytes; this one has {}",
                name.len()
            )));
        }
        if let Some(bad) = name
            .chars()
            .find(|&c| !c.is_ascii_graphic() && c != ' ' || "\\`$[]".contains(c))
        {
            return Err(error::invalid_input(format!(
                "a map name may only hold printable ASCII other than \\ ` $ [ ]; \
                 this one has {bad:?}"
            )));
        }
        let name = std::ffi::CString::new(name)
            .map_err(|_| error::invalid_input("a map name cannot hold a NUL byte".to_string()))?;
        #[cfg(unix)]
        return self.inner.set_anon_name(&name);
        #[cfg(not(unix))]
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "cannot name the map {name:?}: naming memory maps (PR_SET_VMA_ANON_NAME) is \
                 only available on Linux"
            ),
        ));
    }

    /// Advises the kernel how the whole map will be used.
    ///
    /// On Windows only [`Advice::Normal`] (nothing to do) and [`Advice::WillNeed`]
    /// (`PrefetchVirtualMemory`) have a meaning; the others return
    /// [`io::ErrorKind::Unsupported`] there.
    ///
    /// ```
    /// use mmapfile::{Access, Advice, MmapOptions};
    /// let map = MmapOptions::new().len(1 << 20).map_anon_dyn(Access::Copy)?;
    /// map.advise_range(Advice::WillNeed, 12345, 1000)?; // any offset
    /// let sequential = map.advise(Advice::Sequential);
    /// assert_eq!(sequential.is_ok(), cfg!(unix));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn advise(&self, advice: Advice) -> io::Result<()> {
        self.advise_range(advice, 0, self.len())
    }

    /// Advises the kernel how `len` bytes from `offset` will be used. Any offset works.
    pub fn advise_range(&self, advice: Advice, offset: usize, len: usize) -> io::Result<()> {
        self.check_span("advise", offset, len)?;
        // SAFETY: every `Advice` variant leaves the contents unchanged.
        unsafe { self.inner.advise(sys::advice_value(advice), offset, len) }
    }

    /// Locks the map's pages in memory (`mlock`; `VirtualLock` on Windows), reading them in
    /// first: until [`unlock`](Self::unlock) or the map is dropped, touching them never
    /// waits for the disk, and they are never written to swap. For latency-bound readers
    /// (databases keep their indexes locked) and for secrets that must not reach swap.
    ///
    /// # Errors
    ///
    /// The OS bounds how much a process may lock: on Unix `RLIMIT_MEMLOCK` (`ulimit -l`,
    /// often 8 MiB; none with `CAP_IPC_LOCK`), on Windows the minimum working set. A
    /// refusal for that reason says so, with the limit, what is already locked and how to
    /// raise it (kind [`OutOfMemory`](io::ErrorKind::OutOfMemory) or
    /// [`PermissionDenied`](io::ErrorKind::PermissionDenied), as the OS answered). A file
    /// truncated under the map is the truncation error, as for [`flush`](Self::flush).
    ///
    /// ```
    /// let map = mmapfile::MmapOptions::new().len(4096).map_anon()?;
    /// match map.lock() {
    ///     Ok(()) => map.unlock()?,
    ///     // A locked-memory limit of 0 (some containers) refuses any lock, and says so.
    ///     Err(err) => assert!(err.to_string().contains("lock"), "{err}"),
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lock(&self) -> io::Result<()> {
        self.check_intact_range(0..self.len())?;
        self.inner.lock(0, self.len())
    }

    /// Unlocks the map's pages ([`lock`](Self::lock)): they may be paged out again.
    /// Unlocking a map that was not locked is no error. Dropping a map unlocks it too.
    pub fn unlock(&self) -> io::Result<()> {
        self.inner.unlock(0, self.len())
    }

    /// Unix only: passes raw `MADV_*` advice for `len` bytes from `offset`.
    ///
    /// # Safety
    /// Advice such as `MADV_DONTNEED` on private memory, `MADV_FREE` or `MADV_REMOVE` changes
    /// the contents: no borrow of the range may be alive, and the caller must accept the loss.
    #[cfg(unix)]
    pub unsafe fn advise_raw(&self, advice: i32, offset: usize, len: usize) -> io::Result<()> {
        self.check_span("advise", offset, len)?;
        // SAFETY: forwarded contract.
        unsafe { self.inner.advise(advice, offset, len) }
    }

    /// Unmaps and closes the kept descriptor now, reporting the errors that `Drop` has to
    /// swallow. It does not flush: call [`flush`](Self::flush) first for durability.
    ///
    /// ```
    /// let map = mmapfile::MmapOptions::new().len(100).map_anon_dyn(mmapfile::Access::Copy)?;
    /// map.close()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(self) -> io::Result<()> {
        let Self {
            mut watch,
            inner,
            backing,
            ..
        } = self;
        // Out of the guard's registry before the address range can be reused.
        watch.release();
        let unmapped = inner.unmap();
        // Close the descriptor even when munmap failed, and report the first error.
        let closed = match backing {
            Backing::File(Some(file)) => sys::close_desc(file),
            Backing::File(None) | Backing::Anonymous => Ok(()),
        };
        unmapped.and(closed)
    }
}

/// The file-like cursor, the reads and the byte-string searches, for the kinds that read.
impl<K: Readable> Map<K> {
    /// The mapped bytes.
    ///
    /// This borrow bypasses the fault guard's reporting: if the file is truncated while the
    /// slice is in use, vanished pages read as zero. The crate's own methods report it.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr()` points at `len()` readable bytes that live as long as `self` (or is
        // dangling and well aligned when `len()` is 0); the contract of the `unsafe`
        // constructors rules out changes behind our back.
        unsafe { std::slice::from_raw_parts(self.inner.ptr(), self.len()) }
    }

    /// Runs `f` over `range` of the map; the fault guard reports a truncated file as an error.
    ///
    /// A panic of `f` unwinds as usual. For code that trusts what it read a moment ago (a
    /// regex engine, a parser), which a truncation can make panic, use
    /// [`scan_with`](Self::scan_with).
    pub fn with_bytes<R>(
        &self,
        range: impl RangeBounds<usize>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> io::Result<R> {
        let range = self.checked_range(range)?;
        self.load(range, f)
    }

    /// Runs `f` over `range` of the map, for code that trusts what it read a moment ago
    /// (a regex engine, a parser). If the file is truncated while `f` runs, `f` sees bytes
    /// turn to zeros mid-call, and such code may panic on its own broken assumption
    /// (regex-automata asserts that a match found forwards is found again backwards). Here a
    /// panic of `f` never unwinds out: it is the truncation error when the guard saw bytes of
    /// `range` vanish or the file is now shorter than `range`, and otherwise an error of kind
    /// [`Other`](io::ErrorKind::Other) saying that the file changed while mapped (truncated
    /// and extended again, or rewritten), with the panic's message. Its message is kept off
    /// stderr (the crate wraps the process's panic hook once to do so). So a bug of `f`
    /// itself is reported the same way: use [`with_bytes`](Self::with_bytes) where a panic
    /// should unwind. Built with `panic = "abort"`, a panic still aborts.
    ///
    /// ```
    /// let map = mmapfile::MmapOptions::new().len(8).map_anon_dyn(mmapfile::Access::Copy)?;
    /// let re = regex::bytes::Regex::new("[^a]").unwrap();
    /// assert_eq!(map.scan_with(.., |hay| re.find_iter(hay).count())?, 8);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn scan_with<R>(
        &self,
        range: impl RangeBounds<usize>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> io::Result<R> {
        let range = self.checked_range(range)?;
        self.load_foreign(range, f)
    }

    /// The byte at `index` (Python's `m[index]`); an error, not a panic, past the end.
    ///
    /// ```
    /// let map = mmapfile::MmapOptions::new().len(10).map_anon_dyn(mmapfile::Access::Copy)?;
    /// assert_eq!(map.get_byte(9)?, 0);
    /// let err = map.get_byte(10).unwrap_err();
    /// assert_eq!(err.to_string(), "index 10 is past the end of the 10-byte map");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn get_byte(&self, index: usize) -> io::Result<u8> {
        if index >= self.len() {
            return Err(index_past_end(index, self.len()));
        }
        self.load(index..index + 1, |bytes| bytes[0])
    }

    /// Copies `range` of the map out.
    pub fn copy_range(&self, range: impl RangeBounds<usize>) -> io::Result<Vec<u8>> {
        self.with_bytes(range, <[u8]>::to_vec)
    }

    /// The cursor position.
    pub fn tell(&self) -> u64 {
        self.pos as u64
    }

    /// Moves the cursor and returns its new position. Seeking to exactly `len()` is allowed;
    /// before the start or past the end is an error and leaves the cursor where it was.
    ///
    /// ```
    /// use std::io::SeekFrom;
    /// let mut map = mmapfile::MmapOptions::new().len(10).map_anon_dyn(mmapfile::Access::Copy)?;
    /// assert_eq!(map.seek(SeekFrom::End(-3))?, 7);
    /// assert_eq!(map.seek(SeekFrom::Current(3))?, 10); // exactly the end is allowed
    /// let err = map.seek(SeekFrom::Start(11)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// assert_eq!(err.to_string(), "seek position 11 is past the end of the 10-byte map");
    /// assert_eq!(map.tell(), 10);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        let (base, delta, whence) = match target {
            SeekFrom::Start(pos) => (0i128, pos as i128, "from the start"),
            SeekFrom::Current(delta) => (self.pos as i128, delta as i128, "from the cursor"),
            SeekFrom::End(delta) => (self.len() as i128, delta as i128, "from the end"),
        };
        let pos = base + delta;
        if pos < 0 {
            return Err(error::invalid_input(format!(
                "seek to {delta} {whence} lands before the start of the map (position {pos})"
            )));
        }
        if pos > self.len() as i128 {
            return Err(past_end(format_args!("seek position {pos}"), self.len()));
        }
        self.pos = pos as usize;
        Ok(self.pos as u64)
    }

    /// Reads up to `n` bytes at the cursor into a new `Vec` and advances the cursor; fewer
    /// (or none) at the end. Python's `read(n)`.
    ///
    /// It is named `read_vec`, not `read`, because every readable map also implements
    /// [`std::io::Read`], whose `read(&mut self, buf: &mut [u8]) -> io::Result<usize>` an
    /// inherent `read` would shadow: method lookup prefers inherent methods, so `map.read(…)`
    /// would name a different function than `Read::read` on the same value, and a reader
    /// could not tell from the call which one runs. Now `map.read(&mut buf)` is always the
    /// std trait (with `std::io::Read` in scope), and [`read_into`](Self::read_into) is the
    /// same thing by name.
    ///
    /// ```
    /// use std::io::Read;
    /// let mut map = mmapfile::MmapOptions::new().len(5).map_anon_dyn(mmapfile::Access::Copy)?;
    /// map.write(b"hello")?;
    /// map.seek(std::io::SeekFrom::Start(1))?;
    /// assert_eq!(map.read_vec(3)?, b"ell");
    /// assert_eq!(map.read_vec(usize::MAX)?, b"o"); // Python's read() with no size
    /// assert_eq!(map.read_vec(1)?, b"");
    /// map.seek(std::io::SeekFrom::Start(0))?;
    /// let mut buf = [0; 2];
    /// assert_eq!(map.read(&mut buf)?, 2); // std::io::Read::read
    /// assert_eq!(&buf, b"he");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_vec(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let end = self.pos.saturating_add(n).min(self.len());
        let bytes = self.load(self.pos..end, <[u8]>::to_vec)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Copies bytes at the cursor into `buf` and advances; returns how many (0 at the end).
    /// This is what `std::io::Read` uses.
    pub fn read_into(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.pos.saturating_add(buf.len()).min(self.len());
        let count = end - self.pos;
        self.load(self.pos..end, |bytes| buf[..count].copy_from_slice(bytes))?;
        self.pos = end;
        Ok(count)
    }

    /// Reads the byte at the cursor and advances; [`io::ErrorKind::UnexpectedEof`] at the end.
    pub fn read_byte(&mut self) -> io::Result<u8> {
        if self.pos >= self.len() {
            return Err(at_the_end(
                "read_byte",
                io::ErrorKind::UnexpectedEof,
                self.pos,
                self.len(),
            ));
        }
        let byte = self.load(self.pos..self.pos + 1, |bytes| bytes[0])?;
        self.pos += 1;
        Ok(byte)
    }

    /// Reads through the next `\n` (included) or to the end; empty at the end.
    ///
    /// ```
    /// let mut map = mmapfile::MmapOptions::new().len(4).map_anon_dyn(mmapfile::Access::Copy)?;
    /// map.write(b"a\nbc")?;
    /// map.seek(std::io::SeekFrom::Start(0))?;
    /// assert_eq!(map.readline()?, b"a\n");
    /// assert_eq!(map.readline()?, b"bc");
    /// assert_eq!(map.readline()?, b"");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn readline(&mut self) -> io::Result<Vec<u8>> {
        let end = self.line_end(self.pos)?;
        let line = self.load(self.pos..end, <[u8]>::to_vec)?;
        self.pos = end;
        Ok(line)
    }

    /// The end (exclusive) of the line that starts at `start`.
    pub(crate) fn line_end(&self, start: usize) -> io::Result<usize> {
        self.load(start..self.len(), |rest| {
            memchr::memchr(b'\n', rest).map_or(self.len(), |i| start + i + 1)
        })
    }

    /// The rest of the map from the cursor, without copying (for `BufRead::fill_buf`).
    pub fn remaining(&self) -> &[u8] {
        &self.as_slice()[self.pos..]
    }

    /// Advances the cursor by up to `n` bytes, stopping at the end.
    pub fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.len());
    }

    /// The first occurrence of `needle` at or after the cursor.
    ///
    /// ```
    /// let mut map = mmapfile::MmapOptions::new().len(7).map_anon_dyn(mmapfile::Access::Copy)?;
    /// map.write(b"abc abc")?; // the cursor is now at the end
    /// assert_eq!(map.find(b"abc")?, None);
    /// map.seek(std::io::SeekFrom::Start(1))?;
    /// assert_eq!(map.find(b"abc")?, Some(4));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn find(&self, needle: &[u8]) -> io::Result<Option<usize>> {
        self.find_in(needle, self.pos..)
    }

    /// The last occurrence of `needle` at or after the cursor.
    pub fn rfind(&self, needle: &[u8]) -> io::Result<Option<usize>> {
        self.rfind_in(needle, self.pos..)
    }

    /// The first occurrence of `needle` that lies wholly inside `range`. Like Python's slice
    /// indices, bounds past the end clamp to `len()`; an empty range (start > end) finds
    /// nothing. An empty needle is found at the start of the range.
    ///
    /// A range of 64 MiB or more whose first 8 MiB hold no match is searched by up to four
    /// threads, one per available core: a long scan is bound by how fast one core reads
    /// memory (see BENCHMARKS.md). `rfind_in` does the same from the end.
    /// [`MmapOptions::search_threads`](crate::MmapOptions::search_threads) sets another
    /// limit (1: the calling thread only).
    ///
    /// ```
    /// let mut map = mmapfile::MmapOptions::new().len(7).map_anon_dyn(mmapfile::Access::Copy)?;
    /// map.write(b"abc abc")?;
    /// assert_eq!(map.find_in(b"abc", 1..)?, Some(4));
    /// assert_eq!(map.find_in(b"abc", 1..6)?, None); // must lie wholly inside
    /// assert_eq!(map.find_in(b"abc", 4..1000)?, Some(4)); // the end clamps
    /// assert_eq!(map.find_in(b"", 5..2)?, None);
    /// assert_eq!(map.rfind_in(b"abc", ..)?, Some(4));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn find_in(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
    ) -> io::Result<Option<usize>> {
        self.find_in_reporting(needle, range, |_| {})
    }

    /// [`find_in`](Self::find_in), telling `searched` how far it has got: a long search
    /// split between threads calls it from those threads with how many start positions of
    /// the range have been searched so far, all threads together (calls from different
    /// threads may arrive out of order; keep the largest), after its first 8 MiB and after
    /// each 4 MiB piece. A search done on the calling thread alone (short ranges, one
    /// thread allowed) does not call it. For a progress bar over a long search.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let mut map = mmapfile::MmapOptions::new().len(7).map_anon_dyn(mmapfile::Access::Copy)?;
    /// map.write(b"abc abc")?;
    /// let most = AtomicUsize::new(0);
    /// let found = map.find_in_reporting(b"c a", .., |done| {
    ///     most.fetch_max(done, Ordering::Relaxed);
    /// })?;
    /// assert_eq!(found, Some(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn find_in_reporting(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
        searched: impl Fn(usize) + Sync,
    ) -> io::Result<Option<usize>> {
        self.search_in(needle, range, &searched, crate::search::find_reporting)
    }

    /// The last occurrence of `needle` that lies wholly inside `range`, clamped as in
    /// [`find_in`](Self::find_in). An empty needle is found at the end of the range.
    pub fn rfind_in(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
    ) -> io::Result<Option<usize>> {
        self.rfind_in_reporting(needle, range, |_| {})
    }

    /// [`rfind_in`](Self::rfind_in), telling `searched` how far it has got, as
    /// [`find_in_reporting`](Self::find_in_reporting) does (positions counted from the end).
    pub fn rfind_in_reporting(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
        searched: impl Fn(usize) + Sync,
    ) -> io::Result<Option<usize>> {
        self.search_in(needle, range, &searched, crate::search::rfind_reporting)
    }

    /// `find_in_reporting` and `rfind_in_reporting`: `search` (forwards or backwards) over
    /// the clamped `range`, under the guard, as an offset in the map.
    fn search_in(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
        searched: crate::search::Searched<'_>,
        search: fn(&[u8], &[u8], Plan, crate::search::Searched<'_>) -> Option<usize>,
    ) -> io::Result<Option<usize>> {
        let Some(range) = self.clamped_range(range) else {
            return Ok(None);
        };
        let start = range.start;
        let plan = Plan::with_limit(self.search_threads);
        self.load(range, |hay| {
            search(hay, needle, plan, searched).map(|i| start + i)
        })
    }

    /// The same map as a [`DynMmap`], whose access is checked at run time (a read-only map
    /// stays read-only).
    pub fn into_dyn(self) -> DynMmap {
        self.retype()
    }

    /// The same map, borrowed as a [`DynMmap`]; through `&` it cannot write.
    pub fn as_dyn(&self) -> &DynMmap {
        self.erased()
    }

    /// Makes the map writable in place, without remapping (`mprotect` on Unix,
    /// `VirtualProtect` on Windows), and returns it as an [`MmapMut`]: write-through
    /// ([`Access::Write`]) when the map shares its pages with the file, as [`Mmap::map`]
    /// maps, or copy-on-write ([`Access::Copy`]) when it was mapped private. The bytes and
    /// the cursor are kept; the fault guard keeps watching it with the new protection.
    ///
    /// # Errors
    ///
    /// A shared file map needs a descriptor open for writing: from a file opened read-only
    /// the OS refuses, and the error ([`PermissionDenied`](io::ErrorKind::PermissionDenied))
    /// says the file was opened read-only (when the map kept its descriptor, which it asks)
    /// and what to do instead. On Windows a map created read-only can never be made
    /// writable (a view cannot gain access it was not mapped with); one made read-only by
    /// [`make_read_only`](Self::make_read_only) can. On any error the map is handed back
    /// unchanged inside the [`ConvertError`], not lost; `?` turns it into the `io::Error`
    /// and unmaps the map.
    ///
    /// There is no executable variant: making mapped file bytes executable means running
    /// code that another process can rewrite under the program, which no safe API can
    /// promise against, and systems that enforce W^X (SELinux `execmem`, hardened macOS
    /// runtimes, OpenBSD) refuse it anyway.
    ///
    /// [`MmapMut`]: crate::MmapMut
    /// [`Mmap::map`]: crate::Mmap::map
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.txt");
    /// std::fs::write(&path, b"hello")?;
    /// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let map = unsafe { mmapfile::Mmap::map(&file)? }; // read-only, checked at compile time
    /// # #[cfg(unix)] {
    /// let mut map = map.make_mut()?;                    // the same pages, now writable
    /// map[..1].copy_from_slice(b"J");
    /// map.flush()?;
    /// assert_eq!(std::fs::read(&path)?, b"Jello");
    /// let map = map.make_read_only()?;                  // and back
    /// assert_eq!(&map[..], b"Jello");
    /// # }
    /// # Ok(()) }
    /// ```
    pub fn make_mut(mut self) -> Result<crate::MmapMut, ConvertError<Self>> {
        match self.set_writable(true) {
            Ok(()) => Ok(self.retype()),
            Err(err) => Err(ConvertError::new(err, self)),
        }
    }

    /// Makes the map read-only in place, without remapping, and returns it as an
    /// [`Mmap`](crate::Mmap), whose type has no way to write. The bytes and the cursor are
    /// kept. It does not flush: changes already made to a write-through map reach the file
    /// as usual (call [`flush`](Self::flush) first to wait for them); its
    /// [`access`](Self::access) is now [`Access::Read`].
    ///
    /// # Errors
    ///
    /// Only what the OS reports (running out of memory for its bookkeeping); the map is
    /// then handed back unchanged inside the [`ConvertError`].
    ///
    /// ```
    /// let mut map = mmapfile::MmapMut::map_anon(4096)?;
    /// map[..2].copy_from_slice(b"hi");
    /// let map = map.make_read_only()?;
    /// assert_eq!(&map[..2], b"hi");
    /// assert_eq!(map.access(), mmapfile::Access::Read);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn make_read_only(mut self) -> Result<crate::Mmap, ConvertError<Self>> {
        match self.set_writable(false) {
            Ok(()) => Ok(self.retype()),
            Err(err) => Err(ConvertError::new(err, self)),
        }
    }
}

/// The writes: methods of [`MmapMut`](crate::MmapMut) and, checked at run time, of
/// [`DynMmap`].
impl<K: Writable> Map<K> {
    /// A mutable pointer to the first mapped byte. Writing through it on a read-only map
    /// faults; the buffer protocol of the bindings uses it for writable maps only.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.inner.ptr()
    }

    /// The mapped bytes, mutably; an error on a read-only map.
    pub fn as_mut_slice(&mut self) -> io::Result<&mut [u8]> {
        self.require_writable("borrow the map mutably")?;
        // SAFETY: the map is writable, so its pages are mapped with PROT_WRITE.
        Ok(unsafe { self.bytes_mut_unchecked() })
    }

    /// Runs `f` over `range` of the map mutably; an error on a read-only map.
    pub fn with_bytes_mut<R>(
        &mut self,
        range: impl RangeBounds<usize>,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> io::Result<R> {
        self.require_writable("write to the map")?;
        let range = self.checked_range(range)?;
        self.store(range, f)
    }

    /// Sets the byte at `index` (Python's `m[index] = value`); an error past the end or on a
    /// read-only map.
    #[inline]
    pub fn set_byte(&mut self, index: usize, value: u8) -> io::Result<()> {
        self.require_writable("set a byte")?;
        if index >= self.len() {
            return Err(index_past_end(index, self.len()));
        }
        self.store(index..index + 1, |bytes| bytes[0] = value)
    }

    /// Copies `data` into the map at `offset` (slice assignment); all or nothing.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> io::Result<()> {
        self.require_writable("write to the map")?;
        let end = offset
            .checked_add(data.len())
            .filter(|&end| end <= self.len())
            .ok_or_else(|| {
                past_end(
                    format_args!("write of {} bytes at offset {offset}", data.len()),
                    self.len(),
                )
            })?;
        self.store(offset..end, |bytes| bytes.copy_from_slice(data))
    }

    /// Writes all of `data` at the cursor and advances it, returning `data.len()`. If the data
    /// does not fit, nothing is written, the cursor stays, and the error says by how much.
    ///
    /// ```
    /// let mut map = mmapfile::MmapOptions::new().len(4).map_anon_dyn(mmapfile::Access::Copy)?;
    /// assert_eq!(map.write(b"ab")?, 2);
    /// let err = map.write(b"cde").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WriteZero);
    /// assert_eq!(map.as_slice(), b"ab\0\0"); // all or nothing
    /// assert_eq!(map.tell(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.require_writable("write")?;
        if data.len() > self.len() - self.pos {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!(
                    "write of {} bytes at position {} runs past the end of the {}-byte map \
                     (room for {})",
                    data.len(),
                    self.pos,
                    self.len(),
                    self.len() - self.pos
                ),
            ));
        }
        let start = self.pos;
        self.store(start..start + data.len(), |bytes| {
            bytes.copy_from_slice(data)
        })?;
        self.pos += data.len();
        Ok(data.len())
    }

    /// Writes one byte at the cursor and advances; an error at the end.
    pub fn write_byte(&mut self, byte: u8) -> io::Result<()> {
        self.require_writable("write a byte")?;
        if self.pos >= self.len() {
            return Err(at_the_end(
                "write_byte",
                io::ErrorKind::WriteZero,
                self.pos,
                self.len(),
            ));
        }
        let pos = self.pos;
        self.store(pos..pos + 1, |bytes| bytes[0] = byte)?;
        self.pos += 1;
        Ok(())
    }

    /// Copies `count` bytes from `src` to `dest` inside the map (the ranges may overlap).
    ///
    /// ```
    /// let mut map = mmapfile::MmapOptions::new().len(6).map_anon_dyn(mmapfile::Access::Copy)?;
    /// map.write(b"abcdef")?;
    /// map.move_within(1, 0, 4)?;
    /// assert_eq!(map.as_slice(), b"aabcdf");
    /// assert!(map.move_within(3, 0, 4).is_err()); // the destination runs past the end
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn move_within(&mut self, dest: usize, src: usize, count: usize) -> io::Result<()> {
        self.require_writable("move bytes")?;
        self.check_span("move source", src, count)?;
        self.check_span("move destination", dest, count)?;
        let low = dest.min(src);
        let high = dest.max(src) + count;
        self.store(low..high, |bytes| {
            bytes.copy_within(src - low..src - low + count, dest - low)
        })
    }

    /// Changes the map's length to `new_len`, growing or shrinking the file to match
    /// (`offset + new_len` bytes). Only write-through and anonymous maps can be resized.
    /// The cursor is clamped to the new length. On error the map and the file are unchanged.
    /// Linux grows the mapping with `mremap`; other systems map afresh; a shrink unmaps the
    /// tail in place. Shared anonymous memory stays shared with processes forked before the
    /// resize: on Linux it is a memory file (`memfd`, one descriptor per map) that grows with
    /// the map (and, so that forked processes keep their pages, never shrinks); elsewhere, or
    /// when the process had no descriptor to spare, a shrink works and growing fails with
    /// [`io::ErrorKind::Unsupported`] rather than silently un-share it.
    /// After a truncation the guard reported, a write-through map is mapped afresh from the
    /// file (whose length the resize sets), and a private one cannot grow (the error says
    /// the file was truncated).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.bin");
    /// std::fs::write(&path, b"0123456789")?;
    /// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let mut map = unsafe { mmapfile::MmapOptions::new().map_mut(&file)? };
    /// map.resize(4)?;
    /// assert_eq!(std::fs::read(&path)?, b"0123");
    /// map.resize(6)?;
    /// assert_eq!(&map[..], b"0123\0\0");
    /// assert_eq!(map.size()?, 6);
    /// # Ok(()) }
    /// ```
    pub fn resize(&mut self, new_len: usize) -> io::Result<()> {
        let old_len = self.len();
        // Refuse before the file is touched; the OS layer checks the exact bound again.
        if new_len > isize::MAX as usize {
            return Err(error::invalid_input(format!(
                "new length {new_len} is too long: a map holds at most {} bytes (isize::MAX)",
                isize::MAX
            )));
        }
        let fd = match &self.backing {
            Backing::Anonymous => None,
            Backing::File(_) if self.access != Access::Write => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "only write-through and anonymous maps can be resized \
                     (this one is read-only or copy-on-write)",
                ))
            }
            Backing::File(None) => return Err(no_descriptor("resize")),
            Backing::File(Some(file)) => Some(sys::borrow_desc(file)),
        };
        let Some(fd) = fd else {
            let Self {
                watch,
                inner,
                backing,
                offset,
                ..
            } = self;
            remap_watched(watch, inner, backing, *offset, false, |inner| {
                inner.remap(None, 0, new_len)
            })?;
            self.pos = self.pos.min(new_len);
            return Ok(());
        };
        let new_file_len = self.offset.checked_add(new_len as u64).ok_or_else(|| {
            error::invalid_input(format!(
                "new length {new_len} at offset {} overflows a 64-bit file size",
                self.offset
            ))
        })?;
        // What to restore if remapping fails: the file's real size, which is larger than
        // `offset + old_len` when the map is a window.
        let old_file_len = sys::file_info(fd)?.size;
        // Pages the guard replaced with zeros split the OS mapping, which then cannot be
        // moved, and hide the file: a shared mapping is made afresh from the file (which is
        // the truth), while a private one would lose its own changes, so growing it reports
        // the truncation.
        let (repaired, shared) = (self.watch.has_marks(), self.inner.is_shared());
        if repaired && new_len > old_len && !shared {
            let gone = self.watch.gone_from().min(old_len);
            return Err(self.vanished(&(gone..old_len)));
        }
        let fresh = repaired && shared;
        let Self {
            watch,
            inner,
            backing,
            offset,
            ..
        } = self;
        let offset = *offset;
        let backing: &Backing = backing;
        let fd = match backing {
            Backing::File(Some(file)) => sys::borrow_desc(file),
            _ => unreachable!("checked above: a file map with its descriptor"),
        };
        let remap = |inner: &mut MapInner, len: usize| {
            if fresh {
                inner.remap_fresh(Some(fd), offset, len)
            } else {
                inner.remap(Some(fd), offset, len)
            }
        };
        // Keep the map inside the file at every step: grow the file first, shrink it last;
        // on any error put back what was changed, and report the first error.
        if new_len > old_len {
            sys::set_file_len(fd, new_file_len)?;
            if let Err(err) = remap_watched(watch, inner, backing, offset, fresh, |inner| {
                remap(inner, new_len)
            }) {
                let restored = sys::set_file_len(fd, old_file_len);
                return Err(rollback_error(err, restored, "the file's length"));
            }
        } else if cfg!(windows) {
            // Windows refuses to cut a file under any live view of it, ours included: unmap,
            // cut, map again. A failure to map after the cut (which frees memory, so it is
            // not expected) puts the file's length and the map back, but the cut bytes read
            // as zeros from then on.
            remap_watched(watch, inner, backing, offset, fresh, |inner| {
                remap(inner, 0)
            })?;
            if let Err(err) = sys::set_file_len(fd, new_file_len) {
                let restored = remap_watched(watch, inner, backing, offset, fresh, |inner| {
                    remap(inner, old_len)
                });
                return Err(rollback_error(err, restored, "the map's length"));
            }
            if let Err(err) = remap_watched(watch, inner, backing, offset, fresh, |inner| {
                remap(inner, new_len)
            }) {
                let file = sys::set_file_len(fd, old_file_len);
                let err = rollback_error(err, file, "the file's length");
                let restored = remap_watched(watch, inner, backing, offset, fresh, |inner| {
                    remap(inner, old_len)
                });
                return Err(rollback_error(err, restored, "the map's length"));
            }
        } else {
            remap_watched(watch, inner, backing, offset, fresh, |inner| {
                remap(inner, new_len)
            })?;
            if let Err(err) = sys::set_file_len(fd, new_file_len) {
                let restored = remap_watched(watch, inner, backing, offset, fresh, |inner| {
                    remap(inner, old_len)
                });
                return Err(rollback_error(err, restored, "the map's length"));
            }
        }
        self.pos = self.pos.min(new_len);
        Ok(())
    }
}

impl DynMmap {
    pub(crate) fn new(inner: MapInner, access: Access, backing: Backing, offset: u64) -> Self {
        let mut map = Self {
            watch: Watch::none(),
            inner,
            access,
            backing,
            offset,
            pos: 0,
            search_threads: None,
            kind: PhantomData,
        };
        map.watch = Watch::new(map.guard_facts());
        map
    }
}

impl<K: Kind> Map<K> {
    /// The same map as another kind. The caller upholds what the new kind promises (a
    /// `ReadWrite` map is writable).
    pub(crate) fn retype<L: Kind>(self) -> Map<L> {
        let Self {
            watch,
            inner,
            access,
            backing,
            offset,
            pos,
            search_threads,
            kind: _,
        } = self;
        Map {
            watch,
            inner,
            access,
            backing,
            offset,
            pos,
            search_threads,
            kind: PhantomData,
        }
    }

    /// This map, borrowed as a [`DynMmap`] (for the scans' iterators and `as_dyn`).
    #[inline]
    pub(crate) fn erased(&self) -> &DynMmap {
        // SAFETY: `Map` is `repr(C)` and its fields are the same types for every kind except
        // the zero-sized, alignment-1 `PhantomData<K>` at the end, so `Map<K>` and
        // `Map<Dynamic>` have the same layout; the borrow keeps `self`'s lifetime. A
        // `&DynMmap` cannot write (writes take `&mut`), so no kind's promise is broken.
        unsafe { &*(self as *const Self).cast::<DynMmap>() }
    }

    /// Adds or removes write access in place, then records the access that results and
    /// tells the fault guard the new protection (its zero pages must allow what the map
    /// allows, or a write after a repaired fault would fault again).
    fn set_writable(&mut self, writable: bool) -> io::Result<()> {
        if let Err(err) = self.inner.set_writable(writable) {
            return Err(self.protection_error(err, writable));
        }
        self.access = match (writable, self.inner.is_shared()) {
            (false, _) => Access::Read,
            (true, true) => Access::Write,
            (true, false) => Access::Copy,
        };
        let facts = guard_facts(&self.inner, &self.backing, self.offset);
        self.watch.update(facts);
        Ok(())
    }

    /// The error of a refused protection change, saying why when the OS refused access.
    #[cold]
    fn protection_error(&self, err: io::Error, writable: bool) -> io::Error {
        let goal = if writable { "writable" } else { "read-only" };
        if !writable || err.kind() != io::ErrorKind::PermissionDenied || cfg!(windows) {
            return io::Error::new(err.kind(), format!("cannot make the map {goal}: {err}"));
        }
        let opened_read_only = match &self.backing {
            Backing::File(Some(file)) => sys::desc_access(sys::borrow_desc(file))
                .ok()
                .map(|(_, can_write)| !can_write),
            _ => None,
        };
        let why = match opened_read_only {
            Some(true) => {
                "the file was opened read-only, and a map that writes through to the file \
                 needs a descriptor open for writing (open the file read-write, or map it \
                 with map_copy for changes that stay private)"
            }
            _ => {
                "the OS refused write access to the mapped file (a map that writes through \
                 needs a descriptor open for writing, and a file system that allows writes)"
            }
        };
        io::Error::new(
            err.kind(),
            format!("cannot make the map writable: {why} ({err})"),
        )
    }

    /// What the fault guard needs to know about the mapping as it is now.
    fn guard_facts(&self) -> MapFacts {
        guard_facts(&self.inner, &self.backing, self.offset)
    }

    /// # Safety
    /// The map must have been created writable (PROT_WRITE), or the slice must not be written.
    pub(crate) unsafe fn bytes_mut_unchecked(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` makes the borrow unique, and the caller
        // guarantees writes are allowed by the page protection.
        unsafe { std::slice::from_raw_parts_mut(self.inner.ptr(), self.len()) }
    }

    fn flush_impl(&self, offset: usize, len: usize, sync: bool) -> io::Result<()> {
        self.check_span("flush", offset, len)?;
        // msync of pages the file no longer has reports nothing: ask the guard and the file.
        self.check_intact_range(offset..offset + len)?;
        if self.access != Access::Write || self.is_anonymous() {
            return Ok(());
        }
        self.inner.flush(offset, len, sync)
    }

    #[inline]
    pub(crate) fn require_writable(&self, operation: &str) -> io::Result<()> {
        if K::ALWAYS_WRITABLE || self.access.is_writable() {
            Ok(())
        } else {
            Err(error::read_only(operation))
        }
    }

    /// `offset..offset + len` must lie inside the map.
    pub(crate) fn check_span(&self, what: &str, offset: usize, len: usize) -> io::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(past_end(
                format_args!("{what} range {offset}..{}", offset as u128 + len as u128),
                self.len(),
            )),
        }
    }

    /// A range the caller asked for, which must lie inside the map.
    pub(crate) fn checked_range(&self, range: impl RangeBounds<usize>) -> io::Result<Range<usize>> {
        let (start, end) = bounds(&range, self.len());
        if start > end {
            return Err(error::invalid_input(format!(
                "range start {start} is after its end {end}"
            )));
        }
        if end > self.len() as u128 {
            return Err(past_end(format_args!("range {start}..{end}"), self.len()));
        }
        Ok(start as usize..end as usize)
    }

    /// A search range clamped to the map like a Python slice; `None` when it is empty
    /// because start > end.
    fn clamped_range(&self, range: impl RangeBounds<usize>) -> Option<Range<usize>> {
        let len = self.len() as u128;
        let (start, end) = bounds(&range, self.len());
        let (start, end) = (start.min(len) as usize, end.min(len) as usize);
        (start <= end).then_some(start..end)
    }
}

/// The error of `read_byte`/`write_byte` with the cursor at the end of the map.
#[cold]
fn at_the_end(operation: &str, kind: io::ErrorKind, pos: usize, len: usize) -> io::Error {
    io::Error::new(
        kind,
        format!("{operation} at position {pos} is at the end of the {len}-byte map"),
    )
}

/// The error of `get_byte`/`set_byte` past the end, out of line so that the byte paths stay
/// small enough to inline.
#[cold]
#[inline(never)]
fn index_past_end(index: usize, len: usize) -> io::Error {
    past_end(format_args!("index {index}"), len)
}

/// Resolves range bounds without overflow (`..=usize::MAX` ends past `usize::MAX`).
pub(crate) fn bounds(range: &impl RangeBounds<usize>, len: usize) -> (u128, u128) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s as u128,
        Bound::Excluded(&s) => s as u128 + 1,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e as u128 + 1,
        Bound::Excluded(&e) => e as u128,
        Bound::Unbounded => len as u128,
    };
    (start, end)
}

fn no_descriptor(operation: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("cannot {operation}: the map keeps no file descriptor (keep_file(false))"),
    )
}

/// What the fault guard needs to know about a mapping as it is now.
fn guard_facts(inner: &MapInner, backing: &Backing, offset: u64) -> MapFacts {
    let fd = match backing {
        #[cfg(unix)]
        Backing::File(Some(file)) => Some(std::os::fd::AsRawFd::as_raw_fd(file)),
        _ => None,
    };
    MapFacts {
        region: inner.guarded_region(),
        fd,
        file_offset: offset,
        user_len: inner.len(),
        regular_file: inner.is_regular_file(),
    }
}

/// Runs a change of the OS mapping with the guard's registration paused, and registers
/// what is there afterwards (changed or not). A fresh mapping has no vanished pages.
fn remap_watched(
    watch: &mut Watch,
    inner: &mut MapInner,
    backing: &Backing,
    offset: u64,
    fresh: bool,
    change: impl FnOnce(&mut MapInner) -> io::Result<()>,
) -> io::Result<()> {
    // The old addresses stop being ours the moment the OS moves them: out of the registry
    // first (nothing reads the map meanwhile: the caller holds `&mut`).
    watch.pause();
    let result = change(inner);
    if fresh && result.is_ok() {
        // A new mapping of the file: every page shows the file again.
        watch.forget_marks();
    }
    watch.update(guard_facts(inner, backing, offset));
    result
}

/// The error of a change whose undoing failed too: both are told, the first leads.
fn rollback_error(err: io::Error, undone: io::Result<()>, what: &str) -> io::Error {
    match undone {
        Ok(()) => err,
        Err(undo) => io::Error::new(
            err.kind(),
            format!("{err}; putting back {what} failed as well ({undo}), so it stays changed"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MmapOptions;

    fn anon(bytes: &[u8]) -> DynMmap {
        let mut map = MmapOptions::new()
            .len(bytes.len())
            .map_anon_dyn(Access::Copy)
            .unwrap();
        map.write_at(0, bytes).unwrap();
        map
    }

    #[test]
    fn bounds_resolve_without_overflow() {
        assert_eq!(bounds(&(..), 7), (0, 7));
        assert_eq!(bounds(&(2..=4), 7), (2, 5));
        assert_eq!(bounds(&(..=usize::MAX), 7), (0, usize::MAX as u128 + 1));
        let excluded = (Bound::Excluded(usize::MAX), Bound::Unbounded);
        assert_eq!(bounds(&excluded, 7), (usize::MAX as u128 + 1, 7));
    }

    #[test]
    #[allow(clippy::reversed_empty_ranges)] // start after end is an input we must handle
    fn search_ranges_clamp_and_checked_ranges_do_not() {
        let map = anon(b"0123456789");
        assert_eq!(map.clamped_range(5..100), Some(5..10));
        assert_eq!(map.clamped_range(50..100), Some(10..10));
        assert_eq!(map.clamped_range(6..3), None);
        assert_eq!(map.checked_range(2..=3).unwrap(), 2..4);
        assert!(map.checked_range(5..11).is_err());
        assert!(map.checked_range(6..3).is_err());
    }

    #[test]
    fn spans_must_fit_and_may_end_at_the_end() {
        let map = anon(b"0123456789");
        assert!(map.check_span("flush", 10, 0).is_ok());
        assert!(map.check_span("flush", 0, 10).is_ok());
        let err = map.check_span("flush", usize::MAX, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "flush range {}..{} is past the end of the 10-byte map",
                usize::MAX,
                usize::MAX as u128 + 2
            )
        );
    }

    #[test]
    fn resize_clamps_the_cursor() {
        let mut map = anon(b"0123456789");
        map.seek(SeekFrom::End(0)).unwrap();
        map.resize(3).unwrap();
        assert_eq!(map.tell(), 3);
        assert_eq!(map.as_slice(), b"012");
        map.resize(0).unwrap();
        assert_eq!(map.tell(), 0);
        assert_eq!(map.remaining(), b"");
    }

    #[test]
    fn a_read_only_map_refuses_a_mutable_borrow() {
        let mut map = MmapOptions::new()
            .len(4)
            .map_anon_dyn(Access::Read)
            .unwrap();
        assert_eq!(
            map.as_mut_slice().unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        assert_eq!(map.as_slice(), &[0; 4]);
    }
}
