#!/usr/bin/env python3
"""Cold scans of a file larger than RAM: `mmapfile find` against the core's find, `dd bs=1M`
and `grep -F`, in one run.

    python3 benches/larger_than_ram.py                  # 30 GiB, 2 rounds, prints markdown
    python3 benches/larger_than_ram.py --out benches/results/larger-than-ram.md

What it does:
- generates a text file of --size bytes (default 30G; it should exceed RAM, which the
  script checks) with compare.py's generator: words in ~137-byte lines, the needle
  `XQZJ-needle-END` 0.1% before the end;
- builds the `mmapfile` command and the core's scan_bench example (release) unless
  --no-build;
- reads the file once untimed (the first run after writing it measured slow for whichever
  method it was);
- for each of --rounds rounds, runs each method once, in an order that rotates by round,
  each after evicting the file (posix_fadvise(DONTNEED); with a file larger than RAM most
  of it cannot be cached anyway), and times it as a whole process;
- prints markdown (machine, file size, the load average around each run, times, ratios
  against dd and the command/core ratio), writes it to --out if given, and deletes the big
  file unless --keep.

Methods: `mmapfile find FILE NEEDLE` (the command); the core's `find_in` through
crates/mmapfile/examples/scan_bench.rs (one process, map + find + exit, the same work as the
command minus its argument parsing and output); `dd if=FILE of=/dev/null bs=1M` (reads the
whole file, the floor for one sequential reader); `grep -c -F NEEDLE FILE`; `rg -c -F` when
ripgrep is installed.
"""

import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the generator, eviction and machine description)

ROOT = compare.ROOT


def ram_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=compare.parse_size, default=compare.parse_size("30G"),
                        help="size of the test file (default 30G; it should exceed RAM)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mmapfile-bench"),
                        help="where the file is written (default /tmp/mmapfile-bench)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="-", help="markdown file to write ('-': print only)")
    parser.add_argument("--keep", action="store_true", help="keep the big file afterwards")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()

    size, ram = args.size, ram_bytes()
    if size <= ram:
        print(f"warning: {compare.human(size)} is not larger than RAM "
              f"({ram / (1 << 30):.1f} GiB); the page cache can hold the file", file=sys.stderr)
    free = shutil.disk_usage(args.dir.parent if not args.dir.exists() else args.dir).free
    path = args.dir / f"text-{size}.txt"
    if not path.exists() and free < size + (4 << 30):
        sys.exit(f"not enough disk space for {compare.human(size)} in {args.dir} "
                 f"({compare.human(free)} free)")
    if not args.no_build:
        for cmd in (["cargo", "build", "--release", "-q", "-p", "mmapfile", "--example",
                     "scan_bench"], ["cargo", "build", "--release", "-q", "-p", "mmapfile-cli"]):
            print("+", " ".join(cmd), file=sys.stderr)
            subprocess.run(cmd, cwd=ROOT, check=True)
    command = ROOT / "target" / "release" / "mmapfile"
    scan_bench = ROOT / "target" / "release" / "examples" / "scan_bench"

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    print(f"generating {path}" if compare.generate(path, size) else f"using {path}",
          file=sys.stderr)
    generated_in = time.perf_counter() - t0
    needle = compare.NEEDLE_END.decode()
    _, needle_at = compare.needle_offsets(size)
    methods = [
        ("mmapfile find (the command)", [command, "find", path, needle]),
        ("mmapfile core find_in (scan_bench)", [scan_bench, path, f"find:{needle}"]),
        ("dd bs=1M", ["dd", f"if={path}", "of=/dev/null", "bs=1M"]),
        ("grep -c -F", ["grep", "-c", "-F", needle, path]),
    ]
    if shutil.which("rg"):
        methods.append(("rg -c -F", ["rg", "-c", "-F", needle, path]))

    times, loads, outputs, residents = {}, {}, {}, []
    try:
        # One untimed read first: in earlier runs whichever method ran first after the file
        # was written took up to 2.5x its later times (writeback and reclaim of the freshly
        # written file still going on), which rotating the order cannot cancel with 2 rounds.
        compare.evict(path)
        settle = time.perf_counter()
        subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=1M"], capture_output=True)
        settled_in = time.perf_counter() - settle
        for round_no in range(args.rounds):
            shift = round_no % len(methods)
            for name, cmd in methods[shift:] + methods[:shift]:
                residents.append(compare.evict(path))
                load = os.getloadavg()[0]
                start = time.perf_counter()
                out = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
                seconds = time.perf_counter() - start
                if out.returncode not in (0, 1):
                    raise RuntimeError(f"{shlex.join(map(str, cmd))} failed: {out.stderr}")
                times.setdefault(name, []).append(seconds)
                loads.setdefault(name, []).append(load)
                last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
                if last.startswith("{"):  # scan_bench's JSON: keep what it found
                    last = str(json.loads(last)["result"])
                outputs[name] = last
                print(f"round {round_no + 1}: {name}: {seconds:.2f} s (load {load:.2f})",
                      file=sys.stderr)
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
            Path(str(path) + ".generated").unlink(missing_ok=True)

    med = {name: statistics.median(v) for name, v in times.items()}
    dd = med["dd bs=1M"]
    command_name, core_name = methods[0][0], methods[1][0]
    rows = []
    for name, _ in methods:
        rows.append((name, " / ".join(f"{t:.1f} s" for t in times[name]), f"{med[name]:.1f} s",
                     compare.fmt_rate(size, med[name]), f"{dd / med[name]:.2f}×",
                     " / ".join(f"{x:.2f}" for x in loads[name]), outputs[name]))
    out = ["# A file larger than RAM, cold: mmapfile find against the core, dd and grep\n"]
    out.append(f"Produced by `python3 benches/larger_than_ram.py "
               f"{' '.join(shlex.quote(a) for a in sys.argv[1:])}` at "
               f"{started:%Y-%m-%d %H:%M} UTC. File: {compare.human(size)} ({size} bytes) of "
               f"generated text, the needle `{needle}` at offset {needle_at} (0.1% before the "
               f"end); RAM {ram / (1 << 30):.1f} GiB, so most of the file cannot stay cached. "
               f"{args.rounds} rounds, each method once per round in an order that rotates "
               "by round, each run after evicting the file with posix_fadvise(DONTNEED) "
               f"(fincore then saw at most {max(residents)} bytes resident). Every time is a "
               "whole process, start to exit. Generating the file took "
               f"{generated_in:.0f} s; an untimed `dd` read of it ({settled_in:.0f} s) came "
               "before the timed runs, since the first run after writing measured slow "
               "whatever the method.\n")
    out.append(compare.table(["", ""], compare.machine()))
    out.append("")
    out.append(compare.table(["method", "rounds", "median", "throughput", "speed vs dd",
                              "1-min load before each run", "found"], rows))
    out.append("")
    ratio = med[core_name] / med[command_name]
    out.append(f"The command against the core: {med[command_name]:.1f} s against "
               f"{med[core_name]:.1f} s (medians), speed {ratio:.2f}× the core's. The load "
               "average counts every process on the machine, this benchmark's own threads "
               "included; other work running at the same time shares the disk and the two "
               "cores, so the rounds are interleaved to give each method the same "
               "conditions.\n")
    text = "\n".join(out)
    print(text)
    if args.out != "-":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
