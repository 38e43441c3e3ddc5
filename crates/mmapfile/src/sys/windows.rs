//! Windows: `CreateFileMappingW`, `MapViewOfFile`, `FlushViewOfFile`, `FlushFileBuffers`,
//! `SetFileInformationByHandle`, `PrefetchVirtualMemory`.
//!
//! A map is a view of a section object. The section is created for exactly the bytes the
//! view needs (`offset + len` of the file, or `len` bytes of pagefile-backed memory) and its
//! handle is closed as soon as the view exists: the view keeps the section alive, and a
//! section no larger than the view lets a later `resize` shrink the file (Windows refuses to
//! cut a file below any live section with `ERROR_USER_MAPPED_FILE`).
//!
//! Verified under wine (`scripts/test-windows.sh`), not on a real Windows machine.

use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

use windows_sys::Wdk::Foundation::{NtQueryObject, ObjectBasicInformation};
use windows_sys::Win32::Foundation::{
    GetLastError, RtlNtStatusToDosError, ERROR_ALREADY_EXISTS, ERROR_NOT_LOCKED,
    ERROR_USER_MAPPED_FILE, ERROR_WORKING_SET_QUOTA, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::{
    FileEndOfFileInfo, FileStandardInfo, FlushFileBuffers, GetFileInformationByHandleEx,
    GetFileType, SetFileInformationByHandle, FILE_END_OF_FILE_INFO, FILE_READ_DATA,
    FILE_STANDARD_INFO, FILE_TYPE_CHAR, FILE_TYPE_PIPE, FILE_TYPE_UNKNOWN, FILE_WRITE_DATA,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FlushViewOfFile, MapViewOfFile, PrefetchVirtualMemory, UnmapViewOfFile,
    VirtualFree, VirtualLock, VirtualProtect, VirtualQuery, VirtualUnlock, FILE_MAP, FILE_MAP_COPY,
    FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS,
    PAGE_PROTECTION_FLAGS, PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY, WIN32_MEMORY_RANGE_ENTRY,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::GetCurrentProcess;
use windows_sys::Win32::System::WindowsProgramming::PUBLIC_OBJECT_BASIC_INFORMATION;

use super::{Advice, MapFlags, Protection};

/// The handle type the portable code borrows to create a file-backed mapping.
pub(crate) type Desc<'a> = BorrowedHandle<'a>;
/// The owned handle a map keeps so it can report the file's size and resize it.
pub(crate) type OwnedDesc = OwnedHandle;

/// Anything that lends a file handle (`File`, `BorrowedHandle`, …) can be mapped.
pub trait AsDesc: AsHandle {}
impl<T: AsHandle> AsDesc for T {}

pub(crate) fn borrow_desc<T: AsDesc + ?Sized>(file: &T) -> Desc<'_> {
    file.as_handle()
}

fn raw(fd: Desc<'_>) -> HANDLE {
    fd.as_raw_handle() as HANDLE
}

/// (page size, allocation granularity), asked once.
fn system_sizes() -> (usize, usize) {
    static SIZES: OnceLock<(usize, usize)> = OnceLock::new();
    *SIZES.get_or_init(|| {
        let mut info = SYSTEM_INFO::default();
        // SAFETY: GetSystemInfo fills the struct we own and cannot fail.
        unsafe { GetSystemInfo(&mut info) };
        let page = (info.dwPageSize as usize).max(4096);
        let granularity = (info.dwAllocationGranularity as usize).max(page);
        (page, granularity)
    })
}

/// The page size (4 KiB on x86-64).
pub(crate) fn page_size() -> usize {
    system_sizes().0
}

/// The alignment a view's file offset and address must have (64 KiB).
pub(crate) fn allocation_granularity() -> usize {
    system_sizes().1
}

/// What the OS tells about a handle, reduced to what mapping needs.
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
    #[allow(dead_code)] // Windows reports sockets as pipes; kept so the kinds match Unix.
    Socket,
    /// Character devices (the console, `NUL`): no size; mapping them fails in the OS.
    Device,
}

