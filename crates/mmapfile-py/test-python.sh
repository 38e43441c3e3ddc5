#!/usr/bin/env bash
# The Python module's tests, run against its wheels. For each CPython given (default 3.11
# and 3.13):
#   1. `maturin build --release` makes the interpreter's wheel in target/wheels/, tagged
#      manylinux when maturin's auditwheel check finds that the build qualifies;
#   2. a fresh venv under target/ installs that wheel with no Rust toolchain reachable (a
#      `cargo`/`rustc` that fails comes first on PATH), which proves the wheel needs none;
#   3. `python -m mypy.stubtest mmapfile` checks the .pyi against the installed module;
#   4. pytest runs crates/mmapfile-py/tests: CPython's own test_mmap, the differential test
#      against the builtin mmap (CI budget: MMAPFILE_DIFF_EXAMPLES sequences, at most
#      MMAPFILE_DIFF_SECONDS seconds), and the rest.
# `--quick` before versions: steps 1-3, then only an import and the quick parity tests
# (tests/test_parity.py, tests/test_package.py, CPython's test_mmap), for versions whose
# full run the CI leaves to the others. `--sdist`: also build the sdist into target/wheels/.
# An interpreter that is not installed is skipped with a message. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
wheels="$repo/target/wheels"

find_python() {
    local version=$1 candidate
    # pyenv's builds first (the newest patch release), then whatever is on PATH.
    for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python 2>/dev/null | sort -V -r); do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
    command -v "python$version" || true
}

# A PATH on which `cargo` and `rustc` fail loudly, whatever else is installed.
no_rust_path() {
    local shims="$repo/target/no-rust"
    mkdir -p "$shims"
    for tool in cargo rustc rustup maturin; do
        printf '#!/bin/sh\necho "%s must not be needed to install a wheel" >&2\nexit 1\n' "$tool" \
            > "$shims/$tool"
        chmod +x "$shims/$tool"
    done
    echo "$shims:$PATH"
}

# The build tool: maturin from PyPI in its own venv (made once, reused).
build_venv="$repo/target/venv-build"
maturin() {
    if [ ! -x "$build_venv/bin/maturin" ]; then
        local python
        python=$(find_python 3.13)
        [ -n "$python" ] || python=$(command -v python3)
        "$python" -m venv "$build_venv"
        "$build_venv/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.9.4,<2'
    fi
    "$build_venv/bin/maturin" "$@"
}

quick=0
sdist=0
failed=()
versions=()
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --sdist) sdist=1 ;;
        *) versions+=("$arg:$quick") ;;
    esac
done
[ ${#versions[@]} -gt 0 ] || versions=(3.11:0 3.13:0)
mkdir -p "$wheels"

if [ $sdist = 1 ]; then
    echo "== sdist: maturin sdist"
    rm -f "$wheels"/mmapfile-*.tar.gz
    maturin sdist --manifest-path crates/mmapfile-py/Cargo.toml --out "$wheels"
    sdist_file=$(ls "$wheels"/mmapfile-*.tar.gz)
    # It must carry the core crate and the stub, or it cannot build (or type-check) elsewhere.
    members=$(tar -tzf "$sdist_file")
    for member in crates/mmapfile/src/lib.rs crates/mmapfile-py/mmapfile.pyi Cargo.lock; do
        grep -q "/$member\$" <<<"$members" || { echo "$sdist_file lacks $member"; exit 1; }
    done
    echo "   $sdist_file"
fi

for entry in "${versions[@]}"; do
    version=${entry%:*}
    only_quick=${entry#*:}
    python=$(find_python "$version")
    if [ -z "$python" ]; then
        echo "== Python $version: SKIPPED, no CPython $version interpreter is installed"
        continue
    fi
    tag=cp${version/./}
    echo "== Python $version ($python): maturin build --release"
    rm -f "$wheels"/mmapfile-*-"$tag"-*.whl
    # One cargo target dir per interpreter: pyo3 is configured for one interpreter at a time,
    # so sharing a dir would rebuild it for every version on every run.
    CARGO_TARGET_DIR="$repo/target/py-$version" maturin build --release --quiet \
        --manifest-path crates/mmapfile-py/Cargo.toml --interpreter "$python" --out "$wheels"
    wheel=$(ls "$wheels"/mmapfile-*-"$tag"-*.whl)
    echo "   $(basename "$wheel")"

    echo "== Python $version: fresh venv, pip install the wheel without Rust, stubtest, pytest"
    venv="$repo/target/venv-$version"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    PATH=$(no_rust_path) "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --only-binary :all: "$wheel" pytest hypothesis mypy
    (cd "$repo/target" && "$venv/bin/python" -c "import mmapfile; print('   import mmapfile:', mmapfile.__file__)")
    # The stub must describe the module exactly (mypy's stubtest, run outside the source
    # tree so that it checks the installed module).
    if ! (cd "$repo/target" && "$venv/bin/python" -m mypy.stubtest mmapfile \
            --allowlist "$repo/crates/mmapfile-py/stubtest-allowlist.txt"); then
        failed+=("$version (stubtest)")
    fi
    tests=("$repo/crates/mmapfile-py/tests")
    if [ "$only_quick" = 1 ]; then
        tests=("$repo/crates/mmapfile-py/tests/test_parity.py"
               "$repo/crates/mmapfile-py/tests/test_package.py"
               "$repo/crates/mmapfile-py/tests/test_cpython_suite.py")
    fi
    if ! MMAPFILE_DIFF_EXAMPLES=${MMAPFILE_DIFF_EXAMPLES:-400} \
            MMAPFILE_DIFF_SECONDS=${MMAPFILE_DIFF_SECONDS:-50} \
            "$venv/bin/python" -m pytest -p no:cacheprovider -q -rsP "${tests[@]}"; then
        failed+=("$version")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "== Python tests FAILED under: ${failed[*]}"
    exit 1
fi
