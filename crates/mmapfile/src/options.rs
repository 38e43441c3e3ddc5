//! The [`MmapOptions`] builder and the small enums that describe a mapping.

use std::io;
use std::num::NonZeroUsize;

use crate::dynmap::Backing;
use crate::error;
use crate::sys::{self, AsDesc, HugePages, MapFlags, MapInner, MapMode};
use crate::window::{self, Window};
// The OS layer defines these (it knows nothing above it); the builder is where users meet them.
pub use crate::sys::Advice;
pub(crate) use crate::sys::Protection;
use crate::{DynMmap, Mmap, MmapMut};

/// What a map lets you do with its memory, decided when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read-only: every mutating call is refused.
    Read,
    /// Write-through (`MAP_SHARED`): stores reach the file and other mappings of it.
    Write,
    /// Copy-on-write (`MAP_PRIVATE`): stores stay in this process; the file never changes.
    Copy,
}

impl Access {
    /// Whether this access lets the map's memory be changed.
    pub fn is_writable(self) -> bool {
        !matches!(self, Access::Read)
    }
}

/// A builder for memory maps: window, access and behaviour.
///
/// ```
/// use mmapfile::MmapOptions;
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data.bin");
/// std::fs::write(&path, b"hello, mapped world")?;
/// let file = std::fs::File::open(&path)?;
/// // SAFETY: nothing else truncates or rewrites the file while it is mapped.
/// let map = unsafe { MmapOptions::new().offset(7).len(6).map(&file)? };
/// assert_eq!(&map[..], b"mapped");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MmapOptions {
    offset: u64,
    len: Option<usize>,
    flags: MapFlags,
    grow: bool,
    keep_file: bool,
    protection: Option<Protection>,
    raw_flags: i32,
    raw_mmap_flags: Option<i32>,
    search_threads: Option<usize>,
    /// Windows: the name of the section to create or open (`shared_name`).
    #[cfg(windows)]
    shared_name: Option<String>,
}

impl Default for MmapOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl MmapOptions {
    /// Options for a whole-file map: offset 0, length to the end of the file.
    pub fn new() -> Self {
        Self {
            offset: 0,
            len: None,
            flags: MapFlags::default(),
            grow: false,
            keep_file: true,
            protection: None,
            raw_flags: 0,
            raw_mmap_flags: None,
            search_threads: None,
            #[cfg(windows)]
            shared_name: None,
        }
    }

    /// Where in the file the map starts. Any offset works: the map is aligned down to the
    /// allocation granularity internally and the slack is hidden.
    pub fn offset(&mut self, offset: u64) -> &mut Self {
        self.offset = offset;
        self
    }

    /// How many bytes to map; 0 (the default) means "to the end of the file", which is an
    /// empty map for an empty file or an offset at the end of the file. For anonymous memory
    /// 0 gives an empty map, which [`resize`](crate::DynMmap::resize) can grow.
    ///
    /// An empty map makes no OS mapping: its pointer is dangling (non-null, aligned, never
    /// read) and it behaves as an empty byte string: reads give nothing, searches find
    /// nothing, `seek(SeekFrom::Start(0))`, flushing and advice succeed, and writing bytes
    /// is the usual out-of-range error.
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("empty.bin");
    /// std::fs::write(&path, b"")?;
    /// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let mut map = unsafe { MmapOptions::new().map_dyn(Some(&file), Access::Write)? };
    /// assert!(map.is_empty());
    /// assert_eq!(map.find(b"x")?, None);
    /// map.resize(5)?; // grows the file, then maps it
    /// map.write(b"hello")?;
    /// assert_eq!(std::fs::read(&path)?, b"hello");
    /// let anon = MmapOptions::new().map_anon()?;
    /// assert_eq!(anon.len(), 0);
    /// # Ok(()) }
    /// ```
    pub fn len(&mut self, len: usize) -> &mut Self {
        self.len = (len != 0).then_some(len);
        self
    }

