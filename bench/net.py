#!/usr/bin/env python3
"""Vessel vs. QEMU (TCG): the guest's network, through a user-mode NIC and a TAP.

    bench/net.py [--backend user,tap] [--rounds N] [--mib N] [--json FILE] [guest options]

Boots the default guest (kernel + initramfs, which brings eth0 up and runs
busybox httpd on port 80) on Vessel (`vessel run --nic ...`) and on
`qemu-system-riscv64 -machine virt` with a virtio-net-device, one VMM after
the other, for N rounds; the order flips every round (Vessel first in odd
rounds) and N is rounded up to an even number, as in bench/run.py. Every run
drives the guest's serial console through a pseudo-terminal.

Per round and VMM:
  no NIC       boot, shell prompt, --settle s: VmRSS (and RSS outside the
               guest-RAM mapping), the baseline for "RSS added by a NIC"
  per backend  boot with the NIC, eth0 up, prompt, --settle s: RSS; then
    g2h          guest `dd if=/dev/zero bs=64k | nc HOST PORT` into a sink on
                 the host: --mib MiB, first byte to last byte at the sink
    h2g          the host sends --mib MiB into `nc -l -e dd of=/dev/null` in
                 the guest: first byte sent to the guest closing the
                 connection (after dd has read everything)
    http         --requests sequential HTTP/1.0 GETs of / from the host to
                 the guest's httpd, a fresh TCP connection each
    rr           --round-trips 1-byte TCP ping-pongs on one connection
                 (the guest echoes with `nc -l -e cat`)
    ping         guest `ping -c --pings -i 0.2 HOST`: median and mean RTT

Backends:
  user  libslirp, QEMU's 10.0.2.0/24 defaults. The host side listens on and
        connects to 127.0.0.1 only (the guest reaches it as 10.0.2.2; host
        ports come in through hostfwd=tcp:127.0.0.1:HP-:GP); no name is ever
        resolved.
  tap   needs root: a network namespace made for the run (and removed at the
        end, also on Ctrl-C) holds a persistent TAP with the host side's
        address; the VMMs run in it (`ip netns exec`), and so do the
        host-side ends of every transfer (this script as a helper process).
        Both VMMs use the TAP with the virtio-net header (offloads).

The medians go into a table with the Vessel/QEMU ratios. Exit status: 0 when
every run succeeded, 1 when some failed, 2 on bad usage, 130 when
interrupted.
"""
import argparse
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from bench_util import (guest_cmdline, MIB, GuestRun, Interrupted, RunFailed,  # noqa: E402
                        balanced_rounds, default_vessel, fmt,
                        kill_tree, median, parse_size, process_tree, qemu_version,
                        ram_mapping_rss_kib, status_kib, warm_caches)
from default_guest import free_port  # noqa: E402
from serial_console import Console  # noqa: E402

GUEST_OUT = os.path.join(ROOT, "guest", "out")
DEFAULT_FIRMWARE = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
MARKER = rb"Welcome to the Vessel guest"
ETH0_LINE = rb"vessel: eth0 (\S+)\r*\n"
PROMPT = rb"[#$] "
BACKENDS = ("user", "tap")
TESTS = ("rss", "g2h", "h2g", "http", "rr", "ping")

# User mode: QEMU's (and libslirp's) defaults.
USER_HOST = "10.0.2.2"       # the host as the guest sees it
LOOPBACK = "127.0.0.1"
# TAP: a /24 that exists only inside the namespace.
TAP_HOST = "192.168.100.1"
TAP_GUEST = "192.168.100.2"
TAP_PREFIX = 24
TAP_NAME = "vbench0"
GUEST_MAC = "52:54:00:12:34:56"  # both VMMs' default for the first NIC

# Guest ports: the h2g receiver and the ping-pong echo; httpd is on 80.
RX_PORT, ECHO_PORT, HTTP_PORT = 5001, 5002, 80
CHUNK = 1 << 20


