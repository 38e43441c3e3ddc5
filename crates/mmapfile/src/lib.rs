//! Memory-mapped files done right.
//!
//! `mmapfile` maps a whole file or any window of it (any offset: alignment is handled
//! inside), read-only, write-through or copy-on-write, or anonymous memory, and lets you use
//! the map two ways at once, as in Python's `mmap`:
//!
//! - **as a file**, with a cursor: [`read_vec`](Mmap::read_vec), [`read_byte`](Mmap::read_byte),
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
//! assert_eq!(map.read_vec(10)?, b"Lorem ipsu");
//! assert_eq!(&map[..10], b"Lorem ipsu");
//! assert_eq!(map.read_vec(10)?, b"m dolor si");
//! # Ok(()) }
//! ```
//!
//! # One map type, three kinds
//!
//! [`Mmap`], [`MmapMut`] and [`DynMmap`] are one type, [`Map<K>`](Map), whose [`kind`] `K`
//! says what it can do: [`Mmap`] reads, [`MmapMut`] reads and writes, [`DynMmap`] checks its
//! access at run time, and [`MmapRaw`] hands out only a pointer and a length (for atomics
//! and volatile access to memory shared with other threads or processes). Each method is
//! written once, in the `impl` block of the kinds that have it, and is listed once, on
//! [`Map`]: a write method is not even there on an [`Mmap`], so writing to a read-only map
//! is a compile error. The methods are inherent: no trait needs importing.
//!
//! A map changes its access in place, without remapping
//! ([`make_mut`](Map::make_mut), [`make_read_only`](Map::make_read_only)), and locks its
//! pages in memory ([`lock`](Map::lock), [`unlock`](Map::unlock)).
//!
//! # The contract of a file-backed map
//!
//! Mapping a file hands the program memory whose contents another process can change at any
//! time, which Rust's references cannot express. That is why the file-backed constructors are
//! `unsafe fn`. While a map is alive, the caller promises that no other process or thread
//! changes the bytes of the mapped window that the program is reading through a `&[u8]`,
//! and that the file is not truncated below the window. A truncation is a breach of that
//! contract which the fault guard makes *survivable* for the crate's own methods: they return
//! an error instead of letting the process die of `SIGBUS`. It does not make borrowed slices
//! sound: a `&[u8]` obtained through `Deref`, `as_slice`, `remaining` or a buffer export can
//! see its bytes turn to zeros while it is borrowed (the guard swaps a zero page in), which
//! Rust's model counts as undefined behaviour, as with any other change to mapped memory
//! under a shared reference (memmap2 and ripgrep describe the same limit).
//!
//! # The fault guard (truncated files)
//!
//! **What it does.** When a mapped file shrinks, touching a page past its new end raises
//! `SIGBUS`, which kills the process. On Linux, Android, macOS and FreeBSD (tested on Linux,
//! x86-64 and 32-bit x86; the others are compile-checked only), the first file map a process creates installs one
//! process-wide handler for the fault signal (`SIGBUS`; on FreeBSD also `SIGSEGV`) and
//! registers every file map in a lock-free table. When a fault hits one of this crate's maps, the handler maps a page of
//! zeros over the missing page, marks the map, and lets the program go on; the crate's method
//! that was running then returns an [`io::ErrorKind::UnexpectedEof`](std::io::ErrorKind)
//! error saying "the file was truncated while mapped". Faults anywhere else go to the handler
//! that was installed before (Rust's own, Python's `faulthandler`, or the default action), so
//! other crashes still crash.
//!
//! After a truncation the map stays usable for the bytes that still exist: accesses wholly
//! below the vanished region succeed; an access that reaches it (`read_vec`, `find`, `rfind`,
//! `readline`, `copy_range`, `with_bytes`, `get_byte`, `write`, `write_at`, `set_byte`, …)
//! is an error, also from other threads and also for writes (whose bytes below the new end
//! may have been written); `flush` compares the file's size with the range and reports the
//! truncation even before any fault; `close` works as usual. The one blind spot is the
//! rest of the page that holds the new end: the OS keeps that page, so its bytes past the
//! end read as zeros and take writes (which never reach the file) without a fault, until a
//! fault elsewhere or a `flush` has revealed the truncation; from then on they are refused
//! too. Slices borrowed through `Deref`, `as_slice` or `remaining` are not checked: through
//! them the vanished bytes read as zeros.
//!
//! **On Windows** a file cannot shrink under a live view (the OS refuses), but a view whose
//! file cannot deliver a page (I/O failing on a network share or removable media) faults
//! with `EXCEPTION_IN_PAGE_ERROR`. The guard there is a vectored exception handler that
//! claims in-page errors and access violations (wine reports a vanished page as one) inside
//! the crate's file maps, and only accesses the view's protection allows. Windows cannot
//! replace one page of a view, so the whole view becomes zeros and the whole map is marked:
//! every later access through the crate is an error, even below the file's end. Tested under
//! wine, where a Unix program cuts the file; not on a real Windows machine.
//!
//! **What it costs.** Each method call that touches the memory reads the map's mark before
//! and after the access: two relaxed atomic loads, nothing per byte. Creating and dropping a
//! file map claims and frees a slot in the table. The handler itself runs only on a fault.
//!
//! **How to opt out.** Set the environment variable `MMAPFILE_NO_FAULT_GUARD=1` before the
//! first file map is created: no handler is installed, and a truncated file kills the process
//! with `SIGBUS` as with any other mmap. [`fault_guard_active`] tells whether it is on.
//!
//! **Other signal handlers.** The guard installs itself in one `sigaction` call and hands
//! every signal that is not about its maps to the handler it replaced, as the kernel would
//! have (that handler's mask and flags, `SA_RESETHAND`, `SIG_IGN`, `SIG_DFL`). A handler
//! installed *after* it (Python's `faulthandler`, a C library) does not switch it off: each
//! time a file map is made or resized, a truncation is reported, or [`fault_guard_active`]
//! is called, the guard checks the disposition and, if another handler took its place, goes
//! back on top and chains to that handler. A handler on top that passes the signal on (calls
//! the handler it replaced, or puts it back and raises again, as `faulthandler` does) keeps
//! the guard working even before that; `faulthandler` then prints its report once, and the
//! access still returns the error. What is not covered: a fault between the moment another
//! handler that does *not* pass the signal on (or `SIG_DFL` put back, as
//! `faulthandler.disable()` does when it was enabled before the first map) takes over and
//! the next map, resize or reported truncation; the process then dies as without the guard.
//!
//! **Limits.** At the process's mapping limit (Linux's `vm.max_map_count`) the zero page
//! needs a new mapping: the guard keeps a few spare mappings to give back for it, and if
//! even that fails, it replaces the whole map with zeros and reports it gone from offset 0
//! (an error, not a death). A panic of the regex engine in
//! [`regex_find_iter`](DynMmap::regex_find_iter), or of a [`DynMmap::scan_with`] closure
//! (for third-party code that trusts what it read), whose bytes changed under it, is turned
//! into an error; the crate then wraps the process's panic hook (once) to keep that panic's
//! message off stderr. Built with `panic = "abort"`, such a panic aborts.
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
mod guard;
pub mod kind;
mod mem;
mod options;
mod raw;
mod records;
mod scan;
mod search;
pub(crate) mod sys;
mod typed;
mod walk;
mod window;

