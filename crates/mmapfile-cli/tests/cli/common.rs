//! What the tests share: the binary, scratch files, and the shape of an error.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::assert::Assert;
use assert_cmd::Command;
use tempfile::TempDir;

/// The guide's text, as bundled in the binary.
pub const LOREM: &[u8] = include_bytes!("../../../mmapfile/examples/lorem.txt");

pub fn mmapfile() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mmapfile"))
}

/// Runs `mmapfile SUBCOMMAND FILE ARGS...`.
pub fn on(subcommand: &str, file: &Path, args: &[&str]) -> Assert {
    mmapfile().arg(subcommand).arg(file).args(args).assert()
}

/// A temporary directory to put test files in.
pub struct Scratch {
    dir: TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A writable file holding `bytes`.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, bytes).expect("writing a test file");
        path
    }

    pub fn missing(&self) -> PathBuf {
        self.dir.path().join("no-such-file.txt")
    }
}

/// Several pages of distinct lines, so windows and moves cross page boundaries.
pub fn pages() -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut line = 0;
    while bytes.len() < 3 * 4096 + 123 {
        bytes.extend_from_slice(
            format!("line {line:05} of the pages, marker-{}\n", line % 7).as_bytes(),
        );
        line += 1;
    }
    bytes
}

/// Every start of `needle` in `hay`, left to right without overlap.
pub fn occurrences(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut at = 0;
    while at + needle.len() <= hay.len() {
        if &hay[at..at + needle.len()] == needle {
            found.push(at);
            at += needle.len();
        } else {
            at += 1;
        }
    }
    found
}

/// `hay` with the first (or every) occurrence of `old` replaced, like Python's replace.
pub fn replaced(hay: &[u8], old: &[u8], new: &[u8], all: bool) -> Vec<u8> {
    let mut offsets = occurrences(hay, old);
    if !all {
        offsets.truncate(1);
    }
    let mut out = Vec::new();
    let mut from = 0;
    for at in offsets {
        out.extend_from_slice(&hay[from..at]);
        out.extend_from_slice(new);
        from = at + old.len();
    }
    out.extend_from_slice(&hay[from..]);
    out
}

/// The command failed the way every error must: exit 2, exactly one line on stderr that
/// starts with "mmapfile: " and names `subject` and the cause, and no panic.
pub fn fails(assert: Assert, subject: &str, cause: &str) -> Assert {
    let assert = assert.code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one error line, got {stderr:?}");
    assert!(stderr.starts_with("mmapfile: "), "{stderr:?}");
    assert!(
        stderr.contains(subject),
        "{stderr:?} should name {subject:?}"
    );
    assert!(stderr.contains(cause), "{stderr:?} should say {cause:?}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"));
    assert
}

/// A path as it appears in messages.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// The OS's words for a missing file ("No such file or directory" on Unix, "The system
/// cannot find the file specified." on Windows), taken from the OS itself.
pub fn missing_file_text() -> String {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let err = fs::File::open(dir.path().join("missing")).expect_err("the file is missing");
    let code = err.raw_os_error().expect("an OS error");
    err.to_string()
        .trim_end_matches(&format!(" (os error {code})"))
        .to_string()
}
