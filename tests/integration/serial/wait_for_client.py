#!/usr/bin/env python3
"""`--serial unix:` with a bare-metal guest that prints a line and powers off:

  - `server,nowait` (QEMU's older spelling): the guest runs at once; with no
    client its line reaches only logfile=, which is truncated first
  - `server` alone waits for a client (QEMU's wait=on): nothing runs before
    one connects; then it reads the line, also the last output before the
    poweroff, and `vessel run` exits with status 0

    wait_for_client.py VESSEL HELLO_ELF SCRATCH_DIR
"""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402

LINE = b"hello from the guest\n"
TIMEOUT = 120


def wait_for_socket(path, proc):
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise TimeoutError(f"no socket {path}")
        time.sleep(0.05)


def main():
    vessel, firmware, scratch = sys.argv[1:4]
    os.makedirs(scratch, exist_ok=True)
    sock = os.path.join(scratch, "wait.sock")
    log = os.path.join(scratch, "wait.log")
    check = Checks()
    run = [vessel, "run", "--firmware", firmware, "--serial"]

    with open(log, "wb") as f:
        f.write(b"stale\n")
    status = subprocess.run(run + [f"unix:{sock},server,nowait,logfile={log}"],
                            stdin=subprocess.DEVNULL, timeout=TIMEOUT).returncode
    check("nowait: the guest runs without a client", status == 0, f"status {status}")
    check("logfile= gets the output, truncated first", open(log, "rb").read() == LINE,
          open(log, "rb").read())
    check("the socket file is removed", not os.path.exists(sock))

    proc = subprocess.Popen(run + [f"unix:{sock},server,logfile={log}"],
                            stdin=subprocess.DEVNULL)
    try:
        wait_for_socket(sock, proc)
        time.sleep(1)
        check("wait=on: the guest waits for a client",
              proc.poll() is None and open(log, "rb").read() == b"")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(TIMEOUT)
            client.connect(sock)
            got = b""
            while True:
                data = client.recv(4096)
                if not data:
                    break
                got += data
        check("the client reads the guest's output up to its poweroff", got == LINE, got)
        status = proc.wait(TIMEOUT)
        check("vessel run exits with status 0", status == 0, f"status {status}")
    except (TimeoutError, OSError, subprocess.TimeoutExpired) as e:
        check("wait=on session", False, repr(e))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
