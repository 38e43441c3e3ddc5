#!/usr/bin/env bash
# Builds the crate and the command for Windows (x86_64-pc-windows-gnu) and runs their tests
# under wine, in a private wine prefix under target/. scripts/test.sh calls it;
# scripts/install-cross.sh installs what it needs (wine, wine64, gcc-mingw-w64-x86-64, the
# rustup target).
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
# shellcheck source=cross/skip-unless-target.sh
source scripts/cross/skip-unless-target.sh
skip_unless_target "$target" "the Windows tests"
# .ci/run installs these first (and fails if it cannot); elsewhere their absence is a skip.
for tool in x86_64-w64-mingw32-gcc wineboot wineserver /usr/lib/wine/wine64; do
    command -v "$tool" >/dev/null || {
        echo "!!! SKIPPED: the Windows tests ($tool is not installed;"
        echo "!!! bash scripts/install-cross.sh installs it)"
        exit 0
    }
done

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# wine64 directly: the `wine` wrapper warns that wine32 is missing.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
export WINEDEBUG=-all
export WINEPREFIX="$PWD/target/wine-prefix"
# No display: wine must not try to open windows.
unset DISPLAY WAYLAND_DISPLAY

mkdir -p target
if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    echo "== wineboot --init (a private prefix in $WINEPREFIX)"
    wineboot --init >/dev/null 2>&1
fi
# Stop the wine server this script started, whatever happens. (`wineserver -p` would keep
# this step's stdout open and hang CI.)
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT

# Rust's std imports ProcessPrng from bcryptprimitives.dll, which wine 8 lacks.
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
source=scripts/windows/bcryptprimitives.c
if [[ ! -f "$dll" || "$source" -nt "$dll" ]]; then
    echo "== building the ProcessPrng stand-in ($source)"
    x86_64-w64-mingw32-gcc -O2 -shared -s -o "$dll" "$source" -ladvapi32
fi

# One cargo run for both crates, so their shared dependencies build once. Doc tests are
# left to Linux: under wine each is its own build and process (a minute for nothing more
# than the Linux run checks, except the Windows-only `shared_name` example, which the
# integration tests cover).
echo "== cargo test -p mmapfile -p mmapfile-cli --target $target --lib --bins --tests (under wine)"
cargo test -p mmapfile -p mmapfile-cli --target "$target" --lib --bins --tests

echo "== the Python module for Windows, CPython's test_mmap under wine"
bash scripts/windows/test-python.sh
