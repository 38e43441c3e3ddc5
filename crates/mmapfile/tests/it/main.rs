//! The one integration-test binary of the core crate, with a module per topic.
//! Other topics add their own `mod` line here.

mod util;

mod access;
mod bad_input;
mod bytes_api;
mod convert;
mod durability;
mod empty;
mod errors;
mod file_api;
mod flags;
mod lock;
mod mapping;
mod model;
mod ops;
mod raw;
mod records;
#[cfg(unix)]
mod review;
mod search;
mod sizes;
#[cfg(unix)]
mod soak;
mod threads;
// Truncating a mapped file: Unix lets it happen (and the guard catches the fault); Windows
// refuses it, which `windows` tests.
#[cfg(unix)]
mod truncation;
mod walk;
#[cfg(windows)]
mod windows;
