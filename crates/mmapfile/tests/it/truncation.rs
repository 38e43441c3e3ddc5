//! The fault guard: a file truncated under a live map gives errors, not `SIGBUS`.
//!
//! A fault that the guard mishandles kills the process, so every scenario runs in a fresh
//! child process: this test binary re-executed with `--exact truncation::child --ignored`
//! and environment variables that pick the scenario. The parent checks that the child exited
//! normally (or, for the cases that must still crash, died of `SIGBUS`) and printed its
//! success marker.

use std::env;
use std::fs::OpenOptions;
use std::io::{Read, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use mmapfile::{page_size, Mmap, MmapMut, MmapOptions};

mod hostile;

/// The scenario a child runs.
const CASE_VAR: &str = "MMAPFILE_IT_TRUNCATION_CASE";
/// How the child's file gets truncated: `fd` (another descriptor in the same process) or
/// `child` (a grandchild process).
const HOW_VAR: &str = "MMAPFILE_IT_TRUNCATION_HOW";
/// For the grandchild: the file to truncate and the length to truncate it to.
const PATH_VAR: &str = "MMAPFILE_IT_TRUNCATION_PATH";
const LEN_VAR: &str = "MMAPFILE_IT_TRUNCATION_LEN";

/// The accesses of the acceptance list, each run over a file truncated under its map.
const ACCESSES: [&str; 10] = [
    "index", "slice", "read", "find", "rfind", "readline", "write", "item", "copy", "flush",
];

/// The marker a child prints when its scenario passed.
fn ok_marker(case: &str) -> String {
    format!("TRUNCATION-CASE-OK {case}")
}

/// How long a child may take before it counts as hung and is killed.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs scenario `case` in a fresh process, with `extra` environment variables; a child that
/// hangs is killed after [`CHILD_TIMEOUT`] (its output then says so).
fn run_child(case: &str, how: &str, extra: &[(&str, &str)]) -> Output {
    let exe = env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "truncation::child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CASE_VAR, case)
        .env(HOW_VAR, how)
        .env_remove(mmapfile_opt_out());
    for (key, value) in extra {
        command.env(key, value);
    }
    output_within(command, CHILD_TIMEOUT)
}

/// `command.output()`, but a child still running after `timeout` is killed.
pub(crate) fn output_within(mut command: Command, timeout: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child process");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait for the killed child");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = err.join().expect("stderr reader");
    if timed_out {
        stderr.extend_from_slice(
            format!("\n[killed: no exit within {timeout:?}: a hang]\n").as_bytes(),
        );
    }
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr,
    }
}

fn mmapfile_opt_out() -> &'static str {
    "MMAPFILE_NO_FAULT_GUARD"
}

/// Asserts that the child was killed by `SIGBUS`, as a process without the guard is.
#[track_caller]
fn assert_died_of_sigbus(output: &Output) {
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGBUS),
        "{}",
        describe(output)
    );
}

