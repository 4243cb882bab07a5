"""A private vesseld for one test: its own socket and state directory under
the test's scratch directory, driven with Debian's virsh. The daemon and
every VM it started are gone when the test ends."""
import json
import os
import shutil
import signal
import subprocess
import time

import default_guest

START_TIMEOUT = 30


class Daemon:
    def __init__(self, vesseld, work):
        self.vesseld = vesseld
        self.work = work
        shutil.rmtree(work, ignore_errors=True)  # what an earlier run left
        os.makedirs(work)
        self.socket = os.path.join(work, "sock")
        self.state = os.path.join(work, "state")
        self.log = open(os.path.join(work, "vesseld.log"), "ab")
        self.proc = None
        self.start()

    @property
    def uri(self):
        return f"vessel+unix:///system?socket={self.socket}"

    def start(self):
        self.proc = subprocess.Popen([self.vesseld, "--socket", self.socket,
                                      "--state-dir", self.state],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + START_TIMEOUT
        while self.virsh("list", check=False).returncode != 0:
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"vesseld did not start: see {self.log.name}")
            time.sleep(0.1)

    def kill(self, signo=signal.SIGKILL):
        """Ends the daemon (not its VMs)."""
        self.proc.send_signal(signo)
        self.proc.wait(timeout=30)

    def virsh(self, *args, check=True, readonly=False):
        """virsh's CompletedProcess (text); check=True raises on failure."""
        uri = self.uri
        if readonly:
            uri = f"vessel+unix:///system?socket={self.socket}-ro"
        argv = ["virsh", "-q", "-c", uri] + list(args)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: {result.stderr.strip()}")
        return result

    def define(self, xml):
        """virsh define of the XML text; returns the file it was written to."""
        self.defined = getattr(self, "defined", 0) + 1
        path = os.path.join(self.work, f"define-{self.defined}.xml")
        with open(path, "w") as f:
            f.write(xml)
        self.virsh("define", path)
        return path

    def state_of(self, name):
        return self.virsh("domstate", "--reason", name).stdout.strip()

    def wait_state(self, name, prefix, timeout=default_guest.TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            state = self.state_of(name)
            if state.startswith(prefix):
                return state
            time.sleep(0.2)
        return self.state_of(name)

    def console_log(self, name):
        return os.path.join(self.state, "log", name + ".console")

    def boot_count(self, name):
        """How many boots of the guest reached their shell so far."""
        try:
            with open(self.console_log(name), "rb") as f:
                return f.read().count(default_guest.MARKER)
        except FileNotFoundError:
            return 0

    def wait_console(self, name, text, timeout=default_guest.TIMEOUT, count=1):
        """Waits until the VM's serial output holds `text` `count` times."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open(self.console_log(name), "rb") as f:
                    if f.read().count(text) >= count:
                        return True
            except FileNotFoundError:
                pass
            time.sleep(0.2)
        return False

    def wait_booted(self, name, count=1):
        """Waits for the guest's `count`th boot to reach its shell, and a
        moment more: a power button pressed before the guest's acpid reads
        its input device is lost, on real machines too."""
        ok = self.wait_console(name, default_guest.MARKER, count=count)
        time.sleep(1)
        return ok

    def shutdown(self, name, timeout=120):
        """virsh shutdown, pressed again every 20 s as a user would if the
        guest missed it (a press while the guest resumes from a snapshot or a
        save can land before its input device is read); the final state."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.virsh("shutdown", name, check=False)
            state = self.wait_state(name, "shut off", min(20, max(1, deadline - time.time())))
            if state.startswith("shut off"):
                return state
        return self.state_of(name)

    def close(self):
        """Destroys every running domain, then stops the daemon."""
        if self.proc.poll() is None:
            running = self.virsh("list", "--name", check=False).stdout.split()
            for name in running:
                self.virsh("destroy", name, check=False)
            self.kill(signal.SIGTERM)
        # VMs a crashed daemon left behind: their run records name them.
        run = os.path.join(self.state, "run")
        for record in os.listdir(run) if os.path.isdir(run) else []:
            if record.endswith(".json"):
                try:
                    with open(os.path.join(run, record)) as f:
                        os.kill(json.load(f)["pid"], signal.SIGKILL)
                except (OSError, ValueError, KeyError):
                    pass
        self.log.close()


def domain_xml(name, guest_out, devices="", memory_mib=256, extra=""):
    """A domain booting the default guest from its kernel and initramfs."""
    cmdline = open(os.path.join(guest_out, "cmdline")).read().strip()
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='riscv64' machine='virt'>hvm</type>
    <kernel>{guest_out}/Image</kernel>
    <initrd>{guest_out}/initramfs.cpio.gz</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>{extra}
  <devices>
    <console type='pty'/>{devices}
  </devices>
</domain>
"""
