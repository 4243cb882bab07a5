"""vesseld's definitions through Debian's virsh: version, define, list,
dumpxml (valid for libvirt's schema, stable across a round trip), the
domid/domuuid/domname lookups, dominfo, autostart, attach-device and
detach-device --config, domblklist/domiflist, undefine, and the errors a user
gets for XML Vessel cannot honour. Definitions survive a daemon restart.
Usage: definitions.py VESSELD GUEST_OUT WORKDIR"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402


def validates(work, xml):
    path = os.path.join(work, "check.xml")
    with open(path, "w") as f:
        f.write(xml)
    result = subprocess.run(["virt-xml-validate", path, "domain"], capture_output=True, text=True)
    return result.returncode == 0, result.stderr + result.stdout


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    daemon = Daemon(vesseld, work)
    try:
        v = daemon.virsh("version").stdout
        check("version names the hypervisor", "Running hypervisor: Vessel" in v, v)
        check("nothing defined yet", daemon.virsh("list", "--all").stdout.strip() == "")

        disk = os.path.join(work, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(16 << 20)
        devices = f"""
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/></interface>
    <controller type='pci' model='pcie-root'/>"""
        xml_path = os.path.join(work, "one.xml")
        with open(xml_path, "w") as f:
            f.write(domain_xml("one", guest_out, devices, extra="\n  <clock offset='utc'/>"))
        daemon.virsh("define", xml_path)
        listed = daemon.virsh("list", "--all").stdout.split()
        check("list --all shows it shut off", listed == ["-", "one", "shut", "off"], listed)
        check("list shows only running ones", daemon.virsh("list").stdout.strip() == "")
        check("list --inactive", daemon.virsh("list", "--inactive", "--name").stdout.split() == ["one"])

        xml = daemon.virsh("dumpxml", "one").stdout
        ok, why = validates(work, xml)
        check("dumpxml passes virt-xml-validate", ok, why)
        check("dumpxml keeps disk, interface, controller and clock",
              all(s in xml for s in (disk, "52:54:00:aa:bb:cc", "pcie-root", "offset='utc'",
                                     "<memory unit='KiB'>262144</memory>")), xml)
        with open(xml_path, "w") as f:
            f.write(xml)
        daemon.virsh("define", xml_path)
        check("a round trip through define changes nothing",
              daemon.virsh("dumpxml", "one").stdout == xml)

        uuid = daemon.virsh("domuuid", "one").stdout.strip()
        check("domuuid matches the XML", f"<uuid>{uuid}</uuid>" in xml, uuid)
        check("domname by uuid", daemon.virsh("domname", uuid).stdout.strip() == "one")
        check("domid of an inactive domain is -", daemon.virsh("domid", "one").stdout.strip() == "-")
        info = daemon.virsh("dominfo", "one").stdout
        check("dominfo", all(s in info for s in ("shut off", "262144 KiB", "Persistent:     yes",
                                                 "Autostart:      disable")), info)
        daemon.virsh("autostart", "one")
        check("autostart on", "Autostart:      enable" in daemon.virsh("dominfo", "one").stdout)
        daemon.virsh("autostart", "--disable", "one")
        check("autostart off", "Autostart:      disable" in daemon.virsh("dominfo", "one").stdout)

        blk = daemon.virsh("domblklist", "one").stdout.split()
        check("domblklist", blk == ["vda", disk], blk)
        ifaces = daemon.virsh("domiflist", "one").stdout.split()
        check("domiflist", ifaces == ["-", "user", "-", "virtio", "52:54:00:aa:bb:cc"], ifaces)

        extra = os.path.join(work, "extra.xml")
        with open(extra, "w") as f:
            f.write(f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                    f"<source file='{disk}'/><target dev='vdb' bus='virtio'/><readonly/></disk>")
        daemon.virsh("attach-device", "one", extra, "--config")
        blk = daemon.virsh("domblklist", "one").stdout.split()
        check("attach-device --config adds vdb", blk == ["vda", disk, "vdb", disk], blk)
        daemon.virsh("detach-device", "one", extra, "--config")
        check("detach-device --config removes it",
              daemon.virsh("domblklist", "one").stdout.split() == ["vda", disk])

        # Errors a user can make, each named.
        def refused(name, text, expect):
            path = os.path.join(work, "bad.xml")
            with open(path, "w") as f:
                f.write(text)
            r = daemon.virsh("define", path, check=False)
            check(name, r.returncode != 0 and expect in r.stderr, r.stderr)

        refused("malformed XML", "<domain type='qemu'><name>x</name", "XML error")
        refused("kvm needs an accelerator", domain_xml("k", guest_out).replace("'qemu'", "'kvm'"),
                "domain type 'kvm'")
        refused("an element Vessel cannot honour is named",
                domain_xml("g", guest_out, "<graphics type='vnc'/>"), "<graphics>")
        refused("other architectures", domain_xml("a", guest_out).replace("riscv64", "x86_64"),
                "architecture 'x86_64'")
        refused("a relative kernel path",
                domain_xml("r", guest_out).replace(f"{guest_out}/Image", "guest/out/Image"),
                "absolute path")
        refused("too many vcpus", domain_xml("c", guest_out).replace("<vcpu>1", "<vcpu>64"),
                "<vcpu>64</vcpu>")
        refused("same name, other uuid",
                domain_xml("one", guest_out).replace("<name>", "<uuid>00000000-0000-4000-8000-000000000001</uuid><name>"),
                "already defined")
        r = daemon.virsh("dominfo", "nosuch", check=False)
        check("an unknown domain", r.returncode != 0 and "failed to get domain 'nosuch'" in r.stderr, r.stderr)

        daemon.kill()
        daemon.start()
        check("the definition survives a daemon killed with SIGKILL",
              daemon.virsh("dumpxml", "one").stdout == xml)
        daemon.virsh("undefine", "one")
        check("undefine", daemon.virsh("list", "--all").stdout.strip() == "")
        check("no definition file left",
              os.listdir(os.path.join(daemon.state, "domains")) == [])
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
