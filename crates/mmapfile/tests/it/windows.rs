//! Windows-only behaviour: named shared memory (`shared_name`, CPython's `tagname`), the
//! refusal to shrink a file under a live view, and views of one file sharing their bytes.
//! Run under wine by `scripts/test-windows.sh`.

use std::io::ErrorKind;
use std::process::{Command, Stdio};

use mmapfile::{Access, Advice, MmapOptions};

use crate::util::{expect_err, open_ro, open_rw, pattern, temp_file};

/// A mapping name no other test (or earlier run) uses.
fn unique_name(what: &str) -> String {
    format!("Local\\mmapfile-test-{what}-{}", std::process::id())
}

#[test]
fn two_maps_of_one_name_share_their_bytes() {
    let name = unique_name("share");
    let mut options = MmapOptions::new();
    options.len(10_000).shared_name(&name);
    let mut writer = options
        .map_anon_dyn(Access::Write)
        .expect("create the named map");
    let reader = options.map_anon_dyn(Access::Read).expect("open it again");
    assert!(reader.as_slice().iter().all(|&b| b == 0), "starts as zeros");
    writer.write_at(9_000, b"shared bytes").expect("write");
    assert_eq!(
        reader.copy_range(9_000..9_012).expect("read"),
        b"shared bytes"
    );
    // A copy-on-write map of the name sees the bytes but keeps its own stores.
    let mut private = options.map_anon_dyn(Access::Copy).expect("a private view");
    assert_eq!(&private.as_slice()[9_000..9_012], b"shared bytes");
    private.write_at(9_000, b"PRIVATE").expect("private write");
    assert_eq!(reader.copy_range(9_000..9_006).expect("read"), b"shared");
}

#[test]
fn named_memory_lives_as_long_as_its_last_map() {
    let name = unique_name("lifetime");
    let mut options = MmapOptions::new();
    options.len(4096).shared_name(&name);
    let mut first = options.map_anon_dyn(Access::Write).unwrap();
    first.write(b"kept").unwrap();
    let second = options.map_anon_dyn(Access::Read).unwrap();
    drop(first);
    // The second map still holds the section: the bytes are there.
    let third = options.map_anon_dyn(Access::Read).unwrap();
    assert_eq!(&third.as_slice()[..4], b"kept");
    drop((second, third));
    // The last map is gone, so is the memory: the name starts afresh.
    let fresh = options.map_anon_dyn(Access::Read).unwrap();
    assert_eq!(&fresh.as_slice()[..4], &[0; 4]);
}

#[test]
fn another_process_sees_the_named_memory() {
    let name = unique_name("process");
    let mut options = MmapOptions::new();
    options.len(4096).shared_name(&name);
    let mut map = options.map_anon_dyn(Access::Write).unwrap();
    map.write(b"from the parent").unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["windows::named_memory_child", "--exact", "--nocapture"])
        .env(CHILD_VAR, &name)
        .output()
        .expect("run the child");
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("child saw the parent"));
    assert_eq!(map.copy_range(0..14).unwrap(), b"from the child");
}

const CHILD_VAR: &str = "MMAPFILE_TEST_NAMED_CHILD";

/// The child half of `another_process_sees_the_named_memory`; does nothing when run directly.
#[test]
fn named_memory_child() {
    let Ok(name) = std::env::var(CHILD_VAR) else {
        return;
    };
    let mut map = MmapOptions::new()
        .len(4096)
        .shared_name(&name)
        .map_anon_dyn(Access::Write)
        .unwrap();
    assert_eq!(map.copy_range(0..15).unwrap(), b"from the parent");
    println!("child saw the parent");
    map.write_at(0, b"from the child").unwrap();
}

