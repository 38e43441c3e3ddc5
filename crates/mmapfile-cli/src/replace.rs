//! `mmapfile replace FILE OLD NEW [--all] [--dry-run]`: in place, through the map.
//!
//! A same-length replacement is a patch of the mapped bytes. Another length changes the
//! file's size with the map's `resize` and shifts the bytes after each occurrence with
//! `move_within`: growing, the file is resized first and the pieces move right, last piece
//! first; shrinking, the pieces move left, first piece first, and the file is cut after.
//! Everything that can fail for a reason other than a broken disk is checked before the
//! first byte is written, so on an error the file is as it was.

use std::fs::File;
use std::io::{self, Write};
use std::ops::ControlFlow;

use mmapfile::{DynMmap, MmapMut};

use crate::args::arg_bytes;
use crate::cli::ReplaceArgs;
use crate::failure::{Failure, Outcome};
use crate::occurrences;
use crate::progress::Progress;
use crate::source::{Purpose, Source};

/// Bytes moved per `move_within` call, so the progress bar advances through a long tail.
const MOVE_CHUNK: usize = 16 * 1024 * 1024;

/// Bytes of context shown on each side of an occurrence in a dry run (never past its line).
const CONTEXT: usize = 40;

pub fn run(args: &ReplaceArgs, out: &mut impl Write) -> Result<Outcome, Failure> {
    let old = arg_bytes(&args.old, "OLD")?;
    let new = arg_bytes(&args.new, "NEW")?;
    if old.is_empty() {
        return Err(Failure::Argument(
            "OLD is empty: give at least one byte to replace".into(),
        ));
    }
    let purpose = if args.dry_run {
        Purpose::Read
    } else {
        Purpose::Write
    };
    let source = Source::open(&args.file, purpose)?;
    let mapped = source.map_whole_mut(args.dry_run)?;
    let progress = Progress::new(source.size(), source.size(), "searching");
    let plan = match &mapped {
        Some(map) => Plan::new(&source, map.as_dyn(), old, new, args.all, &progress)?,
        None => Plan::empty(old, new),
    };
    let name = source.path().display().to_string();
    if plan.offsets.is_empty() {
        writeln!(out, "no occurrence in {name}; it was not changed").map_err(Failure::Stdout)?;
        return Ok(Outcome::NothingFound);
    }
    let Some(mut map) = mapped else {
        // Only an empty file has no map, and it has no occurrences either.
        return Ok(Outcome::NothingFound);
    };
    let occurrences = count(plan.offsets.len());
    if args.dry_run {
        preview(&source, map.as_dyn(), &plan, &name, out)?;
        writeln!(
            out,
            "dry run: {occurrences} would be replaced; {name} {}; nothing was written",
            sizes(map.len(), plan.new_size, true)
        )
        .map_err(Failure::Stdout)?;
    } else {
        let old_size = map.len();
        progress.restart(plan.bytes_to_move(old_size) as u64, "moving");
        apply(&source, &mut map, &plan, &progress)?;
        writeln!(
            out,
            "replaced {occurrences} in {name}; it {}",
            sizes(old_size, plan.new_size, false)
        )
        .map_err(Failure::Stdout)?;
    }
    Ok(Outcome::Success)
}

/// What will be replaced, found and sized before anything is written.
struct Plan<'a> {
    old: &'a [u8],
    new: &'a [u8],
    /// Where the occurrences start, ascending, not overlapping.
    offsets: Vec<usize>,
    new_size: usize,
}

impl<'a> Plan<'a> {
    fn empty(old: &'a [u8], new: &'a [u8]) -> Self {
        Self {
            old,
            new,
            offsets: Vec::new(),
            new_size: 0,
        }
    }

