//! `mmapfile demo`: the guide's four examples, rebuilt on the crate's API, run on the bundled
//! `lorem.txt`. Each prints exactly what the guide shows for it (the core crate's
//! `examples/expected/*.txt`), under a header naming it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mmapfile::MmapOptions;
use regex::bytes::Regex;

use crate::cli::DemoArgs;
use crate::failure::{report, Failure, Outcome};

/// The guide's text, carried inside the binary so the demo runs from anywhere.
pub const LOREM: &[u8] = include_bytes!("../../mmapfile/examples/lorem.txt");

/// The word the two writing examples reverse.
const WORD: &[u8] = b"consectetuer";

/// One of the guide's examples: its name (the core crate's example and expected output),
/// the header title, the file it works on, and the code.
struct Example {
    name: &'static str,
    title: &'static str,
    /// `None`: it reads `lorem.txt` itself; `Some(name)`: a fresh copy by that name, which
    /// stays in `--dir` to show what the example did to it.
    copy: Option<&'static str>,
    run: fn(&Path, &mut Vec<u8>) -> io::Result<()>,
}

const EXAMPLES: [Example; 4] = [
    Example {
        name: "mmap_read",
        title: "reading through read() and a slice",
        copy: None,
        run: read,
    },
    Example {
        name: "mmap_write_slice",
        title: "writing through a slice",
        copy: Some("lorem_write_slice.txt"),
        run: write_slice,
    },
    Example {
        name: "mmap_write_copy",
        title: "copy-on-write",
        copy: Some("lorem_write_copy.txt"),
        run: write_copy,
    },
    Example {
        name: "mmap_regex",
        title: "regular expressions over the map",
        copy: None,
        run: regex,
    },
];

/// The header printed above an example's output.
pub fn header(name: &str, title: &str) -> String {
    format!("== {name}: {title} ==\n")
}

pub fn run(args: &DemoArgs, out: &mut impl Write) -> Result<Outcome, Failure> {
    // The temporary directory is removed when `_temp` drops, after every example ran.
    let (_temp, dir) = match &args.dir {
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                return Err(Failure::at(dir, "not a directory"));
            }
            fs::create_dir_all(dir).map_err(|err| Failure::io(dir, err))?;
            (None, dir.clone())
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("mmapfile-demo-")
                .tempdir()
                .map_err(|err| Failure::io(&std::env::temp_dir(), err))?;
            let dir = temp.path().to_path_buf();
            (Some(temp), dir)
        }
    };
    let lorem = dir.join("lorem.txt");
    fs::write(&lorem, LOREM).map_err(|err| Failure::io(&lorem, err))?;
    for (index, example) in EXAMPLES.iter().enumerate() {
        let file = prepare(&lorem, &dir, example.copy)?;
        // Collected first so that an example's failure and a closed stdout stay apart.
        let mut printed = Vec::new();
        (example.run)(&file, &mut printed).map_err(|err| Failure::io(&file, err))?;
        let separator = if index == 0 { "" } else { "\n" };
        write!(out, "{separator}{}", header(example.name, example.title))
            .and_then(|()| out.write_all(&printed))
            .map_err(Failure::Stdout)?;
    }
    if args.dir.is_some() {
        report(format_args!(
            "mmapfile: the demo's files are in {}",
            dir.display()
        ));
    }
    Ok(Outcome::Success)
}

/// The file an example works on: `lorem.txt`, or a fresh copy of it, as the guide's
/// `shutil.copyfile('lorem.txt', 'lorem_copy.txt')`.
fn prepare(lorem: &Path, dir: &Path, copy: Option<&str>) -> Result<PathBuf, Failure> {
    let Some(name) = copy else {
        return Ok(lorem.to_path_buf());
    };
    let target = dir.join(name);
    fs::copy(lorem, &target).map_err(|err| Failure::io(&target, err))?;
    Ok(target)
}

