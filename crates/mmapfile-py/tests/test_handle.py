"""The map handle (handle.rs): threads, fork, the garbage collector, big copies and the fault
guard on the per-call paths.

Each scenario that could hang or kill runs in a child interpreter with a timeout, so a
failure shows as a failed test rather than a stuck or dead pytest.
"""

import gc
import mmap
import os
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest

import mmapfile

PAGE = mmap.PAGESIZE


def run_child(script, *args, timeout=120):
    """Runs `script` in a fresh interpreter; returns its stdout (fails on a bad exit)."""
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"child hung (timeout {timeout} s): {exc.stdout!r} {exc.stderr!r}")
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


# ----------------------------------------------------------------------------- threads


def long_count_seconds(m):
    started = time.perf_counter()
    m.count(b"\0\0")
    return time.perf_counter() - started


def test_short_calls_during_a_long_gil_released_call_do_not_stall_other_threads():
    # Thread A runs long GIL-released counts over a big map (every 2 bytes of zeros is a
    # match, so the count takes a while); thread B makes short calls on the same map,
    # including a write, which has to wait for A's count to end; thread C only counts. C must
    # keep going all the while: B may wait for A, but never with the GIL held.
    size = 64 << 20
    m = mmapfile.mmap(-1, size)
    one = long_count_seconds(m)
    while one < 0.3 and size < (1 << 30):
        m.close()
        size *= 2
        m = mmapfile.mmap(-1, size)
        one = long_count_seconds(m)
    stop = threading.Event()
    gaps = []
    counts = []
    errors = []

    def a():
        try:
            while not stop.is_set():
                counts.append(m.count(b"\0\0"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def b():
        try:
            while not stop.is_set():
                m.seek(0)
                m.tell()
                m[5]
                m[5] = 0
                m.read(16)
                time.sleep(0.01)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def c():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    threads = [threading.Thread(target=f) for f in (a, b, c)]
    for thread in threads:
        thread.start()
    time.sleep(max(1.5, 4 * one))
    stop.set()
    for thread in threads:
        thread.join(60)
    m.close()
    assert not errors, errors
    assert counts and all(n == size // 2 for n in counts)
    # Generous: a stall would last about one count (`one` seconds, at least 0.3).
    assert max(gaps) < max(0.15, one / 2), (max(gaps), one)


def test_close_waits_for_a_gil_released_call_without_holding_the_gil():
    m = mmapfile.mmap(-1, 256 << 20)
    results = []
    worker = threading.Thread(target=lambda: results.append(m.count(b"\0\0")))
    worker.start()
    time.sleep(0.02)
    ticks = []
    ticker = threading.Thread(target=lambda: [ticks.append(time.sleep(0.001)) for _ in range(50)])
    ticker.start()
    m.close()  # waits for the count, which still reads the memory
    worker.join()
    ticker.join()
    assert results == [(256 << 20) // 2]
    assert m.closed
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        m[0]


def test_writable_exports_keep_the_gil_and_exports_wait_for_released_calls():
    # While a writable buffer is exported nothing runs with the GIL released; a writable
    # export made while a GIL-released call runs waits for it (it cannot fail or stall).
    m = mmapfile.mmap(-1, 128 << 20)
    view = memoryview(m)
    assert m.count(b"\0\0") == (128 << 20) // 2
    view[0] = 1
    assert m[0] == 1
    view.release()
    m[0] = 0
    results = []
    worker = threading.Thread(target=lambda: results.append(m.count(b"\0\0")))
    worker.start()
    time.sleep(0.01)
    with memoryview(m) as view:
        view[1] = 2
    worker.join()
    assert results == [(128 << 20) // 2]
    assert m[1] == 2
    m.close()


# ----------------------------------------------------------------------------- fork


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_fork_while_another_thread_is_inside_a_gil_released_call():
    script = """
    import os, sys, threading, time, warnings
    import mmapfile
    warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads (3.12+)
    m = mmapfile.mmap(-1, 512 << 20)
    started = threading.Event()
    def count():
        started.set()
        for _ in range(3):
            m.count(b"\\0\\0")
    worker = threading.Thread(target=count)
    worker.start()
    started.wait()
    time.sleep(0.05)
    pid = os.fork()
    if pid == 0:
        # The child: the counting thread does not exist here.
        m[0] = 1
        assert m[0] == 1
        m.close()
        os._exit(0)
    deadline = time.time() + 30
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        print("child hung")
        sys.exit(1)
    worker.join()
    m.close()
    print("exit", os.waitstatus_to_exitcode(status))
    """
    assert run_child(script, timeout=120).strip() == "exit 0"


# ----------------------------------------------------------------------------- garbage


def open_descriptors():
    return len(os.listdir("/proc/self/fd"))


MAKERS = {
    "iter": iter,
    "reversed": reversed,
    "lines": lambda m: m.lines(),
    "finditer": lambda m: m.finditer(b"a"),
}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("maker", sorted(MAKERS))
def test_a_map_that_holds_its_own_iterator_is_collected(tmp_path, maker):
    path = tmp_path / "data.bin"
    path.write_bytes(b"abc\n" * 1024)
    make = MAKERS[maker]
    modules = [mmapfile] + ([mmap] if maker in ("iter", "reversed") else [])
    for module in modules:

        class M(module.mmap):
            pass

        gc.collect()
        before = open_descriptors()
        with open(path, "r+b") as f:
            m = M(f.fileno(), 0)
        assert open_descriptors() == before + 1  # the map's own dup() of the descriptor
        m.it = make(m)
        next(m.it)
        ref = weakref.ref(m)
        del m
        gc.collect()
        assert ref() is None, module.__name__
        assert open_descriptors() == before, module.__name__


# ----------------------------------------------------------------------------- big copies

PEAK = """
import importlib
import sys

module = importlib.import_module(sys.argv[2])


def peak_kib():
    # This process's own peak (VmHWM): ru_maxrss would carry over the parent's peak from
    # before exec, which a test run that grew first (hypothesis) makes larger than ours.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


size = 512 << 20
# Private anonymous memory: untouched pages read as the shared zero page, which adds nothing
# to the resident set, so the growth is the copies alone (shared anonymous memory is a memfd
# here, whose pages become resident when read).
m = module.mmap(-1, size, flags=module.MAP_PRIVATE)
what = sys.argv[1]
before = peak_kib()
if what == "read":
    data = m.read()
elif what == "slice":
    data = m[:]
elif what == "bytes":
    data = bytes(m)
elif what == "readline":
    data = m.readline()
after = peak_kib()
assert len(data) == size
print((after - before) * 1024 / size)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status VmHWM")
@pytest.mark.parametrize("what", ["read", "slice", "bytes", "readline"])
def test_a_512_mib_copy_is_made_once(what):
    # The peak growth is the result alone when it is copied once, twice that with an
    # intermediate buffer. Generous bounds: at most 1.5 x the result, and no more than the
    # builtin module's growth (one copy) plus a quarter.
    ours = float(run_child(PEAK, what, "mmapfile"))
    builtin = float(run_child(PEAK, what, "mmap"))
    assert ours < 1.5 and ours < builtin + 0.25, (ours, builtin)


# ----------------------------------------------------------------------------- the guard

TRUNCATED = """
import os, sys
import mmapfile
P = mmapfile.PAGESIZE
path, access = sys.argv[1], sys.argv[2]
size = 32 * P if access.startswith("big") else 4 * P
if access == "big-readline":
    data = bytes(97 + i % 26 for i in range(size))
else:
    data = bytes(97 + i % 26 for i in range(size - 1)) + b"\\n"
with open(path, "wb") as f:
    f.write(data)
f = open(path, "r+b")
m = mmapfile.mmap(f.fileno(), 0)
os.truncate(path, P)
far = size - 10
calls = {
    "item": lambda: m[far],
    "slice": lambda: m[far - 5:far],
    "stride": lambda: m[P:size:3],
    "read": lambda: (m.seek(far), m.read(5)),
    "read_byte": lambda: (m.seek(far), m.read_byte()),
    "readline": lambda: (m.seek(far), m.readline()),
    "find": lambda: m.find(b"zz", far - 100),
    "rfind": lambda: m.rfind(b"zz", far - 100),
    "contains": lambda: b"\\n" in m,
    "iter": lambda: list(m),
    "count": lambda: m.count(b"zz"),
    "setitem": lambda: m.__setitem__(far, 1),
    "setslice": lambda: m.__setitem__(slice(far - 5, far), b"12345"),
    "write": lambda: (m.seek(far), m.write(b"12")),
    "write_byte": lambda: (m.seek(far), m.write_byte(1)),
    "move": lambda: m.move(far - 4, 0, 4),
    "lines": lambda: list(m.lines()),
    "big-read": lambda: (m.seek(0), m.read()),
    "big-slice": lambda: m[:],
    "big-bytes": lambda: bytes(m),
    "big-readline": lambda: (m.seek(0), m.readline()),
    "big-find": lambda: m.find(b"absent"),
    "big-write": lambda: (m.seek(0), m.write(b"x" * size)),
    "big-move": lambda: m.move(0, P, size - P),
}
try:
    calls[access]()
except OSError as exc:
    assert "truncated while mapped" in str(exc), exc
    print("OSError")
else:
    print("no error")
# The bytes that still exist read back (a big store may have changed them before it hit the
# vanished part, as the core documents); the map closes cleanly.
head = m[:10]
assert access in ("big-write", "big-move") or head == data[:10]
m.close()
"""

GUARDED = ["item", "slice", "stride", "read", "read_byte", "readline", "find", "rfind",
           "contains", "iter", "count", "setitem", "setslice", "write", "write_byte", "move",
           "lines", "big-read", "big-slice", "big-bytes", "big-readline", "big-find",
           "big-write", "big-move"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fault guard is Linux-only")
@pytest.mark.parametrize("access", GUARDED)
def test_every_changed_path_reports_a_truncated_file(tmp_path, access):
    out = run_child(TRUNCATED, tmp_path / "data.bin", access, timeout=60)
    assert out.strip() == "OSError"
