//! `mmapfile` for Python: a drop-in replacement for CPython's `mmap` module, built on the
//! core crate's [`mmapfile::DynMmap`].
//!
//! `import mmapfile as mmap` and existing code keeps working: same constructor, methods,
//! constants, exceptions and messages as CPython 3.13 on every supported version (3.9+),
//! plus what CPython lacks: searches, copies, flush and resize run with the GIL released,
//! and a file truncated under the map is reported instead of killing the interpreter.
//! The bindings only translate arguments and errors; all mapping logic is in the core.

use pyo3::prelude::*;

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
    constants
}

/// A drop-in replacement for CPython's mmap module, built on the Rust crate mmapfile.
///
/// `import mmapfile as mmap`: the same `mmap` class, constants and errors as CPython 3.13;
/// long operations release the GIL, and a file truncated under a map raises OSError
/// instead of crashing the interpreter.
#[pymodule]
fn mmapfile(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<handle::PyMmap>()?;
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
