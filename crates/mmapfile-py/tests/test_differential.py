"""Randomized differential test: the builtin ``mmap`` and ``mmapfile``, step by step.

Hypothesis makes random sequences of operations — the constructor with odd arguments, every
method with valid and invalid arguments, slices with any start/stop/step, item and slice
assignment, resize, move, flush, madvise, buffer exports, iteration and ``in``, close and then
any call — and runs each one on a builtin map and on an mmapfile map over two identical files.
After every step the two must agree on the result (or the exception's type and message), the
cursor, the length, the contents and ``closed``; after the last step both maps are closed and
the two files must hold the same bytes.

Budget: ``MMAPFILE_DIFF_EXAMPLES`` sequences (default 100) of at most ``MMAPFILE_DIFF_STEPS``
steps (default 40); ``MMAPFILE_DIFF_SECONDS`` (if set) stops generating new sequences after
that many seconds, which is how CI keeps each interpreter under a minute.

What mmapfile does differently on purpose is listed, each with a tag, in the module's
docstring and in the ``.pyi``; ``INTENDED_DIFFERENCES`` below says how the machine steers
clear of each one, and a test checks that the docs list exactly those tags.
"""

import mmap as builtin
import os
import pathlib
import re
import sys
import tempfile
import time

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule,
                                 run_state_machine_as_test)

import mmapfile

PAGE = builtin.PAGESIZE
EXAMPLES = int(os.environ.get("MMAPFILE_DIFF_EXAMPLES", "100"))
STEPS = int(os.environ.get("MMAPFILE_DIFF_STEPS", "40"))
SECONDS = float(os.environ.get("MMAPFILE_DIFF_SECONDS", "0"))
STARTED = time.monotonic()
HAS_313 = sys.version_info >= (3, 13)
# The number of sequences run, for the report at the end of the test.
RUNS = {"sequences": 0, "steps": 0}


# Tag (as mmapfile's docs give it) -> how this test avoids the difference.
INTENDED_DIFFERENCES = {
    "truncation": "no rule truncates the files under the maps",
    "prot-none": "create() passes no prot without PROT_READ or PROT_WRITE",
    "map-fixed": "create() never passes MAP_FIXED",
    "resize-to-0": "resize() skips 0 on file maps",
    "grow-shared-anonymous": "resize() never grows shared anonymous memory",
    "socket-read": "the maps are of regular files and anonymous memory only",
    "index-resizes": "Index objects have no side effects",
    "newer-additions": "seek()'s result is compared from 3.13 on; trackfd and seekable() "
                       "are used from 3.13 on; the 3.15 methods and the extras are not called",
    "bound-method-keywords": "keyword errors are compared without the class name",
    "set-name-shared": "set_name() (3.15) is not called",
    "iterator-type": "iterators are compared by what they yield",
}


