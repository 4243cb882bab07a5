#!/usr/bin/env python3
"""A reboot resets the machine in place, as on QEMU: the default guest boots
again in the same `vessel run` process.

  - `reboot` in the guest's shell: QMP's RESET event (guest-reset), the
    guest boots again, gets its network address again (virtio-net and the
    user-mode NAT restarted cleanly), finds what it wrote to its disk, and
    its vCPU threads are the same host threads
  - QMP system_reset: RESET (host-qmp-system-reset), the guest boots again
    and query-status says it runs; `poweroff` then ends with status 0
  - with --no-reboot, `reboot` ends `vessel run` with status 2 and SHUTDOWN
    says guest-reset, as QEMU's -no-reboot does

    reset.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp_test import Qmp  # noqa: E402
from default_guest import MARKER, TIMEOUT, Checks, guest_argv  # noqa: E402
from serial_console import Console  # noqa: E402

DISK_MARK = "vessel-reboot-mark"


def booted(con):
    """Waits for a boot to reach the shell with eth0 configured."""
    con.expect(re.escape(MARKER), TIMEOUT)
    con.expect(rb"vessel: eth0 (\S+)\r*\n", TIMEOUT)
    con.expect(rb"[#$] ", TIMEOUT)
    con.run("dmesg -n 1", TIMEOUT)  # kernel messages would split command output


def thread_ids(q):
    return [cpu["thread-id"] for cpu in q.cmd("query-cpus-fast")["return"]]


def connect(sock):
    q = Qmp(sock)
    q._message()
    q.cmd("qmp_capabilities")
    return q


def reboots_in_place(vessel, out, scratch, check):
    sock = os.path.join(scratch, "reset.sock")
    disk = os.path.join(scratch, "reset-disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    argv = guest_argv(vessel, out) + ["--smp", "2", "--nic", "user", "--disk", disk,
                                      "--qmp", f"unix:{sock},server,wait=off"]
    con = Console(argv, open(os.path.join(scratch, "reset.log"), "wb"))
    try:
        booted(con)
        q = connect(sock)
        threads = thread_ids(q)
        con.run(f"printf {DISK_MARK} | dd of=/dev/vda conv=fsync 2>/dev/null", TIMEOUT)

        con.send("reboot\n")
        e = q.event("RESET")
        check("reboot: RESET from the guest",
              e.get("data") == {"guest": True, "reason": "guest-reset"}, e)
        booted(con)
        check("reboot: the guest booted again with its network", True)
        r = q.cmd("query-status")
        check("reboot: query-status running", r.get("return", {}).get("status") == "running", r)
        check("reboot: the same vCPU threads", thread_ids(q) == threads,
              f"{threads} then {thread_ids(q)}")
        mark = con.run(f"head -c {len(DISK_MARK)} /dev/vda", TIMEOUT)
        check("reboot: the disk kept what the guest wrote", mark == DISK_MARK, repr(mark))

        r = q.cmd("system_reset")
        check("system_reset answers", r == {"return": {}}, r)
        e = q.event("RESET")
        check("system_reset: RESET from the host",
              e.get("data") == {"guest": False, "reason": "host-qmp-system-reset"}, e)
        booted(con)
        check("system_reset: the guest booted again", True)
        r = q.cmd("query-status")
        check("system_reset: query-status running",
              r.get("return", {}).get("status") == "running", r)

        con.send("poweroff\n")
        e = q.event("SHUTDOWN")
        check("poweroff: SHUTDOWN", e.get("data") == {"guest": True, "reason": "guest-shutdown"}, e)
        status = con.wait_exit(TIMEOUT)
        check("poweroff: vessel run exits with status 0", status == 0, f"status {status}")
    except (TimeoutError, EOFError, OSError, KeyError) as e:
        check("reboot session", False, repr(e))
    finally:
        con.kill()


def no_reboot_ends(vessel, out, scratch, check):
    sock = os.path.join(scratch, "no-reboot.sock")
    argv = guest_argv(vessel, out) + ["--no-reboot", "--nic", "user",
                                      "--qmp", f"unix:{sock},server,wait=off"]
    con = Console(argv, open(os.path.join(scratch, "no-reboot.log"), "wb"))
    try:
        booted(con)
        q = connect(sock)
        con.send("reboot\n")
        e = q.event("SHUTDOWN")
        check("--no-reboot: SHUTDOWN says guest-reset",
              e.get("data") == {"guest": True, "reason": "guest-reset"}, e)
        status = con.wait_exit(TIMEOUT)
        check("--no-reboot: vessel run exits with status 2", status == 2, f"status {status}")
    except (TimeoutError, EOFError, OSError) as e:
        check("--no-reboot session", False, repr(e))
    finally:
        con.kill()


def main():
    vessel, out, scratch = sys.argv[1:4]
    os.makedirs(scratch, exist_ok=True)
    check = Checks()
    reboots_in_place(vessel, out, scratch, check)
    no_reboot_ends(vessel, out, scratch, check)
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
