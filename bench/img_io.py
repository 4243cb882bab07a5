#!/usr/bin/env python3
"""4 KiB reads and writes: `vessel img bench` side by side with `qemu-img bench`.

    bench/img_io.py [--vessel build/vessel] [--size-mib 128] [--count 75000] [--rounds 6]

Both tools get the same flags: -c COUNT -d 64 -s 4096 -S STEP -t CACHE. STEP is
4 KiB times a large odd prime (1009 by default), so successive requests land
far apart and, since the offset wraps modulo the image size (a power of two
times 4 KiB), every 4 KiB block is visited before any is visited twice.
qemu-img bench has no random mode; this spread is the stand-in for one.

Cases: reads of a raw and of a qcow2 image filled with random data, and
writes (-w) to a preallocated raw file and to a fresh, empty qcow2 image
(made again before every run, so each write allocates).

Both tools do the same work and time the same part of it: the same cache
mode (--cache, default writeback, the tools' own default), the requests
inside the "Run completed in" time, and the close after it (qcow2 metadata,
and one fdatasync of a written image unless --cache unsafe). A
prepared target is fdatasync'ed before its run, so that no tool pays for
writing back what preparing it left dirty. Each case runs once per tool
untimed first (page cache, binaries); then rounds alternate the tool that
goes first, an even number of them so that each tool goes first equally
often.

Prints the medians of the "Run completed in" times, of the wall times
(process start to exit, which include opening and closing the image), and the
speed ratio qemu-img time / vessel time (above 1: Vessel is faster). Written
qcow2 images are checked with `qemu-img check`.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from bench_util import balanced_rounds, sync_file

RUN_LINE = re.compile(r"^Run completed in ([0-9.]+) seconds\.$", re.M)


def timed(argv):
    start = time.monotonic()
    out = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout
    wall = time.monotonic() - start
    m = RUN_LINE.search(out)
    if not m:
        raise RuntimeError(f"{argv[0]}: no 'Run completed' line in {out!r}")
    return float(m.group(1)), wall


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vessel", default="build/vessel")
    p.add_argument("--qemu-img", default="qemu-img")
    p.add_argument("--size-mib", type=int, default=128)
    p.add_argument("--count", type=int, default=75000)
    p.add_argument("--depth", type=int, default=64)
    p.add_argument("--prime", type=int, default=1009, help="step = 4 KiB * this")
    p.add_argument("--cache", default="writeback",
                   help="-t for both tools: writeback (their default), none (O_DIRECT), ...")
    p.add_argument("--rounds", type=int, default=6,
                   help="timed rounds per case; an odd number is rounded up to even")
    args = p.parse_args()
    rounds = balanced_rounds(args.rounds)
    size = args.size_mib << 20
    flags = ["-c", str(args.count), "-d", str(args.depth), "-s", "4096",
             "-S", str(4096 * args.prime), "-t", args.cache]

    with tempfile.TemporaryDirectory(prefix="vessel-img-io-") as tmp:
        filled_raw = os.path.join(tmp, "filled.raw")
        with open(filled_raw, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        filled_qcow2 = os.path.join(tmp, "filled.qcow2")
        subprocess.run([args.qemu_img, "convert", "-f", "raw", "-O", "qcow2", filled_raw,
                        filled_qcow2], check=True)
        sync_file(filled_raw)
        sync_file(filled_qcow2)

        def prepare_fresh_qcow2(path):
            subprocess.run([args.qemu_img, "create", "-q", "-f", "qcow2", path, str(size)],
                           check=True)

        def prepare_raw_copy(path):
            subprocess.run(["cp", filled_raw, path], check=True)

        # (name, fmt, write, path or None, prepare(path) or None)
        cases = [
            ("read raw", "raw", False, filled_raw, None),
            ("read qcow2", "qcow2", False, filled_qcow2, None),
            ("write raw", "raw", True, None, prepare_raw_copy),
            ("write qcow2 fresh", "qcow2", True, None, prepare_fresh_qcow2),
        ]
        tools = {"vessel": [args.vessel, "img", "bench"], "qemu-img": [args.qemu_img, "bench"]}
        print(f"image: {args.size_mib} MiB; {' '.join(flags)}; 1 untimed run per tool, then "
              f"{rounds} rounds, alternating which tool goes first")
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        print(f"{'case':18} {'vessel':>9} {'qemu-img':>9} {'ratio':>6}   "
              f"{'vessel wall':>11} {'qemu wall':>9} {'ratio':>6}")
        for name, fmt, write, path, prepare in cases:
            runs = {tool: [] for tool in tools}
            walls = {tool: [] for tool in tools}
            # Round -1 is the untimed warm-up; it alternates like the others.
            for r in range(-1, rounds):
                order = list(tools) if r % 2 == 0 else list(reversed(tools))
                for tool in order:
                    target = path
                    if prepare:
                        target = os.path.join(tmp, f"target.{fmt}")
                        prepare(target)
                        sync_file(target)
                    argv = tools[tool] + ["-f", fmt] + (["-w"] if write else []) + flags
                    run, wall = timed(argv + [target])
                    if r >= 0:
                        runs[tool].append(run)
                        walls[tool].append(wall)
                    if write and fmt == "qcow2":
                        check = subprocess.run([args.qemu_img, "check", target],
                                               stdout=subprocess.DEVNULL)
                        if check.returncode != 0:
                            print(f"{tool} {name}: qemu-img check failed", file=sys.stderr)
                            return 1
            v, q = statistics.median(runs["vessel"]), statistics.median(runs["qemu-img"])
            vw, qw = statistics.median(walls["vessel"]), statistics.median(walls["qemu-img"])
            print(f"{name:18} {v:8.3f}s {q:8.3f}s {q / v:5.2f}x   "
                  f"{vw:10.3f}s {qw:8.3f}s {qw / vw:5.2f}x")
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
