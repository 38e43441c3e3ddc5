//! The guard against everything else in the process: signal handlers installed after it
//! (plain C-style ones that restore and re-raise, `SA_SIGINFO` ones that call their saved
//! predecessor, one installed and removed again around the first map), each kind of handler
//! it chains to, the process's mapping limit, a regex engine that trusts what it read, and
//! resizes after a reported truncation. Each scenario runs in a child process with a timeout.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mmapfile::{page_size, Mmap, MmapMut, MmapOptions};

use super::{
    assert_died_of_sigbus, contents, describe, expect_truncated, new_len, passed, run_child,
    truncate_here, ACCESSES, THREADS,
};

/// Which foreign handler the child installs, and when.
pub(super) const FOREIGN_VAR: &str = "MMAPFILE_IT_FOREIGN_HANDLER";

/// The foreign-handler setups the access and thread scenarios run under.
const SETUPS: [&str; 5] = [
    // Installed after the process's first map (the scenario's own map comes later).
    "plain-after-first-map",
    "siginfo-after-first-map",
    // Installed before the first map and removed after it: SIG_DFL is back on top.
    "enabled-then-disabled",
    // Installed after the scenario's own map, right before the truncation.
    "plain-after-this-map",
    "siginfo-after-this-map",
];

// ----- a foreign handler, as a C library would write it -----

/// The disposition the foreign handler replaced (written before it is installed).
struct Saved(UnsafeCell<MaybeUninit<libc::sigaction>>);
// SAFETY: written once before the handler that reads it is installed.
unsafe impl Sync for Saved {}
static SAVED: Saved = Saved(UnsafeCell::new(MaybeUninit::uninit()));
static FOREIGN_CALLS: AtomicUsize = AtomicUsize::new(0);

/// faulthandler's way: put the previous disposition back and raise the signal again.
extern "C" fn plain_reraise(sig: libc::c_int) {
    FOREIGN_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: SAVED was written before this handler was installed; sigaction and raise are
    // async-signal-safe.
    unsafe {
        libc::sigaction(sig, (*SAVED.0.get()).as_ptr(), std::ptr::null_mut());
        libc::raise(sig);
    }
}

/// The other common way: call the saved handler directly with the same arguments.
extern "C" fn siginfo_chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    FOREIGN_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: as above; the saved handler is called with its own calling convention.
    unsafe {
        let saved = (*SAVED.0.get()).assume_init_ref();
        match saved.sa_sigaction {
            libc::SIG_DFL | libc::SIG_IGN => {
                libc::sigaction(sig, saved, std::ptr::null_mut());
            }
            handler if saved.sa_flags & libc::SA_SIGINFO != 0 => {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(handler);
                f(sig, info, ctx);
            }
            handler => {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
                f(sig);
            }
        }
    }
}

/// Installs the foreign handler over whatever is there, saving it first.
fn install_foreign(siginfo: bool) {
    // SAFETY: valid sigaction structs; the handlers above are async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigemptyset(&mut action.sa_mask);
        if siginfo {
            action.sa_sigaction = siginfo_chain as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
        } else {
            action.sa_sigaction = plain_reraise as *const () as usize;
        }
        assert_eq!(
            libc::sigaction(
                libc::SIGBUS,
                std::ptr::null(),
                (*SAVED.0.get()).as_mut_ptr()
            ),
            0
        );
        assert_eq!(
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// Puts back what the foreign handler replaced (its owner switching it off).
fn remove_foreign() {
    // SAFETY: SAVED holds the disposition read in `install_foreign`.
    unsafe {
        assert_eq!(
            libc::sigaction(
                libc::SIGBUS,
                (*SAVED.0.get()).as_ptr(),
                std::ptr::null_mut()
            ),
            0
        );
    }
}

/// Keeps the process's first map alive for the whole scenario.
static FIRST_MAP: std::sync::OnceLock<(tempfile::TempDir, Mmap)> = std::sync::OnceLock::new();

fn make_first_map() {
    FIRST_MAP.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("first.bin");
        std::fs::write(&path, b"the first map installs the guard").expect("write");
        let file = crate::util::open_ro(&path);
        // SAFETY: nobody truncates this file.
        let map = unsafe { Mmap::map(&file) }.expect("first map");
        (dir, map)
    });
}

