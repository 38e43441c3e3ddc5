//! Windows: not implemented yet.
//!
//! Every constructor returns [`io::ErrorKind::Unsupported`], so the crate builds on Windows
//! and callers get a clear error instead of a link failure. The items mirror `unix.rs` so the
//! portable code compiles unchanged; a real port fills them in with `CreateFileMappingW`,
//! `MapViewOfFile`, `FlushViewOfFile` and `SetFileInformationByHandle`.
// The stub never builds a mapping, so much of the mirrored surface is never read.
#![allow(dead_code)]

use std::io;
use std::os::windows::io::{AsHandle, BorrowedHandle, OwnedHandle};

use crate::options::Protection;

pub(crate) type Desc<'a> = BorrowedHandle<'a>;
pub(crate) type OwnedDesc = OwnedHandle;

/// Anything that lends a file handle can be mapped.
pub trait AsDesc: AsHandle {}
impl<T: AsHandle> AsDesc for T {}

pub(crate) fn borrow_desc<T: AsDesc + ?Sized>(file: &T) -> Desc<'_> {
    file.as_handle()
}

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "mmapfile does not support Windows yet",
    )
}

pub(crate) fn page_size() -> usize {
    4096
}

pub(crate) fn allocation_granularity() -> usize {
    65536
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FileInfo {
    pub size: u64,
    pub kind: FileKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Regular,
    Directory,
    Fifo,
    Socket,
    Device,
}

pub(crate) fn file_info(_fd: Desc<'_>) -> io::Result<FileInfo> {
    Err(unsupported())
}

pub(crate) fn desc_access(_fd: Desc<'_>) -> io::Result<(bool, bool)> {
    Err(unsupported())
}

pub(crate) fn duplicate(fd: Desc<'_>) -> io::Result<OwnedDesc> {
    fd.try_clone_to_owned()
}

pub(crate) fn close_desc(fd: OwnedDesc) -> io::Result<()> {
    drop(fd);
    Ok(())
}

pub(crate) fn set_file_len(_fd: Desc<'_>, _len: u64) -> io::Result<()> {
    Err(unsupported())
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct MapMode {
    pub protection: Protection,
    pub shared: bool,
    pub populate: bool,
    pub extra_flags: i32,
}

impl MapMode {
    pub(crate) fn is_shared_writable(&self) -> bool {
        false
    }

    pub(crate) fn validate(&self, _writable: bool) -> io::Result<()> {
        Err(unsupported())
    }
}

pub(crate) struct MapInner {
    _never: std::convert::Infallible,
}

impl MapInner {
    pub(crate) fn map(
        _fd: Option<Desc<'_>>,
        _offset: u64,
        _len: usize,
        _mode: MapMode,
        _regular: bool,
    ) -> io::Result<Self> {
        Err(unsupported())
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        match self._never {}
    }

    pub(crate) fn len(&self) -> usize {
        match self._never {}
    }

    pub(crate) fn os_region(&self) -> Option<(usize, usize)> {
        match self._never {}
    }

    pub(crate) fn flush(&self, _offset: usize, _len: usize, _sync: bool) -> io::Result<()> {
        match self._never {}
    }

    /// # Safety
    /// Never callable: no `MapInner` exists on Windows.
    pub(crate) unsafe fn advise(
        &self,
        _advice: i32,
        _offset: usize,
        _len: usize,
    ) -> io::Result<()> {
        match self._never {}
    }

    pub(crate) fn unmap(self) -> io::Result<()> {
        match self._never {}
    }

    pub(crate) fn remap(
        &mut self,
        _fd: Option<Desc<'_>>,
        _offset: u64,
        _new_len: usize,
    ) -> io::Result<()> {
        match self._never {}
    }
}

pub(crate) fn advice_value(_advice: crate::Advice) -> i32 {
    0
}
