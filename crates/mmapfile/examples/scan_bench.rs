//! The Rust side of `benches/compare.py`: times whole-file scans and prints one JSON object
//! per operation. Not one of the guide's examples; build it with
//! `cargo build --release --example scan_bench`.
//!
//! ```text
//! scan_bench [--method mmapfile|memmap2|read] [--len BYTES] [--advice none|normal|
//!            sequential|willneed|hugepage] [--populate] [--hot] [--repeat N] FILE OP...
//! ```
//!
//! Each `OP` is `KIND[:ARG]`: `find:NEEDLE`, `rfind:NEEDLE`, `count:NEEDLE`, `lines`,
//! `regex:PATTERN` (counts `regex::bytes` matches). Every operation opens and maps the file
//! afresh (so page-table set-up is part of the time, as it is for a program that maps a file
//! to search it once), unless `--hot` is given: then the map is made and scanned once
//! untimed, and only the scans after it are timed. `--repeat N` times N runs and prints
//! their median. `--len` maps only the first BYTES bytes.
//!
//! Methods: `mmapfile` uses this crate's methods (`find_in`, `rfind_in`, `count`, `lines`,
//! `regex_find_iter`); `memmap2` is the raw baseline (memmap2 + `memchr::memmem`, `memchr`
//! line splitting, `regex::bytes` directly); `read` is a std `read()` loop over a 1 MiB
//! buffer, for `find`, `count` and `lines` only.

use std::fs::File;
use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Instant;

use memchr::memmem;
use mmapfile::{Advice, MmapOptions};
use regex::bytes::Regex;

struct Args {
    method: String,
    len: usize,
    advice: Option<Advice>,
    populate: bool,
    hot: bool,
    repeat: usize,
    path: String,
    ops: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        method: "mmapfile".into(),
        len: 0,
        advice: None,
        populate: false,
        hot: false,
        repeat: 1,
        path: String::new(),
        ops: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    let mut positional = Vec::new();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--method" => args.method = value("--method")?,
            "--len" => {
                let text = value("--len")?;
                args.len = text.parse().map_err(|_| format!("bad --len {text:?}"))?;
            }
            "--advice" => {
                args.advice = match value("--advice")?.as_str() {
                    "none" => None,
                    "normal" => Some(Advice::Normal),
                    "sequential" => Some(Advice::Sequential),
                    "willneed" => Some(Advice::WillNeed),
                    "hugepage" => Some(Advice::HugePage),
                    other => return Err(format!("unknown --advice {other:?}")),
                }
            }
            "--repeat" => {
                let text = value("--repeat")?;
                args.repeat = text
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("bad --repeat {text:?}"))?;
            }
            "--populate" => args.populate = true,
            "--hot" => args.hot = true,
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    args.path = positional.next().ok_or("missing FILE")?;
    args.ops = positional.collect();
    if args.ops.is_empty() {
        return Err("no OP given".into());
    }
    Ok(args)
}

