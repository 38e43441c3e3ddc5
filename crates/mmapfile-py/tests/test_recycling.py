"""readline() and lines() refill a line's `bytes` in place once nothing but the map holds it
(as zip() and enumerate() do with their tuples). No Python code may ever see a line change:
these tests keep lines, hash them, use them as keys and drop them in every order, and check
each against what io.BytesIO gives for the same bytes."""

import gc
import io
import random
import sys

import pytest

import mmapfile


def anon(data):
    m = mmapfile.mmap(-1, len(data))
    m[:] = data
    return m


def mixed_lines(seed, count):
    """Lines of 0 to 5000 bytes plus the newline: shorter and longer than the room the first
    recycled object was made with, and past the longest line that is recycled at all."""
    rng = random.Random(seed)
    lengths = [rng.choice([0, 1, 2, 10, 137, 255, 256, 300, 1000, 4095, 4096, 5000]) for _ in range(count)]
    return [bytes([65 + i % 26]) * n + b"\n" for i, n in enumerate(lengths)]


def readline_iter(m):
    m.seek(0)
    return iter(m.readline, b"")


SOURCES = {"lines": lambda m: m.lines(), "readline": readline_iter}


@pytest.mark.parametrize("source", SOURCES)
def test_each_line_is_right_while_earlier_ones_are_dropped(source):
    want = mixed_lines(1, 3000)
    with anon(b"".join(want)) as m:
        count = 0
        for got, expected in zip(SOURCES[source](m), want):
            assert got == expected and len(got) == len(expected) and type(got) is bytes
            assert hash(got) == hash(bytes(expected))
            count += 1
        assert count == len(want)


@pytest.mark.parametrize("source", SOURCES)
def test_kept_lines_never_change(source):
    want = mixed_lines(2, 3000)
    rng = random.Random(3)
    with anon(b"".join(want)) as m:
        kept = {}
        for index, line in enumerate(SOURCES[source](m)):
            # Keep some lines (in a dict, as keys, with their hash computed), drop others.
            if rng.random() < 0.3:
                kept[line] = index
            if kept and rng.random() < 0.2:
                del kept[rng.choice(list(kept))]
        for line, index in kept.items():
            assert line == want[index]
            assert hash(line) == hash(bytes(want[index]))


@pytest.mark.parametrize("source", SOURCES)
def test_a_reused_line_does_not_keep_the_hash_of_its_old_value(source):
    want = [b"%06d\n" % i for i in range(5000)]
    index = {bytes(line): i for i, line in enumerate(want)}
    with anon(b"".join(want)) as m:
        for i, line in enumerate(SOURCES[source](m)):
            # The lookup hashes the line (caching the hash in the object); a stale hash left
            # from an earlier line would send it to the wrong bucket.
            assert index[line] == i


@pytest.mark.parametrize("source", SOURCES)
def test_lines_held_by_the_caller_are_distinct_objects(source):
    want = mixed_lines(4, 500)
    with anon(b"".join(want)) as m:
        got = list(SOURCES[source](m))
        assert got == want
        multi_byte = [line for line in got if len(line) > 1]
        assert len({id(line) for line in multi_byte}) == len(multi_byte)


@pytest.mark.parametrize("source", SOURCES)
def test_lines_let_go_of_are_reused(source):
    # What the recycling is for: a loop that drops each line reuses a handful of objects.
    # The loop keeps a line-sized object alive for each line, so freed memory is taken by
    # those: without recycling, every line would be a new object at a new address.
    want = [b"x" * 100 + b"\n"] * 2000
    with anon(b"".join(want)) as m:
        ids, decoys = set(), []
        for line in SOURCES[source](m):
            ids.add(id(line))
            decoys.append(bytes(len(line)))
        assert len(ids) <= 4


def test_sizes_stay_consistent():
    # sys.getsizeof counts the current length; a recycled object never reports less room
    # than its value needs.
    want = mixed_lines(5, 400)
    with anon(b"".join(want)) as m:
        for got, expected in zip(m.lines(), want):
            assert sys.getsizeof(got) >= sys.getsizeof(expected)


def test_lines_survive_the_map_being_closed_and_collected():
    want = mixed_lines(6, 200)
    m = anon(b"".join(want))
    it = m.lines()
    first, second = next(it), next(it)
    m.close()
    del m, it
    gc.collect()
    assert [first, second] == want[:2]


def test_readline_lines_survive_close():
    want = mixed_lines(7, 50)
    m = anon(b"".join(want))
    got = [m.readline() for _ in range(3)]
    m.close()
    del m
    gc.collect()
    assert got == want[:3]


def test_bytesio_agrees_on_every_line_of_a_random_map():
    rng = random.Random(8)
    data = bytes(rng.choice(b"ab\n") for _ in range(200000))
    with anon(data) as m:
        for got, expected in zip(m.lines(), io.BytesIO(data)):
            assert got == expected


@pytest.mark.parametrize("seed", range(6))
def test_lines_across_chunk_edges_match_bytesio(seed):
    # Line lengths around the 64 KiB read-ahead chunk and the 64 KiB GIL-release threshold,
    # in random order, with or without a newline at the very end.
    rng = random.Random(seed)
    sizes = [1, 2, 137, 4095, 65534, 65535, 65536, 65537, 131071, 131072, 200001]
    lines = [bytes([97 + i % 26]) * (rng.choice(sizes) - 1) + b"\n" for i in range(rng.randrange(1, 40))]
    data = b"".join(lines)
    if seed % 2:
        data = data[:-1]
    with anon(data) as m:
        assert list(m.lines()) == io.BytesIO(data).readlines()
        assert list(iter(m.readline, b"")) == io.BytesIO(data).readlines()


@pytest.mark.parametrize("source", SOURCES)
def test_the_ring_lets_go_of_kept_lines_at_once(source):
    # The ring's reference to a line it moved on from (or dropped on close()) goes at once,
    # not at some later call of the module: a loop of raw slots alone must not hold every
    # line it ever made.
    m = anon(b"".join(b"%05d\n" % i for i in range(100)))
    lines = SOURCES[source](m)
    kept = [next(lines) for _ in range(99)]
    first, last = kept[0], kept[-1]
    del kept
    assert sys.getrefcount(first) == 2
    m.close()
    assert sys.getrefcount(last) == (2 if source == "readline" else 3)
