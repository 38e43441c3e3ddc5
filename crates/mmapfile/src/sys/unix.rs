//! Unix: `mmap`, `mremap` (Linux), `msync`, `madvise`, `fstat`, `ftruncate`, `fcntl`, and the
//! signal primitives of the fault guard (`sigaction`, `raise`, the zero-page `mmap`).
//!
//! Linux is tested natively; Android, macOS and FreeBSD are compile-checked only
//! (`cargo clippy --target …`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Advice, HugePages, MapFlags, Protection};

/// The calls and types that carry file offsets and sizes, in their large-file form where
/// `off_t` may be 32 bits (32-bit glibc and Android): files and offsets past 2 GiB work there
/// too, as in CPython's `mmap`, which is built with `_FILE_OFFSET_BITS=64`. Elsewhere `off_t`
/// is 64 bits already.
#[cfg(any(target_os = "android", all(target_os = "linux", target_env = "gnu")))]
mod lfs {
    pub(super) use libc::{
        fstat64 as fstat, ftruncate64 as ftruncate, mmap64 as mmap, off64_t as off_t,
        stat64 as stat,
    };
}
#[cfg(not(any(target_os = "android", all(target_os = "linux", target_env = "gnu"))))]
mod lfs {
    pub(super) use libc::{fstat, ftruncate, mmap, off_t, stat};
}

/// The descriptor type the portable code borrows to create a file-backed mapping.
pub(crate) type Desc<'a> = BorrowedFd<'a>;
/// The owned descriptor a map keeps so it can report the file's size and resize it.
pub(crate) type OwnedDesc = OwnedFd;

/// Anything that lends a file descriptor (`File`, `BorrowedFd`, …) can be mapped.
pub trait AsDesc: AsFd {}
impl<T: AsFd> AsDesc for T {}

pub(crate) fn borrow_desc<T: AsDesc + ?Sized>(file: &T) -> Desc<'_> {
    file.as_fd()
}

/// The page size, which on Unix is also the granularity of mapping offsets.
pub(crate) fn page_size() -> usize {
    // A plain cache, not a `OnceLock`: a child forked while another thread initialised a
    // `OnceLock` would wait for that thread forever.
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions and does not touch memory we own.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = if size > 0 { size as usize } else { 4096 };
    PAGE.store(size, Ordering::Relaxed);
    size
}

/// The alignment a mapping offset must have.
pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

/// The huge page sizes the kernel offers, in bytes, ascending. Linux and Android list them
/// as the directories `hugepages-<size>kB` of `/sys/kernel/mm/hugepages`; other Unix
/// systems (macOS superpages, FreeBSD's `getpagesizes`) are not asked yet and give none.
pub(crate) fn huge_page_sizes() -> Vec<usize> {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return Vec::new();
    }
    let Ok(dir) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        // No sysfs (a container without it) or no huge page support compiled in.
        return Vec::new();
    };
    let mut sizes: Vec<usize> = dir
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let kib = name
                .to_str()?
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?;
            kib.parse::<usize>().ok()?.checked_mul(1024)
        })
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// Whether mmap(2) itself refuses a descriptor whose open mode does not allow the map
/// (EACCES: not open for reading; shared and writable but not open for writing), so that the
/// mode need only be read to explain a refusal.
pub(crate) const MAP_REFUSES_OPEN_MODE: bool = true;

/// What `fstat` tells about a descriptor, reduced to what mapping needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileInfo {
    pub size: u64,
    pub kind: FileKind,
}

/// The kinds of file a mapping cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Regular,
    Directory,
    Fifo,
    Socket,
    /// Character or block devices such as `/dev/zero`: they may be mappable but have no size.
    Device,
}

pub(crate) fn file_info(fd: Desc<'_>) -> io::Result<FileInfo> {
    let mut stat = std::mem::MaybeUninit::<lfs::stat>::uninit();
    // SAFETY: fstat writes a full `stat` into the pointer on success and we only read it then.
    let rc = unsafe { lfs::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat returned 0, so the struct is initialised.
    let stat = unsafe { stat.assume_init() };
    let kind = match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => FileKind::Regular,
        libc::S_IFDIR => FileKind::Directory,
        libc::S_IFIFO => FileKind::Fifo,
        libc::S_IFSOCK => FileKind::Socket,
        _ => FileKind::Device,
    };
    Ok(FileInfo {
        size: stat.st_size.max(0) as u64,
        kind,
    })
}

/// Whether the descriptor was opened for reading and for writing.
pub(crate) fn desc_access(fd: Desc<'_>) -> io::Result<(bool, bool)> {
    // SAFETY: F_GETFL only reads the descriptor's status flags.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(match flags & libc::O_ACCMODE {
        libc::O_RDONLY => (true, false),
        libc::O_WRONLY => (false, true),
        _ => (true, true),
    })
}

pub(crate) fn duplicate(fd: Desc<'_>) -> io::Result<OwnedDesc> {
    fd.try_clone_to_owned()
}

/// Closes a kept descriptor, reporting the error that dropping an `OwnedFd` swallows.
pub(crate) fn close_desc(fd: OwnedDesc) -> io::Result<()> {
    // SAFETY: `into_raw_fd` hands us sole ownership of the descriptor, which is closed exactly
    // once here. EINTR is not retried: on Linux the descriptor is released even then, and a
    // retry could close a descriptor another thread has just been given.
    let rc = unsafe { libc::close(fd.into_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(crate) fn set_file_len(fd: Desc<'_>, len: u64) -> io::Result<()> {
    let len = lfs::off_t::try_from(len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file length {len} does not fit in off_t"),
        )
    })?;
    loop {
        // SAFETY: ftruncate only acts on the descriptor; no memory of ours is involved.
        let rc = unsafe { lfs::ftruncate(fd.as_raw_fd(), len) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// How the portable layer asks for a mapping; translated to `prot`/`flags` here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MapMode {
    pub protection: Protection,
    /// Shared (write-through) rather than private (copy-on-write).
    pub shared: bool,
    /// The typed flags (`populate`, `locked`, `huge`, …).
    pub flags: MapFlags,
    /// Extra raw `MAP_*` flags the caller asked for (Python's `flags=`).
    pub extra_flags: i32,
}

/// Whether this system has the typed flags that are Linux's (`MAP_LOCKED`, `MAP_NORESERVE`,
/// `MAP_STACK`, `MAP_HUGETLB`, `MAP_POPULATE`).
const LINUX_FLAGS: bool = cfg!(any(target_os = "linux", target_os = "android"));

impl MapMode {
    /// Refuses raw protection and flags that would let safe code fault: a map whose access
    /// allows writing must be mapped `PROT_WRITE`, every map must be readable, and
    /// `MAP_FIXED` could replace memory the program is using. Refuses the typed flags this
    /// system lacks (`Unsupported`) and those that do not apply to a file map.
    pub(crate) fn validate(&self, writable: bool, anonymous: bool) -> io::Result<()> {
        let prot = self.prot();
        if prot & libc::PROT_READ == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("raw protection {prot:#x} lacks PROT_READ: every map must be readable"),
            ));
        }
        if writable && prot & libc::PROT_WRITE == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "raw protection {prot:#x} lacks PROT_WRITE but the access is writable \
                     (use Access::Read for a read-only protection)"
                ),
            ));
        }
        #[cfg(target_os = "linux")]
        let fixed = libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE;
        #[cfg(not(target_os = "linux"))]
        let fixed = libc::MAP_FIXED;
        if self.extra_flags & fixed != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "raw flags {:#x} contain MAP_FIXED, which could replace live memory",
                    self.extra_flags
                ),
            ));
        }
        let flags = self.flags;
        for (asked, option, flag) in [
            (flags.locked, "locked()", "MAP_LOCKED"),
            (flags.no_reserve, "no_reserve()", "MAP_NORESERVE"),
            (flags.stack, "stack()", "MAP_STACK"),
            (flags.huge.is_some(), "huge(..)", "MAP_HUGETLB"),
        ] {
            if asked && !LINUX_FLAGS {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("{option} ({flag}) is only available on Linux and Android"),
                ));
            }
        }
        if !anonymous {
            for (asked, option, why) in [
                (flags.stack, "stack()", "a thread stack is anonymous memory"),
                (
                    flags.huge.is_some(),
                    "huge(..)",
                    "a file on hugetlbfs gets huge pages without it, and Advice::HugePage \
                     asks for transparent huge pages for other files",
                ),
            ] {
                if asked {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{option} applies to anonymous maps only: {why}"),
                    ));
                }
            }
        }
        if let Some(huge) = flags.huge {
            huge_page_size(huge)?;
        }
        Ok(())
    }

    fn prot(&self) -> libc::c_int {
        match self.protection {
            Protection::Read => libc::PROT_READ,
            Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
            Protection::Raw(raw) => raw,
        }
    }

    /// Whether stores are shared, after raw `MAP_SHARED`/`MAP_PRIVATE` bits are applied.
    fn is_shared(&self) -> bool {
        let sharing = self.extra_flags & (libc::MAP_SHARED | libc::MAP_PRIVATE);
        if sharing != 0 {
            sharing & libc::MAP_SHARED != 0
        } else {
            self.shared
        }
    }

    /// Whether the map writes through to the file: then mmap(2) itself refuses (EACCES) a
    /// descriptor not open for writing, and nobody needs to ask the descriptor's mode first.
    pub(crate) fn is_shared_writable(&self) -> bool {
        self.is_shared() && self.prot() & libc::PROT_WRITE != 0
    }

    /// The `flags` argument of mmap(2).
    fn mmap_flags(&self, anonymous: bool) -> libc::c_int {
        let sharing_bits = libc::MAP_SHARED | libc::MAP_PRIVATE;
        let mut flags = if self.is_shared() {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        if anonymous {
            flags |= libc::MAP_ANONYMOUS;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let typed = self.flags;
            for (asked, flag) in [
                (typed.populate, libc::MAP_POPULATE),
                (typed.locked, libc::MAP_LOCKED),
                (typed.no_reserve, libc::MAP_NORESERVE),
                (typed.stack, libc::MAP_STACK),
                (typed.huge.is_some(), libc::MAP_HUGETLB),
            ] {
                if asked {
                    flags |= flag;
                }
            }
            if let Some(HugePages::Log2(log2)) = typed.huge {
                flags |= libc::c_int::from(log2) << libc::MAP_HUGE_SHIFT;
            }
        }
        flags | (self.extra_flags & !sharing_bits)
    }
}

