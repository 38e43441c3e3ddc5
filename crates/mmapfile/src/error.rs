//! Constructors for the crate's `io::Error`s, so every message names the argument and the bound.

use std::io;

/// The inner error of an `io::Error` that reports a file truncated under its map: the
/// error's kind is [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) and its message says what
/// vanished, and this payload lets a caller tell a truncation apart without reading the
/// message. Test for it with [`is_truncated`], or reach the details through
/// [`io::Error::get_ref`] and `downcast_ref`.
///
/// ```
/// use mmapfile::{is_truncated, Truncated};
/// # fn check(err: &std::io::Error) {
/// if let Some(truncated) = err.get_ref().and_then(|inner| inner.downcast_ref::<Truncated>()) {
///     eprintln!("bytes from map offset {} on are gone", truncated.gone_from());
/// }
/// assert_eq!(is_truncated(err), err.get_ref().is_some_and(|inner| inner.is::<Truncated>()));
/// # }
/// # check(&std::io::Error::other("not a truncation"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    gone_from: usize,
    file_end: Option<u64>,
    message: String,
}

impl Truncated {
    pub(crate) fn new(gone_from: usize, file_end: Option<u64>, message: String) -> Self {
        Truncated {
            gone_from,
            file_end,
            message,
        }
    }

    /// The offset in the map from which its bytes are known to be gone.
    pub fn gone_from(&self) -> usize {
        self.gone_from
    }

    /// Where the file now ends, as an offset in the map, when the map could still ask the
    /// file for its size (maps that keep their descriptor).
    pub fn file_end(&self) -> Option<u64> {
        self.file_end
    }
}

impl std::fmt::Display for Truncated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Truncated {}

/// Whether `err` reports a file truncated under its map (its inner error is a
/// [`Truncated`]), as opposed to any other failure, `UnexpectedEof` ones included.
pub fn is_truncated(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<Truncated>())
}

/// A failed change of a map's access ([`make_mut`](crate::Map::make_mut),
/// [`make_read_only`](crate::Map::make_read_only)): the error, and the map, handed back
/// unchanged so that it is not lost with the error.
///
/// It converts into the `io::Error` with `?`, which drops the map (unmapping it, as any
/// map going out of scope); keep it with [`into_map`](Self::into_map) or
/// [`into_parts`](Self::into_parts).
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data.txt");
/// std::fs::write(&path, b"read only")?;
/// let file = std::fs::File::open(&path)?; // not open for writing
/// // SAFETY: nothing else changes the file while it is mapped.
/// let map = unsafe { mmapfile::Mmap::map(&file)? };
/// let err = map.make_mut().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
/// let map = err.into_map(); // still mapped, still read-only
/// assert_eq!(&map[..4], b"read");
/// # Ok(()) }
/// ```
pub struct ConvertError<M> {
    error: io::Error,
    /// Boxed: a `Result` whose error holds a whole map would be large on the happy path too.
    map: Box<M>,
}

impl<M> ConvertError<M> {
    pub(crate) fn new(error: io::Error, map: M) -> Self {
        ConvertError {
            error,
            map: Box::new(map),
        }
    }

    /// What went wrong.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The error's kind.
    pub fn kind(&self) -> io::ErrorKind {
        self.error.kind()
    }

    /// The map, as it was before the call.
    pub fn into_map(self) -> M {
        *self.map
    }

    /// The error and the map.
    pub fn into_parts(self) -> (io::Error, M) {
        (self.error, *self.map)
    }
}

impl<M> std::fmt::Debug for ConvertError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvertError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<M> std::fmt::Display for ConvertError<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<M> std::error::Error for ConvertError<M> {}

impl<M> From<ConvertError<M>> for io::Error {
    fn from(err: ConvertError<M>) -> io::Error {
        err.error
    }
}

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
    fn a_truncation_is_told_apart_by_its_payload() {
        let err = io::Error::new(
            io::ErrorKind::UnexpectedEof,
            Truncated::new(4096, Some(10), "gone".into()),
        );
        assert!(is_truncated(&err));
        assert_eq!(err.to_string(), "gone");
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<Truncated>());
        assert_eq!(
            inner.map(|t| (t.gone_from(), t.file_end())),
            Some((4096, Some(10)))
        );
        assert!(!is_truncated(&io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "gone"
        )));
        assert!(!is_truncated(&io::ErrorKind::UnexpectedEof.into()));
    }

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
