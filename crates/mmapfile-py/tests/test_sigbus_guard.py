"""The fault guard from Python: a file truncated under the map gives OSError, not SIGBUS.

CPython's own mmap dies of SIGBUS on each of these accesses (gh-148650). Every scenario runs
in a fresh interpreter, so a crash shows as a failed exit status rather than killing pytest:
the file is truncated from another descriptor or by a child process, then one access of the
acceptance list is tried, the bytes below the new end are read back and the map is closed.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

ACCESSES = [
    "index", "slice", "read", "find", "rfind", "readline", "write", "item", "bytes", "flush",
]

# Shared by every child: a 16-page file of letters with one newline in the first page, cut to
# three pages and 50 bytes while mapped.
PRELUDE = textwrap.dedent(
    """
    import os, subprocess, sys, threading
    import mmapfile

    P = mmapfile.PAGESIZE
    path, how = sys.argv[1], sys.argv[2]
    data = bytearray((97 + i % 26) for i in range(16 * P))
    data[40] = 10
    data = bytes(data)
    NEW_END = 3 * P + 50
    with open(path, "wb") as f:
        f.write(data)
    f = open(path, "r+b")

    def truncate():
        if how == "fd":
            other = os.open(path, os.O_RDWR)
            os.ftruncate(other, NEW_END)
            os.close(other)
        else:
            subprocess.run(
                [sys.executable, "-c", "import os, sys; os.truncate(sys.argv[1], int(sys.argv[2]))",
                 path, str(NEW_END)],
                check=True,
            )
        assert os.path.getsize(path) == NEW_END

    def expect_oserror(name, call):
        try:
            call()
        except OSError as exc:
            assert "truncated while mapped" in str(exc), (name, exc)
            return True
        return False

    def survivor(m):
        # The bytes that still exist read back; one byte further is refused; close is clean.
        assert m[:NEW_END] == data[:NEW_END], "bytes below the new end"
        assert m.find(b"\\n", 0, NEW_END) == 40
        assert expect_oserror("past the end", lambda: m[NEW_END:NEW_END + 1] + m[8 * P:8 * P + 1])
        m.close()
        assert m.closed
    """
)

ONE_ACCESS = PRELUDE + textwrap.dedent(
    """
    access = sys.argv[3]
    writable = access in ("write", "item", "flush")
    m = mmapfile.mmap(f.fileno(), 0, access=mmapfile.ACCESS_WRITE if writable else mmapfile.ACCESS_READ)
    if access == "flush":
        m[10:12] = b"XY"  # a change below the new end that flush must still write back
        data = data[:10] + b"XY" + data[12:]
    truncate()
    calls = {
        "index": lambda: m[6 * P],
        "slice": lambda: m[2 * P:8 * P],
        "read": lambda: (m.seek(2 * P), m.read(5 * P)),
        "find": lambda: m.find(b"not in the file"),
        "rfind": lambda: m.rfind(b"not in the file"),
        "readline": lambda: (m.seek(P), m.readline()),
        "write": lambda: (m.seek(5 * P), m.write(b"lost bytes")),
        "item": lambda: m.__setitem__(7 * P, 1),
        "bytes": lambda: bytes(m),
        "flush": lambda: m.flush(),
    }
    for attempt in ("first", "second"):
        # bytes(m) goes through mmap.__bytes__ (the guarded copy), not the buffer protocol,
        # so it reports the truncation like every other access.
        assert expect_oserror(access, calls[access]), access + " did not raise (" + attempt + ")"
    survivor(m)
    with open(path, "rb") as check:
        assert check.read() == data[:NEW_END], "nothing reached the file past its end"
    print("ALIVE", access)
    """
)

THREADS = PRELUDE + textwrap.dedent(
    """
    m = mmapfile.mmap(f.fileno(), 0, access=mmapfile.ACCESS_READ)
    truncate()
    barrier = threading.Barrier(8)
    results = [None] * 8

    def worker(i):
        start = (4 + i) * P + i
        calls = [
            lambda: m[start:],
            lambda: m.find(b"absent", start),
            lambda: m.rfind(b"absent", start),
            lambda: m[start],
        ]
        barrier.wait()
        results[i] = expect_oserror("thread %d" % i, calls[i % 4])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 8, results
    survivor(m)
    print("ALIVE threads", results.count(True))
    """
)


def run(script, tmp_path, *args, flags=()):
    return subprocess.run(
        [sys.executable, *flags, "-c", script, str(tmp_path / "data.bin"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def describe(done):
    return "exit %s\nstdout:\n%s\nstderr:\n%s" % (done.returncode, done.stdout, done.stderr)


@pytest.mark.parametrize("how", ["fd", "child"])
@pytest.mark.parametrize("access", ACCESSES)
def test_each_access_to_a_truncated_map_errors_and_the_process_lives(tmp_path, access, how):
    done = run(ONE_ACCESS, tmp_path, how, access)
    assert done.returncode == 0, describe(done)
    assert "ALIVE " + access in done.stdout, describe(done)


@pytest.mark.parametrize("how", ["fd", "child"])
def test_eight_threads_faulting_at_once(tmp_path, how):
    done = run(THREADS, tmp_path, how)
    assert done.returncode == 0, describe(done)
    assert "ALIVE threads 8" in done.stdout, describe(done)


def test_with_faulthandler_enabled_before_the_first_map(tmp_path):
    # -X faulthandler installs Python's handler first; the guard chains to it.
    done = run(ONE_ACCESS, tmp_path, "fd", "read", flags=("-X", "faulthandler"))
    assert done.returncode == 0, describe(done)
    assert "ALIVE read" in done.stdout, describe(done)


FOREIGN = PRELUDE + textwrap.dedent(
    """
    import faulthandler, mmap
    faulthandler.enable()
    ours = mmapfile.mmap(f.fileno(), 0, access=mmapfile.ACCESS_READ)   # installs the guard
    theirs = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)         # CPython's, unguarded
    truncate()
    assert expect_oserror("ours", lambda: ours[8 * P])
    print("ours raised", flush=True)
    theirs[8 * P]   # not ours: faulthandler reports it and the process dies as before
    print("survived a foreign fault")
    """
)


def test_faults_in_other_maps_still_reach_faulthandler_and_kill(tmp_path):
    done = run(FOREIGN, tmp_path, "fd")
    assert done.returncode == -signal.SIGBUS, describe(done)
    assert "ours raised" in done.stdout, describe(done)
    assert "survived" not in done.stdout, describe(done)
    assert "Bus error" in done.stderr, describe(done)


def test_in_the_pytest_process_alongside_its_faulthandler(tmp_path):
    # pytest enabled faulthandler before this module mapped anything: the guard chains to it,
    # and a truncation here must not take pytest down.
    import mmapfile

    page = mmapfile.PAGESIZE
    path = tmp_path / "inproc.bin"
    path.write_bytes(b"q" * (6 * page))
    with open(path, "r+b") as f:
        m = mmapfile.mmap(f.fileno(), 0)
        os.truncate(path, page)
        with pytest.raises(OSError, match="truncated while mapped"):
            m.read()
        assert m[:page] == b"q" * page
        m.close()
