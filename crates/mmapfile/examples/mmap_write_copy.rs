//! The guide's third example: a copy-on-write map changes memory, never the file.
//!
//! Works on a copy of `lorem.txt` in a temporary directory.
//! `cargo run -q --example mmap_write_copy`

use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};

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

    let file = OpenOptions::new().read(true).write(true).open(&copy)?;
    // SAFETY: the copy lives in our own temporary directory; nothing else touches it.
    let mut map = unsafe { MmapOptions::new().map_copy(&file)? };
    let mut reader = BufReader::new(&file);
    println!("Memory Before: {}", text(map.readline()?.trim_ascii_end()));
    println!("File Before  : {}", first_line(&mut reader)?);
    println!();

    map.seek(SeekFrom::Start(0))?;
    let at = map
        .find(word)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the word is not in lorem.txt"))?;
    map[at..at + word.len()].copy_from_slice(&reversed);

    map.seek(SeekFrom::Start(0))?;
    println!("Memory After : {}", text(map.readline()?.trim_ascii_end()));

    reader.seek(SeekFrom::Start(0))?;
    println!("File After   : {}", first_line(&mut reader)?);
    map.close()
}

/// The next line of the file through its own cursor, which the map does not share.
fn first_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    Ok(text(line.trim_ascii_end()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
