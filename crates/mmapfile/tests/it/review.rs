//! Findings of the unsafe-code review, each pinned by a test.

use std::env;
use std::process::Command;
use std::time::Duration;

use mmapfile::MmapOptions;

use crate::truncation::output_within;
use crate::util::{open_ro, temp_file};

const CASE_VAR: &str = "MMAPFILE_REVIEW_CASE";

/// Runs `review::child` in a fresh process for `case` (process-wide state, such as the panic
/// hook the crate wraps on its first foreign scan, must start untouched).
fn run_child(case: &str) -> std::process::Output {
    let exe = env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "review::child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CASE_VAR, case);
    output_within(command, Duration::from_secs(60))
}

/// The scenarios run by [`run_child`].
#[test]
#[ignore = "run by the other tests of this module in a child process"]
fn child() {
    let Ok(case) = env::var(CASE_VAR) else { return };
    match case.as_str() {
        "scan-while-unwinding" => {
            let (_dir, path) = temp_file(b"one\ntwo\n");
            let file = open_ro(&path);
            let map = unsafe { MmapOptions::new().map(&file) }.expect("map the file");
            // A destructor that scans, run while a panic unwinds: the process's first
            // foreign scan must not touch the panic hook then (std panics when the hook is
            // changed from a panicking thread, and a panic while panicking aborts).
            struct ScanOnDrop<'a>(&'a mmapfile::Mmap);
            impl Drop for ScanOnDrop<'_> {
                fn drop(&mut self) {
                    let lines = self
                        .0
                        .scan_with(.., |hay| hay.split(|&b| b == b'\n').count());
                    assert_eq!(lines.expect("scan during unwinding"), 3);
                }
            }
            let caught = std::panic::catch_unwind(|| {
                let _scan = ScanOnDrop(&map);
                panic!("an unrelated panic");
            });
            assert!(caught.is_err());
            // A later scan still works (the hook's one-time set-up was not poisoned).
            assert_eq!(map.scan_with(.., |hay| hay.len()).expect("later scan"), 8);
            println!("REVIEW-CASE-OK {case}");
        }
        "fork-during-install" => {
            // This process has made no map yet: the thread below makes the first one, which
            // installs the fault guard, while this thread forks as fast as it can. Each child
            // maps the file and exits; one forked while the guard was being installed must
            // not wait forever for an installation that no thread of its own is doing.
            let (_dir, path) = temp_file(b"0123456789");
            let file = open_ro(&path);
            let started = std::sync::Barrier::new(2);
            let done = std::sync::atomic::AtomicBool::new(false);
            let mut children = Vec::new();
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    started.wait();
                    let map = unsafe { MmapOptions::new().map(&file) }.expect("first map");
                    assert_eq!(map.len(), 10);
                    done.store(true, std::sync::atomic::Ordering::SeqCst);
                });
                started.wait();
                while !done.load(std::sync::atomic::Ordering::SeqCst) && children.len() < 2000 {
                    // SAFETY: the child maps a file and `_exit`s.
                    let pid = unsafe { libc::fork() };
                    assert!(pid >= 0, "fork");
                    if pid == 0 {
                        let mapped = unsafe { MmapOptions::new().map(&file) }.is_ok();
                        // SAFETY: ends the child without running the parent's destructors.
                        unsafe { libc::_exit(if mapped { 0 } else { 1 }) };
                    }
                    children.push(pid);
                }
            });
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let mut hung = 0;
            for pid in children {
                let mut status = 0;
                loop {
                    // SAFETY: our own child.
                    let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                    if waited == pid {
                        assert!(
                            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                            "a child failed to map: status {status}"
                        );
                        break;
                    }
                    if std::time::Instant::now() > deadline {
                        // SAFETY: our own child, hung.
                        unsafe {
                            libc::kill(pid, libc::SIGKILL);
                            libc::waitpid(pid, &mut status, 0);
                        }
                        hung += 1;
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            assert_eq!(
                hung, 0,
                "children forked during the guard's installation hung"
            );
            println!("REVIEW-CASE-OK {case}");
        }
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn first_scan_with_inside_a_destructor_during_unwinding_does_not_abort() {
    let out = run_child("scan-while-unwinding");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("REVIEW-CASE-OK scan-while-unwinding"),
        "child failed: {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_child_forked_while_the_guard_is_being_installed_can_map() {
    // The window is a few system calls long: each attempt is a fresh process.
    for attempt in 0..40 {
        let out = run_child("fork-during-install");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("REVIEW-CASE-OK fork-during-install"),
            "attempt {attempt}: child failed: {:?}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
