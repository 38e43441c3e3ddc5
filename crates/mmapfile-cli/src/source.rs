//! Opening the files the user names and mapping them, with the checks every command shares.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use mmapfile::{Mmap, MmapMut, MmapOptions};

use crate::failure::Failure;

/// What a command will do to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Read,
    /// Change it through a write-through map: it must be writable.
    Write,
}

/// A regular file, open, with the size it had when opened.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    file: File,
    size: u64,
}

impl Source {
    pub fn open(path: &Path, purpose: Purpose) -> Result<Self, Failure> {
        // Look before opening: opening a FIFO would block until some writer shows up.
        let meta = fs::metadata(path).map_err(|err| Failure::io(path, err))?;
        if meta.is_dir() {
            return Err(Failure::at(path, "is a directory"));
        }
        if !meta.is_file() {
            return Err(Failure::at(
                path,
                "not a regular file (pipes, sockets and devices have no size to map)",
            ));
        }
        // Checked here rather than left to open(2) because root may open any file for
        // writing: a file nobody may write is not ours to change, whoever runs us.
        if purpose == Purpose::Write && meta.permissions().readonly() {
            return Err(Failure::at(
                path,
                "the file is read-only (no write permission); it was not changed",
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(purpose == Purpose::Write)
            .open(path)
            .map_err(|err| Failure::io(path, err))?;
        let size = file.metadata().map_err(|err| Failure::io(path, err))?.len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            size,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// An I/O error about this file.
    pub fn fail(&self, err: io::Error) -> Failure {
        Failure::io(&self.path, err)
    }

    /// Maps `window` (byte offsets into the file, `end <= size`) read-only, at whatever offset
    /// it starts: the crate hides the page alignment. `None` for an empty window, which no OS
    /// can map.
    pub fn map_window(&self, window: Range<u64>) -> Result<Option<Mmap>, Failure> {
        let len = window.end.saturating_sub(window.start);
        if len == 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| {
            Failure::at(
                &self.path,
                format!("the {len}-byte window does not fit in this machine's address space"),
            )
        })?;
        // SAFETY: a command line tool cannot stop other processes from changing the files it
        // is given. It reads mapped bytes only through the crate's checked calls (`with_bytes`,
        // `find_in`, `rfind_in`), so a file truncated under it is reported as an error instead
        // of killing the process with SIGBUS, and no borrow of the map outlives one such call.
        // A concurrent rewrite can at worst make the output inconsistent, as for any reader.
        let map = unsafe {
            MmapOptions::new()
                .offset(window.start)
                .len(len)
                .map(&self.file)
        };
        map.map(Some).map_err(|err| self.fail(err))
    }

    /// Maps the whole file writable: write-through, or copy-on-write for a preview that must
    /// not reach the file. `None` for an empty file.
    pub fn map_whole_mut(&self, copy_on_write: bool) -> Result<Option<MmapMut>, Failure> {
        if self.size == 0 {
            return Ok(None);
        }
        let options = MmapOptions::new();
        // SAFETY: as in `map_window`; in addition, the write-through map is the only writer
        // this process has, and bytes are changed only through the crate's checked calls
        // (`write_at`, `move_within`, `resize`).
        let map = unsafe {
            if copy_on_write {
                options.map_copy(&self.file)
            } else {
                options.map_mut(&self.file)
            }
        };
        map.map(Some).map_err(|err| self.fail(err))
    }
}
