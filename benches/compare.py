#!/usr/bin/env python3
"""Side-by-side scan benchmark: mmapfile (Rust and Python) against the tools a user would
otherwise pick, on one generated text file, in one run.

    python3 benches/compare.py                 # 1 GiB file, writes BENCHMARKS.md
    python3 benches/compare.py --size 4G       # 4 GiB works too
    python3 benches/compare.py --size 64M --rounds 3 --out -   # quick look, print only

What it does:
- generates the test file deterministically (words in ~137-byte lines, a rare needle near
  the start and one near the end, none of a third) unless it already exists;
- builds `crates/mmapfile/examples/scan_bench.rs` in release mode (the Rust side: mmapfile,
  raw memmap2 + memchr, and a std 1 MiB read() loop);
- builds the `mmapfile` command (release) and times its scans (`find`, `find --reverse`,
  `find --count`, `grep -c`, the search of `replace --dry-run`) against the core doing the
  same scans in scan_bench, both as whole processes, each command run right next to the
  core's (--pairs per round warm, --cold-pairs cold), so the tables show the command/core
  ratio, warm and cold, and counts both in instructions with valgrind's callgrind (when
  installed), which no load on the machine moves;
- runs every method several times, interleaved round by round (the order rotates each
  round), on the warm file; then the madvise choices; then cold-cache runs (each after
  evicting the file with posix_fadvise(DONTNEED), checked with fincore) against `dd bs=1M`;
  then throughput from 1 MiB to 4 GiB;
- files larger than RAM are `benches/larger_than_ram.py`'s job (cold, against dd and grep);
- prints markdown tables of medians and ratios and writes them to BENCHMARKS.md with the
  machine's description and the command line.

Methods: mmapfile (Rust) and raw memmap2 + memchr (scan_bench), a std read() loop,
CPython's `mmap` and `re` (the interpreter given by --python), the mmapfile Python module
(the interpreter given by --mmapfile-python, by default target/bench-venv/bin/python;
`--install-module` makes that venv from the --python interpreter and runs
`pip install ./crates/mmapfile-py` in it; when the module or one of its methods is missing
the table says so), `rg -c -F` and
`grep -c -F` (`apt-get install ripgrep` if rg is missing).

The file is also run by the worker interpreters: `compare.py --worker KIND FILE OP...`
times one operation per OP inside that interpreter and prints one JSON object per line.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NEEDLE_START = b"XQZJ-needle-START"
NEEDLE_END = b"XQZJ-needle-END"
NEEDLE_ABSENT = b"XQZJ-needle-absent"
COMMON = b"nulla"
# The guide's regex (/work/shared/seed): Python syntax with DOTALL | IGNORECASE | MULTILINE,
# and the same in Rust's syntax with the flags inline.
SEED_PY = rb"(\.\W+)?([^.]?nulla[^.]*?\.)"
SEED_RUST = r"(?sim)(\.\W+)?([^.]?nulla[^.]*?\.)"

WORDS = """lorem ipsum dolor sit amet consectetuer adipiscing elit donec egestas enim et
ullamcorper lectus ligula rutrum leo a elementum tortor eu quam duis tincidunt nisi ut ante
nulla facilisi sed tristique eros libero pellentesque vel arcu vivamus purus orci iaculis ac
suscipit pulvinar lacus praesent placerat nisl nunc blandit diam dui habitant morbi senectus
netus malesuada fames turpis aliquam viverra fringilla feugiat augue eleifend mauris in nibh
suspendisse potenti massa eget velit auctor sollicitudin imperdiet justo""".split()

GENERATOR_VERSION = "1"
BLOCK = 8 << 20


# ----------------------------------------------------------------------------- the file


def parse_size(text):
    text = str(text).strip()
    units = {"K": 10, "M": 20, "G": 30}
    shift = units.get(text[-1:].upper(), None)
    number = text[:-1] if shift is not None else text
    try:
        value = int(number) << (shift or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 1G, 64M or 4096")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size {text!r} must be positive")
    return value


def human(size):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def make_lines(rng, nbytes):
    """Sentences of lorem-ipsum words, one line of 96..170 bytes (137 on average) each."""
    lines, total = [], 0
    while total < nbytes:
        target = rng.randint(96, 170)
        parts, length, capital = [], 0, True
        while length < target:
            word = rng.choice(WORDS)
            if capital:
                word = word.capitalize()
            capital = rng.random() < 0.12
            if capital:
                word += "."
            parts.append(word)
            length += len(word) + 1
        line = " ".join(parts)
        if not line.endswith("."):
            line += "."
        encoded = (line + "\n").encode()
        lines.append(encoded)
        total += len(encoded)
    return lines


def needle_offsets(size):
    """Where the start and end needles go: 0.1% from either end of the file."""
    start = min(size // 1000, max(0, size - len(NEEDLE_START)))
    end = max(0, size - size // 1000 - len(NEEDLE_END))
    return start, end


def generate(path, size):
    """Writes the test file unless an identical one (same size and generator) exists."""
    marker = Path(str(path) + ".generated")
    stamp = f"{GENERATOR_VERSION} {size}"
    if path.exists() and path.stat().st_size == size and marker.exists():
        if marker.read_text().strip() == stamp:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pool = make_lines(random.Random(20261126), BLOCK)
    written, block = 0, 0
    with open(path, "wb") as out:
        while written < size:
            # Each block is the same pool of lines in another order: cheap to make, and the
            # file never repeats with a short period.
            random.Random(block).shuffle(pool)
            chunk = b"".join(pool)[: size - written]
            out.write(chunk)
            written += len(chunk)
            block += 1
        start, end = needle_offsets(size)
        out.seek(start)
        out.write(NEEDLE_START)
        out.seek(end)
        out.write(NEEDLE_END)
        out.flush()
        os.fsync(out.fileno())
    marker.write_text(stamp + "\n")
    return True


def evict(path):
    """Drops the file from the page cache and returns how many bytes fincore still sees."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return resident(path)


def resident(path):
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    return int(out or 0)


def warm(path):
    """Puts the whole file in the page cache in one known state: evicted, then read back with
    8 MiB read()s, as a fresh sequential read leaves it. How the cached pages are grouped
    (4 KiB pages or up to 2 MiB folios, which the kernel can map with one page-table entry)
    depends on how they were read, and changes what mapping the file costs by a third;
    pages already cached by earlier runs could be in any grouping."""
    evict(path)
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass


