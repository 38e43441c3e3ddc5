"""Cases where mmapfile once differed from the builtin ``mmap`` (issue 12), each checked by
running the same code on both modules of the running interpreter and comparing the outcome:
the result, or the exception's type, message and errno.
"""

import errno
import mmap as builtin
import os
import socket
import sys

import pytest

import mmapfile

PAGE = builtin.PAGESIZE
TEXT = b"abc\ndefghijk"


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return ("raise", type(exc), str(exc), getattr(exc, "errno", None))


def compare(scenario, *args):
    """scenario(module, *args) on both modules: the outcomes must be equal."""
    expected = outcome(scenario, builtin, *args)
    got = outcome(scenario, mmapfile, *args)
    assert got == expected, f"builtin mmap: {expected!r}, mmapfile: {got!r}"
    return expected


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "data.bin"
    p.write_bytes(TEXT)
    return p


def on_file(path, module, steps, **kwargs):
    """Maps a fresh copy of the file with `module` and returns every step's outcome."""
    path.write_bytes(TEXT)
    with open(path, "r+b") as f, module.mmap(f.fileno(), 0, **kwargs) as m:
        return [outcome(step, m) for step in steps]


# ----- the cursor after a shrinking resize -----

def test_cursor_stays_past_the_end_after_a_shrinking_resize(path):
    steps = [
        lambda m: m.readline(), lambda m: m.resize(1), lambda m: m.tell(), lambda m: m.read(),
        lambda m: m.read(3), lambda m: m.readline(), lambda m: m.read_byte(),
        lambda m: m.write(b""), lambda m: m.write_byte(1), lambda m: m.find(b""),
        lambda m: m.rfind(b""), lambda m: repr(m), lambda m: m.seek(0, 1),
        lambda m: m.seek(-1, 1), lambda m: m.tell(), lambda m: m.resize(9),
        lambda m: m.read(1), lambda m: m.tell(), lambda m: m[:],
    ]
    compare(lambda module: on_file(path, module, steps))


def test_a_shrink_then_a_seek_from_the_cursor(path):
    # (seek() returns the position from 3.13 on; mmapfile does so on every version.)
    steps = [lambda m: [m.seek(8)][:0], lambda m: m.resize(2), lambda m: [m.seek(-7, 1)][:0],
             lambda m: m.tell(), lambda m: m.read()]
    compare(lambda module: on_file(path, module, steps))


def test_anonymous_memory_keeps_the_cursor_too():
    def scenario(module):
        m = module.mmap(-1, 100, flags=module.MAP_PRIVATE)
        m.seek(50)
        m.resize(10)
        return m.tell(), m.read(), m.readline(), repr(m)
    compare(scenario)


# ----- exception types -----

def test_item_value_too_big_for_ssize_t(path):
    compare(lambda module: on_file(path, module, [lambda m: m.__setitem__(0, 2**70)]))


@pytest.mark.parametrize("kind", ["pipe", "socket", "directory"])
@pytest.mark.parametrize("access", [None, "read", "copy"])
def test_mapping_what_has_no_pages(tmp_path, kind, access):
    if kind == "pipe":
        r, w = os.pipe()
        fds, fd = [r, w], r
    elif kind == "socket":
        sock = socket.socket()
        fds, fd = [], sock.fileno()
    else:
        fd = os.open(tmp_path, os.O_RDONLY)
        fds = [fd]
    kwargs = {} if access is None else {"access": getattr(builtin, f"ACCESS_{access.upper()}")}
    try:
        if kind == "socket" and access == "read":
            # Intended difference [socket-read]: the kernel maps a TCP socket read-only, but
            # every access to it is SIGBUS; mmapfile refuses as for the other kinds.
            with pytest.raises(OSError) as info:
                mmapfile.mmap(fd, 10, **kwargs)
            assert info.value.errno == errno.ENODEV
        else:
            compare(lambda module: module.mmap(fd, 10, **kwargs))
    finally:
        for each in fds:
            os.close(each)
        if kind == "socket":
            sock.close()