/// The error of a refused `mlock` of `len` bytes. `ENOMEM` and `EPERM` are what the kernel
/// answers when the process may not lock that much (`RLIMIT_MEMLOCK`, or a limit of 0
/// without `CAP_IPC_LOCK`); when the limit explains the refusal the message says so, with
/// the numbers. The kind stays the errno's (`OutOfMemory`, `PermissionDenied`).
#[cold]
fn lock_error(err: io::Error, len: usize) -> io::Error {
    let errno = err.raw_os_error();
    let over = if errno == Some(libc::ENOMEM) || errno == Some(libc::EPERM) {
        memlock_limit_exceeded(len)
    } else {
        None
    };
    let message = match over {
        Some(why) => format!("locking {len} bytes {why} ({err})"),
        None => format!("cannot lock {len} bytes in memory: {err}"),
    };
    io::Error::new(err.kind(), message)
}

/// When locking `len` more bytes would pass the process's locked-memory limit (counting
/// what it has locked already, where the system says), why, in words, with the numbers and
/// how to raise it: "exceeds RLIMIT_MEMLOCK (…)". `None` when the limit does not explain a
/// refusal (no limit, or room left: the cause is elsewhere). The one place that reads the
/// limit, for `lock()` and for `MmapOptions::locked()`.
fn memlock_limit_exceeded(len: usize) -> Option<String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    // `rlim_t` is u64 on Linux and macOS, i64 on FreeBSD.
    #[allow(clippy::unnecessary_cast)]
    let soft = limit.rlim_cur as u64;
    let locked = locked_bytes();
    if (len as u64).saturating_add(locked.unwrap_or(0)) <= soft {
        return None;
    }
    let already = match locked {
        Some(locked) => format!("; {locked} bytes already locked by this process"),
        None => String::new(),
    };
    Some(format!(
        "exceeds RLIMIT_MEMLOCK ({soft} bytes{already}): raise the limit (ulimit -l, or \
         LimitMEMLOCK= for a systemd service) or give the process CAP_IPC_LOCK"
    ))
}

/// Bytes this process has locked (`VmLck` in `/proc/self/status`), where the system says.
fn locked_bytes() -> Option<u64> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|line| line.starts_with("VmLck:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    None
}

/// Refuses raw extra flags (`MmapOptions::raw_flags`) that the crate sets itself or that
/// contradict the access: the sharing type, anonymous memory for a file map, a fixed address,
/// huge pages (the typed `huge(..)` owns them). Each refusal names the flag.
pub(crate) fn check_raw_flags(flags: i32, anonymous: bool) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const HUGE: i32 = libc::MAP_HUGETLB | (HUGE_SIZE_MASK << libc::MAP_HUGE_SHIFT);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const HUGE: i32 = 0;
    #[cfg(target_os = "linux")]
    const FIXED_NOREPLACE: i32 = libc::MAP_FIXED_NOREPLACE;
    #[cfg(not(target_os = "linux"))]
    const FIXED_NOREPLACE: i32 = 0;
    // (bits, whether anonymous maps may give them, name, why not).
    const OWNED: [(i32, bool, &str, &str); 5] = [
        (
            libc::MAP_SHARED | libc::MAP_PRIVATE,
            false,
            "MAP_SHARED/MAP_PRIVATE/MAP_SHARED_VALIDATE",
            "the access decides the sharing (Access::Write shares, Access::Copy keeps stores \
             private); raw_mmap_flags takes a map type of its own",
        ),
        (
            libc::MAP_FIXED,
            false,
            "MAP_FIXED",
            "a fixed address could replace live memory",
        ),
        (
            FIXED_NOREPLACE,
            false,
            "MAP_FIXED_NOREPLACE",
            "the kernel chooses where a map goes",
        ),
        (
            HUGE,
            false,
            "MAP_HUGETLB (or its page size bits)",
            "use huge(..), which checks the length and explains an empty pool",
        ),
        (
            libc::MAP_ANONYMOUS,
            true,
            "MAP_ANONYMOUS",
            "it would replace the file with anonymous memory; map_anon makes anonymous maps",
        ),
    ];
    for (bits, anonymous_may, name, why) in OWNED {
        if flags & bits != 0 && !(anonymous && anonymous_may) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("raw_flags({flags:#x}): {name} is not a raw flag to give: {why}"),
            ));
        }
    }
    Ok(())
}

/// Refuses a raw map type (`MmapOptions::raw_mmap_flags`) that would share the stores of a
/// copy-on-write map: `shared_access` says the access allows a shared map.
pub(crate) fn check_raw_map_type(flags: i32, shared_access: bool) -> io::Result<()> {
    if !shared_access && flags & libc::MAP_SHARED != 0 {
        let name = if flags & libc::MAP_PRIVATE != 0 {
            "MAP_SHARED_VALIDATE"
        } else {
            "MAP_SHARED"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "raw_mmap_flags({flags:#x}): {name} would send the stores of a copy-on-write \
                 map (Access::Copy) to the file; use Access::Write for a shared map"
            ),
        ));
    }
    Ok(())
}

/// The bits above `MAP_HUGE_SHIFT` that give a huge page size (Linux's `MAP_HUGE_MASK`).
#[cfg(any(target_os = "linux", target_os = "android"))]
const HUGE_SIZE_MASK: i32 = 0x3f;

