#!/usr/bin/env bash
# Each Rust example must print, byte for byte, what the guide shows for it.
set -euo pipefail
cd "$(dirname "$0")/.."
expected=crates/mmapfile/examples/expected
status=0
for name in mmap_read mmap_write_slice mmap_write_copy mmap_regex; do
    if diff -u "$expected/$name.txt" <(cargo run -q --example "$name"); then
        echo "ok: $name"
    else
        echo "FAILED: $name prints something other than the guide" >&2
        status=1
    fi
done
exit $status
