"""A domain's life through Debian's virsh, booting the default guest: start
(to the guest's shell), dominfo/domid while it runs, suspend/resume, a clean
shutdown through the power button, lifecycle events (virsh event), reboot (the guest boots again), destroy,
a VM process that dies being reported as crashed, live attach refused
clearly, autostart when the daemon starts, and a transient domain (create).
Usage: lifecycle.py VESSELD GUEST_OUT WORKDIR"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import MARKER, Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402

POWEROFF = b"reboot: Power down"


def vm_pid(daemon, name):
    import json
    with open(os.path.join(daemon.state, "run", name + ".json")) as f:
        return json.load(f)["pid"]


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    daemon = Daemon(vesseld, work)
    try:
        daemon.define(domain_xml("vm", guest_out))

        events = subprocess.Popen(["virsh", "-c", daemon.uri, "event", "--loop", "--event",
                                   "lifecycle"], stdout=subprocess.PIPE, text=True)
        time.sleep(1)  # registered before the first event
        daemon.virsh("start", "vm")
        check("start: running", daemon.state_of("vm") == "running (booted)", daemon.state_of("vm"))
        check("start: the guest reaches its shell", daemon.wait_booted("vm"))
        check("domid of a running domain", daemon.virsh("domid", "vm").stdout.strip() == "1")
        check("list shows it running", daemon.virsh("list").stdout.split() == ["1", "vm", "running"])
        info = daemon.virsh("dominfo", "vm").stdout
        cpu = [line.split()[-1] for line in info.splitlines() if line.startswith("CPU time:")]
        check("dominfo: running, with the CPU time the boot took",
              "running" in info and cpu and float(cpu[0].rstrip("s")) > 0, info)
        r = daemon.virsh("start", "vm", check=False)
        check("start twice is refused", r.returncode != 0 and "already active" in r.stderr, r.stderr)

        daemon.virsh("suspend", "vm")
        check("suspend", daemon.state_of("vm") == "paused (user)", daemon.state_of("vm"))
        daemon.virsh("resume", "vm")
        check("resume", daemon.state_of("vm") == "running (unpaused)", daemon.state_of("vm"))
        time.sleep(0.5)
        events.terminate()
        seen = [line.split(": ", 1)[1] for line in events.communicate()[0].splitlines() if ": " in line]
        check("virsh event: the lifecycle events so far",
              seen == ["Started Booted", "Suspended Paused", "Resumed Unpaused"], seen)

        disk = os.path.join(work, "d.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        dev = os.path.join(work, "dev.xml")
        with open(dev, "w") as f:
            f.write(f"<disk type='file'><source file='{disk}'/><target dev='vdb'/></disk>")
        r = daemon.virsh("attach-device", "vm", dev, "--live", check=False)
        check("live attach: a clear refusal", r.returncode != 0 and "not supported live" in r.stderr,
              r.stderr)

        daemon.virsh("shutdown", "vm")
        state = daemon.wait_state("vm", "shut off")
        check("shutdown: shut off (shutdown)", state == "shut off (shutdown)", state)
        check("shutdown: the guest powered itself off", daemon.wait_console("vm", POWEROFF, 5))

        daemon.virsh("start", "vm")
        check("start again: id 2", daemon.virsh("domid", "vm").stdout.strip() == "2")
        check("start again: the guest boots", daemon.wait_booted("vm", count=2))
        daemon.virsh("reboot", "vm")
        check("reboot: the guest powers off cleanly", daemon.wait_console("vm", POWEROFF, count=2))
        check("reboot: and boots again", daemon.wait_console("vm", MARKER, count=3))
        check("reboot: still running", daemon.state_of("vm").startswith("running"),
              daemon.state_of("vm"))

        daemon.virsh("destroy", "vm")
        check("destroy", daemon.state_of("vm") == "shut off (destroyed)", daemon.state_of("vm"))
        check("destroy: no run record left",
              not os.path.exists(os.path.join(daemon.state, "run", "vm.json")))

        daemon.virsh("start", "vm")
        os.kill(vm_pid(daemon, "vm"), signal.SIGKILL)
        state = daemon.wait_state("vm", "shut off", 30)
        check("a VM process that dies is reported as crashed", state == "shut off (crashed)", state)

        daemon.virsh("autostart", "vm")
        daemon.kill(signal.SIGTERM)
        daemon.start()
        check("autostart: started with the daemon", daemon.state_of("vm").startswith("running"),
              daemon.state_of("vm"))
        daemon.virsh("destroy", "vm")
        daemon.virsh("autostart", "--disable", "vm")

        tpath = os.path.join(work, "transient.xml")
        with open(tpath, "w") as f:
            f.write(domain_xml("temp", guest_out))
        daemon.virsh("create", tpath)
        info = daemon.virsh("dominfo", "temp").stdout
        check("create: a transient domain runs", "Persistent:     no" in info and "running" in info,
              info)
        daemon.virsh("destroy", "temp")
        r = daemon.virsh("dominfo", "temp", check=False)
        check("a transient domain is gone once stopped", r.returncode != 0, r.stdout)
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