/// What an operation found, printed so that the methods can be checked against each other.
type Found = i64;

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("scan_bench: {err}");
            return ExitCode::from(2);
        }
    };
    for op in &args.ops {
        let (kind, arg) = op.split_once(':').unwrap_or((op.as_str(), ""));
        match run(&args, kind, arg) {
            Ok((seconds, found, bytes)) => println!(
                "{{\"method\": \"{}\", \"op\": \"{}\", \"seconds\": {seconds:.9}, \
                 \"result\": {found}, \"bytes\": {bytes}}}",
                args.method,
                json_escape(op)
            ),
            Err(err) => {
                eprintln!("scan_bench: {} {op}: {err}", args.method);
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn json_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Runs one operation; returns (seconds, what it found, bytes scanned).
fn run(args: &Args, kind: &str, arg: &str) -> io::Result<(f64, Found, u64)> {
    let regex = if kind == "regex" {
        Some(Regex::new(arg).map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?)
    } else {
        None
    };
    let needle = arg.as_bytes();
    let re = || {
        regex
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a regex operation"))
    };
    let op = |hay: Hay<'_>| -> io::Result<Found> {
        match (kind, hay) {
            ("find", Hay::Mapfile(map)) => Ok(offset(map.find_in(needle, ..)?)),
            ("rfind", Hay::Mapfile(map)) => Ok(offset(map.rfind_in(needle, ..)?)),
            ("count", Hay::Mapfile(map)) => Ok(map.count(needle)? as Found),
            ("lines", Hay::Mapfile(map)) => {
                let mut lines = 0;
                let mut bytes = 0;
                for line in map.lines() {
                    lines += 1;
                    bytes += line?.len();
                }
                std::hint::black_box(bytes);
                Ok(lines)
            }
            ("regex", Hay::Mapfile(map)) => {
                let mut found = 0;
                for m in map.regex_find_iter(re()?) {
                    std::hint::black_box(m?);
                    found += 1;
                }
                Ok(found)
            }
            ("find", Hay::Raw(hay)) => Ok(offset(memmem::find(hay, needle))),
            ("rfind", Hay::Raw(hay)) => Ok(offset(memmem::rfind(hay, needle))),
            ("count", Hay::Raw(hay)) => Ok(memmem::find_iter(hay, needle).count() as Found),
            ("lines", Hay::Raw(hay)) => {
                let (mut lines, mut bytes, mut start) = (0, 0, 0);
                for newline in memchr::memchr_iter(b'\n', hay) {
                    bytes += std::hint::black_box(&hay[start..=newline]).len();
                    start = newline + 1;
                    lines += 1;
                }
                if start < hay.len() {
                    lines += 1;
                }
                std::hint::black_box(bytes);
                Ok(lines)
            }
            ("regex", Hay::Raw(hay)) => {
                Ok(re()?.find_iter(hay).map(std::hint::black_box).count() as Found)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown operation {kind:?} for this method"),
            )),
        }
    };
    match args.method.as_str() {
        "mmapfile" => {
            let mapped = || -> io::Result<mmapfile::Mmap> {
                let file = File::open(&args.path)?;
                let mut options = MmapOptions::new();
                options.len(args.len);
                if args.populate {
                    options.populate();
                }
                // SAFETY: the benchmark file is generated for this run and nothing
                // truncates or rewrites it while it is mapped.
                let map = unsafe { options.map(&file)? };
                if let Some(advice) = args.advice {
                    map.advise(advice)?;
                }
                Ok(map)
            };
            time(args.hot, args.repeat, |kept| match kept {
                Some(map) => Ok((op(Hay::Mapfile(map))?, map.len() as u64, None)),
                None => {
                    let map = mapped()?;
                    let found = op(Hay::Mapfile(&map))?;
                    Ok((found, map.len() as u64, Some(map)))
                }
            })
        }
        "memmap2" => {
            let mapped = || -> io::Result<memmap2::Mmap> {
                let file = File::open(&args.path)?;
                let mut options = memmap2::MmapOptions::new();
                if args.len > 0 {
                    options.len(args.len);
                }
                if args.populate {
                    options.populate();
                }
                // SAFETY: as above.
                let map = unsafe { options.map(&file)? };
                if let Some(advice) = args.advice {
                    memmap2_advise(&map, advice)?;
                }
                Ok(map)
            };
            time(
                args.hot,
                args.repeat,
                |kept: Option<&memmap2::Mmap>| match kept {
                    Some(map) => Ok((op(Hay::Raw(&map[..]))?, map.len() as u64, None)),
                    None => {
                        let map = mapped()?;
                        let found = op(Hay::Raw(&map))?;
                        Ok((found, map.len() as u64, Some(map)))
                    }
                },
            )
        }
        "read" => time(false, args.repeat, |_: Option<&()>| {
            let (found, bytes) = read_loop(&args.path, args.len, kind, needle)?;
            Ok((found, bytes, None))
        }),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown method {other:?}"),
        )),
    }
}

