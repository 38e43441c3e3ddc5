#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace, the examples' output, the Python module.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test --workspace"
cargo test --workspace

echo "== the guide's examples print the guide's output"
bash scripts/check-examples.sh

echo "== the Python module: fresh venvs for CPython 3.11 and 3.13, pip install ./crates/mmapfile-py, pytest"
bash crates/mmapfile-py/test-python.sh 3.11 3.13
