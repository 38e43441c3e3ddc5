"""mmapfile's extras over CPython's mmap: count, lines() and finditer, checked against what
Python computes on the same bytes."""

import io
import re

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
    [LOREM, b"", b"no newline", b"\n\n\n", b"a\r\nb\rc\n", b"".join(b"%d\n" % i for i in range(5000))],
)
def test_lines_are_the_lines_of_the_map(data):
    m = anon(data) if data else mmapfile.mmap(-1, 1)
    if not data:
        m.resize(0)
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
