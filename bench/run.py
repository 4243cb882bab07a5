#!/usr/bin/env python3
"""Vessel vs. QEMU (TCG): boot time, guest CPU speed, idle cost, memory.

    bench/run.py [--rounds N] [--only boot,cpu,progs,idle] [--json FILE] [guest options]

Boots the same kernel + initramfs (+ a copy of the same data disk) on Vessel
(`vessel run`) and on `qemu-system-riscv64 -machine virt` with the same
memory size and number of harts, one VMM after the other, for N rounds. The
order flips every round (Vessel first in odd rounds, QEMU first in even
ones) so that a slow drift of the host's load hits both alike; N is rounded
up to an even number, so each VMM goes first equally often. Before the
first timed run, every file the runs read (binaries, kernel, initrd, disk,
firmware) is read once and both VMMs are started once (--version), so the
first timed run does not pay for a cold page cache. Every run drives the
guest's serial console through a pseudo-terminal.

Per round and VMM, up to two boots:
  shell boot  (--append)      process start -> marker line: boot time; then
                              the shell prompt, --settle seconds of rest and
                              a --idle-window second window in which the VMM's
                              CPU time (/proc/PID/stat utime+stime) is taken:
                              idle cost in % of one host core; at its end the
                              VMM's peak RSS (VmHWM) and its RSS outside the
                              guest-RAM mapping (/proc/PID/smaps)
  cpu boot    (--cpu-append)  the guest runs its CPU benchmark and powers off;
                              the per-phase and total times it prints
                              (cpubench's format) and the host wall time from
                              the marker to the total line
  progs boot  (--prog-append) the same with real programs: progbench runs
                              busybox gzip, gunzip, bzip2, sha256sum, sort,
                              awk and sed over a generated text
The medians go into a table with the Vessel/QEMU ratios and the targets.
Exit status: 0 when every run succeeded, 1 when some failed, 2 on bad usage,
130 when interrupted.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from bench_util import (guest_cmdline, GuestRun, Interrupted, RunFailed, balanced_rounds,  # noqa: E402
                        cpu_ticks, default_vessel, fmt,
                        kill_tree, median, parse_size, process_tree, qemu_version,
                        ram_mapping_rss_kib, status_kib, warm_caches)
from serial_console import Console  # noqa: E402

GUEST_OUT = os.path.join(ROOT, "guest", "out")
DEFAULT_FIRMWARE = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
DEFAULT_MARKER = "Welcome to the Vessel guest"
DEFAULT_CPU_APPEND = "console=ttyS0 vessel.run=cpubench"
DEFAULT_PROG_APPEND = "console=ttyS0 vessel.run=progbench"
DEFAULT_PROMPT = r"[#$] "
CPU_LINE = re.compile(rb"(?:cpubench|progbench): (?:phase=(\w+) ms=(\d+)[^\r\n]*"
                      rb"|total_ms=(\d+) checksum=(0x[0-9a-fA-F]+))\r*\n")
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

# Targets: (description, predicate on the value it applies to).
TARGET_BOOT_RATIO = 0.6      # Vessel boot time <= 0.6x QEMU's
TARGET_CPU_SPEED = 2.0       # Vessel speed >= 2x QEMU's over a whole benchmark
TARGET_PHASE_SPEED = 1.5     # ... and >= 1.5x on every phase
TARGET_IDLE_PCT = 2.0        # Vessel idle < 2 % of a host core
TARGET_EXTRA_RSS_MIB = 80.0  # Vessel RSS outside guest RAM (code cache included) <= 80 MiB

# The CPU benchmarks: --only word, result key prefix, the guest program.
CPU_BENCHMARKS = (("cpu", "", "cpubench"), ("progs", "prog_", "progbench"))


# ------------------------------------------------------------------ VMMs --
def drain(con, seconds):
    """Keeps reading the console for some seconds; fails if the VMM exits."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if con._read(min(left, 0.5)) is None or con.proc.poll() is not None:
            raise RunFailed(f"the VMM exited (status {con.proc.poll()}) while the guest was idle")