def huge_mapped(bench, path):
    """How many 2 MiB blocks of the file one map of it took with a single page-table entry
    (/proc/vmstat thp_file_mapped around one mmapfile find), and how many there are."""
    def counter():
        try:
            with open("/proc/vmstat") as f:
                for line in f:
                    if line.startswith("thp_file_mapped "):
                        return int(line.split()[1])
        except OSError:
            pass
        return None
    before = counter()
    if before is None:
        return None
    bench.rust("mmapfile", path, [f"find:{NEEDLE_ABSENT.decode()}"], 0, ["--repeat", "1"])
    after = counter()
    return after - before, (path.stat().st_size + (2 << 20) - 1) // (2 << 20)


# ----------------------------------------------------------------------------- workers


def worker(kind, path, length, ops, hot=False):
    """Times each op inside this interpreter: open + map + scan + close. With `hot`, the map
    is opened and touched (a find of a needle that is not there reads every page) before
    the clock starts, and only the op itself is timed."""
    if kind == "cpython":
        import mmap as module
    else:
        import mmapfile as module
    for op in ops:
        name, _, arg = op.partition(":")
        needle = arg.encode()
        result = None
        if name == "fileiter":
            # Not a map at all: Python's buffered binary file iteration.
            start = time.perf_counter()
            with open(path, "rb") as f:
                result = sum(1 for _ in f)
            seconds = time.perf_counter() - start
        else:
            start = time.perf_counter()
            with open(path, "rb") as f:
                m = module.mmap(f.fileno(), length, access=module.ACCESS_READ)
                try:
                    if hot:
                        m.find(b"\0never in the text\0")
                        start = time.perf_counter()
                    if name == "find":
                        result = m.find(needle)
                    elif name == "rfind":
                        result = m.rfind(needle)
                    elif name == "count":
                        result = m.count(needle)
                    elif name == "readline":
                        result = 0
                        readline = m.readline
                        while readline():
                            result += 1
                    elif name == "readline_for":
                        # The same for loop as "lines", over readline() calls.
                        result = 0
                        for _ in iter(m.readline, b""):
                            result += 1
                    elif name == "lines":
                        result = 0
                        for _ in m.lines():
                            result += 1
                    elif name == "regex" and kind == "cpython":
                        pattern = re.compile(SEED_PY, re.DOTALL | re.IGNORECASE | re.MULTILINE)
                        result = sum(1 for _ in pattern.finditer(m))
                    elif name == "regex":
                        result = sum(1 for _ in m.finditer(SEED_RUST.encode()))
                    else:
                        raise ValueError(f"unknown op {op!r}")
                    if hot:
                        seconds = time.perf_counter() - start
                finally:
                    m.close()
            if not hot:
                seconds = time.perf_counter() - start
        print(json.dumps({"method": kind, "op": op, "seconds": seconds, "result": result}))
        sys.stdout.flush()


# ----------------------------------------------------------------------------- runner


class Bench:
    def __init__(self, args):
        self.args = args
        self.scan_bench = ROOT / "target" / "release" / "examples" / "scan_bench"
        self.command = ROOT / "target" / "release" / "mmapfile"
        self.notes = []

    def build(self):
        cmd = ["cargo", "build", "--release", "-q", "-p", "mmapfile", "--example", "scan_bench"]
        print("+", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, cwd=ROOT, check=True)
        cmd = ["cargo", "build", "--release", "-q", "-p", "mmapfile-cli"]
        print("+", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, cwd=ROOT, check=True)

    def command_ops(self, path):
        """The `mmapfile` command's scans and, for each, the core doing the same scan in a
        process of its own (scan_bench): (op, command argv, core argv). Both sides are timed
        as whole processes (start, map, scan, exit), so their ratio is command/core.
        `replace --dry-run` of an absent needle is replace's search alone (nothing to
        change); the core's counterpart is find for the first occurrence and count (the
        same threaded walk) for `--all`."""
        p, cmd = str(path), str(self.command)
        end, start, absent = (n.decode() for n in (NEEDLE_END, NEEDLE_START, NEEDLE_ABSENT))
        core = [str(self.scan_bench), p]
        return [
            (f"find:{end}", [cmd, "find", p, end], core + [f"find:{end}"]),
            (f"find:{absent}", [cmd, "find", p, absent], core + [f"find:{absent}"]),
            (f"rfind:{start}", [cmd, "find", "--reverse", p, start], core + [f"rfind:{start}"]),
            (f"count:{COMMON.decode()}", [cmd, "find", "--count", p, COMMON.decode()],
             core + [f"count:{COMMON.decode()}"]),
            (f"grep:{end}", [cmd, "grep", "-c", end, p], core + [f"regex:{end}"]),
            (f"replace:{absent}", [cmd, "replace", "--dry-run", p, absent, "x"],
             core + [f"find:{absent}"]),
            (f"replace-all:{absent}", [cmd, "replace", "--all", "--dry-run", p, absent, "x"],
             core + [f"count:{absent}"]),
        ]

    def python_has(self, python, names):
        """Which of `names` the mmapfile module's map has, or None without the module."""
        code = (
            "import json, mmapfile\n"
            f"print(json.dumps([n for n in {names!r} if hasattr(mmapfile.mmap, n)]))"
        )
        try:
            out = subprocess.run([python, "-c", code], capture_output=True, text=True,
                                 timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode != 0:
            return None
        return set(json.loads(out.stdout))

    def run_json(self, cmd):
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{shlex.join(map(str, cmd))} failed:\n{out.stderr}")
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]

    def rust(self, method, path, ops, length=0, extra=()):
        cmd = [self.scan_bench, "--method", method, "--len", str(length), *extra, path, *ops]
        return self.run_json(list(map(str, cmd)))

    def python(self, kind, python, path, ops, length=0, hot=False):
        cmd = [python, __file__, "--worker", kind, "--len", str(length),
               *(["--hot"] if hot else []), path, *ops]
        return self.run_json(list(map(str, cmd)))

    def external(self, cmd):
        start = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if out.returncode not in (0, 1):  # grep and rg exit 1 when nothing matches
            raise RuntimeError(f"{shlex.join(map(str, cmd))} failed:\n{out.stderr}")
        text = out.stdout.strip() or out.stderr.strip()
        return seconds, text

    def instructions(self, cmd):
        """The user-space instructions a whole process executes, all its threads together,
        as valgrind's callgrind counts them (None without valgrind): unlike a time, the
        same on a busy machine as on a quiet one."""
        if shutil.which("valgrind") is None:
            return None
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                              *map(str, cmd)], capture_output=True, text=True)
        found = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
        return int(found.group(1)) if found and out.returncode in (0, 1) else None