/// Whether the child ran `case` to its end and exited normally.
fn passed(case: &str, output: &Output) -> bool {
    output.status.success() && String::from_utf8_lossy(&output.stdout).contains(&ok_marker(case))
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?} (signal {:?})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        output.status.signal(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs each access of the list in its own process and asserts all of them pass.
fn all_accesses(how: &str) {
    let mut failures = Vec::new();
    for case in ACCESSES {
        let output = run_child(case, how, &[]);
        if !passed(case, &output) {
            failures.push(format!("{case}: {}", describe(&output)));
        }
    }
    let passed_count = ACCESSES.len() - failures.len();
    println!(
        "truncation by {how}: {passed_count}/{} accesses passed",
        ACCESSES.len()
    );
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
}

#[test]
fn truncated_from_another_fd_each_access_errors_in_a_fresh_process() {
    all_accesses("fd");
}

#[test]
fn truncated_by_a_child_process_each_access_errors_in_a_fresh_process() {
    all_accesses("child");
}

#[test]
fn eight_threads_faulting_on_one_shared_map() {
    for how in ["fd", "child"] {
        let output = run_child("threads-shared", how, &[]);
        assert!(passed("threads-shared", &output), "{}", describe(&output));
    }
}

#[test]
fn eight_threads_faulting_on_their_own_maps_of_one_file() {
    for how in ["fd", "child"] {
        let output = run_child("threads-own", how, &[]);
        assert!(passed("threads-own", &output), "{}", describe(&output));
    }
}

/// Faults handled on some threads while others create and drop maps: the registry must
/// never confuse one map with another.
#[test]
fn faults_while_other_threads_create_and_drop_maps() {
    let output = run_child("churn", "fd", &[]);
    assert!(passed("churn", &output), "{}", describe(&output));
}

/// Without the guard the same access kills the process: proof that the guard is what saves
/// the other children, and that the opt-out works.
#[test]
fn opting_out_brings_sigbus_back() {
    let output = run_child("read", "fd", &[(mmapfile_opt_out(), "1")]);
    assert_died_of_sigbus(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("guard active: false"));
}

/// A truncation fault in memory the crate does not own (here a `memmap2` map) is not
/// swallowed: it reaches the previous disposition and kills the process as before.
#[test]
fn faults_outside_our_maps_still_kill() {
    let output = run_child("foreign", "fd", &[]);
    assert_died_of_sigbus(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("guard active: true"));
}

/// A handler installed before the guard still gets the faults and signals that are not
/// ours: a `SA_SIGINFO` handler, a plain one, and `SIG_IGN`.
#[test]
fn signals_that_are_not_ours_reach_the_previous_handler() {
    for case in ["chain-siginfo", "chain-plain", "chain-ignore"] {
        let output = run_child(case, "fd", &[]);
        assert!(passed(case, &output), "{case}: {}", describe(&output));
    }
}

/// Entry point of the child processes; does nothing unless a parent picked a scenario.
#[test]
#[ignore = "run in a child process by the other truncation tests"]
fn child() {
    let Ok(case) = env::var(CASE_VAR) else {
        return;
    };
    if case == "truncate-only" {
        let path = env::var(PATH_VAR).expect("path for the grandchild");
        let len: u64 = env::var(LEN_VAR)
            .expect("length")
            .parse()
            .expect("a number");
        truncate_here(Path::new(&path), len);
        println!("{}", ok_marker(&case));
        return;
    }
    // (Asking whether the guard is active would install it: the `chain-*` cases must first
    // install the handler the guard is to chain to.)
    hostile::prepare();
    if hostile::run_case(&case) {
        println!("{}", ok_marker(&case));
        return;
    }
    match case.as_str() {
        "threads-shared" => threads_shared(),
        "threads-own" => threads_own(),
        "churn" => churn(),
        "foreign" => foreign_fault(),
        "chain-siginfo" | "chain-plain" | "chain-ignore" => chain(&case),
        access => one_access(access),
    }
    println!("{}", ok_marker(&case));
}

// ----- the scenarios (run in the child) -----

/// The file: 16 pages of letters with a newline only in the first page, so a `readline`
/// that starts later must scan to the end.
fn contents() -> Vec<u8> {
    let len = 16 * page_size();
    let mut bytes: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    bytes[40] = b'\n';
    bytes
}

/// A temporary file holding [`contents`]: its directory (keep it alive), path and bytes.
fn file_of_contents() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data.bin");
    let expected = contents();
    std::fs::write(&path, &expected).expect("write the file");
    (dir, path, expected)
}

/// Where the file is cut: three pages and a bit, so the last surviving page is partial.
fn new_len() -> usize {
    3 * page_size() + 50
}

fn truncate_here(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open a second descriptor")
        .set_len(len)
        .expect("truncate the file");
}