def vessel_argv(args, append, disk):
    argv = [args.vessel, "run", "--kernel", args.kernel, "--append", append,
            "--memory", args.memory, "--smp", str(args.smp), "--firmware", args.firmware]
    if args.initrd:
        argv += ["--initrd", args.initrd]
    if disk:
        argv += ["--disk", disk]
    return argv + args.vessel_arg


def qemu_argv(args, append, disk):
    # -nic none and virtio-rng: the same device set as Vessel's board (which
    # has a virtio-rng and no network card); the guest sees the same machine.
    argv = [args.qemu, "-machine", "virt", "-nographic", "-bios", args.firmware,
            "-kernel", args.kernel, "-append", append,
            "-m", args.memory, "-smp", str(args.smp), "-nic", "none"]
    if args.initrd:
        argv += ["-initrd", args.initrd]
    if disk:
        argv += ["-drive", f"file={disk},format=raw,if=none,id=d0",
                 "-device", "virtio-blk-device,drive=d0"]
    argv += ["-device", "virtio-rng-device"]
    return argv + args.qemu_arg


VMMS = {"vessel": vessel_argv, "qemu": qemu_argv}
LIVE = []  # consoles to clean up on any exit


class Run(GuestRun):
    """One boot of one VMM, with a deadline for the whole run."""

    def __init__(self, args, vmm, append, disk, log_path):
        self.args = args
        self.deadline = time.monotonic() + args.timeout
        self.log = open(log_path, "wb")
        self.log_path = log_path
        self.con = Console(VMMS[vmm](args, append, disk), self.log)
        LIVE.append(self.con)

    def close(self):
        kill_tree(self.con)
        if self.con in LIVE:
            LIVE.remove(self.con)
        self.log.close()


def shell_boot(args, vmm, disk, log_path, want_idle):
    """Boot time; with want_idle also idle CPU and memory."""
    run = Run(args, vmm, args.append, disk, log_path)
    try:
        run.expect(re.escape(args.marker.encode()), f"the marker {args.marker!r}")
        res = {"boot_s": time.monotonic() - run.con.start}
        if not want_idle:
            return res
        run.expect(args.prompt.encode(), f"the prompt /{args.prompt}/")
        pid = run.con.proc.pid
        drain(run.con, args.settle)
        run.left()
        t0, c0 = time.monotonic(), cpu_ticks(process_tree(pid))
        drain(run.con, args.idle_window)
        t1, c1 = time.monotonic(), cpu_ticks(process_tree(pid))
        res["idle_pct"] = 100.0 * (c1 - c0) / CLK_TCK / (t1 - t0)
        tree = process_tree(pid)
        hwm = sum(status_kib(p, "VmHWM") for p in tree)
        rss = sum(status_kib(p, "VmRSS") for p in tree)
        ram_rss = ram_mapping_rss_kib(pid, args.memory_bytes)
        res["peak_rss_mib"] = hwm / 1024
        res["rss_mib"] = rss / 1024
        res["guest_ram_rss_mib"] = ram_rss / 1024
        res["rss_outside_ram_mib"] = (rss - ram_rss) / 1024
        return res
    finally:
        run.close()


def cpu_boot(args, vmm, disk, log_path, append, prefix):
    """A boot that runs a CPU benchmark (cpubench's output format); its
    results under keys starting with `prefix`."""
    run = Run(args, vmm, append, disk, log_path)
    try:
        run.expect(re.escape(args.marker.encode()), f"the marker {args.marker!r}")
        t_marker = time.monotonic()
        phases = {}
        while True:
            m = run.expect(CPU_LINE, "the next benchmark line")
            if m.group(3) is not None:
                break
            phases[m.group(1).decode()] = int(m.group(2))
        res = {prefix + "wall_s": time.monotonic() - t_marker, prefix + "total_ms": int(m.group(3)),
               prefix + "checksum": m.group(4).decode().lower(), prefix + "phases_ms": phases}
        # The guest powers off by itself; give it a moment, then kill it anyway.
        run.con.wait_exit(min(10.0, run.left()))
        return res
    finally:
        run.close()


