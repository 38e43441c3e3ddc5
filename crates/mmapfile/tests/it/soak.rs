//! A bounded concurrency soak of the fault guard: threads search, read, write, resize, map
//! and close, and fork, all over one file, while another process truncates it and extends it
//! again. No crash, no hang, every call a result or a clean truncation error, and once the
//! file is whole again no map returns stale bytes without an error.
//!
//! The soak runs in a child process (this test binary, `soak::child`) with a timeout; it
//! lasts `MMAPFILE_SOAK_SECS` seconds (default 8; CI keeps it under 60).

use std::env;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mmapfile::{page_size, DynMmap, Mmap, MmapMut};

const ROLE_VAR: &str = "MMAPFILE_IT_SOAK_ROLE";
const PATH_VAR: &str = "MMAPFILE_IT_SOAK_PATH";
const SECS_VAR: &str = "MMAPFILE_SOAK_SECS";
const PAGES: usize = 64;

/// The file's byte at `i`, whenever it exists (writers store the same values).
fn byte_at(i: usize) -> u8 {
    b'a' + (i % 23) as u8
}

fn whole_file() -> Vec<u8> {
    (0..PAGES * page_size()).map(byte_at).collect()
}

fn soak_secs() -> u64 {
    env::var(SECS_VAR)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

#[test]
fn threads_and_forks_against_a_truncating_process() {
    let mut command = child_command("soak");
    command.env_remove("MMAPFILE_NO_FAULT_GUARD");
    let timeout = Duration::from_secs(soak_secs() + 50);
    let output = crate::truncation::output_within(command, timeout);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("SOAK-OK"),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for line in stdout.lines().filter(|l| l.starts_with("soak:")) {
        println!("{line}");
    }
}

/// This test binary, to run `soak::child` in `role`.
fn child_command(role: &str) -> Command {
    let exe = env::current_exe().expect("the test binary");
    let mut command = Command::new(exe);
    command
        .args(["--exact", "soak::child", "--ignored", "--nocapture"])
        .arg("--test-threads=1")
        .env(ROLE_VAR, role);
    command
}

#[test]
#[ignore = "run in a child process by the soak test"]
fn child() {
    match env::var(ROLE_VAR).as_deref() {
        Ok("soak") => soak(),
        Ok("truncator") => truncator(Path::new(&env::var(PATH_VAR).expect("path"))),
        _ => {}
    }
}

/// The other process: cuts the file at random lengths and puts it back, until the stop file
/// appears; then leaves it whole.
fn truncator(path: &Path) {
    let stop = path.with_extension("stop");
    let full = whole_file();
    let mut seed = 0x9e37_79b9_u64;
    let mut rounds = 0;
    while !stop.exists() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let cut = (seed as usize) % full.len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("open");
        file.set_len(cut as u64).expect("cut");
        std::thread::sleep(Duration::from_micros(seed % 3000));
        file.set_len(full.len() as u64).expect("extend");
        std::os::unix::fs::FileExt::write_all_at(&file, &full[cut..], cut as u64).expect("refill");
        std::thread::sleep(Duration::from_micros((seed >> 20) % 3000));
        rounds += 1;
    }
    println!("truncator rounds: {rounds}");
}

/// A call's outcome: a value, or one of the guard's errors. Anything else fails the soak.
#[track_caller]
fn clean<T>(what: &str, result: std::io::Result<T>, errors: &AtomicUsize) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            let text = err.to_string();
            assert!(
                text.contains("truncated while mapped")
                    || text.contains("could not be read")
                    || text.contains("changed while mapped"),
                "{what}: not a clean truncation error: {err:?}"
            );
            errors.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Bytes read at `start` must be the file's bytes or zeros (a cut the truncator has not
/// refilled yet): never anything else.
#[track_caller]
fn plausible(what: &str, start: usize, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        assert!(
            b == byte_at(start + i) || b == 0,
            "{what}: byte {} is {b}",
            start + i
        );
    }
}

fn open_map(path: &Path, writable: bool) -> DynMmap {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(writable)
        .open(path)
        .expect("open");
    // SAFETY: the truncation is the point of the soak; the guard turns it into errors and
    // no plain slice of the map is read.
    unsafe {
        if writable {
            MmapMut::map_mut(&file).expect("map").into()
        } else {
            Mmap::map(&file).expect("map").into()
        }
    }
}

