#!/usr/bin/env python3
"""Where a Vessel guest spends host time, translated code included.

Run Vessel under perf with the JIT naming its code, then this script:

    perf record -F 2000 -o vessel.perf -- build/vessel run --cpu jit,perfmap=on ...
    bench/jit_profile.py vessel.perf /tmp/perf-PID.map

Debian's perf (6.1) reads /tmp/perf-PID.map only for anonymous mappings,
and the code cache is a memfd mapping, so `perf report` shows bare
addresses there; this script attributes those samples to the names in the
map itself ("guest:PC" for a block, "vessel-jit-NAME" for a stub) and
prints the hottest symbols, host functions and translated blocks together.
"""
import argparse
import bisect
import collections
import subprocess


def read_map(path):
    """Start address -> (size, name); a later line for the same start wins
    (a flushed code cache reuses its addresses)."""
    names = {}
    with open(path) as f:
        for line in f:
            start, size, name = line.rstrip("\n").split(" ", 2)
            names[int(start, 16)] = (int(size, 16), name)
    return names


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("perf_data")
    p.add_argument("perf_map", help="/tmp/perf-PID.map written by --cpu jit,perfmap=on")
    p.add_argument("--top", type=int, default=40, metavar="N", help="rows to print (default 40)")
    args = p.parse_args()

    names = read_map(args.perf_map)
    starts = sorted(names)
    script = subprocess.run(["perf", "script", "-i", args.perf_data, "-F", "ip,sym,dso"],
                            capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    total = 0
    for line in script.splitlines():
        fields = line.split()
        if not fields:
            continue
        total += 1
        if "memfd:vessel-jit" in line:
            ip = int(fields[0], 16)
            i = bisect.bisect_right(starts, ip) - 1
            inside = i >= 0 and ip < starts[i] + names[starts[i]][0]
            counts["[jit] " + (names[starts[i]][1] if inside else "?")] += 1
        else:
            counts[" ".join(fields[1:])] += 1
    for name, n in counts.most_common(args.top):
        print(f"{100 * n / max(total, 1):6.2f}%  {name[:110]}")


if __name__ == "__main__":
    main()
