"""Debian's virt-install against vesseld: `--import` of a qcow2 disk made by
`vessel img create` in a directory no pool holds yet (virt-install defines
and starts a pool for it) creates a running, persistent domain that boots
the default guest to its shell; dumpxml shows the disk and is valid for
libvirt's schema. Then `--disk size=1` creates the disk as a new volume in
the default pool.
Usage: virt_install.py VESSELD GUEST_OUT WORKDIR"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks, guest_files  # noqa: E402
from vesseld import Daemon  # noqa: E402


def validates(work, xml):
    path = os.path.join(work, "check.xml")
    with open(path, "w") as f:
        f.write(xml)
    result = subprocess.run(["virt-xml-validate", path, "domain"], capture_output=True, text=True)
    return result.returncode == 0, result.stderr + result.stdout


def virt_install(daemon, guest_out, name, disk):
    cmdline = open(os.path.join(guest_out, "cmdline")).read().strip()
    argv = ["virt-install", "--connect", daemon.uri, "--name", name, "--memory", "256",
            "--vcpus", "1", "--arch", "riscv64", "--machine", "virt", "--disk", disk,
            "--import", "--network", "none", "--graphics", "none", "--noautoconsole",
            "--boot", f"kernel={guest_out}/Image,initrd={guest_out}/initramfs.cpio.gz,"
                      f"kernel_args={cmdline}",
            "--osinfo", "detect=on,require=off"]
    # virt-install keeps its log under $HOME: one of the test's own.
    env = dict(os.environ, HOME=os.path.join(daemon.work, "home"))
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env)


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    guest_files(guest_out)
    vessel = os.path.join(os.path.dirname(os.path.abspath(vesseld)), "vessel")
    check = Checks()
    daemon = Daemon(vesseld, work)
    try:
        disks = os.path.join(work, "disks")
        os.makedirs(disks)
        disk = os.path.join(disks, "vi.qcow2")
        subprocess.run([vessel, "img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)

        r = virt_install(daemon, guest_out, "vi", f"path={disk},format=qcow2,bus=virtio")
        check("virt-install --import succeeds", r.returncode == 0, r.stdout + r.stderr)
        check("the domain runs", daemon.state_of("vi").startswith("running"), daemon.state_of("vi"))
        info = daemon.virsh("dominfo", "vi").stdout
        check("and is persistent", "Persistent:     yes" in info, info)
        check("the guest reaches its shell", daemon.wait_booted("vi"))
        xml = daemon.virsh("dumpxml", "vi").stdout
        check("dumpxml shows the disk", f"file='{disk}'" in xml, xml)
        ok, why = validates(work, xml)
        check("dumpxml passes virt-xml-validate", ok, why)
        pools = daemon.virsh("pool-list", "--all", "--name").stdout.split()
        targets = [daemon.virsh("pool-dumpxml", p).stdout for p in pools]
        check("virt-install made a pool of the disk's directory",
              any(f"<path>{disks}</path>" in t for t in targets), targets)
        check("which holds the disk", daemon.virsh("vol-pool", disk).stdout.strip() in pools)
        daemon.virsh("destroy", "vi")

        # --disk size=: a new volume in the default pool.
        images = os.path.join(work, "images")
        daemon.virsh("pool-define-as", "default", "dir", "--target", images)
        daemon.virsh("pool-build", "default")
        daemon.virsh("pool-start", "default")
        # Without bus=virtio virt-install picks IDE on a URI it does not know as
        # qemu's, which Vessel refuses by name.
        r = virt_install(daemon, guest_out, "vi2", "size=1,bus=virtio")
        check("virt-install --disk size=1 succeeds", r.returncode == 0, r.stdout + r.stderr)
        vols = daemon.virsh("vol-list", "default", "--details").stdout
        check("it made a 1 GiB volume in the default pool", "vi2" in vols and "1.00 GiB" in vols, vols)
        check("the second domain runs", daemon.state_of("vi2").startswith("running"),
              daemon.state_of("vi2"))
        blk = daemon.virsh("domblklist", "vi2").stdout.split()
        check("on that volume", len(blk) == 2 and blk[1].startswith(images + "/vi2"), blk)
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
