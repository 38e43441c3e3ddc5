//! Criterion micro-benchmarks of the core's per-call paths, each beside a memmap2 slice doing
//! the same work: `read_byte`, `read(16)`, `seek`, `find` on a short range, `get_byte` (`[i]`)
//! and `write_at` of 16 bytes. They show what one call of the core costs on top of plain
//! slice access (the fault guard's checks, the cursor, the bounds and error handling), the
//! floor under every per-call figure of the Python module (`benches/percall.py`).
//!
//! `cargo bench -p mmapfile --bench percall`. The map is a 64 KiB temporary file of text,
//! faulted in before measuring.

use std::hint::black_box;
use std::io::{SeekFrom, Write};

use criterion::{criterion_group, criterion_main, Criterion};
use memchr::memmem;

const SIZE: usize = 64 * 1024;
const LINE: &[u8] = b"Lorem ipsum dolor sit amet, consectetuer adipiscing elit. Donec egestas, \
enim et ullamcorper lectus ligula rutrum leo.\n";

fn text() -> Vec<u8> {
    LINE.iter().copied().cycle().take(SIZE).collect()
}

fn per_call(c: &mut Criterion) {
    let mut file = tempfile::tempfile().expect("a temporary file");
    file.write_all(&text()).expect("writing the temporary file");
    // SAFETY: the temporary file is private to this process and nothing truncates it.
    let mut ours = unsafe { mmapfile::MmapOptions::new().map_mut(&file) }.expect("mmapfile map");
    // SAFETY: as above.
    let mut raw = unsafe { memmap2::MmapMut::map_mut(&file) }.expect("memmap2 map");
    assert_eq!(&ours[..], &raw[..]);

    let mut group = c.benchmark_group("per-call");

    group.bench_function("read_byte/mmapfile", |b| {
        b.iter(|| {
            ours.seek(SeekFrom::Start(100)).unwrap();
            black_box(ours.read_byte().unwrap())
        })
    });
    group.bench_function("read_byte/memmap2", |b| {
        let mut pos = 0usize;
        b.iter(|| {
            pos = black_box(100);
            let byte = raw[pos];
            pos += 1;
            black_box((byte, pos))
        })
    });

    group.bench_function("read(16)/mmapfile", |b| {
        b.iter(|| {
            ours.seek(SeekFrom::Start(100)).unwrap();
            black_box(ours.read_vec(16).unwrap())
        })
    });
    group.bench_function("read(16)/memmap2", |b| {
        b.iter(|| {
            let pos = black_box(100usize);
            let end = (pos + 16).min(raw.len());
            black_box(raw[pos..end].to_vec())
        })
    });

    group.bench_function("seek/mmapfile", |b| {
        b.iter(|| black_box(ours.seek(SeekFrom::Start(black_box(77))).unwrap()))
    });
    group.bench_function("seek/memmap2", |b| {
        b.iter(|| {
            let target = black_box(77usize);
            assert!(target <= raw.len());
            black_box(target)
        })
    });

    group.bench_function("find 200 B/mmapfile", |b| {
        b.iter(|| black_box(ours.find_in(black_box(b"elit"), 0..200).unwrap()))
    });
    group.bench_function("find 200 B/memmap2", |b| {
        b.iter(|| black_box(memmem::find(&raw[0..200], black_box(b"elit"))))
    });
    group.bench_function("rfind 200 B/mmapfile", |b| {
        b.iter(|| black_box(ours.rfind_in(black_box(b"Lorem"), 0..200).unwrap()))
    });
    group.bench_function("rfind 200 B/memmap2", |b| {
        b.iter(|| black_box(memmem::rfind(&raw[0..200], black_box(b"Lorem"))))
    });

    group.bench_function("[i]/mmapfile", |b| {
        b.iter(|| black_box(ours.get_byte(black_box(1000)).unwrap()))
    });
    group.bench_function("[i]/memmap2", |b| {
        b.iter(|| black_box(raw.get(black_box(1000)).copied().unwrap()))
    });

    let data = [b'x'; 16];
    group.bench_function("write_at 16 B/mmapfile", |b| {
        b.iter(|| ours.write_at(black_box(1000), black_box(&data)).unwrap())
    });
    group.bench_function("write_at 16 B/memmap2", |b| {
        b.iter(|| raw[black_box(1000)..1016].copy_from_slice(black_box(&data)))
    });
    group.finish();
}

criterion_group!(benches, per_call);
criterion_main!(benches);
