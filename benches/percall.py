#!/usr/bin/env python3
"""Per-call benchmark of the Python module: every method of `mmap.mmap` on a small map,
CPython's builtin `mmap` against `mmapfile`, interleaved in one process.

    python3 benches/percall.py --install-module                # 3.11 and 3.13, print
    python3 benches/percall.py --install-module --out BENCHMARKS.md
    python3 benches/percall.py --versions 3.13 --rounds 6      # reuse the installed venvs
    python3 benches/percall.py --instructions                  # plus callgrind's counts

What it does:
- for each CPython version given (default 3.11 and 3.13, from pyenv or PATH) it uses the venv
  target/percall-venv-VERSION; `--install-module` first (re)makes it from that interpreter
  and runs `pip install ./crates/mmapfile-py` in it (release build, cargo target dir
  target/py-VERSION, the one scripts' tests use too);
- inside that interpreter (`percall.py --worker`) it writes a 64 KiB text file, opens it
  `r+b` and maps it twice, `mmap.mmap(f.fileno(), 0)` and `mmapfile.mmap(f.fileno(), 0)`;
  each call is timed with `timeit` on both maps, round after round, the two interleaved (the
  order alternates each round, so an even number of rounds times each order equally often),
  the loop count calibrated once per call so that one measurement takes about 5 ms; each
  round compiles fresh timers and warms each up (a tenth of the loops) before timing it, so
  the rounds sample the interpreter's memory layout instead of keeping one draw of it;
- it reports the median over the rounds of the time per call, the median over the rounds of
  each round's ratio builtin / mmapfile (above 1: mmapfile is faster; the two of a round
  are measured back to back, so a drift of the machine cancels) and the geometric mean of
  the ratios, with the middle half (first to third quartile) of each call's round ratios
  to show the spread, as markdown; with
  `--out FILE` it also replaces its own section of FILE (between the markers
  `<!-- percall:begin -->` and `<!-- percall:end -->`, appended when missing), leaving the
  rest of the file alone.

The machine's load (`uptime`) is printed with the figures: interleaving keeps the ratios
fair on a busy machine, the nanoseconds are only comparable within one run.
"""

import argparse
import datetime
import glob
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- percall:begin -->"
END = "<!-- percall:end -->"

LOREM = (b"Lorem ipsum dolor sit amet, consectetuer adipiscing elit. Donec egestas, enim et "
         b"ullamcorper lectus ligula rutrum leo.\n")
SIZE = 64 * 1024

# The format of the `unpack_from` call, one object for both modules. `struct` caches compiled
# formats in a dict keyed by the format string; a literal '<I' compiled into two statements is
# two str objects, and the statement compiled first owns the cache's key, so its lookups hit on
# identity while the other's compare strings. Measured: the first of two identical timers over
# one map ran 10-20% faster on 3.11 and about 5% on 3.13, whichever module it timed. Sharing
# the object gives both the same lookup.
UNPACK_FORMAT = "<I"

# (name shown, statement, setup). The statements run with `m` the 64 KiB map, `s` a 4 KiB
# map of the same file, `mod` the module, `fd` the file's descriptor, `fmt` the struct format
# '<I' (one object shared by both modules' statements, see UNPACK_FORMAT); they must leave the
# maps as they found them (same contents, cursor anywhere).
CALLS = [
    ("`len(m)`", "len(m)", ""),
    ("`m[i]`", "m[i]", "i = 1000"),
    ("`m[i:j]` 16 B", "m[i:j]", "i, j = 1000, 1016"),
    ("`m[0:4096]`", "m[0:4096]", ""),
    ("`m[i] = v`", "m[i] = v", "i, v = 1000, m[1000]"),
    ("`m[i:j] = b` 16 B", "m[i:j] = b", "i, j = 1000, 1016; b = m[1000:1016]"),
    ("`m.seek(100); m.read(16)`", "m.seek(100); m.read(16)", ""),
    ("`m.seek(0); m.read(4096)`", "m.seek(0); m.read(4096)", ""),
    ("`m.tell()`", "m.tell()", ""),
    ("`m.seek(77)`", "m.seek(77)", ""),
    ("`m.seek(0); m.write(16 B)`", "m.seek(0); m.write(b)", "b = m[0:16]"),
    ("`m.seek(0); m.read_byte()`", "m.seek(0); m.read_byte()", ""),
    ("`m.seek(0); m.write_byte(v)`", "m.seek(0); m.write_byte(v)", "v = m[0]"),
    ("`m.seek(0); m.readline()`", "m.seek(0); m.readline()", ""),
    ("`m.find(b'elit', 0, 200)`", "m.find(b'elit', 0, 200)", ""),
    ("`m.rfind(b'Lorem', 0, 200)`", "m.rfind(b'Lorem', 0, 200)", ""),
    ("`b'p' in m`", "b'p' in m", ""),
    ("`m.size()`", "m.size()", ""),
    ("`m.move(0, 100, 16)`", "m.move(0, 100, 16)", "m.move(100, 0, 16)"),
    ("`m.flush()` 4 KiB map", "s.flush()", ""),
    ("`for b in s` 4 KiB map", "for _ in s: pass", ""),
    ("`struct.unpack_from('<I', m, 64)`", "unpack_from(fmt, m, 64)",
     "from struct import unpack_from"),
    ("`memoryview(m).release()`", "memoryview(m).release()", ""),
    ("`with mmap(-1, 4096): pass`", "with mod.mmap(-1, 4096): pass", ""),
    ("`mmap.mmap(fd, 0)` + `close()`", "mod.mmap(fd, 0).close()", ""),
]


