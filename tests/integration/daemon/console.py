"""virsh console on a running domain, through a pseudo-terminal as a user
types it: the guest's shell answers, Ctrl-] detaches (virsh exits 0, the VM
runs on), a second console later finds the shell again, and the console of
a domain that is not running is refused. Everything the guest wrote is in
the domain's console log too.
Usage: console.py VESSELD GUEST_OUT WORKDIR"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from serial_console import Console  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402

TIMEOUT = 120


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    daemon = Daemon(vesseld, work)
    try:
        daemon.define(domain_xml("vm", guest_out))
        r = daemon.virsh("console", "vm", check=False)
        check("the console of a shut-off domain is refused", r.returncode != 0, r.stdout)
        daemon.virsh("start", "vm")
        check("the guest boots", daemon.wait_booted("vm"))

        with open(os.path.join(work, "console1.log"), "wb") as log:
            con = Console(["virsh", "-c", daemon.uri, "console", "vm"], log)
            con.expect(rb"Escape character is \^\]", TIMEOUT)
            time.sleep(1)  # virsh puts its terminal in raw mode after that line
            con.send("\n")
            out = con.run("echo hello-$((6*7))", TIMEOUT)
            check("the shell answers through virsh console", "hello-42" in out, out)
            con.send("\x1d")  # Ctrl-]
            check("Ctrl-] detaches: virsh exits 0", con.wait_exit(30) == 0)
        check("the VM runs on", daemon.state_of("vm").startswith("running"), daemon.state_of("vm"))

        with open(os.path.join(work, "console2.log"), "wb") as log:
            con = Console(["virsh", "-c", daemon.uri, "console", "vm"], log)
            con.expect(rb"Escape character is \^\]", TIMEOUT)
            time.sleep(1)  # virsh puts its terminal in raw mode after that line
            con.send("\n")
            out = con.run("uname -m", TIMEOUT)
            check("a second console finds the shell again", "riscv64" in out, out)
            con.send("poweroff\n")
            status = con.wait_exit(TIMEOUT)
            check("poweroff typed there ends the VM, and virsh with it", status is not None, status)
        check("shut off (shutdown)", daemon.wait_state("vm", "shut off") == "shut off (shutdown)",
              daemon.state_of("vm"))
        check("the console log holds the session",
              daemon.wait_console("vm", b"hello-42") and daemon.wait_console("vm", b"riscv64"))
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
