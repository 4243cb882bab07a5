#!/usr/bin/env python3
"""Vessel vs. QEMU (TCG): saving, restoring and live-migrating a VM.

    bench/vmstate.py [--rounds N] [--memory 256M,1G] [--only save,idle,dirty] [--json FILE]

Boots the same guest (kernel + initramfs, no disk) on Vessel (`vessel run`)
and on `qemu-system-riscv64 -machine virt` with the same RAM, to the shell,
and drives both over QMP alike, with each VMM's default migration
parameters:

  save     `migrate exec:cat > FILE` on the running guest → query-migrate
           "completed": save time (host clock), the VMM's total-time, the
           file's size
  restore  the VMM started with `-incoming exec:cat FILE` → query-status
           "running": restore time, from process start
  idle     live migration of the idle guest into a second VMM on
           127.0.0.1 (`-incoming tcp:127.0.0.1:PORT`): total time (host
           clock), query-migrate's downtime and total-time, and the
           downtime as the host sees it: the destination's first "running"
           minus the source's last "running" (query-status on both, every
           --poll-ms)
  dirty    the same while a guest loop rewrites a 32 MiB tmpfs file at
           --dirty-rate MiB/s (4 MiB per dd, paced by /proc/uptime); the
           rate it reached is measured just before the migration

Each round runs every part once per VMM; the VMM that goes first flips
every round, and the number of rounds is even. The table shows medians and
Vessel/QEMU ratios (lower is better for Vessel) against the targets: every
value ≤ QEMU's, idle downtime ≤ 50 ms.
Exit status: 0 when every run succeeded, 1 when some failed, 2 on bad
usage, 130 when interrupted.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from bench_util import (guest_cmdline, MIB, GuestRun, Interrupted, RunFailed,  # noqa: E402
                        balanced_rounds, default_vessel, fmt, kill_tree,
                        median, parse_size, print_table, qemu_version, warm_caches)
from default_guest import free_port, listening  # noqa: E402
from serial_console import Console  # noqa: E402

GUEST_OUT = os.path.join(ROOT, "guest", "out")
DEFAULT_FIRMWARE = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
MARKER = rb"Welcome to the Vessel guest"
PROMPT = rb"[#$] "
PARTS = ("save", "idle", "dirty")
TARGET_IDLE_DOWNTIME_MS = 50
CONNECT_POLL = 0.0002  # s between tries to reach a QMP socket (a failed connect is cheap)
DIRTY_REGION_MIB = 32
DIRTY_CHUNK_MIB = 4

# The guest's dirtying loop: rewrites DIRTY_CHUNK_MIB of a DIRTY_REGION_MIB
# tmpfs file per dd (random bytes, so no side sees zero pages), a chunk
# further each time, and sleeps whenever it is ahead of RATE MiB/s
# (/proc/uptime, centiseconds). /tmp/n counts the chunks written.
DIRTY_SETUP = (f"dd if=/dev/urandom of=/tmp/seed bs=64k count={DIRTY_CHUNK_MIB * 16} 2>/dev/null; "
               f"for i in $(seq {DIRTY_REGION_MIB // DIRTY_CHUNK_MIB}); do cat /tmp/seed; done "
               "> /tmp/dirty")
DIRTY_LOOP = ("(read u _ </proc/uptime; t0=${u%.*}${u#*.}; n=0; while :; do "
              f"dd if=/tmp/seed of=/tmp/dirty bs=64k count={DIRTY_CHUNK_MIB * 16} "
              f"seek=$((n%{DIRTY_REGION_MIB // DIRTY_CHUNK_MIB}*{DIRTY_CHUNK_MIB * 16})) "
              "conv=notrunc 2>/dev/null; n=$((n+1)); echo $n >/tmp/n; "
              "read u _ </proc/uptime; t=${u%.*}${u#*.}; "
              f"a=$((n*{DIRTY_CHUNK_MIB * 100}/RATE-(t-t0))); "
              "[ $a -gt 0 ] && usleep $((a*10000)); done) >/dev/null 2>&1 & true")


# ------------------------------------------------------------------- QMP --
class Qmp:
    """A QMP client for timing: connect() retries every CONNECT_POLL, and
    every reply is stamped with the host time it arrived."""

    def __init__(self, path, deadline):
        while True:
            self.sock = socket.socket(socket.AF_UNIX)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise RunFailed(f"no QMP socket at {path}") from None
                time.sleep(CONNECT_POLL)
        self.sock.settimeout(max(1.0, deadline - time.monotonic()))
        self.buf = b""
        self._message()  # greeting
        self.cmd("qmp_capabilities")

    def _message(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise RunFailed("QMP connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, arguments=None):
        """The command's "return" value (events are dropped); RunFailed on an error."""
        msg = {"execute": name}
        if arguments is not None:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode())
        while True:
            reply = self._message()
            if "event" in reply:
                continue
            if "error" in reply:
                raise RunFailed(f"QMP {name}: {reply['error'].get('desc')}")
            return reply["return"]

    def status(self):
        return self.cmd("query-status")["status"]

    def close(self):
        self.sock.close()