/// Called by the child before its scenario: the setup picked by the parent.
pub(super) fn prepare() {
    match std::env::var(FOREIGN_VAR).as_deref() {
        Ok("plain-after-first-map") => {
            make_first_map();
            install_foreign(false);
        }
        Ok("siginfo-after-first-map") => {
            make_first_map();
            install_foreign(true);
        }
        Ok("enabled-then-disabled") => {
            install_foreign(false);
            make_first_map();
            remove_foreign();
        }
        _ => {}
    }
}

/// Called by the scenarios right after their maps exist, before the truncation.
pub(super) fn after_map() {
    match std::env::var(FOREIGN_VAR).as_deref() {
        Ok("plain-after-this-map") => install_foreign(false),
        Ok("siginfo-after-this-map") => install_foreign(true),
        _ => {}
    }
}

#[test]
fn each_access_and_eight_threads_with_a_foreign_handler_installed_later() {
    let mut failures = Vec::new();
    for setup in SETUPS {
        let extra = [(FOREIGN_VAR, setup)];
        let mut passed_count = 0;
        for case in ACCESSES {
            let output = run_child(case, "fd", &extra);
            if passed(case, &output) {
                passed_count += 1;
            } else {
                failures.push(format!("{setup} {case}: {}", describe(&output)));
            }
        }
        println!("{setup}: {passed_count}/{} accesses passed", ACCESSES.len());
        for case in ["threads-shared", "threads-own"] {
            let output = run_child(case, "fd", &extra);
            if passed(case, &output) {
                println!("{setup}: {case} {THREADS}/{THREADS} threads");
            } else {
                failures.push(format!("{setup} {case}: {}", describe(&output)));
            }
        }
    }
    assert!(failures.is_empty(), "failed:\n{}", failures.join("\n"));
}

// ----- the chain: each kind of previous handler -----

static PREVIOUS_CALLS: AtomicUsize = AtomicUsize::new(0);
static SIGBUS_BLOCKED_INSIDE: AtomicBool = AtomicBool::new(false);
static USR1_BLOCKED_INSIDE: AtomicBool = AtomicBool::new(false);

extern "C" fn previous_records_mask(_sig: libc::c_int) {
    PREVIOUS_CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: reads this thread's signal mask into a valid set.
    unsafe {
        let mut now = MaybeUninit::<libc::sigset_t>::uninit();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), now.as_mut_ptr());
        let now = now.assume_init();
        SIGBUS_BLOCKED_INSIDE.store(libc::sigismember(&now, libc::SIGBUS) == 1, Ordering::SeqCst);
        USR1_BLOCKED_INSIDE.store(
            libc::sigismember(&now, libc::SIGUSR1) == 1,
            Ordering::SeqCst,
        );
    }
}

/// Installs `handler` (plain) with `flags` and `SIGUSR1` in its mask, or `SIG_DFL`.
fn install_previous(handler: Option<extern "C" fn(libc::c_int)>, flags: libc::c_int) {
    // SAFETY: valid sigaction structs; the handler is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaddset(&mut action.sa_mask, libc::SIGUSR1);
        action.sa_sigaction = handler.map_or(libc::SIG_DFL, |h| h as *const () as usize);
        action.sa_flags = flags;
        assert_eq!(
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()),
            0
        );
    }
}

fn raise_sigbus() {
    // SAFETY: raise has no memory preconditions.
    assert_eq!(unsafe { libc::raise(libc::SIGBUS) }, 0);
}

