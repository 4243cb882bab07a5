#!/usr/bin/env python3
"""Boots the Vessel default guest and checks it from its serial console.

    boot-test.py [--out guest/out] [--vmm qemu-system-riscv64] [--smp 2]

Two boots:
  1. the default command line: waits for the boot marker, then types
     commands into the shell (uname, CPUs online, job control, the data disk,
     the RTC, the entropy device) and finally `poweroff`, which must make the
     VMM exit;
  2. vessel.run=cpubench: the benchmark runs instead of the shell and the
     guest powers off by itself.

The VMM is QEMU by default; --vmm takes any program that accepts QEMU's
command line for these options. Prints the time to the boot marker and the
cpubench result; exits non-zero if any check fails.
"""
import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from serial_console import Console  # noqa: E402

MARKER = b"Welcome to the Vessel guest"
CPUBENCH_CHECKSUM = "0x3f1741454ee886ef"  # same on x86-64 and riscv64 builds
DEFAULT_FIRMWARE = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"


def vmm_argv(args, append):
    out = args.out
    return [args.vmm, "-machine", "virt", "-m", args.memory, "-smp", str(args.smp),
            "-nographic", "-bios", args.firmware,
            "-kernel", os.path.join(out, "Image"),
            "-initrd", os.path.join(out, "initramfs.cpio.gz"),
            "-append", append,
            "-drive", f"file={os.path.join(out, 'disk.ext4')},format=raw,if=none,id=d0,snapshot=on",
            "-device", "virtio-blk-device,drive=d0",
            "-device", "virtio-rng-device"]


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")


def interactive_boot(args, checks, log):
    cmdline = open(os.path.join(args.out, "cmdline")).read().strip()
    con = Console(vmm_argv(args, cmdline), log)
    try:
        con.expect(re.escape(MARKER), args.timeout)
        boot_s = time.monotonic() - con.start
        checks.check("boot marker", True)
        print(f"     time to marker: {boot_s:.2f} s")
        con.expect(rb"[#$] ", 30)  # the first prompt

        out = con.run("uname -m")
        checks.check("uname -m", out.strip() == "riscv64", repr(out))
        out = con.run("cat /sys/devices/system/cpu/online")
        want = "0" if args.smp == 1 else f"0-{args.smp - 1}"
        checks.check("cpus online", out.strip() == want, f"{out!r}, want {want!r}")
        out = con.run("sleep 30 & jobs; kill %1")
        checks.check("job control", "Running" in out and "sleep 30" in out, repr(out))
        out = con.run("mount /dev/vda /mnt && cat /mnt/hello.txt; umount /mnt")
        checks.check("data disk", "hello from the vessel data disk" in out, repr(out))
        out = con.run("cat /sys/class/rtc/rtc0/name; date +%Y")
        checks.check("goldfish rtc", "goldfish" in out and int(out.split()[-1]) >= 2024, repr(out))
        out = con.run("cat /sys/class/misc/hw_random/rng_current")
        checks.check("virtio rng", "virtio" in out, repr(out))

        con.send("poweroff\n")
        rc = con.wait_exit(30)
        checks.check("poweroff exits the VMM", rc == 0, f"exit status {rc}")
        return boot_s
    except (TimeoutError, EOFError) as e:
        checks.check("interactive session", False, str(e))
        return None
    finally:
        con.kill()


def bench_boot(args, checks, log):
    con = Console(vmm_argv(args, "console=ttyS0 vessel.run=cpubench"), log)
    try:
        con.expect(re.escape(MARKER), args.timeout)
        phases = []
        while True:
            m = con.expect(rb"cpubench: (phase=(\w+) ms=(\d+) result=0x[0-9a-f]+|total_ms=(\d+) checksum=(0x[0-9a-f]+))\r*\n",
                           args.timeout)
            if m.group(4):
                break
            phases.append((m.group(2).decode(), int(m.group(3))))
        total, checksum = int(m.group(4)), m.group(5).decode()
        print("     cpubench: " + " ".join(f"{n}={ms}ms" for n, ms in phases)
              + f" total_ms={total} checksum={checksum}")
        checks.check("cpubench checksum", checksum == CPUBENCH_CHECKSUM,
                     f"{checksum}, want {CPUBENCH_CHECKSUM}")
        rc = con.wait_exit(30)
        checks.check("vessel.run powers off", rc == 0, f"exit status {rc}")
        return total
    except (TimeoutError, EOFError) as e:
        checks.check("cpubench run", False, str(e))
        return None
    finally:
        con.kill()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(here, "out"), help="guest/out directory")
    p.add_argument("--vmm", default="qemu-system-riscv64", help="VMM binary (QEMU command line)")
    p.add_argument("--firmware", default=DEFAULT_FIRMWARE)
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--memory", default="256M")
    p.add_argument("--timeout", type=float, default=120, help="seconds per wait")
    p.add_argument("--log", default=None, help="console log file (default: OUT/boot-test.log)")
    p.add_argument("--only", choices=["shell", "bench"], help="run one of the two boots")
    args = p.parse_args()

    log_path = args.log or os.path.join(args.out, "boot-test.log")
    checks = Checks()
    with open(log_path, "wb") as log:
        if args.only != "bench":
            interactive_boot(args, checks, log)
        if args.only != "shell":
            bench_boot(args, checks, log)
    print(f"console log: {log_path}")
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