# ------------------------------------------------------------------ VMMs --
def vessel_argv(args, qmp, incoming):
    argv = [args.vessel, "run", "--kernel", args.kernel, "--initrd", args.initrd,
            "--append", args.append, "--memory", args.memory, "--smp", str(args.smp),
            "--firmware", args.firmware, "--qmp", f"unix:{qmp},server,wait=off"]
    if incoming:
        argv += ["--incoming", incoming]
    return argv + args.vessel_arg


def qemu_argv(args, qmp, incoming):
    # -nic none and virtio-rng: the device set of Vessel's board, as bench/run.py.
    argv = [args.qemu, "-machine", "virt", "-nographic", "-bios", args.firmware,
            "-kernel", args.kernel, "-append", args.append, "-initrd", args.initrd,
            "-m", args.memory, "-smp", str(args.smp), "-nic", "none",
            "-device", "virtio-rng-device", "-qmp", f"unix:{qmp},server=on,wait=off"]
    if incoming:
        argv += ["-incoming", incoming]
    return argv + args.qemu_arg


VMMS = {"vessel": vessel_argv, "qemu": qemu_argv}
LIVE = []  # VMMs to kill on any exit


class Vmm(GuestRun):
    """One VMM process: its console (a pseudo-terminal) and its QMP socket."""

    def __init__(self, args, vmm, name, incoming=None):
        self.args = args
        self.deadline = time.monotonic() + args.timeout
        self.qmp_path = os.path.join(args.work, f"{name}.qmp")
        if os.path.exists(self.qmp_path):
            os.remove(self.qmp_path)
        self.log = open(os.path.join(args.log_dir, f"{name}.log"), "wb")
        self.con = Console(VMMS[vmm](args, self.qmp_path, incoming), self.log)
        self.qmp = None
        LIVE.append(self)

    def shell(self, command):
        try:
            return self.con.run(command, self.left())
        except (TimeoutError, EOFError) as e:
            raise RunFailed(f"shell command {command[:40]!r}: {e}") from None

    def boot(self):
        """To the shell prompt; kernel messages off (they would split output)."""
        self.expect(MARKER, "the boot marker")
        self.expect(PROMPT, "the shell prompt")
        self.shell("dmesg -n 1")
        self.connect()

    def connect(self):
        self.qmp = Qmp(self.qmp_path, self.deadline)
        return self.qmp

    def close(self):
        if self.qmp:
            self.qmp.close()
        kill_tree(self.con)
        self.log.close()
        if self in LIVE:
            LIVE.remove(self)


def watch(side, vm, poll, seen):
    """Polls one side of a live migration until it is over there: the
    source until query-migrate ends (seen["source"] = its reply and arrival
    time; seen["last_running"] = the arrival of its last "running"), the
    destination until query-status says "running" (seen["destination"]).
    A failure goes to seen["error"]."""
    try:
        if side == "source":
            seen["last_running"] = time.monotonic()
            while vm.qmp.status() == "running":
                seen["last_running"] = time.monotonic()
                vm.left()
                time.sleep(poll)
            seen["source"] = wait_migrated(vm, poll)
            return
        while vm.qmp is None:  # Vessel opens its socket once the VM is in
            try:
                vm.qmp = Qmp(vm.qmp_path, time.monotonic())
            except (RunFailed, OSError):
                vm.left()
                time.sleep(CONNECT_POLL)
        while vm.qmp.status() != "running":
            vm.left()
            time.sleep(poll)
        seen["destination"] = time.monotonic()
    except (RunFailed, OSError) as e:
        seen["error"] = f"{side}: {e}"


