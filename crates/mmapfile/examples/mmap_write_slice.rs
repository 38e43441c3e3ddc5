//! The guide's second example: replace a word in place through a write-through map.
//!
//! Works on a copy of `lorem.txt` in a temporary directory.
//! `cargo run -q --example mmap_write_slice`

use std::fs::OpenOptions;
use std::io::{self, SeekFrom};

use mmapfile::MmapOptions;

fn main() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("lorem_copy.txt");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lorem.txt"),
        &copy,
    )?;

    let word = b"consectetuer";
    let reversed: Vec<u8> = word.iter().rev().copied().collect();
    println!("Looking for    : {}", text(word));
    println!("Replacing with : {}", text(&reversed));

    let file = OpenOptions::new().read(true).write(true).open(&copy)?;
    // SAFETY: the copy lives in our own temporary directory; nothing else touches it.
    let mut map = unsafe { MmapOptions::new().map_mut(&file)? };
    println!("Before: {}", text(map.readline()?.trim_ascii_end()));
    map.seek(SeekFrom::Start(0))?;

    let at = map.find(word)?.ok_or_else(|| not_found(word))?;
    map[at..at + word.len()].copy_from_slice(&reversed);
    map.flush()?;

    map.seek(SeekFrom::Start(0))?;
    println!("After : {}", text(map.readline()?.trim_ascii_end()));
    map.close()
}

fn not_found(word: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{:?} is not in lorem.txt", text(word)),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
