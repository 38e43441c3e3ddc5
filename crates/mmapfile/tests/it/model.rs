//! Model test: random operation sequences applied to a real map and to a simple model
//! (`Vec<u8>` plus a cursor) must give identical results, errors included.
//!
//! The model is written from the semantics we promise (Python's `mmap`), independently of the
//! crate's code: naive searches, explicit clamping, `i128` seek arithmetic.

use std::io::SeekFrom;
use std::ops::Bound;
use std::sync::atomic::{AtomicU32, Ordering};

use mmapfile::{Access, MmapOptions};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

/// The acceptance floor for the number of random cases per map kind.
const CASES: u32 = 256;

#[derive(Debug, Clone)]
enum Op {
    Read(usize),
    ReadByte,
    Readline,
    Seek(SeekFrom),
    Tell,
    Write(Vec<u8>),
    WriteByte(u8),
    WriteAt(usize, Vec<u8>),
    GetByte(usize),
    SetByte(usize, u8),
    Find(Vec<u8>),
    RFind(Vec<u8>),
    FindIn(Vec<u8>, Bound<usize>, Bound<usize>),
    RFindIn(Vec<u8>, Bound<usize>, Bound<usize>),
    CopyRange(Bound<usize>, Bound<usize>),
    MoveWithin(usize, usize, usize),
    Resize(usize),
}

/// What an operation returned; `Err(())` stands for any error.
#[derive(Debug, Clone, PartialEq)]
enum Out {
    Bytes(Vec<u8>),
    Byte(u8),
    Pos(u64),
    Found(Option<usize>),
    Count(usize),
    Unit,
}

type Outcome = Result<Out, ()>;

struct Model {
    data: Vec<u8>,
    pos: usize,
}

/// Resolves range bounds to `(start, end)` without overflow.
fn resolve(start: Bound<usize>, end: Bound<usize>, len: usize) -> (u128, u128) {
    let start = match start {
        Bound::Included(s) => s as u128,
        Bound::Excluded(s) => s as u128 + 1,
        Bound::Unbounded => 0,
    };
    let end = match end {
        Bound::Included(e) => e as u128 + 1,
        Bound::Excluded(e) => e as u128,
        Bound::Unbounded => len as u128,
    };
    (start, end)
}

/// Whether `needle` occurs at `i` and ends by `end`.
fn occurs_at(hay: &[u8], needle: &[u8], i: usize, end: usize) -> bool {
    i + needle.len() <= end && &hay[i..i + needle.len()] == needle
}