    /// Pre-fault the whole map when it is created, so that first reads do not wait for the
    /// disk or the zero page. A hint: where it cannot be done the map works as without it.
    ///
    /// - Linux and Android: `MAP_POPULATE` (the kernel reads in and maps every page; a map
    ///   made bigger by `resize` is populated again).
    /// - macOS, FreeBSD and other Unix systems: `madvise(MADV_WILLNEED)` right after
    ///   mapping: the kernel starts reading the pages in, without waiting for them.
    /// - Windows: `PrefetchVirtualMemory` over the whole view (also without waiting).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.bin");
    /// std::fs::write(&path, vec![7u8; 1 << 16])?;
    /// let file = std::fs::File::open(&path)?;
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let map = unsafe { mmapfile::MmapOptions::new().populate().map(&file)? };
    /// assert!(map.iter().all(|&byte| byte == 7));
    /// # Ok(()) }
    /// ```
    pub fn populate(&mut self) -> &mut Self {
        self.flags.populate = true;
        self
    }

    /// Lock the map's pages in memory (`MAP_LOCKED`): they are read in when the map is made
    /// and never paged out, as with `mlock(2)`. Linux and Android only; elsewhere mapping
    /// fails with [`io::ErrorKind::Unsupported`] naming the option (on Windows `VirtualLock`
    /// is bounded by the working-set quota, which the crate does not raise).
    ///
    /// Locking counts against the process's locked-memory limit (`RLIMIT_MEMLOCK`, `ulimit
    /// -l`) unless it has `CAP_IPC_LOCK`: a map past it fails with
    /// [`io::ErrorKind::OutOfMemory`] and a message giving the limit. As with
    /// `MAP_LOCKED`, pages the kernel could not read in are not an error.
    ///
    /// ```
    /// let mut options = mmapfile::MmapOptions::new();
    /// options.len(4096).locked();
    /// match options.map_anon() {
    ///     Ok(map) => assert_eq!(map.len(), 4096),
    ///     // Not Linux, or a locked-memory limit below one page.
    ///     Err(err) => assert!(err.to_string().contains("locked()"), "{err}"),
    /// }
    /// ```
    pub fn locked(&mut self) -> &mut Self {
        self.flags.locked = true;
        self
    }

    /// Back an anonymous map with huge pages (`MAP_HUGETLB`): `None` for the kernel's default
    /// huge page size, `Some(log2)` for pages of `1 << log2` bytes (21 for 2 MiB, 30 for 1
    /// GiB; see [`huge_page_sizes`](crate::huge_page_sizes)). Linux and Android only.
    ///
    /// Huge pages come from a pool an administrator reserves (`sysctl vm.nr_hugepages=N`, or
    /// `/sys/kernel/mm/hugepages/hugepages-<size>kB/nr_hugepages`), empty by default: when it
    /// cannot supply the map, mapping fails with [`io::ErrorKind::OutOfMemory`] and a message
    /// that says how many pages of which size are reserved and free. The length (and every
    /// [`resize`](crate::DynMmap::resize)) must be a whole number of huge pages
    /// ([`io::ErrorKind::InvalidInput`] otherwise, with the rounded-up length). A size the
    /// system does not have is [`io::ErrorKind::InvalidInput`]; a system without huge pages,
    /// [`io::ErrorKind::Unsupported`].
    ///
    /// File maps refuse it ([`io::ErrorKind::InvalidInput`]): a file on hugetlbfs gets huge
    /// pages without asking, and [`Advice::HugePage`] asks for transparent huge pages, which
    /// need no pool, for other memory. Shared huge memory ([`Access::Write`]) cannot grow.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// let two_mib = 2 << 20;
    /// let mut options = mmapfile::MmapOptions::new();
    /// options.len(two_mib).huge(None);
    /// match options.map_anon() {
    ///     Ok(map) => assert_eq!(map.len(), two_mib),
    ///     // No huge pages reserved (the default), or none on this system.
    ///     Err(err) => {
    ///         assert!(matches!(err.kind(), ErrorKind::OutOfMemory | ErrorKind::Unsupported))
    ///     }
    /// }
    /// // Not a whole number of huge pages.
    /// let err = mmapfile::MmapOptions::new().len(4096).huge(None).map_anon().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported));
    /// ```
    pub fn huge(&mut self, page_log2: Option<u8>) -> &mut Self {
        self.flags.huge = Some(page_log2.map_or(HugePages::Default, HugePages::Log2));
        self
    }