def command_result(op, text):
    """What the command printed, as a number where it is one: an offset (find), a count
    (`find --count`, `grep -c` prints FILE:COUNT); nothing found prints nothing. For
    `replace`, how many occurrences it found, -1 for none when it looks for the first one
    only (as find reports it)."""
    if op.startswith("replace"):
        found = re.search(r"(\d+) occurrences? would be replaced", text)
        if found:
            return int(found.group(1))
        return -1 if op.startswith("replace:") else 0
    last = text.strip().splitlines()[-1] if text.strip() else "-1"
    last = last.rsplit(":", 1)[-1]
    try:
        return int(last)
    except ValueError:
        return last


def median(values):
    return statistics.median(values) if values else None


def fmt_time(seconds):
    if seconds is None:
        return "–"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(nbytes, seconds):
    if not seconds:
        return "–"
    rate = nbytes / seconds
    return f"{rate / 1e9:.2f} GB/s" if rate >= 1e9 else f"{rate / 1e6:.0f} MB/s"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, shell=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    model = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    cores = os.cpu_count()
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    caches = sh("lscpu | grep -E '^(L1d|L2|L3) cache' | sed 's/  */ /g' | paste -sd ';'")
    hyper = sh("lscpu | sed -n 's/^Hypervisor vendor: *//p'")
    fs = sh(f"df -T {shlex.quote(str(ROOT))} | awk 'NR==2 {{print $2}}'")
    return [
        ("CPU", f"{model}, {cores} cores" + (f" (virtual machine, {hyper})" if hyper else "")),
        ("Caches", caches),
        ("RAM", mem),
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("File system of the test file", fs),
        ("THP", sh("cat /sys/kernel/mm/transparent_hugepage/enabled")),
        ("rustc", sh("rustc --version")),
        ("ripgrep", sh("rg --version | head -1") or "not installed"),
        ("grep", sh("grep --version | head -1")),
    ]


def py_version(python):
    try:
        return subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def install_module(python, venv, target_dir="py-bench"):
    """Makes `venv` from `python` and builds the mmapfile module into it (release mode), with
    cargo's target dir `target/<target_dir>`."""
    print(f"+ {python} -m venv {venv}; pip install ./crates/mmapfile-py", file=sys.stderr)
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]
    subprocess.run(pip + ["maturin"], check=True)
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
               CARGO_TARGET_DIR=str(ROOT / "target" / target_dir))
    subprocess.run(pip + ["--no-build-isolation", str(ROOT / "crates" / "mmapfile-py")],
                   check=True, env=env)


