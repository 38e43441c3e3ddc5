"""The guide's four programs, ported to Python 3, print the guide's output on mmapfile.

Each program runs in a fresh process in a scratch folder holding lorem.txt. The same program
run on the builtin mmap must print the same, which keeps the expected files honest.
"""

import shutil
import subprocess
import sys

import pytest

from conftest import EXAMPLES, TESTS

PROGRAMS = ["mmap_read", "mmap_write_slice", "mmap_write_copy", "mmap_regex"]


def run_program(name, folder, module):
    shutil.copy(EXAMPLES / "lorem.txt", folder / "lorem.txt")
    source = (TESTS / "guide" / f"{name}.py").read_text()
    assert "import mmapfile as mmap\n" in source
    if module == "mmap":
        source = source.replace("import mmapfile as mmap\n", "import mmap\n")
    script = folder / f"{name}.py"
    script.write_text(source)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", PROGRAMS)
def test_guide_program_prints_the_guides_output(name, tmp_path):
    expected = (EXAMPLES / "expected" / f"{name}.txt").read_text()
    assert run_program(name, tmp_path, "mmapfile") == expected


@pytest.mark.parametrize("name", PROGRAMS)
def test_builtin_mmap_prints_the_same(name, tmp_path):
    expected = (EXAMPLES / "expected" / f"{name}.txt").read_text()
    assert run_program(name, tmp_path, "mmap") == expected


def test_write_slice_reaches_the_file_and_copy_does_not(tmp_path):
    original = (EXAMPLES / "lorem.txt").read_bytes()
    slice_dir = tmp_path / "slice"
    copy_dir = tmp_path / "copy"
    slice_dir.mkdir()
    copy_dir.mkdir()
    run_program("mmap_write_slice", slice_dir, "mmapfile")
    run_program("mmap_write_copy", copy_dir, "mmapfile")
    changed = (slice_dir / "lorem_copy.txt").read_bytes()
    assert changed == original.replace(b"consectetuer", b"reutetcesnoc", 1)
    assert (copy_dir / "lorem_copy.txt").read_bytes() == original