/// Truncates `path` as the parent asked: from another descriptor, or from a child process.
fn truncate(path: &Path, len: usize) {
    let how = env::var(HOW_VAR).unwrap_or_else(|_| "fd".to_string());
    match how.as_str() {
        "fd" => truncate_here(path, len as u64),
        "child" => {
            let output = run_child(
                "truncate-only",
                "fd",
                &[
                    (PATH_VAR, path.to_str().expect("UTF-8 temp path")),
                    (LEN_VAR, &len.to_string()),
                ],
            );
            assert!(passed("truncate-only", &output), "{}", describe(&output));
        }
        other => panic!("unknown truncation method {other}"),
    }
    assert_eq!(std::fs::metadata(path).expect("stat").len(), len as u64);
}

/// Asserts that `result` is the guard's truncation error.
#[track_caller]
fn expect_truncated<T>(what: &str, result: std::io::Result<T>) {
    let Err(err) = result else {
        panic!("{what} on a truncated map returned a value instead of an error");
    };
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::UnexpectedEof,
        "{what}: wrong error {err}"
    );
    assert!(
        err.to_string().contains("truncated while mapped"),
        "{what}: message {err}"
    );
    assert!(
        mmapfile::is_truncated(&err),
        "{what}: no Truncated payload in {err:?}"
    );
}

/// What every scenario checks afterwards: the bytes below the new end read back, the bytes
/// past it are refused, and the map closes cleanly.
fn check_survivor(map: &mmapfile::DynMmap, expected: &[u8]) {
    let end = new_len();
    assert_eq!(
        map.copy_range(..end).expect("the bytes below the new end"),
        &expected[..end]
    );
    assert_eq!(
        map.find_in(b"\n", ..end).expect("find below the end"),
        Some(40)
    );
    expect_truncated(
        "reading one byte past the new end",
        map.copy_range(end..=end),
    );
    expect_truncated("reading the whole map", map.copy_range(..));
}

fn one_access(access: &str) {
    let (_dir, path, mut expected) = file_of_contents();
    let file = crate::util::open_rw(&path);
    let page = page_size();
    let writable = matches!(access, "write" | "item" | "flush");
    let mut map: mmapfile::DynMmap = if writable {
        // SAFETY: the truncation below is the point of the test; the guard turns it into
        // errors and no plain slice of the map is held.
        unsafe { MmapMut::map_mut(&file) }.expect("map").into()
    } else {
        // SAFETY: as above.
        unsafe { Mmap::map(&file) }.expect("map").into()
    };
    println!("guard active: {}", mmapfile::fault_guard_active());
    hostile::after_map();
    if access == "flush" {
        // A change below the new end that the flush must still write back.
        map.write_at(10, b"XY").expect("write below the new end");
        expected[10..12].copy_from_slice(b"XY");
    }
    truncate(&path, new_len());
    let len = map.len();
    for attempt in ["first", "second"] {
        // The first attempt faults; the second is refused before touching the memory.
        let what = format!("{access} ({attempt} attempt)");
        match access {
            "index" => expect_truncated(&what, map.with_bytes(6 * page..=6 * page, |b| b[0])),
            "slice" => expect_truncated(&what, map.copy_range(2 * page..8 * page)),
            "read" => {
                map.seek(SeekFrom::Start(2 * page as u64)).expect("seek");
                expect_truncated(&what, map.read_vec(5 * page));
                assert_eq!(map.tell(), 2 * page as u64, "a failed read moves nothing");
            }
            "find" => expect_truncated(&what, map.find(b"not in the file")),
            "rfind" => expect_truncated(&what, map.rfind(b"not in the file")),
            "readline" => {
                map.seek(SeekFrom::Start(page as u64)).expect("seek");
                expect_truncated(&what, map.readline());
            }
            "write" => {
                map.seek(SeekFrom::Start(5 * page as u64)).expect("seek");
                expect_truncated(&what, map.write(b"lost bytes"));
            }
            "item" => expect_truncated(&what, map.write_at(7 * page, &[1])),
            "copy" => expect_truncated(&what, map.copy_range(..len)),
            "flush" => expect_truncated(&what, map.flush()),
            other => panic!("unknown access {other}"),
        }
    }
    check_survivor(&map, &expected);
    map.close().expect("close the truncated map");
    // Nothing written into the vanished region reached the file, and nothing else changed.
    assert_eq!(
        std::fs::read(&path).expect("read the file back"),
        &expected[..new_len()]
    );
}

