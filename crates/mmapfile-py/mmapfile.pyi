"""mmapfile: a drop-in replacement for CPython's ``mmap`` module (Linux).

``import mmapfile as mmap`` and existing code keeps working: the constructor, methods,
constants, results, exceptions and messages are those of the running interpreter's builtin
``mmap``, on every CPython from 3.9. Searches (``find``/``rfind``), big reads, slices and
copies, ``flush`` and ``resize`` run with the GIL released; ``close()`` or ``resize()`` from
another thread waits for them (with the GIL released, so other threads keep running) instead
of pulling the memory away. While a writable map has buffer exports (``memoryview(m)``, numpy
arrays) nothing releases the GIL, as with CPython's module; ``fork()`` during such a call
leaves the child a usable map. Iterators over the map (``iter``, ``reversed``, ``lines()``,
``finditer``) take part in the cyclic garbage collector.

Intended differences (each one where CPython crashes, corrupts memory or cannot do better;
the differential test against the builtin skips exactly these):

* [truncation] A file truncated under a map: CPython dies of SIGBUS at the next access;
  mmapfile raises ``OSError``, also with ``faulthandler`` enabled before or after the first
  map (it then prints its report once when enabled after the last map was made), or enabled
  and then disabled, provided a map is made (or resized) after ``faulthandler.disable()``.
  A ``memoryview`` of the map is not guarded and sees zeros where the file vanished.
* [prot-none] A ``prot`` without ``PROT_READ`` (``PROT_NONE``, ``PROT_EXEC`` or
  ``PROT_WRITE`` alone) is mapped readable (and writable if asked), because reading a map
  must never fault; CPython's ``PROT_NONE`` map kills the interpreter at the first access.
* [map-fixed] ``flags`` with ``MAP_FIXED`` is refused (``ValueError``): without an address
  to give, it would map over memory the process is using.
* [resize-to-0] ``resize(0)`` of a file map raises ``OSError(EINVAL)`` as in CPython, but
  the file keeps its size; CPython truncates it first and is left with a map past the end
  of its file (SIGBUS at the next access).
* [grow-shared-anonymous] Shared anonymous memory grows for real (it lives in a memfd that
  grows with it; bytes cut off by an earlier shrink read as zeros); CPython's ``mremap``
  leaves the new pages past the first mapping's last page without memory behind them
  (SIGBUS when touched) and shows cut-off bytes again within that page.
* [socket-read] A read-only map of a TCP socket is refused (``ENODEV``); the kernel makes
  one, but its pages only come from ``TCP_ZEROCOPY_RECEIVE`` and any access is SIGBUS.
* [index-resizes] An ``__index__`` that shrinks or closes the map during ``m[i] = v`` gives
  ``IndexError`` or ``ValueError``; CPython writes past the end of the shrunken map.
* [newer-additions] What later CPythons added is offered on every version: ``trackfd``,
  ``seekable()`` and ``seek()`` returning the position (3.13); ``flush(..., flags=)``, the
  ``MS_*`` constants and ``set_name()`` (3.15); and mmapfile's extras (``count``,
  ``lines``, ``finditer``). Where a newer CPython changed an older behaviour, the running
  interpreter's is kept.
* [bound-method-keywords] Keywords given to a method that takes none: CPython names the
  method "find()" or "mmap.find()" in its ``TypeError`` depending on how the call reached
  it (a bound method object, the interpreter's specialised calls, the version); mmapfile's
  methods, which use the faster calling convention, always say "mmap.find()".
* [set-name-shared] ``set_name()`` (3.15) on shared anonymous memory raises ``OSError``: it
  lives in a memfd here (so that it can grow and stay shared), which the kernel names by its
  file; private anonymous memory can be named.
* [iterator-type] ``iter(m)`` is mmapfile's own iterator type, not CPython's ``iterator``.

Everything is implemented by the Rust crate ``mmapfile``; this module translates arguments
and errors.
"""

import sys
from typing import Iterator, NoReturn, Optional, Tuple, Union, final

from typing_extensions import disjoint_base

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as _Buffer
else:
    from typing import Any as _Buffer