    /// Reserve no swap space for the map (`MAP_NORESERVE`): under Linux's default overcommit
    /// heuristics a large sparse anonymous map then counts against no limit, and a write
    /// that finds no memory kills the process (SIGSEGV) instead of the map failing up front.
    /// With `vm.overcommit_memory = 2` the kernel ignores it. Linux and Android only;
    /// elsewhere mapping fails with [`io::ErrorKind::Unsupported`] naming the option.
    ///
    /// ```
    /// let mut options = mmapfile::MmapOptions::new();
    /// options.len(1 << 20).no_reserve();
    /// match options.map_anon() {
    ///     Ok(map) => assert!(map.iter().all(|&byte| byte == 0)),
    ///     Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::Unsupported),
    /// }
    /// ```
    pub fn no_reserve(&mut self) -> &mut Self {
        self.flags.no_reserve = true;
        self
    }

    /// Mark anonymous memory as a thread stack (`MAP_STACK`). On Linux this is a hint (since
    /// 6.7 it keeps transparent huge pages away from the memory); Linux and Android only, as
    /// FreeBSD's `MAP_STACK` makes a grow-down region whose guard pages would fault on the
    /// map's own reads. Elsewhere mapping fails with [`io::ErrorKind::Unsupported`]; a file
    /// map refuses it with [`io::ErrorKind::InvalidInput`].
    ///
    /// ```
    /// let mut options = mmapfile::MmapOptions::new();
    /// options.len(1 << 16).stack();
    /// match options.map_anon() {
    ///     Ok(map) => assert_eq!(map.len(), 1 << 16),
    ///     Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::Unsupported),
    /// }
    /// ```
    pub fn stack(&mut self) -> &mut Self {
        self.flags.stack = true;
        self
    }

    /// Extend the file when the requested window runs past its end, as the guide describes.
    /// Off by default: a window past the end is then an error, as CPython does on Unix.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("log.bin");
    /// std::fs::write(&path, b"0123456789")?;
    /// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    /// let mut options = mmapfile::MmapOptions::new();
    /// options.offset(8).len(4);
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let err = unsafe { options.map_mut(&file) }.unwrap_err();
    /// assert!(err.to_string().contains("runs past the end of the 10-byte file"));
    /// // SAFETY: as above.
    /// let map = unsafe { options.grow(true).map_mut(&file)? };
    /// assert_eq!(&map[..], b"89\0\0");
    /// assert_eq!(std::fs::metadata(&path)?.len(), 12);
    /// # Ok(()) }
    /// ```
    pub fn grow(&mut self, grow: bool) -> &mut Self {
        self.grow = grow;
        self
    }

    /// Keep a duplicate of the file descriptor (the default). Without it the map cannot report
    /// the file's size or resize the file (Python's `trackfd=False`).
    pub fn keep_file(&mut self, keep: bool) -> &mut Self {
        self.keep_file = keep;
        self
    }

