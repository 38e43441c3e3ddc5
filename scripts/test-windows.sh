#!/usr/bin/env bash
# Builds the crate and the command for Windows (x86_64-pc-windows-gnu) and runs their tests
# under wine, in a private wine prefix under target/. Also checks that the Python module
# builds for Windows.
#
#   bash scripts/test-windows.sh            # the tests (tools must be installed)
#   bash scripts/test-windows.sh --install  # first install wine, mingw and the rustup target
#
# Needs Debian's wine, wine64 and gcc-mingw-w64-x86-64, and `rustup target add
# x86_64-pc-windows-gnu`; --install installs them (apt-get needs root). If rustup cannot
# reach its server the script says so and skips the Windows tests (exit 0); every other
# failure fails.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu

if [[ "${1:-}" == "--install" ]]; then
    if ! command -v x86_64-w64-mingw32-gcc >/dev/null || [[ ! -x /usr/lib/wine/wine64 ]]; then
        echo "== apt-get install wine wine64 gcc-mingw-w64-x86-64"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            wine wine64 gcc-mingw-w64-x86-64 >/dev/null
    fi
    if ! rustup target list --installed | grep -qx "$target"; then
        echo "== rustup target add $target"
        if ! rustup target add "$target"; then
            echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            echo "!!! rustup could not add $target (no access to its server?):"
            echo "!!! SKIPPING the Windows tests. Nothing about Windows was checked."
            echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            exit 0
        fi
    fi
fi

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

echo "== cargo test -p mmapfile --target $target (under wine)"
cargo test -p mmapfile --target "$target"

echo "== cargo test -p mmapfile-cli --target $target (under wine)"
cargo test -p mmapfile-cli --target "$target"