pub(crate) fn file_info(fd: Desc<'_>) -> io::Result<FileInfo> {
    // SAFETY: GetFileType only queries the handle.
    let file_type = unsafe { GetFileType(raw(fd)) };
    match file_type {
        FILE_TYPE_PIPE => {
            return Ok(FileInfo {
                size: 0,
                kind: FileKind::Fifo,
            })
        }
        FILE_TYPE_CHAR => {
            return Ok(FileInfo {
                size: 0,
                kind: FileKind::Device,
            })
        }
        FILE_TYPE_UNKNOWN => {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(0) {
                return Err(err);
            }
        }
        _ => {}
    }
    let mut info = FILE_STANDARD_INFO::default();
    // SAFETY: the buffer is a FILE_STANDARD_INFO of exactly the size we pass, owned by us.
    let ok = unsafe {
        GetFileInformationByHandleEx(
            raw(fd),
            FileStandardInfo,
            (&mut info as *mut FILE_STANDARD_INFO).cast::<c_void>(),
            size_of::<FILE_STANDARD_INFO>() as u32,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let kind = if info.Directory {
        FileKind::Directory
    } else {
        FileKind::Regular
    };
    Ok(FileInfo {
        size: info.EndOfFile.max(0) as u64,
        kind,
    })
}

/// Whether the handle was opened for reading and for writing (its granted access rights).
pub(crate) fn desc_access(fd: Desc<'_>) -> io::Result<(bool, bool)> {
    let mut info = PUBLIC_OBJECT_BASIC_INFORMATION::default();
    // SAFETY: the buffer is a PUBLIC_OBJECT_BASIC_INFORMATION of the size we pass; the
    // returned-length pointer may be null.
    let status = unsafe {
        NtQueryObject(
            raw(fd),
            ObjectBasicInformation,
            (&mut info as *mut PUBLIC_OBJECT_BASIC_INFORMATION).cast::<c_void>(),
            size_of::<PUBLIC_OBJECT_BASIC_INFORMATION>() as u32,
            ptr::null_mut(),
        )
    };
    if status < 0 {
        // SAFETY: a pure translation of a status code.
        let code = unsafe { RtlNtStatusToDosError(status) };
        return Err(io::Error::from_raw_os_error(code as i32));
    }
    Ok((
        info.GrantedAccess & FILE_READ_DATA != 0,
        info.GrantedAccess & FILE_WRITE_DATA != 0,
    ))
}

pub(crate) fn duplicate(fd: Desc<'_>) -> io::Result<OwnedDesc> {
    fd.try_clone_to_owned()
}

/// Closes a kept handle. `CloseHandle` only fails for an invalid handle, which an
/// `OwnedHandle` cannot be.
pub(crate) fn close_desc(fd: OwnedDesc) -> io::Result<()> {
    drop(fd);
    Ok(())
}

/// Sets the file's length (`SetFileInformationByHandle(FileEndOfFileInfo)`); the new bytes
/// read as zeros.
pub(crate) fn set_file_len(fd: Desc<'_>, len: u64) -> io::Result<()> {
    let end = i64::try_from(len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file length {len} does not fit in a signed 64-bit file size"),
        )
    })?;
    let info = FILE_END_OF_FILE_INFO { EndOfFile: end };
    // SAFETY: the buffer is a FILE_END_OF_FILE_INFO of exactly the size we pass.
    let ok = unsafe {
        SetFileInformationByHandle(
            raw(fd),
            FileEndOfFileInfo,
            (&info as *const FILE_END_OF_FILE_INFO).cast::<c_void>(),
            size_of::<FILE_END_OF_FILE_INFO>() as u32,
        )
    };
    if ok != 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(ERROR_USER_MAPPED_FILE as i32) {
        return Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "cannot cut the file to {len} bytes: another map of it still covers the bytes \
                 past that length, and Windows refuses to shrink a file under a live view \
                 (ERROR_USER_MAPPED_FILE); close the other maps first"
            ),
        ));
    }
    Err(err)
}

/// How the portable layer asks for a mapping; translated to section and view rights here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MapMode {
    pub protection: Protection,
    /// Shared (write-through) rather than private (copy-on-write).
    pub shared: bool,
    /// The typed flags: only `populate` (prefetch the whole view when it is created, with
    /// `PrefetchVirtualMemory`) has a Windows equivalent; the others are refused.
    pub flags: MapFlags,
    /// Raw Unix `MAP_*` flags: always 0 here (the setter is Unix only).
    pub extra_flags: i32,
}

/// Whether mapping itself refuses a handle whose open mode does not allow the access, so that
/// the mode need only be read to explain a refusal. Not assumed on Windows: the handle's
/// access is checked before mapping, as it always was.
pub(crate) const MAP_REFUSES_OPEN_MODE: bool = false;

impl MapMode {
    /// Raw protection and flags are Unix notions; the setters do not exist on Windows, so
    /// this only guards against a future caller passing them anyway.
    /// Not relied on here: see [`MAP_REFUSES_OPEN_MODE`].
    pub(crate) fn is_shared_writable(&self) -> bool {
        self.shared && self.writable()
    }