@pytest.mark.parametrize("flags", [0, 3, 4, 15])
def test_flags_without_a_map_type(path, flags):
    with open(path, "r+b") as f:
        compare(lambda module: module.mmap(f.fileno(), 10, flags=flags).close())
    compare(lambda module: module.mmap(-1, 10, flags=flags).close())


def test_madvise_unknown_advice_with_no_length(path):
    steps = [lambda m: m.madvise(9999, 0, 0), lambda m: m.madvise(9999),
             lambda m: m.madvise(builtin.MADV_NORMAL, 0, 0)]
    compare(lambda module: on_file(path, module, steps))


def test_iterating_a_closed_map_fails_at_the_first_next():
    def scenario(module):
        m = module.mmap(-1, 4)
        m.close()
        it = iter(m)  # no error yet
        return outcome(next, it)
    compare(scenario)


def test_an_iterator_made_before_close():
    def scenario(module):
        m = module.mmap(-1, 4)
        it = iter(m)
        first = next(it)
        m.close()
        return first, outcome(next, it)
    compare(scenario)


def test_index_whose_value_shrinks_the_map_is_an_index_error():
    # The builtin writes past the shrunken map here (it crashes), so only mmapfile runs: its
    # answer is the builtin's own message for an index past the end.
    m = mmapfile.mmap(-1, 2 * PAGE)

    class Evil:
        def __index__(self):
            m.resize(10)
            return 1

    with pytest.raises(IndexError, match=r"^mmap index out of range$"):
        m[5000] = Evil()
    assert len(m) == 10


# ----- messages -----

BIG = 2**70


@pytest.mark.parametrize("call", [
    lambda m: m.read(BIG), lambda m: m.read(-BIG), lambda m: m.seek(BIG),
    lambda m: m.seek(0, 2**40), lambda m: m.seek(0, -2**40), lambda m: m.seek(-BIG, 1),
    lambda m: m.find(b"a", BIG), lambda m: m.find(b"a", 0, -BIG), lambda m: m.rfind(b"a", BIG),
    lambda m: m.flush(BIG), lambda m: m.flush(0, BIG), lambda m: m.move(BIG, 0, 0),
    lambda m: m.move(0, BIG, 0), lambda m: m.move(0, 0, -BIG), lambda m: m.resize(BIG),
    lambda m: m.madvise(2**40), lambda m: m.madvise(-2**40), lambda m: m.madvise(0, BIG),
    lambda m: m.write_byte(BIG), lambda m: m.write_byte(2**40), lambda m: m.write_byte(-1),
    lambda m: m.read("x"), lambda m: m.read(1.5), lambda m: m.read(b"1"),
    lambda m: m.seek(1.5), lambda m: m.seek("x"), lambda m: m.seek(0, 1.0),
    lambda m: m.write_byte("a"), lambda m: m.write_byte(1.0), lambda m: m.flush("x"),
    lambda m: m.find(b"a", None), lambda m: m.madvise(1.0), lambda m: m[BIG],
    lambda m: m.__setitem__(BIG, 1), lambda m: m.__setitem__(0, -BIG),
], ids=lambda call: str(call.__code__.co_firstlineno))
def test_conversion_messages(path, call):
    compare(lambda module: on_file(path, module, [call]))


@pytest.mark.parametrize("args, kwargs", [
    ((), {}),
    ((-1,), {}),
    ((-1, 10, 1, 3, 0, 0, 0), {}),
    ((-1, 10), {"bad": 1}),
    ((-1, 10), {"length": 1}),
    ((-1, 10), {"tagname": "x"}),
    ((2**70, 10), {}),
    ((2**40, 10), {}),
    (("x", 10), {}),
    ((1.5, 10), {}),
    ((-1, 2**70), {}),
    ((-1, "x"), {}),
    ((-1, 1.5), {}),
    ((-1, 10, 2**40), {}),
    ((-1, 10), {"prot": 2**40}),
    ((-1, 10), {"prot": -2**40}),
    ((-1, 10), {"access": 2**40}),
    ((-1, 10), {"offset": 2**70}),
    ((-1, 10), {"offset": "x"}),
    ((-1, 10), {"flags": None}),
], ids=repr)
def test_constructor_argument_messages(args, kwargs):
    compare(lambda module: module.mmap(*args, **kwargs))


