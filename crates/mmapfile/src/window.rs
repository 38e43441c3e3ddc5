//! The window policy: which bytes of a file a map may cover. One `fstat` of the descriptor,
//! checked against the offset and length asked for, decides it; every face (the crate's own
//! map path, the Python constructor) goes through [`MmapOptions::check_window`](crate::MmapOptions::check_window).

use std::fmt;
use std::io;

use crate::sys::{self, FileKind};

/// A window of a file that passed the checks: what to map, decided by one `fstat`.
/// It borrows the descriptor it was checked against, so it maps that file and no other.
#[derive(Debug, Clone, Copy)]
pub struct Window<'fd> {
    pub(crate) fd: sys::Desc<'fd>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
    /// A regular file: its size bounds the bytes that exist, so the fault guard watches it.
    pub(crate) regular: bool,
    /// The file's size when it must first grow to `offset + len` (`grow(true)`).
    pub(crate) grow_from: Option<u64>,
}

impl Window<'_> {
    /// Bytes the map will have (the rest of the file when no length was given).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map will be empty: the whole of an empty file, or no length given and the
    /// offset at the end of the file. Such a map makes no OS mapping and behaves as an
    /// empty byte string.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file offset of the first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the file is a regular file (not a device).
    pub fn is_regular_file(&self) -> bool {
        self.regular
    }
}

/// Why a window was refused, typed so that a face can word it its own way (the Python module
/// maps each case onto CPython's exception and message). It travels as the inner error of the
/// [`io::Error`] the map call returns; [`WindowError::of`] finds it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WindowError {
    /// No length was given and the offset is past the end of the file (at the end, the
    /// window is empty, which is no error).
    OffsetPastEnd {
        /// The offset asked for.
        offset: u64,
        /// The file's size.
        size: u64,
    },
    /// The window ends past the end of the file (and growing was not asked for).
    PastEnd {
        /// The offset asked for.
        offset: u64,
        /// The length asked for.
        len: usize,
        /// The file's size.
        size: u64,
    },
    /// `offset + len` overflows a 64-bit file position.
    Overflow {
        /// The offset asked for.
        offset: u64,
        /// The length asked for.
        len: usize,
    },
    /// The rest of the file past the offset is more bytes than the address space holds.
    TooLong {
        /// The bytes that would have to be mapped.
        bytes: u64,
    },
    /// The descriptor is a directory.
    Directory {
        /// Whether the descriptor is open for reading.
        readable: bool,
        /// Whether the descriptor is open for writing.
        writable: bool,
    },
    /// The descriptor is a FIFO, pipe or socket: no random access.
    NoRandomAccess {
        /// A socket (rather than a FIFO or pipe).
        socket: bool,
        /// Whether the descriptor is open for reading.
        readable: bool,
        /// Whether the descriptor is open for writing.
        writable: bool,
    },
    /// A device file (no size) with no length given.
    DeviceNeedsLength,
    /// Growing the file (`grow(true)`) needs a descriptor open for writing.
    GrowNeedsWrite,
}

impl WindowError {
    /// The window error inside `err`, if the map call failed on the window policy.
    pub fn of(err: &io::Error) -> Option<WindowError> {
        err.get_ref()?.downcast_ref::<WindowError>().copied()
    }

    fn kind(self) -> io::ErrorKind {
        match self {
            WindowError::Directory { .. } => io::ErrorKind::IsADirectory,
            WindowError::GrowNeedsWrite => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::InvalidInput,
        }
    }
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WindowError::OffsetPastEnd { offset, size } => {
                write!(f, "offset {offset} is past the end of the {size}-byte file")
            }
            WindowError::PastEnd { offset, size, .. } if offset > size => write!(
                f,
                "offset {offset} is past the end of the {size}-byte file \
                 (use grow(true) to extend the file)"
            ),
            WindowError::PastEnd { offset, len, size } => write!(
                f,
                "window {offset}..{end} (offset {offset} + length {len}) runs past the end of \
                 the {size}-byte file (use grow(true) to extend the file)",
                end = offset + len as u64
            ),
            WindowError::Overflow { offset, len } => write!(
                f,
                "offset {offset} plus length {len} overflows a 64-bit file position"
            ),
            WindowError::TooLong { bytes } => write!(
                f,
                "the {bytes}-byte rest of the file does not fit in the address space"
            ),
            WindowError::Directory { .. } => f.write_str("cannot map a directory"),
            WindowError::NoRandomAccess { .. } => f.write_str(
                "cannot map the file: it is a FIFO, pipe or socket, which has no random access",
            ),
            WindowError::DeviceNeedsLength => {
                f.write_str("a device file has no size: give the map a non-zero length")
            }
            WindowError::GrowNeedsWrite => {
                f.write_str("growing the file needs it open for writing")
            }
        }
    }
}

impl std::error::Error for WindowError {}

impl From<WindowError> for io::Error {
    fn from(err: WindowError) -> Self {
        io::Error::new(err.kind(), err)
    }
}

/// Checks `offset` and `len` (`None`: to the end of the file) against the file open as `fd`,
/// with one `fstat` (plus one `fcntl` only on the way to refusing a directory, FIFO or socket,
/// or before growing a file). Nothing changes on disk here: growth happens when mapping.
pub(crate) fn check(
    fd: sys::Desc<'_>,
    offset: u64,
    len: Option<usize>,
    grow: bool,
) -> io::Result<Window<'_>> {
    let info = sys::file_info(fd)?;
    let window = |len, regular, grow_from| Window {
        fd,
        offset,
        len,
        regular,
        grow_from,
    };
    let modes = || sys::desc_access(fd);
    match info.kind {
        FileKind::Directory => {
            let (readable, writable) = modes()?;
            return Err(WindowError::Directory { readable, writable }.into());
        }
        FileKind::Fifo | FileKind::Socket => {
            let (readable, writable) = modes()?;
            return Err(WindowError::NoRandomAccess {
                socket: info.kind == FileKind::Socket,
                readable,
                writable,
            }
            .into());
        }
        FileKind::Device => {
            let len = len.ok_or(WindowError::DeviceNeedsLength)?;
            return Ok(window(len, false, None));
        }
        FileKind::Regular => {}
    }
    let size = info.size;
    let Some(len) = len else {
        // The rest of the file: empty for an empty file or an offset at its end, as a slice
        // `bytes[size..]` is (memmap2 maps these too).
        if offset > size {
            return Err(WindowError::OffsetPastEnd { offset, size }.into());
        }
        let bytes = size - offset;
        let len = usize::try_from(bytes).map_err(|_| WindowError::TooLong { bytes })?;
        return Ok(window(len, true, None));
    };
    let end = offset
        .checked_add(len as u64)
        .ok_or(WindowError::Overflow { offset, len })?;
    if end <= size {
        return Ok(window(len, true, None));
    }
    if !grow {
        return Err(WindowError::PastEnd { offset, len, size }.into());
    }
    if !modes()?.1 {
        return Err(WindowError::GrowNeedsWrite.into());
    }
    Ok(window(len, true, Some(size)))
}
