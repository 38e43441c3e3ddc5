//! `--help`: every subcommand shows examples; misuse is a usage error.

use crate::common::mmapfile;

#[test]
fn every_subcommand_help_shows_examples() {
    for subcommand in ["demo", "read", "find", "grep", "replace"] {
        let assert = mmapfile().args([subcommand, "--help"]).assert().success();
        let help = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        assert!(help.contains("Examples:"), "{subcommand}: {help}");
        assert!(
            help.contains(&format!("mmapfile {subcommand}")),
            "{subcommand}'s examples use it: {help}"
        );
    }
}

#[test]
fn the_top_level_help_lists_the_subcommands() {
    let assert = mmapfile().arg("--help").assert().success();
    let help = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for subcommand in ["demo", "read", "find", "grep", "replace"] {
        assert!(help.contains(subcommand), "{help}");
    }
}

#[test]
fn usage_errors_exit_2_without_a_panic() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["read"],
        &["find", "file-only"],
        &["read", "x", "--offset", "-3"],
    ] {
        let assert = mmapfile().args(args).assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