#[test]
fn a_named_map_is_not_resized_and_a_larger_view_is_refused() {
    let name = unique_name("fixed");
    let mut small = MmapOptions::new()
        .len(4096)
        .shared_name(&name)
        .map_anon_dyn(Access::Write)
        .unwrap();
    expect_err(
        small.resize(8192),
        ErrorKind::Unsupported,
        &["named", "resized"],
    );
    assert_eq!(small.len(), 4096);
    // The section exists with 4096 bytes: a second map cannot ask for more.
    let err = MmapOptions::new()
        .len(1 << 20)
        .shared_name(&name)
        .map_anon_dyn(Access::Write)
        .expect_err("the existing section is smaller");
    assert!(err.to_string().contains("existing named mapping"), "{err}");
}

#[test]
fn bad_names_are_refused() {
    for bad in ["", "nul\0inside"] {
        expect_err(
            MmapOptions::new()
                .len(10)
                .shared_name(bad)
                .map_anon_dyn(Access::Write),
            ErrorKind::InvalidInput,
            &["mapping name"],
        );
    }
}

#[test]
fn a_named_file_map_is_found_by_its_name() {
    let (_dir, path) = temp_file(b"the first file's bytes");
    let (_dir2, other) = temp_file(b"another file entirely!");
    let name = unique_name("file");
    let first_file = open_rw(&path);
    // SAFETY: the files are ours alone for the test.
    let first = unsafe { MmapOptions::new().shared_name(&name).map_mut(&first_file) }.unwrap();
    let other_file = open_rw(&other);
    // SAFETY: as above. The name exists, so its section (over the first file) is used.
    let second = unsafe { MmapOptions::new().shared_name(&name).map(&other_file) }.unwrap();
    assert_eq!(&second[..], &first[..]);
    assert_eq!(&second[..], b"the first file's bytes");
}

#[test]
fn a_file_cannot_shrink_under_another_live_map() {
    let (_dir, path) = temp_file(&pattern(100_000));
    let file = open_rw(&path);
    // SAFETY: the file is ours alone for the test.
    let mut resized = unsafe { MmapOptions::new().map_mut(&file) }.unwrap();
    let other_file = open_ro(&path);
    // SAFETY: as above.
    let other = unsafe { MmapOptions::new().map(&other_file) }.unwrap();
    expect_err(
        resized.resize(1_000),
        ErrorKind::ResourceBusy,
        &["1000 bytes", "ERROR_USER_MAPPED_FILE"],
    );
    // Nothing changed: the map, its bytes and the file.
    assert_eq!(resized.len(), 100_000);
    assert_eq!(&resized[..], &pattern(100_000)[..]);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 100_000);
    // Growing is allowed with another view alive, and so is the shrink once it is gone.
    resized.resize(200_000).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 200_000);
    drop(other);
    resized.resize(1_000).unwrap();
    assert_eq!(&resized[..], &pattern(1_000)[..]);
    assert_eq!(std::fs::read(&path).unwrap(), pattern(1_000));
}

#[test]
fn truncating_a_mapped_file_is_refused_by_windows() {
    let (_dir, path) = temp_file(&pattern(50_000));
    let file = open_rw(&path);
    // SAFETY: the file is ours alone for the test.
    let map = unsafe { MmapOptions::new().offset(100).map(&file) }.unwrap();
    let err = file
        .set_len(10)
        .expect_err("Windows refuses to cut under a view");
    assert_eq!(
        err.raw_os_error(),
        Some(1224),
        "ERROR_USER_MAPPED_FILE: {err}"
    );
    assert_eq!(&map[..], &pattern(50_000)[100..]);
    drop(map);
    file.set_len(10).expect("allowed once the view is gone");
}

