#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace, the examples' output, the Python module,
# the crate and the command for Windows under wine and as 32-bit Linux programs, and clippy for
# macOS, FreeBSD and Android.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test --workspace"
cargo test --workspace

echo "== the guide's examples print the guide's output"
bash scripts/check-examples.sh

# Every installed CPython 3.9-3.13 gets its wheel built and installed without Rust; the full
# suite (with the differential test's CI budget) runs on 3.11 and 3.13, the quick parity
# tests and CPython's test_mmap on the others; the sdist is built and checked too.
echo "== the Python module: wheels, sdist, stubtest, pytest (full: 3.11 3.13; quick: 3.9 3.10 3.12)"
bash crates/mmapfile-py/test-python.sh --sdist 3.11 3.13 --quick 3.9 3.10 3.12

echo "== Windows: the crate's and the command's tests under wine (scripts/test-windows.sh)"
bash scripts/test-windows.sh

echo "== 32-bit Linux: the crate's and the command's tests for i686 (scripts/test-i686.sh)"
bash scripts/test-i686.sh

echo "== macOS, FreeBSD, Android, Windows: clippy -D warnings (scripts/cross-check.sh)"
bash scripts/cross-check.sh