# ----------------------------------------------------------------------------- the worker


def make_spaces(directory):
    """The test files in `directory`, and for each module the names the statements use."""
    import mmap

    import mmapfile

    path = os.path.join(directory, "lorem.bin")
    with open(path, "wb") as out:
        out.write((LOREM * (SIZE // len(LOREM) + 1))[:SIZE])
    small_path = os.path.join(directory, "small.bin")
    with open(small_path, "wb") as out:
        out.write((LOREM * 64)[:4096])
    file = open(path, "r+b")
    small = open(small_path, "r+b")
    spaces = {}
    for name, module in (("builtin", mmap), ("mmapfile", mmapfile)):
        spaces[name] = {
            "m": module.mmap(file.fileno(), 0),
            "s": module.mmap(small.fileno(), 0),
            "mod": module,
            "fd": file.fileno(),
            "fmt": UNPACK_FORMAT,
        }
    return spaces, (file, small)


def call_namespace(setup, space):
    """A namespace of its own for a call: `space`'s names, then the call's `setup` run in it."""
    namespace = dict(space)
    exec(setup, namespace)
    return namespace


def fresh_timer(stmt, setup, space):
    """A timer of `stmt` over `space`, with its own namespace and compiled code."""
    import timeit

    return timeit.Timer(stmt, globals=call_namespace(setup, space))


def worker(rounds, target_seconds):
    import mmapfile

    directory = tempfile.mkdtemp(prefix="percall-")
    spaces, (file, small) = make_spaces(directory)
    timers = []
    for label, stmt, setup in CALLS:
        # Loops per measurement: calibrated on the builtin, used for both.
        calibration = fresh_timer(stmt, setup, spaces["builtin"])
        number, _ = calibration.autorange()
        once = calibration.timeit(number) / number
        number = max(1, int(target_seconds / max(once, 1e-9)))
        timers.append((label, stmt, setup, number))
    samples = {label: {"builtin": [], "mmapfile": []} for label, _, _, _ in timers}
    for round_index in range(rounds):
        order = ["builtin", "mmapfile"] if round_index % 2 == 0 else ["mmapfile", "builtin"]
        for label, stmt, setup, number in timers:
            # Fresh timers every round, each warmed up before it is timed: one compiled
            # statement and namespace kept for the whole run is one draw of the interpreter's
            # memory layout, which moved a 20 ns call by up to 4% either way from run to run
            # (the same call, the same map); a new draw each round averages that out.
            pair = {name: fresh_timer(stmt, setup, spaces[name]) for name in order}
            for name in order:
                pair[name].timeit(max(1, number // 10))
            for name in order:
                samples[label][name].append(pair[name].timeit(number) / number * 1e9)
    rows = []
    for label, _, _, number in timers:
        builtin = statistics.median(samples[label]["builtin"])
        ours = statistics.median(samples[label]["mmapfile"])
        # The ratio of each round's pair (measured back to back), then their median: a
        # drift of the machine's speed during the run cancels within each pair.
        ratios = [b / m for b, m in zip(samples[label]["builtin"], samples[label]["mmapfile"])]
        quartiles = statistics.quantiles(ratios, n=4)
        rows.append({"call": label, "builtin_ns": builtin, "mmapfile_ns": ours,
                     "ratio": statistics.median(ratios),
                     "ratio_quartiles": [quartiles[0], quartiles[2]], "loops": number})
    for space in spaces.values():
        space["m"].close()
        space["s"].close()
    file.close()
    small.close()
    shutil.rmtree(directory)
    print(json.dumps({
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "module": mmapfile.__file__,
        "rows": rows,
    }))


def count_worker(index, name, loops):
    """Runs call `index` `loops` times on `name`'s map, for a count of its instructions (the
    driver runs this twice under callgrind, with 0 loops and with `loops`)."""
    _, stmt, setup = CALLS[index]
    directory = tempfile.mkdtemp(prefix="percall-")
    spaces, files = make_spaces(directory)
    namespace = call_namespace(setup, spaces[name])
    body = "".join(f"    {part.strip()}\n" for part in stmt.split(";"))
    exec(compile(f"for _ in range({loops}):\n{body}", "<percall>", "exec"), namespace)
    for space in spaces.values():
        space["m"].close()
        space["s"].close()
    for f in files:
        f.close()
    shutil.rmtree(directory)


def instructions(venv_python, index, name, loops):
    """Instructions per call of CALLS[index] on `name`'s map (user space, callgrind)."""
    totals = []
    with tempfile.TemporaryDirectory() as scratch:
        for n in (0, loops):
            out = os.path.join(scratch, f"callgrind.{n}")
            subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                 str(venv_python), str(Path(__file__).resolve()), "--count-worker",
                 str(index), name, str(n)],
                check=True, capture_output=True, cwd=str(ROOT / "target"),
                env=dict(os.environ, PYTHONHASHSEED="0"))
            with open(out) as f:
                totals.append(next(int(line.split()[1]) for line in f
                                   if line.startswith(("summary:", "totals:"))))
    return (totals[1] - totals[0]) / loops


# ----------------------------------------------------------------------------- the driver


def find_python(version):
    pattern = os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")
    found = sorted(glob.glob(pattern),
                   key=lambda p: [int(x) for x in Path(p).parent.parent.name.split(".")
                                  if x.isdigit()])
    if found:
        return found[-1]
    return shutil.which(f"python{version}")


def install_module(python, venv, version):
    """compare.py's install, into the cargo target dir the test scripts use for `version`."""
    from compare import install_module as install  # beside this file (sys.path[0])
    install(python, venv, f"py-{version}")


def load():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def markdown(results, command, load_before, load_after):
    lines = [
        BEGIN,
        "## Per call: the Python module against CPython's builtin `mmap`",
        "",
        "Every method of the class on a 64 KiB file opened `r+b` and mapped whole (`s`: a "
        "4 KiB map), timed with `timeit` in one process per interpreter, builtin and "
        "mmapfile interleaved (each round measures the two back to back, in alternating "
        "order, each round with freshly compiled, warmed-up timers), times are the medians "
        "of the rounds; ratio = builtin time / mmapfile time in each round, median over the "
        "rounds (above 1: mmapfile is faster), with the first to third quartile of the "
        "rounds' ratios beside it. Times include "
        "`timeit`'s loop, as a user's measurement would. The `unpack_from` row passes one "
        "format object to both modules' calls: `struct` caches formats by string, and a "
        "literal compiled into two statements would favour whichever was compiled first.",
        "",
        f"Command: `{command}`  ",
        f"Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
        f"{platform.machine()}, {os.cpu_count()} CPUs  ",
        f"Load before: `{load_before}`  ",
        f"Load after: `{load_after}`",
        "",
    ]
    for result in results:
        rows = result["rows"]
        ratios = [row["ratio"] for row in rows]
        geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        counted = all("instructions" in row for row in rows)
        lines += [
            f"### CPython {result['python']} ({result['rounds']} rounds)",
            "",
            "| call | builtin ns | mmapfile ns | ratio | middle half of the rounds' ratios |"
            + (" builtin instr. | mmapfile instr. | difference |" if counted else ""),
            "|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if counted else ""),
        ]
        for row, ratio in zip(rows, ratios):
            line = (f"| {row['call']} | {row['builtin_ns']:.0f} | "
                    f"{row['mmapfile_ns']:.0f} | {ratio:.2f}x | "
                    f"{row['ratio_quartiles'][0]:.2f}-{row['ratio_quartiles'][1]:.2f} |")
            if counted:
                theirs, ours = row["instructions"]["builtin"], row["instructions"]["mmapfile"]
                line += f" {theirs:.0f} | {ours:.0f} | {ours - theirs:+.0f} |"
            lines.append(line)
        slowest = min(zip(ratios, rows), key=lambda pair: pair[0])
        lines += [
            "",
            f"Geometric mean over {len(rows)} calls: **{geomean:.2f}x**; lowest: "
            f"{slowest[1]['call']} at {slowest[0]:.2f}x.",
            "",
        ]
        if counted:
            lines += [
                "Instructions: executed per call in user space (the interpreter's loop "
                "included), counted by valgrind's callgrind over a loop of the call minus "
                "the same process without it; they do not depend on the machine's load. "
                "System calls count only their user-space side (flush's msync and the "
                "file size check, the constructor's mmap).",
                "",
            ]
    lines.append(END)
    return "\n".join(lines) + "\n"


def replace_section(path, section):
    text = path.read_text() if path.exists() else ""
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(END):].lstrip("\n")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count-worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--instructions", action="store_true",
                        help="also count each call's instructions (user space) under "
                             "valgrind's callgrind, builtin and mmapfile: figures that do "
                             "not depend on the machine's load (about 5 minutes per version)")
    parser.add_argument("--versions", nargs="+", default=["3.11", "3.13"],
                        help="CPython versions to run (default: 3.11 3.13)")
    parser.add_argument("--rounds", type=int, default=16,
                        help="rounds per call, even: half of them time the builtin first "
                             "(default 16)")
    parser.add_argument("--ms", type=float, default=5.0,
                        help="milliseconds per measurement (default 5)")
    parser.add_argument("--install-module", action="store_true",
                        help="(re)make target/percall-venv-VERSION and pip install the module")
    parser.add_argument("--out", help="also write the section into this markdown file")
    args = parser.parse_args()
    if args.rounds < 6 or args.rounds % 2:
        parser.error("--rounds must be even and at least 6 (each order timed equally often)")
    if args.worker:
        worker(args.rounds, args.ms / 1000)
        return
    if args.count_worker:
        index, name, loops = args.count_worker
        count_worker(int(index), name, int(loops))
        return
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind")
    load_before = load()
    results = []
    for version in args.versions:
        python = find_python(version)
        if python is None:
            print(f"CPython {version}: not installed, skipped", file=sys.stderr)
            continue
        venv = ROOT / "target" / f"percall-venv-{version}"
        if args.install_module:
            install_module(python, venv, version)
        venv_python = venv / "bin" / "python"
        if not venv_python.exists():
            sys.exit(f"{venv_python} is missing: run with --install-module")
        print(f"+ CPython {version}: {venv_python} percall.py --worker", file=sys.stderr)
        run = subprocess.run(
            [str(venv_python), str(Path(__file__).resolve()), "--worker",
             "--rounds", str(args.rounds), "--ms", str(args.ms)],
            capture_output=True, text=True, cwd=str(ROOT / "target"))
        if run.returncode != 0:
            sys.exit(f"worker for {version} failed:\n{run.stderr}")
        result = json.loads(run.stdout.strip().splitlines()[-1])
        result["rounds"] = args.rounds
        if args.instructions:
            print(f"+ CPython {version}: instruction counts (callgrind)", file=sys.stderr)
            for index, row in enumerate(result["rows"]):
                # About 2 ms of calls at full speed per count.
                loops = max(200, min(5000, int(2e6 / max(row["builtin_ns"], 1))))
                row["instructions"] = {
                    name: instructions(venv_python, index, name, loops)
                    for name in ("builtin", "mmapfile")}
        results.append(result)
    if not results:
        sys.exit("no interpreter ran")
    shown = ["python3", "benches/percall.py", "--install-module",
             "--versions", *args.versions, "--rounds", str(args.rounds)]
    if args.instructions:
        shown.append("--instructions")
    if args.out:
        shown += ["--out", args.out]
    section = markdown(results, shlex.join(shown), load_before, load())
    print(section)
    if args.out:
        replace_section(Path(args.out), section)


if __name__ == "__main__":
    main()