    pub(crate) fn validate(&self, _writable: bool, _anonymous: bool) -> io::Result<()> {
        if matches!(self.protection, Protection::Raw(_)) || self.extra_flags != 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "raw PROT_*/MAP_* bits are Unix only",
            ));
        }
        let flags = self.flags;
        for (asked, why) in [
            (
                flags.locked,
                "locked() (MAP_LOCKED) is not available on Windows: VirtualLock pins no more \
                 than the process's working-set minimum, which the crate does not raise",
            ),
            (
                flags.no_reserve,
                "no_reserve() (MAP_NORESERVE) is not available on Windows: pagefile-backed \
                 memory is always charged to the commit limit",
            ),
            (
                flags.stack,
                "stack() (MAP_STACK) is not available on Windows: thread stacks are the \
                 system's",
            ),
            (
                flags.huge.is_some(),
                "huge(..) (MAP_HUGETLB) is not available on Windows: large pages need the \
                 lock-pages privilege (SeLockMemoryPrivilege), which the crate does not ask for",
            ),
        ] {
            if asked {
                return Err(io::Error::new(io::ErrorKind::Unsupported, why));
            }
        }
        Ok(())
    }

    fn writable(&self) -> bool {
        !matches!(self.protection, Protection::Read)
    }

    /// The section's page protection and the view's access rights.
    ///
    /// Pagefile-backed sections are always read-write, so that another map of a named one
    /// can write to it; an unnamed private one is mapped for writing (nothing else sees it).
    fn rights(&self, anonymous: bool, named: bool) -> (PAGE_PROTECTION_FLAGS, FILE_MAP) {
        match (anonymous, self.writable(), self.shared) {
            (true, false, _) => (PAGE_READWRITE, FILE_MAP_READ),
            (true, true, false) if named => (PAGE_READWRITE, FILE_MAP_COPY),
            (true, true, _) => (PAGE_READWRITE, FILE_MAP_WRITE),
            (false, false, _) => (PAGE_READONLY, FILE_MAP_READ),
            (false, true, true) => (PAGE_READWRITE, FILE_MAP_WRITE),
            (false, true, false) => (PAGE_WRITECOPY, FILE_MAP_COPY),
        }
    }

    /// The protection of the view's pages, as the fault guard records it.
    fn page_protection(&self) -> i32 {
        if self.writable() {
            PAGE_READWRITE as i32
        } else {
            PAGE_READONLY as i32
        }
    }
}

/// One live view: the granularity-aligned OS view plus the slack that hides the alignment.
///
/// `len == 0` is an empty mapping that owns no OS resources (an empty file or window, anonymous
/// memory of no length, or what is left after `resize(0)`); its pointer is dangling but well
/// aligned and never dereferenced.
pub(crate) struct MapInner {
    /// Start of the view (aligned to the allocation granularity), or dangling when empty.
    base: NonNull<u8>,
    /// Bytes between `base` and the first byte the user sees.
    slack: usize,
    /// Bytes the user sees.
    len: usize,
    anonymous: bool,
    /// A named section (`MmapOptions::shared_name`): others may share it, so it is never
    /// replaced by a resize.
    named: bool,
    mode: MapMode,
    /// A duplicate of the file's handle for `FlushFileBuffers` (None for anonymous memory).
    file: Option<OwnedHandle>,
    /// A named section's handle, held as long as the view. Windows keeps a section (and its
    /// name) alive while a view of it exists, but wine drops the name with the last handle.
    _section: Option<OwnedHandle>,
    /// A view of a regular file (the only kind whose pages can fail to arrive).
    regular: bool,
}

/// Where a live file view lies, as the fault guard registers it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OsRegion {
    /// Start of the view (aligned to the allocation granularity).
    pub start: usize,
    /// Length of the view (the slack included).
    pub os_len: usize,
    /// The first byte the user sees.
    pub user: usize,
    /// The view's page protection (`PAGE_*`), which the guard's zero pages get too.
    pub prot: i32,
}

// SAFETY: the view is plain process memory owned by this value; the pointer is not tied to
// the creating thread, and UnmapViewOfFile works from any thread. Mutation of the bytes goes
// through `&mut DynMmap` (or an `unsafe` contract upstream). See "Threads" on `DynMmap`.
unsafe impl Send for MapInner {}
// SAFETY: through `&MapInner` one can only read the memory and make thread-safe calls
// (FlushViewOfFile, FlushFileBuffers, PrefetchVirtualMemory), so sharing it cannot race.
unsafe impl Sync for MapInner {}

/// Creates a section over `file` (or the paging file), or opens the existing one of that
/// name; returns its handle and whether it already existed.
fn create_section(
    file: HANDLE,
    protect: PAGE_PROTECTION_FLAGS,
    size: u64,
    name: Option<&[u16]>,
) -> io::Result<(OwnedHandle, bool)> {
    let name_ptr = name.map_or(ptr::null(), |name| name.as_ptr());
    // SAFETY: `file` is a live file handle or INVALID_HANDLE_VALUE (pagefile-backed); the
    // name, if any, is NUL-terminated UTF-16 that outlives the call.
    let section = unsafe {
        CreateFileMappingW(
            file,
            ptr::null(),
            protect,
            (size >> 32) as u32,
            size as u32,
            name_ptr,
        )
    };
    if section.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: read right after the successful call, on the same thread.
    let existed = unsafe { GetLastError() } == ERROR_ALREADY_EXISTS;
    // SAFETY: CreateFileMappingW returned a fresh handle that nobody else owns.
    Ok((unsafe { OwnedHandle::from_raw_handle(section) }, existed))
}

