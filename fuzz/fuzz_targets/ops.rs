//! Random operation sequences on a map, checked against a model: a `Vec<u8>` with a cursor.
//!
//! The map is anonymous memory or a window (at any offset) of a temporary file, read-only,
//! write-through or copy-on-write. Besides the file-like and byte-string calls, a sequence
//! may truncate the file under the map from another descriptor: from then on, accesses that
//! reach past the new end must either fail with `UnexpectedEof` (the fault guard) or, where
//! the bytes are still readable (the tail of the last page), agree with the model, and once
//! the truncation has been reported, every such access must fail. The truncation itself runs
//! on another thread while this one reads the whole map (a copy, a threaded search or a
//! regex scan), which must give the model's bytes or the truncation error.
#![no_main]

use std::fs::OpenOptions;
use std::io::{ErrorKind, SeekFrom};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mmapfile::{Access, DynMmap, MmapOptions};

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Kind {
    Anon,
    FileRead,
    FileWrite,
    FileCopy,
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: Kind,
    len: u16,
    offset: u16,
    seed: u32,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Seek(u8, i32),
    Read(u16),
    ReadInto(u16),
    ReadByte,
    Readline,
    Write(Vec<u8>),
    WriteByte(u8),
    WriteAt(u16, Vec<u8>),
    SetByte(u16, u8),
    GetByte(u16),
    CopyRange(u16, u16),
    FindIn(Vec<u8>, u16, u16),
    RfindIn(Vec<u8>, u16, u16),
    Find(Vec<u8>),
    Rfind(Vec<u8>),
    MoveWithin(u16, u16, u16),
    Resize(u16),
    Flush(u16, u16),
    Truncate(u16),
}

/// What the model knows about a truncation of the file under the map.
#[derive(Clone, Copy)]
struct Cut {
    /// The new end, as an offset into the map.
    end: usize,
    /// The first page boundary at or after `end`: bytes from here on fault.
    hard: usize,
    /// Whether the crate has reported the truncation (every later access past `end` fails).
    revealed: bool,
}

struct Model {
    data: Vec<u8>,
    pos: usize,
    writable: bool,
    resizable: bool,
    cut: Option<Cut>,
    /// Copy-on-write maps: the file pages (by index) this map has written, which keep their
    /// private contents when the file is truncated.
    private_pages: std::collections::BTreeSet<usize>,
    copy_on_write: bool,
    /// Write-through maps after a truncation: bytes written between the new end and the
    /// page boundary sit in a page-cache page past the end of the file, whose tail the
    /// kernel zeroes again at each writeback. Each such byte reads as written or as 0.
    unsure: Vec<bool>,
    shared_file: bool,
    offset: usize,
    page: usize,
}

impl Model {
    /// How an access to `a..b` must turn out: `Strict` (as if nothing happened), `MustFail`,
    /// or `Either` (fail, or agree with the model).
    fn verdict(&self, a: usize, b: usize, reads_all: bool) -> Verdict {
        let Some(cut) = self.cut else {
            return Verdict::Strict;
        };
        if a >= b || b <= cut.end {
            return Verdict::Strict;
        }
        if cut.revealed || (reads_all && b > cut.hard) {
            return Verdict::MustFail;
        }
        Verdict::Either
    }

    /// Whether a write to `a..b` changes the map: not when the crate already knows the bytes
    /// are gone (it refuses before touching them); otherwise the copy runs to its end, the
    /// vanished pages taking the bytes past the cut.
    fn write_lands(&self, a: usize, b: usize) -> bool {
        !matches!(self.cut, Some(cut) if cut.revealed && a < b && b > cut.end)
    }

    /// Applies a write that landed.
    fn apply(&mut self, at: usize, bytes: &[u8]) {
        self.data[at..at + bytes.len()].copy_from_slice(bytes);
        if let (true, Some(cut)) = (self.shared_file, self.cut) {
            for p in at.max(cut.end)..(at + bytes.len()).min(cut.hard) {
                self.unsure[p] = true;
            }
        }
        if self.copy_on_write && !bytes.is_empty() {
            let first = (self.offset + at) / self.page;
            let last = (self.offset + at + bytes.len() - 1) / self.page;
            self.private_pages.extend(first..=last);
        }
    }

    /// Whether the map may show `value` at `p`: the model's byte, or 0 for an unsure one.
    fn may_read(&self, p: usize, value: u8) -> bool {
        self.data[p] == value || (self.is_unsure(p) && value == 0)
    }

    fn is_unsure(&self, p: usize) -> bool {
        self.unsure.get(p).copied().unwrap_or(false)
    }

