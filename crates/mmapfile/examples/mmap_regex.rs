//! The guide's fourth example: regular expressions straight over the map.
//!
//! `cargo run -q --example mmap_regex`

use std::fs::File;
use std::io;

use mmapfile::MmapOptions;
use regex::bytes::Regex;

fn main() -> io::Result<()> {
    // The guide's pattern with re.DOTALL | re.IGNORECASE | re.MULTILINE as inline flags.
    let pattern = Regex::new(r"(?sim)(\.\W+)?([^.]?nulla[^.]*?\.)")
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;

    let file = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lorem.txt"))?;
    // SAFETY: the example owns lorem.txt for its run; nothing truncates or rewrites it.
    let map = unsafe { MmapOptions::new().map(&file)? };
    for captures in pattern.captures_iter(&map) {
        let sentence = captures.get(2).map_or(&b""[..], |m| m.as_bytes());
        println!("{}", String::from_utf8_lossy(sentence).replace('\n', " "));
    }
    map.close()
}