@pytest.mark.parametrize("name", ["read", "find", "flush", "seek", "write", "move", "resize",
                                  "madvise", "write_byte", "rfind", "read_byte"])
def test_keywords_are_refused_before_the_map_is_checked(name):
    def scenario(module):
        m = module.mmap(-1, 10)
        m.close()
        try:
            getattr(m, name)(x=1)
        except TypeError as exc:
            # CPython names the method "find()" or "mmap.find()" depending on the call
            # path; mmapfile always "mmap.find()" (intended difference
            # [bound-method-keywords]): compared without the class name.
            raise TypeError(str(exc).replace("mmap.", "")) from None
    compare(scenario)


# ----- errno and repr -----

def test_closed_descriptor_with_length_0(tmp_path):
    fd = os.open(tmp_path / "gone", os.O_CREAT | os.O_RDWR)
    os.close(fd)
    compare(lambda module: module.mmap(fd, 0))
    compare(lambda module: module.mmap(fd, 10))


@pytest.mark.parametrize("flags", ["MAP_PRIVATE", "MAP_SHARED"])
@pytest.mark.parametrize("size", [2**47, 2**62, 2**63 - 1, 0])
def test_anonymous_resize_the_address_space_cannot_hold(flags, size):
    def scenario(module):
        m = module.mmap(-1, 10, flags=getattr(module, flags))
        return outcome(m.resize, size), len(m)
    compare(scenario)


def test_resize_to_0_fails_as_in_cpython_but_keeps_the_file(path):
    # CPython truncates the file, then mremap fails: the same error here, and the file and
    # the map are left whole (CPython's map then points past the end of its file).
    with open(path, "r+b") as f, mmapfile.mmap(f.fileno(), 0) as m:
        with pytest.raises(OSError) as info:
            m.resize(0)
        assert info.value.errno == errno.EINVAL
        assert len(m) == len(TEXT) and m[:] == TEXT
    assert path.read_bytes() == TEXT


def test_anonymous_map_shows_its_offset_in_repr():
    compare(lambda module: repr(module.mmap(-1, 10, offset=PAGE)))
    compare(lambda module: repr(module.mmap(-1, 10, offset=1)))


def test_length_too_big_for_the_address_space(path):
    compare(lambda module: module.mmap(-1, 2**62, flags=0))
    compare(lambda module: module.mmap(-1, 2**63 - 1))


def test_seek_returns_the_position_as_in_313(path):
    with open(path, "r+b") as f, mmapfile.mmap(f.fileno(), 0) as m:
        assert m.seek(3) == 3
    if sys.version_info >= (3, 13):
        compare(lambda module: module.mmap(-1, 10).seek(3))


# ----- CPython 3.15's additions, offered on every version -----

def test_ms_constants_are_the_systems():
    assert (mmapfile.MS_SYNC, mmapfile.MS_ASYNC, mmapfile.MS_INVALIDATE) == (4, 1, 2)
    for name in ("MS_SYNC", "MS_ASYNC", "MS_INVALIDATE"):
        if hasattr(builtin, name):
            assert getattr(mmapfile, name) == getattr(builtin, name)


def test_flush_flags(path):
    with open(path, "r+b") as f, mmapfile.mmap(f.fileno(), 0) as m:
        m[0:3] = b"XYZ"
        assert m.flush(flags=mmapfile.MS_ASYNC) is None
        assert m.flush(0, len(m), flags=mmapfile.MS_SYNC | mmapfile.MS_INVALIDATE) is None
        assert m.flush(flags=mmapfile.MS_SYNC) is None
        assert path.read_bytes()[:3] == b"XYZ"
        # The kernel refuses MS_SYNC with MS_ASYNC.
        with pytest.raises(OSError) as info:
            m.flush(flags=mmapfile.MS_SYNC | mmapfile.MS_ASYNC)
        assert info.value.errno == errno.EINVAL
        with pytest.raises(TypeError, match="integer"):  # each version's `i` message
            m.flush(flags="x")
        with pytest.raises(TypeError, match="takes no keyword arguments"):
            m.flush(flags=mmapfile.MS_SYNC, other=1)
        with pytest.raises(ValueError, match="^flush values out of range$"):
            m.flush(0, len(m) + 1, flags=mmapfile.MS_ASYNC)
    with open(path, "rb") as f, mmapfile.mmap(f.fileno(), 0, access=mmapfile.ACCESS_READ) as m:
        # Nothing to write back: no msync at all, as without flags.
        assert m.flush(flags=mmapfile.MS_SYNC | mmapfile.MS_ASYNC) is None


