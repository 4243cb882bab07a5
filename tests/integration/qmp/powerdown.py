#!/usr/bin/env python3
"""QMP `system_powerdown` presses the board's power button; the default
guest's acpid turns KEY_POWER into a clean poweroff:

  - POWERDOWN comes at once, then the guest prints its power-off line
  - SHUTDOWN says the guest shut down (guest-shutdown), and `vessel run`
    exits with status 0

    powerdown.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import os
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
    sock = os.path.join(scratch, "powerdown.sock")
    argv = guest_argv(vessel, out) + ["--smp", "2", "--qmp", f"unix:{sock},server,wait=off"]
    check = Checks()

    con = Console(argv, open(os.path.join(scratch, "powerdown.log"), "wb"))
    try:
        con.expect(rb"Welcome to the Vessel guest", TIMEOUT)
        con.expect(rb"[#$] ", TIMEOUT)
        q = Qmp(sock)
        q._message()
        q.cmd("qmp_capabilities")
        r = q.cmd("system_powerdown")
        check("system_powerdown answers", r == {"return": {}}, r)
        q.event("POWERDOWN")
        con.expect(rb"power button pressed, powering off", TIMEOUT)
        e = q.event("SHUTDOWN")
        check("SHUTDOWN: the guest shut down",
              e.get("data") == {"guest": True, "reason": "guest-shutdown"}, e)
        status = con.wait_exit(TIMEOUT)
        check("vessel run exits with status 0", status == 0, f"status {status}")
    except (TimeoutError, EOFError, OSError) as e:
        check("power button session", False, repr(e))
    finally:
        con.kill()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