def find_python(version):
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python3")))
    return found[-1] if found else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--len", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--hot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"),
                        help="size of the test file (default 1G; K, M, G suffixes)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mmapfile-bench"),
                        help="where the generated files live (default /tmp/mmapfile-bench)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds of the warm runs (default 5)")
    parser.add_argument("--pairs", type=int, default=3,
                        help="runs of each command/core pair per warm round (default 3)")
    parser.add_argument("--cold-rounds", type=int, default=3)
    parser.add_argument("--cold-pairs", type=int, default=9,
                        help="cold runs of each command/core find pair (default 9)")
    parser.add_argument("--regex-size", type=parse_size, default=parse_size("64M"),
                        help="bytes the regex rows scan, from the start of the same file "
                             "(default 64M: CPython's re runs at ~10 MB/s)")
    parser.add_argument("--scale-max", type=parse_size, default=parse_size("4G"),
                        help="largest size of the scaling runs (default 4G)")
    parser.add_argument("--python", default=None,
                        help="CPython for the mmap/re baselines (default: the newest "
                             "~/.pyenv 3.13, else this interpreter)")
    parser.add_argument("--mmapfile-python", default=str(ROOT / "target/bench-venv/bin/python"),
                        help="interpreter with the mmapfile module installed "
                             "(default target/bench-venv/bin/python)")
    parser.add_argument("--install-module", action="store_true",
                        help="first (re)make target/bench-venv from --python and pip install "
                             "./crates/mmapfile-py into it")
    parser.add_argument("--extra-python", action="append", default=None,
                        help="more CPythons for the mmap baselines (default: ~/.pyenv 3.11)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["madvise", "cold", "scaling"], help="leave a section out")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"),
                        help="markdown file to write ('-' to only print)")
    parser.add_argument("--no-build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        worker(args.worker, args.paths[0], args.len, args.paths[1:], args.hot)
        return

    command = "python3 benches/compare.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    bench = Bench(args)
    if not args.no_build:
        bench.build()

    size = args.size
    path = args.dir / f"text-{size}.txt"
    print(f"generating {path} ({human(size)})" if generate(path, size) else f"using {path}",
          file=sys.stderr)
    regex_len = min(args.regex_size, size)
    start_at, end_at = needle_offsets(size)

    cpython = args.python or find_python("3.13") or sys.executable
    if args.install_module:
        install_module(cpython, Path(args.mmapfile_python).parent.parent)
    extra_pythons = args.extra_python if args.extra_python is not None else [
        p for p in [find_python("3.11")] if p and p != cpython]
    mmpy = args.mmapfile_python
    wanted = ["find", "rfind", "readline", "count", "lines", "finditer"]
    mm_methods = bench.python_has(mmpy, wanted) if Path(mmpy).exists() else None
    if mm_methods is None:
        bench.notes.append(
            f"The mmapfile Python module was not importable from `{mmpy}`: its rows are "
            "skipped. Run with `--install-module` to build it into target/bench-venv.")
        mm_methods = set()
    else:
        missing = [m for m in wanted if m not in mm_methods]
        if missing:
            bench.notes.append("The mmapfile Python module has no " + ", ".join(
                f"`{m}`" for m in missing) + ": those rows are skipped.")

    rg = shutil.which("rg")
    if not rg:
        bench.notes.append("ripgrep is not installed (`apt-get install ripgrep`): its rows "
                           "are skipped.")

    # ------------------------------------------------------------------ warm, interleaved
    warm(path)
    huge = huge_mapped(bench, path)
    F, RF, A = f"find:{NEEDLE_END.decode()}", f"rfind:{NEEDLE_START.decode()}", NEEDLE_ABSENT.decode()
    rust_ops = [F, f"find:{A}", RF, f"rfind:{A}", f"count:{COMMON.decode()}", "lines"]
    groups = []  # (method label, callable returning [(op, seconds, result)])

    def rust_group(label, method, ops, length=0, extra=()):
        def run():
            return [(r["op"], r["seconds"], r["result"])
                    for r in bench.rust(method, path, ops, length, extra)]
        groups.append((label, run))

    def py_group(label, kind, python, ops, length=0, hot=False):
        def run():
            return [(r["op"], r["seconds"], r["result"])
                    for r in bench.python(kind, python, path, ops, length, hot)]
        groups.append((label, run))

    def tool_group(label, cmds):
        def run():
            out = []
            for op, cmd in cmds:
                seconds, text = bench.external(cmd)
                out.append((op, seconds, text))
            return out
        groups.append((label, run))

    rust_group("mmapfile (Rust)", "mmapfile", rust_ops)
    rust_group("mmapfile (Rust), hot map", "mmapfile", rust_ops, extra=["--hot"])
    rust_group("memmap2 + memchr", "memmap2", rust_ops)
    rust_group("memmap2 + memchr, hot map", "memmap2", rust_ops, extra=["--hot"])
    rust_group("mmapfile (Rust)", "mmapfile", [f"regex:{SEED_RUST}"], regex_len)
    rust_group("memmap2 + regex::bytes", "memmap2", [f"regex:{SEED_RUST}"], regex_len)
    rust_group("std read() 1 MiB loop", "read", [F, f"find:{A}", f"count:{COMMON.decode()}",
                                                 "lines"])
    cp_label = f"CPython {py_version(cpython)} mmap"
    py_group(cp_label, "cpython", cpython, [F, f"find:{A}", RF, f"rfind:{A}", "readline",
                                            "readline_for"])
    py_group(cp_label + ", hot map", "cpython", cpython, [F, f"find:{A}", RF, f"rfind:{A}"],
             hot=True)
    py_group(f"CPython {py_version(cpython)} file iteration", "cpython", cpython, ["fileiter"])
    py_group(f"CPython {py_version(cpython)} re on mmap", "cpython", cpython, ["regex"],
             regex_len)
    for extra in extra_pythons:
        py_group(f"CPython {py_version(extra)} mmap", "cpython", extra,
                 [F, f"find:{A}", RF, f"rfind:{A}", "readline"])
    mm_ops = [op for op, m in [(F, "find"), (f"find:{A}", "find"), (RF, "rfind"),
                               (f"rfind:{A}", "rfind"), ("readline", "readline"),
                               ("readline_for", "readline"),
                               (f"count:{COMMON.decode()}", "count"), ("lines", "lines")]
              if m in mm_methods]
    mm_label = f"mmapfile Python ({py_version(mmpy)})" if mm_ops or "finditer" in mm_methods else None
    if mm_ops:
        py_group(mm_label, "mmapfile", mmpy, mm_ops)
        hot_ops = [op for op in mm_ops if op.startswith(("find:", "rfind:"))]
        if hot_ops:
            py_group(mm_label + ", hot map", "mmapfile", mmpy, hot_ops, hot=True)
    if "finditer" in mm_methods:
        py_group(mm_label + " finditer", "mmapfile", mmpy, ["regex"], regex_len)
    else:
        mm_label = mm_label or "mmapfile Python"
    tools = []
    if rg:
        tools.append(("rg -c -F", [(F, ["rg", "-c", "-F", NEEDLE_END.decode(), path]),
                                   (f"find:{A}", ["rg", "-c", "-F", NEEDLE_ABSENT.decode(), path])]))
    tools.append(("grep -c -F", [(F, ["grep", "-c", "-F", NEEDLE_END.decode(), path]),
                                 (f"find:{A}", ["grep", "-c", "-F", NEEDLE_ABSENT.decode(), path])]))
    for label, cmds in tools:
        tool_group(label, [(op, list(map(str, cmd))) for op, cmd in cmds])

    # The command against the core, both as whole processes: the ratio is command/core.
    # Each scan of the command runs right next to the core's (which goes first alternates),
    # --pairs times a round, so that both see the same load: other work on the machine
    # moves whole-process times by more than the 5% the ratio is held to.
    CMD, CORE_PROC = "mmapfile command", "mmapfile (Rust), as a process"
    flips = [0]

    def command_vs_core():
        out = []
        for _ in range(args.pairs):
            for op, command_argv, core_argv in bench.command_ops(path):
                flips[0] += 1
                sides = [(CMD, command_argv), (CORE_PROC, core_argv)]
                for label, argv in sides if flips[0] % 2 else sides[::-1]:
                    seconds, text = bench.external(argv)
                    if label == CMD:
                        found = command_result(op, text)
                    else:
                        found = json.loads(text.splitlines()[-1])["result"]
                        if op.startswith("replace:"):  # found or not, as the command says
                            found = -1 if found == -1 else 1
                    out.append((op, seconds, found, label))
        return out
    groups.append(("mmapfile command vs core", command_vs_core))

    samples = {}  # (op, label) -> [seconds]
    results = {}  # (op, label) -> result
    failed = set()
    for round_no in range(args.rounds):
        shift = round_no % len(groups)
        for label, run in groups[shift:] + groups[:shift]:
            if label in failed:
                continue
            try:
                measured = run()
            except (RuntimeError, OSError, json.JSONDecodeError) as err:
                # A method that breaks is reported and left out; the others go on.
                failed.add(label)
                bench.notes.append(f"{label} failed and was left out: "
                                   f"{str(err).strip().splitlines()[-1][:300]}")
                print(f"{label} failed: {err}", file=sys.stderr)
                continue
            for op, seconds, result, *as_label in measured:
                # A group may time several methods; each entry then names its own.
                key = (op, as_label[0] if as_label else label)
                samples.setdefault(key, []).append(seconds)
                results[key] = result
        print(f"warm round {round_no + 1}/{args.rounds} done", file=sys.stderr)

    # The methods must agree on what they found, or their times compare different work.
    tool_labels = {label for label, _ in tools}
    by_op = {}
    for (op, label), result in results.items():
        if label in tool_labels:
            expected = "1" if op == F else "0"
            if (str(result).strip() or "0") != expected:
                bench.notes.append(f"**{label} on {op} printed {result!r}, expected a matching-"
                                   f"line count of {expected}.**")
        elif isinstance(result, int):
            same = {"readline": "lines", "readline_for": "lines", "fileiter": "lines"}.get(op, op.split(":")[0]
                                                                  if op.startswith("regex") else op)
            by_op.setdefault(same, {})[label] = result
    for op, found in by_op.items():
        if len(set(found.values())) > 1:
            bench.notes.append(f"**The methods disagree on {op}: {found}.**")

    def med(op, label):
        return median(samples.get((op, label), []))

    def ratio(numerator, denominator):
        if numerator is None or denominator is None or denominator == 0:
            return None
        return numerator / denominator

    def paired_speed(command_times, core_times):
        """The command's speed relative to the core's: the median over the pairs of core
        time / command time, each pair's two runs having seen the same load."""
        pairs = [k / c for c, k in zip(command_times, core_times) if c]
        return median(pairs) if pairs else None

    lines_total = results.get(("lines", "mmapfile (Rust)"))

    out = []
    out.append("# Benchmarks\n")
    out.append(
        "Produced in one run by `benches/compare.py` (see its docstring); every figure below "
        "comes from that run. Times are medians over the rounds; each Rust or Python run opens "
        "the file, maps it, scans it and unmaps it (\"hot map\" rows time a second scan of an "
        "already-faulted map instead), so page-table set-up is part of the time, as it is for "
        "a program that maps a file to search it once. mmapfile's `find` and `rfind` search "
        f"ranges of 64 MiB and more with one thread per core ({os.cpu_count()} here, at most "
        "4), after searching the first 8 MiB alone; `count` (and the command's find, which "
        "walks with `walk_in`) shares ranges of 64 MiB and more between the same threads in "
        "stripes; `lines` and the regex iterator run on the calling thread, as do all the "
        "other methods. Python loops count lines "
        "in their body (`result += 1`): `while m.readline(): ...` for the readline() loop, "
        "`for line in m.lines(): ...` for lines(), and `for line in iter(m.readline, b''): "
        "...` for readline() in the same for loop as lines().\n")
    out.append("## Machine and command\n")
    out.append(table(["", ""], machine() + [
        ("CPython (baseline)", f"{py_version(cpython)} ({cpython})"),
        ("Python for the mmapfile module", f"{py_version(mmpy) or 'absent'} ({mmpy})"),
        ("Started", started.strftime("%Y-%m-%d %H:%M UTC")),
        ("Load average at start", " ".join(f"{x:.2f}" for x in load_before)),
        ("Test file in the page cache", "evicted, then read back with 8 MiB read()s before "
         "the warm runs" + (f"; a map of it took {huge[0]} of its {huge[1]} 2 MiB blocks "
                            "with one page-table entry each (/proc/vmstat thp_file_mapped)"
                            if huge else "")),
    ]))
    out.append("")
    out.append(f"Command (from the repository root): `{command}`\n")
    out.append(
        f"Test file: {human(size)} ({size} bytes) of generated text, "
        f"{lines_total if lines_total is not None else '?'} lines; `{NEEDLE_START.decode()}` "
        f"at offset {start_at}, `{NEEDLE_END.decode()}` at offset {end_at}, "
        f"`{NEEDLE_ABSENT.decode()}` absent. Regex rows scan the first {human(regex_len)} "
        f"of the same file with the guide's pattern `{SEED_PY.decode()}` "
        f"(DOTALL | IGNORECASE | MULTILINE; in Rust syntax `{SEED_RUST}`).\n")

    # ---- targets
    targets = []

    def target(name, value, goal, detail):
        ok = value is not None and value >= goal
        shown = "not measured" if value is None else f"{value:.2f}×" if goal < 100 else f"{value / 1e6:.1f} M/s"
        targets.append((name, shown, f"≥ {goal:g}×" if goal < 100 else f"≥ {goal / 1e6:g} M/s",
                        "met" if ok else ("**not met**" if value is not None else "–"), detail))

    r = "mmapfile (Rust)"
    m2 = "memmap2 + memchr"
    target("find vs memmap2 + memmem::find (needle near the end)",
           ratio(med(F, m2), med(F, r)), 0.95, f"{fmt_time(med(F, r))} vs {fmt_time(med(F, m2))}")
    target("find vs memmap2 + memmem::find (absent needle)",
           ratio(med(f"find:{A}", m2), med(f"find:{A}", r)), 0.95,
           f"{fmt_time(med(f'find:{A}', r))} vs {fmt_time(med(f'find:{A}', m2))}")
    target("rfind vs find, absent needle", ratio(med(f"find:{A}", r), med(f"rfind:{A}", r)),
           0.8, f"{fmt_time(med(f'rfind:{A}', r))} vs {fmt_time(med(f'find:{A}', r))}")
    target("rfind of the needle near the start vs find of the one near the end",
           ratio(med(F, r), med(RF, r)), 0.8, f"{fmt_time(med(RF, r))} vs {fmt_time(med(F, r))}")
    lines_s = med("lines", r)
    target("lines() (whole run: map + iterate)",
           lines_total / lines_s if lines_total and lines_s else None, 45e6,
           f"{lines_total} lines in {fmt_time(lines_s)}")
    lines_hot = med("lines", r + ", hot map")
    target("lines() (hot map)", lines_total / lines_hot if lines_total and lines_hot else None,
           45e6, f"{lines_total} lines in {fmt_time(lines_hot)}")
    target("regex_find_iter vs regex::bytes find_iter",
           ratio(med(f"regex:{SEED_RUST}", "memmap2 + regex::bytes"),
                 med(f"regex:{SEED_RUST}", r)), 0.95,
           f"{fmt_time(med(f'regex:{SEED_RUST}', r))} vs "
           f"{fmt_time(med(f'regex:{SEED_RUST}', 'memmap2 + regex::bytes'))}")
    if mm_label:
        def py_target(name, goal, ours, theirs):
            target(name, ratio(med(*theirs), med(*ours)), goal,
                   f"{fmt_time(med(*ours))} vs {fmt_time(med(*theirs))}")
        re_cp = f"CPython {py_version(cpython)} re on mmap"
        for hot in ("", ", hot map"):
            for op, method, which in [(F, "find", "needle near the end"),
                                      (f"find:{A}", "find", "absent"),
                                      (RF, "rfind", "needle near the start"),
                                      (f"rfind:{A}", "rfind", "absent")]:
                py_target(f"Python {method} vs {cp_label}.{method}{hot} ({which})", 6,
                          (op, mm_label + hot), (op, cp_label + hot))
        py_target(f"Python readline() loop vs {cp_label} readline() loop", 1,
                  ("readline", mm_label), ("readline", cp_label))
        py_target(f"Python lines() vs {cp_label} readline() loop", 3,
                  ("lines", mm_label), ("readline", cp_label))
        py_target(f"Python lines() vs {cp_label} readline() in the same for loop", 3,
                  ("lines", mm_label), ("readline_for", cp_label))
        py_target(f"Python finditer vs re.finditer on {cp_label}", 15,
                  ("regex", mm_label + " finditer"), ("regex", re_cp))
    else:
        targets.append(("Python face targets", "not measured", "", "–",
                        "the mmapfile Python module is not installed"))
    for op, what in [(F, "find, needle near the end"), (f"find:{A}", "find, absent needle"),
                     (RF, "find --reverse, needle near the start"),
                     (f"count:{COMMON.decode()}", f"find --count `{COMMON.decode()}`"),
                     (f"grep:{NEEDLE_END.decode()}", "grep -c, needle near the end (vs "
                                                     "regex_find_iter)"),
                     (f"replace:{A}", "replace --dry-run, absent needle (vs find)"),
                     (f"replace-all:{A}", "replace --all --dry-run, absent needle (vs count)")]:
        target(f"command vs core, warm: {what}",
               paired_speed(samples.get((op, CMD), []), samples.get((op, CORE_PROC), [])), 0.95,
               f"medians {fmt_time(med(op, CMD))} vs {fmt_time(med(op, CORE_PROC))} (whole "
               f"processes, {len(samples.get((op, CMD), []))} pairs; the ratio is the median "
               "of the pairs' ratios)")
    # The cold command/core rows join the table once the cold runs are done.
    targets_at = len(out)
    out.append("")

    # ---- warm detail
    out.append(f"## Warm file: every method ({args.rounds} interleaved rounds, medians)\n")
    re_label = f"CPython {py_version(cpython)} re on mmap"
    # (op, title, bytes scanned, reference for Rust rows, reference (op, label) for Python rows)
    op_names = [
        (F, f"find `{NEEDLE_END.decode()}` (near the end)", size, "memmap2 + memchr",
         (F, cp_label)),
        (f"find:{A}", "find an absent needle", size, "memmap2 + memchr", (f"find:{A}", cp_label)),
        (RF, f"rfind `{NEEDLE_START.decode()}` (near the start)", size, "memmap2 + memchr",
         (RF, cp_label)),
        (f"rfind:{A}", "rfind an absent needle", size, "memmap2 + memchr",
         (f"rfind:{A}", cp_label)),
        (f"count:{COMMON.decode()}", f"count `{COMMON.decode()}`", size, "memmap2 + memchr",
         None),
        ("lines", "lines (Rust: iterate all lines; Python: lines())", size, "memmap2 + memchr",
         ("readline", cp_label)),
        ("readline", "readline() loop", size, None, ("readline", cp_label)),
        ("readline_for", "`for line in iter(m.readline, b'')`", size, None,
         ("readline_for", cp_label)),
        ("fileiter", "`for line in open(path, 'rb')`", size, None, ("readline", cp_label)),
        (f"regex:{SEED_RUST}", f"regex (first {human(regex_len)})", regex_len,
         "memmap2 + regex::bytes", None),
        ("regex", f"regex (first {human(regex_len)})", regex_len, None, ("regex", re_label)),
        (f"grep:{NEEDLE_END.decode()}", f"grep `{NEEDLE_END.decode()}` (the command) / "
         "regex_find_iter (the core)", size, CORE_PROC, None),
        (f"replace:{A}", "replace --dry-run, absent needle (the command) / find (the core)",
         size, CORE_PROC, None),
        (f"replace-all:{A}", "replace --all --dry-run, absent needle (the command) / count "
         "(the core)", size, CORE_PROC, None),
    ]
    rows = []
    order = [label for label, _ in groups if label != "mmapfile command vs core"]
    order += [CMD, CORE_PROC]
    for op, title, nbytes, rust_ref, py_ref in op_names:
        labels = sorted({label for (o, label) in samples if o == op},
                        key=lambda l: order.index(l) if l in order else len(order))
        for label in labels:
            t = med(op, label)
            python_row = label.startswith(("CPython", "mmapfile Python"))
            ref_op, ref_label = (py_ref or (None, None)) if python_row else (op, rust_ref)
            if label in (CMD, CORE_PROC):
                # Whole processes are compared with whole processes.
                ref_label = CORE_PROC
            # Hot-map rows are compared with the reference's hot-map row when there is one.
            if ref_label and label.endswith(", hot map") and \
                    (ref_op, ref_label + ", hot map") in samples:
                ref_label += ", hot map"
            ref = med(ref_op, ref_label) if ref_label else None
            res = results[(op, label)]
            extra = ""
            if op in ("lines", "readline", "readline_for", "fileiter") and isinstance(res, int) and t:
                extra = f"{res / t / 1e6:.1f} M lines/s"
            rows.append((title, label, fmt_time(t), fmt_rate(nbytes, t), extra,
                         f"{ref / t:.2f}×" if ref and t else "", str(res)))
    out.append(table(["operation", "method", "median", "throughput", "lines/s",
                      "speed vs reference", "result"], rows))
    out.append("")
    out.append(
        "\"vs reference\" is speed relative to memmap2 + memchr for the Rust scans (the same "
        "operation; hot-map rows against its hot-map row), regex::bytes for the Rust regex, "
        "and for Python rows CPython's mmap doing "
        f"the same thing ({cp_label}; its readline() loop for lines() and file iteration) or "
        "CPython's `re` for finditer. \"result\" is what each "
        "method found (offset, count, line count; rg and grep print matching-line counts), so "
        "the methods can be checked against each other. The std read() loop and rg/grep "
        "have no rfind; CPython's mmap has no count or lines(). The `mmapfile command` rows "
        "(find, `find --reverse`, `find --count`, `grep -c`, `replace --dry-run`) and the "
        "`mmapfile (Rust), as a process` rows (scan_bench doing the same scan with the core's "
        "find/rfind/count/regex_find_iter) are both timed as whole processes, start to exit, "
        "and compared with each other: their ratio is the command's speed relative to the "
        f"core's. They run in pairs, the command right next to the core (which goes first "
        f"alternates), {args.pairs} pairs per round, so their medians are over "
        f"{args.pairs * args.rounds} runs.\n")

    # ---- the command against the core in instructions, which no load moves
    counted = [(op, bench.instructions(command_argv), bench.instructions(core_argv))
               for op, command_argv, core_argv in bench.command_ops(path)]
    if all(c is None and k is None for _, c, k in counted):
        bench.notes.append("valgrind is not installed (`apt-get install valgrind`): the "
                           "command and the core were not counted in instructions.")
    else:
        out.append("## The command against the core in instructions (warm file)\n")
        out.append(table(
            ["scan", "command", "core (scan_bench)", "command / core"],
            [(op, f"{c:,}" if c else "–", f"{k:,}" if k else "–",
              f"{c / k:.4f}" if c and k else "–") for op, c, k in counted]))
        out.append("")
        out.append("User-space instructions of each whole process, all its threads together, "
                   "counted once by valgrind's callgrind on the warm file: the same scans as "
                   "the timed command/core rows. Kernel work (page faults, the map's set-up) "
                   "is not counted; the times above include it.\n")

    # ------------------------------------------------------------------ madvise
    if "madvise" not in args.skip:
        choices = [("none", []), ("Normal", ["--advice", "normal"]),
                   ("Sequential", ["--advice", "sequential"]),
                   ("WillNeed", ["--advice", "willneed"]),
                   ("HugePage", ["--advice", "hugepage"]), ("populate (MAP_POPULATE)", ["--populate"])]
        mad = {}
        for round_no in range(args.rounds):
            shift = round_no % len(choices)
            for name, extra in choices[shift:] + choices[:shift]:
                for rec in bench.rust("mmapfile", path, [f"find:{A}", "lines"], 0, extra):
                    mad.setdefault(("warm", rec["op"], name), []).append(rec["seconds"])
        for round_no in range(args.cold_rounds):
            for name, extra in choices:
                left = evict(path)
                for rec in bench.rust("mmapfile", path, [f"find:{A}"], 0, extra):
                    mad.setdefault(("cold", rec["op"], name), []).append(rec["seconds"])
                    mad.setdefault(("resident", name), []).append(left)
        warm(path)
        rows = []
        base = {k: median(mad.get(k, [])) for k in
                [("warm", f"find:{A}", "none"), ("warm", "lines", "none"),
                 ("cold", f"find:{A}", "none")]}
        for name, _ in choices:
            row = [name]
            for key in [("warm", f"find:{A}"), ("warm", "lines"), ("cold", f"find:{A}")]:
                t = median(mad.get((*key, name), []))
                b = base[(*key, "none")]
                row.append(f"{fmt_time(t)} ({fmt_rate(size, t)}, {b / t:.2f}×)" if t else "–")
            row.append(max(mad.get(("resident", name), [0])))
            rows.append(row)
        out.append("## madvise for a sequential scan (mmapfile, map + scan per run)\n")
        out.append(table(["advice", "warm: find absent", "warm: lines", "cold: find absent",
                          "bytes resident before cold runs (fincore)"], rows))
        out.append("")
        out.append("Ratios are speed relative to giving no advice. Warm rows: "
                   f"{args.rounds} rounds; cold rows: {args.cold_rounds} rounds, the file "
                   "evicted with posix_fadvise(DONTNEED) before each.\n")

        helpful = []
        for key, what in [(("warm", f"find:{A}"), "warm find"), (("warm", "lines"), "warm lines"),
                          (("cold", f"find:{A}"), "cold find")]:
            for name, _ in choices[1:]:
                t = median(mad.get((*key, name), []))
                if t and base[(*key, "none")] / t >= 1.05:
                    helpful.append(f"{name} for {what} ({base[(*key, 'none')] / t:.2f}×)")
        out.append(
            "Advice that beat no advice by 5% or more in this run: "
            + (", ".join(helpful) if helpful else "none") + ". "
            "What the crate does: its scans (`find`, `count`, `lines`, ...) give no advice of "
            "their own. Advice is a property of the whole map, which the caller may have set "
            "for reasons of its own; Sequential also tells the kernel that pages are used once, "
            "so a file that will be scanned again is evicted sooner. A caller about to scan a "
            "whole map can ask for MAP_POPULATE with `MmapOptions::populate()`, or advise the "
            "map itself with `advise()`.\n")

    # ------------------------------------------------------------------ cold
    cold_targets = []  # (op, speed of the command relative to the core, command, core, runs)
    if "cold" not in args.skip:
        cold_methods = [
            ("dd bs=1M", lambda: bench.external(["dd", f"if={path}", "of=/dev/null", "bs=1M"])[0]),
            ("mmapfile (Rust) find", lambda: bench.rust("mmapfile", path, [f"find:{A}"])[0]["seconds"]),
            ("mmapfile (Rust) find, Sequential", lambda: bench.rust(
                "mmapfile", path, [f"find:{A}"], 0, ["--advice", "sequential"])[0]["seconds"]),
            ("memmap2 + memchr find", lambda: bench.rust("memmap2", path, [f"find:{A}"])[0]["seconds"]),
            ("std read() 1 MiB loop find", lambda: bench.rust("read", path, [f"find:{A}"])[0]["seconds"]),
            (f"{cp_label}.find", lambda: bench.python("cpython", cpython, path, [f"find:{A}"])[0]["seconds"]),
        ]
        if "find" in mm_methods:
            cold_methods.append((f"{mm_label} find", lambda: bench.python(
                "mmapfile", mmpy, path, [f"find:{A}"])[0]["seconds"]))
        if rg:
            cold_methods.append(("rg -c -F", lambda: bench.external(
                ["rg", "-c", "-F", NEEDLE_ABSENT.decode(), str(path)])[0]))
        cold_methods.append(("grep -c -F", lambda: bench.external(
            ["grep", "-c", "-F", NEEDLE_ABSENT.decode(), str(path)])[0]))
        cold = {}
        residents = []
        for round_no in range(args.cold_rounds):
            for name, run in cold_methods:
                residents.append(evict(path))
                cold.setdefault(name, []).append(run())
        # The command and the core as whole processes, absent needle and needle near the
        # end, in adjacent pairs (which goes first alternates), more of them than the other
        # methods get: a cold run's time depends on the disk, shared with the whole machine
        # (and the host of a virtual machine), and moves by more than the 5% asked of the
        # command.
        cold_command = {}
        for op, command_argv, core_argv in bench.command_ops(path):
            if op in (F, f"find:{A}"):
                which = "near the end" if op == F else "absent"
                cold_command[op] = ((f"mmapfile command find ({which})", command_argv),
                                    (f"mmapfile (Rust) find ({which}), as a process", core_argv))
        for pair_no in range(args.cold_pairs):
            for sides in cold_command.values():
                for name, argv in sides if pair_no % 2 == 0 else sides[::-1]:
                    residents.append(evict(path))
                    cold.setdefault(name, []).append(bench.external(argv)[0])
        warm(path)
        dd = median(cold["dd bs=1M"])
        names = [name for name, _ in cold_methods]
        names += [name for sides in cold_command.values() for name, _ in sides]
        rows = [(name, fmt_time(median(cold[name])), fmt_rate(size, median(cold[name])),
                 f"{dd / median(cold[name]):.2f}×", len(cold[name])) for name in names]
        out.append("## Cold cache: find an absent needle\n")
        out.append(table(["method", "median", "throughput", "vs dd", "runs"], rows))
        out.append("")
        command_vs_core = []
        for op, ((command_name, _), (core_name, _)) in cold_command.items():
            c, k = median(cold[command_name]), median(cold[core_name])
            cold_targets.append((op, paired_speed(cold[command_name], cold[core_name]), c, k,
                                 len(cold[command_name])))
            command_vs_core.append(f"{command_name}: {fmt_time(c)} against the core's "
                                   f"{fmt_time(k)} (medians), speed "
                                   f"{paired_speed(cold[command_name], cold[core_name]):.2f}× "
                                   "the core's (median of the pairs' ratios) "
                                   f"(runs in order: command {', '.join(fmt_time(x) for x in cold[command_name])}; "
                                   f"core {', '.join(fmt_time(x) for x in cold[core_name])})")
        if command_vs_core:
            out.append(f"The command against the core, cold, both as whole processes, in "
                       f"{args.cold_pairs} adjacent pairs: " + "; ".join(command_vs_core) + ".\n")
        out.append(f"Before each run (the other methods: {args.cold_rounds} rounds) the file "
                   "was evicted with posix_fadvise(DONTNEED); fincore then reported at most "
                   f"{max(residents)} bytes resident.\n")

    # ------------------------------------------------------------------ scaling
    if "scaling" not in args.skip:
        big = max(args.scale_max, size)
        big_path = path if big == size else args.dir / f"text-{big}.txt"
        if big_path != path:
            print(f"generating {big_path}" if generate(big_path, big) else f"using {big_path}",
                  file=sys.stderr)
        warm(big_path)
        sizes = [s for s in [1 << 20, 16 << 20, 256 << 20, 1 << 30, 4 << 30] if s <= big]
        if big not in sizes:
            sizes.append(big)
        scale = {}
        for round_no in range(3):
            for n in sizes:
                repeat = max(1, min(100, (256 << 20) // n))
                for hot in (True, False):
                    extra = (["--hot"] if hot else []) + ["--repeat", str(repeat if hot else 1)]
                    for rec in bench.rust("mmapfile", big_path, [f"find:{A}", "lines"], n, extra):
                        scale.setdefault((n, hot, rec["op"]), []).append(
                            (rec["seconds"], rec["result"]))
        rows = []
        for n in sizes:
            row = [human(n)]
            for hot in (True, False):
                t = median([s for s, _ in scale[(n, hot, f"find:{A}")]])
                row.append(fmt_rate(n, t))
                t = median([s for s, _ in scale[(n, hot, "lines")]])
                count = scale[(n, hot, "lines")][0][1]
                row.append(f"{count / t / 1e6:.1f} M/s")
            rows.append(row)
        out.append("## Scaling: mmapfile find (absent needle) and lines, by map size\n")
        out.append(table(["size", "find, hot map", "lines, hot map", "find, map + scan",
                          "lines, map + scan"], rows))
        out.append("")
        out.append(f"Each size maps the first N bytes of the {human(big)} file. Hot-map columns "
                   "are the median of up to 100 scans of one map (the scan alone); map + scan "
                   "columns time one whole run, so at small sizes the fixed cost of open, mmap "
                   "and munmap shows. Medians of 3 rounds.\n")

    # ---- the targets table, now that the cold runs are in
    for op, what in [(F, "find, needle near the end"), (f"find:{A}", "find, absent needle")]:
        measured = [t for t in cold_targets if t[0] == op]
        if measured:
            _, speed, c, k, runs = measured[0]
            target(f"command vs core, cold: {what}", speed, 0.95,
                   f"medians {fmt_time(c)} vs {fmt_time(k)} (whole processes, {runs} pairs, "
                   "each run after evicting the file; the ratio is the median of the pairs' "
                   "ratios)")
        else:
            target(f"command vs core, cold: {what}", None, 0.95, "cold runs skipped")
    out[targets_at] = "\n".join(["## Targets (ratios measured in this run)\n",
                                  table(["target", "measured", "goal", "", "times"], targets),
                                  ""])

    load_after = os.getloadavg()
    out.append("## Notes\n")
    notes = list(bench.notes)
    notes.append(
        f"Load average at start {load_before[0]:.2f}, at the end {load_after[0]:.2f} (1-minute); "
        "it counts the benchmark's own processes (find and rfind run on every core). Nothing "
        "else is stopped for the run: other work on the machine (or on the host of a virtual "
        "machine) shows as noise in the absolute figures; the ratios come from interleaved "
        "rounds of the same run.")
    out.extend(f"- {n}" for n in notes)
    out.append("")
    text = "\n".join(out)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
