"""virsh migrate --live between two vesseld daemons on this host (two
sockets stand for two hosts; the disk is shared, at the same path): the
domain ends on the source as shut off (migrated) and runs on the
destination as running (migrated), where its guest answers the power
button; --persistent and --undefinesource move the definition too; a
migration the destination refuses leaves the source running; --p2p, where
the source daemon drives the destination itself, moves it back.
Usage: migrate.py VESSELD GUEST_OUT WORKDIR"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    src = Daemon(vesseld, os.path.join(work, "source"))
    dst = Daemon(vesseld, os.path.join(work, "destination"))
    try:
        disk = os.path.join(work, "shared.img")
        with open(disk, "wb") as f:
            f.truncate(8 << 20)
        devices = (f"\n    <disk type='file'><driver name='qemu' type='raw'/><source file='{disk}'/>"
                   f"<target dev='vda' bus='virtio'/></disk>")
        path = os.path.join(work, "vm.xml")
        with open(path, "w") as f:
            f.write(domain_xml("vm", guest_out, devices))
        src.virsh("define", path)

        r = src.virsh("migrate", "--live", "vm", dst.uri, check=False)
        check("an inactive domain does not migrate", r.returncode != 0, r.stdout)

        src.virsh("start", "vm")
        src.wait_booted("vm")
        src.virsh("migrate", "--live", "vm", dst.uri)
        check("the source: shut off (migrated)", src.state_of("vm") == "shut off (migrated)",
              src.state_of("vm"))
        check("the destination: running (migrated)", dst.state_of("vm") == "running (migrated)",
              dst.state_of("vm"))
        check("transient there", "Persistent:     no" in dst.virsh("dominfo", "vm").stdout)
        dst.virsh("shutdown", "vm")
        powered_off = dst.wait_console("vm", b"powering off")
        for _ in range(100):  # the transient domain goes once its process has ended
            if dst.virsh("list", "--all", "--name").stdout.split() == []:
                break
            time.sleep(0.1)
        check("the migrated guest answers its power button", powered_off and
              dst.virsh("list", "--all", "--name").stdout.split() == [])

        src.virsh("start", "vm")
        src.wait_booted("vm", count=2)
        dst.virsh("create", path)  # the destination already runs a "vm"
        r = src.virsh("migrate", "--live", "vm", dst.uri, check=False)
        check("a migration the destination refuses fails", r.returncode != 0, r.stdout)
        check("and the source runs on", src.state_of("vm").startswith("running"), src.state_of("vm"))
        dst.virsh("destroy", "vm")

        src.virsh("migrate", "--live", "--persistent", "--undefinesource", "vm", dst.uri)
        check("--persistent: defined on the destination",
              "Persistent:     yes" in dst.virsh("dominfo", "vm").stdout)
        check("--undefinesource: gone from the source",
              src.virsh("list", "--all", "--name").stdout.split() == [])

        nowhere = f"vessel+unix:///system?socket={os.path.join(work, 'no-daemon')}"
        r = dst.virsh("migrate", "--live", "--p2p", "vm", nowhere, check=False)
        check("--p2p to a daemon that is not there fails clearly",
              r.returncode != 0 and "cannot connect" in r.stderr, r.stderr)
        check("and the VM runs on", dst.state_of("vm").startswith("running"), dst.state_of("vm"))
        dst.virsh("migrate", "--live", "--p2p", "vm", src.uri)
        check("--p2p: shut off (migrated) where it was", dst.state_of("vm") == "shut off (migrated)",
              dst.state_of("vm"))
        check("--p2p: running (migrated) on the peer", src.state_of("vm") == "running (migrated)",
              src.state_of("vm"))
        src.virsh("shutdown", "vm")
        check("and it shuts down cleanly there", src.wait_console("vm", b"powering off"))
    finally:
        src.close()
        dst.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
