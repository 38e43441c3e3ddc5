//! `mmapfile` for Python: a drop-in replacement for CPython's `mmap` module, built on the
//! core crate's [`mmapfile::DynMmap`].
//!
//! `import mmapfile as mmap` and existing code keeps working: same constructor, methods,
//! constants, exceptions and messages as the running interpreter's builtin `mmap` (3.9+),
//! later CPythons' additions on every version (see the module docstring for the intended
//! differences), plus what CPython lacks: searches, copies, flush and resize run with the GIL released,
//! and a file truncated under the map is reported instead of killing the interpreter.
//! The bindings only translate arguments and errors; all mapping logic is in the core.

use pyo3::prelude::*;

mod additions;
mod args;
mod errors;
mod extras;
mod handle;
mod iter;
mod lines;
mod object;
mod recycle;
#[cfg(windows)]
mod windows;

use handle::{ACCESS_COPY, ACCESS_DEFAULT, ACCESS_READ, ACCESS_WRITE};

/// The module's integer constants, with Linux's values (CPython 3.13's set); on Windows only
/// the ACCESS_* and size constants, as CPython's Windows mmap has.
fn constants() -> Vec<(&'static str, i64)> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut constants: Vec<(&'static str, i64)> = vec![
        ("ACCESS_DEFAULT", ACCESS_DEFAULT.into()),
        ("ACCESS_READ", ACCESS_READ.into()),
        ("ACCESS_WRITE", ACCESS_WRITE.into()),
        ("ACCESS_COPY", ACCESS_COPY.into()),
        ("PAGESIZE", ::mmapfile::page_size() as i64),
        (
            "ALLOCATIONGRANULARITY",
            ::mmapfile::allocation_granularity() as i64,
        ),
    ];
    #[cfg(unix)]
    constants.extend_from_slice(&[
        ("PROT_READ", libc::PROT_READ.into()),
        ("PROT_WRITE", libc::PROT_WRITE.into()),
        ("PROT_EXEC", libc::PROT_EXEC.into()),
        ("MAP_SHARED", libc::MAP_SHARED.into()),
        ("MAP_PRIVATE", libc::MAP_PRIVATE.into()),
        ("MAP_ANON", libc::MAP_ANON.into()),
        ("MAP_ANONYMOUS", libc::MAP_ANONYMOUS.into()),
        ("MADV_NORMAL", libc::MADV_NORMAL.into()),
        ("MADV_RANDOM", libc::MADV_RANDOM.into()),
        ("MADV_SEQUENTIAL", libc::MADV_SEQUENTIAL.into()),
        ("MADV_WILLNEED", libc::MADV_WILLNEED.into()),
        ("MADV_DONTNEED", libc::MADV_DONTNEED.into()),
    ]);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    constants.extend_from_slice(&[
        ("MAP_DENYWRITE", libc::MAP_DENYWRITE.into()),
        ("MAP_EXECUTABLE", libc::MAP_EXECUTABLE.into()),
        ("MAP_POPULATE", libc::MAP_POPULATE.into()),
        ("MAP_STACK", libc::MAP_STACK.into()),
        ("MAP_NORESERVE", libc::MAP_NORESERVE.into()),
        ("MADV_FREE", libc::MADV_FREE.into()),
        ("MADV_REMOVE", libc::MADV_REMOVE.into()),
        ("MADV_DONTFORK", libc::MADV_DONTFORK.into()),
        ("MADV_DOFORK", libc::MADV_DOFORK.into()),
        ("MADV_MERGEABLE", libc::MADV_MERGEABLE.into()),
        ("MADV_UNMERGEABLE", libc::MADV_UNMERGEABLE.into()),
        ("MADV_HUGEPAGE", libc::MADV_HUGEPAGE.into()),
        ("MADV_NOHUGEPAGE", libc::MADV_NOHUGEPAGE.into()),
        ("MADV_DONTDUMP", libc::MADV_DONTDUMP.into()),
        ("MADV_DODUMP", libc::MADV_DODUMP.into()),
        ("MADV_HWPOISON", libc::MADV_HWPOISON.into()),
    ]);
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    constants.push(("MAP_32BIT", libc::MAP_32BIT.into()));
    #[cfg(unix)]
    constants.extend(
        additions::MS_CONSTANTS
            .iter()
            .map(|&(name, value)| (name, i64::from(value))),
    );
    constants
}