/// The chain scenarios; true if `case` was one of them.
pub(super) fn chain_case(case: &str) -> bool {
    match case {
        "chain-mask" => {
            install_previous(Some(previous_records_mask), 0);
            make_first_map();
            assert!(mmapfile::fault_guard_active());
            raise_sigbus();
            assert_eq!(PREVIOUS_CALLS.load(Ordering::SeqCst), 1);
            assert!(
                USR1_BLOCKED_INSIDE.load(Ordering::SeqCst),
                "its sa_mask applies"
            );
            assert!(
                SIGBUS_BLOCKED_INSIDE.load(Ordering::SeqCst),
                "no SA_NODEFER: blocked"
            );
        }
        "chain-nodefer" => {
            install_previous(Some(previous_records_mask), libc::SA_NODEFER);
            make_first_map();
            raise_sigbus();
            assert_eq!(PREVIOUS_CALLS.load(Ordering::SeqCst), 1);
            assert!(
                !SIGBUS_BLOCKED_INSIDE.load(Ordering::SeqCst),
                "SA_NODEFER: not blocked"
            );
        }
        "chain-resethand" => {
            install_previous(Some(previous_records_mask), libc::SA_RESETHAND);
            make_first_map();
            raise_sigbus();
            assert_eq!(PREVIOUS_CALLS.load(Ordering::SeqCst), 1);
            println!("delivered once");
            // Reset to the default by the first delivery: this one kills.
            raise_sigbus();
            println!("survived a second SIGBUS");
        }
        "chain-default" => {
            install_previous(None, 0);
            make_first_map();
            println!("guard active: {}", mmapfile::fault_guard_active());
            raise_sigbus();
            println!("survived a sent SIGBUS");
        }
        _ => return false,
    }
    true
}

#[test]
fn a_handler_before_the_guard_gets_its_mask_and_flags() {
    for case in ["chain-mask", "chain-nodefer"] {
        let output = run_child(case, "fd", &[]);
        assert!(passed(case, &output), "{case}: {}", describe(&output));
    }
}

#[test]
fn sa_resethand_and_sig_dfl_below_the_guard_behave_as_without_it() {
    let output = run_child("chain-resethand", "fd", &[]);
    assert_died_of_sigbus(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("delivered once") && !stdout.contains("survived"),
        "{}",
        describe(&output)
    );
    let output = run_child("chain-default", "fd", &[]);
    assert_died_of_sigbus(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("guard active: true"));
}

// ----- the mapping limit -----

#[cfg(target_os = "linux")]
/// Fills the process's mapping budget (`vm.max_map_count`) with one-page mappings of
/// alternating protection cut from one reservation; returns it so it can be given back.
fn exhaust_mappings() -> (usize, usize) {
    let page = page_size();
    let pages = 200_000;
    // SAFETY: a fresh inaccessible reservation at an address of the kernel's choosing.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            pages * page,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert_ne!(base, libc::MAP_FAILED, "reserve address space");
    let mut splits = 0;
    for i in (1..pages).step_by(2) {
        // SAFETY: inside our own reservation; nothing uses it.
        let rc = unsafe {
            libc::mprotect(
                base.cast::<u8>().add(i * page).cast(),
                page,
                libc::PROT_READ,
            )
        };
        if rc != 0 {
            break;
        }
        splits += 1;
    }
    assert!(splits < pages / 2, "the mapping limit was never reached");
    (base as usize, pages * page)
}

#[cfg(target_os = "linux")]
fn map_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data.bin");
    let expected = contents();
    std::fs::write(&path, &expected).expect("write the file");
    let file = crate::util::open_ro(&path);
    // SAFETY: the truncation is the point of the test.
    let map = unsafe { Mmap::map(&file) }.expect("map").into_dyn();
    truncate_here(&path, new_len() as u64);
    let (base, len) = exhaust_mappings();
    // A fault in the middle of the map: the zero page splits it in three.
    let result = map.with_bytes(8 * page_size()..8 * page_size() + 1, |b| b[0]);
    let second = map.with_bytes(12 * page_size()..12 * page_size() + 1, |b| b[0]);
    // SAFETY: our own reservation, given back in one piece.
    unsafe { libc::munmap(base as *mut libc::c_void, len) };
    expect_truncated("a fault at the mapping limit", result);
    expect_truncated("a second fault at the mapping limit", second);
    super::check_survivor(&map, &expected);
    map.close().expect("close");
}

#[cfg(target_os = "linux")]
#[test]
fn a_truncation_at_the_mapping_limit_is_an_error() {
    let output = run_child("map-limit", "fd", &[]);
    assert!(passed("map-limit", &output), "{}", describe(&output));
}

