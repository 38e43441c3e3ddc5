#!/usr/bin/env bash
# The Python module's tests: for each CPython given (default 3.11 and 3.13), build the module
# into a fresh venv under target/ with `pip install ./crates/mmapfile-py` (maturin and pytest
# come from PyPI) and run pytest on crates/mmapfile-py/tests. An interpreter that is not
# installed is skipped with a message. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

find_python() {
    local version=$1 candidate
    # pyenv's builds first (the newest patch release), then whatever is on PATH.
    for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python 2>/dev/null | sort -V -r); do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
    command -v "python$version" || true
}

failed=()
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.11 3.13)
for version in "${versions[@]}"; do
    python=$(find_python "$version")
    if [ -z "$python" ]; then
        echo "== Python $version: SKIPPED, no CPython $version interpreter is installed"
        continue
    fi
    echo "== Python $version ($python): fresh venv, pip install ./crates/mmapfile-py, pytest"
    venv="$repo/target/venv-$version"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin pytest
    # One cargo target dir per interpreter: pyo3 is configured for one interpreter at a time,
    # so sharing a dir would rebuild it for every version on every run.
    # --no-build-isolation reuses the venv's maturin, which its backend runs from PATH.
    PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="$repo/target/py-$version" \
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-build-isolation "$repo/crates/mmapfile-py"
    (cd "$repo/target" && "$venv/bin/python" -c "import mmapfile; print('import mmapfile:', mmapfile.__file__)")
    if ! "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs "$repo/crates/mmapfile-py/tests"; then
        failed+=("$version")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "== Python tests FAILED under: ${failed[*]}"
    exit 1
fi
