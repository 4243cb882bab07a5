#!/usr/bin/env python3
"""`vessel img convert` side by side with `qemu-img convert` on the same files.

    bench/img_convert.py [--vessel build/vessel] [--size-mib 256] [--rounds 6]

Makes a raw source image (a mix of random data, repeated text and holes, so
that sparse detection and compression both have work to do), then times
raw -> qcow2, qcow2 -> raw and raw -> qcow2 with -c. Each case runs once per
tool untimed first (page cache, binaries); then rounds alternate the tool
that goes first, an even number of them so that each tool goes first equally
often. After each run the output is checked with `qemu-img compare` and
fdatasync'ed (outside the time, so that the next run does not share the disk
with its writeback). It is removed only just before the same tool's next
run: on a virtual machine that hands freed memory back to the host (virtio
balloon free page reporting), hundreds of MiB freed seconds before a run made
that run's writes into the page cache up to ten times slower, whichever tool
it was. Prints medians and the speed ratio (qemu-img time / vessel time:
above 1 means Vessel is faster).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_util import balanced_rounds, sync_file


def make_source(path, size_mib):
    chunk = 1 << 20
    text = (b"vessel disk image benchmark " * 40000)[:chunk]
    with open(path, "wb") as f:
        for i in range(size_mib):
            kind = i % 4
            if kind == 0:
                f.write(os.urandom(chunk))      # incompressible
            elif kind == 1:
                f.write(text)                   # compressible
            elif kind == 2:
                f.seek(chunk, os.SEEK_CUR)      # hole
            else:
                f.write(os.urandom(chunk // 2) + bytes(chunk // 2))  # half zeros
        f.truncate(size_mib * chunk)


def timed(argv):
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vessel", default="build/vessel")
    p.add_argument("--qemu-img", default="qemu-img")
    p.add_argument("--size-mib", type=int, default=256)
    p.add_argument("--rounds", type=int, default=6,
                   help="timed rounds per case; an odd number is rounded up to even")
    args = p.parse_args()
    rounds = balanced_rounds(args.rounds)

    with tempfile.TemporaryDirectory(prefix="vessel-img-bench-") as tmp:
        src = os.path.join(tmp, "source.raw")
        make_source(src, args.size_mib)
        qcow2_src = os.path.join(tmp, "source.qcow2")
        subprocess.run([args.qemu_img, "convert", "-f", "raw", "-O", "qcow2", src, qcow2_src],
                       check=True)
        sync_file(src)
        sync_file(qcow2_src)
        cases = [
            ("raw -> qcow2", ["-f", "raw", "-O", "qcow2"], src),
            ("qcow2 -> raw", ["-f", "qcow2", "-O", "raw"], qcow2_src),
            ("raw -> qcow2 -c", ["-f", "raw", "-O", "qcow2", "-c"], src),
        ]
        tools = {"vessel": [args.vessel, "img", "convert"], "qemu-img": [args.qemu_img, "convert"]}
        print(f"source: {args.size_mib} MiB; 1 untimed run per tool, then {rounds} rounds, "
              f"alternating which tool goes first")
        print(f"{'case':18} {'vessel':>10} {'qemu-img':>10} {'speed ratio':>12}")
        for name, flags, source in cases:
            times = {tool: [] for tool in tools}
            # Round -1 is the untimed warm-up; it alternates like the others.
            for r in range(-1, rounds):
                order = list(tools) if r % 2 == 0 else list(reversed(tools))
                for tool in order:
                    dst = os.path.join(tmp, f"out-{tool}")
                    if os.path.exists(dst):
                        os.remove(dst)
                    elapsed = timed(tools[tool] + flags + [source, dst])
                    if r >= 0:
                        times[tool].append(elapsed)
                    same = subprocess.run([args.qemu_img, "compare", source, dst],
                                          stdout=subprocess.DEVNULL)
                    if same.returncode != 0:
                        print(f"{tool} {name}: output differs from the source", file=sys.stderr)
                        return 1
                    sync_file(dst)
            v = statistics.median(times["vessel"])
            q = statistics.median(times["qemu-img"])
            print(f"{name:18} {v:9.3f}s {q:9.3f}s {q / v:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