// ----- resize after a reported truncation -----

fn resize_after_truncation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data.bin");
    let expected = contents();
    std::fs::write(&path, &expected).expect("write the file");
    let file = crate::util::open_rw(&path);
    let page = page_size();
    // SAFETY: the truncation is the point of the test.
    let mut map: mmapfile::DynMmap = unsafe { MmapMut::map_mut(&file) }.expect("map").into();
    truncate_here(&path, new_len() as u64);
    expect_truncated("read past the end", map.copy_range(8 * page..9 * page));
    // Growing puts the file back to the map's size: the map shows the file again.
    map.resize(20 * page)
        .expect("resize after a reported truncation");
    assert_eq!(
        std::fs::metadata(&path).expect("stat").len(),
        20 * page as u64
    );
    let seen = map.copy_range(..).expect("the whole map after the resize");
    assert_eq!(&seen[..new_len()], &expected[..new_len()]);
    assert!(
        seen[new_len()..].iter().all(|&b| b == 0),
        "the regrown file is zeros"
    );
    map.write_at(19 * page, b"tail")
        .expect("write at the new end");
    map.flush().expect("flush");
    assert_eq!(
        &std::fs::read(&path).expect("read")[19 * page..19 * page + 4],
        b"tail"
    );
    // And a shrink after another truncation.
    truncate_here(&path, 2 * page as u64);
    expect_truncated(
        "read past the second cut",
        map.copy_range(10 * page..11 * page),
    );
    map.resize(5 * page)
        .expect("shrink after a reported truncation");
    assert_eq!(
        map.copy_range(..2 * page).expect("head"),
        &expected[..2 * page]
    );
    assert_eq!(
        std::fs::metadata(&path).expect("stat").len(),
        5 * page as u64
    );
    map.close().expect("close");
}

#[test]
fn resize_after_a_reported_truncation_works() {
    let output = run_child("resize-after-truncation", "fd", &[]);
    assert!(
        passed("resize-after-truncation", &output),
        "{}",
        describe(&output)
    );
}

// ----- a regex engine over a file truncated mid-search -----

fn regex_race() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("letters.bin");
    let len = 32 << 20;
    let letters: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    let re = regex::bytes::Regex::new("xyz[a-z]").expect("regex");
    let (mut errors, mut finished) = (0, 0);
    for attempt in 0..20u64 {
        std::fs::write(&path, &letters).expect("write the file");
        let file = crate::util::open_ro(&path);
        // SAFETY: the truncation is the point of the test.
        let map = unsafe { Mmap::map(&file) }.expect("map").into_dyn();
        let outcome = std::thread::scope(|scope| {
            let searcher = scope.spawn(|| {
                let via_iter = map
                    .regex_find_iter(&re)
                    .try_fold(0usize, |n, m| m.map(|_| n + 1));
                let via_bytes = map.scan_with(.., |hay| re.find_iter(hay).count());
                (via_iter, via_bytes)
            });
            std::thread::sleep(std::time::Duration::from_millis(1 + attempt % 25));
            truncate_here(&path, page_size() as u64);
            searcher.join().expect("the search thread must not panic")
        });
        for result in [outcome.0, outcome.1] {
            match result {
                Ok(count) => {
                    assert_eq!(count, len / 26, "a finished search counts every match");
                    finished += 1;
                }
                Err(err) => {
                    expect_truncated("regex over a truncated map", Err::<(), _>(err));
                    errors += 1;
                }
            }
        }
        map.close().expect("close");
    }
    println!("regex race: {errors} truncation errors, {finished} finished searches");
}

#[test]
fn a_regex_search_over_a_file_truncated_mid_search_errors() {
    let output = run_child("regex-race", "fd", &[]);
    assert!(passed("regex-race", &output), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "no panic message: {}",
        describe(&output)
    );
}

