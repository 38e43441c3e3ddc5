"""mmapfile: a drop-in replacement for CPython's ``mmap`` module (Linux).

``import mmapfile as mmap`` and existing code keeps working: the constructor, methods,
constants, exceptions and messages are CPython 3.13's, on every CPython from 3.9.

What differs, on purpose:

* searches (``find``/``rfind``), big reads, slices and copies, ``flush`` and ``resize``
  run with the GIL released; ``close()`` or ``resize()`` from another thread waits for them
  instead of pulling the memory away;
* a file truncated under the map raises ``OSError`` instead of killing the interpreter
  with SIGBUS, also with ``faulthandler`` enabled before or after the first map (it then
  prints its report once when enabled after the last map was made), or enabled and then
  disabled, provided a map is made (or resized) after ``faulthandler.disable()``; a
  ``memoryview`` of the map is not guarded and sees zeros where the file vanished;
* a ``prot`` without ``PROT_READ`` (``PROT_NONE``, write-only) is mapped readable, so that
  no Python code can fault on the map;
* ``resize(0)`` of a file map leaves a consistent, empty map over an empty file.

Everything is implemented by the Rust crate ``mmapfile``; this module translates arguments
and errors.
"""

import sys
from typing import Iterator, NoReturn, Optional, Tuple, Union

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as _Buffer
else:
    from typing import Any as _Buffer

ACCESS_DEFAULT: int
"""Access given by ``flags`` and ``prot`` (write-through, read and write, by default)."""
ACCESS_READ: int
"""Read-only: every change raises ``TypeError``."""
ACCESS_WRITE: int
"""Write-through: changes reach the file."""
ACCESS_COPY: int
"""Copy-on-write: changes stay in this map, the file never changes."""

PAGESIZE: int
"""The page size of the machine."""
ALLOCATIONGRANULARITY: int
"""The alignment a mapping offset must have (the page size on Linux)."""

PROT_READ: int
PROT_WRITE: int
PROT_EXEC: int

MAP_SHARED: int
MAP_PRIVATE: int
MAP_ANON: int
MAP_ANONYMOUS: int
MAP_DENYWRITE: int
MAP_EXECUTABLE: int
MAP_POPULATE: int
MAP_STACK: int
MAP_NORESERVE: int
MAP_32BIT: int

MADV_NORMAL: int
MADV_RANDOM: int
MADV_SEQUENTIAL: int
MADV_WILLNEED: int
MADV_DONTNEED: int
MADV_FREE: int
MADV_REMOVE: int
MADV_DONTFORK: int
MADV_DOFORK: int
MADV_MERGEABLE: int
MADV_UNMERGEABLE: int
MADV_HUGEPAGE: int
MADV_NOHUGEPAGE: int
MADV_DONTDUMP: int
MADV_DODUMP: int
MADV_HWPOISON: int

error = OSError
"""An alias of ``OSError``, as in the ``mmap`` module."""

