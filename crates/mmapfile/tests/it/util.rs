//! Helpers shared by the integration tests.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A temporary directory holding `name` with `contents`; keep the directory alive.
pub fn temp_file(contents: &[u8]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("data.bin");
    std::fs::write(&path, contents).expect("write the test file");
    (dir, path)
}

/// Opens `path` for reading and writing.
pub fn open_rw(path: &Path) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open the test file read-write")
}

/// Opens `path` read-only.
pub fn open_ro(path: &Path) -> File {
    File::open(path).expect("open the test file read-only")
}

/// `len` bytes of recognisable text: the byte at `i` depends on `i`.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"0123456789abcdefghij\n"[i % 21])
        .collect()
}

/// Asserts that `result` failed with `kind` and that its message contains every one of
/// `parts` (the argument and the bound it broke).
#[track_caller]
pub fn expect_err<T: Debug>(result: io::Result<T>, kind: io::ErrorKind, parts: &[&str]) {
    let err = result.expect_err("the call should have failed");
    assert_eq!(err.kind(), kind, "wrong kind for error {err:?}");
    let message = err.to_string();
    for part in parts {
        assert!(
            message.contains(part),
            "message {message:?} should mention {part:?}"
        );
    }
}
