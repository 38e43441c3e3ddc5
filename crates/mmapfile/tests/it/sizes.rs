//! Page, granularity and huge page sizes.

use mmapfile::{allocation_granularity, huge_page_sizes, page_size};

#[test]
fn page_and_granularity_sizes_are_powers_of_two_that_nest() {
    assert!(page_size().is_power_of_two() && page_size() >= 4096);
    assert!(allocation_granularity().is_power_of_two());
    assert_eq!(allocation_granularity() % page_size(), 0);
}

#[test]
fn huge_page_sizes_are_ascending_powers_of_two_above_the_page_size() {
    let sizes = huge_page_sizes();
    assert!(sizes.windows(2).all(|pair| pair[0] < pair[1]), "{sizes:?}");
    for size in &sizes {
        assert!(size.is_power_of_two() && *size > page_size(), "{sizes:?}");
    }
}

/// On Linux the list is exactly what sysfs shows (each `hugepages-<n>kB` directory).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn huge_page_sizes_follow_sysfs() {
    let mut expected: Vec<usize> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|dir| {
            dir.flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    let kib: usize = name
                        .trim_start_matches("hugepages-")
                        .trim_end_matches("kB")
                        .parse()
                        .ok()?;
                    Some(kib * 1024)
                })
                .collect()
        })
        .unwrap_or_default();
    expected.sort_unstable();
    assert_eq!(huge_page_sizes(), expected);
}
