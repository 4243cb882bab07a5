#!/usr/bin/env python3
"""`--serial unix:PATH,server=on,wait=off,logfile=LOG,logappend=on` with the
default guest, as a management daemon runs it:

  - the socket is made with mode 0600; the log gets the boot, appended
  - a client types into the shell and reads the answers, raw
  - a second client waits (served nothing) until the first leaves, then
    takes over: the shell still answers
  - `poweroff` typed on the socket ends `vessel run` with status 0, and the
    socket file is gone

    socket_console.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import MARKER, TIMEOUT, Checks, guest_argv  # noqa: E402
from serial_console import SocketConsole  # noqa: E402

PROMPT = rb"[#$] "


def wait_for(what, done, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout}s")
        time.sleep(0.2)


def shell_answers(con, name):
    """Types `echo NAME-$((6*7))` and waits for NAME-42 (the typed line
    itself never matches)."""
    con.send(f"echo {name}-$((6*7))\n")
    con.expect(rf"{name}-42\r*\n".encode(), TIMEOUT)


def main():
    vessel, out, scratch = sys.argv[1:4]
    os.makedirs(scratch, exist_ok=True)
    sock = os.path.join(scratch, "console.sock")
    log = os.path.join(scratch, "console.log")
    with open(log, "wb") as f:
        f.write(b"from an earlier run\n")
    argv = guest_argv(vessel, out) + [
        "--serial", f"unix:{sock},server=on,wait=off,logfile={log},logappend=on"]
    check = Checks()
    stderr = open(os.path.join(scratch, "vessel.stderr"), "wb")
    transcript = open(os.path.join(scratch, "clients.log"), "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=stderr)
    clients = []
    try:
        wait_for("socket", lambda: os.path.exists(sock), 60)
        mode = stat.S_IMODE(os.lstat(sock).st_mode)
        check("the socket has mode 0600", mode == 0o600, oct(mode))

        def logged():
            return open(log, "rb").read()
        wait_for("shell marker in the log", lambda: MARKER in logged())
        check("the log was appended to", logged().startswith(b"from an earlier run\n"))

        first = SocketConsole(sock, transcript)
        clients.append(first)
        first.send("\n")
        first.expect(PROMPT, TIMEOUT)
        first.send("dmesg -n 1\n")  # kernel messages would split the answers
        shell_answers(first, "hello")
        check("the shell answers on the socket", True)
        check("the log has the session too", b"hello-42" in logged())

        second = SocketConsole(sock, transcript)
        clients.append(second)
        shell_answers(first, "still-first")
        check("a second client is served nothing while the first is connected",
              not second._read(1.0) and second.buf == b"", second.buf)

        first.close()
        shell_answers(second, "reconnected")
        check("the next client takes over when the first leaves", True)
        second.close()
        third = SocketConsole(sock, transcript)
        clients.append(third)
        shell_answers(third, "again")
        check("a client that reconnects finds the shell", True)

        third.send("poweroff\n")
        status = proc.wait(TIMEOUT)
        check("poweroff on the socket ends vessel run with status 0", status == 0,
              f"status {status}")
        check("the socket file is removed", not os.path.exists(sock))
    except (TimeoutError, EOFError, OSError) as e:
        check("console session", False, repr(e))
    finally:
        for c in clients:
            c.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