# ---------------------------------------------------------------- report --


def ratio_str(r, kind, qemu=None):
    if r is None:
        return "n/a (QEMU 0)" if qemu == 0 else "n/a"
    return f"{r:.2f}x {kind}"


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "MISSED")


def build_rows(args, results):
    """Table rows: (metric, vessel, qemu, ratio, target, verdict) + JSON form."""
    rows, summary = [], {}

    def samples(vmm, key, sub=None):
        out = []
        for r in results[vmm]:
            v = r.get(key)
            if sub is not None:
                v = None if v is None else v.get(sub)
            out.append(v)
        return out

    def add(key, label, unit, vm, qm, ratio, kind, target, ok, digits=2):
        rows.append((label, fmt(vm, unit, digits), fmt(qm, unit, digits),
                     ratio_str(ratio, kind, qm), target, verdict(ok)))
        summary[key] = {"vessel_median": vm, "qemu_median": qm, "ratio": ratio,
                        "ratio_kind": kind, "target": target,
                        "target_met": ok}

    if "boot" in args.only:
        vm, qm = median(samples("vessel", "boot_s")), median(samples("qemu", "boot_s"))
        r = vm / qm if vm and qm else None
        add("boot_s", "boot to marker", "s", vm, qm, r, "time",
            f"<= {TARGET_BOOT_RATIO:g}x QEMU", None if r is None else r <= TARGET_BOOT_RATIO)
    for word, prefix, program in CPU_BENCHMARKS:
        if word not in args.only:
            continue
        key = "cpu" if word == "cpu" else word
        vm = median(samples("vessel", prefix + "total_ms"))
        qm = median(samples("qemu", prefix + "total_ms"))
        r = qm / vm if vm and qm else None
        add(f"{key}_total_ms", f"{program} total", "ms", vm, qm, r, "speed",
            f">= {TARGET_CPU_SPEED:g}x QEMU", None if r is None else r >= TARGET_CPU_SPEED, 0)
        names = []
        for vmm in VMMS:
            for r_ in results[vmm]:
                names += [n for n in r_.get(prefix + "phases_ms", {}) if n not in names]
        for name in names:
            vm = median(samples("vessel", prefix + "phases_ms", name))
            qm = median(samples("qemu", prefix + "phases_ms", name))
            r = qm / vm if vm and qm else None
            add(f"{key}_phase_{name}_ms", f"  phase {name}", "ms", vm, qm, r, "speed",
                f">= {TARGET_PHASE_SPEED:g}x", None if r is None else r >= TARGET_PHASE_SPEED, 0)
        vm, qm = median(samples("vessel", prefix + "wall_s")), median(samples("qemu", prefix + "wall_s"))
        r = qm / vm if vm and qm else None
        add(f"{key}_wall_s", "  host wall time", "s", vm, qm, r, "speed", "", None)
    if "idle" in args.only:
        vm, qm = median(samples("vessel", "idle_pct")), median(samples("qemu", "idle_pct"))
        r = vm / qm if vm is not None and qm else None
        # (QEMU often shows 0.00 %: under one clock tick in the whole window.)
        add("idle_pct", "idle host CPU", "%", vm, qm, r, "cost",
            f"< {TARGET_IDLE_PCT:g} % of a core", None if vm is None else vm < TARGET_IDLE_PCT)
        vm, qm = median(samples("vessel", "peak_rss_mib")), median(samples("qemu", "peak_rss_mib"))
        r = vm / qm if vm and qm else None
        add("peak_rss_mib", "peak RSS (VmHWM)", "MiB", vm, qm, r, "size",
            f"guest RAM {args.memory_bytes / MIB:g} MiB", None, 1)
        vm = median(samples("vessel", "guest_ram_rss_mib"))
        qm = median(samples("qemu", "guest_ram_rss_mib"))
        r = vm / qm if vm and qm else None
        add("guest_ram_rss_mib", "  of it guest RAM now", "MiB", vm, qm, r, "size", "", None, 1)
        vm = median(samples("vessel", "rss_outside_ram_mib"))
        qm = median(samples("qemu", "rss_outside_ram_mib"))
        r = vm / qm if vm and qm else None
        add("rss_outside_ram_mib", "RSS outside guest RAM", "MiB", vm, qm, r, "size",
            f"< {TARGET_EXTRA_RSS_MIB:g} MiB", None if vm is None else vm < TARGET_EXTRA_RSS_MIB, 1)
    return rows, summary