const THREADS: usize = 8;

/// Eight threads share one read-only map and fault on it at the same moment, each with a
/// different access, starting in different vanished pages.
fn threads_shared() {
    let (_dir, path, expected) = file_of_contents();
    let file = crate::util::open_ro(&path);
    // SAFETY: the truncation is the point of the test; no plain slice is held.
    let map = unsafe { Mmap::map(&file) }.expect("map");
    hostile::after_map();
    truncate(&path, new_len());
    let page = page_size();
    let barrier = Barrier::new(THREADS);
    let errors = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (map, barrier) = (&map, &barrier);
                scope.spawn(move || {
                    let start = (4 + i) * page + i;
                    barrier.wait();
                    match i % 4 {
                        0 => map.copy_range(start..).map(|v| v.len()),
                        1 => map.find_in(b"absent", start..).map(|_| 0),
                        2 => map.rfind_in(b"absent", start..).map(|_| 0),
                        _ => map.with_bytes(start..start + page, |b| {
                            b.iter().map(|&x| usize::from(x)).sum()
                        }),
                    }
                })
            })
            .collect();
        let mut errors = 0;
        for (i, handle) in handles.into_iter().enumerate() {
            let result = handle.join().expect("the thread ran to its end");
            expect_truncated(&format!("thread {i}"), result);
            errors += 1;
        }
        errors
    });
    assert_eq!(errors, THREADS);
    let map = map.into_dyn();
    check_survivor(&map, &expected);
    map.close().expect("close");
    println!("threads-shared: {THREADS}/{THREADS} threads got the truncation error");
}

/// Eight threads, each with its own write-through map of the same file, write into and read
/// from the vanished region at the same moment.
fn threads_own() {
    let (_dir, path, expected) = file_of_contents();
    let file = crate::util::open_rw(&path);
    let mut maps: Vec<MmapMut> = (0..THREADS)
        // SAFETY: the truncation is the point of the test; no plain slice is held.
        .map(|_| unsafe { MmapMut::map_mut(&file) }.expect("map"))
        .collect();
    hostile::after_map();
    truncate(&path, new_len());
    let page = page_size();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for (i, map) in maps.iter_mut().enumerate() {
            let (barrier, expected) = (&barrier, &expected);
            scope.spawn(move || {
                barrier.wait();
                // Half of them hit the same page at once, the others pages of their own.
                let at = if i % 2 == 0 { 5 * page } else { (6 + i) * page };
                expect_truncated(&format!("thread {i} write"), map.write_at(at, b"gone"));
                expect_truncated(&format!("thread {i} read"), map.copy_range(at..));
                assert_eq!(
                    map.copy_range(..new_len()).expect("read below the end"),
                    &expected[..new_len()]
                );
            });
        }
    });
    for map in maps {
        let map = map.into_dyn();
        check_survivor(&map, &expected);
        map.close().expect("close");
    }
    assert_eq!(
        std::fs::read(&path).expect("read back"),
        &expected[..new_len()]
    );
    println!("threads-own: {THREADS}/{THREADS} threads got the truncation errors");
}

/// Four threads map, truncate and fault 25 times each while four others churn through maps
/// of intact files that must never report a truncation.
fn churn() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = page_size();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (dir, barrier) = (dir.path(), &barrier);
            scope.spawn(move || {
                let path = dir.join(format!("file-{t}"));
                let expected = contents();
                barrier.wait();
                for round in 0..25 {
                    std::fs::write(&path, &expected).expect("write the file");
                    let file = crate::util::open_ro(&path);
                    // SAFETY: this thread's file; the truncation is the point of the test.
                    let map = unsafe { Mmap::map(&file) }.expect("map").into_dyn();
                    if t % 2 == 0 {
                        truncate_here(&path, new_len() as u64);
                        let at = (4 + round % 12) * page;
                        expect_truncated(
                            &format!("thread {t} round {round}"),
                            map.copy_range(at..),
                        );
                        check_survivor(&map, &expected);
                    } else {
                        assert_eq!(map.copy_range(..).expect("an intact map"), expected);
                    }
                    map.close().expect("close");
                }
            });
        }
    });
}