def wait_migrated(vm, poll):
    """Polls query-migrate until it ends; returns (its reply, arrival time)."""
    while True:
        info = vm.qmp.cmd("query-migrate")
        now = time.monotonic()
        if info.get("status") in ("completed", "failed", "cancelled"):
            if info["status"] != "completed":
                raise RunFailed(f"migration {info['status']}: {info.get('error-desc', '')}")
            return info, now
        vm.left()
        time.sleep(poll)


# ------------------------------------------------------------ the parts --
def save_restore(args, vmm, tag):
    state = os.path.join(args.work, f"{vmm}.state")
    src = Vmm(args, vmm, f"{tag}-save")
    try:
        src.boot()
        time.sleep(args.settle)
        t0 = time.monotonic()
        src.qmp.cmd("migrate", {"uri": f"exec:cat > {state}"})
        info, t1 = wait_migrated(src, args.poll_ms / 1000)
        res = {"save_s": t1 - t0, "save_total_ms": info.get("total-time"),
               "file_mib": os.path.getsize(state) / MIB}
    finally:
        src.close()
    dst = Vmm(args, vmm, f"{tag}-restore", incoming=f"exec:cat {state}")
    try:
        # From process start: Vessel opens its QMP socket once restored,
        # QEMU at once (then says "inmigrate" until the state is in).
        dst.connect()
        while dst.qmp.status() != "running":
            dst.left()
            time.sleep(args.poll_ms / 1000)
        res["restore_s"] = time.monotonic() - dst.con.start
    finally:
        dst.close()
        os.remove(state)
    return res


def dirty_rate(src):
    """MiB/s the guest loop writes, over 3 s of the host's clock."""
    def count():
        out = src.shell("cat /tmp/n").strip()
        return int(out) if out.isdigit() else 0, time.monotonic()
    n0, t0 = count()
    time.sleep(3)
    n1, t1 = count()
    return (n1 - n0) * DIRTY_CHUNK_MIB / (t1 - t0)


