"""Threads: a search running with the GIL released must never see its memory unmapped or
moved. close() and resize() from another thread wait for it (or, with exported buffers,
raise BufferError); nothing crashes. Each scenario runs in a child process so that a crash
would show as a failed exit status instead of killing pytest."""

import subprocess
import sys
import textwrap

import pytest

SIZE = 32 * 1024 * 1024  # large enough that find runs detached for a good while

SCRIPT = textwrap.dedent(
    """
    import sys, threading
    import mmapfile

    SIZE = {size}
    ROUNDS = {rounds}
    action = sys.argv[1]
    outcomes = set()
    for _ in range(ROUNDS):
        m = mmapfile.mmap(-1, SIZE)
        m[SIZE - 3:] = b"end"
        started = threading.Event()
        results = []

        def search():
            started.set()
            try:
                for _ in range(4):
                    results.append(m.find(b"end"))
                    results.append(m.rfind(b"missing", 0))
            except ValueError as exc:
                # Closed before this call took the lock: CPython's message, no crash.
                assert str(exc) == "mmap closed or invalid", exc
                results.append("closed")

        worker = threading.Thread(target=search)
        worker.start()
        started.wait()
        if action == "close":
            m.close()
            assert m.closed
        else:
            m.resize(SIZE // 2)
            assert len(m) == SIZE // 2
        worker.join()
        for r in results:
            # Each search saw either the whole map or the finished resize, never a torn one.
            assert r in (SIZE - 3, -1, "closed"), r
        outcomes.update(map(str, results))
        if not m.closed:
            m.close()
    print("OK", sorted(outcomes))
    """
)


@pytest.mark.parametrize("action", ["close", "resize"])
def test_find_while_another_thread_closes_or_resizes(action):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(size=SIZE, rounds=10), action],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK"), done.stdout + done.stderr


def test_close_and_resize_refuse_while_a_buffer_is_exported_in_another_thread():
    import threading

    import mmapfile

    m = mmapfile.mmap(-1, 1 << 20)
    view = memoryview(m)
    errors = []

    def other():
        for call in (m.close, lambda: m.resize(10)):
            try:
                call()
            except BufferError as exc:
                errors.append(str(exc))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert errors == [
        "cannot close exported pointers exist",
        "mmap can't resize with extant buffers exported.",
    ]
    view[0] = 7  # the memory is still mapped
    assert m[0] == 7
    view.release()
    m.close()