/// A memmap2 map (not ours) of a truncated file: touching it must still kill the process.
fn foreign_fault() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data.bin");
    std::fs::write(&path, contents()).expect("write the file");
    let file = crate::util::open_ro(&path);
    // SAFETY: this process is meant to die of the fault below.
    let ours = unsafe { Mmap::map(&file) }.expect("our map installs the guard");
    println!("guard active: {}", mmapfile::fault_guard_active());
    // SAFETY: as above.
    let theirs = unsafe { memmap2::Mmap::map(&file) }.expect("memmap2 map");
    truncate(&path, new_len());
    println!("touching a vanished page of a map the guard does not own");
    let byte = std::hint::black_box(&theirs[..])[8 * page_size()];
    // Only reached if the guard wrongly swallowed the fault; the parent sees a normal exit.
    println!("survived a foreign fault, read {byte}");
    drop(ours);
}

/// Faults and signals that are not ours, and the handler that was there before the guard.
static PREVIOUS_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn previous_siginfo(
    _sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    PREVIOUS_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo; for a real fault, replacing the page with
    // zeros lets the faulting instruction finish (the test's own memmap2 map).
    unsafe {
        if (*info).si_code == libc::BUS_ADRERR {
            let page = page_size();
            let addr = ((*info).si_addr() as usize) & !(page - 1);
            libc::mmap(
                addr as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            );
        }
    }
}

extern "C" fn previous_plain(_sig: libc::c_int) {
    PREVIOUS_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

fn install_previous(case: &str) {
    // SAFETY: a zeroed sigaction is valid; the handlers above are async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigemptyset(&mut action.sa_mask);
        match case {
            "chain-siginfo" => {
                action.sa_sigaction = previous_siginfo as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            }
            "chain-plain" => action.sa_sigaction = previous_plain as *const () as usize,
            _ => action.sa_sigaction = libc::SIG_IGN,
        }
        assert_eq!(
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()),
            0
        );
    }
}

