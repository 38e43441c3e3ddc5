"""One test per row of the spec's error table (shared/spec/python-mmap.md).

Every test runs twice: on the builtin ``mmap`` and on ``mmapfile``, asserting the exact
exception type and message of the spec. The builtin run shows that the spec's text is what
CPython really says; rows that are new in 3.13 run on the builtin only from 3.13 on.
"""

import errno
import mmap as builtin_mmap
import os
import pickle
import re
import sys

import pytest

import mmapfile

PAGE = builtin_mmap.PAGESIZE
TEXT = b"Lorem ipsum dolor sit amet\nsecond line\n"


@pytest.fixture(params=["mmap", "mmapfile"])
def mod(request):
    return builtin_mmap if request.param == "mmap" else mmapfile


@pytest.fixture
def new_in_313(mod):
    if mod is builtin_mmap and sys.version_info < (3, 13):
        pytest.skip("the builtin mmap has this only from 3.13")


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "data.bin"
    p.write_bytes(TEXT)
    return p


@pytest.fixture
def rw(path):
    with open(path, "r+b") as f:
        yield f


@pytest.fixture
def ro(path):
    with open(path, "rb") as f:
        yield f


@pytest.fixture
def m(mod, rw):
    with mod.mmap(rw.fileno(), 0) as m:
        yield m


@pytest.fixture
def rom(mod, ro):
    with mod.mmap(ro.fileno(), 0, access=mod.ACCESS_READ) as m:
        yield m


def raises(exc_type, message, fn, *args, **kwargs):
    with pytest.raises(BaseException) as info:
        fn(*args, **kwargs)
    assert type(info.value) is exc_type, repr(info.value)
    if message is not None:
        assert str(info.value) == message
    return info.value


def raises_errno(number, fn, *args, **kwargs):
    with pytest.raises(OSError) as info:
        fn(*args, **kwargs)
    assert info.value.errno == number
    assert info.value.strerror == os.strerror(number)
    return info.value


# ----- constructor -----

def test_negative_length(mod):
    raises(OverflowError, "memory mapped length must be positive", mod.mmap, -1, -1)


def test_negative_offset(mod):
    raises(OverflowError, "memory mapped offset must be positive", mod.mmap, -1, 10, offset=-1)


def test_access_with_flags_or_prot(mod, rw):
    msg = "mmap can't specify both access and flags, prot."
    raises(ValueError, msg, mod.mmap, rw.fileno(), 0, flags=mod.MAP_PRIVATE, access=mod.ACCESS_READ)
    raises(ValueError, msg, mod.mmap, rw.fileno(), 0, prot=mod.PROT_READ, access=mod.ACCESS_WRITE)


def test_invalid_access(mod, rw):
    raises(ValueError, "mmap invalid access parameter.", mod.mmap, rw.fileno(), 0, access=4)