    /// At most how many threads one `find_in` or `rfind_in` on the map may use, the calling
    /// thread included; 1 keeps every search on the calling thread. By default long searches
    /// (64 MiB and more) use one thread per available core, at most four. 0 is refused when
    /// the map is made.
    ///
    /// ```
    /// let mut map = mmapfile::MmapOptions::new()
    ///     .len(1 << 20)
    ///     .search_threads(1)
    ///     .map_anon_dyn(mmapfile::Access::Copy)?;
    /// map.write_at(1000, b"needle")?;
    /// assert_eq!(map.find_in(b"needle", ..)?, Some(1000));
    /// let err = mmapfile::MmapOptions::new().len(1).search_threads(0).map_anon().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn search_threads(&mut self, threads: usize) -> &mut Self {
        self.search_threads = Some(threads);
        self
    }

    /// Windows only: create or open the mapping under this name, so that other maps of the
    /// same name, in this process or another, share its memory (CPython's `tagname`).
    ///
    /// - With anonymous memory ([`map_anon_dyn`](Self::map_anon_dyn)) this is named shared
    ///   memory: the first map of a name creates `len` bytes of zeros backed by the pagefile,
    ///   later maps of the name see the same bytes. Use [`Access::Write`] for maps whose
    ///   stores others should see ([`Access::Copy`] keeps its stores private, as
    ///   [`map_anon`](Self::map_anon) does).
    /// - With a file, the first map of a name creates the section over that file; a later
    ///   map of an existing name uses the existing section, whatever file it is given.
    ///
    /// **Lifetime:** the named memory exists while any map of it is alive, in any process;
    /// when the last one is dropped it is gone, and the next map of the name starts afresh
    /// with zeros. A named map cannot be resized (others share it at its size), and mapping
    /// more bytes than an existing section of that name holds is an error. Names follow the
    /// Windows rules for kernel objects (`Local\` and `Global\` prefixes; no other
    /// backslash); an empty name or a NUL character is refused.
    ///
    /// Unix has no equivalent here (use a file in `/dev/shm` and map it); the method is not
    /// compiled there.
    ///
    /// ```
    /// # #[cfg(windows)]
    /// # fn main() -> std::io::Result<()> {
    /// use mmapfile::{Access, MmapOptions};
    /// let mut options = MmapOptions::new();
    /// options.len(4096).shared_name("Local\\mmapfile-doc-example");
    /// let mut first = options.map_anon_dyn(Access::Write)?;
    /// let second = options.map_anon_dyn(Access::Read)?;
    /// first.write(b"seen by both")?;
    /// assert_eq!(&second.as_slice()[..12], b"seen by both");
    /// # Ok(()) }
    /// # #[cfg(not(windows))]
    /// # fn main() {}
    /// ```
    #[cfg(windows)]
    pub fn shared_name(&mut self, name: &str) -> &mut Self {
        self.shared_name = Some(name.to_owned());
        self
    }

    /// Unix only: use these raw `PROT_*` bits instead of the ones the access implies.
    /// Used to reproduce Python's `prot=` argument; the access still governs what the
    /// crate's own methods allow, so pass an access that matches the protection.
    #[cfg(unix)]
    pub fn raw_protection(&mut self, prot: i32) -> &mut Self {
        self.protection = Some(Protection::Raw(prot));
        self
    }

    /// Unix only: extra raw `MAP_*` flags for mmap(2), for the ones this builder has no
    /// setter for (`MAP_32BIT`, `MAP_UNINITIALIZED`, a platform's own flags, …); the typed
    /// setters ([`populate`](Self::populate), [`locked`](Self::locked), …) are the better way
    /// to the flags they cover.
    ///
    /// Flags the crate sets itself or that contradict the access are refused when mapping,
    /// with [`io::ErrorKind::InvalidInput`] naming the flag: the sharing type
    /// (`MAP_SHARED`, `MAP_PRIVATE`, `MAP_SHARED_VALIDATE`: the [`Access`] decides it),
    /// `MAP_ANONYMOUS` on a file map, `MAP_FIXED` and `MAP_FIXED_NOREPLACE` (a fixed address
    /// could replace live memory), and `MAP_HUGETLB` with its size bits (use
    /// [`huge`](Self::huge)). Flags the kernel does not know are its to refuse or ignore.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// use mmapfile::{Access, MmapOptions};
    /// let err = MmapOptions::new()
    ///     .len(4096)
    ///     .raw_flags(libc::MAP_SHARED)
    ///     .map_anon_dyn(Access::Copy)
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// assert!(err.to_string().contains("MAP_SHARED"));
    /// # #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    /// let map = MmapOptions::new().len(4096).raw_flags(libc::MAP_32BIT).map_anon()?;
    /// # #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    /// assert!((map.as_ptr() as u64) < 1 << 32);
    /// # Ok(()) }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    #[cfg(unix)]
    pub fn raw_flags(&mut self, flags: i32) -> &mut Self {
        self.raw_flags = flags;
        self
    }

    /// Unix only: the whole `flags` argument of mmap(2), its map type included, as code
    /// written against mmap(2) or CPython's `mmap.mmap(flags=)` gives it. Prefer the typed
    /// setters and [`raw_flags`](Self::raw_flags), which check what they are given.
    ///
    /// The map type (`MAP_SHARED`, `MAP_PRIVATE`, or Linux's `MAP_SHARED_VALIDATE`, which
    /// makes the kernel refuse flags it does not know with `EOPNOTSUPP`) replaces the sharing
    /// the access implies, within what the access promises: [`Access::Copy`] refuses a shared
    /// type ([`io::ErrorKind::InvalidInput`]), while [`Access::Write`] with `MAP_PRIVATE`
    /// gives a writable map whose stores stay in this process but whose
    /// [`resize`](crate::DynMmap::resize) still sets the file's length (CPython's
    /// `ACCESS_DEFAULT` map with `flags=MAP_PRIVATE`). The other bits reach the kernel as
    /// given, unchecked, except `MAP_FIXED`/`MAP_FIXED_NOREPLACE` (refused: a fixed address
    /// could replace live memory): `MAP_ANONYMOUS` with a file gives anonymous memory that
    /// the map still treats as the file's, as CPython's does. Combined with `raw_flags` and
    /// the typed flags by OR.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// use mmapfile::{Access, MmapOptions};
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.txt");
    /// std::fs::write(&path, b"original")?;
    /// let file = std::fs::OpenOptions::new().read(true).write(true).open(&path)?;
    /// let mut options = MmapOptions::new();
    /// options.raw_mmap_flags(libc::MAP_PRIVATE);
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let mut map = unsafe { options.map_dyn(Some(&file), Access::Write)? };
    /// map.write(b"ORIG")?;
    /// assert_eq!(std::fs::read(&path)?, b"original"); // private stores
    /// // SAFETY: as above.
    /// let err = unsafe { MmapOptions::new().raw_mmap_flags(libc::MAP_SHARED).map_copy(&file) };
    /// assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    #[cfg(unix)]
    pub fn raw_mmap_flags(&mut self, flags: i32) -> &mut Self {
        self.raw_mmap_flags = Some(flags);
        self
    }

    /// Maps the file read-only.
    ///
    /// # Safety
    /// See the crate-level contract: while the map lives, nothing may truncate the file
    /// (that is reported as an error, but bytes already borrowed read as zero) or change
    /// bytes the program holds a reference to.
    pub unsafe fn map<F: AsDesc + ?Sized>(&self, file: &F) -> io::Result<Mmap> {
        // SAFETY: forwarded contract.
        unsafe { self.map_dyn(Some(file), Access::Read) }.map(Mmap::from_dyn)
    }

    /// Maps the file write-through: stores reach the file. The file must be open for reading
    /// and writing.
    ///
    /// # Safety
    /// As for [`MmapOptions::map`].
    pub unsafe fn map_mut<F: AsDesc + ?Sized>(&self, file: &F) -> io::Result<MmapMut> {
        // SAFETY: forwarded contract.
        unsafe { self.map_dyn(Some(file), Access::Write) }.map(MmapMut::from_dyn)
    }

    /// Maps the file copy-on-write: stores stay private to this map and never reach the file.
    ///
    /// # Safety
    /// As for [`MmapOptions::map`]; pages not yet written still show changes others make.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.txt");
    /// std::fs::write(&path, b"original")?;
    /// let file = std::fs::File::open(&path)?; // read-only is enough for a private copy
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let mut map = unsafe { mmapfile::MmapOptions::new().map_copy(&file)? };
    /// map[..4].copy_from_slice(b"ORIG");
    /// assert_eq!(&map[..], b"ORIGinal");
    /// assert_eq!(std::fs::read(&path)?, b"original");
    /// # Ok(()) }
    /// ```
    pub unsafe fn map_copy<F: AsDesc + ?Sized>(&self, file: &F) -> io::Result<MmapMut> {
        // SAFETY: forwarded contract.
        unsafe { self.map_dyn(Some(file), Access::Copy) }.map(MmapMut::from_dyn)
    }

    /// Maps `len` bytes of private, zero-filled anonymous memory (none when no length was
    /// given: an empty map, as memmap2 gives).
    ///
    /// ```
    /// let mut map = mmapfile::MmapOptions::new().len(4096).map_anon()?;
    /// map[..5].copy_from_slice(b"hello");
    /// assert_eq!(map.find_in(b"llo", ..)?, Some(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map_anon(&self) -> io::Result<MmapMut> {
        self.map_anon_dyn(Access::Copy).map(MmapMut::from_dyn)
    }

    /// Maps anonymous memory with a runtime access: [`Access::Write`] gives memory shared
    /// with child processes (`MAP_SHARED`), [`Access::Copy`] private memory.
    pub fn map_anon_dyn(&self, access: Access) -> io::Result<DynMmap> {
        // SAFETY: anonymous memory has no file another process could change or truncate.
        unsafe { self.map_dyn::<std::fs::File>(None, access) }
    }

    /// Maps a file (or anonymous memory for `None`) with an access chosen at run time.
    /// This is what the typed constructors and the language bindings build on.
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions};
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.txt");
    /// std::fs::write(&path, b"read me")?;
    /// let file = std::fs::File::open(&path)?;
    /// let access = Access::Read; // e.g. from a command line flag
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let mut map = unsafe { MmapOptions::new().map_dyn(Some(&file), access)? };
    /// assert_eq!(map.read_vec(4)?, b"read");
    /// let err = map.write(b"x").unwrap_err(); // checked at run time
    /// assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    /// # Ok(()) }
    /// ```
    ///
    /// # Safety
    /// As for [`MmapOptions::map`].
    pub unsafe fn map_dyn<F: AsDesc + ?Sized>(
        &self,
        file: Option<&F>,
        access: Access,
    ) -> io::Result<DynMmap> {
        let mode = self.mode(access, file.is_none())?;
        let search_threads = self.checked_search_threads()?;
        let Some(file) = file else {
            let len = self.len.unwrap_or(0);
            #[cfg(windows)]
            if len == 0 && self.shared_name.is_some() {
                return Err(error::invalid_input(
                    "a named map needs a non-zero length (others share it at its size)".to_string(),
                ));
            }
            let inner = self.map_inner(None, 0, len, mode, false)?;
            let mut map = DynMmap::new(inner, access, Backing::Anonymous, 0);
            map.search_threads = search_threads;
            return Ok(map);
        };
        let window = self.check_window(file)?;
        // SAFETY: forwarded contract.
        unsafe { self.map_window(window, access) }
    }

    /// Checks this window (offset, length, growth) against `file` with one `fstat`, without
    /// mapping anything: what [`map_dyn`](Self::map_dyn) does first, offered on its own for
    /// faces that must word or order the refusals themselves (the Python module). A refusal
    /// carries a [`WindowError`](crate::WindowError) ([`WindowError::of`](crate::WindowError::of)); a failed `fstat` keeps its errno.
    ///
    /// ```
    /// use mmapfile::{Access, MmapOptions, WindowError};
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data.txt");
    /// std::fs::write(&path, b"0123456789")?;
    /// let file = std::fs::File::open(&path)?;
    /// let err = MmapOptions::new().offset(8).len(4).check_window(&file).unwrap_err();
    /// assert!(matches!(WindowError::of(&err), Some(WindowError::PastEnd { size: 10, .. })));
    /// let options = MmapOptions::new().offset(4).clone();
    /// let window = options.check_window(&file)?;
    /// assert_eq!(window.len(), 6);
    /// // SAFETY: nothing else changes the file while it is mapped.
    /// let map = unsafe { options.map_window(window, Access::Read)? };
    /// assert_eq!(map.as_slice(), b"456789");
    /// # Ok(()) }
    /// ```
    pub fn check_window<'fd, F: AsDesc + ?Sized>(&self, file: &'fd F) -> io::Result<Window<'fd>> {
        window::check(sys::borrow_desc(file), self.offset, self.len, self.grow)
    }

    /// Maps a window that [`check_window`](Self::check_window) accepted, with these options'
    /// protection, flags and descriptor keeping (its offset and length come from the window).
    /// The file is not looked at again: no second `fstat`.
    ///
    /// # Safety
    /// As for [`MmapOptions::map`].
    pub unsafe fn map_window(&self, window: Window<'_>, access: Access) -> io::Result<DynMmap> {
        let mode = self.mode(access, false)?;
        let search_threads = self.checked_search_threads()?;
        // SAFETY: forwarded contract.
        let mut map = unsafe { self.map_checked(window, access, mode) }?;
        map.search_threads = search_threads;
        Ok(map)
    }

    /// The protection and flags that `access` and the raw settings give, validated.
    fn mode(&self, access: Access, anonymous: bool) -> io::Result<MapMode> {
        let protection = self.protection.unwrap_or(match access {
            Access::Read => Protection::Read,
            Access::Write | Access::Copy => Protection::ReadWrite,
        });
        #[cfg(unix)]
        {
            sys::check_raw_flags(self.raw_flags, anonymous)?;
            if let Some(flags) = self.raw_mmap_flags {
                sys::check_raw_map_type(flags, access != Access::Copy)?;
            }
        }
        let mode = MapMode {
            protection,
            shared: access != Access::Copy,
            flags: self.flags,
            extra_flags: self.raw_flags | self.raw_mmap_flags.unwrap_or(0),
        };
        mode.validate(access.is_writable(), anonymous)?;
        Ok(mode)
    }

    fn checked_search_threads(&self) -> io::Result<Option<NonZeroUsize>> {
        match self.search_threads {
            None => Ok(None),
            Some(threads) => NonZeroUsize::new(threads).map(Some).ok_or_else(|| {
                error::invalid_input(
                    "search_threads(0): a search needs at least 1 thread (1 searches on the \
                     calling thread only)"
                        .to_string(),
                )
            }),
        }
    }

    /// Makes the mapping of a checked window, for [`map_window`](Self::map_window).
    ///
    /// The descriptor's open mode is not asked of the kernel beforehand: mmap(2) itself
    /// refuses a descriptor not open for reading, or a shared writable map of one not open
    /// for writing, with EACCES, and only then is the mode read, to say which. A write-through
    /// map whose raw protection or flags make it not shared-writable is checked first, since
    /// the kernel would not refuse it.
    ///
    /// # Safety
    /// As for [`MmapOptions::map`].
    unsafe fn map_checked(
        &self,
        window: Window<'_>,
        access: Access,
        mode: MapMode,
    ) -> io::Result<DynMmap> {
        let fd = window.fd;
        if !sys::MAP_REFUSES_OPEN_MODE || (access == Access::Write && !mode.is_shared_writable()) {
            let (readable, writable) = sys::desc_access(fd)?;
            access_error(readable, writable, access).map_or(Ok(()), Err)?;
        }
        let grown_from = window.grow_from;
        if grown_from.is_some() {
            sys::set_file_len(fd, window.offset + window.len as u64)?;
        }
        // A map that cannot be made leaves the file as it found it (`grow(true)`).
        let undo_growth = |err: io::Error| match grown_from {
            Some(size) => match sys::set_file_len(fd, size) {
                Ok(()) => err,
                Err(undo) => io::Error::new(
                    err.kind(),
                    format!("{err}; the file stays grown: shrinking it back failed ({undo})"),
                ),
            },
            None => err,
        };
        let inner = self
            .map_inner(Some(fd), window.offset, window.len, mode, window.regular)
            .map_err(|err| match (err.kind(), sys::desc_access(fd)) {
                (io::ErrorKind::PermissionDenied, Ok((readable, writable))) => {
                    access_error(readable, writable, access).unwrap_or(err)
                }
                _ => err,
            })
            .map_err(undo_growth)?;
        let kept = if self.keep_file {
            Some(sys::duplicate(fd).map_err(undo_growth)?)
        } else {
            None
        };
        Ok(DynMmap::new(
            inner,
            access,
            Backing::File(kept),
            window.offset,
        ))
    }

    /// Asks the OS for the mapping (under the shared name on Windows, if one was given).
    /// `regular`: the file is a regular file (the window check's `fstat` says so).
    fn map_inner(
        &self,
        fd: Option<sys::Desc<'_>>,
        offset: u64,
        len: usize,
        mode: MapMode,
        regular: bool,
    ) -> io::Result<MapInner> {
        #[cfg(windows)]
        if let Some(name) = &self.shared_name {
            let name = sys::encode_name(name)?;
            return MapInner::map_named(fd, offset, len, mode, Some(&name));
        }
        MapInner::map(fd, offset, len, mode, regular)
    }
}

