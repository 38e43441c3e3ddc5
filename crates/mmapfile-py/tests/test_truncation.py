"""A file truncated under the map: CPython's mmap dies of SIGBUS on the next access
(gh-148650); mmapfile raises OSError and the interpreter lives on. Runs in a child process
so that a crash shows as a failed exit status."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import mmapfile
    path = sys.argv[1]
    with open(path, "wb") as f:
        f.write(b"x" * 20000)
    with open(path, "r+b") as f:
        m = mmapfile.mmap(f.fileno(), 0)
        os.truncate(path, 100)
        assert m[50] == ord("x")  # bytes still in the file read as before
        calls = {
            "item": lambda: m[10000],
            "read": lambda: m.read(),
            "find": lambda: m.find(b"y"),
            "slice": lambda: m[5000:6000],
            "write": lambda: m.write(b"z" * 20000),
            "readline": lambda: m.readline(),
        }
        for name, call in calls.items():
            try:
                call()
            except OSError as exc:
                assert "truncated" in str(exc), (name, exc)
                print(name, "OSError")
            else:
                raise AssertionError(name + " did not raise")
        m.close()
    print("alive")
    """
)


def test_truncated_file_raises_oserror_instead_of_crashing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data.bin")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "item", "OSError", "read", "OSError", "find", "OSError", "slice", "OSError",
        "write", "OSError", "readline", "OSError", "alive",
    ]
