#!/usr/bin/env bash
# Runs the crate's and the command's tests as a 32-bit Linux program (i686-unknown-linux-gnu),
# where `usize` is 32 bits, `u64` is 4-byte aligned and glibc's plain `off_t` is 32 bits:
# CPython's mmap runs there, with files and offsets past 4 GiB. scripts/test.sh calls it;
# scripts/install-cross.sh installs what it needs (gcc-multilib, the rustup target).
set -euo pipefail
cd "$(dirname "$0")/.."

target=i686-unknown-linux-gnu
# shellcheck source=cross/skip-unless-target.sh
source scripts/cross/skip-unless-target.sh
skip_unless_target "$target" "the 32-bit Linux tests"
if ! dpkg -s gcc-multilib >/dev/null 2>&1; then
    echo "!!! SKIPPED: the 32-bit Linux tests (gcc-multilib is not installed;"
    echo "!!! bash scripts/install-cross.sh installs it)"
    exit 0
fi
cargo test --target "$target" -p mmapfile -p mmapfile-cli