/// The precise refusal for a descriptor whose open mode does not allow `access`, if it does
/// not.
fn access_error(readable: bool, writable: bool, access: Access) -> Option<io::Error> {
    if !readable {
        return Some(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is not open for reading (write-only descriptor); maps need read access",
        ));
    }
    if access == Access::Write && !writable {
        return Some(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is open read-only but a write-through map needs it open for writing",
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_map_a_whole_file_and_keep_its_descriptor() {
        let options = MmapOptions::default();
        assert_eq!(options.offset, 0);
        assert_eq!(options.len, None);
        assert!(options.flags == MapFlags::default() && !options.grow && options.keep_file);
        assert!(options.protection.is_none());
    }

    #[test]
    fn len_zero_means_to_the_end() {
        let mut options = MmapOptions::new();
        options.len(10);
        assert_eq!(options.len, Some(10));
        options.len(0);
        assert_eq!(options.len, None);
    }

    #[test]
    fn only_read_access_is_not_writable() {
        assert!(!Access::Read.is_writable());
        assert!(Access::Write.is_writable());
        assert!(Access::Copy.is_writable());
    }

    #[test]
    fn shared_anonymous_memory_starts_zeroed_when_its_memory_file_is_reused() {
        let mut options = MmapOptions::new();
        options.len(8192);
        for round in 0..3u8 {
            let mut shared = options.map_anon_dyn(Access::Write).unwrap();
            assert!(
                shared.as_slice().iter().all(|&byte| byte == 0),
                "round {round}"
            );
            shared.as_mut_slice().unwrap().fill(round + 1);
            if round == 1 {
                shared.close().unwrap();
            }
        }
    }

    #[test]
    fn anonymous_access_picks_the_sharing() {
        let mut options = MmapOptions::new();
        options.len(16);
        let mut shared = options.map_anon_dyn(Access::Write).unwrap();
        let mut private = options.map_anon_dyn(Access::Copy).unwrap();
        shared.write(b"x").unwrap();
        private.write(b"y").unwrap();
        assert!(shared.is_anonymous() && private.is_anonymous());
        assert_eq!((shared.as_slice()[0], private.as_slice()[0]), (b'x', b'y'));
    }
}