# --------------------------------------------------------- host helpers --
# The host-side ends of the transfers. They run as child processes of this
# script (`net.py --helper KIND ...`), inside the namespace for the TAP
# backend, and print one JSON line per event on stdout.
def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def helper_sink(bind, nbytes, timeout):
    """Accepts one connection and reads until `nbytes` arrived or EOF."""
    with socket.socket() as ls:
        ls.bind((bind, 0))
        ls.listen(1)
        ls.settimeout(timeout)
        emit({"port": ls.getsockname()[1]})
        conn, _ = ls.accept()
    with conn:
        conn.settimeout(timeout)
        buf = bytearray(CHUNK)
        got, first, last = 0, None, None
        while got < nbytes:
            n = conn.recv_into(buf)
            if not n:
                break
            last = time.monotonic()
            if first is None:
                first = last
            got += n
    emit({"bytes": got, "seconds": (last - first) if first is not None else None})


def helper_source(addr, port, nbytes, timeout):
    """Sends `nbytes`, half-closes, and waits for the peer to close: the
    time runs from the first byte sent to the peer's end of stream."""
    data = memoryview(bytes(CHUNK))
    with socket.create_connection((addr, port), timeout=timeout) as s:
        t0 = time.monotonic()
        left = nbytes
        while left > 0:
            n = min(left, CHUNK)
            s.sendall(data[:n])
            left -= n
        sent = time.monotonic()
        s.shutdown(socket.SHUT_WR)
        extra = 0
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            extra += len(chunk)
        t1 = time.monotonic()
    emit({"bytes": nbytes, "seconds": t1 - t0, "send_seconds": sent - t0, "unexpected_bytes": extra})


def helper_http(addr, port, count, timeout):
    """`count` sequential GET / over a fresh connection each (after 3
    untimed ones)."""
    request = f"GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n".encode()

    def get():
        with socket.create_connection((addr, port), timeout=timeout) as s:
            s.sendall(request)
            reply = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]

    for _ in range(3):
        get()
    times, failed = [], 0
    t0 = time.monotonic()
    for _ in range(count):
        t = time.monotonic()
        if not get():
            failed += 1
        times.append(time.monotonic() - t)
    total = time.monotonic() - t0
    emit({"requests": count, "seconds": total, "failed": failed,
          "median_ms": statistics.median(times) * 1000})