def print_table(rows):
    head = ("metric", "Vessel median", "QEMU median", "ratio", "target", "status")
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) if i < 4
                               else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    print(line(head).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r).rstrip())


# ------------------------------------------------------------------ main --

def parse_args(argv):
    default_append = guest_cmdline(GUEST_OUT)
    p = argparse.ArgumentParser(
        description="Boots the same guest on Vessel and QEMU (TCG), alternately, and compares "
                    "boot time, in-guest CPU speed, idle host CPU and memory.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--rounds", type=int, default=6, metavar="N",
                   help="rounds (each: every VMM once per workload); an odd N is rounded up")
    p.add_argument("--only", default="boot,cpu,progs,idle", metavar="LIST",
                   help="comma-separated subset of boot, cpu, progs, idle")
    p.add_argument("--vessel", default=default_vessel(ROOT), metavar="PATH", help="the vessel binary")
    p.add_argument("--qemu", default="qemu-system-riscv64", metavar="PATH", help="the QEMU binary")
    p.add_argument("--kernel", default=os.path.join(GUEST_OUT, "Image"), metavar="PATH",
                   help="kernel Image")
    p.add_argument("--initrd", default=os.path.join(GUEST_OUT, "initramfs.cpio.gz"), metavar="PATH",
                   help="initial ramdisk; 'none' for none")
    p.add_argument("--append", default=default_append, metavar="CMDLINE",
                   help="kernel command line of the boot and idle runs")
    p.add_argument("--cpu-append", default=DEFAULT_CPU_APPEND, metavar="CMDLINE",
                   help="kernel command line of the CPU run (its output must be in cpubench's "
                        "format: 'cpubench: phase=NAME ms=N', 'cpubench: total_ms=N checksum=X')")
    p.add_argument("--prog-append", default=DEFAULT_PROG_APPEND, metavar="CMDLINE",
                   help="kernel command line of the real-programs run (progbench, cpubench's "
                        "format)")
    p.add_argument("--marker", default=DEFAULT_MARKER, metavar="TEXT",
                   help="console text that ends the boot (the guest is up)")
    p.add_argument("--prompt", default=DEFAULT_PROMPT, metavar="REGEX",
                   help="regex of the shell prompt the idle run waits for after the marker")
    p.add_argument("--disk", default=os.path.join(GUEST_OUT, "disk.ext4"), metavar="PATH",
                   help="raw disk image; a temporary copy is given to both VMMs; 'none' for none")
    p.add_argument("--firmware", default=DEFAULT_FIRMWARE, metavar="PATH", help="M-mode firmware (OpenSBI)")
    p.add_argument("--memory", default="256M", metavar="SIZE", help="guest RAM, for both VMMs")
    p.add_argument("--smp", type=int, default=1, metavar="N", help="harts, for both VMMs")
    p.add_argument("--timeout", type=float, default=300, metavar="S", help="seconds per run, then it is killed")
    p.add_argument("--settle", type=float, default=3, metavar="S", help="seconds at the prompt before measuring")
    p.add_argument("--idle-window", type=float, default=10, metavar="S", help="seconds of idle CPU measurement")
    p.add_argument("--vessel-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for vessel run (repeatable; use --vessel-arg=-x)")
    p.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for QEMU (repeatable; use --qemu-arg=-x)")
    p.add_argument("--json", metavar="FILE", help="also write every sample and the summary here (JSON)", default=None)
    p.add_argument("--log-dir", metavar="DIR",
                   help="keep the console logs here (otherwise they go to a temporary "
                        "directory, removed unless a run fails)")
    args = p.parse_args(argv)

    args.only = [w.strip() for w in args.only.split(",") if w.strip()]
    bad = [w for w in args.only if w not in ("boot", "cpu", "progs", "idle")]
    if bad or not args.only:
        p.error(f"--only takes boot, cpu, progs and/or idle (got {','.join(bad) or 'nothing'})")
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    args.rounds = balanced_rounds(args.rounds)
    if args.smp < 1:
        p.error("--smp must be at least 1")
    try:
        args.memory_bytes = parse_size(args.memory)
    except argparse.ArgumentTypeError as e:
        p.error(str(e))
    if args.initrd in ("", "none"):
        args.initrd = None
    if args.disk in ("", "none"):
        args.disk = None
    for what, path in (("--kernel", args.kernel), ("--initrd", args.initrd),
                       ("--firmware", args.firmware), ("--disk", args.disk)):
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


