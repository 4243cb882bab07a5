#!/usr/bin/env python3
"""Save and restore a running Linux guest through QMP `migrate` and
`vessel run --incoming`, as a user would:

  - the guest writes a file into its RAM-backed /tmp; QMP `migrate` to
    exec:… saves the VM (MIGRATION setup → active → completed); the source
    is then "postmigrate", and `quit` ends it
  - a new `vessel run --incoming file:…` continues the guest: the file is
    still there, the shell works, and a second save from the restored VM
    works too; `poweroff` exits 0
  - truncated, corrupt, foreign-version and wrong-configuration state files
    are refused with one error line and exit status 1

    save_restore.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp_test import Qmp  # noqa: E402
from default_guest import Checks, guest_argv  # noqa: E402
from serial_console import Console  # noqa: E402

TIMEOUT = 600


def main():
    vessel, out, scratch = sys.argv[1:4]
    os.makedirs(scratch, exist_ok=True)
    sock = os.path.join(scratch, "save.sock")
    state = os.path.join(scratch, "vm.state")
    base = guest_argv(vessel, out)
    check = Checks()

    for f in (state, state + ".again"):
        if os.path.exists(f):
            os.remove(f)
    log = open(os.path.join(scratch, "save-source.log"), "wb")
    con = Console(base + ["--qmp", f"unix:{sock},server,wait=off"], log)
    try:
        con.expect(rb"Welcome to the Vessel guest", TIMEOUT)
        con.expect(rb"[#$] ", TIMEOUT)
        con.run("dmesg -n 1; echo marker-$((6*7)) > /tmp/marker", TIMEOUT)
        q = Qmp(sock)
        q._message()
        q.cmd("qmp_capabilities")
        r = q.cmd("migrate", {"uri": f"exec:cat > {state}"})
        check("migrate answers", r == {"return": {}}, r)
        statuses = []
        while not statuses or statuses[-1] not in ("completed", "failed"):
            statuses.append(q.event("MIGRATION")["data"]["status"])
        check("MIGRATION events", statuses == ["setup", "active", "completed"], statuses)
        r = q.cmd("query-migrate")
        check("query-migrate completed", r.get("return", {}).get("status") == "completed", r)
        r = q.cmd("query-status")
        check("the source is postmigrate", r.get("return", {}).get("status") == "postmigrate", r)
        q.cmd("quit")
        check("the source quits", con.wait_exit(TIMEOUT) == 0, "")
    except (TimeoutError, EOFError, OSError) as e:
        check("source session", False, repr(e))
    finally:
        con.kill()

    log = open(os.path.join(scratch, "save-restored.log"), "wb")
    con = Console(base + ["--incoming", f"file:{state}", "--qmp", f"unix:{sock},server,wait=off"],
                  log)
    try:
        got = con.run("cat /tmp/marker", TIMEOUT)
        check("the restored guest still has its file", "marker-42" in got, got)
        got = con.run("uname -m", TIMEOUT)
        check("the restored shell works", got.strip() == "riscv64", got)
        q = Qmp(sock)
        q._message()
        q.cmd("qmp_capabilities")
        q.cmd("migrate", {"uri": f"file:{state}.again"})
        while q.event("MIGRATION")["data"]["status"] not in ("completed", "failed"):
            pass
        r = q.cmd("query-migrate")
        check("the restored VM saves again", r.get("return", {}).get("status") == "completed", r)
        q.cmd("cont")
        got = con.run("echo alive", TIMEOUT)
        check("cont after a save runs the guest on", "alive" in got, got)
        con.send("poweroff\n")
        status = con.wait_exit(TIMEOUT)
        check("the restored guest powers off with 0", status == 0, f"status {status}")
    except (TimeoutError, EOFError, OSError) as e:
        check("restored session", False, repr(e))
    finally:
        con.kill()

    data = open(state, "rb").read()
    bad = {
        "truncated": (data[: len(data) // 2], r"truncated"),
        "corrupt": (data[:-100] + bytes([data[-100] ^ 0xff]) + data[-99:], r"corrupt"),
        "version": (data[:8] + (2).to_bytes(4, "little") + data[12:], r"format 2"),
        "foreign": (b"#!/bin/sh\necho not a state file\n", r"not a Vessel VM state file"),
    }
    for name, (content, pattern) in bad.items():
        path = os.path.join(scratch, f"bad-{name}.state")
        with open(path, "wb") as f:
            f.write(content)
        r = subprocess.run(base + ["--incoming", f"file:{path}"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=TIMEOUT)
        check(f"a {name} state file is refused", r.returncode == 1 and
              re.search(r"^vessel: error: .*" + pattern, r.stderr) is not None
              and len(r.stderr.splitlines()) == 1, f"status {r.returncode}: {r.stderr!r}")
    r = subprocess.run([a if a != "256M" else "128M" for a in base] +
                       ["--incoming", f"file:{state}"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=TIMEOUT)
    check("a VM of another size refuses the state", r.returncode == 1 and
          "saved state" in r.stderr, f"status {r.returncode}: {r.stderr!r}")
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
