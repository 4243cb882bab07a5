"""virsh's snapshot verbs on the default guest with a qcow2 disk: an internal
snapshot of the running VM (qemu-img sees it with its VM state), listed,
described and validated; a revert the guest survives (it still answers its
power button with a clean poweroff) and that brings the snapshot's
definition back (restarting a VM whose machine differs); a shut-off snapshot and its revert; a
disk-only snapshot that moves the running domain onto an overlay; deletes;
libvirt's refusals; metadata that outlives the daemon; undefine's rule.
Usage: snapshots.py VESSELD GUEST_OUT WORKDIR"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402

POWERED_OFF = b"powering off"


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def disk_xml(path, fmt):
    return f"""
    <disk type='file' device='disk'>
      <driver name='qemu' type='{fmt}'/>
      <source file='{path}'/>
      <target dev='vda' bus='virtio'/>
    </disk>"""


def vm_size(disk, name):
    """The VM SIZE column of `qemu-img snapshot -l` for `name`, or None."""
    for line in run("qemu-img", "snapshot", "-U", "-l", disk).stdout.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[1] == name:
            return fields[2]
    return None


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    vessel = os.path.join(os.path.dirname(os.path.abspath(vesseld)), "vessel")
    check = Checks()
    daemon = Daemon(vesseld, work)
    virsh = daemon.virsh
    try:
        disk = os.path.join(work, "disk.qcow2")
        subprocess.run([vessel, "img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
        path = os.path.join(work, "vm.xml")
        with open(path, "w") as f:
            f.write(domain_xml("vm", guest_out, devices=disk_xml(disk, "qcow2")))
        virsh("define", path)
        virsh("start", "vm")
        daemon.wait_booted("vm")

        # An internal snapshot of the running VM.
        virsh("snapshot-create-as", "vm", "s1", "--description", "booted")
        size = vm_size(disk, "s1")
        check("qemu-img lists s1 with its VM state", size not in (None, "0", "0 B"), size)
        listing = virsh("snapshot-list", "vm").stdout
        check("snapshot-list shows s1 running", "s1" in listing and "running" in listing, listing)
        info = virsh("snapshot-info", "vm", "s1").stdout
        check("snapshot-info: current, running",
              "Current:        yes" in info and "State:          running" in info, info)
        check("snapshot-current", virsh("snapshot-current", "--name", "vm").stdout.strip() == "s1")
        dumped = os.path.join(work, "s1.xml")
        with open(dumped, "w") as f:
            f.write(virsh("snapshot-dumpxml", "vm", "s1").stdout)
        valid = run("virt-xml-validate", dumped, "domainsnapshot")
        check("snapshot-dumpxml validates", valid.returncode == 0, valid.stdout + valid.stderr)
        with open(dumped) as f:
            text = f.read()
        check("and holds the description and the domain",
              "<description>booted</description>" in text and "<domain type='qemu'>" in text)

        r = virsh("snapshot-create-as", "vm", "s1", check=False)
        check("a duplicate is refused", r.returncode != 0 and "already exists" in r.stderr,
              r.stderr)
        r = virsh("snapshot-create-as", "vm", "a/b", check=False)
        check("a name with '/' is refused", r.returncode != 0 and "'/'" in r.stderr, r.stderr)
        r = virsh("snapshot-info", "vm", "nope", check=False)
        check("an unknown snapshot", r.returncode != 0 and "Domain snapshot not found" in r.stderr,
              r.stderr)

        extra = os.path.join(work, "extra.img")
        with open(extra, "wb") as f:
            f.truncate(1 << 20)
        extra_xml = os.path.join(work, "extra.xml")
        with open(extra_xml, "w") as f:
            f.write(f"<disk type='file'><source file='{extra}'/><target dev='vdb'/></disk>")
        virsh("attach-device", "vm", extra_xml, "--config")
        virsh("snapshot-revert", "vm", "s1")
        check("revert: still running", daemon.state_of("vm").startswith("running"),
              daemon.state_of("vm"))
        check("revert: the definition is the snapshot's again (no vdb)",
              "vdb" not in virsh("dumpxml", "--inactive", "vm").stdout)
        check("the reverted guest powers off cleanly",
              daemon.shutdown("vm") == "shut off (shutdown)"
              and daemon.wait_console("vm", POWERED_OFF, 5))

        # A shut-off domain: disk snapshots; reverting to s1 starts it.
        virsh("snapshot-create-as", "vm", "s2")
        info = virsh("snapshot-info", "vm", "s2").stdout
        check("s2 is a shutoff snapshot, child of s1",
              "State:          shutoff" in info and "Parent:         s1" in info, info)
        check("qemu-img lists s2", vm_size(disk, "s2") is not None)
        virsh("snapshot-revert", "vm", "s1")
        check("reverting a shut-off domain to s1 runs it",
              daemon.state_of("vm").startswith("running"), daemon.state_of("vm"))
        check("and that guest powers off cleanly too",
              daemon.shutdown("vm") == "shut off (shutdown)"
              and daemon.wait_console("vm", POWERED_OFF, 5, count=2))
        virsh("start", "vm")
        virsh("snapshot-revert", "vm", "s2")
        check("reverting to a shutoff snapshot stops the domain",
              daemon.state_of("vm").startswith("shut off"), daemon.state_of("vm"))

        # A VM whose machine differs from the snapshot's is restarted from it.
        virsh("attach-device", "vm", extra_xml, "--config")
        virsh("start", "vm")
        check("started with vdb", "vdb" in virsh("domblklist", "vm").stdout)
        virsh("snapshot-revert", "vm", "s1")
        check("revert to another machine: running from the snapshot",
              daemon.state_of("vm") == "running (from snapshot)", daemon.state_of("vm"))
        check("without vdb, as the snapshot was", "vdb" not in virsh("domblklist", "vm").stdout)
        check("and that guest powers off cleanly",
              daemon.shutdown("vm") == "shut off (shutdown)"
              and daemon.wait_console("vm", POWERED_OFF, 5, count=3))

        tree = virsh("snapshot-list", "vm", "--tree").stdout
        check("snapshot-list --tree", "s1" in tree and "s2" in tree, tree)
        parents = virsh("snapshot-list", "vm", "--parent").stdout
        check("snapshot-list --parent", any("s2" in l and "s1" in l for l in parents.splitlines()),
              parents)

        virsh("snapshot-delete", "vm", "s2")
        check("snapshot-delete removes it from the disk", vm_size(disk, "s2") is None)
        check("s1 is current again",
              virsh("snapshot-current", "--name", "vm").stdout.strip() == "s1")

        # A disk-only snapshot of the running domain.
        # Earlier starts that were stopped at once may or may not have booted.
        boots = daemon.boot_count("vm")
        virsh("start", "vm")
        check("it boots again", daemon.wait_booted("vm", count=boots + 1))
        virsh("snapshot-create-as", "vm", "s3", "--disk-only")
        overlay = os.path.join(work, "disk.s3")
        live = virsh("dumpxml", "vm").stdout
        config = virsh("dumpxml", "--inactive", "vm").stdout
        check("the domain now runs on the overlay",
              f"file='{overlay}'" in live and f"file='{overlay}'" in config,
              live)
        chain = run("qemu-img", "info", "-U", "--backing-chain", overlay).stdout
        check("qemu-img sees the chain", f"backing file: {disk}" in chain, chain)
        r = virsh("snapshot-revert", "vm", "s3", check=False)
        check("reverting to it is refused", r.returncode != 0 and "external" in r.stderr,
              r.stderr)
        r = virsh("snapshot-delete", "vm", "s3", check=False)
        check("deleting it is refused", r.returncode != 0 and "external" in r.stderr, r.stderr)
        virsh("snapshot-delete", "vm", "s3", "--metadata")
        check("--metadata drops only the metadata",
              "s3" not in virsh("snapshot-list", "--name", "vm").stdout and os.path.exists(overlay))
        daemon.shutdown("vm")
        for image in (overlay, disk):
            r = run("qemu-img", "check", image)
            check(f"qemu-img check {os.path.basename(image)}", r.returncode == 0,
                  r.stdout + r.stderr)

        # A raw disk cannot hold a VM snapshot: the VM's own message.
        raw = os.path.join(work, "raw.img")
        subprocess.run([vessel, "img", "create", "-q", "-f", "raw", raw, "16M"], check=True)
        with open(os.path.join(work, "raw.xml"), "w") as f:
            f.write(domain_xml("raw", guest_out, devices=disk_xml(raw, "raw")))
        virsh("define", os.path.join(work, "raw.xml"))
        virsh("start", "raw")
        r = virsh("snapshot-create-as", "raw", "x", check=False)
        check("savevm on a raw disk is refused with the VM's reason",
              r.returncode != 0 and "does not support snapshots" in r.stderr, r.stderr)
        virsh("destroy", "raw")

        # The metadata outlives the daemon.
        daemon.kill()
        daemon.start()
        listing = virsh("snapshot-list", "--name", "vm").stdout.split()
        check("after a restart s1 is still there and current",
              listing == ["s1"] and virsh("snapshot-current", "--name", "vm").stdout.strip() == "s1",
              listing)

        r = virsh("undefine", "vm", check=False)
        check("undefine with snapshots is refused",
              r.returncode != 0 and "cannot delete inactive domain with 1 snapshots" in r.stderr,
              r.stderr)
        virsh("undefine", "vm", "--snapshots-metadata")
        check("undefine --snapshots-metadata",
              virsh("domstate", "vm", check=False).returncode != 0
              and not os.path.exists(os.path.join(daemon.state, "snapshots", "vm")))
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