def test_empty_file(mod, tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with open(empty, "r+b") as f:
        raises(ValueError, "cannot mmap an empty file", mod.mmap, f.fileno(), 0)


def test_offset_past_size_with_length_0(mod, rw):
    raises(ValueError, "mmap offset is greater than file size",
           mod.mmap, rw.fileno(), 0, offset=PAGE)


def test_length_past_size(mod, rw):
    raises(ValueError, "mmap length is greater than file size", mod.mmap, rw.fileno(), 1000)


def test_trackfd_false_size_is_ebadf(mod, rw, new_in_313):
    with mod.mmap(rw.fileno(), 0, trackfd=False) as m:
        raises_errno(errno.EBADF, m.size)


def test_trackfd_false_cannot_resize(mod, rw, new_in_313):
    with mod.mmap(rw.fileno(), 0, trackfd=False) as m:
        raises(ValueError, "mmap can't resize with trackfd=False.", m.resize, 10)


def test_anonymous_size_is_ebadf(mod):
    with mod.mmap(-1, 10) as m:
        raises_errno(errno.EBADF, m.size)


def test_misaligned_offset_is_einval(mod, tmp_path):
    p = tmp_path / "big"
    p.write_bytes(b"x" * (2 * PAGE))
    with open(p, "r+b") as f:
        raises_errno(errno.EINVAL, mod.mmap, f.fileno(), 10, offset=1)


def test_anonymous_length_0_is_einval(mod):
    raises_errno(errno.EINVAL, mod.mmap, -1, 0)


def test_default_access_on_read_only_fd(mod, ro):
    err = raises_errno(errno.EACCES, mod.mmap, ro.fileno(), 0)
    assert type(err) is PermissionError


def test_bad_descriptor(mod):
    err = raises_errno(errno.EBADF, mod.mmap, -2, 10)
    assert str(err) == "[Errno 9] Bad file descriptor"


def test_file_object_instead_of_fd(mod, rw):
    raises(TypeError, None, mod.mmap, rw, 0)


def test_tagname_rejected_on_unix(mod):
    raises(TypeError, None, mod.mmap, -1, 10, tagname="x")


def test_at_most_six_positional_arguments(mod):
    raises(TypeError, None, mod.mmap, -1, 10, mod.MAP_SHARED, 3, 0, 0, True)


# ----- methods -----

def test_methods_take_no_keyword_arguments(mod, m):
    if mod is builtin_mmap and sys.version_info < (3, 11):
        pytest.skip("the builtin mmap says 'find()', not 'mmap.find()', before 3.11")
    raises(TypeError, "mmap.find() takes no keyword arguments", lambda: m.find(b"a", start=1))
    raises(TypeError, "mmap.write() takes no keyword arguments", lambda: m.write(data=b"a"))


def test_close_with_exported_buffer(mod, m):
    view = memoryview(m)
    raises(BufferError, "cannot close exported pointers exist", m.close)
    view.release()
    m.close()
    m.close()  # twice is fine
    assert m.closed


def test_close_keeps_the_callers_fd(mod, rw):
    mod.mmap(rw.fileno(), 0).close()
    os.fstat(rw.fileno())


def test_find_rejects_none(mod, m):
    raises(TypeError, "'NoneType' object cannot be interpreted as an integer", m.find, b"a", None)


def test_flush_out_of_range(mod, m):
    raises(ValueError, "flush values out of range", m.flush, 0, len(m) + 1)
    raises(ValueError, "flush values out of range", m.flush, -1, 1)


def test_flush_unaligned_offset_is_einval(mod, m):
    raises_errno(errno.EINVAL, m.flush, 1, 1)
    assert m.flush(0, 1) is None


def test_madvise_bounds(mod, m):
    raises(ValueError, "madvise start out of bounds", m.madvise, mod.MADV_NORMAL, len(m))
    raises(ValueError, "madvise length invalid", m.madvise, mod.MADV_NORMAL, 0, -1)
    raises(OverflowError, "madvise length too large", m.madvise, mod.MADV_NORMAL, 1, sys.maxsize)


def test_move_out_of_range(mod, m):
    msg = "source, destination, or count out of range"
    raises(ValueError, msg, m.move, 0, 1, len(m))
    raises(ValueError, msg, m.move, -1, 0, 1)


def test_read_byte_at_end(mod, m):
    m.seek(0, 2)
    raises(ValueError, "read byte out of range", m.read_byte)


def test_resize_read_or_copy(mod, rw, ro):
    msg = "mmap can't resize a readonly or copy-on-write memory map."
    with mod.mmap(ro.fileno(), 0, access=mod.ACCESS_READ) as m:
        raises(TypeError, msg, m.resize, 100)
    with mod.mmap(rw.fileno(), 0, access=mod.ACCESS_COPY) as m:
        raises(TypeError, msg, m.resize, 100)


def test_resize_private_default_map(mod, rw, path):
    # ACCESS_DEFAULT with MAP_PRIVATE: resize sets the file's size and remaps, and what was
    # written stays private, before and after.
    m = mod.mmap(rw.fileno(), 0, flags=mod.MAP_PRIVATE)
    m[:5] = b"HELLO"
    m.resize(len(TEXT) + 100)
    assert len(m) == len(TEXT) + 100 and os.path.getsize(path) == len(TEXT) + 100
    assert m[:5] == b"HELLO" and m[len(TEXT):] == b"\0" * 100
    m[-1:] = b"!"
    m.flush()
    assert path.read_bytes() == TEXT + b"\0" * 100
    m.resize(10)
    assert os.path.getsize(path) == 10 and m[:] == b"HELLO" + TEXT[5:10]
    m.close()


def test_resize_private_default_map_on_a_read_only_fd(mod, ro, path):
    m = mod.mmap(ro.fileno(), 0, flags=mod.MAP_PRIVATE)
    m[:3] = b"XYZ"
    raises_errno(errno.EINVAL, m.resize, 100)
    assert len(m) == len(TEXT) and m[:3] == b"XYZ" and path.read_bytes() == TEXT
    m.close()


def test_resize_negative(mod, m):
    raises(ValueError, "new size out of range", m.resize, -1)


def test_resize_with_exported_buffer(mod, m):
    view = memoryview(m)
    raises(BufferError, "mmap can't resize with extant buffers exported.", m.resize, 100)
    view.release()


def test_seek_out_of_range(mod, m):
    raises(ValueError, "seek out of range", m.seek, len(m) + 1)
    raises(ValueError, "seek out of range", m.seek, -1)
    raises(ValueError, "seek out of range", m.seek, 1, 2)


def test_seek_unknown_whence(mod, m):
    raises(ValueError, "unknown seek type", m.seek, 0, 3)


def test_write_past_end_is_all_or_nothing(mod, m):
    m.seek(len(m) - 2)
    raises(ValueError, "data out of range", m.write, b"abc")
    assert m.tell() == len(m) - 2
    assert m[-2:] == TEXT[-2:]


def test_write_byte_at_end(mod, m):
    m.seek(0, 2)
    raises(ValueError, "write byte out of range", m.write_byte, 1)


def test_write_byte_value_range(mod, m):
    raises(OverflowError, "unsigned byte integer is greater than maximum", m.write_byte, 256)
    raises(OverflowError, "unsigned byte integer is less than minimum", m.write_byte, -1)


# ----- indexing -----

def test_zero_step(mod, m):
    raises(ValueError, "slice step cannot be zero", m.__getitem__, slice(None, None, 0))


def test_slice_assignment_wrong_size(mod, m):
    raises(IndexError, "mmap slice assignment is wrong size", m.__setitem__, slice(0, 3), b"ab")


def test_index_out_of_range(mod, m):
    raises(IndexError, "mmap index out of range", m.__getitem__, len(m))
    raises(IndexError, "mmap index out of range", m.__getitem__, -len(m) - 1)
    raises(IndexError, "mmap index out of range", m.__setitem__, len(m), 1)


def test_non_integer_index(mod, m):
    raises(TypeError, "mmap indices must be integers", m.__getitem__, "a")


def test_non_integer_index_assignment(mod, m):
    raises(TypeError, "mmap indices must be integer", m.__setitem__, "a", 1)


def test_item_value_out_of_range(mod, m):
    raises(ValueError, "mmap item value must be in range(0, 256)", m.__setitem__, 0, 256)


def test_item_value_not_int(mod, m):
    raises(TypeError, "mmap item value must be an int", m.__setitem__, 0, b"a")


def test_item_deletion(mod, m):
    raises(TypeError, "mmap doesn't support item deletion", m.__delitem__, 0)


def test_slice_deletion(mod, m):
    raises(TypeError, "mmap object doesn't support slice deletion", m.__delitem__, slice(0, 2))


def test_read_only_map_refuses_changes_before_index_errors(mod, rom):
    msg = "mmap can't modify a readonly memory map."
    raises(TypeError, msg, rom.write, b"a")
    raises(TypeError, msg, rom.write_byte, 1)
    raises(TypeError, msg, rom.__setitem__, 0, 1)
    raises(TypeError, msg, rom.__setitem__, len(rom) + 5, 1)  # index error comes second
    raises(TypeError, msg, rom.__setitem__, slice(0, 1), b"a")
    raises(TypeError, msg, rom.move, 0, 1, 1)


def test_closed_map(mod, rw):
    m = mod.mmap(rw.fileno(), 0)
    m.close()
    msg = "mmap closed or invalid"
    for call in (lambda: m[0], lambda: m.read(1), lambda: m.find(b"a"), len,
                 lambda: m.write(b"a"), lambda: m.seek(0), lambda: m.tell(), lambda: m.flush()):
        raises(ValueError, msg, call) if call is not len else raises(ValueError, msg, len, m)
    assert repr(m) == "<mmap.mmap closed=True>" or mod is builtin_mmap


def test_closed_by_index_callback(mod, rw):
    if mod is builtin_mmap and sys.version_info < (3, 11):
        pytest.skip("the builtin mmap crashes here before 3.11 (gh-103987)")
    m = mod.mmap(rw.fileno(), 0)

    class Closer:
        def __index__(self):
            m.close()
            return 1

    raises(ValueError, "mmap closed or invalid", m.__getitem__, Closer())


def test_concat_and_repeat(mod, m):
    raises(TypeError, None, lambda: m + m)
    raises(TypeError, None, lambda: m * 2)


def test_pickle_refused(mod, m):
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        name = "mmap" if protocol < 2 else "mmap.mmap"
        raises(TypeError, f"cannot pickle '{name}' object", pickle.dumps, m, protocol)


def test_error_is_oserror(mod):
    assert mod.error is OSError


# ----- behaviour the table describes (values, not errors) -----

def test_sequence_protocol(mod, m):
    assert list(m)[:3] == [b"L", b"o", b"r"]
    assert list(reversed(m))[:3] == [b"\n", b"e", b"n"]
    assert b"L" in m and b"Lo" not in m and b"\xff" not in m
    assert m[0] == ord("L")
    assert m[0:5:2] == b"Lrm"
    assert m[::-1] == TEXT[::-1]


def test_buffer_protocol(mod, m, rom):
    view = memoryview(m)
    assert view.format == "B" and not view.readonly and view.nbytes == len(TEXT)
    view.release()
    with memoryview(rom) as view:
        assert view.readonly
    assert bytes(rom) == TEXT
    assert re.findall(rb"\w+ line", rom) == [b"second line"]


def test_seek_returns_position_and_seekable(mod, m, new_in_313):
    assert m.seek(5) == 5
    assert m.seek(2, 1) == 7
    assert m.seek(0, 2) == len(m)
    assert m.seekable() is True


def test_repr(mod, m, new_in_313):
    m.seek(3)
    assert repr(m) == f"<mmap.mmap closed=False, access=ACCESS_DEFAULT, length={len(TEXT)}, pos=3, offset=0>"

    class Sub(mod.mmap):
        pass

    assert repr(Sub(-1, 10, prot=mod.PROT_READ)).startswith("<Sub closed=False, access=ACCESS_READ")


def test_constants(mod):
    spec = dict(ACCESS_DEFAULT=0, ACCESS_READ=1, ACCESS_WRITE=2, ACCESS_COPY=3, PAGESIZE=4096,
                ALLOCATIONGRANULARITY=4096, PROT_READ=1, PROT_WRITE=2, PROT_EXEC=4,
                MAP_SHARED=1, MAP_PRIVATE=2, MAP_ANON=32, MAP_ANONYMOUS=32, MAP_DENYWRITE=2048,
                MAP_EXECUTABLE=4096, MAP_POPULATE=32768, MAP_STACK=131072, MADV_NORMAL=0,
                MADV_RANDOM=1, MADV_SEQUENTIAL=2, MADV_WILLNEED=3, MADV_DONTNEED=4, MADV_FREE=8,
                MADV_REMOVE=9, MADV_DONTFORK=10, MADV_DOFORK=11, MADV_MERGEABLE=12,
                MADV_UNMERGEABLE=13, MADV_HUGEPAGE=14, MADV_NOHUGEPAGE=15, MADV_DONTDUMP=16,
                MADV_DODUMP=17, MADV_HWPOISON=100)
    spec.update(MAP_NORESERVE=16384, MAP_32BIT=64)
    for name, value in spec.items():
        if mod is builtin_mmap and sys.version_info < (3, 13) and not hasattr(mod, name):
            continue  # older builtins lack some (MAP_POPULATE before 3.10, MAP_32BIT before 3.13)
        assert getattr(mod, name) == value, name


def test_subclass_and_weakref(mod):
    import weakref

    class Anon(mod.mmap):
        def __new__(cls, *args):
            return mod.mmap.__new__(cls, -1, *args)

    m = Anon(PAGE)
    ref = weakref.ref(m)
    assert ref() is m and isinstance(m, mod.mmap) and len(m) == PAGE
    m.close()


# ----- a failing call lets go of its error at once -----

FAILING_CALLS = {
    "index past the end": lambda m, closed: m[10**6],
    "item store past the end": lambda m, closed: m.__setitem__(10**6, 1),
    "item store of 300": lambda m, closed: m.__setitem__(1, 300),
    "slice store of the wrong length": lambda m, closed: m.__setitem__(slice(0, 4), b"abc"),
    "seek before the start": lambda m, closed: m.seek(-1),
    "move out of range": lambda m, closed: m.move(0, 1, 10**6),
    "flush out of range": lambda m, closed: m.flush(0, 10**6),
    "read_byte at the end": lambda m, closed: (m.seek(len(m)), m.read_byte()),
    "len of a closed map": lambda m, closed: len(closed),
    "tell of a closed map": lambda m, closed: closed.tell(),
    "item of a closed map": lambda m, closed: closed[0],
    "find in a closed map": lambda m, closed: closed.find(b"x"),
    "buffer of a closed map": lambda m, closed: memoryview(closed),
}


@pytest.mark.parametrize("call", FAILING_CALLS)
def test_a_failing_call_keeps_no_memory(mod, m, call):
    # A loop of failing calls (say, reading until IndexError) must not pile up the errors'
    # objects: the slots once left their type and message for PyO3's next call to drop.
    closed = mod.mmap(-1, 16)
    closed.close()
    fail = FAILING_CALLS[call]

    def loop(times):
        for _ in range(times):
            try:
                fail(m, closed)
            except (ValueError, IndexError, TypeError, OSError):
                pass

    loop(200)
    before = sys.getallocatedblocks()
    loop(5000)
    grown = sys.getallocatedblocks() - before
    assert grown < 500, f"{grown} blocks more after 5000 failing calls"


def test_a_failing_call_in_a_finalizer_at_exit(mod):
    # Errors raised while the interpreter finalizes (a __del__ run at exit): PyO3 refuses to
    # attach then, and an error raised through it once aborted the process.
    import subprocess
    import textwrap

    script = textwrap.dedent(
        f"""
        import sys
        import {mod.__name__} as mod
        closed = mod.mmap(-1, 8)
        closed.close()

        class Late:
            def __del__(self):
                for call in (lambda: closed[0], closed.tell, lambda: len(closed)):
                    try:
                        call()
                    except ValueError as exc:
                        sys.stdout.write(f"caught: {{exc}}\\n")

        late = Late()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("caught: mmap closed or invalid") == 3, done.stdout
    assert done.stderr == ""
