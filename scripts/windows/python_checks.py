"""Windows-only behaviour of the Python module, against the builtin mmap of the same
interpreter (run by scripts/windows/test-python.sh on the embeddable CPython under wine).

Each case runs once with each module; the outcomes (the result, or the exception's type and
winerror) must be equal. Named memory must also be shared between the two modules.
"""

import mmap
import os
import sys
import tempfile

import mmapfile

DIR = tempfile.mkdtemp()


def path(name, data):
    p = os.path.join(DIR, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def outcome(case, module):
    try:
        return ("ok", case(module))
    except Exception as e:  # the point is to compare them
        return (type(e).__name__, getattr(e, "winerror", None))


def anon_size(m):
    return m.mmap(-1, 100).size()


def zero_anon(m):
    return m.mmap(-1, 0)


def bad_tagname(m):
    return m.mmap(-1, 8, tagname=1)


def unaligned_offset(m):
    with open(path("unaligned", b"x" * 200_000), "r+b") as f:
        return m.mmap(f.fileno(), 10, offset=4096)


def write_window_grows(m):
    p = path(f"grow-{m.__name__}", b"0123456789")
    with open(p, "r+b") as f:
        mm = m.mmap(f.fileno(), 20)
        mm[15:17] = b"ab"
        mm.close()
    with open(p, "rb") as f:
        return f.read()


def read_window_past_end(m):
    with open(path(f"ro-{m.__name__}", b"0123456789"), "rb") as f:
        return m.mmap(f.fileno(), 20, access=m.ACCESS_READ)[:]


def resize_anonymous(m):
    mm = m.mmap(-1, 10)
    mm[:] = b"0123456789"
    mm.resize(20)
    return mm[:], mm.size()


def resize_file(m):
    p = path(f"resize-{m.__name__}", b"0123456789" * 10)
    with open(p, "r+b") as f:
        mm = m.mmap(f.fileno(), 0)
        mm.resize(50)
        mm.resize(150)
        got = (mm[:12], len(mm), mm.size())
        mm.close()
    return got, os.path.getsize(p)


def shrink_under_another_view(m):
    p = path(f"shared-{m.__name__}", b"x" * 100)
    with open(p, "r+b") as f:
        keep = mmap.mmap(f.fileno(), 0)  # another view of the file, kept alive
        mm = m.mmap(f.fileno(), 0)
        try:
            mm.resize(10)
        finally:
            still = (len(mm), mm[:3])
            mm.close()
            keep.close()
    return still


def copy_resize(m):
    with open(path(f"copy-{m.__name__}", b"0123456789"), "r+b") as f:
        m.mmap(f.fileno(), 0, access=m.ACCESS_COPY).resize(5)


def value_error(call):
    """The message of the ValueError `call` raises (the outcome compares only types)."""
    try:
        call()
    except ValueError as e:
        return str(e)
    return "no ValueError"


def empty_file(m):
    with open(path(f"empty-{m.__name__}", b""), "r+b") as f:
        return (value_error(lambda: m.mmap(f.fileno(), 0)),
                value_error(lambda: m.mmap(f.fileno(), 0, offset=65536)))


def offset_at_or_past_end(m):
    with open(path(f"end-{m.__name__}", b"x" * 65536), "r+b") as f:
        return (value_error(lambda: m.mmap(f.fileno(), 0, offset=65536)),
                value_error(lambda: m.mmap(f.fileno(), 0, offset=131072)))


CASES = [anon_size, zero_anon, bad_tagname, unaligned_offset, write_window_grows,
         read_window_past_end, resize_anonymous, resize_file, shrink_under_another_view,
         copy_resize, empty_file, offset_at_or_past_end]


def main():
    failed = 0
    for case in CASES:
        ours, builtin = outcome(case, mmapfile), outcome(case, mmap)
        ok = ours == builtin
        failed += not ok
        print(f"   {'ok  ' if ok else 'DIFF'} {case.__name__}: mmapfile {ours!r}, mmap {builtin!r}")
    # Named memory is one section whichever module made it.
    name = f"mmapfile-check-{os.getpid()}"
    a, b = mmapfile.mmap(-1, 4096, tagname=name), mmap.mmap(-1, 4096, tagname=name)
    a[:5], b[5:10] = b"ours.", b"their"
    shared = a[:10] == b[:10] == b"ours.their"
    print(f"   {'ok  ' if shared else 'DIFF'} tagname shared between the modules: {a[:10]!r}")
    failed += not shared
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