/// A drop-in replacement for CPython's mmap module, built on the Rust crate mmapfile.
///
/// `import mmapfile as mmap`: the same `mmap` class, constants, results, errors and messages
/// as the builtin `mmap` of the running interpreter; long operations release the GIL.
///
/// Intended differences (each one where CPython crashes, corrupts memory or cannot do
/// better; the differential test against the builtin skips exactly these):
///
/// - [truncation] A file truncated under a map: CPython dies of SIGBUS at the next access;
///   mmapfile raises OSError.
/// - [prot-none] A `prot` without PROT_READ (PROT_NONE, PROT_EXEC or PROT_WRITE alone) is
///   mapped readable (and writable if asked), because reading a map must never fault;
///   CPython's PROT_NONE map kills the interpreter at the first access.
/// - [map-fixed] `flags` with MAP_FIXED is refused (ValueError): without an address to
///   give, it would map over memory the process is using.
/// - [resize-to-0] `resize(0)` of a file map raises OSError(EINVAL) as in CPython, but the
///   file keeps its size; CPython truncates it first and is left with a map past the end of
///   its file (SIGBUS at the next access).
/// - [grow-shared-anonymous] Shared anonymous memory grows for real (it lives in a memfd
///   that grows with it; bytes cut off by an earlier shrink read as zeros); CPython's mremap
///   leaves the new pages past the first mapping's last page without memory behind them
///   (SIGBUS when touched) and shows cut-off bytes again within that page.
/// - [socket-read] A read-only map of a TCP socket is refused (ENODEV); the kernel makes
///   one, but its pages only come from TCP_ZEROCOPY_RECEIVE and any access is SIGBUS.
/// - [index-resizes] An `__index__` that shrinks or closes the map during `m[i] = v` gives
///   IndexError or ValueError; CPython writes past the end of the shrunken map.
/// - [newer-additions] What later CPythons added is offered on every version: `trackfd`,
///   `seekable()` and `seek()` returning the position (3.13); `flush(..., flags=)`, the
///   MS_* constants and `set_name()` (3.15); and mmapfile's extras (`count`, `lines`,
///   `finditer`). Where a newer CPython changed an older behaviour, the running
///   interpreter's is kept.
/// - [bound-method-keywords] Keywords given to a method that takes none: CPython names the
///   method "find()" or "mmap.find()" in its TypeError depending on how the call reached it
///   (a bound method object, the interpreter's specialised calls, the version); mmapfile's
///   methods, which use the faster calling convention, always say "mmap.find()".
/// - [set-name-shared] `set_name()` (3.15) on shared anonymous memory raises OSError: it
///   lives in a memfd here (so that it can grow and stay shared), which the kernel names by
///   its file; private anonymous memory can be named.
/// - [iterator-type] `iter(m)` is mmapfile's own iterator type, not CPython's `iterator`.
#[pymodule]
fn mmapfile(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<handle::PyMmap>()?;
    handle::init_byte_objects(m.py())?;
    let class = m.py().get_type::<handle::PyMmap>();
    object::install(&class)?;
    iter::install(&class)?;
    lines::install(&class)?;
    extras::install(&class)?;
    m.add_class::<extras::Match>()?;
    // `mmap.error` has been an alias of OSError since Python 3.3.
    m.add("error", m.py().get_type::<pyo3::exceptions::PyOSError>())?;
    for (name, value) in constants() {
        m.add(name, value)?;
    }
    Ok(())
}
