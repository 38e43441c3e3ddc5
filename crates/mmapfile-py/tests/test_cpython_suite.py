"""CPython's own test.test_mmap, run with sys.modules['mmap'] replaced by mmapfile.

Each run happens in a fresh interpreter (the same one that runs pytest), so the swap is
clean. mmapfile must have no failure and no error, and may skip exactly the tests that the
builtin mmap skips on the same interpreter.
"""

import json
import subprocess
import sys

import pytest

from conftest import TESTS

# What the builtin module gives on the interpreters of the acceptance.
EXPECTED_COUNTS = {(3, 11): (46, 8), (3, 13): (50, 10)}


def run_suite(module, folder):
    done = subprocess.run(
        [sys.executable, str(TESTS / "cpython_suite.py"), module],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("SUMMARY ")]
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    return json.loads(lines[-1][len("SUMMARY "):]), done.stderr


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    ours = run_suite("mmapfile", tmp_path_factory.mktemp("mmapfile"))
    builtin = run_suite("builtin", tmp_path_factory.mktemp("builtin"))
    return ours, builtin


def test_cpython_test_mmap_passes_on_mmapfile(results):
    (ours, log), _ = results
    assert ours["module"] == "mmapfile"
    problems = [name for name, _ in ours["failures"] + ours["errors"]]
    details = "\n".join(trace for _, trace in ours["failures"] + ours["errors"])
    assert problems == [], details or log
    assert ours["unexpected_successes"] == 0
    passed = ours["run"] - len(ours["skipped"])
    print(f"\nCPython {ours['python']} test_mmap on mmapfile: {ours['run']} run, "
          f"{passed} passed, 0 failed, {len(ours['skipped'])} skipped")


def test_mmapfile_skips_exactly_what_the_builtin_skips(results):
    (ours, _), (builtin, _) = results
    assert builtin["module"] == "mmap"
    assert ours["run"] == builtin["run"]
    assert [name for name, _ in ours["skipped"]] == [name for name, _ in builtin["skipped"]]


@pytest.mark.skipif(sys.version_info[:2] not in EXPECTED_COUNTS, reason="no reference figures")
def test_figures_of_the_acceptance(results):
    (ours, _), _ = results
    run, skipped = EXPECTED_COUNTS[sys.version_info[:2]]
    assert (ours["run"], len(ours["skipped"])) == (run, skipped)
