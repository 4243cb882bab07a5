#!/usr/bin/env python3
"""Boots the Vessel default guest and checks it from its serial console.

    boot-test.py [--out guest/out] [--vmm qemu-system-riscv64] [--smp 2] [--no-net]

Two boots:
  1. the default command line, with a virtio-net NIC on QEMU's user network
     (guest port 80 forwarded to a free host port): waits for the boot
     marker and the DHCP lease line, then types commands into the shell
     (uname, CPUs online, job control, the data disk, the RTC, the entropy
     device, ping to the gateway, a download from a host HTTP server checked
     by MD5), fetches the guest's web page from the host, and finally
     `poweroff`, which must make the VMM exit;
  2. vessel.run=cpubench, without a NIC: the benchmark runs instead of the
     shell, nothing about networking is printed, and the guest powers off by
     itself.

The VMM is QEMU by default; --vmm takes any program that accepts QEMU's
command line for these options (--no-net leaves out the NIC and the network
checks). Prints the time to the boot marker and the cpubench result; exits
non-zero if any check fails.
"""
import argparse
import hashlib
import http.server
import os
import re
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from serial_console import Console  # noqa: E402

MARKER = b"Welcome to the Vessel guest"
GUEST_ADDR = b"10.0.2.15/24"  # the first DHCP address of QEMU's and libslirp's user network
HOST_ADDR = "10.0.2.2"  # the host (and gateway) as the guest sees it on that network
CPUBENCH_CHECKSUM = "0x3f1741454ee886ef"  # same on x86-64 and riscv64 builds
DEFAULT_FIRMWARE = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"


def vmm_argv(args, append, http_port=None):
    """QEMU's command line; with http_port, a user-network NIC that forwards
    127.0.0.1:http_port on the host to the guest's port 80."""
    out = args.out
    argv = [args.vmm, "-machine", "virt", "-m", args.memory, "-smp", str(args.smp),
            "-nographic", "-bios", args.firmware,
            "-kernel", os.path.join(out, "Image"),
            "-initrd", os.path.join(out, "initramfs.cpio.gz"),
            "-append", append,
            "-drive", f"file={os.path.join(out, 'disk.ext4')},format=raw,if=none,id=d0,snapshot=on",
            "-device", "virtio-blk-device,drive=d0",
            "-device", "virtio-rng-device"]
    if http_port is not None:
        argv += ["-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{http_port}-:80",
                 "-device", "virtio-net-device,netdev=n0"]
    return argv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BlobServer:
    """An HTTP server on the host's loopback that serves one random blob at
    /blob; the guest reaches it as HOST_ADDR:port through the user network."""

    def __init__(self, size=1 << 20):
        blob = os.urandom(size)
        self.md5 = hashlib.md5(blob).hexdigest()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/blob":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()
                self.wfile.write(blob)

            def log_message(self, *_):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def http_get(url, timeout):
    """The body of url; retries while the forwarded port is not serving yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.read().decode(errors="replace")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


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
    http_port = None if args.no_net else free_port()
    con = Console(vmm_argv(args, cmdline, http_port), log)
    try:
        con.expect(re.escape(MARKER), args.timeout)
        boot_s = time.monotonic() - con.start
        checks.check("boot marker", True)
        print(f"     time to marker: {boot_s:.2f} s")
        if http_port is not None:
            m = con.expect(rb"vessel: eth0 (.*?)\r*\n", 30)
            checks.check("dhcp lease", m.group(1) == GUEST_ADDR, f"{m.group(1)!r}, want {GUEST_ADDR!r}")
            print(f"     time to lease: {time.monotonic() - con.start:.2f} s")
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
        if http_port is not None:
            network_checks(args, checks, con, http_port)

        con.send("poweroff\n")
        rc = con.wait_exit(30)
        checks.check("poweroff exits the VMM", rc == 0, f"exit status {rc}")
        return boot_s
    except (TimeoutError, EOFError) as e:
        checks.check("interactive session", False, str(e))
        return None
    finally:
        con.kill()


def network_checks(args, checks, con, http_port):
    out = con.run(f"ping -c 1 -W 5 {HOST_ADDR}")
    checks.check("ping gateway", " 0% packet loss" in out, repr(out))
    blob = BlobServer()
    try:
        out = con.run(f"wget -q -O - http://{HOST_ADDR}:{blob.port}/blob | md5sum", 60)
        checks.check("wget from host", out.split()[:1] == [blob.md5], f"{out!r}, want {blob.md5}")
    finally:
        blob.close()
    try:
        page = http_get(f"http://127.0.0.1:{http_port}/", 30)
        checks.check("guest httpd from host", "Vessel guest" in page, repr(page[:200]))
    except OSError as e:
        checks.check("guest httpd from host", False, str(e))


def bench_boot(args, checks, log):
    con = Console(vmm_argv(args, "console=ttyS0 vessel.run=cpubench"), log)
    try:
        con.expect(re.escape(MARKER), args.timeout)
        # Up to (not through) the first cpubench line: nothing from /init.
        m = con.expect(rb"(?s)(.*?)(?=cpubench: )", args.timeout)
        checks.check("no NIC: no network output", b"vessel:" not in m.group(1), repr(m.group(1)))
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
    p.add_argument("--no-net", action="store_true", help="no NIC and no network checks")
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
