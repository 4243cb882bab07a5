#!/usr/bin/env python3
"""QMP, QEMU's machine protocol, as a management client sees it. The same
script runs against Vessel (`vessel run --qmp …`) and against
`qemu-system-riscv64 -qmp …`, for the commands both have:

  - greeting; nothing but qmp_capabilities before negotiation; negotiation
    once; "id" echoed; unknown commands, malformed JSON, non-objects, bad
    members and unexpected arguments answered with QMP errors, the
    connection kept
  - query-status; stop → STOP and "paused"; cont → RESUME and "running"
  - query-cpus-fast, query-block (one virtio disk)
  - quit → SHUTDOWN (host-qmp-quit) and the process ends

    qmp_test.py vessel|qemu BINARY GUEST_OUT_DIR SCRATCH_DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402

FIRMWARE = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
TIMEOUT = 120


class Qmp:
    def __init__(self, path):
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(TIMEOUT)
        self.buf = b""
        self.events = []

    def _message(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("QMP connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def reply(self):
        """The next reply; events that come first are kept in self.events."""
        while True:
            msg = self._message()
            if "event" in msg:
                self.events.append(msg)
            else:
                return msg

    def send_raw(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())
        return self.reply()

    def cmd(self, name, arguments=None, **extra):
        msg = {"execute": name, **extra}
        if arguments is not None:
            msg["arguments"] = arguments
        return self.send_raw(json.dumps(msg))

    def event(self, name):
        deadline = time.monotonic() + TIMEOUT
        while True:
            for e in self.events:
                if e["event"] == name:
                    self.events.remove(e)
                    return e
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {name} event")
            msg = self._message()
            if "event" in msg:
                self.events.append(msg)


def error_class(reply):
    return reply.get("error", {}).get("class")


def main():
    kind, binary, out, scratch = sys.argv[1:5]
    os.makedirs(scratch, exist_ok=True)
    sock = os.path.join(scratch, f"qmp-{kind}.sock")
    disk = os.path.join(scratch, f"qmp-{kind}-disk.img")
    with open(disk, "wb") as f:
        f.truncate(8 << 20)
    kernel = [os.path.join(out, "Image"), os.path.join(out, "initramfs.cpio.gz"),
              open(os.path.join(out, "cmdline")).read().strip()]
    if kind == "vessel":
        argv = [binary, "run", "--kernel", kernel[0], "--initrd", kernel[1], "--append", kernel[2],
                "--memory", "256M", "--disk", disk, "--serial", f"file:{scratch}/qmp-vessel.log",
                "--qmp", f"unix:{sock},server,wait=off"]
    else:
        argv = [binary, "-machine", "virt", "-m", "256M", "-display", "none", "-no-reboot",
                "-bios", FIRMWARE, "-kernel", kernel[0], "-initrd", kernel[1], "-append", kernel[2],
                "-drive", f"file={disk},format=raw,if=none,id=virtio0",
                "-device", "virtio-blk-device,drive=virtio0",
                "-serial", f"file:{scratch}/qmp-qemu.log", "-qmp", f"unix:{sock},server,wait=off"]
    check = Checks(f"{kind}: ")

    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        q = Qmp(sock)
        greeting = q._message()
        check("greeting", "QMP" in greeting and "version" in greeting["QMP"]
              and isinstance(greeting["QMP"].get("capabilities"), list), greeting)
        r = q.cmd("query-status")
        check("commands wait for negotiation", error_class(r) == "CommandNotFound", r)
        r = q.cmd("qmp_capabilities", id="neg-1")
        check("qmp_capabilities", r == {"return": {}, "id": "neg-1"}, r)
        r = q.cmd("qmp_capabilities")
        check("negotiation only once", error_class(r) == "CommandNotFound", r)
        r = q.cmd("no-such-command", id=7)
        check("unknown command", error_class(r) == "CommandNotFound" and r.get("id") == 7, r)
        r = q.send_raw('{"execute": "query-status", "arguments": [1]}')
        check("arguments must be an object", error_class(r) == "GenericError", r)
        r = q.send_raw('{"execute": "query-status", "bogus": 1}')
        check("unexpected member", error_class(r) == "GenericError", r)
        r = q.send_raw('{"arguments": {}}')
        check("execute missing", error_class(r) == "GenericError", r)
        r = q.send_raw('[1, 2]')
        check("not an object", error_class(r) == "GenericError", r)
        r = q.cmd("query-status", {"verbose": True})
        check("unexpected argument", error_class(r) == "GenericError", r)
        q.sock.sendall(b'{"execute": "query-status"')
        r = q.send_raw(' }{"execute": "query-status", "id": "two-in-one"}')
        check("split and joined messages", r.get("return", {}).get("running") is True, r)
        r = q.reply()
        check("the second of two joined messages", r.get("id") == "two-in-one", r)

        # Hostile input: the server answers with errors and stays up. (QEMU
        # answers invalid UTF-8 twice, Vessel once: that one is Vessel's.)
        hostile = [b'{"execute": "query-status", "id": "\xff\xfe"}',
                   b'{"execute": "' + b'x' * (2 << 20) + b'"}',
                   b'{"execute": ' + b'[' * (1 << 20) + b']' * (1 << 20) + b'}'
                   ] if kind == "vessel" else []
        for garbage in hostile + [b'{"execute": ' + b'[' * 100 + b']' * 100 + b'}',
                        b'{"execute": "qmp_capabilities", "arguments": {"enable": 7}}']:
            r = q.send_raw(garbage)
            check(f"hostile input {garbage[:24]!r}… gets an answer", isinstance(r, dict), r)
        r = q.cmd("query-status")
        check("query-status running", r.get("return", {}).get("running") is True
              and r["return"].get("status") == "running", r)
        r = q.cmd("stop")
        check("stop", r == {"return": {}}, r)
        e = q.event("STOP")
        check("STOP event", "timestamp" in e, e)
        r = q.cmd("query-status")
        check("query-status paused", r.get("return", {}).get("status") == "paused"
              and r["return"].get("running") is False, r)
        r = q.cmd("cont")
        check("cont", r == {"return": {}}, r)
        q.event("RESUME")
        r = q.cmd("query-status")
        check("running again", r.get("return", {}).get("running") is True, r)

        r = q.cmd("query-cpus-fast")
        cpus = r.get("return", [])
        check("query-cpus-fast", len(cpus) == 1 and cpus[0].get("cpu-index") == 0
              and isinstance(cpus[0].get("thread-id"), int)
              and cpus[0].get("target") == "riscv64", r)
        r = q.cmd("query-block")
        disks = [b for b in r.get("return", []) if "inserted" in b]
        check("query-block", len(disks) == 1 and disks[0]["inserted"].get("file") == disk
              and disks[0]["inserted"].get("ro") is False, r)

        r = q.cmd("quit")
        check("quit", r == {"return": {}}, r)
        e = q.event("SHUTDOWN")
        check("SHUTDOWN after quit", e.get("data") == {"guest": False, "reason": "host-qmp-quit"},
              e)
        status = proc.wait(TIMEOUT)
        check("the process ends", status == 0, f"status {status}")
    except (OSError, EOFError, TimeoutError, json.JSONDecodeError) as e:
        check("QMP session", False, repr(e))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    check("the socket file is gone", kind != "vessel" or not os.path.exists(sock), sock)
    if check.failures:
        print(proc.stderr.read().decode(errors="replace"))
    return check.status()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "qemu" and not shutil.which(sys.argv[2]):
        print("skipped: no qemu-system-riscv64")
        sys.exit(77)
    sys.exit(main())