/// The size of the huge pages `huge` asks for, if this system has them.
fn huge_page_size(huge: HugePages) -> io::Result<usize> {
    let sizes = huge_page_sizes();
    let listed = || {
        sizes
            .iter()
            .map(|&size| human_size(size))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if sizes.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "huge(..): this system offers no huge pages (/sys/kernel/mm/hugepages lists none)",
        ));
    }
    match huge {
        HugePages::Log2(log2) => {
            let size = 1usize
                .checked_shl(u32::from(log2))
                .filter(|size| sizes.contains(size));
            size.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "huge(Some({log2})): this system has no huge pages of 2^{log2} bytes \
                         (it has {})",
                        listed()
                    ),
                )
            })
        }
        HugePages::Default => default_huge_page_size()
            .filter(|size| sizes.contains(size))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "huge(None): the kernel names no default huge page size (no \
                         Hugepagesize in /proc/meminfo); name one of {}",
                        listed()
                    ),
                )
            }),
    }
}

/// The kernel's default huge page size (`Hugepagesize` in `/proc/meminfo`).
fn default_huge_page_size() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo
        .lines()
        .find(|line| line.starts_with("Hugepagesize:"))?;
    let kib = line
        .trim_start_matches("Hugepagesize:")
        .trim()
        .strip_suffix("kB")?;
    kib.trim().parse::<usize>().ok()?.checked_mul(1024)
}

/// `2 MiB`, `1 GiB`, `64 KiB`: how a huge page size reads in an error message.
fn human_size(bytes: usize) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// Where a live file mapping lies, as the fault guard registers it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OsRegion {
    /// Start of the OS mapping (page aligned).
    pub start: usize,
    /// Length of the OS mapping (the slack included).
    pub os_len: usize,
    /// The first byte the user sees.
    pub user: usize,
    /// The mapping's `PROT_*` bits, which the guard's zero pages get too.
    pub prot: i32,
}

/// One live mapping: the page-aligned OS mapping plus the slack that hides the alignment.
///
/// `len == 0` is an empty mapping that owns no OS mapping (an empty file or window, anonymous
/// memory of no length, or what is left after `resize(0)`); its pointer is dangling but well
/// aligned and never dereferenced.
pub(crate) struct MapInner {
    /// Start of the OS mapping (page aligned), or dangling when empty.
    base: NonNull<u8>,
    /// Bytes between `base` and the first byte the user sees.
    slack: usize,
    /// Bytes the user sees.
    len: usize,
    anonymous: bool,
    /// A mapping of a regular file (the only kind that can shrink under the map).
    regular: bool,
    mode: MapMode,
    /// Shared anonymous memory on Linux is a `memfd`, so that it can grow and stay shared
    /// with the processes forked before (a plain shared anonymous mapping cannot grow).
    memory_file: Option<OwnedFd>,
    /// The process's fork count when the memory file was taken: if the process forked since,
    /// a child may map the memory file too, so it is closed rather than reused.
    forks_at_start: u64,
}

// SAFETY: the mapping is plain process memory owned by this value; the pointer is not tied to
// the creating thread, and munmap/mremap work from any thread. Mutation of the bytes goes
// through `&mut DynMmap` (or an `unsafe` contract upstream). See "Threads" on `DynMmap`.
unsafe impl Send for MapInner {}
// SAFETY: through `&MapInner` one can only read the memory (never write it: `ptr()` is
// written through only by holders of `&mut DynMmap`) and make thread-safe syscalls
// (msync, madvise), so sharing it between threads cannot race.
unsafe impl Sync for MapInner {}

impl MapInner {
    /// Maps `len` bytes of `fd` starting at `offset` (any offset; aligned down internally),
    /// or `len` bytes of anonymous memory when `fd` is `None`. `regular` says that `fd` is a
    /// regular file (the caller's `fstat` knows; only such a file can shrink under the map).
    pub(crate) fn map(
        fd: Option<Desc<'_>>,
        offset: u64,
        len: usize,
        mode: MapMode,
        regular: bool,
    ) -> io::Result<Self> {
        // Outside any signal handler: from here on the guard's process id is a cached read.
        fork_watch::start();
        let mut inner = Self::empty(0, fd.is_none(), mode);
        check_huge_len(mode, len)?;
        match fd {
            // Huge shared memory is a plain shared mapping: a memory file would need its own
            // huge page flags, and such memory cannot grow anyway (huge pages do not mremap).
            None if mode.is_shared() && mode.flags.huge.is_none() => {
                inner.forks_at_start = idle_memory::forks();
                inner.memory_file = memory_file(inner.forks_at_start)?;
            }
            None => {}
            Some(_) => {
                inner.slack = (offset % allocation_granularity() as u64) as usize;
                inner.regular = regular;
            }
        }
        // A memory file just made is empty: no need to ask its size.
        inner.map_fresh(fd, offset, len, Some(0))?;
        Ok(inner)
    }

