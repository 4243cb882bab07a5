"""Shared by the tests that boot the default guest (guest/out) and drive it
from its serial console: its `vessel run` command line, a boot that waits
for the network, free ports, and the ok/FAIL report."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serial_console import Console  # noqa: E402

MARKER = rb"Welcome to the Vessel guest"
TIMEOUT = 600  # seconds per wait: the sanitizer build is several times slower


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether a TCP socket listens on `port`, from /proc (without connecting:
    a migration destination takes the first connection as its stream)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                return True
    return False


def guest_files(out):
    missing = [n for n in ("Image", "initramfs.cpio.gz", "cmdline")
               if not os.path.exists(os.path.join(out, n))]
    if missing:
        raise SystemExit(f"missing {out}/{missing[0]}: build the default guest with `make -C guest`")


def guest_argv(vessel, out, append="", memory="256M"):
    """`vessel run` with the default guest's kernel, initramfs and command
    line (plus `append`), and `memory` of RAM."""
    cmdline = open(os.path.join(out, "cmdline")).read().strip()
    return [vessel, "run", "--kernel", os.path.join(out, "Image"),
            "--initrd", os.path.join(out, "initramfs.cpio.gz"),
            "--append", (cmdline + " " + append).strip(), "--memory", memory]


def boot(vessel, out, nics, log, append="", prefix=(), memory="256M"):
    """Starts the guest with `nics` (--nic values) and waits for its shell and
    the line the init prints once eth0 has an address; returns (console,
    address or None)."""
    argv = list(prefix) + guest_argv(vessel, out, append, memory)
    for nic in nics:
        argv += ["--nic", nic]
    con = Console(argv, log)
    con.expect(re.escape(MARKER), TIMEOUT)
    m = con.expect(rb"vessel: eth0 (\S+)\r*\n", TIMEOUT)
    con.expect(rb"[#$] ", TIMEOUT)
    con.run("dmesg -n 1", TIMEOUT)  # kernel messages would split command output
    return con, m.group(1).decode()


class Checks:
    """check(name, ok, detail) prints one ok/FAIL line; status() is the exit
    status: 1 if any check failed."""

    def __init__(self, prefix=""):
        self.prefix = prefix
        self.failures = []

    def __call__(self, name, ok, detail=""):
        print(("ok   " if ok else "FAIL ") + self.prefix + name + ("" if ok else f": {detail}"),
              flush=True)
        if not ok:
            self.failures.append(name)

    def status(self):
        if self.failures:
            print(f"{len(self.failures)} check(s) failed: {', '.join(self.failures)}")
            return 1
        return 0