class Index:
    """A non-int object with ``__index__``, as numpy integers are."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value

    def __repr__(self):
        return f"Index({self.value})"


# ----- argument strategies -----

def near(*points):
    """Integers around the interesting points (0, the length, a page)."""
    return st.one_of(*[st.integers(p - 3, p + 3) for p in points])


BIG = st.sampled_from([2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1, 2**63, 2**64, 2**70,
                       -2**31 - 1, -2**63, -2**63 - 1, -2**70])
JUNK = st.sampled_from(["x", 1.5, b"1", [], object(), True, 2.0])


def integer_arg(points=(0, 8, 64, PAGE)):
    return st.one_of(near(*points), st.integers(-300, 300), BIG,
                     st.integers(-3, 300).map(Index), st.just(None), JUNK)


def data_arg():
    return st.one_of(
        st.binary(max_size=40),
        st.binary(max_size=12).map(bytearray),
        st.binary(max_size=12).map(memoryview),
        st.sampled_from(["text", 7, None, [1, 2]]),
    )


def needle_arg():
    return st.one_of(
        st.lists(st.sampled_from([b"a", b"b", b"\n", b"\x00"]), max_size=4).map(b"".join),
        st.binary(max_size=3).map(bytearray),
        st.sampled_from([b"", b"ab", b"\n", b"xyz", "a", None, 97]))


CONTENT = st.lists(st.sampled_from([b"a", b"b", b"\n", b"\x00", b"ab\n", b"xyz"]),
                   max_size=2 * PAGE // 3 + 200).map(b"".join)


def slice_arg():
    part = st.one_of(st.none(), st.integers(-20, 80), BIG, st.integers(-5, 80).map(Index))
    return st.builds(slice, part, part, st.one_of(st.none(), st.integers(-5, 5), BIG))


def outcome(fn, *args, **kwargs):
    """What a call gives: ('ok', value) or ('raise', type, message)."""
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every exception is compared
        return ("raise", type(exc), str(exc))
    return ("ok", value)


COLLECT = {}  # MMAPFILE_DIFF_COLLECT=1 (a debugging aid): note mismatches instead of failing


def same(builtin_outcome, mmapfile_outcome, what):
    if os.environ.get("MMAPFILE_DIFF_COLLECT") and builtin_outcome != mmapfile_outcome:
        key = (what.split("(")[0].split("[")[0][:12], str(builtin_outcome)[:60])
        COLLECT.setdefault(key, f"{what}: {builtin_outcome!r} vs {mmapfile_outcome!r}")
        return
    assert builtin_outcome == mmapfile_outcome, (
        f"{what}: builtin mmap gave {builtin_outcome!r}, mmapfile gave {mmapfile_outcome!r}")


# Methods that take no keyword arguments (flush takes 3.15's flags= only).
KEYWORD_METHODS = ["read", "find", "rfind", "flush", "seek", "write", "move", "resize",
                   "madvise", "write_byte", "read_byte", "readline"]


class Differential(RuleBasedStateMachine):
    """Two maps, one per module, over identical files; every rule runs on both."""

    def __init__(self):
        super().__init__()
        RUNS["sequences"] += 1
        self.dir = tempfile.TemporaryDirectory()
        self.paths = [os.path.join(self.dir.name, name) for name in ("builtin", "mmapfile")]
        self.files = []
        self.maps = None
        self.views = ([], [])
        self.shared_anonymous = False  # see create()
        self.anonymous = False

    # ----- the constructor -----

    @initialize(content=CONTENT, writable_fd=st.booleans(), anonymous=st.booleans(),
          length=st.one_of(st.just(0), near(0, 8, PAGE), st.integers(0, 3 * PAGE),
                           st.sampled_from([-1, 2**63 - 1, 2**63, 2**70])),
          offset=st.one_of(st.just(0), st.sampled_from([PAGE, 2 * PAGE, 1, -1, 2**63, 2**70])),
          flags=st.one_of(st.none(), st.sampled_from(
              [builtin.MAP_SHARED, builtin.MAP_PRIVATE, 0, 3, builtin.MAP_SHARED | 0x4000,
               2**40, "x"])),
          prot=st.one_of(st.none(), st.sampled_from(
              [builtin.PROT_READ, builtin.PROT_WRITE, builtin.PROT_READ | builtin.PROT_WRITE,
               builtin.PROT_READ | builtin.PROT_EXEC, 2**40])),
          access=st.one_of(st.none(), st.sampled_from([0, 1, 2, 3, 4, -1, 2**40])),
          trackfd=st.one_of(st.none(), st.booleans()),
          positional=st.booleans())
    def create(self, content, writable_fd, anonymous, length, offset, flags, prot, access,
               trackfd, positional):
        if isinstance(prot, int) and prot < 2**31 and not prot & 3:
            prot = None  # intended difference: PROT_NONE/PROT_EXEC-only maps are readable here
        for path in self.paths:
            with open(path, "wb") as f:
                f.write(content)
        mode = "r+b" if writable_fd else "rb"
        self.files = [open(path, mode) for path in self.paths]
        kwargs = {}
        for name, value in (("flags", flags), ("prot", prot), ("access", access)):
            if value is not None:
                kwargs[name] = value
        if offset:
            kwargs["offset"] = offset
        if trackfd is not None and HAS_313:
            kwargs["trackfd"] = trackfd
        outcomes = []
        for module, f in zip((builtin, mmapfile), self.files):
            fileno = -1 if anonymous else f.fileno()
            order = ("flags", "prot", "access")
            if positional and set(kwargs) == set(order[:len(kwargs)]):
                args = [fileno, length] + [kwargs[k] for k in order[:len(kwargs)]]
                outcomes.append(outcome(module.mmap, *args))
                continue
            outcomes.append(outcome(module.mmap, fileno, length, **kwargs))
        kinds = [o[0] for o in outcomes]
        if kinds == ["ok", "ok"]:
            self.maps = (outcomes[0][1], outcomes[1][1])
            # Intended difference [grow-shared-anonymous]: CPython grows shared anonymous
            # memory with mremap, which leaves the pages past the first mapping's last page
            # without memory (SIGBUS) and shows bytes cut off by an earlier shrink again;
            # mmapfile copies it. Sequences never grow such a map.
            self.shared_anonymous = anonymous and flags in (
                None, builtin.MAP_SHARED, builtin.MAP_SHARED | 0x4000)
            self.anonymous = anonymous
            return
        for o in outcomes:
            if o[0] == "ok":
                o[1].close()
        outcomes = [o if o[0] == "raise" else ("ok", "a map") for o in outcomes]
        same(outcomes[0], outcomes[1], f"mmap({length=}, {kwargs})")
        # Both refused: go on with anonymous memory, so that the sequence still tests methods.
        self.maps = (builtin.mmap(-1, 64), mmapfile.mmap(-1, 64))
        self.shared_anonymous = True
        self.anonymous = True

    # ----- helpers -----

    def both(self, what, call, compare=None):
        """Runs call(map) on both maps and compares the outcomes."""
        results = [outcome(call, m) for m in self.maps]
        if compare is not None:
            results = compare(results)
        same(results[0], results[1], what)
        RUNS["steps"] += 1
        return results[0]

    def method(self, name, *args):
        return self.both(f"{name}{args!r}", lambda m: getattr(m, name)(*args))

    # ----- the file-like face -----

    @precondition(lambda self: self.maps)
    @rule(args=st.lists(integer_arg((0, 1, 8, 100)), max_size=2))
    def read(self, args):
        self.method("read", *args)

    @precondition(lambda self: self.maps)
    @rule(extra=st.lists(st.integers(), max_size=1))
    def readline(self, extra):
        self.method("readline", *extra)

    @precondition(lambda self: self.maps)
    @rule(args=st.lists(data_arg(), max_size=2))
    def write(self, args):
        self.method("write", *args)

    @precondition(lambda self: self.maps)
    @rule(args=st.lists(st.one_of(st.integers(-2, 260), integer_arg()), min_size=0, max_size=2))
    def write_byte(self, args):
        self.method("write_byte", *args)

    @precondition(lambda self: self.maps)
    @rule(pos=integer_arg((0, 8, 64, PAGE)), whence=st.one_of(
        st.just(()), st.tuples(st.sampled_from([0, 1, 2, 3, -1, 2**40, 2**70, None, "1"]))),
        extra=st.lists(st.just(0), max_size=1))
    def seek(self, pos, whence, extra):
        args = (pos, *whence, *extra)

        def compare(results):
            # 3.13 made seek() return the new position; mmapfile does so on every version.
            if not HAS_313 and results[0] == ("ok", None) and results[1][0] == "ok":
                return [results[0], ("ok", None)]
            return results

        self.both(f"seek{args!r}", lambda m: m.seek(*args), compare)

    @precondition(lambda self: self.maps)
    @rule(name=st.sampled_from(["read_byte", "tell", "size", "close"]
                               + (["seekable"] if HAS_313 else [])))
    def no_argument_method(self, name):
        self.method(name)

    # ----- searching -----

    @precondition(lambda self: self.maps)
    @rule(name=st.sampled_from(["find", "rfind"]), sub=needle_arg(),
          bounds=st.lists(integer_arg((0, 8, 100)), max_size=3))
    def search(self, name, sub, bounds):
        self.method(name, sub, *bounds)

    @precondition(lambda self: self.maps)
    @rule(item=st.one_of(st.sampled_from([b"a", b"\n", b"ab", b"", b"q", 97, "a", None]),
                         st.binary(min_size=1, max_size=1)))
    def contains(self, item):
        self.both(f"{item!r} in m", lambda m: item in m)

    @precondition(lambda self: self.maps)
    @rule(reverse=st.booleans(), prefix=st.integers(0, 5))
    def iterate(self, reverse, prefix):
        def walk(m):
            it = reversed(m) if reverse else iter(m)
            taken = [next(it, None) for _ in range(prefix)]
            return taken + list(it)
        self.both(f"iterate(reverse={reverse})", walk)

    @precondition(lambda self: self.maps)
    @rule(close_first=st.booleans())
    def iterator_outlives_close(self, close_first):
        iterators = None
        if not close_first:
            made = [outcome(iter, m) for m in self.maps]
            same(*[o[:1] + o[2:] for o in made], "iter(m)")
            if made[0][0] == "ok":
                iterators = [o[1] for o in made]
        self.method("close")
        if iterators is None:
            self.both("iter(closed)", lambda m: type(iter(m)).__name__ != "")
            self.both("next(iter(closed))", lambda m: next(iter(m)))
        else:
            results = [outcome(next, it) for it in iterators]
            same(results[0], results[1], "next() after close")

    # ----- the byte-string face -----

    @precondition(lambda self: self.maps)
    @rule(key=st.one_of(integer_arg((0, 8, 64)), slice_arg(), st.sampled_from(["a", 1.0, None])))
    def getitem(self, key):
        self.both(f"m[{key!r}]", lambda m: m[key])

    @precondition(lambda self: self.maps)
    @rule(key=integer_arg((0, 8, 64)), value=st.one_of(
        st.integers(-2, 258), BIG, st.sampled_from([b"a", "a", 1.5, None]),
        st.integers(0, 255).map(Index)))
    def setitem(self, key, value):
        def store(m):
            m[key] = value
        self.both(f"m[{key!r}] = {value!r}", store)

    @precondition(lambda self: self.maps)
    @rule(key=slice_arg(), adjust=st.integers(-1, 1), fill=st.binary(min_size=1, max_size=1),
          kind=st.sampled_from([bytes, bytearray, memoryview, str]))
    def setslice(self, key, adjust, fill, kind):
        builtin_len = outcome(len, self.maps[0])
        try:
            count = len(range(*key.indices(builtin_len[1] if builtin_len[0] == "ok" else 3)))
        except (ValueError, TypeError, OverflowError):
            count = 2
        data = fill * max(0, count + adjust)
        value = data.decode("latin-1") if kind is str else kind(data)

        def store(m):
            m[key] = value
        self.both(f"m[{key!r}] = <{len(data)} bytes>", store)

    @precondition(lambda self: self.maps)
    @rule(key=st.one_of(st.integers(-3, 10), slice_arg()))
    def delitem(self, key):
        def delete(m):
            del m[key]
        self.both(f"del m[{key!r}]", delete)

    @precondition(lambda self: self.maps)
    @rule(args=st.lists(integer_arg((0, 4, 16, 64)), min_size=2, max_size=4))
    def move(self, args):
        self.method("move", *args)

    @precondition(lambda self: self.maps)
    @rule(op=st.sampled_from(["+", "*", "==", "bytes", "bool", "len", "repr", "hash"]))
    def operators(self, op):
        calls = {
            "+": lambda m: m + b"x",
            "*": lambda m: m * 2,
            "==": lambda m: m == m,
            "bytes": bytes,
            "bool": bool,
            "len": len,
            "repr": repr,
            "hash": lambda m: type(hash(m)).__name__,
        }
        self.both(op, calls[op])

    # ----- map operations -----

    @precondition(lambda self: self.maps)
    @rule(new_size=st.one_of(near(0, 1, 8, PAGE, 2 * PAGE), st.integers(-2, 3 * PAGE),
                             st.sampled_from([2**62, 2**63 - 1, 2**70, -2**70, "x", None])),
          extra=st.lists(st.just(1), max_size=1))
    def resize(self, new_size, extra):
        current = outcome(len, self.maps[0])
        if (self.shared_anonymous and current[0] == "ok" and isinstance(new_size, int)
                and new_size > current[1]):
            return
        if not self.anonymous and new_size == 0:
            # Intended difference: CPython truncates the file, then fails (mremap to 0
            # bytes), leaving a map over nothing that dies of SIGBUS at the next access;
            # mmapfile fails the same way without touching the file.
            return
        self.method("resize", new_size, *extra)

    @precondition(lambda self: self.maps)
    @rule(args=st.lists(st.one_of(st.sampled_from([0, PAGE, 1, -1]), integer_arg((0, PAGE))),
                        max_size=3))
    def flush(self, args):
        self.method("flush", *args)

    @precondition(lambda self: self.maps)
    @rule(option=st.sampled_from([builtin.MADV_NORMAL, builtin.MADV_RANDOM,
                                  builtin.MADV_SEQUENTIAL, builtin.MADV_WILLNEED,
                                  builtin.MADV_DONTNEED, 9999, -1, 2**40, "x"]),
          bounds=st.lists(st.one_of(st.sampled_from([0, PAGE, 1, -1, 2**63 - 1]),
                                    integer_arg((0, PAGE))), max_size=3))
    def madvise(self, option, bounds):
        self.method("madvise", option, *bounds)

    @precondition(lambda self: self.maps)
    @rule(flags=st.sampled_from(["simple", "writable"]))
    def export(self, flags):
        def take(pair):
            m, views = pair
            view = memoryview(m) if flags == "simple" else memoryview(m).cast("B")
            if flags == "writable":
                view[0:0] = b""
            views.append(view)
            return (view.readonly, view.nbytes, view.format, view.tobytes())
        results = [outcome(take, pair) for pair in zip(self.maps, self.views)]
        same(results[0], results[1], f"memoryview({flags})")

    @precondition(lambda self: self.maps and self.views[0])
    @rule()
    def release(self):
        for views in self.views:
            views.pop().release()
        RUNS["steps"] += 1

    @precondition(lambda self: self.maps)
    @rule()
    def with_block(self):
        def enter_exit(m):
            with m as entered:
                return entered is m
        self.both("with m", enter_exit)

    @precondition(lambda self: self.maps)
    @rule(name=st.sampled_from(KEYWORD_METHODS))
    def keyword_arguments(self, name):
        # CPython names the method "find()" or "mmap.find()" depending on the call path
        # (intended difference [bound-method-keywords]): compared without the class name.
        def unqualified(results):
            return [r[:2] + (r[2].replace("mmap.", ""),) if r[0] == "raise" else r
                    for r in results]
        self.both(f"{name}(x=1)", lambda m: getattr(m, name)(x=1), unqualified)

    @precondition(lambda self: self.maps)
    @rule(name=st.sampled_from(["readline", "read_byte", "tell", "size", "close", "__enter__",
                                "seekable" if HAS_313 else "tell"]),
          args=st.lists(st.integers(0, 3), min_size=1, max_size=2))
    def too_many_arguments(self, name, args):
        self.both(f"{name}{tuple(args)!r}", lambda m: getattr(m, name)(*args))

    # ----- after every step -----

    @invariant()
    def same_state(self):
        if not self.maps:
            return
        self.both("closed", lambda m: m.closed)
        self.both("tell()", lambda m: m.tell())
        self.both("len()", len)
        contents = [outcome(lambda m: m[:], m) for m in self.maps]
        if contents[0] != contents[1] and contents[0][0] == contents[1][0] == "ok":
            a, b = contents[0][1], contents[1][1]
            first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), None)
            raise AssertionError(f"contents differ: lengths {len(a)}/{len(b)}, first "
                                 f"difference at {first}: {a[first:first+8]!r} vs "
                                 f"{b[first:first+8]!r}" if first is not None else "")
        same(*contents, "contents")

    def teardown(self):
        try:
            if self.maps:
                for views in self.views:
                    for view in views:
                        view.release()
                for m in self.maps:
                    m.close()
            for f in self.files:
                f.close()
            if self.files:
                contents = []
                for path in self.paths:
                    with open(path, "rb") as f:
                        contents.append(f.read())
                assert contents[0] == contents[1], "the files differ after close"
        finally:
            self.dir.cleanup()


def test_differential():
    """Runs the machine in chunks of sequences until the budget (count or time) is spent."""
    done = 0
    while done < EXAMPLES and (not SECONDS or time.monotonic() - STARTED < SECONDS):
        chunk = min(25, EXAMPLES - done)
        run_state_machine_as_test(Differential, settings=settings(
            max_examples=chunk,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ))
        done += chunk
    for line in COLLECT.values():
        print("MISMATCH", line)
    print(f"\ndifferential: {RUNS['sequences']} sequences, {RUNS['steps']} compared steps, "
          f"{time.monotonic() - STARTED:.1f} s")


def test_intended_differences_are_documented():
    """The module's docstring and the stub list exactly the differences skipped here."""
    tag = re.compile(r"^\s*[-*] \[([a-z0-9-]+)\]", re.MULTILINE)
    stub = pathlib.Path(mmapfile.__file__).parent / "__init__.pyi"
    assert set(tag.findall(mmapfile.__doc__)) == set(INTENDED_DIFFERENCES)
    assert set(tag.findall(stub.read_text())) == set(INTENDED_DIFFERENCES)