impl Model {
    /// Python's clamping: both bounds clamp to `len`; start after end finds nothing.
    fn search(&self, needle: &[u8], start: Bound<usize>, end: Bound<usize>, last: bool) -> Out {
        let len = self.data.len();
        let (start, end) = resolve(start, end, len);
        let (start, end) = (
            start.min(len as u128) as usize,
            end.min(len as u128) as usize,
        );
        if start > end {
            return Out::Found(None);
        }
        let found = if last {
            (start..=end)
                .rev()
                .find(|&i| occurs_at(&self.data, needle, i, end))
        } else {
            (start..=end).find(|&i| occurs_at(&self.data, needle, i, end))
        };
        Out::Found(found)
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        let len = self.data.len();
        match op {
            Op::Read(n) => {
                let end = self.pos.saturating_add(*n).min(len);
                let out = self.data[self.pos..end].to_vec();
                self.pos = end;
                Ok(Out::Bytes(out))
            }
            Op::ReadByte => {
                let byte = *self.data.get(self.pos).ok_or(())?;
                self.pos += 1;
                Ok(Out::Byte(byte))
            }
            Op::Readline => {
                let rest = &self.data[self.pos..];
                let n = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
                let line = rest[..n].to_vec();
                self.pos += n;
                Ok(Out::Bytes(line))
            }
            Op::Seek(target) => {
                let pos = match *target {
                    SeekFrom::Start(p) => p as i128,
                    SeekFrom::Current(d) => self.pos as i128 + d as i128,
                    SeekFrom::End(d) => len as i128 + d as i128,
                };
                if !(0..=len as i128).contains(&pos) {
                    return Err(());
                }
                self.pos = pos as usize;
                Ok(Out::Pos(pos as u64))
            }
            Op::Tell => Ok(Out::Pos(self.pos as u64)),
            Op::Write(bytes) => {
                if bytes.len() > len - self.pos {
                    return Err(());
                }
                self.data[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
                self.pos += bytes.len();
                Ok(Out::Count(bytes.len()))
            }
            Op::WriteByte(byte) => {
                let slot = self.data.get_mut(self.pos).ok_or(())?;
                *slot = *byte;
                self.pos += 1;
                Ok(Out::Unit)
            }
            Op::WriteAt(offset, bytes) => match offset.checked_add(bytes.len()) {
                Some(end) if end <= len => {
                    self.data[*offset..end].copy_from_slice(bytes);
                    Ok(Out::Unit)
                }
                _ => Err(()),
            },
            Op::GetByte(index) => self.data.get(*index).map(|&b| Out::Byte(b)).ok_or(()),
            Op::SetByte(index, byte) => {
                *self.data.get_mut(*index).ok_or(())? = *byte;
                Ok(Out::Unit)
            }
            Op::Find(needle) => {
                Ok(self.search(needle, Bound::Included(self.pos), Bound::Unbounded, false))
            }
            Op::RFind(needle) => {
                Ok(self.search(needle, Bound::Included(self.pos), Bound::Unbounded, true))
            }
            Op::FindIn(needle, start, end) => Ok(self.search(needle, *start, *end, false)),
            Op::RFindIn(needle, start, end) => Ok(self.search(needle, *start, *end, true)),
            Op::CopyRange(start, end) => {
                let (start, end) = resolve(*start, *end, len);
                if start > end || end > len as u128 {
                    return Err(());
                }
                Ok(Out::Bytes(self.data[start as usize..end as usize].to_vec()))
            }
            Op::MoveWithin(dest, src, count) => {
                let fits = |at: usize| at.checked_add(*count).is_some_and(|end| end <= len);
                if !fits(*dest) || !fits(*src) {
                    return Err(());
                }
                self.data.copy_within(*src..*src + *count, *dest);
                Ok(Out::Unit)
            }
            Op::Resize(new_len) => {
                self.data.resize(*new_len, 0);
                self.pos = self.pos.min(*new_len);
                Ok(Out::Unit)
            }
        }
    }
}

/// Applies `op` to a real map; works for `MmapMut` and `DynMmap`, whose methods share names.
macro_rules! apply_real {
    ($map:expr, $op:expr) => {{
        let map = $map;
        let outcome: std::io::Result<Out> = match $op {
            Op::Read(n) => map.read_vec(*n).map(Out::Bytes),
            Op::ReadByte => map.read_byte().map(Out::Byte),
            Op::Readline => map.readline().map(Out::Bytes),
            Op::Seek(target) => map.seek(*target).map(Out::Pos),
            Op::Tell => Ok(Out::Pos(map.tell())),
            Op::Write(bytes) => map.write(bytes).map(Out::Count),
            Op::WriteByte(byte) => map.write_byte(*byte).map(|()| Out::Unit),
            Op::WriteAt(offset, bytes) => map.write_at(*offset, bytes).map(|()| Out::Unit),
            Op::GetByte(index) => map.get_byte(*index).map(Out::Byte),
            Op::SetByte(index, byte) => map.set_byte(*index, *byte).map(|()| Out::Unit),
            Op::Find(needle) => map.find(needle).map(Out::Found),
            Op::RFind(needle) => map.rfind(needle).map(Out::Found),
            Op::FindIn(needle, start, end) => map.find_in(needle, (*start, *end)).map(Out::Found),
            Op::RFindIn(needle, start, end) => map.rfind_in(needle, (*start, *end)).map(Out::Found),
            Op::CopyRange(start, end) => map.copy_range((*start, *end)).map(Out::Bytes),
            Op::MoveWithin(dest, src, count) => {
                map.move_within(*dest, *src, *count).map(|()| Out::Unit)
            }
            Op::Resize(new_len) => map.resize(*new_len).map(|()| Out::Unit),
        };
        outcome.map_err(|_| ())
    }};
}

// ----- strategies -----

/// A small alphabet, so that searches find things and lines are short.
fn byte() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![b'a', b'b', b'\n', 0])
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(byte(), 0..max)
}

/// Mostly near the map's length (up to 400 bytes), sometimes huge.
fn index() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..450,
        1 => Just(usize::MAX),
        1 => any::<usize>(),
    ]
}

fn bound() -> impl Strategy<Value = Bound<usize>> {
    prop_oneof![
        Just(Bound::Unbounded),
        index().prop_map(Bound::Included),
        index().prop_map(Bound::Excluded),
    ]
}

