"""mmapfile's extras over CPython's mmap: count, lines() and finditer, checked against what
Python computes on the same bytes."""

import io
import re
import subprocess
import sys

import pytest

import mmapfile
from conftest import EXAMPLES

LOREM = (EXAMPLES / "lorem.txt").read_bytes()


def anon(data):
    m = mmapfile.mmap(-1, len(data))
    m[:] = data
    return m


@pytest.mark.parametrize("sub", [b"e", b"ta", b"", b"Lorem", b"absent", b"\n"])
@pytest.mark.parametrize("bounds", [(), (10,), (10, 200), (-50,), (-50, -10), (300, 10), (0, 10**6)])
def test_count_is_bytes_count(sub, bounds):
    with anon(LOREM) as m:
        m.seek(100)  # the position does not matter, unlike find
        assert m.count(sub, *bounds) == LOREM.count(sub, *bounds)
        assert m.tell() == 100


def test_count_overlaps_like_bytes():
    with anon(b"aaaa-aa-") as m:
        assert m.count(b"aa") == 3
        assert m.count(bytearray(b"a")) == 6


@pytest.mark.parametrize(
    "data",
    # (No empty map: as in CPython, neither mmap(-1, 0) nor resize(0) makes one.)
    [LOREM, b"no newline", b"\n\n\n", b"a\r\nb\rc\n", b"".join(b"%d\n" % i for i in range(5000))],
)
def test_lines_are_the_lines_of_the_map(data):
    m = anon(data)
    with m:
        m.seek(len(data) // 2)
        assert list(m.lines()) == io.BytesIO(data).readlines()
        assert m.tell() == len(data) // 2


def test_lines_of_a_closed_map():
    m = anon(b"a\n" * 5000)
    lines = m.lines()
    assert next(lines) == b"a\n"
    m.close()
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        list(lines)
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        m.lines()


@pytest.mark.parametrize(
    "pattern", [rb"[0-9]+", rb"(?i)nulla", rb"\bv\w+", rb"(?s)[.]\s+\w", rb"e[gs]"]
)
def test_finditer_matches_python_re(pattern):
    data = LOREM + b"".join(b"%d " % i for i in range(3000))
    with anon(data) as m:
        ours = [(x.span(), x.group()) for x in m.finditer(pattern)]
        python = [(x.span(), x.group()) for x in re.finditer(pattern.replace(b"(?s)", b""), data, re.S)]
        assert ours == python
        assert all(x.start() == s and x.end() == e for x, ((s, e), _) in zip(m.finditer(pattern), ours))


def test_finditer_guide_pattern_finds_the_guides_sentences():
    with anon(LOREM) as m:
        found = [x.group() for x in m.finditer(r"(?si)(\.\W+)?([^.]?nulla[^.]*?\.)")]
    python = [x.group() for x in re.finditer(rb"(\.\W+)?([^.]?nulla[^.]*?\.)", LOREM, re.S | re.I)]
    assert found == python and len(found) == 2


def test_finditer_errors():
    with anon(LOREM) as m:
        with pytest.raises(ValueError):
            m.finditer(b"(unclosed")
        with pytest.raises(TypeError):
            m.finditer(42)
        assert repr(next(m.finditer(b"ipsum"))) == "<mmapfile.Match span=(6, 11), match=b'ipsum'>"
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        m.finditer(b"a")


# ----- lines() and readline() fast paths: batches, windows, long lines -----

# Lines of many lengths: short ones, ones that straddle the 64 KiB chunks lines() reads ahead,
# lines of exactly a chunk and one byte either side of it, and lines longer than the 64 KiB
# the fast paths look at with the GIL held.
MIXED = b"".join(
    [b"%d\n" % i for i in range(700)]
    + [b"x" * 40000 + b"\n", b"y" * 70000 + b"\n", b"\n", b"z" * 32767 + b"\n", b"w" * 32768 + b"\n"]
    + [b"v" * 65535 + b"\n", b"u" * 65534 + b"\n", b"s" * 65536 + b"\n", b"r\n"]
    + [b"%d\n" % i for i in range(300)]
    + [b"t" * 100000]
)


@pytest.mark.parametrize(
    "data",
    [MIXED, MIXED[:-100000], b"x" * 200000, b"\n" * 70000, b"a" * 65536 + b"\n" + b"b" * 65535],
)
def test_lines_and_readline_across_batches_windows_and_long_lines(data):
    with anon(data) as m:
        lines = list(m.lines())
        assert lines == io.BytesIO(data).readlines()
        assert all(type(line) is bytes for line in lines)
        got = []
        while line := m.readline():
            got.append(line)
        assert got == lines
        assert m.tell() == len(data) and m.readline() == b""


def test_readline_after_the_map_shrank():
    m = mmapfile.mmap(-1, 100)
    with m:
        m[:] = b"ab\n" * 33 + b"c"
        m.seek(90)
        m.resize(50)
        # The cursor was clamped to the new end: nothing is left to read.
        assert m.readline() == b""
        m.seek(48)
        assert m.readline() == b"ab"  # the map now ends after b"...\nab"


def test_readline_of_a_closed_map():
    m = anon(b"a\nb\n")
    m.close()
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        m.readline()


def test_lines_sees_a_close_even_when_the_batch_held_every_line():
    # The first chunk read ahead holds both lines; the next line handed out sees the close.
    m = anon(b"a\nb\n")
    lines = m.lines()
    assert next(lines) == b"a\n"
    m.close()
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        list(lines)


def test_lines_shows_changes_from_the_next_chunk():
    # 180 KB of lines: the iterator reads ahead 64 KiB at a time.
    data = b"".join(b"%05d\n" % i for i in range(30000))
    with anon(data) as m:
        lines = m.lines()
        first = next(lines)
        m[:] = data.replace(b"0", b"8")
        rest = list(lines)
        assert first == b"00000\n"
        assert len(rest) == 29999
        # Lines of the first chunk were copied before the change, the last ones after it.
        assert rest[0] == b"00001\n" and rest[-1] == b"29999\n".replace(b"0", b"8")


@pytest.mark.parametrize("pad", [0, 40000])
def test_lines_while_another_thread_resizes_and_closes(pad):
    import threading

    # pad=40000: every line is longer than the window, so each is read with the GIL released.
    data = b"".join(b"line %d%s\n" % (i, b"." * pad) for i in range(200000 if pad == 0 else 200))
    for _ in range(5):
        m = anon(data)
        errors = []

        def change():
            try:
                m.resize(len(data) // 2)
                m.close()
            except BufferError as exc:  # pragma: no cover - no buffers are exported here
                errors.append(exc)

        other = threading.Thread(target=change)
        lines = m.lines()
        other.start()
        seen = []
        try:
            for line in lines:
                seen.append(line)
        except ValueError as exc:
            assert "mmap closed or invalid" in str(exc)
        other.join()
        # Whole lines of the data, in order; only the last one may be cut, where the resize
        # put the new end of the map.
        assert b"".join(seen) == data[: len(b"".join(seen))]
        assert all(line.endswith(b"\n") for line in seen[:-1])
        assert all(line.startswith(b"line ") for line in seen)
        assert errors == [] and m.closed


def test_lines_of_a_truncated_file_raise_oserror(tmp_path):
    from test_sigbus_guard import PRELUDE, run

    script = PRELUDE + "\n".join(
        [
            "m = mmapfile.mmap(f.fileno(), 0, access=mmapfile.ACCESS_READ)",
            "truncate()",
            "assert expect_oserror('lines', lambda: list(m.lines()))",
            "assert expect_oserror('lines again', lambda: list(m.lines()))",
            "survivor(m)",
            "print('ALIVE lines')",
        ]
    )
    done = run(script, tmp_path, "fd")
    assert done.returncode == 0 and "ALIVE lines" in done.stdout, done.stdout + done.stderr


LINES_AFTER_A_TRUNCATION = """
import os, sys
import mmapfile

path = sys.argv[1]
lines = [b"%099d\\n" % i for i in range(20000)]  # 2 MB of 100-byte lines
with open(path, "wb") as f:
    f.write(b"".join(lines))
f = open(path, "rb")
m = mmapfile.mmap(f.fileno(), 0, access=mmapfile.ACCESS_READ)
it = m.lines()
got = [next(it)]  # the first chunk is read before the file shrinks, the next ones after
os.truncate(path, 100 * 1024)
errors = 0
while errors < 4:
    try:
        got.append(next(it))
    except OSError as exc:
        assert "truncated while mapped" in str(exc), exc
        errors += 1
# Every line handed out is a whole line of the file as it was: none is made of the zeros
# the guard maps over vanished pages.
assert got == lines[: len(got)], len(got)
m.close()
print("ALIVE", len(got))
"""


def test_lines_go_on_raising_oserror_after_a_truncation(tmp_path):
    # The chunk that failed is not handed out, and asking again fails again (no stale line
    # ends, no panic).
    done = subprocess.run(
        [sys.executable, "-c", LINES_AFTER_A_TRUNCATION, str(tmp_path / "data.bin")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "ALIVE" in done.stdout, done.stdout + done.stderr


def test_lines_through_dunder_next_and_mixed_with_readline():
    data = b"".join(b"line %d\n" % i for i in range(30000))
    want = io.BytesIO(data).readlines()
    with anon(data) as m:
        it = m.lines()
        assert it.__next__() == want[0] and next(it) == want[1]
        assert [a + b for a, b in zip(it, it)][:3] == [want[2] + want[3], want[4] + want[5], want[6] + want[7]]
        # lines() ignores and keeps the cursor; readline() goes on from it meanwhile.
        m.seek(0)
        fresh = m.lines()
        mixed = []
        for line in fresh:
            mixed.append((line, m.readline()))
        assert [line for line, _ in mixed] == want
        assert [other for _, other in mixed] == want
        with pytest.raises(StopIteration):
            it.__next__()


def test_finditer_long_match_and_group_is_a_copy():
    data = b"-" + b"a" * 100000 + b"-" + b"aa"
    with anon(data) as m:
        found = list(m.finditer(rb"a+"))
        assert [x.span() for x in found] == [(1, 100001), (100002, 100004)]
        assert found[0].group() == b"a" * 100000
        m[1:3] = b"bb"
        assert found[0].group() == b"a" * 100000  # a snapshot, not a view of the map


def test_readline_is_a_method_descriptor_like_cpythons():
    import mmap as builtin

    def message(call):
        with pytest.raises(TypeError) as info:
            call()
        return str(info.value)

    ours, theirs = mmapfile.mmap(-1, 4), builtin.mmap(-1, 4)
    assert message(lambda: ours.readline(1)) == message(lambda: theirs.readline(1))
    assert message(lambda: ours.readline(x=1)) == message(lambda: theirs.readline(x=1))
    wrong_self = message(lambda: mmapfile.mmap.readline(b"x"))
    assert wrong_self == message(lambda: builtin.mmap.readline(b"x"))

    class Sub(mmapfile.mmap):
        pass

    with Sub(-1, 3) as sub:
        sub[:] = b"a\nb"
        assert (sub.readline(), sub.readline(), sub.readline()) == (b"a\n", b"b", b"")
