//! Memory-mapped files done right.
//!
//! `mmapfile` maps a whole file or any window of it (any offset: alignment is handled
//! inside), read-only, write-through or copy-on-write, or anonymous memory, and lets you use
//! the map two ways at once, as in Python's `mmap`:
//!
//! - **as a file**, with a cursor: [`read`](Mmap::read), [`read_byte`](Mmap::read_byte),
//!   [`readline`](Mmap::readline), [`seek`](Mmap::seek), [`tell`](Mmap::tell),
//!   [`write`](MmapMut::write), [`write_byte`](MmapMut::write_byte),
//!   [`flush`](MmapMut::flush), [`close`](Mmap::close), and the std `Read`, `Write`, `Seek`
//!   and `BufRead` traits;
//! - **as a byte string**: it derefs to `[u8]`, so slicing, `regex::bytes` and `memchr`
//!   work on it directly; writable maps take slice assignment; [`find`](Mmap::find) and
//!   [`rfind`](Mmap::rfind) follow Python's rules.
//!
//! ```
//! use mmapfile::MmapOptions;
//! # fn main() -> std::io::Result<()> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("lorem.txt");
//! # std::fs::write(&path, "Lorem ipsum dolor sit amet, consectetuer adipiscing elit.\n")?;
//! let file = std::fs::File::open(&path)?;
//! // SAFETY: nothing truncates or rewrites lorem.txt while it is mapped.
//! let mut map = unsafe { MmapOptions::new().map(&file)? };
//! assert_eq!(map.read(10)?, b"Lorem ipsu");
//! assert_eq!(&map[..10], b"Lorem ipsu");
//! assert_eq!(map.read(10)?, b"m dolor si");
//! # Ok(()) }
//! ```
//!
//! # The contract of a file-backed map
//!
//! Mapping a file hands the program memory whose contents another process can change at any
//! time, which Rust's references cannot express. That is why the file-backed constructors are
//! `unsafe fn`. While a map is alive, the caller promises that no other process or thread
//! changes the bytes of the mapped window that the program is reading through a `&[u8]`,
//! and that the file is not truncated below the window. If it is truncated anyway, the
//! crate's own methods return an error instead of letting the process die of `SIGBUS`;
//! only plain slices borrowed through `Deref` may then see zeros.
//!
//! # Errors
//!
//! Every fallible call returns [`std::io::Result`] with a precise [`std::io::ErrorKind`]
//! and a message naming the argument and the bound, e.g. "seek position 11 is past the end
//! of the 10-byte map". No input makes the crate panic.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod dynmap;
mod error;
mod mem;
mod options;
mod search;
pub(crate) mod sys;
mod typed;

pub use dynmap::DynMmap;
pub use options::{Access, Advice, MmapOptions};
pub use sys::AsDesc;
pub use typed::{Mmap, MmapMut};

/// The page size of this machine.
pub fn page_size() -> usize {
    sys::page_size()
}

/// The alignment the OS demands of mapping offsets (the page size on Unix, 64 KiB on
/// Windows). The crate aligns for you; this is for callers that want to match it.
pub fn allocation_granularity() -> usize {
    sys::allocation_granularity()
}
