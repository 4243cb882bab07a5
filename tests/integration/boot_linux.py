#!/usr/bin/env python3
"""Boots the default guest (real OpenSBI + Linux + busybox) on Vessel and
checks it from the serial console, as a user would:

  - the boot reaches the guest's shell; `uname -m` prints riscv64
  - with --smp 2, Linux reports CPUs 0-1 online
  - the virtio disk mounts; a file written and synced inside the guest is
    found in the image afterwards by the host (debugfs)
  - `fstrim` in the guest gives the disk's free space back to the host: the
    image file becomes sparse
  - `poweroff` ends `vessel run` with exit status 0
  - a qcow2 overlay (made by `vessel img create`) on that disk boots as
    --disk overlay.qcow2,format=qcow2: the guest sees the backing file's
    files, its own writes land in the overlay, a big file deleted and
    trimmed in the guest leaves no data clusters behind, and the overlay
    passes `qemu-img check` (when qemu-img is installed)

    boot_linux.py VESSEL GUEST_OUT_DIR SCRATCH_DIR [VESSEL RUN OPTION...]

The options (e.g. --cpu jit) are added to every `vessel run`.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from serial_console import Console  # noqa: E402

MARKER = rb"Welcome to the Vessel guest"
TIMEOUT = 600  # seconds per wait: the sanitizer build is several times slower


def ext4_read(image, path):
    """`path` in the ext4 filesystem of `image`, read with debugfs: ("file",
    contents), ("missing", "") or ("error", what went wrong). debugfs exits 0
    even when it cannot open the image and reports on stderr, so stderr must
    hold its version line and nothing else (or only "not found")."""
    dump = subprocess.run(["debugfs", "-R", f"cat {path}", image], capture_output=True, text=True)
    errors = [line.strip() for line in dump.stderr.splitlines()
              if not re.match(r"debugfs \d", line)]
    if dump.returncode == 0 and not errors:
        return ("file", dump.stdout)
    if dump.returncode == 0 and errors == [f"{path}: File not found by ext2_lookup"]:
        return ("missing", "")
    return ("error", f"debugfs exited {dump.returncode}: {dump.stderr}")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def main():
    vessel, out, scratch = sys.argv[1:4]
    run_options = sys.argv[4:]
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
            "--memory", "256M", "--smp", "2", "--disk", disk] + run_options
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
            # Kernel messages would land in the middle of command output.
            con.run("dmesg -n 1", TIMEOUT)
            out_ = con.run("uname -m", TIMEOUT)
            check("uname -m prints riscv64", out_.strip() == "riscv64", repr(out_))
            out_ = con.run("cat /sys/devices/system/cpu/online", TIMEOUT)
            check("2 CPUs online", out_.strip() == "0-1", repr(out_))
            out_ = con.run("mount /dev/vda /mnt && cat /mnt/hello.txt", TIMEOUT)
            check("virtio disk mounts", "hello from the vessel data disk" in out_, repr(out_))
            con.run("echo written inside the guest > /mnt/from-guest.txt && sync", TIMEOUT)
            out_ = con.run("fstrim -v /mnt && umount /mnt", TIMEOUT)
            check("fstrim trims the disk", "bytes trimmed" in out_, repr(out_))
            con.send("poweroff\n")
            status = con.wait_exit(TIMEOUT)
            check("poweroff exits with status 0", status == 0, f"exit status {status}")
        except (TimeoutError, EOFError) as e:
            check("console session", False, str(e))
        finally:
            con.kill()

    found = ext4_read(disk, "/from-guest.txt")
    check("the host finds the guest's file in the image",
          found == ("file", "written inside the guest\n"), repr(found))
    # The copy was fully allocated; the trimmed free space became holes.
    allocated = os.stat(disk).st_blocks * 512
    check("the trimmed image is sparse", allocated < os.path.getsize(disk) // 2,
          f"{allocated} of {os.path.getsize(disk)} bytes still allocated")

    overlay = os.path.join(scratch, "overlay.qcow2")
    if os.path.exists(overlay):
        os.remove(overlay)
    made = subprocess.run([vessel, "img", "create", "-f", "qcow2", "-b", disk, "-F", "raw",
                           overlay], capture_output=True, text=True)
    check("vessel img create makes an overlay", made.returncode == 0, made.stderr)
    backing_digest = sha256(disk)
    argv[argv.index(disk)] = overlay + ",format=qcow2"
    with open(os.path.join(scratch, "boot-linux-qcow2.log"), "wb") as log:
        con = Console(argv, log)
        try:
            con.expect(re.escape(MARKER), TIMEOUT)
            con.expect(rb"[#$] ", TIMEOUT)
            # Kernel messages would land in the middle of command output.
            con.run("dmesg -n 1", TIMEOUT)
            out_ = con.run("mount /dev/vda /mnt && cat /mnt/from-guest.txt", TIMEOUT)
            check("the overlay shows the backing file", "written inside the guest" in out_,
                  repr(out_))
            con.run("echo in the overlay > /mnt/overlay.txt && sync", TIMEOUT)
            # ext4 frees a deleted file's blocks when the journal commits:
            # sync before trimming.
            con.run("yes vessel | head -c 8M > /mnt/big && sync && rm /mnt/big && sync && "
                    "fstrim /mnt && umount /mnt", TIMEOUT)
            con.send("poweroff\n")
            status = con.wait_exit(TIMEOUT)
            check("qcow2 boot powers off with status 0", status == 0, f"exit status {status}")
        except (TimeoutError, EOFError) as e:
            check("qcow2 console session", False, str(e))
        finally:
            con.kill()
    if shutil.which("qemu-img"):
        checked = subprocess.run(["qemu-img", "check", overlay], capture_output=True, text=True)
        check("qemu-img check finds the overlay clean", checked.returncode == 0,
              checked.stdout + checked.stderr)
        mapped = subprocess.run(["qemu-img", "map", "--output=json", overlay],
                                capture_output=True, text=True, check=True)
        own_data = sum(e["length"] for e in json.loads(mapped.stdout)
                       if e["data"] and e["depth"] == 0)
        check("the deleted, trimmed 8 MiB file left no data in the overlay",
              own_data < 4 << 20, f"{own_data} bytes of data in the overlay")
        on_disk = os.stat(overlay).st_blocks * 512
        check("the overlay file gave the space back to the host", on_disk < 4 << 20,
              f"{on_disk} bytes allocated to {overlay}")
        flat = os.path.join(scratch, "overlay-flat.raw")
        subprocess.run(["qemu-img", "convert", "-O", "raw", overlay, flat], check=True)
        found = ext4_read(flat, "/overlay.txt")
        check("qemu-img reads the guest's write from the overlay",
              found == ("file", "in the overlay\n"), repr(found))
    check("the backing file is unchanged", sha256(disk) == backing_digest, "its bytes changed")
    found = ext4_read(disk, "/overlay.txt")
    check("the guest's write is not in the backing file", found == ("missing", ""), repr(found))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
