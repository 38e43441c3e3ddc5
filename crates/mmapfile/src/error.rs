//! Constructors for the crate's `io::Error`s, so every message names the argument and the bound.

use std::io;

pub(crate) fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// `what` (e.g. "seek position 11") is past the end of a `len`-byte map.
pub(crate) fn past_end(what: std::fmt::Arguments<'_>, len: usize) -> io::Error {
    invalid_input(format!("{what} is past the end of the {len}-byte map"))
}

pub(crate) fn read_only(operation: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("cannot {operation}: the map is read-only"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_argument_and_the_bound() {
        let err = past_end(format_args!("seek position {}", 11), 10);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            "seek position 11 is past the end of the 10-byte map"
        );
        let err = read_only("write");
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(err.to_string(), "cannot write: the map is read-only");
    }
}
