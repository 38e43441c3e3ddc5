//! The typed mapping flags of `MmapOptions`: `populate`, `locked`, `no_reserve`, `stack` and
//! `huge`. On Linux each is checked in `/proc/self/smaps` (the kernel's own record of the
//! mapping); elsewhere the ones the system lacks must be refused by name.

use std::io::ErrorKind;

use mmapfile::{Access, MmapOptions};

use crate::util::{expect_err, open_ro, pattern, temp_file};

/// The `smaps` entry of the mapping that starts at `addr`: its `VmFlags` and `Rss` (KiB).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn smaps_of(addr: *const u8) -> (Vec<String>, u64) {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let addr = addr as usize;
    let mut lines = smaps.lines();
    while let Some(line) = lines.next() {
        let Some((start, _)) = line.split_once('-') else {
            continue;
        };
        let Ok(start) = usize::from_str_radix(start, 16) else {
            continue;
        };
        if start != addr {
            continue;
        }
        let mut rss = 0;
        for field in lines.by_ref() {
            if let Some(value) = field.strip_prefix("Rss:") {
                rss = value.trim().trim_end_matches("kB").trim().parse().unwrap();
            }
            if let Some(flags) = field.strip_prefix("VmFlags:") {
                return (flags.split_whitespace().map(str::to_owned).collect(), rss);
            }
        }
    }
    panic!("no mapping starts at {addr:#x} in /proc/self/smaps");
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use super::*;

    #[test]
    fn populate_faults_in_every_page_when_the_map_is_made() {
        let len = 64 << 10;
        let map = MmapOptions::new().len(len).populate().map_anon().unwrap();
        let (_, rss) = smaps_of(map.as_ptr());
        assert_eq!(rss, len as u64 / 1024);
        // Without it, nothing is resident until touched. (The first map goes first: the
        // kernel would merge two neighbouring maps into one entry.)
        drop(map);
        let lazy = MmapOptions::new().len(len).map_anon().unwrap();
        assert_eq!(smaps_of(lazy.as_ptr()).1, 0);
    }

    #[test]
    fn locked_maps_are_locked_in_memory() {
        let mut options = MmapOptions::new();
        options.len(8192).locked();
        match options.map_anon() {
            Ok(map) => {
                let (flags, rss) = smaps_of(map.as_ptr());
                assert!(flags.iter().any(|flag| flag == "lo"), "{flags:?}");
                assert_eq!(rss, 8);
            }
            // An unprivileged process whose locked-memory limit is below two pages.
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                assert!(err.to_string().contains("RLIMIT_MEMLOCK"), "{err}");
            }
        }
        let data = pattern(3 * mmapfile::page_size());
        let (_dir, path) = temp_file(&data);
        let file = open_ro(&path);
        // SAFETY: the file is private to this test and nothing changes it while mapped.
        if let Ok(map) = unsafe { MmapOptions::new().locked().map(&file) } {
            assert_eq!(&map[..], &data[..]);
            assert!(smaps_of(map.as_ptr()).0.iter().any(|flag| flag == "lo"));
        }
    }

    #[test]
    fn no_reserve_maps_reserve_no_swap() {
        let map = MmapOptions::new()
            .len(1 << 20)
            .no_reserve()
            .map_anon()
            .unwrap();
        assert!(map.iter().all(|&byte| byte == 0));
        assert!(smaps_of(map.as_ptr()).0.iter().any(|flag| flag == "nr"));
        let plain = MmapOptions::new().len(1 << 20).map_anon().unwrap();
        assert!(!smaps_of(plain.as_ptr()).0.iter().any(|flag| flag == "nr"));
    }

    #[test]
    fn stack_is_for_anonymous_memory() {
        let mut map = MmapOptions::new().len(1 << 16).stack().map_anon().unwrap();
        map[..3].copy_from_slice(b"abc");
        assert_eq!(&map[..4], b"abc\0");
        let (_dir, path) = temp_file(b"data");
        let file = open_ro(&path);
        expect_err(
            // SAFETY: refused before anything is mapped.
            unsafe { MmapOptions::new().stack().map(&file) },
            ErrorKind::InvalidInput,
            &["stack()", "anonymous maps only"],
        );
    }

    #[test]
    fn huge_page_advice_marks_anonymous_and_file_maps() {
        let map = MmapOptions::new()
            .len(4 << 20)
            .map_anon_dyn(Access::Copy)
            .unwrap();
        map.advise(mmapfile::Advice::HugePage).unwrap();
        assert!(smaps_of(map.as_slice().as_ptr())
            .0
            .iter()
            .any(|flag| flag == "hg"));
        map.advise(mmapfile::Advice::NoHugePage).unwrap();
        let flags = smaps_of(map.as_slice().as_ptr()).0;
        assert!(flags.iter().any(|flag| flag == "nh") && !flags.iter().any(|f| f == "hg"));
        // A file map takes the advice too (whether its page cache gets huge pages is the
        // file system's affair); the contents never change.
        let data = pattern(4 * mmapfile::page_size());
        let (_dir, path) = temp_file(&data);
        let file = open_ro(&path);
        // SAFETY: the file is private to this test and nothing changes it while mapped.
        let map = unsafe { MmapOptions::new().map(&file).unwrap() };
        map.advise(mmapfile::Advice::HugePage).unwrap();
        map.advise(mmapfile::Advice::NoHugePage).unwrap();
        assert_eq!(&map[..], &data[..]);
    }

    /// Free pages in the pool of `size`-byte huge pages, and how many are reserved.
    fn pool(size: usize) -> Option<(u64, u64)> {
        let dir = format!("/sys/kernel/mm/hugepages/hugepages-{}kB", size / 1024);
        let read = |name: &str| -> Option<u64> {
            std::fs::read_to_string(format!("{dir}/{name}"))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        Some((read("free_hugepages")?, read("nr_hugepages")?))
    }

    fn default_huge_page_size() -> Option<usize> {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let kib: usize = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("Hugepagesize:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    }

    #[test]
    fn huge_maps_succeed_with_reserved_pages_and_say_why_without() {
        let Some(size) =
            default_huge_page_size().filter(|_| !mmapfile::huge_page_sizes().is_empty())
        else {
            expect_err(
                MmapOptions::new().len(2 << 20).huge(None).map_anon(),
                ErrorKind::Unsupported,
                &["huge"],
            );
            return;
        };
        let (free, reserved) = pool(size).unwrap();
        let mib = size >> 20;
        let result = MmapOptions::new().len(size).huge(None).map_anon();
        if free == 0 {
            let wanted: &[&str] = if reserved == 0 {
                &[
                    "huge(..)",
                    &format!("no huge pages of size {mib} MiB are reserved (vm.nr_hugepages = 0)"),
                    "sysctl vm.nr_hugepages",
                ]
            } else {
                &["huge(..)", "not enough huge pages", "0 of"]
            };
            expect_err(result, ErrorKind::OutOfMemory, wanted);
            return;
        }
        let mut map = result.unwrap();
        assert_eq!(map.len(), size);
        assert!(smaps_of(map.as_ptr()).0.iter().any(|flag| flag == "ht"));
        map[size - 1] = 7;
        assert_eq!(map[size - 1], 7);
        drop(map); // its page goes back to the pool
                   // A shared huge map is a plain shared mapping (no memory file).
        let shared = MmapOptions::new()
            .len(size)
            .huge(None)
            .map_anon_dyn(Access::Write)
            .unwrap();
        assert!(smaps_of(shared.as_slice().as_ptr())
            .0
            .iter()
            .any(|flag| flag == "ht"));
        drop(shared);
        // Resizing keeps whole huge pages; a private map grows by copying.
        let mut dynamic = MmapOptions::new()
            .len(size)
            .huge(None)
            .map_anon_dyn(Access::Copy)
            .unwrap();
        dynamic.as_mut_slice().unwrap()[..5].copy_from_slice(b"huge!");
        expect_err(
            dynamic.resize(size + 1),
            ErrorKind::InvalidInput,
            &["multiple of", &format!("round it up to {}", 2 * size)],
        );
        if free >= 3 {
            dynamic.resize(2 * size).unwrap();
            assert_eq!(&dynamic.as_slice()[..6], b"huge!\0");
            assert!(dynamic.as_slice()[size..].iter().all(|&byte| byte == 0));
        }
    }

    #[test]
    fn huge_pages_refuse_lengths_sizes_and_files_they_cannot_map() {
        let sizes = mmapfile::huge_page_sizes();
        if sizes.is_empty() {
            expect_err(
                MmapOptions::new().len(4096).huge(None).map_anon(),
                ErrorKind::Unsupported,
                &["huge(..)", "no huge pages"],
            );
            return;
        }
        let size = default_huge_page_size().unwrap();
        expect_err(
            MmapOptions::new().len(4096).huge(None).map_anon(),
            ErrorKind::InvalidInput,
            &[
                &format!("multiple of {size} bytes"),
                "4096 is not",
                &format!("round it up to {size}"),
            ],
        );
        // 2^22 = 4 MiB: no architecture Linux runs on has huge pages of that size on x86-64.
        if !sizes.contains(&(1 << 22)) {
            expect_err(
                MmapOptions::new().len(4 << 20).huge(Some(22)).map_anon(),
                ErrorKind::InvalidInput,
                &["huge(Some(22))", "no huge pages of 2^22 bytes", "it has"],
            );
        }
        expect_err(
            MmapOptions::new().len(4096).huge(Some(200)).map_anon(),
            ErrorKind::InvalidInput,
            &["huge(Some(200))"],
        );
        // A size of its own, with its own pool and its own message.
        if let Some(&largest) = sizes.last().filter(|&&largest| largest != size) {
            if pool(largest).is_some_and(|(free, _)| free == 0) {
                let log2 = largest.trailing_zeros() as u8;
                expect_err(
                    MmapOptions::new().len(largest).huge(Some(log2)).map_anon(),
                    ErrorKind::OutOfMemory,
                    &[&format!("hugepages-{}kB", largest / 1024)],
                );
            }
        }
        let (_dir, path) = temp_file(b"data");
        let file = open_ro(&path);
        expect_err(
            // SAFETY: refused before anything is mapped.
            unsafe { MmapOptions::new().huge(None).map(&file) },
            ErrorKind::InvalidInput,
            &["huge(..)", "anonymous maps only", "Advice::HugePage"],
        );
    }
}

/// Systems without the Linux flags refuse each by name, whatever the map.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[test]
fn flags_this_system_lacks_are_refused_by_name() {
    type Setter = fn(&mut MmapOptions) -> &mut MmapOptions;
    let setters: [(Setter, &str); 4] = [
        (|options| options.locked(), "locked()"),
        (|options| options.no_reserve(), "no_reserve()"),
        (|options| options.stack(), "stack()"),
        (|options| options.huge(None), "huge(..)"),
    ];
    let (_dir, path) = temp_file(&pattern(100));
    let file = open_ro(&path);
    for (set, name) in setters {
        let mut options = MmapOptions::new();
        options.len(4096);
        set(&mut options);
        expect_err(options.map_anon(), ErrorKind::Unsupported, &[name]);
        let mut options = MmapOptions::new();
        set(&mut options);
        // SAFETY: refused before anything is mapped.
        expect_err(
            unsafe { options.map_dyn(Some(&file), Access::Read) },
            ErrorKind::Unsupported,
            &[name],
        );
    }
    // populate is a hint everywhere.
    let map = MmapOptions::new().len(4096).populate().map_anon().unwrap();
    assert!(map.iter().all(|&byte| byte == 0));
}
