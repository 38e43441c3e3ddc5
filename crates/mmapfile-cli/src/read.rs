//! `mmapfile read FILE [--offset N] [--length N]`: a window of the file to stdout.

use std::io::Write;

use mmapfile::Advice;

use crate::cli::ReadArgs;
use crate::failure::{Failure, Outcome};
use crate::progress::Progress;
use crate::source::{Purpose, Source};

/// Bytes handed to stdout per call: big enough for speed, small enough for a live bar.
const CHUNK: usize = 8 * 1024 * 1024;

pub fn run(args: &ReadArgs, out: &mut impl Write) -> Result<Outcome, Failure> {
    let source = Source::open(&args.file, Purpose::Read)?;
    let size = source.size();
    if args.offset > size {
        return Err(Failure::at(
            source.path(),
            format!(
                "offset {} is past the end of the {size}-byte file",
                args.offset
            ),
        ));
    }
    let end = match args.length {
        Some(length) => args.offset.saturating_add(length).min(size),
        None => size,
    };
    // Only the window is mapped, wherever it starts; an empty one has nothing to write.
    let Some(map) = source.map_window(args.offset..end)? else {
        return Ok(Outcome::Success);
    };
    // Read-ahead advice only speeds things up; a kernel that refuses it changes nothing.
    let _ = map.advise(Advice::Sequential);
    let progress = Progress::new(size, map.len() as u64, "reading");
    let mut done = 0;
    while done < map.len() {
        let next = done.saturating_add(CHUNK).min(map.len());
        map.with_bytes(done..next, |bytes| out.write_all(bytes))
            .map_err(|err| source.fail(err))?
            .map_err(Failure::Stdout)?;
        done = next;
        progress.set(done as u64);
    }
    Ok(Outcome::Success)
}