enum Hay<'a> {
    Mapfile(&'a mmapfile::Mmap),
    Raw(&'a [u8]),
}

fn offset(found: Option<usize>) -> Found {
    found.map_or(-1, |at| at as Found)
}

/// Times `scan` (map + scan) `repeat` times and returns the median. With `hot`, the first
/// scan's map is kept and scanned again by every timed run, so only the scan is timed. Maps
/// are dropped outside the timed part.
fn time<M>(
    hot: bool,
    repeat: usize,
    scan: impl Fn(Option<&M>) -> io::Result<(Found, u64, Option<M>)>,
) -> io::Result<(f64, Found, u64)> {
    let kept = if hot { scan(None)?.2 } else { None };
    let mut times = Vec::with_capacity(repeat);
    let mut last = (0, 0);
    for _ in 0..repeat {
        let start = Instant::now();
        let (found, bytes, fresh) = scan(kept.as_ref())?;
        times.push(start.elapsed().as_secs_f64());
        drop(fresh);
        last = (found, bytes);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], last.0, last.1))
}

/// The std baseline: `read()` into a 1 MiB buffer, searching each buffer with the last
/// `needle.len() - 1` bytes of the previous one carried over, so matches across buffer
/// edges are found. `count` is exact for needles that cannot overlap themselves (the
/// benchmark's needles).
fn read_loop(path: &str, len: usize, kind: &str, needle: &[u8]) -> io::Result<(Found, u64)> {
    const BUF: usize = 1 << 20;
    let mut file = File::open(path)?;
    let limit = if len == 0 { u64::MAX } else { len as u64 };
    let carry = needle.len().saturating_sub(1);
    let mut buf = vec![0u8; carry + BUF];
    let finder = memmem::Finder::new(needle);
    let (mut kept, mut consumed, mut count, mut last_byte) = (0usize, 0u64, 0i64, b'\n');
    loop {
        let want = (BUF as u64).min(limit - consumed) as usize;
        let got = file.read(&mut buf[kept..kept + want])?;
        if got == 0 {
            break;
        }
        let window = &buf[..kept + got];
        let window_start = consumed - kept as u64;
        match kind {
            "find" => {
                if let Some(at) = finder.find(window) {
                    return Ok((window_start as i64 + at as i64, consumed + got as u64));
                }
            }
            "count" => count += finder.find_iter(window).count() as i64,
            "lines" => {
                count += memchr::memchr_iter(b'\n', &window[kept..]).count() as i64;
                last_byte = window[window.len() - 1];
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the read loop has no {kind:?} operation"),
                ))
            }
        }
        consumed += got as u64;
        let filled = kept + got;
        let keep = if kind == "lines" {
            0
        } else {
            carry.min(filled)
        };
        buf.copy_within(filled - keep..filled, 0);
        kept = keep;
        if consumed >= limit {
            break;
        }
    }
    match kind {
        "find" => Ok((-1, consumed)),
        "lines" if last_byte != b'\n' => Ok((count + 1, consumed)),
        _ => Ok((count, consumed)),
    }
}

/// The same advice through memmap2, which has `advise` on Unix only and `HugePage` on Linux
/// only (elsewhere it falls back to `Normal`, as mmapfile does).
#[cfg(unix)]
fn memmap2_advise(map: &memmap2::Mmap, advice: Advice) -> io::Result<()> {
    map.advise(match advice {
        Advice::Sequential => memmap2::Advice::Sequential,
        Advice::WillNeed => memmap2::Advice::WillNeed,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Advice::HugePage => memmap2::Advice::HugePage,
        _ => memmap2::Advice::Normal,
    })
}

/// memmap2 offers no advice on Windows.
#[cfg(not(unix))]
fn memmap2_advise(_map: &memmap2::Mmap, advice: Advice) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("memmap2 has no advise on this platform (asked for {advice:?})"),
    ))
}
