#!/usr/bin/env python3
"""Live migration between two Vessel processes on this host, as a
management layer drives it over QMP:

  - the source guest keeps a shell loop running that rewrites a file in
    RAM as fast as it can (its pages stay dirty during the migration)
  - `migrate tcp:127.0.0.1:PORT` into `vessel run --incoming tcp:…`:
    MIGRATION reaches "completed", query-migrate shows the RAM passes, and
    the source is left "postmigrate"
  - on the destination the loop goes on (its counter keeps growing), the
    shell answers, and `poweroff` exits 0
  - a migration to a port where nobody listens fails, and the source guest
    keeps running

    live_migrate.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp_test import Qmp  # noqa: E402
from default_guest import Checks, free_port, guest_argv, listening  # noqa: E402
from serial_console import Console  # noqa: E402

TIMEOUT = 600


def connect(sock):
    q = Qmp(sock)
    q._message()
    q.cmd("qmp_capabilities")
    return q


def migrated(q):
    while True:
        status = q.event("MIGRATION")["data"]["status"]
        if status in ("completed", "failed", "cancelled"):
            return status


def main():
    vessel, out, scratch = sys.argv[1:4]
    os.makedirs(scratch, exist_ok=True)
    base = guest_argv(vessel, out)
    src_sock, dst_sock = os.path.join(scratch, "src.sock"), os.path.join(scratch, "dst.sock")
    check = Checks()

    src = Console(base + ["--qmp", f"unix:{src_sock},server,wait=off"],
                  open(os.path.join(scratch, "source.log"), "wb"))
    dst = None
    try:
        src.expect(rb"Welcome to the Vessel guest", TIMEOUT)
        src.expect(rb"[#$] ", TIMEOUT)
        src.run("dmesg -n 1", TIMEOUT)
        src.run("(i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/counter; done) & true",
                TIMEOUT)
        # The loop's first file, before anything reads it.
        src.run("until [ -e /tmp/counter ]; do :; done", TIMEOUT)
        q = connect(src_sock)

        r = q.cmd("migrate", {"uri": f"tcp:127.0.0.1:{free_port()}"})
        check("migrate to nobody answers", r == {"return": {}}, r)
        check("... and fails", migrated(q) == "failed", q.cmd("query-migrate"))
        r = q.cmd("query-status")
        check("the source runs on after a failed migration",
              r.get("return", {}).get("status") == "running", r)
        got = src.run("cat /tmp/counter", TIMEOUT)
        check("its guest still answers", got.strip().isdigit(), got)

        port = free_port()
        dst = Console(base + ["--incoming", f"tcp:127.0.0.1:{port}",
                              "--qmp", f"unix:{dst_sock},server,wait=off"],
                      open(os.path.join(scratch, "destination.log"), "wb"))
        deadline = time.monotonic() + TIMEOUT
        while not listening(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        r = q.cmd("migrate-set-parameters", {"downtime-limit": 300})
        check("migrate-set-parameters", r == {"return": {}}, r)
        started = time.monotonic()
        q.cmd("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
        status = migrated(q)
        info = q.cmd("query-migrate").get("return", {})
        check("live migration completes", status == "completed", info)
        ram = info.get("ram", {})
        print(f"     {time.monotonic() - started:.1f} s, {ram.get('dirty-sync-count')} passes, "
              f"{ram.get('transferred', 0) >> 20} MiB sent, downtime {info.get('downtime')} ms")
        check("query-migrate shows the RAM sent", ram.get("transferred", 0) > 0
              and ram.get("normal", 0) > 0 and ram.get("duplicate", 0) > 0, info)
        r = q.cmd("query-status")
        check("the source is postmigrate", r.get("return", {}).get("status") == "postmigrate", r)
        q.cmd("quit")
        check("the source quits", src.wait_exit(TIMEOUT) == 0)

        first = dst.run("cat /tmp/counter", TIMEOUT).strip()
        time.sleep(1)
        second = dst.run("cat /tmp/counter", TIMEOUT).strip()
        check("the guest's loop goes on at the destination",
              first.isdigit() and second.isdigit() and int(second) > int(first),
              f"{first!r} then {second!r}")
        got = dst.run("uname -m", TIMEOUT)
        check("the destination's shell works", got.strip() == "riscv64", got)
        d = connect(dst_sock)
        r = d.cmd("query-status")
        check("the destination runs", r.get("return", {}).get("status") == "running", r)
        dst.send("poweroff\n")
        status = dst.wait_exit(TIMEOUT)
        check("the migrated guest powers off with 0", status == 0, f"status {status}")
    except (TimeoutError, EOFError, OSError) as e:
        check("migration session", False, repr(e))
    finally:
        src.kill()
        if dst:
            dst.kill()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
