#!/usr/bin/env python3
"""VM snapshots inside qcow2 disks, driven as a user of QEMU drives them:
QMP human-monitor-command with savevm, loadvm, delvm and info snapshots,
then blockdev-snapshot-sync and `vessel run --loadvm`.

  - the guest on a qcow2 disk writes a marker into its RAM-backed /tmp and
    onto the disk; savevm s1 (STOP and RESUME around it); both markers
    change; loadvm s1 brings both back (the disk read past the page cache)
    and the shell works on
  - info snapshots lists s1; qemu-img snapshot -l and vessel img snapshot -l
    list it with a non-zero VM SIZE; delvm removes it everywhere
  - bad input: loadvm of a missing name, missing and extra arguments, an
    unknown command, malformed QMP arguments — HMP messages or QMP errors,
    and the VM goes on
  - blockdev-snapshot-sync: the guest's later writes go to the new overlay
    only; query-block shows the chain; the base image does not change
  - savevm in the overlay, quit; qemu-img check and vessel img check find
    every image clean;
    `vessel run --loadvm` continues the guest from that snapshot
  - a writable raw disk, and no disk at all: savevm is refused with QEMU's
    messages

    savevm.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import hashlib
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


def sh(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)


def hmp(q, line):
    r = q.cmd("human-monitor-command", {"command-line": line})
    return r.get("return", r)


def vm_size(listing, name):
    """The VM SIZE column of snapshot `name` in a qemu-img snapshot -l table."""
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1] == name:
            return f"{fields[2]} {fields[3]}"
    return None


def disk_marker(con):
    # Past the page cache: what the disk image holds now.
    return con.run("echo 3 > /proc/sys/vm/drop_caches; head -c 10 /dev/vda; echo", TIMEOUT).strip()


def guest_content(path, raw):
    r = sh("qemu-img", "convert", "-U", "-O", "raw", path, raw)
    if r.returncode != 0:
        return r.stderr
    with open(raw, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def start(argv, sock, log_path):
    if os.path.exists(sock):
        os.remove(sock)
    con = Console(argv + ["--qmp", f"unix:{sock},server,wait=off"], open(log_path, "wb"))
    q = Qmp(sock)
    q._message()
    q.cmd("qmp_capabilities")
    return con, q


def main():
    vessel, out, scratch = sys.argv[1:4]
    os.makedirs(scratch, exist_ok=True)
    sock = os.path.join(scratch, "savevm.sock")
    disk = os.path.join(scratch, "disk.qcow2")
    overlay = os.path.join(scratch, "overlay.qcow2")
    for f in (disk, overlay):
        if os.path.exists(f):
            os.remove(f)
    subprocess.run([vessel, "img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
    base = guest_argv(vessel, out)
    check = Checks()
    marker = base_content = base_bytes = None

    con, q = start(base + ["--disk", f"{disk},format=qcow2"], sock,
                   os.path.join(scratch, "savevm.log"))
    try:
        con.expect(rb"Welcome to the Vessel guest", TIMEOUT)
        con.expect(rb"[#$] ", TIMEOUT)
        con.run("dmesg -n 1; echo one > /tmp/x; printf disk-one.. > /dev/vda; sync", TIMEOUT)

        q.events.clear()
        r = hmp(q, "savevm s1")
        check("savevm s1 prints nothing", r == "", r)
        names = [e["event"] for e in q.events if e["event"] in ("STOP", "RESUME")]
        check("savevm pauses and resumes the VM", names == ["STOP", "RESUME"], names)
        r = q.cmd("query-status")
        check("the VM runs after savevm", r.get("return", {}).get("status") == "running", r)

        con.run("echo two > /tmp/x; printf disk-two.. > /dev/vda; sync", TIMEOUT)
        check("the markers changed", con.run("cat /tmp/x", TIMEOUT).strip() == "two" and
              disk_marker(con) == "disk-two..", "")

        r = hmp(q, "loadvm s1")
        check("loadvm s1 prints nothing", r == "", r)
        got = con.run("cat /tmp/x", TIMEOUT).strip()
        check("loadvm brings the RAM back", got == "one", got)
        got = disk_marker(con)
        check("loadvm brings the disk back", got == "disk-one..", got)
        got = con.run("uname -m", TIMEOUT).strip()
        check("the shell works after loadvm", got == "riscv64", got)

        r = hmp(q, "info snapshots")
        check("info snapshots lists s1",
              re.search(r"List of snapshots present on all disks:\r\nID +TAG +VM SIZE.*\r\n--"
                        r" +s1 +[1-9]", r) is not None, r)
        listing = sh("qemu-img", "snapshot", "-U", "-l", disk).stdout
        size = vm_size(listing, "s1")
        check("qemu-img snapshot -l lists s1 with a VM size", size not in (None, "0 B"), listing)
        listing = sh(vessel, "img", "snapshot", "-l", disk).stdout
        size = vm_size(listing, "s1")
        check("vessel img snapshot -l lists s1 with a VM size", size not in (None, "0 B"), listing)

        # Bad input: messages, never a crash.
        cases = {
            "loadvm nosuch": "Error: Snapshot 'nosuch' does not exist in one or more devices\r\n",
            "loadvm": "loadvm: string expected\r\nTry \"help loadvm\" for more information\r\n",
            "delvm": "delvm: string expected\r\nTry \"help delvm\" for more information\r\n",
            "savevm a b": "savevm: extraneous characters at the end of line\r\n"
                          "Try \"help savevm\" for more information\r\n",
            "savevm \"unterminated": "unterminated string\r\nsavevm: string expected\r\n"
                                     "Try \"help savevm\" for more information\r\n",
            "frobnicate now": "unknown command: 'frobnicate'\r\n",
            "info nothing": "unknown command: 'info nothing'\r\n",
            "delvm nosuch": "",
            "": "",
        }
        for line, want in cases.items():
            r = hmp(q, line)
            check(f"HMP {line!r}", r == want, r)
        for args, want in (({}, "Parameter 'command-line' is missing"),
                           ({"command-line": 5},
                            "Invalid parameter type for 'command-line', expected: string"),
                           ({"command-line": "info snapshots", "bogus": 1},
                            "Parameter 'bogus' is unexpected"),
                           ({"command-line": "info snapshots", "cpu-index": 99},
                            "Parameter 'cpu-index' expects a CPU number")):
            r = q.cmd("human-monitor-command", args)
            check(f"QMP error for {args}", r.get("error", {}).get("desc") == want, r)
        r = q.cmd("blockdev-snapshot-sync", {"device": "virtio9", "snapshot-file": overlay})
        check("blockdev-snapshot-sync of a missing device",
              r.get("error", {}).get("class") == "DeviceNotFound", r)
        r = q.cmd("blockdev-snapshot-sync", {"device": "virtio0", "snapshot-file": disk})
        check("blockdev-snapshot-sync onto the disk itself is refused",
              "in use" in r.get("error", {}).get("desc", ""), r)
        got = con.run("cat /tmp/x", TIMEOUT).strip()
        check("the guest runs on after bad input", got == "one", got)

        r = hmp(q, "delvm s1")
        check("delvm s1", r == "", r)
        r = hmp(q, "info snapshots")
        check("info snapshots after delvm", r == "There is no snapshot available.\r\n", r)
        listing = sh("qemu-img", "snapshot", "-U", "-l", disk).stdout
        check("qemu-img lists no snapshot after delvm", "s1" not in listing, listing)

        # External snapshot: later writes go to the overlay only.
        r = q.cmd("blockdev-snapshot-sync", {"device": "virtio0", "snapshot-file": overlay,
                                             "snapshot-node-name": "top"})
        check("blockdev-snapshot-sync", r == {"return": {}}, r)
        base_content = guest_content(disk, os.path.join(scratch, "base.raw"))
        with open(disk, "rb") as f:
            base_bytes = hashlib.sha256(f.read()).hexdigest()
        con.run("printf disk-three > /dev/vda; dd if=/dev/urandom of=/dev/vda bs=64k seek=3 "
                "count=8 2>/dev/null; sync", TIMEOUT)
        got = disk_marker(con)
        check("the guest reads its new writes", got == "disk-three", got)
        r = q.cmd("query-block")
        inserted = r.get("return", [{}])[0].get("inserted", {})
        image = inserted.get("image", {})
        check("query-block shows the overlay over the base",
              inserted.get("file") == overlay and inserted.get("node-name") == "top" and
              inserted.get("backing_file_depth") == 1 and
              image.get("backing-image", {}).get("filename") == os.path.realpath(disk), r)

        r = hmp(q, "savevm s2")
        check("savevm s2 in the overlay", r == "", r)
        marker = con.run("cat /tmp/x", TIMEOUT).strip()
        q.cmd("quit")
        check("the VM quits", con.wait_exit(TIMEOUT) == 0, "")
    except (TimeoutError, EOFError, OSError) as e:
        check("session", False, repr(e))
    finally:
        con.kill()

    got = guest_content(disk, os.path.join(scratch, "base.raw"))
    check("the base image's disk did not change", got == base_content, got)
    with open(disk, "rb") as f:
        check("the base image file did not change",
              hashlib.sha256(f.read()).hexdigest() == base_bytes, "")
    info = sh("qemu-img", "info", "--backing-chain", overlay).stdout
    check("qemu-img sees the backing chain",
          f"backing file: {os.path.realpath(disk)}" in info and info.count("image:") == 2, info)
    for path in (disk, overlay):
        r = sh("qemu-img", "check", path)
        check(f"qemu-img check {os.path.basename(path)}", r.returncode == 0 and
              "leaked" not in r.stdout, r.stdout + r.stderr)
        r = sh(vessel, "img", "check", path)
        check(f"vessel img check {os.path.basename(path)}", r.returncode == 0,
              r.stdout + r.stderr)
    r = sh("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", disk, overlay)
    check("the overlay differs from the base", r.returncode == 1, r.stdout)
    listing = sh("qemu-img", "snapshot", "-l", overlay).stdout
    check("qemu-img lists s2 in the overlay", vm_size(listing, "s2") not in (None, "0 B"),
          listing)

    # vessel run --loadvm: the guest goes on from s2.
    argv = base + ["--disk", f"{overlay},format=qcow2", "--loadvm", "s2"]
    con = Console(argv, open(os.path.join(scratch, "loadvm.log"), "wb"))
    try:
        got = con.run("cat /tmp/x", TIMEOUT).strip()
        check("--loadvm continues the guest", got == marker, got)
        con.send("poweroff\n")
        check("it powers off with 0", con.wait_exit(TIMEOUT) == 0, "")
    except (TimeoutError, EOFError, OSError) as e:
        check("--loadvm session", False, repr(e))
    finally:
        con.kill()
    r = sh(*(base + ["--disk", f"{overlay},format=qcow2", "--loadvm", "nosuch"]))
    check("--loadvm of a missing snapshot fails with one line", r.returncode == 1 and
          "does not exist" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr)

    # Disks that cannot take a VM snapshot.
    raw = os.path.join(scratch, "disk.raw")
    with open(raw, "wb") as f:
        f.truncate(16 << 20)
    for extra, want in (
            (["--disk", f"{raw},format=raw"],
             "Error: Device 'virtio0' is writable but does not support snapshots\r\n"),
            ([], "Error: no block device can store vmstate for snapshot\r\n")):
        con, q = start(base + extra, sock, os.path.join(scratch, "nodisk.log"))
        try:
            r = hmp(q, "savevm x")
            check(f"savevm refused with {extra or 'no disk'}", r == want, r)
            r = hmp(q, "loadvm x")
            check(f"loadvm refused with {extra or 'no disk'}", r == want, r)
            r = hmp(q, "info snapshots")
            check(f"info snapshots with {extra or 'no disk'}",
                  r == "no block device can store vmstate for snapshot\r\n", r)
            q.cmd("quit")
            check("the VM quits", con.wait_exit(TIMEOUT) == 0, "")
        except (TimeoutError, EOFError, OSError) as e:
            check("session", False, repr(e))
        finally:
            con.kill()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