    /// Replaces the mapping with a fresh one of `len` bytes (the old one is unmapped once the
    /// new one exists); on error nothing changes. Anonymous memory starts over (zeros, or the
    /// memory file's contents). `memory_size` is the memory file's size when the caller knows
    /// it (one just made), saving an `fstat`.
    fn map_fresh(
        &mut self,
        fd: Option<Desc<'_>>,
        offset: u64,
        len: usize,
        memory_size: Option<u64>,
    ) -> io::Result<()> {
        if len == 0 {
            self.unmap_now();
            self.len = 0;
            return Ok(());
        }
        let total = len
            .checked_add(self.slack)
            .filter(|&total| total <= isize::MAX as usize)
            .ok_or_else(|| too_long(len))?;
        let aligned_offset = offset - self.slack as u64;
        let raw_offset = lfs::off_t::try_from(aligned_offset).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("offset {offset} does not fit in off_t"),
            )
        })?;
        // Bytes of a memory file that a fresh mapping shows again: they read as zeros, as
        // fresh memory does.
        let mut stale = 0;
        let (raw_fd, anonymous_flag) = match (fd, &self.memory_file) {
            (Some(fd), _) => (fd.as_raw_fd(), false),
            (None, Some(memory)) => {
                stale = grow_memory_file(memory, total, memory_size)?.min(total as u64) as usize;
                (memory.as_raw_fd(), false)
            }
            (None, None) => (-1, true),
        };
        // SAFETY: we ask the kernel for a fresh mapping at an address of its choosing (no
        // MAP_FIXED), so no existing memory is replaced; the result is checked below.
        let ptr = unsafe {
            lfs::mmap(
                ptr::null_mut(),
                total,
                self.mode.prot(),
                self.mode.mmap_flags(anonymous_flag),
                raw_fd,
                if anonymous_flag { 0 } else { raw_offset },
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(explain_map_error(
                io::Error::last_os_error(),
                self.mode,
                total,
            ));
        }
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        if self.mode.flags.populate {
            // No MAP_POPULATE here: ask for the pages to be read in instead. A hint; a
            // failure leaves the mapping as usable as without it.
            // SAFETY: the whole new mapping is ours; WILLNEED does not change its contents.
            unsafe { libc::madvise(ptr, total, libc::MADV_WILLNEED) };
        }
        if stale > 0 {
            // SAFETY: `stale <= total`, inside the new writable shared mapping we own.
            unsafe { ptr::write_bytes(base.as_ptr(), 0, stale) };
        }
        self.unmap_now();
        self.base = base;
        self.len = len;
        Ok(())
    }

    fn empty(slack: usize, anonymous: bool, mode: MapMode) -> Self {
        Self {
            base: NonNull::dangling(),
            slack,
            len: 0,
            anonymous,
            regular: false,
            mode,
            memory_file: None,
            forks_at_start: 0,
        }
    }

    /// First byte the user sees.
    ///
    /// No branch for the empty map (this is on every access's path): its `base` is dangling
    /// and a wrapping add keeps the sum defined and non-null, which is all that a pointer
    /// to no bytes needs.
    #[inline]
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.base.as_ptr().wrapping_add(self.slack)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The whole OS mapping as (start, length), for registries that watch addresses.
    pub(crate) fn os_region(&self) -> Option<(usize, usize)> {
        (self.len > 0).then(|| (self.base.as_ptr() as usize, self.slack + self.len))
    }

    /// Whether stores are shared with the file (or with forked processes).
    pub(crate) fn is_shared(&self) -> bool {
        self.mode.is_shared()
    }

    /// Whether this maps a regular file (whose size bounds the bytes that exist).
    pub(crate) fn is_regular_file(&self) -> bool {
        self.regular
    }

    /// What the fault guard registers: a live mapping of a regular file, else `None`.
    pub(crate) fn guarded_region(&self) -> Option<OsRegion> {
        let (start, os_len) = self.os_region().filter(|_| self.regular)?;
        Some(OsRegion {
            start,
            os_len,
            user: start + self.slack,
            prot: self.mode.prot(),
        })
    }

    /// Page-aligned (pointer, length) covering `offset..offset + len` of the user's view.
    fn aligned_range(&self, offset: usize, len: usize) -> (*mut libc::c_void, usize) {
        let start = self.slack + offset;
        let aligned = start - start % page_size();
        // SAFETY: `aligned <= start <= slack + self.len`, inside the OS mapping.
        let ptr = unsafe { self.base.as_ptr().add(aligned) };
        (ptr.cast(), len + (start - aligned))
    }

    /// `msync` of a range of the user's view; `offset + len <= self.len` is checked upstream.
    pub(crate) fn flush(&self, offset: usize, len: usize, sync: bool) -> io::Result<()> {
        self.msync(
            offset,
            len,
            if sync { libc::MS_SYNC } else { libc::MS_ASYNC },
        )
    }

    /// `msync` with raw `MS_*` flags; an empty range still reaches the kernel (which then
    /// only checks the flags).
    pub(crate) fn msync(&self, offset: usize, len: usize, flags: i32) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let (ptr, len) = if len == 0 {
            (self.aligned_range(offset, 0).0, 0)
        } else {
            self.aligned_range(offset, len)
        };
        // SAFETY: the range lies inside our live mapping; msync does not change its contents.
        let rc = unsafe { libc::msync(ptr, len, flags) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Names the whole mapping in `/proc/<pid>/maps` (`[anon:<name>]`) with Linux's
    /// `prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME)`. `name` is checked upstream.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn set_anon_name(&self, name: &std::ffi::CStr) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let (ptr, len) = self.aligned_range(0, self.len);
        // SAFETY: the range is our live mapping and `name` a NUL-terminated string, which the
        // kernel copies; naming changes nothing else about the memory.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_VMA,
                libc::PR_SET_VMA_ANON_NAME as libc::c_ulong,
                ptr as libc::c_ulong,
                len as libc::c_ulong,
                name.as_ptr() as libc::c_ulong,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINVAL) {
            // The name was checked, so the kernel does not know the request.
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel cannot name memory maps (PR_SET_VMA_ANON_NAME needs Linux 5.17 \
                 or later built with CONFIG_ANON_VMA_NAME)",
            ));
        }
        Err(err)
    }

    /// Naming maps is Linux's alone.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn set_anon_name(&self, _name: &std::ffi::CStr) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "naming memory maps (PR_SET_VMA_ANON_NAME) is only available on Linux",
        ))
    }

    /// `madvise` of a range of the user's view; `offset + len <= self.len` is checked upstream.
    ///
    /// # Safety
    /// Some advice (`MADV_DONTNEED` on private memory, `MADV_REMOVE`, `MADV_FREE`) changes
    /// the contents; the caller must hold no reference into the range that relies on them.
    pub(crate) unsafe fn advise(&self, advice: i32, offset: usize, len: usize) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        // An empty range still goes to the kernel (at the page start, with length 0): it
        // changes nothing but refuses advice it does not know (EINVAL), as for any length.
        let (ptr, len) = if len == 0 {
            (self.aligned_range(offset, 0).0, 0)
        } else {
            self.aligned_range(offset, len)
        };
        // SAFETY: the range lies inside our live mapping; the caller upholds the content rule.
        let rc = unsafe { libc::madvise(ptr, len, advice) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Locks the pages of `offset..offset + len` of the user's view in memory (`mlock`),
    /// reading them in first; `offset + len <= self.len` is checked upstream. A refusal
    /// that the lock limit explains says so (see [`lock_error`]).
    pub(crate) fn lock(&self, offset: usize, len: usize) -> io::Result<()> {
        if self.len == 0 || len == 0 {
            return Ok(());
        }
        let (ptr, len) = self.aligned_range(offset, len);
        // SAFETY: the range lies inside our live mapping; locking changes no byte.
        if unsafe { libc::mlock(ptr, len) } == 0 {
            Ok(())
        } else {
            Err(lock_error(io::Error::last_os_error(), len))
        }
    }

    /// Unlocks the pages of `offset..offset + len` of the user's view (`munlock`); pages
    /// that were not locked are no error.
    pub(crate) fn unlock(&self, offset: usize, len: usize) -> io::Result<()> {
        if self.len == 0 || len == 0 {
            return Ok(());
        }
        let (ptr, len) = self.aligned_range(offset, len);
        // SAFETY: the range lies inside our live mapping; unlocking changes no byte.
        if unsafe { libc::munlock(ptr, len) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Adds or removes write access to the whole mapping in place (`mprotect`), keeping
    /// its other protection bits; the mode records the new protection, so later remaps
    /// and the fault guard's zero pages get it too. On error the old protection is put back
    /// (`mprotect` may have changed part of the range before failing) and the raw OS error
    /// is returned: `EACCES` when write access to a shared file mapping needs a descriptor
    /// open for writing.
    pub(crate) fn set_writable(&mut self, writable: bool) -> io::Result<()> {
        let old = self.mode.prot();
        let new = if writable {
            old | libc::PROT_WRITE
        } else {
            old & !libc::PROT_WRITE
        };
        if let Some((start, len)) = self.os_region() {
            // SAFETY: the range is our own live mapping (page-aligned start); changing its
            // protection changes no byte, and the caller holds the map by value, so no
            // borrow of it relies on the old protection.
            if unsafe { libc::mprotect(start as *mut libc::c_void, len, new) } != 0 {
                let err = io::Error::last_os_error();
                // SAFETY: as above; this restores what was there before the call.
                unsafe { libc::mprotect(start as *mut libc::c_void, len, old) };
                return Err(err);
            }
        }
        self.mode.protection = match self.mode.protection {
            Protection::Raw(_) => Protection::Raw(new),
            _ if writable => Protection::ReadWrite,
            _ => Protection::Read,
        };
        Ok(())
    }

    /// Maps the file (or memory) afresh at `new_len` bytes, dropping the old mapping: for a
    /// shared file mapping whose pages the fault guard replaced, the file is the truth and the
    /// old mapping cannot be moved (its zero pages split it). On error nothing changes.
    pub(crate) fn remap_fresh(
        &mut self,
        fd: Option<Desc<'_>>,
        offset: u64,
        new_len: usize,
    ) -> io::Result<()> {
        self.map_fresh(fd, offset, new_len, None)
    }

    /// Changes the length of the mapping to `new_len`, keeping the contents of the common
    /// prefix. The file itself must already have (or be given afterwards) the right length.
    /// Shared anonymous memory stays shared with processes forked before. On error the
    /// mapping is unchanged.
    pub(crate) fn remap(
        &mut self,
        fd: Option<Desc<'_>>,
        offset: u64,
        new_len: usize,
    ) -> io::Result<()> {
        if new_len == self.len {
            return Ok(());
        }
        check_huge_len(self.mode, new_len)?;
        if new_len == 0 || self.len == 0 {
            if self.anonymous && self.memory_file.is_none() && self.mode.is_shared() && new_len > 0
            {
                return Err(unshareable());
            }
            return self.map_fresh(fd, offset, new_len, None);
        }
        let total = new_len
            .checked_add(self.slack)
            .filter(|&total| total <= isize::MAX as usize)
            .ok_or_else(|| too_long(new_len))?;
        let old_total = self.slack + self.len;
        if new_len < self.len {
            // Shrinking: drop the whole pages past the new end in place; the mapping stays
            // where it is (and stays shared).
            let keep = total.next_multiple_of(page_size());
            let mapped = old_total.next_multiple_of(page_size());
            if keep < mapped {
                // SAFETY: `keep..mapped` is the page-aligned tail of our own live mapping;
                // no reference into it outlives this call (`&mut self`).
                let rc =
                    unsafe { libc::munmap(self.base.as_ptr().add(keep).cast(), mapped - keep) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            self.len = new_len;
            return Ok(());
        }
        // Bytes past the old end that a memory file still holds from before a shrink.
        let stale_end = match &self.memory_file {
            Some(memory) => {
                (grow_memory_file(memory, total, None)?.min(total as u64) as usize).max(old_total)
            }
            None if self.anonymous && self.mode.is_shared() => return Err(unshareable()),
            None => old_total,
        };
        // Huge pages are not moved by mremap (EINVAL): they are copied, as elsewhere.
        #[cfg(target_os = "linux")]
        if self.mode.flags.huge.is_none() {
            // SAFETY: we move our own live mapping; no reference into it outlives this call
            // because remapping needs `&mut self`.
            let ptr = unsafe {
                libc::mremap(
                    self.base.as_ptr().cast(),
                    old_total,
                    total,
                    libc::MREMAP_MAYMOVE,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            self.base = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
            // A shrink keeps the whole last page, and in private memory the bytes past the old
            // length still hold what was there before (in a memory file, up to its size):
            // zero them so that the grown part reads as zeros, as it does for a shared file
            // (ftruncate zeroes) and fresh pages.
            if !self.mode.is_shared() || self.memory_file.is_some() {
                let stale_end = stale_end
                    .max(old_total.next_multiple_of(page_size()))
                    .min(total);
                // SAFETY: `old_total..stale_end` lies inside the new mapping (`total` bytes),
                // which is writable private memory we own exclusively (`&mut self`).
                unsafe {
                    ptr::write_bytes(self.base.as_ptr().add(old_total), 0, stale_end - old_total)
                };
            }
            self.len = new_len;
            return Ok(());
        }
        {
            // No mremap (or none in `libc` for Android, or huge pages): map afresh. A shared mapping of a file or memory file sees the same
            // bytes through the new mapping; private memory is copied over.
            let mut fresh = Self::empty(self.slack, self.anonymous, self.mode);
            fresh.regular = self.regular;
            if let Some(memory) = &self.memory_file {
                fresh.memory_file = Some(memory.try_clone()?);
            }
            fresh.map_fresh(fd, offset, new_len, None)?;
            if !self.mode.is_shared() {
                // SAFETY: both mappings are live, distinct and at least `self.len` bytes long.
                unsafe { ptr::copy_nonoverlapping(self.ptr(), fresh.ptr(), self.len) };
            } else if stale_end > old_total {
                // SAFETY: inside the fresh writable mapping, which is `total` bytes long.
                unsafe {
                    ptr::write_bytes(
                        fresh.base.as_ptr().add(old_total),
                        0,
                        stale_end.min(total) - old_total,
                    )
                };
            }
            *self = fresh;
            Ok(())
        }
    }

    /// Unmaps the OS mapping, if any, leaving an empty one.
    fn unmap_now(&mut self) {
        if let Some((base, len)) = self.os_region() {
            // SAFETY: we own this mapping and nothing refers to it past this point (callers
            // hold `&mut self`). munmap fails only for invalid arguments.
            unsafe { libc::munmap(base as *mut libc::c_void, len) };
        }
        self.base = NonNull::dangling();
        self.len = 0;
    }

    /// Unmaps now, reporting the error that `Drop` would have to swallow.
    pub(crate) fn unmap(self) -> io::Result<()> {
        let mut this = std::mem::ManuallyDrop::new(self);
        // Taken out: the memory file is kept for reuse or closed once the memory is unmapped.
        let memory = this.memory_file.take();
        let Some((base, len)) = this.os_region() else {
            idle_memory::give_back(memory, this.forks_at_start);
            return Ok(());
        };
        // SAFETY: we own this mapping and `this` is never used or dropped again.
        let rc = unsafe { libc::munmap(base as *mut libc::c_void, len) };
        if rc == 0 {
            idle_memory::give_back(memory, this.forks_at_start);
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for MapInner {
    fn drop(&mut self) {
        self.unmap_now();
        idle_memory::give_back(self.memory_file.take(), self.forks_at_start);
    }
}

/// Refuses a huge page map whose length is not a whole number of its pages: the kernel would
/// round it up, and unmapping or shrinking part of a huge page fails.
fn check_huge_len(mode: MapMode, len: usize) -> io::Result<()> {
    let Some(huge) = mode.flags.huge else {
        return Ok(());
    };
    let size = huge_page_size(huge)?;
    if len % size == 0 {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "a map of {} huge pages needs a length that is a multiple of {size} bytes; \
             {len} is not (round it up to {})",
            human_size(size),
            len.div_ceil(size).saturating_mul(size)
        ),
    ))
}

/// Says why mmap(2) refused the typed flags, where its errno alone would not: no huge pages
/// in the pool (ENOMEM), or more locked memory than the limit allows (EAGAIN).
fn explain_map_error(err: io::Error, mode: MapMode, total: usize) -> io::Error {
    let errno = err.raw_os_error();
    if let (Some(libc::ENOMEM), Some(huge)) = (errno, mode.flags.huge) {
        let Ok(size) = huge_page_size(huge) else {
            return err;
        };
        let pool = format!("/sys/kernel/mm/hugepages/hugepages-{}kB", size / 1024);
        let read = |name: &str| {
            std::fs::read_to_string(format!("{pool}/{name}"))
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
        };
        let (reserved, free) = (read("nr_hugepages"), read("free_hugepages"));
        let needed = total.div_ceil(size);
        let human = human_size(size);
        let state = match (reserved, free) {
            (Some(0), _) if default_huge_page_size() == Some(size) => {
                format!("no huge pages of size {human} are reserved (vm.nr_hugepages = 0)")
            }
            (Some(0), _) => {
                format!("no huge pages of size {human} are reserved ({pool}/nr_hugepages = 0)")
            }
            (Some(reserved), Some(free)) => format!(
                "not enough huge pages of size {human} are free ({free} of {reserved} \
                 reserved; this map needs {needed})"
            ),
            _ => format!("the kernel has no {needed} huge pages of size {human} to give"),
        };
        return io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "huge(..): {state}; an administrator reserves them with `sysctl \
                 vm.nr_hugepages=N` (or {pool}/nr_hugepages), or use Advice::HugePage for \
                 transparent huge pages, which need no reservation ({err})"
            ),
        );
    }
    if let (Some(libc::EAGAIN), true) = (errno, mode.flags.locked) {
        let why = memlock_limit_exceeded(total).unwrap_or_else(|| {
            "would pass this process's locked-memory limit (RLIMIT_MEMLOCK; see `ulimit -l`)"
                .to_string()
        });
        return io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!("locked(): locking {total} bytes {why} ({err})"),
        );
    }
    err
}

/// The error for growing shared anonymous memory where it cannot stay shared.
fn unshareable() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "shared anonymous memory cannot grow on this system without ceasing to be shared \
         with the processes forked from this one (shrinking works)",
    )
}

/// A memory file for shared anonymous memory where the OS has one (Linux `memfd`): an idle
/// one if there is one, else a new one. Either is empty.
fn memory_file(forks: u64) -> io::Result<Option<OwnedFd>> {
    #[cfg(target_os = "linux")]
    {
        if let Some(idle) = idle_memory::take(forks) {
            return Ok(Some(idle));
        }
        // SAFETY: the name is a NUL-terminated string; the result is a new descriptor or -1.
        let fd = unsafe { libc::memfd_create(c"mmapfile-anonymous".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            let err = io::Error::last_os_error();
            // Kernels before 3.17 (or sandboxes) lack memfd, and a process may be out of
            // descriptors: plain shared memory then, which can shrink but not grow.
            return match err.raw_os_error() {
                Some(libc::ENOSYS | libc::EPERM | libc::EMFILE | libc::ENFILE) => Ok(None),
                _ => Err(err),
            };
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(Some(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = forks; // no memory files to reuse here
        Ok(None)
    }
}

/// One idle memory file, kept for the next shared anonymous map: making a memfd and closing
/// it cost more than the mapping itself (a plain shared anonymous mapping makes a memory file
/// too, inside the kernel). A memory file is reused only when nothing else can see it: its
/// only mapping is gone and the process has not forked since it was taken (a child forked
/// meanwhile shares its mapping and its descriptor). It is emptied (`ftruncate` to 0) before
/// it waits, so the next map starts from zeros. Forks are counted by a `pthread_atfork`
/// handler, so a process forked by a raw `clone` system call, bypassing the C library, must
/// not map shared anonymous memory and keep it across the fork.
mod idle_memory {
    use std::os::fd::{AsFd, OwnedFd};
    use std::sync::Mutex;

    /// The idle memory file and the fork count when it was emptied.
    static IDLE: Mutex<Option<(OwnedFd, u64)>> = Mutex::new(None);

    /// How many times the process has forked (through the C library) since the count
    /// started, or [`super::fork_watch::UNKNOWN`] while it has not (nothing is reused then).
    pub(super) fn forks() -> u64 {
        super::fork_watch::forks()
    }

    /// The idle memory file, if one was emptied since the last fork. `try_lock`: a child
    /// forked while another thread held the lock must not wait for it forever.
    #[cfg(target_os = "linux")]
    pub(super) fn take(forks: u64) -> Option<OwnedFd> {
        if forks == super::fork_watch::UNKNOWN {
            return None;
        }
        let mut idle = IDLE.try_lock().ok()?;
        match idle.take() {
            Some((fd, emptied_at)) if emptied_at == forks => Some(fd),
            _ => None,
        }
    }

    /// Keeps `memory`, whose mapping is gone, for the next map if no fork happened since it
    /// was taken; else (or when one is kept already) closes it.
    pub(super) fn give_back(memory: Option<OwnedFd>, forks_at_start: u64) {
        let Some(memory) = memory else { return };
        // Read after the munmap: a fork counted later happened after it, and the child
        // has no mapping of this file.
        let now = forks();
        if now == super::fork_watch::UNKNOWN
            || now != forks_at_start
            || super::set_file_len(memory.as_fd(), 0).is_err()
        {
            return;
        }
        if let Ok(mut idle) = IDLE.try_lock() {
            // One from before a fork is replaced (and closed).
            if idle
                .as_ref()
                .is_none_or(|&(_, emptied_at)| emptied_at != now)
            {
                *idle = Some((memory, now));
            }
        }
    }
}

/// Makes a memory file at least `len` bytes long and returns its size before (`known_size`
/// when the caller knows it, else asked with `fstat`: forked processes may have grown it). It
/// never shrinks: processes forked before a shrink still use its pages.
fn grow_memory_file(memory: &OwnedFd, len: usize, known_size: Option<u64>) -> io::Result<u64> {
    let size = match known_size {
        Some(size) => size,
        None => file_info(memory.as_fd())?.size,
    };
    if (len as u64) > size {
        set_file_len(memory.as_fd(), len as u64)?;
    }
    Ok(size)
}

// ----- signal primitives of the fault guard (its policy lives in guard.rs) -----

/// Whether the fault guard works on this system: Linux and Android (tested on Linux),
/// macOS and FreeBSD (compile-checked only).
pub(crate) const FAULT_GUARD_SUPPORTED: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "freebsd"
));

/// The signals a vanished page of a mapped file raises: `SIGBUS` (Linux, Android, macOS);
/// FreeBSD raises `SIGBUS` or `SIGSEGV` depending on `machdep.prot_fault_translation`.
#[cfg(not(target_os = "freebsd"))]
pub(crate) const FAULT_SIGNALS: [libc::c_int; 1] = [libc::SIGBUS];
#[cfg(target_os = "freebsd")]
pub(crate) const FAULT_SIGNALS: [libc::c_int; 2] = [libc::SIGBUS, libc::SIGSEGV];

/// A `SA_SIGINFO` signal handler.
pub(crate) type SignalHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// A signal disposition as `sigaction` reports it: default, ignore or a handler with its
/// mask and flags.
#[derive(Clone, Copy)]
pub(crate) struct Disposition(libc::sigaction);

/// What a disposition does with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DispositionKind {
    Default,
    Ignore,
    Handler,
}

impl Disposition {
    /// `SIG_DFL`.
    pub(crate) fn default_action() -> Self {
        // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask and no flags.
        Self(unsafe { std::mem::zeroed() })
    }

    pub(crate) fn kind(&self) -> DispositionKind {
        match self.0.sa_sigaction {
            libc::SIG_DFL => DispositionKind::Default,
            libc::SIG_IGN => DispositionKind::Ignore,
            _ => DispositionKind::Handler,
        }
    }

    /// Whether this disposition is `handler`.
    pub(crate) fn is(&self, handler: SignalHandler) -> bool {
        self.0.sa_sigaction == handler as usize
    }

    /// Whether the kernel would reset the disposition to the default on delivery.
    pub(crate) fn resets_on_delivery(&self) -> bool {
        self.0.sa_flags & libc::SA_RESETHAND != 0
    }

    /// Calls the handler as the kernel would deliver `sig` to it: with its `sa_mask` (and
    /// `sig` itself unless `SA_NODEFER`) blocked while it runs, with the `siginfo` and
    /// context for a `SA_SIGINFO` handler or the signal number alone for a plain one. A
    /// signal it raises while blocked is delivered when the mask is restored, before this
    /// returns. Does nothing for `SIG_DFL` and `SIG_IGN`. Async-signal-safe.
    ///
    /// # Safety
    /// Call only from a signal handler for `sig`, with its own `info` and `ctx`.
    pub(crate) unsafe fn call(
        &self,
        sig: libc::c_int,
        info: *mut libc::siginfo_t,
        ctx: *mut libc::c_void,
    ) {
        if self.kind() != DispositionKind::Handler {
            return;
        }
        let mut mask = self.0.sa_mask;
        let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `mask` is a valid set copied from the disposition; `old` receives the
        // current mask, restored below. pthread_sigmask is async-signal-safe.
        let masked = unsafe {
            if self.0.sa_flags & libc::SA_NODEFER == 0 {
                libc::sigaddset(&mut mask, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &mask, old.as_mut_ptr()) == 0
        };
        let handler = self.0.sa_sigaction;
        if self.0.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: installed with SA_SIGINFO, so it takes these three arguments, which
            // are the kernel's, unchanged.
            let f: SignalHandler = unsafe { std::mem::transmute::<usize, SignalHandler>(handler) };
            f(sig, info, ctx);
        } else {
            // SAFETY: a handler installed without SA_SIGINFO takes the signal number.
            let f: extern "C" fn(libc::c_int) =
                unsafe { std::mem::transmute::<usize, extern "C" fn(libc::c_int)>(handler) };
            f(sig);
        }
        if masked {
            // SAFETY: restores the mask saved above.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), ptr::null_mut()) };
        }
    }
}

/// Installs `handler` for `sig` (`SA_SIGINFO | SA_ONSTACK | SA_NODEFER`, empty mask) and
/// returns the disposition it replaced, in one `sigaction` call, so no handler installed
/// concurrently is lost.
pub(crate) fn install_handler(sig: libc::c_int, handler: SignalHandler) -> io::Result<Disposition> {
    let mut action = Disposition::default_action().0;
    action.sa_sigaction = handler as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
    let mut previous = Disposition::default_action().0;
    // SAFETY: both pointers are valid sigaction structs; the handler is async-signal-safe
    // (the caller's promise).
    let rc = unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, &mut previous)
    };
    if rc == 0 {
        Ok(Disposition(previous))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The disposition of `sig` now. Async-signal-safe.
pub(crate) fn current_disposition(sig: libc::c_int) -> Option<Disposition> {
    let mut current = Disposition::default_action().0;
    // SAFETY: a null new action only reads the current one into a valid struct.
    let rc = unsafe { libc::sigaction(sig, ptr::null(), &mut current) };
    (rc == 0).then_some(Disposition(current))
}

/// Puts back the default action of `sig`. Async-signal-safe.
pub(crate) fn reset_to_default(sig: libc::c_int) {
    let action = Disposition::default_action().0;
    // SAFETY: installs SIG_DFL from a valid struct.
    unsafe { libc::sigaction(sig, &action, ptr::null_mut()) };
}

/// Sends `sig` to the calling thread. Async-signal-safe.
pub(crate) fn raise_signal(sig: libc::c_int) {
    // SAFETY: raise has no memory preconditions.
    unsafe { libc::raise(sig) };
}

/// Blocks the fault signals on this thread while a disposition is swapped, so that a sent
/// signal cannot reach the handler before its bookkeeping is complete; the mask comes back
/// when the returned value drops. (A fault of this thread meanwhile is impossible: it
/// touches no mapped memory while blocked.)
pub(crate) struct FaultSignalsBlocked(libc::sigset_t);

impl FaultSignalsBlocked {
    pub(crate) fn new() -> Self {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises `set`; pthread_sigmask fills `old`.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            for sig in FAULT_SIGNALS {
                libc::sigaddset(set.as_mut_ptr(), sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), old.as_mut_ptr());
            Self(old.assume_init())
        }
    }
}

impl Drop for FaultSignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, ptr::null_mut()) };
    }
}

