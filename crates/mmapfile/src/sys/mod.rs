//! Every operating-system call the crate makes lives below this module.
//!
//! Each platform file exports the same items: the inner mapping type [`MapInner`],
//! the page-size query and the small file helpers the portable code needs.

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

/// Huge page sizes on Windows: not asked yet (`GetLargePageMinimum` would give the one
/// large page size, usable only with the lock-pages privilege), so none are reported.
#[cfg(windows)]
pub(crate) fn huge_page_sizes() -> Vec<usize> {
    Vec::new()
}
