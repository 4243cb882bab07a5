"""vesseld under stress: the read-only socket refuses every change; malformed,
truncated and oversized packets, unknown programs and procedures get the
right error reply or a dropped connection, never a dead daemon; a daemon
killed with SIGKILL while VMs run finds them again (running, answering
shutdown), and one killed at random instants while defining loses no
domain whose define returned.
Usage: robustness.py VESSELD GUEST_OUT WORKDIR"""
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402

REMOTE = 0x20008086


def packet(proc, payload=b"", prog=REMOTE, vers=1, msg_type=0, serial=1, length=None):
    body = struct.pack(">IIiIII", prog, vers, proc, msg_type, serial, 0) + payload
    return struct.pack(">I", length if length is not None else len(body) + 4) + body


def xdr_string(s):
    data = s.encode()
    return struct.pack(">I", len(data)) + data + b"\0" * (-len(data) % 4)


def reply(sock):
    """(status, error code) of the next reply, or None if the connection closed."""
    try:
        head = sock.recv(4, socket.MSG_WAITALL)
    except ConnectionResetError:
        return None
    if len(head) < 4:
        return None
    (length,) = struct.unpack(">I", head)
    body = b""
    while len(body) < length - 4:
        chunk = sock.recv(length - 4 - len(body))
        if not chunk:
            return None
        body += chunk
    status = struct.unpack(">I", body[20:24])[0]
    code = struct.unpack(">i", body[24:28])[0] if status == 1 else 0
    return status, code


def raw_client(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(path)
    return s


def open_connection(s):
    s.sendall(packet(1, struct.pack(">I", 1) + xdr_string("vessel:///system") + struct.pack(">I", 0)))
    return reply(s)


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    daemon = Daemon(vesseld, work)
    try:
        path = daemon.define(domain_xml("a", guest_out))

        # The read-only socket.
        r = daemon.virsh("list", "--all", "--name", readonly=True)
        check("read-only: list works", r.stdout.split() == ["a"], r.stdout)
        for args in (["start", "a"], ["undefine", "a"], ["autostart", "a"], ["define", path]):
            r = daemon.virsh(*args, readonly=True, check=False)
            check(f"read-only: {args[0]} refused",
                  r.returncode != 0 and "read only access prevents" in r.stderr, r.stderr)

        # Malformed input on the read-write socket.
        s = raw_client(daemon.socket)
        check("a call before CONNECT_OPEN is refused", (s.sendall(packet(3)), reply(s))[1] == (1, 39))
        check("CONNECT_OPEN", open_connection(s) == (0, 0))
        s.sendall(packet(99999))
        check("an unknown procedure: VIR_ERR_NO_SUPPORT", reply(s) == (1, 3))
        s.sendall(packet(3, prog=0x12345678))
        check("an unknown program: VIR_ERR_RPC", reply(s) == (1, 39))
        s.sendall(packet(23, struct.pack(">I", 0x7fffffff)))
        check("a string longer than the packet: VIR_ERR_RPC", reply(s) == (1, 39))
        s.sendall(packet(23, b"\0\0"))
        check("a truncated argument: VIR_ERR_RPC", reply(s) == (1, 39))
        s.sendall(packet(11, xdr_string("<domain type='qemu'><name>x")))
        check("garbage XML: VIR_ERR_XML_ERROR", reply(s) == (1, 27))
        s.sendall(packet(3) + packet(4))
        check("two calls in one write both answered", reply(s) == (0, 0) and reply(s) == (0, 0))
        s.sendall(packet(3, length=64 << 20))
        check("a length past the protocol's maximum drops the connection", reply(s) is None)
        s.close()
        s = raw_client(daemon.socket)
        s.sendall(struct.pack(">I", 10) + b"\0" * 6)
        check("a length shorter than a header drops the connection", reply(s) is None)
        s.close()
        s = raw_client(daemon.socket)
        s.sendall(packet(3)[:12])
        s.close()
        rng = random.Random(7)
        for _ in range(200):
            s = raw_client(daemon.socket)
            open_connection(s)
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
            s.sendall(packet(rng.choice([1, 9, 11, 14, 16, 23, 24, 160, 212, 273]), body))
            s.close()
        check("after all that the daemon still answers", daemon.virsh("list", "--all").returncode == 0)

        # SIGKILL while VMs run: they are found again.
        with open(path, "w") as f:
            f.write(domain_xml("b", guest_out))
        daemon.virsh("define", path)
        daemon.virsh("start", "a")
        daemon.virsh("start", "b")
        daemon.virsh("suspend", "b")
        daemon.kill(signal.SIGKILL)
        daemon.start()
        listed = daemon.virsh("list").stdout.split()
        check("after SIGKILL of the daemon: both listed with their ids and states",
              listed == ["1", "a", "running", "2", "b", "paused"], listed)
        daemon.virsh("resume", "b")
        daemon.wait_booted("a")
        daemon.wait_booted("b")
        for name in ("a", "b"):
            daemon.virsh("shutdown", name)
        check("and they answer shutdown",
              all(daemon.wait_state(n, "shut off") == "shut off (shutdown)" for n in ("a", "b")))
        daemon.virsh("start", "a")
        check("a new start after the restart gets the next id",
              daemon.virsh("domid", "a").stdout.strip() == "3")
        daemon.virsh("destroy", "a")

        # SIGKILL at random instants while defining: no domain lost.
        defined = []
        for i in range(12):
            xml = os.path.join(work, f"d{i}.xml")
            with open(xml, "w") as f:
                f.write(domain_xml(f"d{i}", guest_out))
            proc = subprocess.Popen(["virsh", "-q", "-c", daemon.uri, "define", xml],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.random() * 0.02)
            daemon.kill(signal.SIGKILL)
            if proc.wait() == 0:
                defined.append(f"d{i}")
            daemon.start()
        names = daemon.virsh("list", "--all", "--name").stdout.split()
        check("every define that returned survived the kills",
              all(n in names for n in defined), (defined, names))
        leftovers = [f for f in os.listdir(os.path.join(daemon.state, "domains")) if f.endswith(".new")]
        check("and every definition on disk is whole", all(
            daemon.virsh("dumpxml", n).returncode == 0 for n in names) and len(names) >= 2,
            leftovers)
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