/// Reading: `read_vec` moves the cursor, a slice does not.
fn read(path: &Path, out: &mut Vec<u8>) -> io::Result<()> {
    let file = File::open(path)?;
    // SAFETY: the demo's own file in its own directory; nothing truncates or rewrites it.
    let mut map = unsafe { MmapOptions::new().map(&file)? };
    let head = map.read_vec(10)?;
    writeln!(out, "First 10 bytes via read : {}", text(&head))?;
    let slice = map.get(..10).ok_or_else(|| too_short(10))?;
    writeln!(out, "First 10 bytes via slice: {}", text(slice))?;
    let next = map.read_vec(10)?;
    writeln!(out, "2nd   10 bytes via read : {}", text(&next))?;
    map.close()
}

/// Writing: slice assignment on a write-through map reaches the file.
fn write_slice(path: &Path, out: &mut Vec<u8>) -> io::Result<()> {
    let reversed = reverse(WORD);
    writeln!(out, "Looking for    : {}", text(WORD))?;
    writeln!(out, "Replacing with : {}", text(&reversed))?;
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    // SAFETY: the demo's own copy in its own directory; nothing else touches it.
    let mut map = unsafe { MmapOptions::new().map_mut(&file)? };
    writeln!(out, "Before: {}", first_line(&map.readline()?))?;
    map.seek(SeekFrom::Start(0))?;
    let at = map.find(WORD)?.ok_or_else(word_missing)?;
    map.get_mut(at..at + WORD.len())
        .ok_or_else(|| too_short(at + WORD.len()))?
        .copy_from_slice(&reversed);
    map.flush()?;
    map.seek(SeekFrom::Start(0))?;
    writeln!(out, "After : {}", first_line(&map.readline()?))?;
    map.close()
}

/// Copy-on-write: the map changes, the file (read through its own cursor) does not.
fn write_copy(path: &Path, out: &mut Vec<u8>) -> io::Result<()> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    // SAFETY: the demo's own copy in its own directory; nothing else touches it.
    let mut map = unsafe { MmapOptions::new().map_copy(&file)? };
    let mut from_file = BufReader::new(&file);
    writeln!(out, "Memory Before: {}", first_line(&map.readline()?))?;
    writeln!(
        out,
        "File Before  : {}",
        first_line(&next_line(&mut from_file)?)
    )?;
    writeln!(out)?;
    map.seek(SeekFrom::Start(0))?;
    let at = map.find(WORD)?.ok_or_else(word_missing)?;
    map.write_at(at, &reverse(WORD))?;
    map.seek(SeekFrom::Start(0))?;
    writeln!(out, "Memory After : {}", first_line(&map.readline()?))?;
    from_file.seek(SeekFrom::Start(0))?;
    writeln!(
        out,
        "File After   : {}",
        first_line(&next_line(&mut from_file)?)
    )?;
    map.close()
}

/// Regular expressions: the map is a byte string `regex::bytes` searches directly.
fn regex(path: &Path, out: &mut Vec<u8>) -> io::Result<()> {
    // The guide's flags re.DOTALL | re.IGNORECASE | re.MULTILINE, written inline.
    let sentence = Regex::new(r"(?sim)(\.\W+)?([^.]?nulla[^.]*?\.)")
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
    let file = File::open(path)?;
    // SAFETY: the demo's own file in its own directory; nothing truncates or rewrites it.
    let map = unsafe { MmapOptions::new().map(&file)? };
    map.with_bytes(.., |haystack| {
        sentence.captures_iter(haystack).try_for_each(|found| {
            let text = found.get(2).map_or(&b""[..], |group| group.as_bytes());
            writeln!(out, "{}", String::from_utf8_lossy(text).replace('\n', " "))
        })
    })??;
    map.close()
}

fn next_line(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    Ok(line)
}

/// A line as the guide prints it: `rstrip()`ed.
fn first_line(line: &[u8]) -> String {
    text(line.trim_ascii_end())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn reverse(word: &[u8]) -> Vec<u8> {
    word.iter().rev().copied().collect()
}

fn word_missing() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{:?} is not in the file", text(WORD)),
    )
}

fn too_short(needed: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the file is shorter than the {needed} bytes the example needs"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_text_is_the_guides() {
        assert_eq!(LOREM.len(), 737);
        assert!(LOREM.starts_with(b"Lorem ipsum dolor sit amet, consectetuer adipiscing"));
    }

    #[test]
    fn headers_name_the_example() {
        assert_eq!(header("mmap_read", "reading"), "== mmap_read: reading ==\n");
    }
}
