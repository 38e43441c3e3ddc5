//! Command line words as bytes: needles and replacements are byte strings, and so are the
//! file names printed in front of grep's matches.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::Path;

use crate::failure::Failure;

/// The bytes of an argument, exactly as given (on Unix any bytes, not only UTF-8).
#[cfg(unix)]
pub fn arg_bytes<'a>(arg: &'a OsStr, _name: &str) -> Result<&'a [u8], Failure> {
    use std::os::unix::ffi::OsStrExt;
    Ok(arg.as_bytes())
}

/// The bytes of an argument; off Unix only text arguments have a byte form.
#[cfg(not(unix))]
pub fn arg_bytes<'a>(arg: &'a OsStr, name: &str) -> Result<&'a [u8], Failure> {
    arg.to_str()
        .map(str::as_bytes)
        .ok_or_else(|| Failure::Argument(format!("{name} is not valid Unicode")))
}

/// A path as bytes for output, unchanged on Unix.
pub fn path_bytes(path: &Path) -> Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Cow::Borrowed(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        match path.to_string_lossy() {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        }
    }
}
