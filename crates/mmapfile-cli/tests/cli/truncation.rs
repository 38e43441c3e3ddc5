//! A file truncated while `mmapfile grep` searches it: the command reports the truncation as
//! an error (exit 2, one line naming the file), never as an internal error or a crash, and
//! never hangs.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Scratch;

#[test]
fn grep_over_a_file_truncated_mid_search_reports_the_truncation() {
    let scratch = Scratch::new();
    let letters: Vec<u8> = (0..32 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let (mut errors, mut finished) = (0, 0);
    for attempt in 0..10u64 {
        let path = scratch.file("letters.txt", &letters);
        let mut child = Command::new(env!("CARGO_BIN_EXE_mmapfile"))
            .args(["grep", "-c", "xyz[a-z]"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mmapfile grep");
        std::thread::sleep(Duration::from_millis(5 + attempt * 3));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open for truncation")
            .set_len(4096)
            .expect("truncate");
        let start = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("mmapfile grep hung on a truncated file");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = child.wait_with_output().expect("collect the output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            !stderr.contains("internal error"),
            "a panic got out: {stderr}"
        );
        match output.status.code() {
            Some(0) => {
                // Finished before the cut, or started after it (a loaded machine): the
                // matches of the whole file, or of its first page.
                let whole = format!(":{}\n", letters.len() / 26);
                let first_page = format!(
                    ":{}\n",
                    letters[..4096]
                        .windows(4)
                        .filter(|w| w.starts_with(b"xyz"))
                        .count()
                );
                assert!(
                    stdout.ends_with(&whole) || stdout.ends_with(&first_page),
                    "{stdout}"
                );
                finished += 1;
            }
            Some(2) => {
                assert!(stderr.contains("truncated while mapped"), "{stderr}");
                assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
                errors += 1;
            }
            other => panic!("exit {other:?} (a crash?)\nstdout: {stdout}\nstderr: {stderr}"),
        }
    }
    println!("grep under truncation: {errors} errors, {finished} finished");
}