fn soak() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("soak.bin");
    std::fs::write(&path, whole_file()).expect("write");
    let mut truncator_process = child_command("truncator")
        .env(PATH_VAR, &path)
        .spawn()
        .expect("spawn the truncator");
    let deadline = Instant::now() + Duration::from_secs(soak_secs());
    let stop = AtomicBool::new(false);
    let (calls, errors, forks) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let re = regex::bytes::Regex::new("[a-w]{3}q").expect("regex");
    let page = page_size();
    // A map that lives through the whole soak, faulted on by one thread, checked at the end.
    let witness = open_map(&path, false);
    std::thread::scope(|scope| {
        let (path, stop, calls, errors, forks, re) = (&path, &stop, &calls, &errors, &forks, &re);
        let witness = &witness;
        scope.spawn(move || {
            let mut at = 0;
            while !stop.load(Ordering::Relaxed) {
                at = (at + 3 * page + 1) % witness.len();
                let end = (at + 2 * page).min(witness.len());
                if let Some(bytes) = clean("witness", witness.copy_range(at..end), errors) {
                    plausible("witness", at, &bytes);
                }
                calls.fetch_add(1, Ordering::Relaxed);
            }
        });
        // Searchers.
        scope.spawn(move || {
            let mut map = open_map(path, false);
            while !stop.load(Ordering::Relaxed) {
                let before = errors.load(Ordering::Relaxed);
                clean("find", map.find(b"no such bytes"), errors);
                clean("rfind", map.rfind(b"no such bytes"), errors);
                clean("count", map.count(b"abc"), errors);
                for found in map.regex_find_iter(re) {
                    if clean("regex", found, errors).is_none() {
                        break;
                    }
                }
                calls.fetch_add(4, Ordering::Relaxed);
                // A map that saw the truncation keeps reporting it: start over with a new one.
                if errors.load(Ordering::Relaxed) != before {
                    map = open_map(path, false);
                }
            }
        });
        // Readers.
        scope.spawn(move || {
            let mut map = open_map(path, false);
            let mut at = 0;
            while !stop.load(Ordering::Relaxed) {
                at = (at + 7 * page + 13) % map.len();
                if let Some(bytes) = clean(
                    "copy",
                    map.copy_range(at..(at + page).min(map.len())),
                    errors,
                ) {
                    plausible("copy", at, &bytes);
                }
                if let Some(b) = clean("get", map.get_byte(at), errors) {
                    plausible("get", at, &[b]);
                }
                map.seek(SeekFrom::Start(at as u64)).expect("seek");
                match clean("readline", map.readline(), errors) {
                    Some(line) => plausible("readline", at, &line),
                    None => map = open_map(path, false),
                }
                calls.fetch_add(3, Ordering::Relaxed);
            }
        });
        // Writers (the file's own bytes, so every reader's check still holds).
        scope.spawn(move || {
            let mut map = open_map(path, true);
            let mut at = 0;
            while !stop.load(Ordering::Relaxed) {
                at = (at + 5 * page + 3) % (map.len() - 16);
                let bytes: Vec<u8> = (at..at + 16).map(byte_at).collect();
                if clean("write_at", map.write_at(at, &bytes), errors).is_none() {
                    map = open_map(path, true);
                }
                calls.fetch_add(1, Ordering::Relaxed);
            }
        });
        // Resizers: shrink and grow their own map (and so the file) between full sizes.
        scope.spawn(move || {
            let mut map = open_map(path, true);
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let len = if round % 2 == 0 {
                    PAGES * page
                } else {
                    (PAGES - 1 - round % 8) * page
                };
                clean("resize", map.resize(len), errors);
                if let Some(bytes) = clean(
                    "copy after resize",
                    map.copy_range(..map.len().min(page)),
                    errors,
                ) {
                    plausible("copy after resize", 0, &bytes);
                }
                calls.fetch_add(2, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        // Map-and-closers.
        scope.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let map = open_map(path, false);
                if let Some(sum) = clean(
                    "with_bytes",
                    map.with_bytes(.., |b| b.iter().map(|&x| x as usize).sum::<usize>()),
                    errors,
                ) {
                    assert!(sum <= map.len() * 255);
                }
                map.close().expect("close");
                calls.fetch_add(2, Ordering::Relaxed);
            }
        });
        // Forkers: the child touches the map (raw, guarded by the inherited handler) and
        // exits; it must not die of the fault.
        scope.spawn(move || {
            let map = open_map(path, false);
            while !stop.load(Ordering::Relaxed) {
                let (ptr, len) = (map.as_slice().as_ptr() as usize, map.len());
                // SAFETY: the child reads the mapping through the raw pointer and `_exit`s,
                // calling nothing that could wait on a lock another thread held at the fork.
                let pid = unsafe { libc::fork() };
                assert!(pid >= 0, "fork");
                if pid == 0 {
                    let mut sum = 0u64;
                    for i in (0..len).step_by(page) {
                        // SAFETY: inside the child's copy of the live mapping.
                        sum +=
                            u64::from(unsafe { std::ptr::read_volatile((ptr + i) as *const u8) });
                    }
                    // SAFETY: ends the child without running anything else.
                    unsafe { libc::_exit(i32::from(sum == u64::MAX)) };
                }
                let mut status = 0;
                let waited = Instant::now();
                loop {
                    // SAFETY: our own child.
                    let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                    if done == pid {
                        break;
                    }
                    assert!(
                        waited.elapsed() < Duration::from_secs(20),
                        "a forked child hung"
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "forked child: status {status:#x}"
                );
                forks.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
    });
    std::fs::write(path.with_extension("stop"), b"").expect("stop the truncator");
    let status = truncator_process.wait().expect("wait for the truncator");
    assert!(status.success(), "the truncator: {status:?}");
    // The file is whole again: a map made before any of this either shows it exactly or
    // reports the truncation it saw; never stale bytes without an error.
    std::fs::write(&path, whole_file()).expect("rewrite whole");
    for start in (0..witness.len()).step_by(page) {
        let end = (start + page).min(witness.len());
        if let Some(bytes) = clean("witness after", witness.copy_range(start..end), &errors) {
            assert_eq!(
                bytes,
                &whole_file()[start..end],
                "stale bytes without an error at {start}"
            );
        }
    }
    let fresh = open_map(&path, false);
    assert_eq!(
        fresh.copy_range(..).expect("a fresh map of the whole file"),
        whole_file()
    );
    println!(
        "soak: {} s, {} calls, {} truncation errors, {} forks",
        soak_secs(),
        calls.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        forks.load(Ordering::Relaxed)
    );
    println!("SOAK-OK");
}
