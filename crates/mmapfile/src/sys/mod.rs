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

/// What a mapping asks of the OS beyond its protection and sharing: the typed flags of
/// `MmapOptions` (`populate`, `locked`, `no_reserve`, `stack`, `huge`), in this layer's own
/// terms. Each platform file translates what it has and refuses what it has not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MapFlags {
    /// Pre-fault the pages when the mapping is made.
    pub populate: bool,
    /// Lock the pages in memory (`MAP_LOCKED`).
    pub locked: bool,
    /// Reserve no swap space for the mapping (`MAP_NORESERVE`).
    pub no_reserve: bool,
    /// The memory is a thread stack (`MAP_STACK`).
    pub stack: bool,
    /// Back anonymous memory with huge pages (`MAP_HUGETLB`).
    pub huge: Option<HugePages>,
}

/// Which huge pages an anonymous mapping asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HugePages {
    /// The kernel's default huge page size.
    Default,
    /// Pages of `1 << log2` bytes.
    Log2(u8),
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
    /// Back the range with transparent huge pages where possible (`MADV_HUGEPAGE`, Linux and
    /// Android; `MADV_NORMAL` on other Unix systems; refused on Windows).
    ///
    /// What it does: with `/sys/kernel/mm/transparent_hugepage/enabled` set to `madvise`
    /// (or `always`), anonymous memory in the range, and the private pages a copy-on-write
    /// map has written, may be backed by huge pages (2 MiB on x86-64), by the page fault or
    /// later by `khugepaged`. No pool is needed, unlike
    /// [`MmapOptions::huge`](crate::MmapOptions::huge).
    ///
    /// What it does not do: it promises nothing, and for the pages of a *file* map it is
    /// mostly a no-op. The page cache of a regular file gets huge pages only on file systems
    /// with large folios (XFS, ext4 on recent kernels, tmpfs with `huge=` set) or, for
    /// read-only maps of executables and other files, on kernels built with
    /// `CONFIG_READ_ONLY_THP_FOR_FS` where `khugepaged` collapses them; a write-through map
    /// of an ordinary file mostly keeps small pages. It never changes the map's contents.
    HugePage,
    /// Do not use transparent huge pages for the range (`MADV_NOHUGEPAGE`, Linux and
    /// Android; `MADV_NORMAL` on other Unix systems; refused on Windows), e.g. to keep
    /// sparse memory from being filled out to 2 MiB at a time. It never changes the map's
    /// contents.
    NoHugePage,
}

/// Huge page sizes on Windows: not asked yet (`GetLargePageMinimum` would give the one
/// large page size, usable only with the lock-pages privilege), so none are reported.
#[cfg(windows)]
pub(crate) fn huge_page_sizes() -> Vec<usize> {
    Vec::new()
}
