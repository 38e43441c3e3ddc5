#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace, the examples' output, the Python module,
# the crate and the command for Windows under wine, and clippy for macOS, FreeBSD and Android.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test --workspace"
cargo test --workspace

echo "== the guide's examples print the guide's output"
bash scripts/check-examples.sh

echo "== the Python module: fresh venvs for CPython 3.11 and 3.13, pip install ./crates/mmapfile-py, pytest"
bash crates/mmapfile-py/test-python.sh 3.11 3.13

echo "== Windows: the crate's and the command's tests under wine (scripts/test-windows.sh)"
bash scripts/test-windows.sh

echo "== macOS, FreeBSD, Android, Windows: clippy -D warnings (scripts/cross-check.sh)"
bash scripts/cross-check.sh
