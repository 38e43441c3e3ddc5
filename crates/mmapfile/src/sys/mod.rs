//! Every operating-system call the crate makes lives below this module, and this module
//! knows nothing above it: the rest of the crate depends on it, never the other way round.
//!
//! Each platform file exports the same items: the inner mapping type [`MapInner`],
//! the page-size query and the small file helpers the portable code needs. The Unix file
//! also holds the signal primitives of the fault guard (`guard.rs` keeps the registry and
//! the policy; every `sigaction`, `mmap`, `raise` it needs is a small function here).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::AsDesc;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::AsDesc;
#[cfg(windows)]
pub(crate) use windows::*;

/// The memory protection of a mapping, as handed to the OS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protection {
    Read,
    ReadWrite,
    #[cfg_attr(not(unix), allow(dead_code))]
    Raw(i32),
}

/// Advice for the kernel's paging of a map, given with `advise`.
///
/// Only advice that never changes the contents of the map is offered here; on Unix the
/// others are reachable through the `unsafe` `DynMmap::advise_raw`.
/// Windows has an equivalent for `Normal` and `WillNeed` (`PrefetchVirtualMemory`) only: the
/// others return [`std::io::ErrorKind::Unsupported`] there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Advice {
    /// No special treatment (`MADV_NORMAL`).
    Normal,
    /// Expect random access: read ahead less (`MADV_RANDOM`).
    Random,
    /// Expect sequential access: read ahead aggressively (`MADV_SEQUENTIAL`).
    Sequential,
    /// Expect access soon: start reading now (`MADV_WILLNEED`).
    WillNeed,
    /// Back the range with transparent huge pages where possible (Linux; `MADV_NORMAL` elsewhere).
    HugePage,
    /// Do not use transparent huge pages for the range (Linux; `MADV_NORMAL` elsewhere).
    NoHugePage,
}

/// Huge page sizes on Windows: not asked yet (`GetLargePageMinimum` would give the one
/// large page size, usable only with the lock-pages privilege), so none are reported.
#[cfg(windows)]
pub(crate) fn huge_page_sizes() -> Vec<usize> {
    Vec::new()
}
