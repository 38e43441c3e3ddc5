#!/usr/bin/env bash
# Clippy with -D warnings for the platforms this machine cannot run: macOS (x86_64 and
# aarch64) and FreeBSD (library, command, Python module, tests, examples, benches), Android
# (library), and Windows and 32-bit Linux (whose crate and command tests scripts/test-windows.sh
# and scripts/test-i686.sh also run; here the Python module too). Nothing is linked: these
# check that the code compiles there, warning-free.
# scripts/test.sh calls it; scripts/install-cross.sh adds the rustup targets.
set -euo pipefail
cd "$(dirname "$0")/.."

installed=$(rustup target list --installed)
# The Python module needs an interpreter version to pick its ABI; nothing is linked.
export PYO3_CROSS_PYTHON_VERSION=3.13
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc

check() {
    local target=$1
    shift
    if ! grep -qx "$target" <<<"$installed"; then
        echo "!!! SKIPPED: clippy for $target (rustup target not installed;"
        echo "!!! bash scripts/install-cross.sh adds it)"
        return
    fi
    echo "== cargo clippy --target $target $*"
    if ! cargo clippy --quiet --target "$target" "$@" -- -D warnings; then
        failed+=("$target")
    fi
}
failed=()

# Build scripts that compile C (criterion's alloca) get Apple-only flags the host compiler
# refuses; the wrapper drops them.
export CC_x86_64_apple_darwin="$PWD/scripts/cross/apple-cc"
export CC_aarch64_apple_darwin="$PWD/scripts/cross/apple-cc"
check x86_64-apple-darwin --workspace --all-targets
check aarch64-apple-darwin --workspace --all-targets
check x86_64-unknown-freebsd --workspace --all-targets
check aarch64-linux-android -p mmapfile --lib
check x86_64-pc-windows-gnu --workspace --all-targets
check i686-unknown-linux-gnu --workspace --all-targets

# The crate's documentation must build for Windows too (links to Unix-only items break).
if grep -qx x86_64-pc-windows-gnu <<<"$installed"; then
    echo "== cargo doc -p mmapfile --target x86_64-pc-windows-gnu"
    RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p mmapfile \
        --target x86_64-pc-windows-gnu || failed+=("x86_64-pc-windows-gnu (doc)")
fi

if ((${#failed[@]})); then
    echo "!!! clippy failed for: ${failed[*]}" >&2
    exit 1
fi