/// What a handler needs to know about a signal it received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignalInfo {
    /// Raised by the kernel for a fault (not sent by a process).
    pub kernel_fault: bool,
    /// Raised by the kernel for a memory access at `addr` that the file no longer backs
    /// (Linux: `BUS_ADRERR`; macOS and FreeBSD: any kernel-generated code).
    pub vanished_page_fault: bool,
    /// Sent (`kill`, `raise`, `pthread_kill`) by this very process, e.g. a handler that
    /// re-raises a fault after restoring the previous disposition.
    pub self_sent: bool,
    /// The faulting address of a kernel fault.
    pub addr: usize,
}

/// Decodes a handler's `siginfo`. Async-signal-safe.
///
/// # Safety
/// `info` is null or the `siginfo` the kernel passed to a `SA_SIGINFO` handler.
pub(crate) unsafe fn signal_info(sig: libc::c_int, info: *const libc::siginfo_t) -> SignalInfo {
    // SAFETY: the caller's promise.
    let Some(info) = (unsafe { info.as_ref() }) else {
        return SignalInfo {
            kernel_fault: false,
            vanished_page_fault: false,
            self_sent: false,
            addr: 0,
        };
    };
    let code = info.si_code;
    // Kernel fault codes are small and positive everywhere; the codes of sent signals are
    // <= 0 (Linux) or >= 0x10001 (BSD, macOS); Linux's SI_KERNEL is 0x80.
    let kernel = code > 0 && code < 0x80;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let vanished = kernel && sig == libc::SIGBUS && code == libc::BUS_ADRERR;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let vanished = kernel && FAULT_SIGNALS.contains(&sig);
    // SAFETY: si_addr is meaningful for a kernel fault, si_pid for a sent signal; both
    // are plain reads of the struct the kernel filled.
    let (addr, pid) = unsafe { (info.si_addr() as usize, info.si_pid()) };
    // SAFETY: getpid has no preconditions and is async-signal-safe.
    let self_sent = !kernel && pid == unsafe { libc::getpid() };
    SignalInfo {
        kernel_fault: kernel,
        vanished_page_fault: vanished,
        self_sent,
        addr: if kernel { addr } else { 0 },
    }
}

