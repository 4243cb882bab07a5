#!/usr/bin/env python3
"""Boots Debian's S-mode U-Boot (u-boot-qemu's u-boot.bin, a raw binary) as
--kernel behind OpenSBI, as `qemu-system-riscv64 -kernel u-boot.bin` does,
and drives its console:

  - the U-Boot banner and its `=>` prompt come up
  - U-Boot's `reset` (an SBI system reset) reboots the machine in place: the
    banner and the prompt come back in the same process; `poweroff` then
    ends `vessel run` with status 0
  - with --no-reboot, `reset` ends `vessel run` with status 2

    boot_uboot.py VESSEL SCRATCH_DIR
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from default_guest import Checks  # noqa: E402
from serial_console import Console  # noqa: E402

UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
TIMEOUT = 300  # seconds per wait: the sanitizer build is several times slower


def to_prompt(con):
    """Waits for the banner, stops the autoboot countdown, waits for `=>`."""
    con.expect(rb"U-Boot 20\d\d\.\d\d", TIMEOUT)
    con.expect(rb"Hit any key to stop autoboot", TIMEOUT)
    con.send("\n")
    con.expect(rb"=> ", TIMEOUT)


def session(vessel, scratch, name, extra, check):
    argv = [vessel, "run", "--kernel", UBOOT, "--memory", "256M"] + extra
    con = Console(argv, open(os.path.join(scratch, f"{name}.log"), "wb"))
    try:
        to_prompt(con)
        check(f"{name}: U-Boot's prompt", True)
        con.send("reset\n")
        if "--no-reboot" in extra:
            status = con.wait_exit(TIMEOUT)
            check(f"{name}: reset ends vessel run with status 2", status == 2, f"status {status}")
            return
        to_prompt(con)
        check(f"{name}: U-Boot's prompt again after reset", True)
        con.send("poweroff\n")
        status = con.wait_exit(TIMEOUT)
        check(f"{name}: poweroff ends vessel run with status 0", status == 0, f"status {status}")
    except (TimeoutError, EOFError, OSError) as e:
        check(f"{name}: U-Boot session", False, repr(e))
    finally:
        con.kill()


def main():
    vessel, scratch = sys.argv[1:3]
    if not os.path.exists(UBOOT):
        print(f"skipped: no {UBOOT} (Debian's u-boot-qemu)")
        return 77
    os.makedirs(scratch, exist_ok=True)
    check = Checks()
    session(vessel, scratch, "reboot", ["--smp", "2"], check)
    session(vessel, scratch, "no-reboot", ["--no-reboot"], check)
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