/// Encodes a mapping name for the OS, refusing what it could not name.
pub(crate) fn encode_name(name: &str) -> io::Result<Vec<u16>> {
    if name.is_empty() || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("mapping name {name:?} must be non-empty and contain no NUL character"),
        ));
    }
    Ok(name.encode_utf16().chain(Some(0)).collect())
}

impl MapInner {
    /// Maps `len` bytes of `fd` starting at `offset` (any offset; aligned down internally),
    /// or `len` bytes of pagefile-backed memory when `fd` is `None`.
    /// `_regular` is the caller's knowledge of the file's kind; this backend asks the file
    /// itself when it maps (it is not measured for speed here).
    pub(crate) fn map(
        fd: Option<Desc<'_>>,
        offset: u64,
        len: usize,
        mode: MapMode,
        _regular: bool,
    ) -> io::Result<Self> {
        Self::map_named(fd, offset, len, mode, None)
    }

    /// As [`map`](Self::map), creating or opening the section under `name` (UTF-16 with a
    /// final NUL, from [`encode_name`]). An existing section of that name is used as it is,
    /// whatever file it maps.
    pub(crate) fn map_named(
        fd: Option<Desc<'_>>,
        offset: u64,
        len: usize,
        mode: MapMode,
        name: Option<&[u16]>,
    ) -> io::Result<Self> {
        let anonymous = fd.is_none();
        let slack = if anonymous {
            0
        } else {
            (offset % allocation_granularity() as u64) as usize
        };
        if len == 0 {
            return Ok(Self::empty(slack, anonymous, mode));
        }
        let total = len
            .checked_add(slack)
            .filter(|&total| total <= isize::MAX as usize)
            .ok_or_else(|| too_long(len))?;
        let aligned_offset = offset - slack as u64;
        let (protect, access) = mode.rights(anonymous, name.is_some());
        let (handle, section_size) = match fd {
            Some(fd) => (raw(fd), aligned_offset + total as u64),
            None => (INVALID_HANDLE_VALUE, total as u64),
        };
        let (section, existed) = create_section(handle, protect, section_size, name)?;
        // SAFETY: maps a fresh view of our section at an address the OS chooses; no existing
        // memory is replaced. The result is checked below.
        let view: MEMORY_MAPPED_VIEW_ADDRESS = unsafe {
            MapViewOfFile(
                section.as_raw_handle() as HANDLE,
                access,
                (aligned_offset >> 32) as u32,
                aligned_offset as u32,
                total,
            )
        };
        let Some(base) = NonNull::new(view.Value.cast::<u8>()) else {
            let err = io::Error::last_os_error();
            if existed {
                return Err(io::Error::new(
                    err.kind(),
                    format!(
                        "cannot map {len} bytes of the existing named mapping: {err} \
                         (it may be smaller, or not allow this access)"
                    ),
                ));
            }
            return Err(err);
        };
        // The view keeps the section alive; closing our handle now means the section lives
        // exactly as long as the views of it. A named one is held (see `_section`).
        let section = name.is_some().then_some(section);
        let file = match fd {
            Some(fd) => match fd.try_clone_to_owned() {
                Ok(file) => Some(file),
                Err(err) => {
                    // SAFETY: the view was just mapped and nothing else refers to it.
                    unsafe { UnmapViewOfFile(view) };
                    return Err(err);
                }
            },
            None => None,
        };
        let regular = match fd {
            Some(fd) => file_info(fd).is_ok_and(|info| info.kind == FileKind::Regular),
            None => false,
        };
        let inner = Self {
            base,
            slack,
            len,
            anonymous,
            named: name.is_some(),
            mode,
            file,
            _section: section,
            regular,
        };
        if mode.flags.populate {
            // A hint: a failure leaves the view as usable as without it.
            // SAFETY: the range is our live view; prefetching does not change its contents.
            let _ = unsafe { inner.advise(ADVICE_WILL_NEED, 0, len) };
        }
        Ok(inner)
    }

    fn empty(slack: usize, anonymous: bool, mode: MapMode) -> Self {
        Self {
            base: NonNull::dangling(),
            slack,
            len: 0,
            anonymous,
            named: false,
            mode,
            file: None,
            _section: None,
            regular: false,
        }
    }