/// Maps zero-filled pages over `addr..addr + len` (page aligned) with protection `prot`,
/// replacing what was there. Async-signal-safe. False if the OS refused (e.g. the
/// process is at its limit of mappings).
///
/// # Safety
/// The range must belong to a mapping the caller owns and whose contents it may replace.
pub(crate) unsafe fn map_zero_pages(addr: usize, len: usize, prot: i32) -> bool {
    // SAFETY: the caller owns the range; MAP_FIXED replaces exactly it.
    let ptr = unsafe {
        libc::mmap(
            addr as *mut libc::c_void,
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    ptr != libc::MAP_FAILED
}

/// Reserves one mapping of the process's mapping budget (Linux's `vm.max_map_count`): a
/// one-page inaccessible mapping that never merges with a neighbour (its own shared memory
/// object), to be given back with [`release_spare_mapping`] when a repair needs room.
pub(crate) fn reserve_spare_mapping() -> Option<usize> {
    // SAFETY: a fresh mapping at an address of the kernel's choosing.
    let ptr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            page_size(),
            libc::PROT_NONE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    (ptr != libc::MAP_FAILED).then_some(ptr as usize)
}

/// Unmaps a spare from [`reserve_spare_mapping`]. Async-signal-safe.
///
/// # Safety
/// `addr` came from `reserve_spare_mapping` and is released once.
pub(crate) unsafe fn release_spare_mapping(addr: usize) {
    // SAFETY: the caller's promise: our own one-page spare.
    unsafe { libc::munmap(addr as *mut libc::c_void, page_size()) };
}

/// The size of the file open as `fd`, read with `fstat`. Async-signal-safe.
pub(crate) fn raw_file_size(fd: RawFd) -> Option<u64> {
    let mut stat = std::mem::MaybeUninit::<lfs::stat>::uninit();
    // SAFETY: fstat fills the struct on success only, and we read it only then.
    unsafe {
        (lfs::fstat(fd, stat.as_mut_ptr()) == 0).then(|| stat.assume_init().st_size.max(0) as u64)
    }
}

/// The id of the calling process (a child of `fork()` has its own). Async-signal-safe.
/// Cached once the fork watch runs (every map registration asks, and `getpid` is a system
/// call); the watch's child handler refreshes it in a child of `fork()`.
pub(crate) fn process_id() -> i64 {
    fork_watch::process_id()
}

/// Forks seen through the C library (`pthread_atfork`): a count, and this process's id.
///
/// The handlers are registered by the first caller without a `Once` or a lock: a child
/// forked while another thread registers must never wait for that thread, which it does not
/// have. Until the registration is complete, callers get [`UNKNOWN`] and an uncached id, so
/// nothing relies on a count a fork could have skipped. A process forked by a raw `clone`
/// system call, bypassing the C library, is not seen.
mod fork_watch {
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

    /// What [`forks`] says before the handlers are registered.
    pub(super) const UNKNOWN: u64 = u64::MAX;

    static CLAIMED: AtomicBool = AtomicBool::new(false);
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    static FORKS: AtomicU64 = AtomicU64::new(0);
    /// This process's id once the handlers are registered, else 0.
    static PID: AtomicI64 = AtomicI64::new(0);

    extern "C" fn before_fork() {
        FORKS.fetch_add(1, Ordering::SeqCst);
    }

    extern "C" fn in_child() {
        // SAFETY: getpid has no preconditions (and is async-signal-safe, as a child handler
        // of a fork from a multi-threaded process must be).
        PID.store(i64::from(unsafe { libc::getpid() }), Ordering::SeqCst);
    }

    fn registered() -> bool {
        if REGISTERED.load(Ordering::Acquire) {
            return true;
        }
        if !CLAIMED.swap(true, Ordering::AcqRel) {
            // SAFETY: both handlers only touch atomics and call getpid; the library is
            // never unloaded while the process runs.
            if unsafe { libc::pthread_atfork(Some(before_fork), None, Some(in_child)) } == 0 {
                // SAFETY: as in `in_child`.
                PID.store(i64::from(unsafe { libc::getpid() }), Ordering::SeqCst);
                REGISTERED.store(true, Ordering::Release);
                return true;
            }
        }
        false
    }

    pub(super) fn forks() -> u64 {
        if registered() {
            FORKS.load(Ordering::SeqCst)
        } else {
            UNKNOWN
        }
    }

    pub(super) fn process_id() -> i64 {
        // The signal handler asks too: there only atomics are read (it never registers).
        let cached = PID.load(Ordering::SeqCst);
        if cached != 0 {
            return cached;
        }
        // SAFETY: getpid has no preconditions.
        i64::from(unsafe { libc::getpid() })
    }

    /// Registers the handlers (outside the signal handler) so later ids come from the cache.
    pub(super) fn start() {
        registered();
    }
}

/// An identifier of the calling thread. Async-signal-safe.
pub(crate) fn thread_id() -> usize {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as usize }
}

/// The calling thread's `errno` slot, which a signal handler must leave as it found it.
fn errno_slot() -> *mut libc::c_int {
    // SAFETY: each returns this thread's errno location.
    unsafe {
        #[cfg(any(target_os = "linux", target_os = "hurd"))]
        return libc::__errno_location();
        #[cfg(target_os = "android")]
        return libc::__errno();
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
        return libc::__error();
        #[cfg(not(any(
            target_os = "linux",
            target_os = "hurd",
            target_os = "android",
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd"
        )))]
        return ptr::null_mut();
    }
}

