//! How a command ends: an [`Outcome`] (exit 0, 1 or 2) or a [`Failure`] printed as one line.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How a command that ran to its end went; decides the exit status like grep's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: done, or something was found.
    Success,
    /// Exit 1: nothing was found (find, grep, replace).
    NothingFound,
    /// Exit 2: errors were already reported on stderr, but the command went on (grep with
    /// several files).
    Reported,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        ExitCode::from(match outcome {
            Outcome::Success => 0,
            Outcome::NothingFound => 1,
            Outcome::Reported => 2,
        })
    }
}

/// Why a command stopped. Each prints as a single line starting `mmapfile: `.
#[derive(Debug)]
pub enum Failure {
    /// Something about a file the user named (or a file the demo made).
    File { path: PathBuf, cause: String },
    /// Writing to standard output failed. A closed pipe (`| head`) is not worth a message.
    Stdout(io::Error),
    /// An argument that cannot be used, whatever the files hold.
    Argument(String),
}

impl Failure {
    /// An I/O error on `path`. A file truncated under its map (the core's typed
    /// [`is_truncated`](mmapfile::is_truncated) payload) is said to be so in plain words
    /// first, since the core's message is about offsets in the map.
    pub fn io(path: &Path, err: io::Error) -> Self {
        if mmapfile::is_truncated(&err) {
            return Self::at(
                path,
                format!(
                    "the file shrank while mmapfile was using it (another program truncated \
                     it): {}",
                    describe(&err)
                ),
            );
        }
        Self::at(path, describe(&err))
    }

    /// A problem with `path`, in our own words.
    pub fn at(path: &Path, cause: impl Into<String>) -> Self {
        Self::File {
            path: path.to_path_buf(),
            cause: cause.into(),
        }
    }

    /// Whether this is standard output being closed under us, which ends the command quietly.
    pub fn is_closed_stdout(&self) -> bool {
        matches!(self, Self::Stdout(err) if err.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, cause } => {
                write!(f, "mmapfile: {}: {}", path.display(), one_line(cause))
            }
            Self::Stdout(err) => {
                write!(f, "mmapfile: writing to standard output: {}", describe(err))
            }
            Self::Argument(message) => write!(f, "mmapfile: {}", one_line(message)),
        }
    }
}

/// Prints one line on stderr. Unlike `eprintln!`, a stderr that cannot be written to is
/// ignored rather than turned into a panic: there is nowhere left to report to.
pub fn report(line: impl fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// An `io::Error` as a short phrase: the OS's text without the " (os error N)" suffix.
pub fn describe(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .unwrap_or(&text)
            .to_string(),
        None => text,
    }
}

/// Folds a message onto one line so that every failure is exactly one line on stderr.
fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn os_errors_lose_their_code_suffix() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(describe(&err), "No such file or directory");
        let custom = io::Error::new(io::ErrorKind::InvalidInput, "cannot map an empty file");
        assert_eq!(describe(&custom), "cannot map an empty file");
    }

    #[test]
    fn every_failure_prints_as_one_line() {
        let failure = Failure::at(Path::new("a.txt"), "first\n  second\n\nthird");
        assert_eq!(failure.to_string(), "mmapfile: a.txt: first; second; third");
        let failure = Failure::Argument("bad\nregex".into());
        assert_eq!(failure.to_string(), "mmapfile: bad; regex");
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_truncated_file_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrinks.txt");
        std::fs::write(&path, vec![b'x'; 3 * mmapfile::page_size()]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: the truncation below is the point; the fault guard turns it into an error.
        let map = unsafe { mmapfile::MmapOptions::new().map(&file) }.unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1)
            .unwrap();
        let err = map.copy_range(..).unwrap_err();
        let text = Failure::io(&path, err).to_string();
        assert!(
            text.contains("shrank while mmapfile was using it") && text.contains("truncated"),
            "{text}"
        );
        let other = Failure::io(&path, io::ErrorKind::UnexpectedEof.into()).to_string();
        assert!(!other.contains("shrank"), "{other}");
    }

    #[test]
    fn only_a_broken_pipe_is_a_quiet_stdout_failure() {
        assert!(Failure::Stdout(io::ErrorKind::BrokenPipe.into()).is_closed_stdout());
        assert!(!Failure::Stdout(io::ErrorKind::WriteZero.into()).is_closed_stdout());
        assert!(!Failure::at(Path::new("x"), "broken pipe").is_closed_stdout());
    }
}
