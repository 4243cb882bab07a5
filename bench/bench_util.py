"""Helpers the benchmark scripts share."""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import time

MIB = 1024 * 1024


def sync_file(path):
    """fdatasync `path`, so that its dirty pages are not left to the next run."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def balanced_rounds(rounds):
    """An even number of rounds (rounding up), so that alternating the order
    lets each tool go first equally often."""
    return rounds + rounds % 2


# ------------------------------------------------ VMM processes (/proc) --
def descendants(pid):
    """The PIDs of a process's living descendants (children of all threads)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def process_tree(pid):
    return [pid] + descendants(pid)


def cpu_ticks(pids):
    """utime + stime of the processes (all their threads), in clock ticks."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return total


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def ram_mapping_rss_kib(pid, ram_bytes):
    """Rss of the mapping that holds guest RAM: the anonymous mapping of at
    least the guest-RAM size (QEMU may add a little for alignment) with the
    most resident pages. 0 when none is found."""
    best, size = 0, None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split(None, 1)[0]
                if "-" in head and not head.endswith(":"):
                    lo, hi = (int(x, 16) for x in head.split("-"))
                    size = hi - lo
                elif head == "Rss:" and size is not None:
                    if ram_bytes <= size <= ram_bytes + 64 * MIB:
                        best = max(best, int(line.split()[1]))
                    size = None
    except OSError:
        pass
    return best


def kill_tree(con):
    """Kills a VMM and everything it started; closes its terminal."""
    if getattr(con, "_bench_closed", False):
        return
    con._bench_closed = True
    pids = process_tree(con.proc.pid) if con.proc.poll() is None else []
    for p in reversed(pids[1:]):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    con.kill()  # the VMM itself (SIGKILL, reaped) and the terminal


def warm_caches(files, programs):
    """Reads every file the timed runs read and starts each program once
    (--version), untimed, so the first timed run does not pay for a cold
    page cache."""
    for prog in programs:
        files = list(files) + [shutil.which(prog)]
        subprocess.run([prog, "--version"], capture_output=True, timeout=30, check=False)
    for path in filter(None, files):
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass


def qemu_version(qemu):
    """The first line of `qemu --version`, or "?"."""
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# ----------------------------------------------------- options, reports --
def parse_size(text):
    """"256M", "1G", "512" (MiB, as both VMMs read a bare number) → bytes."""
    m = re.fullmatch(r"(\d+)([KMGkmg]?)i?[Bb]?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad memory size {text!r} (e.g. 256M, 1G)")
    return int(m.group(1)) * {"K": 1024, "M": MIB, "G": 1024 * MIB}[m.group(2).upper() or "M"]


def default_vessel(root):
    """The vessel binary of the Release build in `root`/build."""
    for p in (os.path.join(root, "build", "vessel"), os.path.join(root, "build", "src", "vessel")):
        if os.path.exists(p):
            return p
    return os.path.join(root, "build", "vessel")


def median(values):
    """The median of the values that are not None; None if there are none."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, unit, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f} {unit}".rstrip()


def print_table(head, rows):
    """Rows of strings under `head`: the first column left-aligned, the
    numbers right-aligned, a trailing text column (if any) left-aligned."""
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]

    def line(r):
        return "  ".join(str(c).ljust(w) if i == 0 or (i == len(head) - 1 and i > 3)
                         else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def guest_cmdline(guest_out):
    """The default guest's kernel command line (its build writes it next to
    the kernel), or a serial console's where there is none."""
    try:
        with open(os.path.join(guest_out, "cmdline")) as f:
            return f.read().strip() or "console=ttyS0 earlycon=sbi"
    except OSError:
        return "console=ttyS0 earlycon=sbi"


class Interrupted(Exception):
    """A signal asked the benchmark to stop."""


class RunFailed(Exception):
    """One VMM run went wrong; the benchmark reports it and goes on."""


class GuestRun:
    """What the benchmarks' runs of a guest share: a deadline
    (self.deadline, from self.args.timeout) and a console (self.con) to
    wait on."""

    def left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RunFailed(f"run timed out after {self.args.timeout:g} s")
        return left

    def expect(self, pattern, what):
        try:
            return self.con.expect(pattern, self.left())
        except TimeoutError:
            raise RunFailed(f"run timed out after {self.args.timeout:g} s waiting for {what}") from None
        except EOFError:
            raise RunFailed(f"the VMM exited (status {self.con.proc.poll()}) before {what}") from None