def kernel_names_maps():
    try:
        with mmapfile.mmap(-1, PAGE, flags=mmapfile.MAP_PRIVATE) as m:
            m.set_name("probe")
        return True
    except OSError:
        return False


def test_set_name_of_shared_anonymous_memory_is_refused():
    # Intended difference [set-name-shared]: shared anonymous memory is a memfd here.
    with mmapfile.mmap(-1, PAGE) as m:
        with pytest.raises(OSError, match="memfd"):
            m.set_name("shared")


def test_set_name_of_anonymous_memory():
    with mmapfile.mmap(-1, 3 * PAGE, flags=mmapfile.MAP_PRIVATE) as m:
        if kernel_names_maps():
            m.set_name("test_set_name")
            with open("/proc/self/maps") as maps:
                assert "[anon:cpython:mmap:test_set_name]" in maps.read()
        else:
            with pytest.raises(OSError, match="PR_SET_VMA_ANON_NAME"):
                m.set_name("test_set_name")


def test_set_name_refusals(path):
    m = mmapfile.mmap(-1, PAGE)
    with pytest.raises(TypeError, match=r"^set_name\(\) argument must be str, not int$"):
        m.set_name(1)
    with pytest.raises(ValueError, match="^embedded null character$"):
        m.set_name("a\0b")
    with pytest.raises(ValueError, match="^name is too long$"):
        m.set_name("x" * 67)
    with pytest.raises((ValueError, OSError)):
        m.set_name("[bracket]")
    m.close()
    with pytest.raises(ValueError, match="^mmap closed or invalid$"):
        m.set_name("x")
    with open(path, "r+b") as f, mmapfile.mmap(f.fileno(), 0) as fm:
        with pytest.raises(ValueError, match="non-anonymous"):
            fm.set_name("x")


@pytest.mark.skipif(sys.version_info >= (3, 15), reason="3.15 changed size() without a descriptor")
def test_size_without_a_descriptor_before_315(path):
    compare(lambda module: module.mmap(-1, 10).size())



# ----- the slots' fast paths (exact ints, simple slices) against their general paths -----

BIG = 2**70
SLICE_BOUNDS = [None, 0, 3, -3, 12, 13, -13, -100, 100, 2**62, -(2**62), 2**63 - 1, -(2**63),
                BIG, -BIG, True, False]


@pytest.mark.parametrize("start", SLICE_BOUNDS)
@pytest.mark.parametrize("stop", SLICE_BOUNDS)
def test_slice_bounds_read(path, start, stop):
    compare(lambda module: on_file(path, module, [lambda m: m[start:stop],
                                                  lambda m: m[slice(start, stop, None)]]))


@pytest.mark.parametrize("start", SLICE_BOUNDS)
@pytest.mark.parametrize("stop", [None, 5, -5, BIG, -BIG])
@pytest.mark.parametrize("value", [b"", b"XY", b"0123456789ab", bytearray(b"XY"), "XY", 5])
def test_slice_bounds_store(path, start, stop, value):
    def store(m):
        m[start:stop] = value
        return m[:]
    compare(lambda module: on_file(path, module, [store]))


@pytest.mark.parametrize("index", [0, 11, 12, -1, -12, -13, 2**63 - 1, -(2**63), BIG, -BIG,
                                   True, 3.0, "1", None])
@pytest.mark.parametrize("value", [0, 255, 256, -1, BIG, True, 3.0, b"a", None])
def test_item_store_and_load(path, index, value):
    def store(m):
        m[index] = value
        return m[:]
    compare(lambda module: on_file(path, module, [store, lambda m: m[index]]))
    compare(lambda module: on_file(path, module, [store], access=module.ACCESS_READ))