/// A `grow(true)` map that cannot be made (the address space is limited) leaves the file at
/// its size, and a resize whose remap fails puts the file's length back.
fn grow_rollback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data.bin");
    std::fs::write(&path, b"small file").expect("write");
    let file = crate::util::open_rw(&path);
    // SAFETY: nothing else changes the file.
    let mut map: mmapfile::DynMmap = unsafe { MmapMut::map_mut(&file) }.expect("map").into();
    // An address-space limit with room for the test but not for the `huge` map below: 64 GiB
    // against 1 TiB, or on a 32-bit target 1 GiB against 2 GiB.
    #[cfg(target_pointer_width = "64")]
    let (limit, huge): (libc::rlim_t, usize) = (1 << 36, 1 << 40);
    #[cfg(target_pointer_width = "32")]
    let (limit, huge): (libc::rlim_t, usize) = (1 << 30, 1 << 31);
    let limit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: lowers this child's own address-space limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
    // SAFETY: the map is never made.
    let made = unsafe { MmapOptions::new().len(huge).grow(true).map_mut(&file) };
    assert!(
        made.is_err(),
        "a {huge}-byte map under a {}-byte limit",
        limit.rlim_cur
    );
    assert_eq!(
        std::fs::metadata(&path).expect("stat").len(),
        10,
        "grow(true) undone"
    );
    let err = map
        .resize(huge)
        .expect_err("a resize past the address-space limit");
    assert_eq!(
        std::fs::metadata(&path).expect("stat").len(),
        10,
        "resize undone: {err}"
    );
    assert_eq!(map.copy_range(..).expect("read"), b"small file");
}

#[test]
fn a_failed_grow_leaves_the_file_as_it_was() {
    let output = run_child("grow-rollback", "fd", &[]);
    assert!(passed("grow-rollback", &output), "{}", describe(&output));
}

/// The scenarios of this module; true if `case` was one of them.
pub(super) fn run_case(case: &str) -> bool {
    match case {
        #[cfg(target_os = "linux")]
        "map-limit" => map_limit(),
        "resize-after-truncation" => resize_after_truncation(),
        "regex-race" => regex_race(),
        "grow-rollback" => grow_rollback(),
        other => return chain_case(other),
    }
    true
}

// ----- resize rollback and shared anonymous memory (no fault involved: in process) -----

#[cfg(target_os = "linux")]
/// A memory file sealed against shrinking: `ftruncate` to less fails with EPERM.
fn sealed_memory_file(len: usize) -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create returns a fresh descriptor we own; fcntl only sets seals.
    unsafe {
        let fd = libc::memfd_create(
            c"sealed".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        );
        assert!(fd >= 0, "memfd_create");
        let file = std::fs::File::from_raw_fd(fd);
        file.set_len(len as u64).expect("size the memory file");
        assert_eq!(libc::fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK), 0);
        file
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_resize_whose_truncation_fails_leaves_map_and_file_as_they_were() {
    let page = page_size();
    let file = sealed_memory_file(4 * page);
    // SAFETY: nobody else has the memory file.
    let mut map: mmapfile::DynMmap = unsafe { MmapMut::map_mut(&file) }.expect("map").into();
    map.write_at(3 * page, b"last page").expect("write");
    let err = map.resize(page).expect_err("the seal refuses the shrink");
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EPERM),
        "the real error: {err}"
    );
    assert_eq!(map.len(), 4 * page, "the map keeps its length");
    assert_eq!(
        map.copy_range(3 * page..3 * page + 9).expect("read"),
        b"last page"
    );
    assert_eq!(file.metadata().expect("stat").len(), 4 * page as u64);
    // Growing still works and keeps the contents.
    map.resize(6 * page).expect("grow");
    assert_eq!(
        map.copy_range(3 * page..3 * page + 9).expect("read"),
        b"last page"
    );
    map.close().expect("close");
}

