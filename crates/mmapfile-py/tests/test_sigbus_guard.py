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
    "slice-store", "iterate",
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

    # Another signal handler around the guard, as the parent asked (GUARD_TEST_SETUP):
    # faulthandler enabled after the process's first map, or enabled before it and disabled
    # after it, or enabled after this scenario's own map (after_map below).
    import faulthandler
    SETUP = os.environ.get("GUARD_TEST_SETUP", "")
    if SETUP in ("after-first-map", "enabled-then-disabled"):
        if SETUP == "enabled-then-disabled":
            faulthandler.enable()
        first = mmapfile.mmap(-1, P)
        first_file = mmapfile.mmap(f.fileno(), P, access=mmapfile.ACCESS_READ)
        if SETUP == "after-first-map":
            faulthandler.enable()
        else:
            faulthandler.disable()

    def after_map():
        if SETUP == "after-this-map":
            faulthandler.enable()

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
    writable = access in ("write", "item", "flush", "slice-store")
    m = mmapfile.mmap(f.fileno(), 0, access=mmapfile.ACCESS_WRITE if writable else mmapfile.ACCESS_READ)
    if access == "flush":
        m[10:12] = b"XY"  # a change below the new end that flush must still write back
        data = data[:10] + b"XY" + data[12:]
    after_map()
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
        "slice-store": lambda: m.__setitem__(slice(7 * P, 7 * P + 4), b"lost"),
        "iterate": lambda: list(m),
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
    after_map()
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


def run(script, tmp_path, *args, flags=(), setup=""):
    env = dict(os.environ, GUARD_TEST_SETUP=setup)
    return subprocess.run(
        [sys.executable, *flags, "-c", script, str(tmp_path / "data.bin"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
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


SETUPS = ["after-first-map", "enabled-then-disabled", "after-this-map"]


@pytest.mark.parametrize("setup", SETUPS)
def test_every_access_and_eight_threads_with_faulthandler_around_the_guard(tmp_path, setup):
    # faulthandler installed after the guard (or removed after it, which puts SIG_DFL back):
    # the guard goes back on top at the next map, and takes faulthandler's re-raise of a
    # fault in our map (after this map) as ours. Each run is a fresh interpreter.
    passed = []
    for access in ACCESSES:
        done = run(ONE_ACCESS, tmp_path, "fd", access, setup=setup)
        assert done.returncode == 0, (setup, access, describe(done))
        assert "ALIVE " + access in done.stdout, (setup, access, describe(done))
        passed.append(access)
    done = run(THREADS, tmp_path, "fd", setup=setup)
    assert done.returncode == 0, (setup, describe(done))
    assert "ALIVE threads 8" in done.stdout, (setup, describe(done))
    assert len(passed) == len(ACCESSES)


REGEX_RACE = textwrap.dedent(
    """
    import os, random, sys, threading, time
    import mmapfile

    path = sys.argv[1]
    letters = bytes(97 + i % 26 for i in range(26)) * ((32 << 20) // 26)
    outcomes = []
    for attempt in range(12):
        with open(path, "wb") as f:
            f.write(letters)
        f = open(path, "rb")
        m = mmapfile.mmap(f.fileno(), 0, access=mmapfile.ACCESS_READ)
        result = []

        def search():
            try:
                result.append(sum(1 for _ in m.finditer("xyz[a-z]")))
            except OSError as exc:
                assert "truncated while mapped" in str(exc), exc
                result.append("OSError")
            except BaseException as exc:   # PanicException derives from BaseException
                result.append("%s: %s" % (type(exc).__name__, exc))

        t = threading.Thread(target=search)
        t.start()
        time.sleep(random.uniform(0.001, 0.025))
        os.truncate(path, mmapfile.PAGESIZE)
        t.join()
        m.close()
        f.close()
        outcomes.append(result[0])
    bad = [o for o in outcomes if o != "OSError" and o != len(letters) // 26]
    assert not bad, bad
    print("REGEX-RACE-OK", outcomes.count("OSError"), "errors of", len(outcomes))
    """
)


def test_finditer_over_a_file_truncated_mid_search_raises_oserror(tmp_path):
    done = run(REGEX_RACE, tmp_path)
    assert done.returncode == 0, describe(done)
    assert "REGEX-RACE-OK" in done.stdout, describe(done)
    assert "panicked" not in done.stderr, describe(done)