def test_iteration_sees_writes_closes_and_shrinks(path):
    def scenario(module):
        with open(path, "r+b") as f:
            m = module.mmap(f.fileno(), 0)
            it = iter(m)
            got = [next(it), next(it)]
            m[2] = ord("Z")
            got.append(next(it))
            m.resize(4)
            got += list(it)
            got.append(outcome(next, it))
            it = iter(m)
            next(it)
            m.close()
            got.append(outcome(next, it))
            return got
    path.write_bytes(TEXT)
    compare(scenario)


# ----- iterators end for good, as CPython's sequence iterators do -----

def test_an_ended_iterator_stays_ended_when_the_map_grows_again():
    # iter(m) is CPython's sequence iterator, reversed(m) its reversed iterator: the first
    # IndexError ends them for good (and drops the map); reversed(m) ends on any error.
    def scenario(module):
        got = []
        m = module.mmap(-1, 4)
        m[:] = b"abcd"
        it = iter(m)
        got.append(list(it))
        m.resize(8)
        got.append(outcome(next, it))
        it = iter(m)
        got += [next(it), next(it)]
        m.resize(1)
        got.append(outcome(next, it))
        m.resize(8)
        m[:] = b"ABCDEFGH"
        got.append(outcome(next, it))
        it = reversed(m)
        got.append(next(it))
        m.resize(2)
        got += [outcome(next, it) for _ in range(8)]
        m.resize(8)
        it = reversed(m)
        next(it)
        m.close()
        got += [outcome(next, it), outcome(next, it)]
        return got
    compare(scenario)


def test_an_ended_iterator_lets_go_of_its_map():
    import gc
    import weakref

    def scenario(module):
        m = module.mmap(-1, 4)
        it = iter(m)
        list(it)
        ref = weakref.ref(m)
        del m
        gc.collect()
        return ref() is None, outcome(next, it)
    compare(scenario)


def test_iterators_hint_their_length():
    # list(it) sizes its list from the hint, as with CPython's sequence iterators.
    import operator

    def scenario(module):
        got = []
        for make in (iter, reversed):
            m = module.mmap(-1, 6)
            it = make(m)
            hint = lambda: outcome(operator.length_hint, it)  # noqa: E731
            got.append(hint())
            next(it)
            got.append(hint())
            m.resize(3)
            got.append(hint())
            m.resize(10)
            got.append(hint())
            m.close()
            got.append(hint())
            m = module.mmap(-1, 2)
            it = make(m)
            list(it)
            got.append(hint())
        return got
    compare(scenario)


def test_iterators_copy_reduce_and_set_their_state():
    # copy.copy(it) and it.__setstate__(i) as with CPython's sequence iterators: the reduce
    # value names iter or reversed, the map and the next index, or an empty tuple once ended.
    import copy

    def shape(reduced):
        remake, args, *state = reduced
        return remake.__name__, [type(a).__name__ if a != () else () for a in args], state

    def scenario(module):
        got = []
        for make in (iter, reversed):
            m = module.mmap(-1, 6)
            m[:] = b"abcdef"
            it = make(m)
            got.append(shape(it.__reduce__()))
            next(it)
            next(it)
            got.append(shape(it.__reduce__()))
            twin = copy.copy(it)
            got += [list(twin), next(it)]
            for state in (0, 1, 4, 5, 6, 99, -1, -2, -(1 << 40), True):
                it = make(m)
                got.append(outcome(it.__setstate__, state))
                got.append(outcome(list, it))
            for state in ("3", 2.0, None, 1 << 70):
                got.append(outcome(make(m).__setstate__, state))
            it = make(m)
            list(it)
            got.append(shape(it.__reduce__()))
            got.append(outcome(it.__setstate__, 2))
            got.append(outcome(list, it))
            m.resize(3)
            it = make(m)
            got.append(outcome(it.__setstate__, 5))
            got.append(outcome(list, it))
            m.close()
            got.append(outcome(lambda: shape(iter(m).__reduce__())))
        return got
    compare(scenario)
