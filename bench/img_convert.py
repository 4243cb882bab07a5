#!/usr/bin/env python3
"""`vessel img convert` side by side with `qemu-img convert` on the same files.

    bench/img_convert.py [--vessel build/vessel] [--size-mib 256] [--rounds 5]

Makes a raw source image (a mix of random data, repeated text and holes, so
that sparse detection and compression both have work to do), then times,
alternating the two tools, raw -> qcow2, qcow2 -> raw and raw -> qcow2 with
-c. Prints medians and the speed ratio (qemu-img time / vessel time: above 1
means Vessel is faster). Every output is checked with `qemu-img compare`.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


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
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="vessel-img-bench-") as tmp:
        src = os.path.join(tmp, "source.raw")
        make_source(src, args.size_mib)
        qcow2_src = os.path.join(tmp, "source.qcow2")
        subprocess.run([args.qemu_img, "convert", "-f", "raw", "-O", "qcow2", src, qcow2_src],
                       check=True)
        cases = [
            ("raw -> qcow2", ["-f", "raw", "-O", "qcow2"], src),
            ("qcow2 -> raw", ["-f", "qcow2", "-O", "raw"], qcow2_src),
            ("raw -> qcow2 -c", ["-f", "raw", "-O", "qcow2", "-c"], src),
        ]
        tools = {"vessel": [args.vessel, "img", "convert"], "qemu-img": [args.qemu_img, "convert"]}
        print(f"source: {args.size_mib} MiB; {args.rounds} rounds, alternating")
        print(f"{'case':18} {'vessel':>10} {'qemu-img':>10} {'speed ratio':>12}")
        for name, flags, source in cases:
            times = {tool: [] for tool in tools}
            for r in range(args.rounds):
                order = list(tools) if r % 2 == 0 else list(reversed(tools))
                for tool in order:
                    dst = os.path.join(tmp, f"out-{tool}")
                    if os.path.exists(dst):
                        os.remove(dst)
                    times[tool].append(timed(tools[tool] + flags + [source, dst]))
                    same = subprocess.run([args.qemu_img, "compare", source, dst],
                                          stdout=subprocess.DEVNULL)
                    if same.returncode != 0:
                        print(f"{tool} {name}: output differs from the source", file=sys.stderr)
                        return 1
            v = statistics.median(times["vessel"])
            q = statistics.median(times["qemu-img"])
            print(f"{name:18} {v:9.3f}s {q:9.3f}s {q / v:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