    fn new(
        source: &Source,
        map: &DynMmap,
        old: &'a [u8],
        new: &'a [u8],
        all: bool,
        progress: &Progress,
    ) -> Result<Self, Failure> {
        let offsets = if all {
            // Every occurrence: the core's threaded walk.
            let mut offsets = Vec::new();
            occurrences::walk(map, old, false, progress, |at| {
                offsets.push(at);
                Ok::<_, std::convert::Infallible>(ControlFlow::Continue(()))
            })
            .map_err(|err| source.fail(err))?
            .unwrap_or_else(|never| match never {});
            offsets
        } else {
            // The first one: exactly the core's find_in, which searches the start alone
            // before it starts threads, with the bar fed by the threads.
            map.find_in_reporting(old, .., |done| progress.advance_to(done as u64))
                .map_err(|err| source.fail(err))?
                .into_iter()
                .collect()
        };
        let n = offsets.len() as u128;
        let new_size = map.len() as u128 - n * old.len() as u128 + n * new.len() as u128;
        // The size must suit both the address space (the map) and off_t (the file).
        let new_size = usize::try_from(new_size)
            .ok()
            .filter(|&size| i64::try_from(size).is_ok())
            .ok_or_else(|| {
                Failure::at(
                    source.path(),
                    format!("the file would grow to {new_size} bytes, more than can be mapped"),
                )
            })?;
        Ok(Self {
            old,
            new,
            offsets,
            new_size,
        })
    }

    /// How many bytes after the first occurrence have to shift (0 for same-length edits).
    fn bytes_to_move(&self, old_size: usize) -> usize {
        match self.offsets.first() {
            Some(&first) if self.old.len() != self.new.len() => {
                old_size - first - self.offsets.len() * self.old.len()
            }
            _ => 0,
        }
    }
}

/// Does the replacement through the write-through map and flushes it.
fn apply(
    source: &Source,
    map: &mut MmapMut,
    plan: &Plan<'_>,
    progress: &Progress,
) -> Result<(), Failure> {
    let fail = |err| source.fail(err);
    let old_size = map.len();
    let (Some(&first), Some(&last)) = (plan.offsets.first(), plan.offsets.last()) else {
        return Ok(());
    };
    if plan.old == plan.new {
        return Ok(());
    }
    // Every byte from the first occurrence on is rewritten, unless the lengths match.
    let written_end = if plan.old.len() == plan.new.len() {
        last + plan.old.len()
    } else {
        plan.new_size
    };
    // Checks that stand between us and a half-done edit, all before the first write:
    // the file may be resized (ftruncate to its own size changes nothing but fails where
    // resizing would), and the disk has room for every byte we are about to write, so that
    // no store into the map can fault for want of space halfway through.
    if plan.new_size != old_size {
        source.file().set_len(old_size as u64).map_err(fail)?;
    }
    if let Err(err) = preallocate(source.file(), first as u64, (written_end - first) as u64) {
        // Preallocating past the end may have grown the file; put its size back.
        let _ = source.file().set_len(old_size as u64);
        return Err(fail(err));
    }
    let mut mover = Mover {
        map,
        moved: 0,
        progress,
    };
    let (old_len, new_len) = (plan.old.len(), plan.new.len());
    let n = plan.offsets.len();
    // The piece after occurrence k runs from its end to the next occurrence (or the end).
    let piece = |k: usize| {
        let start = plan.offsets[k] + old_len;
        let end = plan.offsets.get(k + 1).copied().unwrap_or(old_size);
        (start, end - start)
    };
    if new_len == old_len {
        for &at in &plan.offsets {
            mover.map.write_at(at, plan.new).map_err(fail)?;
        }
    } else if new_len > old_len {
        let grow = new_len - old_len;
        if let Err(err) = mover.map.resize(plan.new_size) {
            // Nothing is written yet; undo the growth preallocation may have made.
            let _ = source.file().set_len(old_size as u64);
            return Err(fail(err));
        }
        // Right to left: each piece moves into room that is already free.
        for k in (0..n).rev() {
            let (start, len) = piece(k);
            mover
                .shift(start + (k + 1) * grow, start, len)
                .map_err(fail)?;
            mover
                .map
                .write_at(plan.offsets[k] + k * grow, plan.new)
                .map_err(fail)?;
        }
    } else {
        let shrink = old_len - new_len;
        // Left to right: each piece moves over bytes that are already consumed.
        for k in 0..n {
            mover
                .map
                .write_at(plan.offsets[k] - k * shrink, plan.new)
                .map_err(fail)?;
            let (start, len) = piece(k);
            mover
                .shift(start - (k + 1) * shrink, start, len)
                .map_err(fail)?;
        }
        mover.map.resize(plan.new_size).map_err(fail)?;
    }
    let map = mover.map;
    map.flush_range(first, map.len() - first).map_err(fail)
}

/// Moves bytes inside the map in bounded steps, keeping the progress bar up to date.
struct Mover<'m, 'p> {
    map: &'m mut MmapMut,
    moved: u64,
    progress: &'p Progress,
}