pub use dynmap::{DynMmap, Map};
pub use error::{is_truncated, ConvertError, Truncated};
pub use options::{Access, Advice, MmapOptions};
pub use raw::MmapRaw;
pub use scan::{FindIter, Lines, RegexMatch, RegexMatches};
pub use sys::AsDesc;
pub use typed::{Mmap, MmapMut};
pub use walk::WalkStep;
pub use window::{Window, WindowError};
/// The traits that say which types [`DynMmap::records`] can view a map as.
pub use zerocopy;

/// Whether the fault guard protects this process's file maps (see
/// [the crate docs](crate#the-fault-guard-truncated-files)). It is installed with the first
/// file map, or by this call (which also puts it back on top of any signal handler installed
/// since); it is off when `MMAPFILE_NO_FAULT_GUARD` was set (to anything but `0` or the empty
/// string) before that, and on platforms other than Linux, Android, macOS, FreeBSD and
/// Windows.
pub fn fault_guard_active() -> bool {
    guard::active()
}

/// The page size of this machine.
pub fn page_size() -> usize {
    sys::page_size()
}

/// The alignment the OS demands of mapping offsets (the page size on Unix, 64 KiB on
/// Windows). The crate aligns for you; this is for callers that want to match it.
pub fn allocation_granularity() -> usize {
    sys::allocation_granularity()
}

/// The huge page sizes this system supports, in bytes, smallest first (on x86_64 Linux
/// typically 2 MiB and 1 GiB); empty where there are none or the crate cannot tell.
///
/// On Linux and Android these are the sizes the kernel lists under
/// `/sys/kernel/mm/hugepages`. A size listed is one the kernel can map, not a promise that
/// pages of it are reserved: an explicit huge page map ([`MmapOptions::huge`],
/// `MAP_HUGETLB`) also needs pages in that size's pool (`nr_hugepages`), which is 0 unless an
/// administrator set it. Transparent
/// huge pages ([`Advice::HugePage`]) need no pool and use the smallest size. Other systems
/// report none for now (macOS superpages, FreeBSD's `getpagesizes` and Windows large pages
/// are not asked).
///
/// ```
/// let sizes = mmapfile::huge_page_sizes();
/// assert!(sizes.windows(2).all(|pair| pair[0] < pair[1]));
/// assert!(sizes.iter().all(|&size| size > mmapfile::page_size()));
/// ```
pub fn huge_page_sizes() -> Vec<usize> {
    sys::huge_page_sizes()
}

/// The Rust examples of the repository's README run as doc tests, so the tour cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