def live_migrate(args, vmm, tag, dirty):
    poll = args.poll_ms / 1000
    src = Vmm(args, vmm, f"{tag}-source")
    dst = None
    try:
        src.boot()
        res = {}
        if dirty:
            src.shell(DIRTY_SETUP)
            src.shell(DIRTY_LOOP.replace("RATE", str(args.dirty_rate)))
            time.sleep(1)
            res["dirty_mib_s"] = dirty_rate(src)
        else:
            time.sleep(args.settle)
        port = free_port()
        dst = Vmm(args, vmm, f"{tag}-destination", incoming=f"tcp:127.0.0.1:{port}")
        while not listening(port):
            dst.left()
            time.sleep(0.01)
        if vmm == "qemu":
            dst.connect()  # Vessel's socket opens once the VM is in
        t0 = time.monotonic()
        src.qmp.cmd("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
        # Both sides polled at once, each on its own thread (one side's slow
        # reply must not delay the other's): the source's last "running" and
        # the destination's first "running" bracket the downtime the guest sees.
        seen = {}
        watchers = [threading.Thread(target=watch, args=(side, vm, poll, seen), daemon=True)
                    for side, vm in (("source", src), ("destination", dst))]
        for w in watchers:
            w.start()
        for w in watchers:
            w.join()
        if "error" in seen:
            raise RunFailed(seen["error"])
        info, done_at = seen["source"]
        ram = info.get("ram", {})
        res.update({"total_s": done_at - t0, "total_ms": info.get("total-time"),
                    "downtime_ms": info.get("downtime"),
                    "seen_downtime_ms": (seen["destination"] - seen["last_running"]) * 1000,
                    "sent_mib": ram.get("transferred", 0) / MIB,
                    "passes": ram.get("dirty-sync-count")})
        return res
    finally:
        src.close()
        if dst:
            dst.close()


# ---------------------------------------------------------------- report --
# (key, label, unit, digits, target: None, "qemu" (≤ QEMU's) or a bound in the unit)
ROWS = {
    "save": (("save_s", "save (migrate exec:)", "s", 3, "qemu"),
             ("save_total_ms", "  total-time (VMM)", "ms", 0, None),
             ("file_mib", "  file size", "MiB", 1, "qemu"),
             ("restore_s", "restore (-incoming exec:)", "s", 3, "qemu")),
    "idle": (("total_s", "total time", "s", 3, "qemu"),
             ("total_ms", "  total-time (VMM)", "ms", 0, None),
             ("downtime_ms", "downtime (VMM)", "ms", 0, TARGET_IDLE_DOWNTIME_MS),
             ("seen_downtime_ms", "  seen by the host", "ms", 0, None),
             ("sent_mib", "RAM sent", "MiB", 1, None),
             ("passes", "passes", "", 0, None)),
    "dirty": (("dirty_mib_s", "guest dirty rate", "MiB/s", 1, None),
              ("total_s", "total time", "s", 3, "qemu"),
              ("total_ms", "  total-time (VMM)", "ms", 0, None),
              ("downtime_ms", "downtime (VMM)", "ms", 0, "qemu"),
              ("seen_downtime_ms", "  seen by the host", "ms", 0, None),
              ("sent_mib", "RAM sent", "MiB", 1, None),
              ("passes", "passes", "", 0, None)),
}
TITLES = {"save": "save / restore", "idle": "live migration, idle guest",
          "dirty": "live migration, guest dirtying"}


def build_rows(args, results):
    rows, summary = [], {}
    for mem in args.memories:
        for part in args.only:
            title = TITLES[part] + (f" ~{args.dirty_rate} MiB/s" if part == "dirty" else "")
            rows.append((f"-m {mem}: {title}", "", "", "", "", ""))
            for key, label, unit, digits, target in ROWS[part]:
                vm = median(r.get(key) for r in results[mem][part]["vessel"])
                qm = median(r.get(key) for r in results[mem][part]["qemu"])
                r = vm / qm if vm is not None and qm else None
                ok, tgt = None, ""
                if target == "qemu":
                    tgt, ok = "<= QEMU", None if r is None else vm <= qm
                elif target is not None:
                    tgt = f"<= {target} {unit}"
                    ok = None if vm is None else vm <= target
                    if qm is not None:  # and not worse than QEMU's
                        tgt += ", QEMU"
                        ok = ok and vm <= qm
                rows.append(("  " + label, fmt(vm, unit, digits), fmt(qm, unit, digits),
                             "n/a" if r is None else f"{r:.2f}x", tgt,
                             "" if ok is None else ("met" if ok else "MISSED")))
                summary[f"{mem}.{part}.{key}"] = {"vessel_median": vm, "qemu_median": qm,
                                                  "ratio": r, "target": tgt, "target_met": ok}
    return rows, summary


def describe(res):
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in res.items())


# ------------------------------------------------------------------ main --
def parse_args(argv):
    default_append = guest_cmdline(GUEST_OUT)
    p = argparse.ArgumentParser(
        description="Saves, restores and live-migrates the same guest on Vessel and QEMU (TCG), "
                    "alternately, over QMP, and compares the times, file sizes and downtimes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--rounds", type=int, default=4, metavar="N",
                   help="rounds (each: every VMM once per part); an odd N is rounded up")
    p.add_argument("--only", default=",".join(PARTS), metavar="LIST",
                   help="comma-separated subset of " + ", ".join(PARTS))
    p.add_argument("--memory", default="256M", metavar="LIST",
                   help="guest RAM sizes, comma-separated (e.g. 256M,1G); the same for both VMMs")
    p.add_argument("--dirty-rate", type=int, default=50, metavar="MIB_S",
                   help="what the guest loop of the dirty part aims at")
    p.add_argument("--vessel", default=default_vessel(ROOT), metavar="PATH")
    p.add_argument("--qemu", default="qemu-system-riscv64", metavar="PATH")
    p.add_argument("--kernel", default=os.path.join(GUEST_OUT, "Image"), metavar="PATH")
    p.add_argument("--initrd", default=os.path.join(GUEST_OUT, "initramfs.cpio.gz"), metavar="PATH")
    p.add_argument("--append", default=default_append, metavar="CMDLINE")
    p.add_argument("--firmware", default=DEFAULT_FIRMWARE, metavar="PATH")
    p.add_argument("--smp", type=int, default=1, metavar="N")
    p.add_argument("--settle", type=float, default=2, metavar="S",
                   help="seconds at the prompt before a save or an idle migration")
    p.add_argument("--poll-ms", type=float, default=1, metavar="MS",
                   help="QMP polling interval while a migration runs")
    p.add_argument("--timeout", type=float, default=300, metavar="S", help="per VMM process")
    p.add_argument("--vessel-arg", action="append", default=[], metavar="ARG")
    p.add_argument("--qemu-arg", action="append", default=[], metavar="ARG")
    p.add_argument("--json", metavar="FILE", help="every sample and the summary (JSON)")
    p.add_argument("--log-dir", metavar="DIR", help="keep the console logs here")
    args = p.parse_args(argv)
    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    if not args.only or any(w not in PARTS for w in args.only):
        p.error(f"--only takes {', '.join(PARTS)}")
    args.memories = [m.strip() for m in args.memory.split(",") if m.strip()]
    try:
        for m in args.memories:
            parse_size(m)
    except argparse.ArgumentTypeError as e:
        p.error(str(e))
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    args.rounds = balanced_rounds(args.rounds)
    for what, path in (("--kernel", args.kernel), ("--initrd", args.initrd),
                       ("--firmware", args.firmware)):
        if not os.path.exists(path):
            p.error(f"{what}: {path} does not exist")
    for what, prog in (("--vessel", args.vessel), ("--qemu", args.qemu)):
        if not shutil.which(prog):
            p.error(f"{what}: {prog} is not an executable")
    args.vessel = os.path.abspath(args.vessel) if os.path.sep in args.vessel else args.vessel
    return args


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def run_part(args, part, vmm, tag):
    if part == "save":
        return save_restore(args, vmm, tag)
    return live_migrate(args, vmm, tag, dirty=part == "dirty")