    /// Whether `bytes`, read from `at`, agree with the model.
    fn consistent(&self, at: usize, bytes: &[u8]) -> bool {
        bytes
            .iter()
            .enumerate()
            .all(|(k, &v)| self.may_read(at + k, v))
    }

    /// An access failed with the truncation error. Before the truncation was revealed, only
    /// a fault can cause that (the mark is set by the guard's handler alone), so the first one
    /// in a process is announced: proof that the run exercised the handler.
    fn reveal(&mut self) {
        if let Some(cut) = &mut self.cut {
            if !cut.revealed {
                static ANNOUNCED: std::sync::Once = std::sync::Once::new();
                ANNOUNCED.call_once(|| eprintln!("ops: a SIGBUS was turned into an error"));
            }
            cut.revealed = true;
        }
    }

    /// `flush` found the file too short by its size, without any fault.
    fn reveal_by_size(&mut self) {
        if let Some(cut) = &mut self.cut {
            cut.revealed = true;
        }
    }
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum Verdict {
    Strict,
    MustFail,
    Either,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(hay.len());
    }
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn clamp(a: usize, b: usize, len: usize) -> Option<(usize, usize)> {
    let (a, b) = (a.min(len), b.min(len));
    (a <= b).then_some((a, b))
}

/// Checks a result against the verdict: `expected` is the model's answer for `Strict`.
#[track_caller]
fn check<T: PartialEq + std::fmt::Debug>(
    what: &str,
    verdict: Verdict,
    got: &std::io::Result<T>,
    expected: &Option<T>,
    plausible: impl Fn(&T) -> bool,
) -> bool {
    match (verdict, got) {
        (Verdict::Strict, Ok(value)) => {
            assert_eq!(Some(value), expected.as_ref(), "{what}: wrong value");
            true
        }
        (Verdict::Strict, Err(err)) => {
            assert!(expected.is_none(), "{what}: unexpected error {err}");
            false
        }
        (Verdict::MustFail, Ok(_)) => panic!("{what}: succeeded past the truncated end"),
        (_, Err(err)) => {
            if verdict != Verdict::Strict {
                assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{what}: {err}");
            }
            false
        }
        (Verdict::Either, Ok(value)) => {
            assert!(
                plausible(value),
                "{what}: implausible {value:?} after truncation"
            );
            true
        }
    }
}

fuzz_target!(|input: Input| {
    let page = mmapfile::page_size();
    let len = usize::from(input.len) % (5 * page) + 1;
    let mut state = input.seed | 1;
    let offset = if input.kind == Kind::Anon {
        0
    } else {
        usize::from(input.offset) % (3 * page)
    };
    let original: Vec<u8> = (0..offset + len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            b"ab\nc"[(state % 4) as usize]
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data");
    std::fs::write(&path, &original).expect("write the file");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open");
    let (access, mut map): (Access, DynMmap) = match input.kind {
        Kind::Anon => {
            let map = MmapOptions::new()
                .len(len)
                .map_anon_dyn(Access::Copy)
                .expect("anon map");
            (Access::Copy, map)
        }
        kind => {
            let access = match kind {
                Kind::FileRead => Access::Read,
                Kind::FileWrite => Access::Write,
                _ => Access::Copy,
            };
            // SAFETY: only this target touches the file; its truncation is what the guard
            // is for, and no plain slice of the map is held across it.
            let map = unsafe {
                MmapOptions::new()
                    .offset(offset as u64)
                    .len(len)
                    .map_dyn(Some(&file), access)
            }
            .expect("file map");
            (access, map)
        }
    };
    let mut model = Model {
        data: if input.kind == Kind::Anon {
            vec![0; len]
        } else {
            original[offset..].to_vec()
        },
        pos: 0,
        writable: access.is_writable(),
        resizable: matches!(input.kind, Kind::Anon | Kind::FileWrite),
        cut: None,
        private_pages: Default::default(),
        unsure: Vec::new(),
        shared_file: input.kind == Kind::FileWrite,
        copy_on_write: input.kind == Kind::FileCopy,
        offset,
        page,
    };

    for op in input.ops.iter().take(64) {
        let len = model.data.len();
        match op {
            Op::Seek(whence, delta) => {
                let (target, base, delta) = match whence % 3 {
                    0 => (
                        SeekFrom::Start(*delta as u32 as u64),
                        0i128,
                        *delta as u32 as i128,
                    ),
                    1 => (
                        SeekFrom::Current(*delta as i64),
                        model.pos as i128,
                        *delta as i128,
                    ),
                    _ => (SeekFrom::End(*delta as i64), len as i128, *delta as i128),
                };
                let want = base + delta;
                let got = map.seek(target);
                if (0..=len as i128).contains(&want) {
                    assert_eq!(got.expect("seek in range"), want as u64);
                    model.pos = want as usize;
                } else {
                    assert!(got.is_err(), "seek out of range");
                }
                assert_eq!(map.tell(), model.pos as u64);
            }
            Op::Read(n) | Op::ReadInto(n) => {
                let end = (model.pos + usize::from(*n)).min(len);
                let verdict = model.verdict(model.pos, end, true);
                let got = if matches!(op, Op::Read(_)) {
                    map.read_vec(usize::from(*n))
                } else {
                    let mut buf = vec![0xEE; usize::from(*n)];
                    map.read_into(&mut buf).map(|count| buf[..count].to_vec())
                };
                let expected = model.data[model.pos..end].to_vec();
                let from = model.pos;
                if check("read", verdict, &got, &Some(expected), |v| {
                    v.len() == end - from && model.consistent(from, v)
                }) {
                    model.pos = end;
                } else {
                    model.reveal();
                }
            }
            Op::ReadByte => {
                let got = map.read_byte();
                if model.pos >= len {
                    assert_eq!(
                        got.expect_err("read_byte at the end").kind(),
                        ErrorKind::UnexpectedEof
                    );
                    continue;
                }
                let verdict = model.verdict(model.pos, model.pos + 1, true);
                let expected = model.data[model.pos];
                if check("read_byte", verdict, &got, &Some(expected), |v| {
                    model.may_read(model.pos, *v)
                }) {
                    model.pos += 1;
                } else {
                    model.reveal();
                }
            }
            Op::Readline => {
                let rest = &model.data[model.pos..];
                let end = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(len, |i| model.pos + i + 1);
                // The scan reads up to the end of the map, whatever it finds.
                let verdict = model.verdict(model.pos, len, false);
                let got = map.readline();
                let expected = model.data[model.pos..end].to_vec();
                let hard = model.cut.map_or(len, |cut| cut.hard);
                let from = model.pos;
                // What the map showed must agree with the model, hold no newline before its
                // last byte, and end at a newline or at the end of the map, below the first
                // vanished page (the scan did not fault).
                let plausible = |v: &Vec<u8>| {
                    let stop = from + v.len();
                    model.consistent(from, v)
                        && !v[..v.len().saturating_sub(1)].contains(&b'\n')
                        && (v.last() == Some(&b'\n') || stop == len)
                        && stop <= hard
                };
                let result = check("readline", verdict, &got, &Some(expected), plausible);
                if result {
                    model.pos += got.as_ref().map_or(0, Vec::len);
                } else {
                    model.reveal();
                }
            }
            Op::Write(bytes) | Op::WriteAt(_, bytes) => {
                let at = match op {
                    Op::WriteAt(at, _) => usize::from(*at) % (len + 2),
                    _ => model.pos,
                };
                let got = match op {
                    Op::WriteAt(..) => map.write_at(at, bytes).map(|()| bytes.len()),
                    _ => map.write(bytes),
                };
                let fits = at + bytes.len() <= len;
                if !model.writable || !fits {
                    assert!(
                        got.is_err(),
                        "write refused (writable {}, fits {fits})",
                        model.writable
                    );
                    continue;
                }
                let verdict = model.verdict(at, at + bytes.len(), true);
                let lands = model.write_lands(at, at + bytes.len());
                let ok = check("write", verdict, &got, &Some(bytes.len()), |v| {
                    *v == bytes.len()
                });
                if lands {
                    model.apply(at, bytes);
                }
                if ok {
                    if matches!(op, Op::Write(_)) {
                        model.pos += bytes.len();
                    }
                } else {
                    model.reveal();
                }
            }
            Op::WriteByte(byte) => {
                let got = map.write_byte(*byte);
                if !model.writable || model.pos >= len {
                    assert!(got.is_err(), "write_byte refused");
                    continue;
                }
                let verdict = model.verdict(model.pos, model.pos + 1, true);
                let lands = model.write_lands(model.pos, model.pos + 1);
                let ok = check("write_byte", verdict, &got, &Some(()), |_| true);
                if lands {
                    model.apply(model.pos, &[*byte]);
                }
                if ok {
                    model.pos += 1;
                } else {
                    model.reveal();
                }
            }
            Op::SetByte(at, byte) => {
                let at = usize::from(*at) % (len + 1);
                let got = map.set_byte(at, *byte);
                if !model.writable || at >= len {
                    assert!(got.is_err(), "set_byte refused");
                    continue;
                }
                let verdict = model.verdict(at, at + 1, true);
                if model.write_lands(at, at + 1) {
                    model.apply(at, &[*byte]);
                }
                if !check("set_byte", verdict, &got, &Some(()), |_| true) {
                    model.reveal();
                }
            }
            Op::GetByte(at) => {
                let at = usize::from(*at) % (len + 1);
                let got = map.get_byte(at);
                if at >= len {
                    assert!(got.is_err(), "get_byte past the end");
                    continue;
                }
                let verdict = model.verdict(at, at + 1, true);
                let expected = model.data[at];
                if !check("get_byte", verdict, &got, &Some(expected), |v| {
                    model.may_read(at, *v)
                }) {
                    model.reveal();
                }
            }
            Op::CopyRange(a, b) => {
                let (a, b) = (usize::from(*a) % (len + 2), usize::from(*b) % (len + 2));
                let got = map.copy_range(a..b);
                if a > b || b > len {
                    assert!(got.is_err(), "copy_range {a}..{b} of {len}");
                    continue;
                }
                let verdict = model.verdict(a, b, true);
                let expected = model.data[a..b].to_vec();
                if !check("copy_range", verdict, &got, &Some(expected), |v| {
                    v.len() == b - a && model.consistent(a, v)
                }) {
                    model.reveal();
                }
            }
            Op::FindIn(needle, ..)
            | Op::RfindIn(needle, ..)
            | Op::Find(needle)
            | Op::Rfind(needle) => {
                let needle = &needle[..needle.len().min(6)];
                let (a, b) = match op {
                    Op::FindIn(_, a, b) | Op::RfindIn(_, a, b) => {
                        (usize::from(*a) % (len + 2), usize::from(*b) % (len + 2))
                    }
                    _ => (model.pos, usize::MAX),
                };
                let reverse = matches!(op, Op::RfindIn(..) | Op::Rfind(_));
                let got = match op {
                    Op::FindIn(..) => map.find_in(needle, a..b.max(a)),
                    Op::RfindIn(..) => map.rfind_in(needle, a..b.max(a)),
                    Op::Find(_) => map.find(needle),
                    _ => map.rfind(needle),
                };
                let Some((s, e)) = clamp(a, b.max(a), len) else {
                    assert_eq!(got.expect("an empty range finds nothing"), None);
                    continue;
                };
                let hay = &model.data[s..e];
                let expected = if reverse {
                    rfind(hay, needle)
                } else {
                    find(hay, needle)
                }
                .map(|i| s + i);
                let verdict = model.verdict(s, e, false);
                let hard = model.cut.map_or(len, |cut| cut.hard);
                // A scan that did not fault read no vanished byte (from `hard` on): those are
                // wildcards it cannot have ruled out. Readable bytes are the model's, unsure
                // ones possibly 0. A match it reports must be one the bytes allow, and every
                // alignment before it (after it, for rfind) must have been ruled out by a
                // readable byte that can differ from the needle; "none" needs that for all.
                let n = needle.len();
                let m = &model;
                let can_match =
                    |i: usize| i + n <= hard && (0..n).all(|k| m.may_read(i + k, needle[k]));
                let ruled_out = |j: usize| {
                    (0..n).any(|k| {
                        let p = j + k;
                        p < hard && (m.data[p] != needle[k] || (m.is_unsure(p) && needle[k] != 0))
                    })
                };
                let alignments = if e - s >= n { s..e - n + 1 } else { s..s };
                let plausible = |v: &Option<usize>| match *v {
                    _ if n == 0 => *v == expected,
                    Some(i) if reverse => {
                        alignments.contains(&i)
                            && can_match(i)
                            && (i + 1..alignments.end).all(ruled_out)
                    }
                    Some(i) => alignments.contains(&i) && can_match(i) && (s..i).all(ruled_out),
                    None => alignments.clone().all(ruled_out),
                };
                if !check("find", verdict, &got, &Some(expected), plausible) {
                    model.reveal();
                }
            }
            Op::MoveWithin(dest, src, count) => {
                if model.cut.is_some() {
                    continue;
                }
                let (dest, src, count) = (
                    usize::from(*dest) % (len + 1),
                    usize::from(*src) % (len + 1),
                    usize::from(*count) % (len + 2),
                );
                if dest == src {
                    // memmove onto itself may or may not store (glibc decides by size), so
                    // whether a copy-on-write page gets copied is unknowable: not modelled.
                    continue;
                }
                let got = map.move_within(dest, src, count);
                if !model.writable || dest + count > len || src + count > len {
                    assert!(got.is_err(), "move_within refused");
                    continue;
                }
                got.expect("move_within");
                let moved = model.data[src..src + count].to_vec();
                model.apply(dest, &moved);
            }
            Op::Resize(n) => {
                if model.cut.is_some() {
                    continue;
                }
                let new_len = usize::from(*n) % (5 * page);
                let got = map.resize(new_len);
                if !model.resizable {
                    assert!(got.is_err(), "resize of a read-only or copy-on-write map");
                    continue;
                }
                got.expect("resize");
                model.data.resize(new_len, 0);
                model.pos = model.pos.min(new_len);
                assert_eq!(map.len(), new_len);
            }
            Op::Flush(a, l) => {
                let (a, l) = (usize::from(*a) % (len + 2), usize::from(*l) % (len + 2));
                let got = map.flush_range(a, l);
                if a + l > len {
                    assert!(got.is_err(), "flush out of range");
                    continue;
                }
                // The flush compares the file's size with the range: deterministic.
                match model.cut {
                    Some(cut) if l > 0 && a + l > cut.end => {
                        assert_eq!(
                            got.expect_err("flush past the end").kind(),
                            ErrorKind::UnexpectedEof
                        );
                        model.reveal_by_size();
                    }
                    _ => got.expect("flush"),
                }
            }
            Op::Truncate(t) => {
                if input.kind == Kind::Anon || model.cut.is_some() || len == 0 {
                    continue;
                }
                let end = usize::from(*t) % len;
                // The truncation runs on another thread, racing a read of the whole map on
                // this one (a copy, a threaded search or a regex scan): the read must give
                // the model's bytes (zeros past the new end) or the truncation error.
                let truncator = {
                    let path = path.clone();
                    let spins = usize::from(*t >> 8) * 64;
                    std::thread::spawn(move || {
                        for _ in 0..spins {
                            std::hint::spin_loop();
                        }
                        OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .expect("second descriptor")
                            .set_len((offset + end) as u64)
                            .expect("truncate");
                    })
                };
                let raced: std::io::Result<Option<Vec<u8>>> = match *t % 3 {
                    0 => map.copy_range(..).map(Some),
                    1 => map.find(b"\xff\xfe\xfd").map(|_| None),
                    _ => {
                        let re = regex::bytes::Regex::new("[ab]\nc+").expect("regex");
                        map.regex_find_iter(&re)
                            .try_fold(0usize, |n, m| m.map(|_| n + 1))
                            .map(|_| None)
                    }
                };
                truncator.join().expect("the truncating thread");
                match &raced {
                    Ok(Some(bytes)) => {
                        for (p, &value) in bytes.iter().enumerate() {
                            assert!(
                                model.may_read(p, value) || (p >= end && value == 0),
                                "a read racing the truncation saw {value} at {p}"
                            );
                        }
                    }
                    Ok(None) => {}
                    Err(err) => assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "raced: {err}"),
                }
                let hard = (offset + end).div_ceil(page) * page - offset;
                // The tail of the last page now reads as zeros, unless this copy-on-write map
                // has its own copy of that page.
                if !model.private_pages.contains(&((offset + end) / page)) {
                    for byte in &mut model.data[end..hard.min(len)] {
                        *byte = 0;
                    }
                }
                // Sized now: the map's length no longer changes (no resize after a cut).
                model.unsure = vec![false; len];
                model.cut = Some(Cut {
                    end,
                    hard,
                    revealed: false,
                });
                if raced.is_err() {
                    model.reveal();
                }
            }
        }
        assert_eq!(map.len(), model.data.len());
        assert_eq!(map.tell(), model.pos as u64);
    }

    let final_len = model.data.len();
    map.close().expect("close");
    let on_disk = std::fs::read(&path).expect("read the file back");
    match (input.kind, model.cut) {
        (Kind::FileWrite, None) => {
            assert_eq!(&on_disk[..offset], &original[..offset]);
            assert_eq!(
                &on_disk[offset..],
                &model.data[..],
                "write-through contents"
            );
            assert_eq!(on_disk.len(), offset + final_len);
        }
        (Kind::FileWrite, Some(cut)) => {
            assert_eq!(on_disk.len(), offset + cut.end);
            assert_eq!(&on_disk[offset..], &model.data[..cut.end]);
        }
        (Kind::FileRead | Kind::FileCopy, cut) => {
            let end = cut.map_or(offset + len, |cut| offset + cut.end);
            assert_eq!(on_disk, &original[..end], "the file never changes");
        }
        (Kind::Anon, _) => assert_eq!(on_disk, original),
    }
});