def main(argv):
    args = parse_args(argv)
    # SIGINT too: a shell may have set it to "ignore" for a background job.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    work = tempfile.mkdtemp(prefix="vessel-bench-")
    log_dir = args.log_dir or os.path.join(work, "logs")
    os.makedirs(log_dir, exist_ok=True)
    disk = None
    if args.disk:
        disk = os.path.join(work, "disk.img")
        shutil.copyfile(args.disk, disk)

    load = os.getloadavg()
    info = {"vessel": args.vessel, "qemu": args.qemu, "qemu_version": qemu_version(args.qemu),
            "kernel": args.kernel, "initrd": args.initrd, "append": args.append,
            "cpu_append": args.cpu_append, "marker": args.marker, "memory": args.memory,
            "smp": args.smp, "disk": args.disk, "firmware": args.firmware, "rounds": args.rounds,
            "only": args.only, "host": platform.node(), "host_cpus": os.cpu_count(),
            "loadavg_at_start": load}
    print(f"Vessel: {args.vessel}")
    print(f"QEMU:   {args.qemu} ({info['qemu_version']}, TCG)")
    print(f"guest:  {args.kernel}, initrd {args.initrd or 'none'}, disk "
          f"{'copy of ' + args.disk if args.disk else 'none'}, -m {args.memory} -smp {args.smp}")
    print(f"host:   {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if load[0] > max(0.5, (os.cpu_count() or 1) - 1.5):
        print("        (a busy host: absolute numbers are noisy; the ratios of alternating "
              "runs are the figures to read)")
    print()

    warm_caches([args.kernel, args.initrd, disk, args.firmware], [args.vessel, args.qemu])
    results = {vmm: [] for vmm in VMMS}
    failures = []
    status = 0
    try:
        for rnd in range(1, args.rounds + 1):
            order = ["vessel", "qemu"] if rnd % 2 else ["qemu", "vessel"]
            samples = {vmm: {} for vmm in VMMS}
            kinds = []
            if "boot" in args.only or "idle" in args.only:
                kinds.append("shell")
            kinds += [word for word, _, _ in CPU_BENCHMARKS if word in args.only]
            for kind in kinds:
                for vmm in order:
                    log_path = os.path.join(log_dir, f"round{rnd}-{vmm}-{kind}.log")
                    started = time.monotonic()
                    try:
                        if kind == "shell":
                            res = shell_boot(args, vmm, disk, log_path, "idle" in args.only)
                        elif kind == "cpu":
                            res = cpu_boot(args, vmm, disk, log_path, args.cpu_append, "")
                        else:
                            res = cpu_boot(args, vmm, disk, log_path, args.prog_append, "prog_")
                    except RunFailed as e:
                        failures.append(f"round {rnd} {vmm} {kind}: {e} (console log: {log_path})")
                        print(f"round {rnd}/{args.rounds} {vmm:<6} {kind:<5} FAILED: {e}",
                              flush=True)
                        continue
                    samples[vmm].update(res)
                    desc = []
                    if "boot_s" in res and "boot" in args.only:
                        desc.append(f"boot {res['boot_s']:.2f} s")
                    if "idle_pct" in res:
                        desc.append(f"idle {res['idle_pct']:.2f} %")
                        desc.append(f"peak RSS {res['peak_rss_mib']:.1f} MiB "
                                    f"({res['rss_outside_ram_mib']:.1f} outside guest RAM)")
                    for _, prefix, program in CPU_BENCHMARKS:
                        if prefix + "total_ms" in res:
                            desc.append(f"{program} " + " ".join(
                                f"{n}={ms}" for n, ms in res[prefix + "phases_ms"].items())
                                + f" total={res[prefix + 'total_ms']} ms"
                                + f" checksum={res[prefix + 'checksum']}")
                    print(f"round {rnd}/{args.rounds} {vmm:<6} {kind:<5} "
                          f"({time.monotonic() - started:5.1f} s) " + ", ".join(desc), flush=True)
            for vmm in VMMS:
                results[vmm].append(samples[vmm])
    except (KeyboardInterrupt, Interrupted) as e:
        print(f"\ninterrupted ({e or 'SIGINT'}); VMMs stopped", file=sys.stderr)
        status = 130
    finally:
        for con in list(LIVE):
            kill_tree(con)
        LIVE.clear()

    print()
    rows, summary = build_rows(args, results)
    print_table(rows)
    print()
    notes = ["ratios: time/cost/size = Vessel / QEMU (lower is better for Vessel); "
             "speed = QEMU time / Vessel time (> 1: Vessel is faster)."]
    for word, prefix, program in CPU_BENCHMARKS:
        if word not in args.only:
            continue
        key = prefix + "checksum"
        sums = {vmm: sorted({r[key] for r in results[vmm] if key in r}) for vmm in VMMS}
        same = sums["vessel"] and sums["vessel"] == sums["qemu"]
        notes.append(f"{program} checksum: Vessel {','.join(sums['vessel']) or 'n/a'}, QEMU "
                     f"{','.join(sums['qemu']) or 'n/a'}"
                     + (" (identical)" if same else " (DIFFERENT: a CPU bug in one of them)"))
        summary[f"{word}_checksum"] = {"vessel": sums["vessel"], "qemu": sums["qemu"],
                                       "identical": bool(same)}
        if not same and sums["vessel"] and sums["qemu"]:
            status = status or 1
    if "cpu" in args.only or "progs" in args.only:
        notes.append("benchmark times are the guest's own clock (cpubench: CLOCK_MONOTONIC, "
                     "progbench: /proc/uptime); 'host wall time' is marker -> total line as seen "
                     "by the host.")
    if "idle" in args.only:
        notes.append(f"idle: {args.settle:g} s after the prompt, CPU time (utime+stime) over "
                     f"{args.idle_window:g} s, in % of one host core. RSS is read at the end of "
                     "that window; guest RAM is only resident once the guest has touched it, so "
                     "'outside guest RAM' = VmRSS minus the Rss of the guest-RAM mapping.")
    for n in notes:
        print(n)
    ok_runs = {vmm: sum(1 for r in results[vmm] if r) for vmm in VMMS}
    print(f"rounds: {len(results['vessel'])} of {args.rounds}; "
          f"order flips each round (Vessel first in odd rounds); caches warmed before round 1")
    if failures:
        status = status or 1
        print(f"\n{len(failures)} run(s) failed:")
        for f in failures:
            print("  " + f)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "samples": results, "summary": summary,
                       "failures": failures, "rounds_with_samples": ok_runs}, f, indent=2)
            f.write("\n")
        print(f"JSON: {args.json}")

    if args.log_dir:
        print(f"console logs: {args.log_dir}")
        shutil.rmtree(work, ignore_errors=True)
    elif failures:
        if disk:
            os.remove(disk)
        print(f"console logs kept in {log_dir}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
