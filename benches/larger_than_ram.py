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
- for each of --rounds rounds, runs the command and the core's find next to each other
  (which goes first alternates by round), then dd, grep and rg in an order that rotates by
  round; each run comes after evicting the file (posix_fadvise(DONTNEED), checked with
  fincore: the file's pages only, so the page cache of everything else on the machine is
  left alone, unlike /proc/sys/vm/drop_caches) and is timed as a whole process, with its
  CPU time and major faults (getrusage) and what the file's disk read and wrote meanwhile
  (/proc/diskstats: reads show whether the whole file came from the disk, writes show
  other work competing for it);
- prints markdown (machine, file size, every run with its conditions, medians, ratios
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
import resource
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


def disk_sectors(path):
    """(sectors read, sectors written) so far by the block device holding `path`, from
    /proc/diskstats, or None where that cannot be told (a partition table under it is
    fine; a device-mapper or network file system is not looked through)."""
    dev = os.stat(path).st_dev
    major, minor = os.major(dev), os.minor(dev)
    try:
        with open("/proc/diskstats") as f:
            for line in f:
                fields = line.split()
                if int(fields[0]) == major and int(fields[1]) == minor:
                    return int(fields[5]), int(fields[9])
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_measured(cmd, path):
    """Runs `cmd` to the end; returns (wall seconds, CPU seconds, major faults, GiB the disk
    read, GiB it wrote, stdout). The children's rusage is read around the run, so nothing
    else may run as a child of this process meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    disk_before = disk_sectors(path)
    start = time.perf_counter()
    out = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    disk_after = disk_sectors(path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{shlex.join(map(str, cmd))} failed: {out.stderr}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    faults = after.ru_majflt - before.ru_majflt
    if disk_before and disk_after:
        read, written = ((a - b) * 512 / (1 << 30) for a, b in zip(disk_after, disk_before))
    else:
        read = written = None
    return seconds, cpu, faults, read, written, out.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=compare.parse_size, default=compare.parse_size("30G"),
                        help="size of the test file (default 30G; it should exceed RAM)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mmapfile-bench"),
                        help="where the file is written (default /tmp/mmapfile-bench)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each method (default 3); the command and the core "
                             "run next to each other in each round")
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
    pair = [
        ("mmapfile find (the command)", [command, "find", path, needle]),
        ("mmapfile core find_in (scan_bench)", [scan_bench, path, f"find:{needle}"]),
    ]
    others = [
        ("dd bs=1M", ["dd", f"if={path}", "of=/dev/null", "bs=1M"]),
        ("grep -c -F", ["grep", "-c", "-F", needle, path]),
    ]
    if shutil.which("rg"):
        others.append(("rg -c -F", ["rg", "-c", "-F", needle, path]))
    methods = pair + others

    times, outputs, residents, runs = {}, {}, [], []
    try:
        # One untimed read first: in earlier runs whichever method ran first after the file
        # was written took up to 2.5x its later times (writeback and reclaim of the freshly
        # written file still going on), which rotating the order cannot cancel with 2 rounds.
        compare.evict(path)
        settle = time.perf_counter()
        subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=1M"], capture_output=True)
        settled_in = time.perf_counter() - settle
        for round_no in range(args.rounds):
            shift = round_no % len(others)
            order = (pair if round_no % 2 == 0 else pair[::-1]) + others[shift:] + others[:shift]
            for name, cmd in order:
                residents.append(compare.evict(path))
                load = os.getloadavg()[0]
                at = datetime.datetime.now(datetime.timezone.utc)
                seconds, cpu, faults, read, written, stdout = run_measured(cmd, path)
                times.setdefault(name, []).append(seconds)
                runs.append((round_no + 1, name, at, seconds, cpu, faults, read, written, load))
                last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
                if last.startswith("{"):  # scan_bench's JSON: keep what it found
                    last = str(json.loads(last)["result"])
                outputs[name] = last
                print(f"round {round_no + 1}: {name}: {seconds:.2f} s, CPU {cpu:.2f} s, "
                      f"{faults} major faults, disk read {read} GiB written {written} GiB "
                      f"(load {load:.2f})", file=sys.stderr)
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
            Path(str(path) + ".generated").unlink(missing_ok=True)

    med = {name: statistics.median(v) for name, v in times.items()}
    dd = med["dd bs=1M"]
    command_name, core_name = pair[0][0], pair[1][0]
    rows = []
    for name, _ in methods:
        rows.append((name, len(times[name]), f"{med[name]:.1f} s", f"{min(times[name]):.1f} s",
                     f"{max(times[name]) / min(times[name]) - 1:.0%}",
                     compare.fmt_rate(size, med[name]), f"{dd / med[name]:.2f}×",
                     outputs[name]))

    def gib(x):
        return "?" if x is None else f"{x:.1f}"
    run_rows = [(r, f"{at:%H:%M:%S}", name, f"{seconds:.1f} s", f"{cpu:.1f} s", faults,
                 gib(read), gib(written), f"{load:.2f}")
                for r, name, at, seconds, cpu, faults, read, written, load in runs]
    by_round = {}
    for r, name, *rest in runs:
        by_round.setdefault(r, {})[name] = rest[1]
    pair_ratios = [by_round[r][core_name] / by_round[r][command_name] for r in sorted(by_round)]
    out = ["# A file larger than RAM, cold: mmapfile find against the core, dd and grep\n"]
    out.append(f"Produced by `python3 benches/larger_than_ram.py "
               f"{' '.join(shlex.quote(a) for a in sys.argv[1:])}` at "
               f"{started:%Y-%m-%d %H:%M} UTC. File: {compare.human(size)} ({size} bytes) of "
               f"generated text, the needle `{needle}` at offset {needle_at} (0.1% before the "
               f"end); RAM {ram / (1 << 30):.1f} GiB, so most of the file cannot stay cached. "
               f"{args.rounds} rounds: in each, the command and the core's find ran next to "
               "each other (which went first alternated), then dd, grep and rg in an order "
               "that rotates by round. Each run came after evicting the file with "
               "posix_fadvise(DONTNEED) (fincore then saw at most "
               f"{max(residents)} bytes of it resident; the rest of the page cache was left "
               "alone). Every time is a whole process, start to exit. Generating the file "
               f"took {generated_in:.0f} s; an untimed `dd` read of it ({settled_in:.0f} s) "
               "came before the timed runs, since the first run after writing measured slow "
               "whatever the method.\n")
    out.append(compare.table(["", ""], compare.machine()))
    out.append("")
    out.append(compare.table(["method", "runs", "median", "fastest", "slowest vs fastest",
                              "throughput (median)", "speed vs dd", "found"], rows))
    out.append("")
    out.append(f"The command against the core: {med[command_name]:.1f} s against "
               f"{med[core_name]:.1f} s (medians), speed "
               f"{med[core_name] / med[command_name]:.2f}× "
               f"the core's; fastest runs {min(times[command_name]):.1f} s against "
               f"{min(times[core_name]):.1f} s "
               f"({min(times[core_name]) / min(times[command_name]):.2f}×); round by round "
               f"(the two runs next to each other) "
               + ", ".join(f"{x:.2f}×" for x in pair_ratios) + ".\n")
    out.append("Every run, in the order they ran. CPU is user + system time of the process "
               "(getrusage), major faults are its page faults the kernel counted as major, "
               "and disk read / written are what the file's block device did meanwhile, whoever asked "
               "(/proc/diskstats): a run that read less than the file had some of it cached, "
               "and writes are other work sharing the disk. The load average counts every "
               "process on the machine, this benchmark's own threads included.\n")
    out.append(compare.table(["round", "started (UTC)", "method", "time", "CPU",
                              "major faults", "disk read (GiB)", "disk written (GiB)",
                              "1-min load before"], run_rows))
    out.append("")
    text = "\n".join(out)
    print(text)
    if args.out != "-":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
