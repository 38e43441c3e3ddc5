#!/usr/bin/env bash
# Installs what the Windows and 32-bit Linux tests and the cross-platform checks need
# (.ci/run calls it): Debian's wine, wine64, gcc-mingw-w64-x86-64 and gcc-multilib, and the
# rustup targets for Windows, 32-bit Linux, macOS, FreeBSD and Android. Already-installed
# pieces are skipped.
#
# If rustup cannot reach its server, this says so loudly and carries on (exit 0): the test
# scripts then report those targets as skipped. Every other failure fails.
set -euo pipefail

# gcc-multilib: the 32-bit C runtime the i686 tests link against (and build C helpers with).
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || [[ ! -x /usr/lib/wine/wine64 ]] \
    || ! dpkg -s gcc-multilib >/dev/null 2>&1; then
    echo "== apt-get install wine wine64 gcc-mingw-w64-x86-64 gcc-multilib"
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        wine wine64 gcc-mingw-w64-x86-64 gcc-multilib >/dev/null
fi

targets=(x86_64-pc-windows-gnu i686-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin
    x86_64-unknown-freebsd aarch64-linux-android)
installed=$(rustup target list --installed)
missing=()
for target in "${targets[@]}"; do
    grep -qx "$target" <<<"$installed" || missing+=("$target")
done
if ((${#missing[@]})); then
    echo "== rustup target add ${missing[*]}"
    if ! rustup target add "${missing[@]}"; then
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo "!!! rustup could not add ${missing[*]} (cannot reach its server?)."
        echo "!!! The Windows and 32-bit tests and cross checks for these targets will be SKIPPED."
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    fi
fi