#[test]
fn shared_anonymous_memory_stays_shared_with_a_child_forked_before_resizes() {
    let page = page_size();
    let mut map = MmapOptions::new()
        .len(4 * page)
        .map_anon_dyn(mmapfile::Access::Write)
        .expect("map");
    let at = map.as_mut_slice().expect("writable").as_mut_ptr() as usize;
    let (pid, to_child, from_child) = fork_with_pipes(|from_parent, to_parent| {
        let mut step = 0u8;
        // SAFETY: the pipes are the child's; `at` is its mapping, 4 pages long.
        unsafe {
            while libc::read(from_parent, (&mut step as *mut u8).cast(), 1) == 1 && step != 0 {
                *(at as *mut u8) = step;
                libc::write(to_parent, (&step as *const u8).cast(), 1);
            }
        }
    });
    for (step, new_len) in [(1u8, page), (2, 8 * page), (3, 3 * page)] {
        map.resize(new_len).expect("resize");
        let mut ack = 0u8;
        // SAFETY: our pipes.
        unsafe {
            assert_eq!(libc::write(to_child, (&step as *const u8).cast(), 1), 1);
            assert_eq!(libc::read(from_child, (&mut ack as *mut u8).cast(), 1), 1);
        }
        assert_eq!(
            map.get_byte(0).expect("read"),
            step,
            "after resize {step}: still shared"
        );
    }
    let mut status = 0;
    // SAFETY: ends and reaps our own child.
    unsafe {
        libc::write(to_child, (&0u8 as *const u8).cast(), 1);
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
    }
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
}

#[test]
fn a_child_forked_while_shared_anonymous_memory_lives_keeps_it_when_the_parent_maps_anew() {
    let page = page_size();
    let options = {
        let mut options = MmapOptions::new();
        options.len(2 * page);
        options
    };
    let mut map = options.map_anon_dyn(mmapfile::Access::Write).expect("map");
    map.as_mut_slice().expect("writable")[0] = 7;
    let at = map.as_slice().as_ptr() as usize;
    let (pid, to_child, from_child) = fork_with_pipes(|from_parent, to_parent| {
        let mut go = 0u8;
        // SAFETY: the pipes are the child's; `at` is its live mapping, 2 pages long.
        unsafe {
            if libc::read(from_parent, (&mut go as *mut u8).cast(), 1) == 1 {
                let seen = *(at as *const u8);
                libc::write(to_parent, (&seen as *const u8).cast(), 1);
            }
        }
    });
    // The parent's memory file is still mapped by the child: it must not back the new map.
    map.close().expect("close");
    let mut fresh = options
        .map_anon_dyn(mmapfile::Access::Write)
        .expect("map again");
    assert_eq!(
        fresh.get_byte(0).expect("read"),
        0,
        "a new map starts zeroed"
    );
    fresh.as_mut_slice().expect("writable")[0] = 9;
    let mut seen = 0u8;
    let mut status = 0;
    // SAFETY: our pipes and our own child.
    unsafe {
        assert_eq!(libc::write(to_child, (&1u8 as *const u8).cast(), 1), 1);
        assert_eq!(libc::read(from_child, (&mut seen as *mut u8).cast(), 1), 1);
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
    }
    assert_eq!(
        seen, 7,
        "the child's memory is its own, untouched by the parent's new map"
    );
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
}

/// Forks a child that runs `child(from_parent, to_parent)` on its ends of two pipes, then
/// `_exit`s; returns the child's pid and the parent's ends (to the child, from the child).
/// `child` must only read and write pipes and memory (no locks, no allocation).
fn fork_with_pipes(
    child: impl FnOnce(libc::c_int, libc::c_int),
) -> (libc::pid_t, libc::c_int, libc::c_int) {
    let (mut to_child, mut to_parent) = ([0; 2], [0; 2]);
    // SAFETY: pipe fills the two-element arrays.
    unsafe {
        assert_eq!(libc::pipe(to_child.as_mut_ptr()), 0);
        assert_eq!(libc::pipe(to_parent.as_mut_ptr()), 0);
    }
    // SAFETY: the child runs `child`, which only touches pipes and memory, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: the child closes the ends it does not use, so that it sees EOF if the
        // parent dies.
        unsafe {
            libc::close(to_child[1]);
            libc::close(to_parent[0]);
        }
        child(to_child[0], to_parent[1]);
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: the parent's unused ends.
    unsafe {
        libc::close(to_child[0]);
        libc::close(to_parent[1]);
    }
    (pid, to_child[1], to_parent[0])
}
