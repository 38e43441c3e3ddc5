//! Substring search over byte slices: the kernels behind `find`, `rfind` and friends.

use memchr::memmem;

/// The first index of `needle` in `haystack`; an empty needle is found at 0.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memmem::find(haystack, needle)
}

/// The last index of `needle` in `haystack`; an empty needle is found at `haystack.len()`.
pub(crate) fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memmem::rfind(haystack, needle)
}
