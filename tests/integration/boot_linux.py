#!/usr/bin/env python3
"""Boots the default guest (real OpenSBI + Linux + busybox) on Vessel and
checks it from the serial console, as a user would:

  - the boot reaches the guest's shell; `uname -m` prints riscv64
  - with --smp 2, Linux reports CPUs 0-1 online
  - the virtio disk mounts; a file written and synced inside the guest is
    found in the image afterwards by the host (debugfs)
  - `poweroff` ends `vessel run` with exit status 0

    boot_linux.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from serial_console import Console  # noqa: E402

MARKER = rb"Welcome to the Vessel guest"
TIMEOUT = 600  # seconds per wait: the sanitizer build is several times slower


def main():
    vessel, out, scratch = sys.argv[1:4]
    for name in ("Image", "initramfs.cpio.gz", "disk.ext4", "cmdline"):
        if not os.path.exists(os.path.join(out, name)):
            print(f"missing {out}/{name}: build the default guest with `make -C guest`")
            return 1
    os.makedirs(scratch, exist_ok=True)
    disk = os.path.join(scratch, "boot-disk.ext4")
    shutil.copyfile(os.path.join(out, "disk.ext4"), disk)
    cmdline = open(os.path.join(out, "cmdline")).read().strip()
    argv = [vessel, "run", "--kernel", os.path.join(out, "Image"),
            "--initrd", os.path.join(out, "initramfs.cpio.gz"), "--append", cmdline,
            "--memory", "256M", "--smp", "2", "--disk", disk]
    failures = []

    def check(name, ok, detail=""):
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
        if not ok:
            failures.append(name)

    with open(os.path.join(scratch, "boot-linux.log"), "wb") as log:
        con = Console(argv, log)
        try:
            con.expect(re.escape(MARKER), TIMEOUT)
            con.expect(rb"[#$] ", TIMEOUT)
            out_ = con.run("uname -m", TIMEOUT)
            check("uname -m prints riscv64", out_.strip() == "riscv64", repr(out_))
            out_ = con.run("cat /sys/devices/system/cpu/online", TIMEOUT)
            check("2 CPUs online", out_.strip() == "0-1", repr(out_))
            out_ = con.run("mount /dev/vda /mnt && cat /mnt/hello.txt", TIMEOUT)
            check("virtio disk mounts", "hello from the vessel data disk" in out_, repr(out_))
            con.run("echo written inside the guest > /mnt/from-guest.txt && sync && umount /mnt",
                    TIMEOUT)
            con.send("poweroff\n")
            status = con.wait_exit(TIMEOUT)
            check("poweroff exits with status 0", status == 0, f"exit status {status}")
        except (TimeoutError, EOFError) as e:
            check("console session", False, str(e))
        finally:
            con.kill()

    dump = subprocess.run(["debugfs", "-R", "cat /from-guest.txt", disk],
                          capture_output=True, text=True)
    check("the host finds the guest's file in the image",
          "written inside the guest" in dump.stdout, dump.stdout + dump.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