def helper_rr(addr, port, count, timeout):
    """1-byte ping-pongs on one connection (after 10 untimed ones)."""
    with socket.create_connection((addr, port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def once():
            s.sendall(b"x")
            if s.recv(1) != b"x":
                raise SystemExit("rr: the echo closed the connection or sent something else")

        for _ in range(10):
            once()
        times = []
        t0 = time.monotonic()
        for _ in range(count):
            t = time.monotonic()
            once()
            times.append(time.monotonic() - t)
        total = time.monotonic() - t0
    emit({"round_trips": count, "seconds": total, "median_us": statistics.median(times) * 1e6})


def helper_main(argv):
    p = argparse.ArgumentParser(prog="net.py --helper")
    p.add_argument("kind", choices=("sink", "source", "http", "rr"))
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--count", type=int, default=0, help="bytes, requests or round trips")
    p.add_argument("--timeout", type=float, default=300)
    a = p.parse_args(argv)
    # The parent ends a helper with SIGTERM: no traceback for that.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    try:
        if a.kind == "sink":
            helper_sink(a.addr, a.count, a.timeout)
        elif a.kind == "source":
            helper_source(a.addr, a.port, a.count, a.timeout)
        elif a.kind == "http":
            helper_http(a.addr, a.port, a.count, a.timeout)
        else:
            helper_rr(a.addr, a.port, a.count, a.timeout)
    except (OSError, socket.timeout) as e:
        emit({"error": f"{a.kind}: {e}"})
        return 1
    return 0


HELPERS = []  # helper processes alive


class Helper:
    """One host-side helper process; `prefix` runs it inside the namespace."""

    def __init__(self, prefix, kind, **opts):
        argv = list(prefix) + [sys.executable, os.path.abspath(__file__), "--helper", kind]
        for k, v in opts.items():
            argv += [f"--{k}", str(v)]
        self.kind = kind
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.buf = b""
        HELPERS.append(self)

    def line(self, deadline):
        """The next JSON line, waiting up to the deadline."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunFailed(f"the host-side {self.kind} helper did not answer in time")
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    err = self.proc.stderr.read().decode(errors="replace").strip()
                    raise RunFailed(f"the host-side {self.kind} helper exited "
                                    f"(status {self.proc.wait()}): {err[-500:] or 'no output'}")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        obj = json.loads(line)
        if "error" in obj:
            raise RunFailed(obj["error"])
        return obj

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        if self in HELPERS:
            HELPERS.remove(self)


# ------------------------------------------------------------- namespace --
def sh(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {(r.stderr or r.stdout).strip()}")
    return r.stdout


class Namespace:
    """A network namespace holding a persistent TAP with the host side's
    address: what the VMMs' `tap,ifname=` NICs attach to."""

    def __init__(self):
        self.name = f"vessel-netbench-{os.getpid()}"
        self.made = False

    def create(self):
        sh("ip", "netns", "add", self.name)
        self.made = True
        sh("ip", "-n", self.name, "link", "set", "lo", "up")
        sh("ip", "-n", self.name, "tuntap", "add", "dev", TAP_NAME, "mode", "tap")
        sh("ip", "-n", self.name, "addr", "add", f"{TAP_HOST}/{TAP_PREFIX}", "dev", TAP_NAME)
        sh("ip", "-n", self.name, "link", "set", TAP_NAME, "up")

    @property
    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def remove(self):
        if not self.made:
            return
        subprocess.run(["ip", "-n", self.name, "link", "del", TAP_NAME], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        self.made = False


def tap_unavailable():
    """Why the TAP backend cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (a network namespace and a TAP device)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if not shutil.which("ip"):
        return "no `ip` command (iproute2)"
    return None


# ------------------------------------------------------------------ VMMs --
def vessel_argv(args, append, nic):
    argv = [args.vessel, "run", "--kernel", args.kernel, "--append", append,
            "--memory", args.memory, "--smp", str(args.smp), "--firmware", args.firmware]
    if args.initrd:
        argv += ["--initrd", args.initrd]
    if nic and nic["kind"] == "user":
        fwd = ",".join(f"hostfwd=tcp:{LOOPBACK}:{hp}-:{gp}" for hp, gp in nic["forwards"])
        argv += ["--nic", f"user,{fwd}"]
    elif nic:
        argv += ["--nic", f"tap,ifname={nic['ifname']}"]
    return argv + args.vessel_arg


def qemu_argv(args, append, nic):
    # The virtio-rng: the same device set as Vessel's board, as in run.py.
    argv = [args.qemu, "-machine", "virt", "-nographic", "-bios", args.firmware,
            "-kernel", args.kernel, "-append", append,
            "-m", args.memory, "-smp", str(args.smp)]
    if args.initrd:
        argv += ["-initrd", args.initrd]
    if nic and nic["kind"] == "user":
        fwd = ",".join(f"hostfwd=tcp:{LOOPBACK}:{hp}-:{gp}" for hp, gp in nic["forwards"])
        argv += ["-netdev", f"user,id=n0,{fwd}", "-device", "virtio-net-device,netdev=n0"]
    elif nic:
        argv += ["-netdev", f"tap,id=n0,ifname={nic['ifname']},script=no,downscript=no",
                 "-device", "virtio-net-device,netdev=n0"]
    else:
        argv += ["-nic", "none"]
    argv += ["-device", "virtio-rng-device"]
    return argv + args.qemu_arg


VMMS = {"vessel": vessel_argv, "qemu": qemu_argv}
LIVE = []  # consoles to clean up on any exit


class Run(GuestRun):
    """One boot of one VMM, with a deadline for the whole run."""

    def __init__(self, args, vmm, append, nic, log_path, prefix=()):
        self.args = args
        self.deadline = time.monotonic() + args.timeout
        self.log = open(log_path, "wb")
        self.con = Console(list(prefix) + VMMS[vmm](args, append, nic), self.log)
        LIVE.append(self.con)

    def shell(self, command, what):
        """Runs a command at the guest's shell; returns its output."""
        try:
            return self.con.run(command, self.left())
        except TimeoutError:
            raise RunFailed(f"run timed out after {self.args.timeout:g} s in {what}") from None
        except EOFError:
            raise RunFailed(f"the VMM exited (status {self.con.proc.poll()}) in {what}") from None

    def drain(self, seconds):
        """Keeps reading the console for some seconds; fails if the VMM exits."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self.con._read(min(left, 0.5)) is None or self.con.proc.poll() is not None:
                raise RunFailed(f"the VMM exited (status {self.con.proc.poll()}) while settling")

    def close(self):
        kill_tree(self.con)
        if self.con in LIVE:
            LIVE.remove(self.con)
        self.log.close()


def rss(run, args):
    pid = run.con.proc.pid
    vm_rss = sum(status_kib(p, "VmRSS") for p in process_tree(pid))
    ram = ram_mapping_rss_kib(pid, args.memory_bytes)
    return {"rss_mib": vm_rss / 1024, "rss_outside_ram_mib": (vm_rss - ram) / 1024}


# ------------------------------------------------------- guest workloads --
def guest_background(run, command, port, what):
    """Starts `command` (a listener on `port`) in the background at the
    guest's shell and returns once it listens; the shell then waits for it
    and prints @@D42@@ (see finish_background)."""
    # $((6*7)): the echo of the typed line never matches the markers.
    run.con.send(f"{command} </dev/null & "
                 f"while ! netstat -ltn 2>/dev/null | grep -q ':{port} '; do usleep 20000; done; "
                 f"echo @@L$((6*7))@@; wait $!; echo @@D$((6*7))@@\n")
    run.expect(rb"@@L42@@\r*\n", f"the guest's {what} to listen")


def finish_background(run, what, helper):
    """Waits for the background command to end while `helper` works with it
    on the host; returns (the command's output, the helper's result). A
    helper that fails ends the wait at once."""
    result = None
    while True:
        try:
            m = run.con.expect(rb"(?s)(.*?)@@D42@@\r*\n", min(0.5, run.left()))
            break
        except TimeoutError:
            pass
        except EOFError:
            raise RunFailed(f"the VMM exited (status {run.con.proc.poll()}) before "
                            f"the guest's {what} ended") from None
        if result is None and helper.proc.poll() is not None:
            result = helper.line(time.monotonic() + 5)  # raises on an error report
    if result is None:
        result = helper.line(run.deadline)
    run.expect(PROMPT, "the prompt")
    return m.group(1).decode(errors="replace").replace("\r", ""), result


def test_g2h(run, args, net, prefix):
    nbytes = args.mib * MIB
    sink = Helper(prefix, "sink", addr=net["host_bind"], count=nbytes, timeout=args.timeout)
    try:
        port = sink.line(time.monotonic() + 60)["port"]
        out = run.shell(f"dd if=/dev/zero bs=64k count={args.mib * 16} | "
                        f"nc -n {net['host_addr']} {port}", "the guest-to-host transfer")
        res = sink.line(time.monotonic() + 60)
    finally:
        sink.close()
    if res["bytes"] != nbytes or not res["seconds"]:
        raise RunFailed(f"guest to host: {res['bytes']} of {nbytes} bytes arrived; guest said: "
                        f"{out.strip()[-300:]}")
    return {"g2h_mib_s": args.mib / res["seconds"], "g2h_s": res["seconds"]}


def test_h2g(run, args, net, prefix):
    nbytes = args.mib * MIB
    guest_background(run, f"nc -l -p {RX_PORT} -e dd of=/dev/null bs=64k", RX_PORT, "receiver")
    addr, port = net["reach"](RX_PORT)
    source = Helper(prefix, "source", addr=addr, port=port, count=nbytes, timeout=args.timeout)
    try:
        out, res = finish_background(run, "receiver", source)
    finally:
        source.close()
    m = re.search(r"(\d+) bytes \([^)]*\) copied, ([\d.]+) seconds", out)
    got = int(m.group(1)) if m else None
    if got != nbytes:
        raise RunFailed(f"host to guest: the guest's dd read {got} of {nbytes} bytes: "
                        f"{out.strip()[-300:]}")
    return {"h2g_mib_s": args.mib / res["seconds"], "h2g_s": res["seconds"],
            "h2g_guest_s": float(m.group(2))}


def test_http(run, args, net, prefix):
    addr, port = net["reach"](HTTP_PORT)
    client = Helper(prefix, "http", addr=addr, port=port, count=args.requests, timeout=60)
    try:
        res = client.line(run.deadline)
    finally:
        client.close()
    if res["failed"]:
        raise RunFailed(f"HTTP: {res['failed']} of {res['requests']} GETs were not 200 OK")
    return {"http_req_s": res["requests"] / res["seconds"], "http_median_ms": res["median_ms"]}


def test_rr(run, args, net, prefix):
    guest_background(run, f"nc -l -p {ECHO_PORT} -e cat", ECHO_PORT, "echo")
    addr, port = net["reach"](ECHO_PORT)
    client = Helper(prefix, "rr", addr=addr, port=port, count=args.round_trips, timeout=60)
    try:
        _, res = finish_background(run, "echo", client)
    finally:
        client.close()
    return {"rr_per_s": res["round_trips"] / res["seconds"], "rr_median_us": res["median_us"]}


PING_LINE = re.compile(r"seq=\d+ ttl=\d+ time=([\d.]+) ms")


def test_ping(run, args, net, _prefix):
    out = run.shell(f"ping -c {args.pings} -i 0.2 {net['host_addr']}", "ping")
    rtts = [float(x) for x in PING_LINE.findall(out)]
    if not rtts:
        raise RunFailed(f"ping: no replies from {net['host_addr']}: {out.strip()[-300:]}")
    return {"ping_median_ms": statistics.median(rtts), "ping_avg_ms": statistics.fmean(rtts),
            "ping_lost": args.pings - len(rtts)}


WORKLOADS = (("g2h", test_g2h), ("h2g", test_h2g), ("http", test_http),
             ("rr", test_rr), ("ping", test_ping))


def no_nic_boot(args, vmm, log_path):
    run = Run(args, vmm, args.append, None, log_path)
    try:
        run.expect(MARKER, "the boot marker")
        run.expect(PROMPT, "the prompt")
        run.drain(args.settle)
        return rss(run, args)
    finally:
        run.close()


def nic_boot(args, vmm, backend, ns, log_path):
    if backend == "user":
        forwards = [(free_port(), p) for p in (RX_PORT, ECHO_PORT, HTTP_PORT)]
        nic = {"kind": "user", "forwards": forwards}
        by_guest_port = {gp: hp for hp, gp in forwards}
        net = {"host_addr": USER_HOST, "host_bind": LOOPBACK,
               "reach": lambda gp: (LOOPBACK, by_guest_port[gp])}
        append, prefix = args.append, ()
    else:
        nic = {"kind": "tap", "ifname": TAP_NAME}
        net = {"host_addr": TAP_HOST, "host_bind": TAP_HOST, "reach": lambda gp: (TAP_GUEST, gp)}
        append = f"{args.append} vessel.ip={TAP_GUEST}/{TAP_PREFIX}"
        prefix = ns.prefix
    run = Run(args, vmm, append, nic, log_path, prefix)
    try:
        run.expect(MARKER, "the boot marker")
        m = run.expect(ETH0_LINE, "eth0 to come up")
        run.expect(PROMPT, "the prompt")
        res = {"eth0": m.group(1).decode()}
        # Kernel messages would split command output.
        run.shell("dmesg -n 1", "dmesg -n 1")
        if "rss" in args.only:
            run.drain(args.settle)
            res.update(rss(run, args))
        for name, test in WORKLOADS:
            if name in args.only:
                res.update(test(run, args, net, prefix))
        return res
    finally:
        run.close()


# ---------------------------------------------------------------- report --


# (key, label, unit, digits, ratio kind, test)
ROWS = (
    ("g2h_mib_s", "TCP guest -> host", "MiB/s", 2, "speed", "g2h"),
    ("h2g_mib_s", "TCP host -> guest", "MiB/s", 2, "speed", "h2g"),
    ("http_req_s", "HTTP GETs, new connection each", "req/s", 1, "speed", "http"),
    ("http_median_ms", "  median per GET", "ms", 2, "time", "http"),
    ("rr_per_s", "TCP 1-byte ping-pong", "/s", 0, "speed", "rr"),
    ("rr_median_us", "  median round trip", "us", 0, "time", "rr"),
    ("ping_median_ms", "ping guest -> host, median", "ms", 3, "time", "ping"),
    ("ping_avg_ms", "  mean", "ms", 3, "time", "ping"),
    ("rss_mib", "VmRSS after boot", "MiB", 1, "size", "rss"),
    ("rss_added_mib", "  added by the NIC", "MiB", 1, "size", "rss"),
    ("rss_outside_ram_mib", "RSS outside guest RAM", "MiB", 1, "size", "rss"),
    ("rss_outside_added_mib", "  added by the NIC", "MiB", 1, "size", "rss"),
)


def with_rss_deltas(sample):
    """Adds each backend's RSS minus the same round's no-NIC RSS."""
    base = sample.get("none", {})
    for backend in BACKENDS:
        s = sample.get(backend)
        if not s or "rss_mib" not in s or "rss_mib" not in base:
            continue
        s["rss_added_mib"] = s["rss_mib"] - base["rss_mib"]
        s["rss_outside_added_mib"] = s["rss_outside_ram_mib"] - base["rss_outside_ram_mib"]


def build_rows(args, results):
    rows, summary = [], {}

    def samples(vmm, section, key):
        return [r.get(section, {}).get(key) for r in results[vmm]]

    def add(section, key, label, unit, digits, kind):
        vm, qm = median(samples("vessel", section, key)), median(samples("qemu", section, key))
        # (An RSS difference can be 0 or negative: no ratio then.)
        r = vm / qm if vm is not None and qm and (kind != "size" or (vm > 0 and qm > 0)) else None
        rows.append((label, fmt(vm, unit, digits), fmt(qm, unit, digits),
                     "n/a" if r is None else f"{r:.2f}x {kind}"))
        summary[f"{section}.{key}"] = {"vessel_median": vm, "qemu_median": qm, "ratio": r,
                                       "ratio_kind": kind, "unit": unit}

    if "rss" in args.only:
        rows.append(("no NIC", "", "", ""))
        add("none", "rss_mib", "  VmRSS after boot", "MiB", 1, "size")
        add("none", "rss_outside_ram_mib", "  RSS outside guest RAM", "MiB", 1, "size")
    for backend in args.backends:
        rows.append((f"--nic {backend}" if backend == "user" else "tap (in a namespace)", "", "", ""))
        for key, label, unit, digits, kind, test in ROWS:
            if test in args.only:
                add(backend, key, "  " + label, unit, digits, kind)
    return rows, summary


def print_table(rows):
    head = ("metric", "Vessel median", "QEMU median", "Vessel/QEMU")
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]

    def line(r):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def describe(res):
    parts = []
    if "g2h_mib_s" in res:
        parts.append(f"g2h {res['g2h_mib_s']:.1f} MiB/s")
    if "h2g_mib_s" in res:
        parts.append(f"h2g {res['h2g_mib_s']:.1f} MiB/s")
    if "http_req_s" in res:
        parts.append(f"http {res['http_req_s']:.0f} req/s")
    if "rr_per_s" in res:
        parts.append(f"rr {res['rr_per_s']:.0f}/s")
    if "ping_median_ms" in res:
        parts.append(f"ping {res['ping_median_ms']:.2f} ms")
    if "rss_mib" in res:
        parts.append(f"RSS {res['rss_mib']:.1f} MiB ({res['rss_outside_ram_mib']:.1f} outside guest RAM)")
    return ", ".join(parts)


# ------------------------------------------------------------------ main --


def parse_args(argv):
    default_append = guest_cmdline(GUEST_OUT)
    p = argparse.ArgumentParser(
        description="Boots the default guest with a virtio-net NIC on Vessel and QEMU (TCG), "
                    "alternately, and compares TCP throughput both ways, small-request rates, "
                    "ping RTT and the RSS a NIC adds.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--backend", default="user,tap", metavar="LIST",
                   help="comma-separated: user (libslirp), tap (needs root; in a namespace)")
    p.add_argument("--only", default=",".join(TESTS), metavar="LIST",
                   help="comma-separated subset of " + ", ".join(TESTS))
    p.add_argument("--rounds", type=int, default=2, metavar="N",
                   help="rounds (each: every VMM once per backend); an odd N is rounded up")
    p.add_argument("--mib", type=int, default=256, metavar="N", help="MiB per bulk transfer")
    p.add_argument("--requests", type=int, default=200, metavar="N", help="HTTP GETs")
    p.add_argument("--round-trips", type=int, default=1000, metavar="N", help="TCP ping-pongs")
    p.add_argument("--pings", type=int, default=20, metavar="N", help="ICMP echo requests")
    p.add_argument("--settle", type=float, default=3, metavar="S",
                   help="seconds at the prompt before RSS is read")
    p.add_argument("--vessel", default=default_vessel(ROOT), metavar="PATH", help="the vessel binary")
    p.add_argument("--qemu", default="qemu-system-riscv64", metavar="PATH", help="the QEMU binary")
    p.add_argument("--kernel", default=os.path.join(GUEST_OUT, "Image"), metavar="PATH")
    p.add_argument("--initrd", default=os.path.join(GUEST_OUT, "initramfs.cpio.gz"), metavar="PATH",
                   help="initial ramdisk; 'none' for none")
    p.add_argument("--append", default=default_append, metavar="CMDLINE",
                   help="kernel command line (the TAP runs add vessel.ip=...)")
    p.add_argument("--firmware", default=DEFAULT_FIRMWARE, metavar="PATH", help="M-mode firmware (OpenSBI)")
    p.add_argument("--memory", default="256M", metavar="SIZE", help="guest RAM, for both VMMs")
    p.add_argument("--smp", type=int, default=1, metavar="N", help="harts, for both VMMs")
    p.add_argument("--timeout", type=float, default=900, metavar="S",
                   help="seconds per run (boot and all its workloads), then it is killed")
    p.add_argument("--vessel-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for vessel run (repeatable; use --vessel-arg=-x)")
    p.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for QEMU (repeatable; use --qemu-arg=-x)")
    p.add_argument("--json", metavar="FILE", default=None,
                   help="also write every sample and the summary here (JSON)")
    p.add_argument("--log-dir", metavar="DIR",
                   help="keep the console logs here (otherwise they go to a temporary "
                        "directory, removed unless a run fails)")
    args = p.parse_args(argv)

    args.backends = [w.strip() for w in args.backend.split(",") if w.strip()]
    bad = [w for w in args.backends if w not in BACKENDS]
    if bad or not args.backends:
        p.error(f"--backend takes user and/or tap (got {','.join(bad) or 'nothing'})")
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    bad = [w for w in args.only if w not in TESTS]
    if bad or not args.only:
        p.error(f"--only takes {', '.join(TESTS)} (got {','.join(bad) or 'nothing'})")
    for name in ("rounds", "mib", "requests", "round_trips", "pings", "smp"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    args.rounds = balanced_rounds(args.rounds)
    try:
        args.memory_bytes = parse_size(args.memory)
    except argparse.ArgumentTypeError as e:
        p.error(str(e))
    if args.initrd in ("", "none"):
        args.initrd = None
    for what, path in (("--kernel", args.kernel), ("--initrd", args.initrd),
                       ("--firmware", args.firmware)):
        if path and not os.path.exists(path):
            hint = " (build the default guest with `make -C guest`)" if GUEST_OUT in path else ""
            p.error(f"{what}: {path} does not exist{hint}")
    for what, prog in (("--vessel", args.vessel), ("--qemu", args.qemu)):
        if not shutil.which(prog):
            hint = " (build it: cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && " \
                   "cmake --build build)" if what == "--vessel" else " (apt-get install qemu-system-misc)"
            p.error(f"{what}: {prog} is not an executable{hint}")
    args.vessel = os.path.abspath(args.vessel) if os.path.sep in args.vessel else args.vessel
    return args


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def cleanup(ns):
    for con in list(LIVE):
        kill_tree(con)
    LIVE.clear()
    for h in list(HELPERS):
        h.close()
    if ns:
        ns.remove()


def main(argv):
    if argv[:1] == ["--helper"]:
        return helper_main(argv[1:])
    args = parse_args(argv)
    # SIGINT too: a shell may have set it to "ignore" for a background job.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    notes = []
    if "tap" in args.backends and (why := tap_unavailable()):
        args.backends.remove("tap")
        notes.append(f"tap backend skipped: {why}")
        print(f"note: the tap backend is skipped: {why}", file=sys.stderr)
    if not args.backends:
        print("nothing to measure", file=sys.stderr)
        return 1

    work = tempfile.mkdtemp(prefix="vessel-netbench-")
    log_dir = args.log_dir or os.path.join(work, "logs")
    os.makedirs(log_dir, exist_ok=True)

    load = os.getloadavg()
    info = {"vessel": args.vessel, "qemu": args.qemu, "qemu_version": qemu_version(args.qemu),
            "kernel": args.kernel, "initrd": args.initrd, "append": args.append,
            "memory": args.memory, "smp": args.smp, "firmware": args.firmware,
            "rounds": args.rounds, "backends": args.backends, "only": args.only,
            "mib": args.mib, "requests": args.requests, "round_trips": args.round_trips,
            "pings": args.pings, "settle_s": args.settle, "host": platform.node(),
            "host_cpus": os.cpu_count(), "loadavg_at_start": load}
    print(f"Vessel: {args.vessel}")
    print(f"QEMU:   {args.qemu} ({info['qemu_version']}, TCG)")
    print(f"guest:  {args.kernel}, initrd {args.initrd or 'none'}, -m {args.memory} -smp {args.smp}")
    print(f"NICs:   {', '.join(args.backends)}; {args.mib} MiB per transfer, {args.requests} GETs, "
          f"{args.round_trips} ping-pongs, {args.pings} pings")
    print(f"host:   {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if load[0] > max(0.5, (os.cpu_count() or 1) - 1.5):
        print("        (a busy host: absolute numbers are noisy; the ratios of alternating "
              "runs are the figures to read)")
    print()

    ns = None
    results = {vmm: [] for vmm in VMMS}
    failures = []
    status = 0
    try:
        if "tap" in args.backends:
            ns = Namespace()
            try:
                ns.create()
            except RuntimeError as e:
                ns.remove()
                ns = None
                args.backends.remove("tap")
                notes.append(f"tap backend skipped: cannot make the namespace ({e})")
                print(f"note: the tap backend is skipped: {e}", file=sys.stderr)
                if not args.backends:
                    return 1
        warm_caches([args.kernel, args.initrd, args.firmware], [args.vessel, args.qemu])
        kinds = (["none"] if "rss" in args.only else []) + args.backends
        for rnd in range(1, args.rounds + 1):
            order = ["vessel", "qemu"] if rnd % 2 else ["qemu", "vessel"]
            samples = {vmm: {} for vmm in VMMS}
            for kind in kinds:
                for vmm in order:
                    log_path = os.path.join(log_dir, f"round{rnd}-{vmm}-{kind}.log")
                    started = time.monotonic()
                    try:
                        if kind == "none":
                            res = no_nic_boot(args, vmm, log_path)
                        else:
                            res = nic_boot(args, vmm, kind, ns, log_path)
                    except RunFailed as e:
                        failures.append(f"round {rnd} {vmm} {kind}: {e} (console log: {log_path})")
                        print(f"round {rnd}/{args.rounds} {vmm:<6} {kind:<5} FAILED: {e}", flush=True)
                        continue
                    samples[vmm][kind] = res
                    print(f"round {rnd}/{args.rounds} {vmm:<6} {kind:<5} "
                          f"({time.monotonic() - started:5.1f} s) {describe(res)}", flush=True)
            for vmm in VMMS:
                with_rss_deltas(samples[vmm])
                results[vmm].append(samples[vmm])
    except (KeyboardInterrupt, Interrupted) as e:
        print(f"\ninterrupted ({e or 'SIGINT'}); VMMs and helpers stopped"
              + (", namespace removed" if ns else ""), file=sys.stderr)
        status = 130
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        cleanup(ns)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)

    print()
    rows, summary = build_rows(args, results)
    print_table(rows)
    print()
    notes.insert(0, "Vessel/QEMU: the ratio of the medians; 'speed' rows are rates (> 1: Vessel "
                    "is faster), 'time' and 'size' rows lower is better for Vessel.")
    if "g2h" in args.only or "h2g" in args.only:
        notes.append(f"TCP: {args.mib} MiB per direction; guest -> host is timed by the host's "
                     "sink from first to last byte, host -> guest from the first byte sent to "
                     "the guest closing the connection after its dd read everything.")
    if "rss" in args.only:
        notes.append(f"RSS: {args.settle:g} s after the prompt (with a NIC: once eth0 is up), "
                     "summed over the VMM's processes; 'added by the NIC' = the same round's "
                     "boot with a NIC minus the one without. With a NIC the guest also runs "
                     "udhcpc, httpd and telnetd, which touch guest RAM; 'outside guest RAM' "
                     "leaves that out.")
    for n in notes:
        print(n)
    print(f"rounds: {len(results['vessel'])} of {args.rounds}; order flips each round "
          "(Vessel first in odd rounds); caches warmed before round 1")
    if failures:
        status = status or 1
        print(f"\n{len(failures)} run(s) failed:")
        for f in failures:
            print("  " + f)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "samples": results, "summary": summary,
                       "failures": failures, "notes": notes}, f, indent=2)
            f.write("\n")
        print(f"JSON: {args.json}")

    if args.log_dir:
        print(f"console logs: {args.log_dir}")
        shutil.rmtree(work, ignore_errors=True)
    elif failures:
        print(f"console logs kept in {log_dir}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
