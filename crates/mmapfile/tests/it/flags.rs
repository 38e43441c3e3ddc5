//! The typed mapping flags of `MmapOptions`: `populate`, `locked`, `no_reserve`, `stack` and
//! `huge`. On Linux each is checked in `/proc/self/smaps` (the kernel's own record of the
//! mapping); elsewhere the ones the system lacks must be refused by name.

use std::io::ErrorKind;

use mmapfile::{Access, MmapOptions};

use crate::util::{expect_err, open_ro, pattern, temp_file};

/// The `smaps` entry of the mapping that holds `addr`: its `VmFlags` and `Rss` (KiB).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn smaps_of(addr: *const u8) -> (Vec<String>, u64) {
    let mapping = crate::util::KernelMapping::of(addr);
    let rss_kb = mapping.bytes("Rss") / 1024;
    (mapping.flags, rss_kb)
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

/// `raw_flags` takes only extra bits: what the crate sets itself or what contradicts the
/// access is refused by name; `raw_mmap_flags` takes a map type, within the access.
#[cfg(unix)]
mod raw {
    use super::*;
    use crate::util::open_rw;

    #[test]
    fn raw_flags_refuses_what_the_crate_sets_itself() {
        let (_dir, path) = temp_file(b"original");
        let file = open_rw(&path);
        // Linux adds its own flags below.
        #[cfg_attr(
            not(any(target_os = "linux", target_os = "android")),
            allow(unused_mut)
        )]
        let mut refused = vec![
            (libc::MAP_SHARED, "MAP_SHARED"),
            (libc::MAP_PRIVATE, "MAP_PRIVATE"),
            (libc::MAP_FIXED, "MAP_FIXED"),
            (libc::MAP_ANONYMOUS, "MAP_ANONYMOUS"),
        ];
        #[cfg(any(target_os = "linux", target_os = "android"))]
        refused.extend([
            (libc::MAP_SHARED_VALIDATE, "MAP_SHARED_VALIDATE"),
            (libc::MAP_HUGETLB, "MAP_HUGETLB"),
            (21 << libc::MAP_HUGE_SHIFT, "MAP_HUGETLB"),
            (libc::MAP_POPULATE | libc::MAP_PRIVATE, "MAP_PRIVATE"),
        ]);
        #[cfg(target_os = "linux")]
        refused.push((libc::MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"));
        for (flags, name) in refused {
            for access in [Access::Read, Access::Write, Access::Copy] {
                let mut options = MmapOptions::new();
                options.raw_flags(flags);
                expect_err(
                    // SAFETY: refused before anything is mapped.
                    unsafe { options.map_dyn(Some(&file), access) },
                    ErrorKind::InvalidInput,
                    &[&format!("raw_flags({flags:#x})"), name],
                );
            }
        }
        // The bug this closes: a copy-on-write map made shared, its stores reaching the file.
        let mut options = MmapOptions::new();
        options.raw_flags(libc::MAP_SHARED);
        // SAFETY: refused before anything is mapped.
        assert!(unsafe { options.map_copy(&file) }.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"original");
        // Anonymous memory may say it is anonymous; extra hints pass.
        let anon = MmapOptions::new()
            .len(4096)
            .raw_flags(libc::MAP_ANONYMOUS)
            .map_anon()
            .unwrap();
        assert_eq!(anon.len(), 4096);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: the file is private to this test.
            let map = unsafe {
                MmapOptions::new()
                    .raw_flags(libc::MAP_POPULATE | libc::MAP_NORESERVE)
                    .map(&file)
                    .unwrap()
            };
            assert_eq!(&map[..], b"original");
        }
    }

    #[test]
    fn raw_mmap_flags_take_a_map_type_within_the_access() {
        let (_dir, path) = temp_file(b"original");
        let file = open_rw(&path);
        // A shared type would send a copy-on-write map's stores to the file.
        for flags in [libc::MAP_SHARED, libc::MAP_SHARED | libc::MAP_PRIVATE] {
            let mut options = MmapOptions::new();
            options.raw_mmap_flags(flags);
            expect_err(
                // SAFETY: refused before anything is mapped.
                unsafe { options.map_copy(&file) },
                ErrorKind::InvalidInput,
                &[&format!("raw_mmap_flags({flags:#x})"), "Access::Copy"],
            );
        }
        expect_err(
            // SAFETY: refused before anything is mapped.
            unsafe {
                MmapOptions::new()
                    .raw_mmap_flags(libc::MAP_SHARED | libc::MAP_FIXED)
                    .map(&file)
            },
            ErrorKind::InvalidInput,
            &["MAP_FIXED"],
        );
        // A private type under a writable access: stores stay in the process.
        let mut options = MmapOptions::new();
        options.raw_mmap_flags(libc::MAP_PRIVATE);
        // SAFETY: the file is private to this test.
        let mut map = unsafe { options.map_dyn(Some(&file), Access::Write) }.unwrap();
        map.write(b"ORIG").unwrap();
        assert_eq!(&map.as_slice()[..8], b"ORIGinal");
        assert_eq!(std::fs::read(&path).unwrap(), b"original");
        // A shared type under Access::Read or Access::Write is what the access says anyway.
        // SAFETY: as above.
        let shared = unsafe {
            MmapOptions::new()
                .raw_mmap_flags(libc::MAP_SHARED)
                .map_dyn(Some(&file), Access::Write)
        };
        shared.unwrap().write(b"SHAR").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"SHARinal");
        // MAP_SHARED_VALIDATE reaches the kernel, which refuses flags it cannot honour.
        #[cfg(target_os = "linux")]
        {
            let mut options = MmapOptions::new();
            // MAP_SYNC (0x80000) needs a DAX file system: refused for a temporary file.
            options.raw_mmap_flags(libc::MAP_SHARED_VALIDATE | 0x8_0000);
            // SAFETY: as above.
            let err = unsafe { options.map(&file) }.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP), "{err}");
            // SAFETY: as above.
            let map = unsafe {
                MmapOptions::new()
                    .raw_mmap_flags(libc::MAP_SHARED_VALIDATE)
                    .map(&file)
            };
            assert_eq!(&map.unwrap()[..], b"SHARinal");
        }
    }
}
