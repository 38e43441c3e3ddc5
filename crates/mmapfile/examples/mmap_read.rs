//! The guide's first example: read the start of `lorem.txt` through `read` and a slice.
//!
//! `cargo run -q --example mmap_read`

use std::fs::File;
use std::io;

use mmapfile::MmapOptions;

fn main() -> io::Result<()> {
    let file = File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lorem.txt"))?;
    // SAFETY: the example owns lorem.txt for its run; nothing truncates or rewrites it.
    let mut map = unsafe { MmapOptions::new().map(&file)? };
    println!("First 10 bytes via read : {}", text(&map.read_vec(10)?));
    println!("First 10 bytes via slice: {}", text(&map[..10]));
    println!("2nd   10 bytes via read : {}", text(&map.read_vec(10)?));
    map.close()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