def main(argv):
    args = parse_args(argv)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    args.work = tempfile.mkdtemp(prefix="vessel-vmstate-")
    args.log_dir = args.log_dir or os.path.join(args.work, "logs")
    os.makedirs(args.log_dir, exist_ok=True)
    load = os.getloadavg()
    print(f"Vessel: {args.vessel}")
    print(f"QEMU:   {args.qemu} ({qemu_version(args.qemu)}, TCG)")
    print(f"guest:  {args.kernel}, initrd {args.initrd}, no disk, -m {args.memory} -smp {args.smp}")
    print(f"host:   {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print()
    warm_caches([args.kernel, args.initrd, args.firmware], [args.vessel, args.qemu])

    results = {m: {p: {v: [] for v in VMMS} for p in args.only} for m in args.memories}
    failures, status = [], 0
    try:
        for mem in args.memories:
            args.memory = mem
            for rnd in range(1, args.rounds + 1):
                order = ["vessel", "qemu"] if rnd % 2 else ["qemu", "vessel"]
                for part in args.only:
                    for vmm in order:
                        tag = f"{mem}-round{rnd}-{part}-{vmm}"
                        started = time.monotonic()
                        try:
                            res = run_part(args, part, vmm, tag)
                        except RunFailed as e:
                            failures.append(f"{tag}: {e}")
                            print(f"-m {mem} round {rnd}/{args.rounds} {part:<5} {vmm:<6} "
                                  f"FAILED: {e}", flush=True)
                            continue
                        results[mem][part][vmm].append(res)
                        print(f"-m {mem} round {rnd}/{args.rounds} {part:<5} {vmm:<6} "
                              f"({time.monotonic() - started:5.1f} s) {describe(res)}", flush=True)
    except (KeyboardInterrupt, Interrupted) as e:
        print(f"\ninterrupted ({e or 'SIGINT'}); VMMs stopped", file=sys.stderr)
        status = 130
    finally:
        for vm in list(LIVE):
            vm.close()

    end_load = os.getloadavg()
    print()
    rows, summary = build_rows(args, results)
    print_table(("metric", "Vessel median", "QEMU median", "Vessel/QEMU", "target", "status"), rows)
    print()
    print("ratios: Vessel / QEMU (below 1: Vessel takes less time, a smaller file, a shorter "
          "downtime). Both with their default migration parameters (QEMU: max-bandwidth "
          "128 MiB/s, downtime-limit 300 ms).")
    print(f"load average at the end: {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}")
    if failures:
        status = status or 1
        print(f"\n{len(failures)} run(s) failed:")
        for f in failures:
            print("  " + f)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"samples": results, "summary": summary, "failures": failures,
                       "loadavg": {"start": load, "end": end_load}}, f, indent=2)
            f.write("\n")
    if failures:
        print(f"console logs kept in {args.log_dir}")
    else:
        shutil.rmtree(args.work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
