//! Criterion micro-benchmarks of the scan hot paths, each beside its raw baseline on the same
//! map: `find` vs memmap2 + `memmem::find`, `rfind` vs `memmem::rfind`, `count` vs
//! `memmem::find_iter().count()`, `lines` vs a `memchr` split, `regex_find_iter` vs
//! `regex::bytes::Regex::find_iter`.
//!
//! `cargo bench -p mmapfile --bench scan`. The text is generated into a temporary file:
//! words in ~137-byte lines, a rare needle near the start and one near the end. Its size is
//! `MMAPFILE_BENCH_SIZE` bytes (suffixes K, M, G allowed), 64 MiB by default. The maps are
//! made once and scanned many times, so these numbers are for warm, already-faulted pages;
//! `benches/compare.py` at the repository root measures whole runs, cold caches and the
//! other tools.

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use memchr::memmem;
use regex::bytes::Regex;

const NEEDLE_START: &[u8] = b"XQZJ-needle-START";
const NEEDLE_END: &[u8] = b"XQZJ-needle-END";
const NEEDLE_ABSENT: &[u8] = b"XQZJ-needle-absent";
/// The guide's regex, with its Python flags (DOTALL, IGNORECASE, MULTILINE) written inline.
const SEED_PATTERN: &str = r"(?sim)(\.\W+)?([^.]?nulla[^.]*?\.)";

const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetuer",
    "adipiscing",
    "elit",
    "donec",
    "egestas",
    "enim",
    "et",
    "ullamcorper",
    "lectus",
    "ligula",
    "rutrum",
    "leo",
    "a",
    "elementum",
    "tortor",
    "eu",
    "quam",
    "duis",
    "tincidunt",
    "nisi",
    "ut",
    "ante",
    "nulla",
    "facilisi",
    "sed",
    "tristique",
    "eros",
    "libero",
    "pellentesque",
    "vel",
    "arcu",
    "vivamus",
    "purus",
    "orci",
    "iaculis",
    "ac",
    "suscipit",
    "pulvinar",
    "lacus",
    "praesent",
    "placerat",
    "nisl",
    "nunc",
    "blandit",
    "diam",
    "dui",
    "habitant",
    "morbi",
    "senectus",
    "netus",
    "malesuada",
    "fames",
    "turpis",
    "aliquam",
    "viverra",
    "fringilla",
    "feugiat",
    "augue",
    "eleifend",
    "mauris",
    "in",
    "nibh",
    "suspendisse",
    "potenti",
    "massa",
    "eget",
    "velit",
    "auctor",
    "sollicitudin",
    "imperdiet",
    "justo",
];

fn bench_size() -> usize {
    let Ok(text) = std::env::var("MMAPFILE_BENCH_SIZE") else {
        return 64 << 20;
    };
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'K' | b'k') => (&text[..text.len() - 1], 10),
        Some(b'M' | b'm') => (&text[..text.len() - 1], 20),
        Some(b'G' | b'g') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    match digits.parse::<usize>() {
        Ok(n) if n > 0 => n << shift,
        _ => panic!("MMAPFILE_BENCH_SIZE={text:?} is not a size such as 67108864, 64M or 1G"),
    }
}

/// Deterministic text: sentences of words in lines of 96..=178 bytes (137 on average).
fn generate(size: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*: a fixed, fast sequence, so every run scans the same bytes.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32
    };
    let mut text = Vec::with_capacity(size + 256);
    while text.len() < size {
        let target = text.len() + 96 + (next() % 83) as usize;
        let mut capital = true;
        while text.len() < target {
            let word = WORDS[next() as usize % WORDS.len()].as_bytes();
            let at = text.len();
            text.extend_from_slice(word);
            if capital {
                text[at] = text[at].to_ascii_uppercase();
            }
            capital = next() % 8 == 0;
            text.extend_from_slice(if capital { b". " } else { b" " });
        }
        text.pop();
        text.extend_from_slice(b".\n");
    }
    text.truncate(size);
    let start = (size / 1000).min(size.saturating_sub(NEEDLE_START.len()));
    text[start..start + NEEDLE_START.len()].copy_from_slice(NEEDLE_START);
    let end = size.saturating_sub(size / 1000 + NEEDLE_END.len());
    text[end..end + NEEDLE_END.len()].copy_from_slice(NEEDLE_END);
    text
}

fn scans(c: &mut Criterion) {
    let size = bench_size();
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("bench.txt");
    File::create(&path)
        .and_then(|mut file| file.write_all(&generate(size)))
        .expect("write the benchmark file");
    let file = File::open(&path).expect("open the benchmark file");
    // SAFETY: the file lives in a private temporary directory; nothing else changes it.
    let map = unsafe { mmapfile::Mmap::map(&file) }.expect("map with mmapfile");
    // SAFETY: as above.
    let raw = unsafe { memmap2::Mmap::map(&file) }.expect("map with memmap2");
    let raw: &[u8] = &raw;
    let seed = Regex::new(SEED_PATTERN).expect("the seed pattern compiles");

    let mut group = c.benchmark_group("scan");
    group
        .throughput(Throughput::Bytes(size as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    for (name, needle) in [("end", NEEDLE_END), ("absent", NEEDLE_ABSENT)] {
        group.bench_function(BenchmarkId::new("find/mmapfile", name), |b| {
            b.iter(|| map.find_in(black_box(needle), ..).expect("find"))
        });
        group.bench_function(BenchmarkId::new("find/memmem", name), |b| {
            b.iter(|| memmem::find(raw, black_box(needle)))
        });
    }
    for (name, needle) in [("start", NEEDLE_START), ("absent", NEEDLE_ABSENT)] {
        group.bench_function(BenchmarkId::new("rfind/mmapfile", name), |b| {
            b.iter(|| map.rfind_in(black_box(needle), ..).expect("rfind"))
        });
        group.bench_function(BenchmarkId::new("rfind/memmem-FinderRev", name), |b| {
            b.iter(|| memmem::rfind(raw, black_box(needle)))
        });
    }
    group.bench_function("count/mmapfile/nulla", |b| {
        b.iter(|| map.count(black_box(b"nulla")).expect("count"))
    });
    group.bench_function("count/memmem/nulla", |b| {
        b.iter(|| memmem::find_iter(raw, black_box(b"nulla")).count())
    });
    group.bench_function("lines/mmapfile", |b| {
        b.iter(|| {
            let mut total = 0;
            for line in map.lines() {
                total += black_box(line.expect("line")).len();
            }
            total
        })
    });
    group.bench_function("lines/memchr-split", |b| {
        b.iter(|| {
            let (mut total, mut start) = (0, 0);
            for newline in memchr::memchr_iter(b'\n', raw) {
                total += black_box(&raw[start..=newline]).len();
                start = newline + 1;
            }
            total + raw.len() - start
        })
    });
    group.bench_function("regex/mmapfile", |b| {
        b.iter(|| {
            let mut found = 0;
            for m in map.regex_find_iter(&seed) {
                black_box(m.expect("match"));
                found += 1;
            }
            found
        })
    });
    group.bench_function("regex/regex-bytes", |b| {
        b.iter(|| seed.find_iter(raw).map(black_box).count())
    });
    group.finish();
}

criterion_group!(benches, scans);
criterion_main!(benches);