#[test]
fn two_maps_of_one_file_see_each_others_stores() {
    let (_dir, path) = temp_file(&vec![b'.'; 200_000]);
    let file = open_rw(&path);
    // SAFETY: the file is ours alone for the test; the maps only write through the crate.
    let mut whole = unsafe { MmapOptions::new().map_mut(&file) }.unwrap();
    // SAFETY: as above. A window at an offset that is not a multiple of 64 KiB.
    let window = unsafe { MmapOptions::new().offset(70_001).len(1_000).map(&file) }.unwrap();
    // SAFETY: as above.
    let private = unsafe { MmapOptions::new().map_copy(&file) }.unwrap();
    whole.write_at(70_001, b"seen everywhere").unwrap();
    assert_eq!(window.copy_range(0..15).unwrap(), b"seen everywhere");
    // A copy-on-write view shows others' stores on pages it has not written.
    assert_eq!(
        private.copy_range(70_001..70_016).unwrap(),
        b"seen everywhere"
    );
    whole.flush().unwrap();
    assert_eq!(
        &std::fs::read(&path).unwrap()[70_001..70_016],
        b"seen everywhere"
    );
}

#[test]
fn advice_windows_lacks_is_refused_and_will_need_works() {
    let (_dir, path) = temp_file(&pattern(300_000));
    let file = open_ro(&path);
    // SAFETY: the file is ours alone for the test.
    let map = unsafe { MmapOptions::new().map(&file) }.unwrap();
    map.advise(Advice::WillNeed).unwrap();
    map.advise_range(Advice::Normal, 5, 10).unwrap();
    expect_err(
        map.advise(Advice::Random),
        ErrorKind::Unsupported,
        &["Random", "Windows"],
    );
}

#[test]
fn a_pipe_cannot_be_mapped() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a child with a piped stdout");
    let pipe = child.stdout.take().unwrap();
    // SAFETY: refused before anything is mapped.
    expect_err(
        unsafe { MmapOptions::new().len(4096).map(&pipe) },
        ErrorKind::InvalidInput,
        &["pipe"],
    );
    drop(pipe);
    let _ = child.wait();
}

/// Under wine, a Unix program can cut a file that a Windows view maps (Windows itself never
/// lets that happen; a view over failing I/O is the real-world case). The path of
/// `truncate(1)` as a Windows program sees it, if it runs under wine.
fn unix_truncate() -> Option<&'static str> {
    let path = "Z:\\usr\\bin\\truncate";
    std::path::Path::new(path).exists().then_some(path)
}

#[test]
fn a_page_that_vanishes_under_wine_is_an_error_not_a_crash() {
    let Some(truncate) = unix_truncate() else {
        eprintln!("not under wine (no Z:\\usr\\bin\\truncate): nothing to cut the file with");
        return;
    };
    // On wine's Z: drive, whose paths a Unix program understands once the drive is dropped.
    let dir = tempfile::tempdir_in("Z:\\tmp").expect("a directory on Z:");
    let path = dir.path().join("data.bin");
    std::fs::write(&path, pattern(300_000)).unwrap();
    let unix_path = path.to_str().unwrap()[2..].replace('\\', "/");
    let file = open_ro(&path);
    // SAFETY: the test cuts the file on purpose; only the crate's methods read the map.
    let map = unsafe { MmapOptions::new().map(&file) }.unwrap();
    // Wine starts a Unix program without a process handle to wait on: poll the file's size.
    let _ = Command::new(truncate)
        .args(["-s", "1000", &unix_path])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let cut = (0..1000).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::metadata(&path).is_ok_and(|meta| meta.len() == 1000)
    });
    assert!(cut, "truncate(1) did not cut the file within 10 s");
    assert!(mmapfile::fault_guard_active());
    expect_err(
        map.copy_range(200_000..200_010),
        ErrorKind::UnexpectedEof,
        &["truncated"],
    );
    // Windows cannot replace one page of a view: the whole view became zeros, so every
    // access through the crate is refused from now on, even below the new end.
    expect_err(
        map.find_in(b"0123", ..),
        ErrorKind::UnexpectedEof,
        &["truncated"],
    );
    expect_err(
        map.copy_range(0..10),
        ErrorKind::UnexpectedEof,
        &["truncated"],
    );
    map.into_dyn()
        .close()
        .expect("the replaced view is released");
}