    /// First byte the user sees.
    pub(crate) fn ptr(&self) -> *mut u8 {
        if self.len == 0 {
            return NonNull::dangling().as_ptr();
        }
        // SAFETY: `slack` is within the view, which is `slack + len` bytes long.
        unsafe { self.base.as_ptr().add(self.slack) }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether stores reach the file (or the named memory).
    pub(crate) fn is_shared(&self) -> bool {
        self.mode.shared
    }

    /// Whether this maps a regular file (whose size bounds the bytes that exist).
    pub(crate) fn is_regular_file(&self) -> bool {
        self.regular
    }

    /// What the fault guard registers: a live view of a regular file, else `None`.
    pub(crate) fn guarded_region(&self) -> Option<OsRegion> {
        let (start, os_len) = self.os_region().filter(|_| self.regular)?;
        Some(OsRegion {
            start,
            os_len,
            user: start + self.slack,
            prot: self.mode.page_protection(),
        })
    }

    /// The whole OS view as (start, length), for registries that watch addresses.
    pub(crate) fn os_region(&self) -> Option<(usize, usize)> {
        (self.len > 0).then(|| (self.base.as_ptr() as usize, self.slack + self.len))
    }

    /// Page-aligned (pointer, length) covering `offset..offset + len` of the user's view.
    fn aligned_range(&self, offset: usize, len: usize) -> (*mut c_void, usize) {
        let start = self.slack + offset;
        let aligned = start - start % page_size();
        // SAFETY: `aligned <= start <= slack + self.len`, inside the view.
        let ptr = unsafe { self.base.as_ptr().add(aligned) };
        (ptr.cast(), len + (start - aligned))
    }

    /// `FlushViewOfFile` of a range of the user's view, then `FlushFileBuffers` when `sync`
    /// (the first only hands the pages to the cache manager; the second waits for the disk).
    /// `offset + len <= self.len` is checked upstream.
    pub(crate) fn flush(&self, offset: usize, len: usize, sync: bool) -> io::Result<()> {
        if self.len == 0 || len == 0 {
            return Ok(());
        }
        let (ptr, len) = self.aligned_range(offset, len);
        // SAFETY: the range lies inside our live view; flushing does not change its contents.
        if unsafe { FlushViewOfFile(ptr, len) } == 0 {
            return Err(io::Error::last_os_error());
        }
        if let (true, Some(file)) = (sync, &self.file) {
            // SAFETY: `file` is a live handle we own.
            if unsafe { FlushFileBuffers(file.as_raw_handle() as HANDLE) } == 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Paging advice for a range of the user's view: `WillNeed` prefetches
    /// (`PrefetchVirtualMemory`), `Normal` is what Windows always does; the rest has no
    /// Windows equivalent and is refused with `Unsupported`.
    ///
    /// # Safety
    /// None of the advice offered on Windows changes the contents; the signature matches Unix,
    /// where some raw advice does.
    pub(crate) unsafe fn advise(&self, advice: i32, offset: usize, len: usize) -> io::Result<()> {
        match advice {
            ADVICE_NORMAL => return Ok(()),
            ADVICE_WILL_NEED => {}
            other => {
                let name = match other {
                    ADVICE_RANDOM => "Random",
                    ADVICE_SEQUENTIAL => "Sequential",
                    ADVICE_HUGE_PAGE => "HugePage",
                    _ => "NoHugePage",
                };
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "Advice::{name} has no Windows equivalent (only Normal and WillNeed, \
                         which prefetches, are supported there)"
                    ),
                ));
            }
        }
        if self.len == 0 || len == 0 {
            return Ok(());
        }
        let (ptr, len) = self.aligned_range(offset, len);
        let range = WIN32_MEMORY_RANGE_ENTRY {
            VirtualAddress: ptr,
            NumberOfBytes: len,
        };
        // SAFETY: one range entry inside our live view; prefetching only reads the file in.
        let ok = unsafe { PrefetchVirtualMemory(GetCurrentProcess(), 1, &range, 0) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Locks the pages of `offset..offset + len` of the user's view into the process's
    /// working set (`VirtualLock`); `offset + len <= self.len` is checked upstream. Windows
    /// bounds what a process may lock by its minimum working set: a refusal for that reason
    /// (`ERROR_WORKING_SET_QUOTA`) says so.
    pub(crate) fn lock(&self, offset: usize, len: usize) -> io::Result<()> {
        if self.len == 0 || len == 0 {
            return Ok(());
        }
        let (ptr, len) = self.aligned_range(offset, len);
        // SAFETY: the range lies inside our live view; locking changes no byte.
        if unsafe { VirtualLock(ptr, len) } != 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(ERROR_WORKING_SET_QUOTA as i32) {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "locking {len} bytes exceeds what the process may lock, which Windows \
                     bounds by its minimum working set (raise it with \
                     SetProcessWorkingSetSize) ({err})"
                ),
            ));
        }
        Err(io::Error::new(
            err.kind(),
            format!("cannot lock {len} bytes in memory: {err}"),
        ))
    }

    /// Unlocks the pages of `offset..offset + len` of the user's view (`VirtualUnlock`).
    /// Pages that were not locked are no error (Windows reports `ERROR_NOT_LOCKED`, Unix
    /// nothing; the crate follows Unix).
    pub(crate) fn unlock(&self, offset: usize, len: usize) -> io::Result<()> {
        if self.len == 0 || len == 0 {
            return Ok(());
        }
        let (ptr, len) = self.aligned_range(offset, len);
        // SAFETY: the range lies inside our live view; unlocking changes no byte.
        if unsafe { VirtualUnlock(ptr, len) } != 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(ERROR_NOT_LOCKED as i32) {
            return Ok(());
        }
        Err(err)
    }

    /// Adds or removes write access to the whole view in place (`VirtualProtect`); the mode
    /// records the new protection, so the fault guard's zero views and later remaps get it.
    ///
    /// A view keeps the access it was mapped with as a ceiling: one mapped read-only
    /// (`FILE_MAP_READ`, what [`Access::Read`](crate::Access::Read) maps) can never be
    /// made writable, which is refused here with `PermissionDenied` and a message saying
    /// so. A view mapped writable and made read-only can be made writable again, shared or
    /// copy-on-write as it was mapped. On error the old protection is put back.
    pub(crate) fn set_writable(&mut self, writable: bool) -> io::Result<()> {
        if self.len == 0 {
            self.mode.protection = if writable {
                Protection::ReadWrite
            } else {
                Protection::Read
            };
            return Ok(());
        }
        // SAFETY: MEMORY_BASIC_INFORMATION is plain data for which all zeros is a valid value.
        let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: `base` is the start of our live view; VirtualQuery only writes `info`.
        let queried = unsafe {
            VirtualQuery(
                self.base.as_ptr().cast(),
                &mut info,
                std::mem::size_of::<MEMORY_BASIC_INFORMATION>(),
            )
        };
        if queried == 0 {
            return Err(io::Error::last_os_error());
        }
        let ceiling = info.AllocationProtect;
        let new = match (writable, ceiling) {
            (false, _) => PAGE_READONLY,
            (true, PAGE_WRITECOPY) => PAGE_WRITECOPY,
            (true, PAGE_READWRITE) => PAGE_READWRITE,
            (true, _) => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the view was mapped read-only, and Windows cannot add write access to a \
                     view afterwards (map the file with map_mut or map_copy instead, or make a \
                     writable map read-only with make_read_only and writable again)",
                ))
            }
        };
        let mut old: PAGE_PROTECTION_FLAGS = 0;
        // SAFETY: the range is our own live view; changing its protection changes no byte,
        // and the caller holds the map by value, so no borrow relies on the old protection.
        let ok = unsafe {
            VirtualProtect(
                self.base.as_ptr().cast(),
                self.slack + self.len,
                new,
                &mut old,
            )
        };
        if ok == 0 {
            let err = io::Error::last_os_error();
            let mut ignored: PAGE_PROTECTION_FLAGS = 0;
            // SAFETY: as above; this restores what was there before the call.
            unsafe {
                VirtualProtect(
                    self.base.as_ptr().cast(),
                    self.slack + self.len,
                    old,
                    &mut ignored,
                )
            };
            return Err(err);
        }
        self.mode.protection = if writable {
            Protection::ReadWrite
        } else {
            Protection::Read
        };
        Ok(())
    }

    /// Changes the length of the view to `new_len`, keeping the contents of the common
    /// prefix. The file must already have (or be given afterwards) the right length.
    ///
    /// Windows cannot grow a view in place: a new view is mapped first and the old one is
    /// unmapped after it, so on error the old view is unchanged. For a file the new section
    /// covers only `offset + new_len` bytes, so once the old view is gone the file can be cut
    /// to that length. Anonymous memory is copied into a fresh section.
    pub(crate) fn remap(
        &mut self,
        fd: Option<Desc<'_>>,
        offset: u64,
        new_len: usize,
    ) -> io::Result<()> {
        if new_len == self.len {
            return Ok(());
        }
        if self.named {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a named mapping cannot be resized: other maps share its section at its \
                 current size",
            ));
        }
        if new_len == 0 {
            *self = Self::empty(self.slack, self.anonymous, self.mode);
            return Ok(());
        }
        if self.anonymous {
            let fresh = Self::map(None, 0, new_len, self.mode, false)?;
            let common = new_len.min(self.len);
            // SAFETY: both views are live, distinct and at least `common` bytes long.
            unsafe { ptr::copy_nonoverlapping(self.ptr(), fresh.ptr(), common) };
            *self = fresh;
        } else {
            *self = Self::map(fd, offset, new_len, self.mode, self.regular)?;
        }
        Ok(())
    }

    /// Maps the file afresh at `new_len` bytes (after the fault guard replaced the view with
    /// zeros, the file is the truth). A file view is always mapped afresh on Windows.
    pub(crate) fn remap_fresh(
        &mut self,
        fd: Option<Desc<'_>>,
        offset: u64,
        new_len: usize,
    ) -> io::Result<()> {
        self.remap(fd, offset, new_len)
    }

    /// Unmaps now, reporting the error that `Drop` would have to swallow. The owner takes
    /// the view out of the fault guard's registry first.
    pub(crate) fn unmap(mut self) -> io::Result<()> {
        // With `len` at 0, the drop at the end of this call unmaps nothing a second time
        // (it still closes the kept file handle).
        if std::mem::replace(&mut self.len, 0) == 0 {
            return Ok(());
        }
        let view = MEMORY_MAPPED_VIEW_ADDRESS {
            Value: self.base.as_ptr().cast(),
        };
        // SAFETY: we own this view, and nothing refers to it once `self` is consumed.
        if unsafe { release_view(view) } {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for MapInner {
    fn drop(&mut self) {
        if let Some((start, _)) = self.os_region() {
            let view = MEMORY_MAPPED_VIEW_ADDRESS {
                Value: start as *mut c_void,
            };
            // SAFETY: we own this view and nobody can reach it after drop. Releasing can only
            // fail for an address that is not ours, which would be a bug here.
            unsafe { release_view(view) };
        }
    }
}

/// The OS half of the fault guard on Windows; `guard.rs` keeps the registry and decides.
///
/// A view whose file cannot deliver a page (I/O failing on a network share or removable
/// media; under wine, a file cut by a Unix process) faults with `EXCEPTION_IN_PAGE_ERROR`,
/// or `EXCEPTION_ACCESS_VIOLATION` under wine. One page of a view cannot be replaced on its
/// own (a view is one allocation, and wine has no placeholder APIs to split it), so the
/// whole view is swapped for committed zero pages at the same address.
pub(crate) mod fault {
    use std::ffi::c_void;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;

    use windows_sys::Win32::Foundation::{EXCEPTION_ACCESS_VIOLATION, EXCEPTION_IN_PAGE_ERROR};
    use windows_sys::Win32::System::Diagnostics::Debug::{
        AddVectoredExceptionHandler, EXCEPTION_CONTINUE_EXECUTION, EXCEPTION_CONTINUE_SEARCH,
        EXCEPTION_POINTERS,
    };
    use windows_sys::Win32::System::Memory::{
        UnmapViewOfFile, VirtualAlloc, VirtualQuery, MEMORY_BASIC_INFORMATION,
        MEMORY_MAPPED_VIEW_ADDRESS, MEM_COMMIT, MEM_MAPPED, MEM_PRIVATE, MEM_RESERVE,
        PAGE_READWRITE,
    };

    /// The guard's judge: (faulting address, whether it was a write) -> repaired.
    static REPAIR: OnceLock<fn(usize, bool) -> bool> = OnceLock::new();

    /// Installs the process-wide vectored exception handler that asks `repair` about every
    /// in-page error and access violation. False if Windows refused.
    pub(crate) fn install(repair: fn(usize, bool) -> bool) -> bool {
        if REPAIR.set(repair).is_err() {
            return true;
        }
        // SAFETY: registers a handler that lives for the whole program (a plain function)
        // and only reads the exception record it is given.
        let handle = unsafe { AddVectoredExceptionHandler(1, Some(on_exception)) };
        !handle.is_null()
    }

    /// Hands read and write faults to the guard; everything else (and every fault the guard
    /// does not claim) goes on to the next handler, so other crashes still crash.
    unsafe extern "system" fn on_exception(info: *mut EXCEPTION_POINTERS) -> i32 {
        // SAFETY: Windows passes valid exception pointers to a vectored handler.
        let record = unsafe { &*(*info).ExceptionRecord };
        let code = record.ExceptionCode;
        if (code != EXCEPTION_IN_PAGE_ERROR && code != EXCEPTION_ACCESS_VIOLATION)
            || record.NumberParameters < 2
        {
            return EXCEPTION_CONTINUE_SEARCH;
        }
        // 0: read, 1: write, 8: execute (never ours).
        let kind = record.ExceptionInformation[0];
        let addr = record.ExceptionInformation[1];
        match REPAIR.get() {
            Some(repair) if kind <= 1 && repair(addr, kind == 1) => EXCEPTION_CONTINUE_EXECUTION,
            _ => EXCEPTION_CONTINUE_SEARCH,
        }
    }

    /// Whether a view with page protection `prot` allows the access: a write to a read-only
    /// view is a bug in the program, not a vanished page, and must not be papered over.
    pub(crate) fn allows(prot: i32, write: bool) -> bool {
        !write || prot == PAGE_READWRITE as i32
    }

    /// Replaces the view `start..start + len` with zero pages of protection `prot`, once:
    /// a thread that faulted on the same view meanwhile finds it already replaced. Returns
    /// whether the range is readable zeros now.
    pub(crate) fn zero_view(start: usize, len: usize, prot: i32) -> bool {
        static BUSY: AtomicBool = AtomicBool::new(false);
        while BUSY
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        let mut info = MEMORY_BASIC_INFORMATION::default();
        // SAFETY: VirtualQuery only describes the address space into our struct.
        let described = unsafe {
            VirtualQuery(
                start as *const c_void,
                &mut info,
                size_of::<MEMORY_BASIC_INFORMATION>(),
            )
        } != 0;
        let done = if !described {
            false
        } else if info.Type == MEM_PRIVATE && info.State == MEM_COMMIT {
            true // another thread replaced it already
        } else if info.Type == MEM_MAPPED {
            let view = MEMORY_MAPPED_VIEW_ADDRESS {
                Value: start as *mut c_void,
            };
            // SAFETY: the guard found this view in its registry: it is one of the crate's
            // live maps, whose owner unmaps it with `UnmapViewOfFile` or, once replaced,
            // `VirtualFree`. The zero pages take its exact place.
            unsafe {
                UnmapViewOfFile(view) != 0
                    && !VirtualAlloc(
                        start as *const c_void,
                        len,
                        MEM_RESERVE | MEM_COMMIT,
                        prot as u32,
                    )
                    .is_null()
            }
        } else {
            false
        };
        BUSY.store(false, Ordering::Release);
        done
    }
}

/// Unmaps a view, or frees the zero pages the fault guard put in its place.
///
/// # Safety
/// `view` is the start of a view this crate mapped and still owns; it is not used again.
unsafe fn release_view(view: MEMORY_MAPPED_VIEW_ADDRESS) -> bool {
    // SAFETY: forwarded contract.
    unsafe {
        UnmapViewOfFile(view) != 0
            || VirtualFree(
                view.Value,
                0,
                windows_sys::Win32::System::Memory::MEM_RELEASE,
            ) != 0
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

const ADVICE_NORMAL: i32 = 0;
const ADVICE_WILL_NEED: i32 = 1;
const ADVICE_RANDOM: i32 = 2;
const ADVICE_SEQUENTIAL: i32 = 3;
const ADVICE_HUGE_PAGE: i32 = 4;
const ADVICE_NO_HUGE_PAGE: i32 = 5;

/// The codes [`MapInner::advise`] understands for [`Advice`].
pub(crate) fn advice_value(advice: Advice) -> i32 {
    match advice {
        Advice::Normal => ADVICE_NORMAL,
        Advice::WillNeed => ADVICE_WILL_NEED,
        Advice::Random => ADVICE_RANDOM,
        Advice::Sequential => ADVICE_SEQUENTIAL,
        Advice::HugePage => ADVICE_HUGE_PAGE,
        Advice::NoHugePage => ADVICE_NO_HUGE_PAGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mode(protection: Protection, shared: bool) -> MapMode {
        MapMode {
            protection,
            shared,
            flags: MapFlags::default(),
            extra_flags: 0,
        }
    }

    #[test]
    fn the_granularity_is_a_multiple_of_the_page() {
        assert!(page_size().is_power_of_two());
        assert_eq!(allocation_granularity() % page_size(), 0);
    }

    #[test]
    fn an_unaligned_offset_is_hidden_as_slack() {
        let granularity = allocation_granularity();
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..2 * granularity + 100).map(|i| i as u8).collect();
        file.write_all(&data).unwrap();
        let offset = granularity as u64 + 5;
        let inner = MapInner::map(
            Some(file.as_handle()),
            offset,
            10,
            mode(Protection::Read, true),
            true,
        )
        .unwrap();
        assert_eq!(inner.slack, 5);
        let (start, len) = inner.os_region().unwrap();
        assert_eq!(start % granularity, 0);
        assert_eq!(len, 15);
        // SAFETY: the view is live and `len()` bytes long.
        let seen = unsafe { std::slice::from_raw_parts(inner.ptr(), inner.len()) };
        assert_eq!(seen, &data[granularity + 5..granularity + 15]);
        inner.unmap().unwrap();
    }

    #[test]
    fn advice_without_a_windows_meaning_is_refused() {
        let inner =
            MapInner::map(None, 0, 8192, mode(Protection::ReadWrite, false), false).unwrap();
        // SAFETY: none of these change the contents.
        unsafe {
            inner.advise(ADVICE_NORMAL, 0, 8192).unwrap();
            inner.advise(ADVICE_WILL_NEED, 10, 100).unwrap();
            let err = inner.advise(ADVICE_SEQUENTIAL, 0, 8192).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Unsupported);
            assert!(err.to_string().contains("Sequential"), "{err}");
        }
    }

    #[test]
    fn growing_anonymous_memory_keeps_the_prefix_and_adds_zeros() {
        let mut inner =
            MapInner::map(None, 0, 100, mode(Protection::ReadWrite, false), false).unwrap();
        // SAFETY: the view is live, writable and 100 bytes long.
        unsafe { ptr::write_bytes(inner.ptr(), b'x', 100) };
        inner.remap(None, 0, 10).unwrap();
        inner.remap(None, 0, 3 * page_size()).unwrap();
        // SAFETY: the view is live and `len()` bytes long.
        let seen = unsafe { std::slice::from_raw_parts(inner.ptr(), inner.len()) };
        assert!(seen[..10].iter().all(|&b| b == b'x'));
        assert!(seen[10..].iter().all(|&b| b == 0));
    }

    #[test]
    fn access_rights_come_from_the_handle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let read_only = std::fs::File::open(&path).unwrap();
        assert_eq!(desc_access(read_only.as_handle()).unwrap(), (true, false));
        let both = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        assert_eq!(desc_access(both.as_handle()).unwrap(), (true, true));
        let write_only = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert_eq!(desc_access(write_only.as_handle()).unwrap(), (false, true));
    }
}
