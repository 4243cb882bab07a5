#!/usr/bin/env python3
"""vesseld's cost, measured against `vessel run` alone in the same run:

  start     `virsh start` → the guest's boot marker, next to `vessel run` →
            the marker (the daemon should add < 50 ms)
  shutdown  `virsh shutdown` → the VM process gone, next to QMP
            system_powerdown on a `vessel run` → the process gone
  rss       vesseld's RSS with 0 and with 20 defined domains (< 20 MiB)
  clients   100 concurrent `virsh list` clients: failures and wall time

Usage: bench/daemon.py [--build build] [--guest guest/out] [--rounds 4]"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from bench_util import balanced_rounds, status_kib, warm_caches  # noqa: E402
from default_guest import MARKER, guest_argv  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402


def wait_for(path, text, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                if text in f.read():
                    return time.monotonic()
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    raise SystemExit(f"no {text!r} in {path}")


def wait_gone(pid, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return time.monotonic()
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return time.monotonic()
        except ChildProcessError:
            pass
        time.sleep(0.002)
    raise SystemExit(f"process {pid} did not end")


def qmp(path, command):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    f.readline()
    for c in ("qmp_capabilities", command):
        f.write(json.dumps({"execute": c}).encode() + b"\n")
        f.flush()
        while b'"return"' not in f.readline():
            pass
    s.close()


def plain_run(vessel, guest, work):
    """(boot ms, shutdown ms) of one `vessel run`."""
    console = os.path.join(work, "plain.console")
    sock = os.path.join(work, "plain.qmp")
    with open(console, "wb") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(guest_argv(vessel, guest) +
                                ["--qmp", f"unix:{sock},server,wait=off"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
        booted = wait_for(console, MARKER)
    time.sleep(1)  # the guest's acpid is listening
    t1 = time.monotonic()
    qmp(sock, "system_powerdown")
    proc.wait(timeout=120)
    return (booted - t0) * 1000, (time.monotonic() - t1) * 1000


def daemon_run(daemon, name):
    """(boot ms, shutdown ms) of one `virsh start` / `virsh shutdown`."""
    console = daemon.console_log(name)
    if os.path.exists(console):
        os.unlink(console)
    t0 = time.monotonic()
    daemon.virsh("start", name)
    booted = wait_for(console, MARKER)
    with open(os.path.join(daemon.state, "run", name + ".json")) as f:
        pid = json.load(f)["pid"]
    time.sleep(1)
    t1 = time.monotonic()
    daemon.virsh("shutdown", name)
    gone = wait_gone(pid)
    return (booted - t0) * 1000, (gone - t1) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    parser.add_argument("--guest", default=os.path.join(HERE, "..", "guest", "out"))
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    vessel = os.path.abspath(os.path.join(args.build, "vessel"))
    vesseld = os.path.abspath(os.path.join(args.build, "vesseld"))
    guest = os.path.abspath(args.guest)
    work = tempfile.mkdtemp(prefix="vessel-bench-daemon-")
    warm_caches([os.path.join(guest, "Image"), os.path.join(guest, "initramfs.cpio.gz")],
                [vessel, vesseld])
    daemon = Daemon(vesseld, os.path.join(work, "daemon"))
    try:
        with open(os.path.join(work, "vm.xml"), "w") as f:
            f.write(domain_xml("vm", guest))
        daemon.virsh("define", os.path.join(work, "vm.xml"))
        plain, managed = [], []
        for i in range(balanced_rounds(args.rounds)):
            runs = [(plain, lambda: plain_run(vessel, guest, work)),
                    (managed, lambda: daemon_run(daemon, "vm"))]
            for results, run in (runs if i % 2 == 0 else reversed(runs)):
                results.append(run())
        print(f"{'':10} {'vessel run':>12} {'vesseld':>12} {'added':>10}")
        for k, label in enumerate(("start", "shutdown")):
            a = statistics.median(r[k] for r in plain)
            b = statistics.median(r[k] for r in managed)
            print(f"{label:10} {a:10.0f}ms {b:10.0f}ms {b - a:+8.0f}ms")

        rss0 = status_kib(daemon.proc.pid, "VmRSS")
        for n in range(20):
            path = os.path.join(work, f"d{n}.xml")
            with open(path, "w") as f:
                f.write(domain_xml(f"d{n}", guest))
            daemon.virsh("define", path)
        rss20 = status_kib(daemon.proc.pid, "VmRSS")
        print(f"rss        {rss0 / 1024:.1f} MiB with 0 domains, {rss20 / 1024:.1f} MiB with 21")

        t0 = time.monotonic()
        clients = [subprocess.Popen(["virsh", "-q", "-c", daemon.uri, "list", "--all"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(100)]
        failed = sum(c.wait() != 0 for c in clients)
        print(f"clients    100 concurrent virsh list: {failed} failed, "
              f"{(time.monotonic() - t0) * 1000:.0f} ms in all")
    finally:
        daemon.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