fn chain(case: &str) {
    install_previous(case);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data.bin");
    std::fs::write(&path, contents()).expect("write the file");
    let file = crate::util::open_ro(&path);
    // SAFETY: the truncation is the point of the test.
    let ours = unsafe { Mmap::map(&file) }.expect("our map installs the guard, second");
    assert!(mmapfile::fault_guard_active());
    // SAFETY: the previous handler maps a zero page over the vanished page it touches.
    let theirs = unsafe { memmap2::Mmap::map(&file) }.expect("memmap2 map");
    // A SIGBUS sent by someone (not a fault) goes to the previous disposition.
    // SAFETY: raise has no memory preconditions; the previous disposition handles it.
    assert_eq!(unsafe { libc::raise(libc::SIGBUS) }, 0);
    let expected_calls = usize::from(case != "chain-ignore");
    assert_eq!(
        PREVIOUS_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        expected_calls,
        "{case}: a sent SIGBUS"
    );
    truncate(&path, new_len());
    // Our fault is handled by the guard alone.
    expect_truncated("read of our truncated map", ours.copy_range(..));
    assert_eq!(
        PREVIOUS_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        expected_calls,
        "{case}: our fault must not reach the previous handler"
    );
    if case == "chain-siginfo" {
        // A real fault elsewhere reaches the previous handler, which repairs it itself.
        let byte = std::hint::black_box(&theirs[..])[9 * page_size()];
        assert_eq!(byte, 0, "the previous handler's zero page");
        assert_eq!(PREVIOUS_CALLS.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
    ours.close().expect("close");
}

/// Windows of a file (offset not page aligned) are guarded too: the vanished offsets are
/// counted from the window's start.
#[test]
fn a_window_at_an_unaligned_offset_reports_truncation_in_process() {
    // Run in-process: the guard either handles the fault or this whole test binary dies,
    // which the harness reports as a failure too.
    let (_dir, path, expected) = file_of_contents();
    let file = crate::util::open_ro(&path);
    let page = page_size();
    let offset = page + 123;
    // SAFETY: the truncation is the point of the test.
    let map = unsafe { MmapOptions::new().offset(offset as u64).map(&file) }.expect("map");
    truncate_here(&path, (4 * page) as u64);
    let survivors = 4 * page - offset;
    expect_truncated("read of the window", map.copy_range(..));
    assert_eq!(
        map.copy_range(..survivors)
            .expect("the bytes that still exist"),
        &expected[offset..4 * page]
    );
    expect_truncated("one byte further", map.copy_range(..=survivors));
    map.close().expect("close");
}

/// After `make_mut` the guard knows the map is writable: a write that faults on a vanished
/// page gets a writable zero page (a read-only one would fault again, with `SIGSEGV`, and
/// kill this process) and is reported; after `make_read_only`, reads are still guarded.
#[test]
fn a_map_made_writable_then_truncated_reports_writes_in_process() {
    let (_dir, path, mut expected) = file_of_contents();
    let file = crate::util::open_rw(&path);
    let page = page_size();
    // SAFETY: the truncation is the point of the test; no slice of the map is held.
    let map = unsafe { Mmap::map(&file) }.expect("map");
    let mut map = map.make_mut().expect("make_mut");
    truncate_here(&path, new_len() as u64);
    for attempt in ["first", "second"] {
        expect_truncated(
            &format!("write into a vanished page ({attempt} attempt)"),
            map.write_at(6 * page, b"lost"),
        );
    }
    map.write_at(10, b"XY").expect("a write below the new end");
    expected[10..12].copy_from_slice(b"XY");
    map.flush_range(0, page).expect("flush below the new end");
    let map = map.make_read_only().expect("make_read_only");
    expect_truncated("read past the new end", map.copy_range(..));
    expect_truncated("read of another vanished page", map.copy_range(9 * page..));
    check_survivor(map.as_dyn(), &expected);
    map.close().expect("close");
    assert_eq!(
        std::fs::read(&path).expect("read the file back"),
        &expected[..new_len()]
    );
}

/// A raw access to a vanished page survives (the guard maps zeros there: reads see zeros,
/// writes are lost), and `check_intact` and `flush_range` report what happened.
#[test]
fn raw_accesses_to_a_truncated_file_survive_and_are_reported_in_process() {
    let (_dir, path, expected) = file_of_contents();
    let file = crate::util::open_rw(&path);
    let page = page_size();
    let map = MmapOptions::new().map_raw(&file).expect("map_raw");
    map.check_intact(0, map.len())
        .expect("intact before the cut");
    truncate_here(&path, new_len() as u64);
    // SAFETY: inside the live map; the page past the new end faults, and the guard
    // answers with a page of zeros (the point of the test).
    let vanished = unsafe { map.as_ptr().add(6 * page).read_volatile() };
    assert_eq!(vanished, 0, "a vanished page reads as zeros");
    // SAFETY: as above; a write to the (now zero, writable) page is lost, not fatal.
    unsafe { map.as_mut_ptr().add(7 * page).write_volatile(b'!') };
    // SAFETY: below the new end, the file's bytes are still there.
    let kept = unsafe { map.as_ptr().add(10).read_volatile() };
    assert_eq!(kept, expected[10]);
    map.check_intact(0, new_len())
        .expect("the bytes below the new end exist");
    expect_truncated("check_intact", map.check_intact(6 * page, 1));
    expect_truncated(
        "check_intact of the whole map",
        map.check_intact(0, map.len()),
    );
    expect_truncated("flush", map.flush());
    map.close().expect("close");
    assert_eq!(
        std::fs::read(&path).expect("read the file back"),
        &expected[..new_len()]
    );
}