impl Mover<'_, '_> {
    /// Copies `len` bytes from `src` to `dest` (overlap allowed), in the order that never
    /// overwrites a byte before it has been copied.
    fn shift(&mut self, dest: usize, src: usize, len: usize) -> io::Result<()> {
        let mut done = 0;
        while done < len {
            let step = MOVE_CHUNK.min(len - done);
            // Moving right, start from the end of the range; moving left, from its start.
            let at = if dest > src { len - done - step } else { done };
            self.map.move_within(dest + at, src + at, step)?;
            done += step;
            self.moved += step as u64;
            self.progress.set(self.moved);
        }
        Ok(())
    }
}

/// Reserves disk blocks for `len` bytes from `offset`, growing the file if that runs past
/// its end, so that stores into a shared map cannot fault (SIGBUS) on a full disk.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn preallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    if len == 0 {
        return Ok(());
    }
    // The large-file form where `off_t` may be 32 bits, so that ranges past 2 GiB work there
    // too: the same rule as the core's `sys/unix.rs` (glibc and Android; elsewhere, musl
    // included, `off_t` is 64 bits).
    #[cfg(any(target_os = "android", all(target_os = "linux", target_env = "gnu")))]
    use libc::{off64_t as off_t, posix_fallocate64 as posix_fallocate};
    #[cfg(not(any(target_os = "android", all(target_os = "linux", target_env = "gnu"))))]
    use libc::{off_t, posix_fallocate};
    let too_big = || io::Error::new(io::ErrorKind::InvalidInput, "file range too large");
    let offset = off_t::try_from(offset).map_err(|_| too_big())?;
    let len = off_t::try_from(len).map_err(|_| too_big())?;
    loop {
        // SAFETY: posix_fallocate only acts on the descriptor, which `file` keeps open for
        // the whole call; no memory of ours is passed.
        let rc = unsafe { posix_fallocate(file.as_raw_fd(), offset, len) };
        match rc {
            0 => return Ok(()),
            libc::EINTR => continue,
            // The file system cannot reserve blocks: go on without the guarantee, as
            // every other writer to it must.
            libc::EOPNOTSUPP => return Ok(()),
            code => return Err(io::Error::from_raw_os_error(code)),
        }
    }
}

/// Elsewhere there is no portable way to reserve blocks: stores go ahead without it.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn preallocate(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Ok(())
}

/// Prints each occurrence in its line, before (`-`) and after (`+`), read from the
/// copy-on-write map.
fn preview(
    source: &Source,
    map: &DynMmap,
    plan: &Plan<'_>,
    name: &str,
    out: &mut impl Write,
) -> Result<(), Failure> {
    for &at in &plan.offsets {
        let end = at + plan.old.len();
        let (before, after) = map
            .with_bytes(.., |bytes| {
                let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
                let line_end =
                    memchr::memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |i| end + i);
                let from = line_start.max(at.saturating_sub(CONTEXT));
                let to = line_end.min(end.saturating_add(CONTEXT));
                (bytes[from..at].to_vec(), bytes[end..to].to_vec())
            })
            .map_err(|err| source.fail(err))?;
        for (sign, middle) in [('-', plan.old), ('+', plan.new)] {
            write!(out, "{name}:{at}:{sign}")
                .and_then(|()| out.write_all(&before))
                .and_then(|()| out.write_all(middle))
                .and_then(|()| out.write_all(&after))
                .and_then(|()| out.write_all(b"\n"))
                .map_err(Failure::Stdout)?;
        }
    }
    Ok(())
}

fn count(n: usize) -> String {
    match n {
        1 => "1 occurrence".to_string(),
        n => format!("{n} occurrences"),
    }
}

/// "would stay 737 bytes", "grew from 737 to 740 bytes": the size change, as a forecast
/// (`would`) or as done.
fn sizes(old: usize, new: usize, would: bool) -> String {
    match new.cmp(&old) {
        std::cmp::Ordering::Equal if would => format!("would stay {old} bytes"),
        std::cmp::Ordering::Equal => format!("stayed {old} bytes"),
        std::cmp::Ordering::Greater if would => format!("would grow from {old} to {new} bytes"),
        std::cmp::Ordering::Greater => format!("grew from {old} to {new} bytes"),
        std::cmp::Ordering::Less if would => format!("would shrink from {old} to {new} bytes"),
        std::cmp::Ordering::Less => format!("shrank from {old} to {new} bytes"),
    }
}