/// Saves `errno` now and puts it back when dropped.
pub(crate) struct ErrnoSaved(libc::c_int);

impl ErrnoSaved {
    pub(crate) fn new() -> Self {
        let slot = errno_slot();
        // SAFETY: the slot is this thread's errno, or null where unknown.
        Self(if slot.is_null() { 0 } else { unsafe { *slot } })
    }
}

impl Drop for ErrnoSaved {
    fn drop(&mut self) {
        let slot = errno_slot();
        if !slot.is_null() {
            // SAFETY: as in `new`.
            unsafe { *slot = self.0 };
        }
    }
}

fn too_long(len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "map length {len} is too long: a map holds at most {} bytes (isize::MAX)",
            isize::MAX
        ),
    )
}

/// madvise values for [`Advice`].
pub(crate) fn advice_value(advice: Advice) -> i32 {
    match advice {
        Advice::Normal => libc::MADV_NORMAL,
        Advice::Random => libc::MADV_RANDOM,
        Advice::Sequential => libc::MADV_SEQUENTIAL,
        Advice::WillNeed => libc::MADV_WILLNEED,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Advice::HugePage => libc::MADV_HUGEPAGE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Advice::NoHugePage => libc::MADV_NOHUGEPAGE,
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        Advice::HugePage | Advice::NoHugePage => libc::MADV_NORMAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(protection: Protection, shared: bool, extra_flags: i32) -> MapMode {
        MapMode {
            protection,
            shared,
            flags: MapFlags::default(),
            extra_flags,
        }
    }

    #[test]
    fn refusals_of_the_typed_flags_are_explained() {
        let mut locked = mode(Protection::ReadWrite, false, 0);
        locked.flags.locked = true;
        let err = explain_map_error(io::Error::from_raw_os_error(libc::EAGAIN), locked, 8192);
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let text = err.to_string();
        assert!(text.contains("locked(): locking 8192 bytes") && text.contains("RLIMIT_MEMLOCK"));
        // Other errors, and errors of maps without the flags, keep their errno.
        let plain = mode(Protection::ReadWrite, false, 0);
        let err = explain_map_error(io::Error::from_raw_os_error(libc::EAGAIN), plain, 8192);
        assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
        let err = explain_map_error(io::Error::from_raw_os_error(libc::EINVAL), locked, 8192);
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        let mut huge = plain;
        huge.flags.huge = Some(HugePages::Default);
        let err = explain_map_error(io::Error::from_raw_os_error(libc::ENOMEM), huge, 2 << 20);
        if huge_page_size(HugePages::Default).is_ok() {
            assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
            assert!(err.to_string().contains("huge(..)"), "{err}");
            assert!(err.to_string().contains("nr_hugepages"), "{err}");
        } else {
            assert_eq!(err.raw_os_error(), Some(libc::ENOMEM));
        }
    }

    #[test]
    fn huge_page_sizes_read_as_binary_units() {
        assert_eq!(human_size(2 << 20), "2 MiB");
        assert_eq!(human_size(1 << 30), "1 GiB");
        assert_eq!(human_size(64 << 10), "64 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }

    #[test]
    fn the_page_size_is_a_power_of_two() {
        assert!(page_size().is_power_of_two());
        assert_eq!(allocation_granularity() % page_size(), 0);
    }

    #[test]
    fn raw_sharing_bits_replace_the_access_sharing() {
        let private = mode(Protection::ReadWrite, true, libc::MAP_PRIVATE);
        assert!(!private.is_shared());
        assert_eq!(private.mmap_flags(false) & libc::MAP_SHARED, 0);
        let shared = mode(Protection::ReadWrite, false, libc::MAP_SHARED);
        assert!(shared.is_shared());
        let anon = mode(Protection::Read, false, 0);
        assert_ne!(anon.mmap_flags(true) & libc::MAP_ANONYMOUS, 0);
        assert_ne!(anon.mmap_flags(true) & libc::MAP_PRIVATE, 0);
    }

    #[test]
    fn validation_refuses_protections_that_would_fault() {
        let read_only = mode(Protection::Raw(libc::PROT_READ), false, 0);
        assert!(read_only.validate(false, true).is_ok());
        assert!(read_only.validate(true, true).is_err());
        assert!(mode(Protection::Raw(libc::PROT_NONE), false, 0)
            .validate(false, true)
            .is_err());
        assert!(mode(Protection::ReadWrite, false, libc::MAP_FIXED)
            .validate(true, true)
            .is_err());
        assert!(mode(Protection::ReadWrite, true, 0)
            .validate(true, true)
            .is_ok());
    }

    #[test]
    fn an_unaligned_offset_is_hidden_as_slack() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..3 * page_size()).map(|i| i as u8).collect();
        std::io::Write::write_all(&mut file, &data).unwrap();
        let offset = page_size() as u64 + 5;
        let inner = MapInner::map(
            Some(file.as_fd()),
            offset,
            10,
            mode(Protection::Read, true, 0),
            true,
        )
        .unwrap();
        assert_eq!(inner.slack, 5);
        assert_eq!(inner.len(), 10);
        let (start, len) = inner.os_region().unwrap();
        assert_eq!(start % page_size(), 0);
        assert_eq!(len, 15);
        // SAFETY: the mapping is live and `len()` bytes long.
        let seen = unsafe { std::slice::from_raw_parts(inner.ptr(), inner.len()) };
        assert_eq!(seen, &data[page_size() + 5..page_size() + 15]);
        let (ptr, span) = inner.aligned_range(3, 4);
        assert_eq!(ptr as usize, start);
        assert_eq!(span, 5 + 3 + 4);
        inner.unmap().unwrap();
    }

    #[test]
    fn an_empty_mapping_owns_nothing() {
        let inner =
            MapInner::map(None, 0, 0, mode(Protection::ReadWrite, false, 0), false).unwrap();
        assert_eq!(inner.len(), 0);
        assert!(inner.os_region().is_none());
        assert!(!inner.ptr().is_null());
        inner.flush(0, 0, true).unwrap();
        inner.unmap().unwrap();
    }

    #[test]
    fn growing_private_memory_after_a_shrink_reads_zeros() {
        let mut inner =
            MapInner::map(None, 0, 100, mode(Protection::ReadWrite, false, 0), false).unwrap();
        // SAFETY: the mapping is live, writable and 100 bytes long.
        unsafe { ptr::write_bytes(inner.ptr(), b'x', 100) };
        inner.remap(None, 0, 10).unwrap();
        inner.remap(None, 0, 2 * page_size()).unwrap();
        // SAFETY: the mapping is live and `len()` bytes long.
        let seen = unsafe { std::slice::from_raw_parts(inner.ptr(), inner.len()) };
        assert!(seen[..10].iter().all(|&b| b == b'x'));
        assert!(seen[10..].iter().all(|&b| b == 0));
    }

    #[test]
    fn close_desc_reports_success() {
        let file = tempfile::tempfile().unwrap();
        close_desc(duplicate(file.as_fd()).unwrap()).unwrap();
    }
}
