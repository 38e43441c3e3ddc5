//! `lock()` / `unlock()`: pages locked in memory, on every kind of map.

use std::io;

use mmapfile::{Access, Mmap, MmapMut, MmapOptions, MmapRaw};

use crate::util::{open_ro, temp_file};

/// Whether the kernel's mapping that holds `addr` is locked (`lo` in its `VmFlags`), and its
/// resident bytes. (Not its `Locked:` bytes: those are proportional, so they halve while
/// another test's forked child shares the pages.)
#[cfg(target_os = "linux")]
fn locked_and_resident(addr: *const u8) -> (bool, u64) {
    let mapping = crate::util::KernelMapping::of(addr);
    (
        mapping.flags.iter().any(|flag| flag == "lo"),
        mapping.bytes("Rss"),
    )
}

/// Unlock (never locked), lock, lock again, unlock: each succeeds, and on Linux the kernel
/// shows the `len` bytes at `ptr` locked (and resident: the lock faulted them in), then not.
fn cycle(
    name: &str,
    ptr: *const u8,
    len: usize,
    lock: impl Fn() -> io::Result<()>,
    unlock: impl Fn() -> io::Result<()>,
) {
    let _ = (ptr, len);
    unlock().unwrap_or_else(|err| panic!("{name}: unlocking an unlocked map: {err}"));
    lock().unwrap_or_else(|err| panic!("{name}: lock: {err}"));
    #[cfg(target_os = "linux")]
    {
        let (locked, resident) = locked_and_resident(ptr);
        // At least `len`: a neighbouring locked mapping of another test may merge with it.
        assert!(
            locked && resident >= len as u64,
            "{name}: after lock(): locked {locked}, {resident} of {len} bytes resident"
        );
    }
    lock().unwrap_or_else(|err| panic!("{name}: locking twice: {err}"));
    unlock().unwrap_or_else(|err| panic!("{name}: unlock: {err}"));
    #[cfg(target_os = "linux")]
    assert!(
        !locked_and_resident(ptr).0,
        "{name}: unlocked after unlock()"
    );
}

#[test]
fn every_kind_of_map_locks_and_unlocks() {
    let page = mmapfile::page_size();
    let (_dir, path) = temp_file(&vec![b'x'; 2 * page]);
    let file = open_ro(&path);
    // SAFETY: nothing changes the file while it is mapped.
    let read_only = unsafe { Mmap::map(&file) }.expect("map");
    let writable = MmapMut::map_anon(3 * page).expect("anon");
    let dynamic = MmapOptions::new()
        .len(page)
        .map_anon_dyn(Access::Copy)
        .expect("dyn");
    let raw: MmapRaw = MmapOptions::new().len(page).map_anon_raw().expect("raw");
    cycle(
        "Mmap",
        read_only.as_ptr(),
        2 * page,
        || read_only.lock(),
        || read_only.unlock(),
    );
    cycle(
        "MmapMut",
        writable.as_ptr(),
        3 * page,
        || writable.lock(),
        || writable.unlock(),
    );
    cycle(
        "DynMmap",
        dynamic.as_ptr(),
        page,
        || dynamic.lock(),
        || dynamic.unlock(),
    );
    cycle(
        "MmapRaw",
        raw.as_ptr(),
        page,
        || raw.lock(),
        || raw.unlock(),
    );
    // Locked pages still read and write as usual.
    let mut writable = writable;
    writable.lock().expect("lock");
    writable[..2].copy_from_slice(b"ok");
    assert_eq!(&writable[..2], b"ok");
}

#[test]
fn an_empty_map_locks_trivially() {
    let mut map = MmapMut::map_anon(16).expect("anon").into_dyn();
    map.resize(0).expect("resize to nothing");
    map.lock().expect("lock nothing");
    map.unlock().expect("unlock nothing");
}

/// Over the lock limit, the error says which limit and by how much. Runs in a forked child
/// (which lowers its own limit, and drops root's `CAP_IPC_LOCK` by becoming `nobody`, so
/// that the limit applies), because the limit is the whole process's.
#[test]
#[cfg(target_os = "linux")]
fn over_rlimit_memlock_the_error_names_the_limit() {
    use std::io::Write;
    // Each case: the soft limit the child sets, and what the message must say.
    for (limit, expected) in [
        (64 * 1024, "exceeds RLIMIT_MEMLOCK (65536 bytes"),
        (0, "exceeds RLIMIT_MEMLOCK (0 bytes"),
    ] {
        let map = MmapMut::map_anon(1 << 20).expect("anon");
        let mut pipe = [0; 2];
        // SAFETY: `pipe` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        // SAFETY: the child sets its limit, maybe its user, locks, writes to the pipe and
        // `_exit`s; glibc's allocator is safe to use after fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            let mut limits = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit/setrlimit/setuid/getuid only touch this process.
            unsafe {
                libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limits);
                limits.rlim_cur = limit;
                libc::setrlimit(libc::RLIMIT_MEMLOCK, &limits);
                if libc::getuid() == 0 {
                    libc::setgid(65534);
                    libc::setuid(65534);
                }
            }
            let report = match map.lock() {
                Ok(()) => "locked despite the limit".to_string(),
                Err(err) => format!("{:?}|{err}", err.kind()),
            };
            // SAFETY: `pipe[1]` is the write end we own in this child.
            let mut out =
                unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(pipe[1]) };
            let _ = out.write_all(report.as_bytes());
            drop(out);
            // SAFETY: leaves the child at once, running no destructor of the parent's state.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: the write end belongs to the child now; the read end is ours.
        unsafe { libc::close(pipe[1]) };
        // SAFETY: as above.
        let mut input = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(pipe[0]) };
        let mut report = String::new();
        std::io::Read::read_to_string(&mut input, &mut report).expect("read the report");
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        let (kind, message) = report.split_once('|').unwrap_or(("", &report));
        assert!(
            kind == "OutOfMemory" || kind == "PermissionDenied",
            "limit {limit}: wrong kind in {report:?}"
        );
        assert!(
            message.contains(expected) && message.contains("locking 1048576 bytes"),
            "limit {limit}: {message}"
        );
        assert!(message.contains("ulimit -l"), "{message}");
    }
}

#[test]
#[cfg(unix)]
fn locking_a_truncated_file_is_the_truncation_error() {
    let page = mmapfile::page_size();
    let (_dir, path) = temp_file(&vec![b'x'; 4 * page]);
    let file = open_ro(&path);
    // SAFETY: the truncation below is the point; no slice of the map is held, and lock()
    // checks the file's size before touching the pages.
    let map = unsafe { Mmap::map(&file) }.expect("map");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open")
        .set_len(page as u64)
        .expect("truncate");
    let err = map.lock().expect_err("the file is shorter than the map");
    assert!(mmapfile::is_truncated(&err), "{err}");
}