fn seek_target() -> impl Strategy<Value = SeekFrom> {
    prop_oneof![
        4 => (0u64..460).prop_map(SeekFrom::Start),
        1 => any::<u64>().prop_map(SeekFrom::Start),
        4 => (-460i64..460).prop_map(SeekFrom::Current),
        1 => any::<i64>().prop_map(SeekFrom::Current),
        4 => (-460i64..20).prop_map(SeekFrom::End),
        1 => any::<i64>().prop_map(SeekFrom::End),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop_oneof![0usize..64, Just(usize::MAX)].prop_map(Op::Read),
        2 => Just(Op::ReadByte),
        3 => Just(Op::Readline),
        5 => seek_target().prop_map(Op::Seek),
        1 => Just(Op::Tell),
        4 => bytes(40).prop_map(Op::Write),
        2 => byte().prop_map(Op::WriteByte),
        2 => (index(), bytes(40)).prop_map(|(o, b)| Op::WriteAt(o, b)),
        1 => index().prop_map(Op::GetByte),
        1 => (index(), byte()).prop_map(|(i, b)| Op::SetByte(i, b)),
        2 => bytes(4).prop_map(Op::Find),
        2 => bytes(4).prop_map(Op::RFind),
        2 => (bytes(4), bound(), bound()).prop_map(|(n, s, e)| Op::FindIn(n, s, e)),
        2 => (bytes(4), bound(), bound()).prop_map(|(n, s, e)| Op::RFindIn(n, s, e)),
        1 => (bound(), bound()).prop_map(|(s, e)| Op::CopyRange(s, e)),
        2 => (0usize..400, 0usize..400, prop_oneof![0usize..200, Just(usize::MAX)])
            .prop_map(|(d, s, c)| Op::MoveWithin(d, s, c)),
        1 => prop_oneof![0usize..400, Just(0)].prop_map(Op::Resize),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..64)
}

/// Runs `body` on `CASES` random inputs and checks that they all ran.
fn run_cases<S: Strategy>(
    name: &str,
    strategy: S,
    body: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let ran = AtomicU32::new(0);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |input| {
        ran.fetch_add(1, Ordering::Relaxed);
        body(input)
    });
    if let Err(failure) = result {
        panic!("{name}: {failure}");
    }
    let ran = ran.into_inner();
    println!("{name}: {ran} random cases matched the model");
    assert!(ran >= CASES, "{name} ran only {ran} cases");
}

/// Steps `ops` through the model and the real map (via `$apply`), comparing every result, the
/// cursor and the contents after each step.
macro_rules! check_steps {
    ($map:ident, $model:ident, $ops:expr) => {
        for (step, op) in $ops.iter().enumerate() {
            let expected = $model.apply(op);
            let actual = apply_real!(&mut $map, op);
            prop_assert_eq!(&actual, &expected, "step {} {:?}", step, op);
            prop_assert_eq!($map.tell(), $model.pos as u64, "cursor after step {}", step);
            prop_assert_eq!(
                $map.copy_range(..).unwrap(),
                $model.data.clone(),
                "contents after step {} {:?}",
                step,
                op
            );
        }
    };
}

#[test]
fn a_write_through_file_window_matches_the_model() {
    let input = (
        bytes(300).prop_filter("non-empty", |d| !d.is_empty()),
        0u64..10_000,
        ops(),
    );
    run_cases("file-backed", input, |(data, offset, ops)| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        let prefix: Vec<u8> = (0..offset).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, [&prefix[..], &data[..]].concat()).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        // SAFETY: the file lives in our own temporary directory; nothing else changes it.
        let mut map = unsafe { MmapOptions::new().offset(offset).map_mut(&file).unwrap() };
        let mut model = Model { data, pos: 0 };
        check_steps!(map, model, ops);
        map.flush().unwrap();
        map.close().unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        prop_assert_eq!(
            &on_disk[..offset as usize],
            &prefix[..],
            "bytes before the window"
        );
        prop_assert_eq!(
            &on_disk[offset as usize..],
            &model.data[..],
            "the window on disk"
        );
        Ok(())
    });
}

#[test]
fn anonymous_memory_matches_the_model() {
    let input = (1usize..300, any::<bool>(), ops());
    run_cases("anonymous", input, |(len, shared, ops)| {
        let access = if shared { Access::Write } else { Access::Copy };
        let mut map = MmapOptions::new().len(len).map_anon_dyn(access).unwrap();
        let mut model = Model {
            data: vec![0; len],
            pos: 0,
        };
        check_steps!(map, model, ops);
        Ok(())
    });
}