__all__ = [
    "mmap",
    "Match",
    "error",
    "ACCESS_DEFAULT",
    "ACCESS_READ",
    "ACCESS_WRITE",
    "ACCESS_COPY",
    "PAGESIZE",
    "ALLOCATIONGRANULARITY",
    "PROT_READ",
    "PROT_WRITE",
    "PROT_EXEC",
    "MAP_SHARED",
    "MAP_PRIVATE",
    "MAP_ANON",
    "MAP_ANONYMOUS",
    "MADV_NORMAL",
    "MADV_RANDOM",
    "MADV_SEQUENTIAL",
    "MADV_WILLNEED",
    "MADV_DONTNEED",
    "MAP_DENYWRITE",
    "MAP_EXECUTABLE",
    "MAP_POPULATE",
    "MAP_STACK",
    "MAP_NORESERVE",
    "MADV_FREE",
    "MADV_REMOVE",
    "MADV_DONTFORK",
    "MADV_DOFORK",
    "MADV_MERGEABLE",
    "MADV_UNMERGEABLE",
    "MADV_HUGEPAGE",
    "MADV_NOHUGEPAGE",
    "MADV_DONTDUMP",
    "MADV_DODUMP",
    "MADV_HWPOISON",
    "MAP_32BIT",
    "MS_SYNC",
    "MS_ASYNC",
    "MS_INVALIDATE",
]

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

MS_SYNC: int
"""``flush(flags=)``: write back and wait (the default)."""
MS_ASYNC: int
"""``flush(flags=)``: start writing back, do not wait."""
MS_INVALIDATE: int
"""``flush(flags=)``: also invalidate other mappings of the file."""

error = OSError
"""An alias of ``OSError``, as in the ``mmap`` module."""

@disjoint_base
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

    if sys.platform == "win32":
        def __new__(
            cls,
            fileno: int,
            length: int,
            tagname: Optional[str] = None,
            access: int = ...,
            offset: int = ...,
        ) -> "mmap":
            """CPython's Windows constructor: ``tagname`` names a mapping that other maps
            (and processes) with the same name share; no ``flags``/``prot``/``trackfd``."""
    else:
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
    def flush(self, offset: int = 0, size: int = ..., /, *, flags: int = ...) -> None:
        """Writes ``size`` bytes from ``offset`` (a multiple of ``PAGESIZE``) back to the
        file with ``msync(flags)``: by default ``MS_SYNC``, which waits for the disk;
        ``MS_ASYNC`` only starts the write, ``MS_INVALIDATE`` may be added (``flags=`` is
        CPython 3.15's, offered on every version). Nothing to do for ACCESS_READ and
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
        while buffers are exported. The position is left as it is: after a shrink it may lie
        past the end (reads give ``b''``) until the map grows again. ``resize(0)`` raises
        ``OSError(EINVAL)`` (as CPython's ``mremap`` does) and leaves the file alone."""
    def seek(self, pos: int, whence: int = 0, /) -> int:
        """Moves the position (whence 0: from the start, 1: from the position, 2: from the
        end) and returns it. Seeking to exactly ``len(m)`` is allowed."""
    def seekable(self) -> bool:
        """Always True."""
    def set_name(self, name: str, /) -> None:
        """Names anonymous memory in ``/proc/<pid>/maps``, where it shows as
        ``[anon:cpython:mmap:<name>]`` (CPython 3.15's method, offered on every version;
        Linux 5.17+ built with ``CONFIG_ANON_VMA_NAME``; private anonymous memory only, see
        [set-name-shared]). ``ValueError`` for a map of a file,
        a name with a NUL, a name too long (66 bytes at most) or with characters the kernel
        refuses; ``OSError`` where the kernel cannot name maps."""
    def size(self) -> int:
        """The size of the underlying file (which can differ from ``len(m)``).
        ``OSError(EBADF)`` for anonymous memory and ``trackfd=False``."""
    def tell(self) -> int:
        """The current position."""
    def write(self, bytes: _Buffer, /) -> int:
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
    def __getitem__(self, key: Union[int, slice], /) -> Union[int, bytes]: ...
    def __setitem__(self, key: Union[int, slice], value: Union[int, _Buffer], /) -> None: ...
    def __delitem__(self, key: Union[int, slice], /) -> NoReturn:
        """Always ``TypeError``: a map's length is fixed."""
    def __iter__(self) -> Iterator[bytes]:
        """The bytes of the map, each as a 1-byte ``bytes``."""
    def __reversed__(self) -> Iterator[bytes]:
        """The bytes of the map from the last to the first, each as a 1-byte ``bytes``."""
    def __contains__(self, item: object, /) -> bool:
        """``item in m`` compares ``item`` with each 1-byte ``bytes`` of the map."""
    if sys.version_info >= (3, 12):
        def __buffer__(self, flags: int, /) -> memoryview: ...
        def __release_buffer__(self, buffer: memoryview, /) -> None: ...
    def __reduce_ex__(self, protocol: object, /) -> NoReturn:
        """Always ``TypeError``: maps cannot be pickled."""


@final
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