class mmap:
    """A memory-mapped file or anonymous memory.

    ``mmap(fileno, length, flags=MAP_SHARED, prot=PROT_WRITE|PROT_READ,
    access=ACCESS_DEFAULT, offset=0, *, trackfd=True)``

    Maps ``length`` bytes of the file open as ``fileno`` from ``offset`` (a multiple of
    ``ALLOCATIONGRANULARITY``); ``length`` 0 maps to the end of the file. ``fileno`` -1
    maps anonymous memory. ``access`` and ``flags``/``prot`` exclude each other. With
    ``trackfd=False`` no duplicate of the descriptor is kept: ``size()`` then raises
    ``OSError(EBADF)`` and ``resize()`` raises ``ValueError``. The file is never extended.

    Raises ``OverflowError`` for a negative length or offset, ``ValueError`` for a bad
    access or a window past the end of the file, ``OSError`` for what the system refuses
    (EINVAL for a misaligned offset, EBADF, PermissionError for a read-only descriptor
    mapped writable).

    The object is a mutable byte sequence (``m[i]`` is an int, ``m[a:b:c]`` bytes; iteration
    and ``in`` work with 1-byte ``bytes``), a file (``read``, ``write``, ``seek``, …) and a
    buffer (``memoryview(m)``, ``re`` patterns, ``bytes(m)``). While a buffer is exported,
    ``close()`` and ``resize()`` raise ``BufferError``. Not picklable; weak-referenceable;
    subclassable. A closed map raises ``ValueError("mmap closed or invalid")`` on use.
    """

    def __new__(
        cls,
        fileno: int,
        length: int,
        flags: int = ...,
        prot: int = ...,
        access: int = ...,
        offset: int = ...,
        *,
        trackfd: bool = True,
    ) -> "mmap": ...
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
    def close(self) -> None:
        """Unmaps the memory (the caller's descriptor stays open). Calling it twice is fine.
        Raises ``BufferError`` while buffers are exported; waits for a search or copy that
        another thread is running on the map."""
    def find(self, sub: _Buffer, start: int = ..., end: int = ..., /) -> int:
        """The lowest index of ``sub`` in ``[start, end)``, or -1. ``start`` defaults to the
        current position, ``end`` to the length; both clamp like slice indices. Runs with the
        GIL released on large maps."""
    def rfind(self, sub: _Buffer, start: int = ..., end: int = ..., /) -> int:
        """The highest index of ``sub`` in ``[start, end)``, or -1 (see ``find``)."""
    def flush(self, offset: int = 0, size: int = ..., /) -> None:
        """Writes ``size`` bytes from ``offset`` (a multiple of ``PAGESIZE``) back to the
        file and waits for the disk (msync MS_SYNC); nothing to do for ACCESS_READ and
        ACCESS_COPY maps. ``ValueError("flush values out of range")`` past the end."""
    def madvise(self, option: int, start: int = 0, length: int = ..., /) -> None:
        """Advises the kernel (``MADV_*``) about ``length`` bytes from ``start`` (a multiple
        of ``PAGESIZE``); the length is clamped to the map."""
    def move(self, dest: int, src: int, count: int, /) -> None:
        """Copies ``count`` bytes from ``src`` to ``dest`` inside the map (overlap allowed)."""
    def read(self, n: Optional[int] = None, /) -> bytes:
        """Up to ``n`` bytes from the current position (all the rest when ``n`` is omitted,
        None or negative); advances the position."""
    def read_byte(self) -> int:
        """The byte at the position, as an int; advances. ``ValueError`` at the end."""
    def readline(self) -> bytes:
        """The bytes up to and including the next ``\\n`` (or the end); ``b''`` at the end.
        Keeps the GIL for lines shorter than 64 KiB (as CPython does); a longer line is
        found and copied with the GIL released. Like ``lines()``, reuses the ``bytes`` of an
        earlier line once nothing but the map holds it."""
    def resize(self, newsize: int, /) -> None:
        """Changes the length of the map, growing or shrinking the file (to
        ``offset + newsize``) for file maps. Only ACCESS_WRITE/ACCESS_DEFAULT maps; refused
        while buffers are exported. The position is clamped to the new length."""
    def seek(self, pos: int, whence: int = 0, /) -> int:
        """Moves the position (whence 0: from the start, 1: from the position, 2: from the
        end) and returns it. Seeking to exactly ``len(m)`` is allowed."""
    def seekable(self) -> bool:
        """Always True."""
    def size(self) -> int:
        """The size of the underlying file (which can differ from ``len(m)``).
        ``OSError(EBADF)`` for anonymous memory and ``trackfd=False``."""
    def tell(self) -> int:
        """The current position."""
    def write(self, data: _Buffer, /) -> int:
        """Writes all of ``data`` at the position and returns its length; if it does not fit,
        nothing is written (``ValueError("data out of range")``)."""
    def write_byte(self, byte: int, /) -> None:
        """Writes one byte (0-255) at the position and advances."""
    # ----- mmapfile extras (not in CPython's mmap) -----
    def count(self, sub: _Buffer, start: int = ..., end: int = ..., /) -> int:
        """mmapfile extra: the number of non-overlapping occurrences of ``sub`` in the whole
        map, or in ``[start, end)`` (clamped like slice indices), as ``bytes.count`` counts
        them. Unlike ``find``, the default start is 0, not the position. Runs with the GIL
        released on large maps."""
    def lines(self) -> Iterator[bytes]:
        """mmapfile extra: an iterator over the lines of the whole map, each ``bytes`` with
        its ``\n`` (the last line may lack it; an empty map has none). Ignores and keeps the
        position. The map is read ahead 64 KiB of whole lines at a time (a longer line is
        copied on its own, with the GIL released), so changes made while iterating show
        from the next chunk on, as with a buffered file. Once the map is closed ``next()``
        raises ``ValueError``; a file truncated under the map raises ``OSError``. A line's
        ``bytes`` object is refilled with a later line once nothing but the iterator holds
        it (as ``zip`` reuses its tuples): lines you keep never change."""
    def finditer(self, pattern: Union[bytes, str], /) -> Iterator["Match"]:
        """mmapfile extra: the non-overlapping matches of ``pattern`` in the whole map, left
        to right, as ``Match`` objects.

        ``pattern`` uses the syntax of Rust's ``regex`` crate (https://docs.rs/regex), not
        Python's ``re``: no look-around or backreferences; ``(?i)``, ``(?m)``, ``(?s)`` and
        ``(?x)`` flags inline; ``\\b``, ``\\w`` and classes are Unicode-aware unless
        turned off with ``(?-u)``, and ``.`` matches any byte only with ``(?s-u)``. The
        search over the whole map runs once, with the GIL released, when ``finditer`` is
        called (keeping only the matches' spans); each match's bytes are copied when the
        iterator reaches it. ``ValueError`` for a pattern that does not compile."""
    def __enter__(self) -> "mmap": ...
    def __exit__(self, *args: object) -> None:
        """Closes the map."""
    def __len__(self) -> int: ...
    def __bytes__(self) -> bytes:
        """A copy of the whole map; raises ``OSError`` if the file was truncated under it
        (the buffer protocol, which CPython's ``bytes(m)`` uses, cannot report that)."""
    def __getitem__(self, key: Union[int, slice]) -> Union[int, bytes]: ...
    def __setitem__(self, key: Union[int, slice], value: Union[int, _Buffer]) -> None: ...
    def __delitem__(self, key: Union[int, slice]) -> NoReturn:
        """Always ``TypeError``: a map's length is fixed."""
    def __iter__(self) -> Iterator[bytes]:
        """The bytes of the map, each as a 1-byte ``bytes``."""
    def __reversed__(self) -> Iterator[bytes]:
        """The bytes of the map from the last to the first, each as a 1-byte ``bytes``."""
    def __contains__(self, item: object) -> bool:
        """``item in m`` compares ``item`` with each 1-byte ``bytes`` of the map."""
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...
    def __reduce_ex__(self, protocol: object, /) -> NoReturn:
        """Always ``TypeError``: maps cannot be pickled."""


class Match:
    """mmapfile extra: one match of ``mmap.finditer``."""

    def start(self) -> int:
        """Where the match starts in the map."""
    def end(self) -> int:
        """Where the match ends (exclusive)."""
    def span(self) -> Tuple[int, int]:
        """``(start(), end())``."""
    def group(self) -> bytes:
        """The matched bytes (a copy)."""
