//! Unix: `mmap`, `mremap` (Linux), `msync`, `madvise`, `fstat`, `ftruncate`, `fcntl`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

use crate::options::Protection;

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
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions and does not touch memory we own.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if size > 0 {
            size as usize
        } else {
            4096
        }
    })
}

/// The alignment a mapping offset must have.
pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

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
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a full `stat` into the pointer on success and we only read it then.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) };
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
    let len = libc::off_t::try_from(len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file length {len} does not fit in off_t"),
        )
    })?;
    loop {
        // SAFETY: ftruncate only acts on the descriptor; no memory of ours is involved.
        let rc = unsafe { libc::ftruncate(fd.as_raw_fd(), len) };
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
    pub populate: bool,
    /// Extra raw `MAP_*` flags the caller asked for (Python's `flags=`).
    pub extra_flags: i32,
}

impl MapMode {
    /// Refuses raw protection and flags that would let safe code fault: a map whose access
    /// allows writing must be mapped `PROT_WRITE`, every map must be readable, and
    /// `MAP_FIXED` could replace memory the program is using.
    pub(crate) fn validate(&self, writable: bool) -> io::Result<()> {
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

    fn flags(&self, anonymous: bool) -> libc::c_int {
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
        if self.populate {
            flags |= libc::MAP_POPULATE;
        }
        flags | (self.extra_flags & !sharing_bits)
    }
}

/// One live mapping: the page-aligned OS mapping plus the slack that hides the alignment.
///
/// `len == 0` is an empty mapping that owns no OS resources (what is left after
/// `resize(0)`); its pointer is dangling but well aligned and never dereferenced.
pub(crate) struct MapInner {
    /// Start of the OS mapping (page aligned), or dangling when empty.
    base: NonNull<u8>,
    /// Bytes between `base` and the first byte the user sees.
    slack: usize,
    /// Bytes the user sees.
    len: usize,
    anonymous: bool,
    mode: MapMode,
    /// The fault guard's registration of file mappings (inert for anonymous memory).
    guard: crate::guard::Watch,
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
    /// or `len` bytes of anonymous memory when `fd` is `None`.
    pub(crate) fn map(
        fd: Option<Desc<'_>>,
        offset: u64,
        len: usize,
        mode: MapMode,
    ) -> io::Result<Self> {
        let slack = if fd.is_some() {
            (offset % allocation_granularity() as u64) as usize
        } else {
            0
        };
        if len == 0 {
            return Ok(Self::empty(slack, fd.is_none(), mode));
        }
        let total = len
            .checked_add(slack)
            .filter(|&total| total <= isize::MAX as usize)
            .ok_or_else(|| too_long(len))?;
        let aligned_offset = offset - slack as u64;
        let raw_offset = libc::off_t::try_from(aligned_offset).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("offset {offset} does not fit in off_t"),
            )
        })?;
        let raw_fd = fd.map_or(-1, |fd| fd.as_raw_fd());
        // SAFETY: we ask the kernel for a fresh mapping at an address of its choosing (no
        // MAP_FIXED), so no existing memory is replaced; the result is checked below.
        let ptr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                total,
                mode.prot(),
                mode.flags(fd.is_none()),
                raw_fd,
                raw_offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        // Only regular files can shrink under a map; anonymous memory and devices need no
        // guard (and a device's size of 0 says nothing about what is mapped).
        let regular = match fd {
            Some(fd) => file_info(fd).is_ok_and(|info| info.kind == FileKind::Regular),
            None => false,
        };
        let guard = if regular {
            let start = base.as_ptr() as usize;
            crate::guard::Watch::register(start, total, start + slack, mode.prot())
        } else {
            crate::guard::Watch::none()
        };
        Ok(Self {
            base,
            slack,
            len,
            anonymous: fd.is_none(),
            mode,
            guard,
        })
    }

    fn empty(slack: usize, anonymous: bool, mode: MapMode) -> Self {
        Self {
            base: NonNull::dangling(),
            slack,
            len: 0,
            anonymous,
            mode,
            guard: crate::guard::Watch::none(),
        }
    }

    /// First byte the user sees.
    pub(crate) fn ptr(&self) -> *mut u8 {
        if self.len == 0 {
            return NonNull::dangling().as_ptr();
        }
        // SAFETY: `slack` is within the OS mapping, which is `slack + len` bytes long.
        unsafe { self.base.as_ptr().add(self.slack) }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The fault guard's view of this mapping.
    pub(crate) fn guard(&self) -> &crate::guard::Watch {
        &self.guard
    }

    /// The whole OS mapping as (start, length), for registries that watch addresses.
    pub(crate) fn os_region(&self) -> Option<(usize, usize)> {
        (self.len > 0).then(|| (self.base.as_ptr() as usize, self.slack + self.len))
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

    /// Changes the length of the mapping to `new_len`, keeping the contents of the common
    /// prefix. The file itself must already have (or be given afterwards) the right length.
    /// On error the mapping is unchanged.
    pub(crate) fn remap(
        &mut self,
        fd: Option<Desc<'_>>,
        offset: u64,
        new_len: usize,
    ) -> io::Result<()> {
        if new_len == self.len {
            return Ok(());
        }
        if new_len == 0 {
            *self = Self::empty(self.slack, self.anonymous, self.mode);
            return Ok(());
        }
        if self.len == 0 {
            *self = Self::map(fd, offset, new_len, self.mode)?;
            return Ok(());
        }
        // A shared anonymous mapping is backed by a fixed-size shmem object: growing it in
        // place leaves pages that SIGBUS when touched, so copy into a fresh one instead.
        // Without mremap, anonymous memory has nowhere else to keep its contents either.
        let in_place = !self.anonymous
            || (!self.mode.is_shared() && cfg!(any(target_os = "linux", target_os = "android")));
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if in_place {
            let total = new_len
                .checked_add(self.slack)
                .filter(|&total| total <= isize::MAX as usize)
                .ok_or_else(|| too_long(new_len))?;
            // The old addresses stop being ours the moment mremap returns: take them out of
            // the guard's registry first (nothing reads the map meanwhile: we hold `&mut`).
            self.guard.pause();
            // SAFETY: we move our own live mapping; no reference into it outlives this call
            // because remapping needs `&mut self`.
            let ptr = unsafe {
                libc::mremap(
                    self.base.as_ptr().cast(),
                    self.slack + self.len,
                    total,
                    libc::MREMAP_MAYMOVE,
                )
            };
            if ptr == libc::MAP_FAILED {
                let err = io::Error::last_os_error();
                let start = self.base.as_ptr() as usize;
                let old_total = self.slack + self.len;
                self.guard
                    .moved(start, old_total, start + self.slack, self.len);
                return Err(err);
            }
            self.base = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
            // A shrink keeps the whole last page, and in private memory the bytes past the old
            // length still hold what was there before: zero them so that the grown part reads
            // as zeros, as it does for a shared file (ftruncate zeroes) and fresh pages.
            let old_end = self.slack + self.len;
            if new_len > self.len && !self.mode.is_shared() {
                let stale_end = old_end.next_multiple_of(page_size()).min(total);
                // SAFETY: `old_end..stale_end` lies inside the new mapping (`total` bytes),
                // which is writable private memory we own exclusively (`&mut self`).
                unsafe {
                    ptr::write_bytes(self.base.as_ptr().add(old_end), 0, stale_end - old_end)
                };
            }
            self.len = new_len;
            let start = self.base.as_ptr() as usize;
            self.guard.moved(start, total, start + self.slack, new_len);
            return Ok(());
        }
        let fresh = if in_place {
            Self::map(fd, offset, new_len, self.mode)?
        } else {
            let fresh = Self::map(None, 0, new_len, self.mode)?;
            let common = new_len.min(self.len);
            // SAFETY: both mappings are live, distinct and at least `common` bytes long.
            unsafe { ptr::copy_nonoverlapping(self.ptr(), fresh.ptr(), common) };
            fresh
        };
        *self = fresh;
        Ok(())
    }
}

impl MapInner {
    /// Unmaps now, reporting the error that `Drop` would have to swallow.
    pub(crate) fn unmap(self) -> io::Result<()> {
        let mut this = std::mem::ManuallyDrop::new(self);
        // Out of the guard's registry before the address range can be reused.
        this.guard.release();
        let Some((base, len)) = this.os_region() else {
            return Ok(());
        };
        // SAFETY: we own this mapping and `this` is never used or dropped again.
        let rc = unsafe { libc::munmap(base as *mut libc::c_void, len) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for MapInner {
    fn drop(&mut self) {
        // Out of the guard's registry before the address range can be reused.
        self.guard.release();
        if let Some((base, len)) = self.os_region() {
            // SAFETY: we own this mapping and nobody can reach it after drop. munmap can only
            // fail for invalid arguments, which would be a bug here; there is nothing to report.
            unsafe { libc::munmap(base as *mut libc::c_void, len) };
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

/// madvise values for [`crate::Advice`].
pub(crate) fn advice_value(advice: crate::Advice) -> i32 {
    use crate::Advice;
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
            populate: false,
            extra_flags,
        }
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
        assert_eq!(private.flags(false) & libc::MAP_SHARED, 0);
        let shared = mode(Protection::ReadWrite, false, libc::MAP_SHARED);
        assert!(shared.is_shared());
        let anon = mode(Protection::Read, false, 0);
        assert_ne!(anon.flags(true) & libc::MAP_ANONYMOUS, 0);
        assert_ne!(anon.flags(true) & libc::MAP_PRIVATE, 0);
    }

    #[test]
    fn validation_refuses_protections_that_would_fault() {
        let read_only = mode(Protection::Raw(libc::PROT_READ), false, 0);
        assert!(read_only.validate(false).is_ok());
        assert!(read_only.validate(true).is_err());
        assert!(mode(Protection::Raw(libc::PROT_NONE), false, 0)
            .validate(false)
            .is_err());
        assert!(mode(Protection::ReadWrite, false, libc::MAP_FIXED)
            .validate(true)
            .is_err());
        assert!(mode(Protection::ReadWrite, true, 0).validate(true).is_ok());
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
        let inner = MapInner::map(None, 0, 0, mode(Protection::ReadWrite, false, 0)).unwrap();
        assert_eq!(inner.len(), 0);
        assert!(inner.os_region().is_none());
        assert!(!inner.ptr().is_null());
        inner.flush(0, 0, true).unwrap();
        inner.unmap().unwrap();
    }

    #[test]
    fn growing_private_memory_after_a_shrink_reads_zeros() {
        let mut inner = MapInner::map(None, 0, 100, mode(Protection::ReadWrite, false, 0)).unwrap();
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
