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

/// Writes all of `data` at `offset` without moving a cursor (`pwrite` / `seek_write`).
pub fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, data, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < data.len() {
            let n = std::os::windows::fs::FileExt::seek_write(
                file,
                &data[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// Fills `buf` from `offset` without moving a cursor (`pread` / `seek_read`).
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// Opens a directory as a file handle (Windows needs `FILE_FLAG_BACKUP_SEMANTICS` for it).
pub fn open_dir(path: &Path) -> File {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    std::os::windows::fs::OpenOptionsExt::custom_flags(&mut options, 0x0200_0000);
    options.open(path).expect("open the directory")
}

/// A character device that has no size: `/dev/zero` on Unix, `NUL` on Windows.
pub fn sizeless_device() -> &'static str {
    if cfg!(windows) {
        "NUL"
    } else {
        "/dev/zero"
    }
}

/// What Linux's `/proc/self/smaps` says about the mapping that holds `addr`: its
/// permissions (e.g. `"rw-s"`) and its `Name: N kB` fields, in bytes. What the kernel
/// really did, for this mapping alone.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub struct KernelMapping {
    pub perms: String,
    /// The `VmFlags:` line's flags (`lo` for locked, `ht` for huge pages, …).
    pub flags: Vec<String>,
    fields: Vec<(String, u64)>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl KernelMapping {
    /// The entry of the mapping that holds `addr`; panics if there is none.
    pub fn of(addr: *const u8) -> Self {
        let addr = addr as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
        let mut found: Option<KernelMapping> = None;
        for line in smaps.lines() {
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or("");
            if let Some((start, end)) = first.split_once('-') {
                if let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                ) {
                    // A new mapping's header line: the previous one, if ours, is complete.
                    if found.is_some() {
                        break;
                    }
                    if (start..end).contains(&addr) {
                        let perms = words.next().expect("permissions").to_string();
                        found = Some(KernelMapping {
                            perms,
                            flags: Vec::new(),
                            fields: Vec::new(),
                        });
                    }
                    continue;
                }
            }
            if let Some(mapping) = &mut found {
                if first == "VmFlags:" {
                    mapping.flags = words.map(str::to_owned).collect();
                    continue;
                }
                if let (Some(name), Some(kb), Some("kB")) = (
                    first.strip_suffix(':'),
                    words.next().and_then(|kb| kb.parse::<u64>().ok()),
                    words.next(),
                ) {
                    mapping.fields.push((name.to_string(), kb * 1024));
                }
            }
        }
        found.unwrap_or_else(|| panic!("no mapping holds {addr:#x}"))
    }

    /// The bytes of field `name` (`Locked`, `Shared_Dirty`, …).
    pub fn bytes(&self, name: &str) -> u64 {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .unwrap_or_else(|| panic!("no {name} field in /proc/self/smaps"))
            .1
    }
}
