"""Virtual networks through Debian's virsh: the "default" NAT network that
exists out of the box, net-define / net-start / net-autostart / net-dumpxml
(valid for libvirt's schema) / net-destroy / net-undefine, an isolated
network, a bridge network whose bridge is missing, and domains on them: a
guest on "default" gets its address by DHCP on 192.168.122.0/24, one on the
isolated network on that network's range; an unknown or inactive network
refuses the start. Networks stay active across a daemon restart.
Usage: networks.py VESSELD GUEST_OUT WORKDIR"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402

ISOLATED = """<network>
  <name>iso</name>
  <ip address='10.9.0.1' netmask='255.255.255.0'>
    <dhcp><range start='10.9.0.10' end='10.9.0.99'/></dhcp>
  </ip>
</network>
"""
BRIDGED = """<network>
  <name>br</name>
  <forward mode='bridge'/>
  <bridge name='vessel-nosuchbr'/>
</network>
"""


def write(work, name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def address_of(daemon, name):
    """The address the guest's init reports once eth0 has one."""
    if not daemon.wait_console(name, b"vessel: eth0 "):
        return None
    with open(daemon.console_log(name), "rb") as f:
        m = re.search(rb"vessel: eth0 (\S+)", f.read())
    return m.group(1).decode() if m else None


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    daemon = Daemon(vesseld, work)
    try:
        listed = daemon.virsh("net-list", "--all").stdout.split()
        check("default exists out of the box, active and autostarted",
              listed == ["default", "active", "yes", "yes"], listed)
        xml = daemon.virsh("net-dumpxml", "default").stdout
        path = write(work, "default.xml", xml)
        ok = subprocess.run(["virt-xml-validate", path, "network"], capture_output=True).returncode == 0
        check("net-dumpxml passes virt-xml-validate", ok, xml)
        check("default is NAT on 192.168.122.0/24",
              "<forward mode='nat'" in xml and "192.168.122.1" in xml, xml)

        daemon.virsh("net-define", write(work, "iso.xml", ISOLATED))
        check("net-define: inactive", daemon.virsh("net-list", "--inactive", "--name").stdout.split()
              == ["iso"])
        daemon.virsh("net-start", "iso")
        daemon.virsh("net-autostart", "iso")
        info = daemon.virsh("net-info", "iso").stdout
        check("net-start, net-autostart", "Active:         yes" in info and
              "Autostart:      yes" in info, info)

        daemon.virsh("net-define", write(work, "br.xml", BRIDGED))
        r = daemon.virsh("net-start", "br", check=False)
        check("a bridge network without its bridge does not start",
              r.returncode != 0 and "vessel-nosuchbr" in r.stderr, r.stderr)
        daemon.virsh("net-undefine", "br")

        nic = "\n    <interface type='network'><source network='{}'/><model type='virtio'/></interface>"
        daemon.virsh("define", write(work, "a.xml", domain_xml("a", guest_out, nic.format("default"))))
        daemon.virsh("define", write(work, "b.xml", domain_xml("b", guest_out, nic.format("iso"))))
        daemon.virsh("define", write(work, "c.xml", domain_xml("c", guest_out, nic.format("nosuch"))))
        r = daemon.virsh("start", "c", check=False)
        check("a domain on an unknown network does not start",
              r.returncode != 0 and "no network with matching name 'nosuch'" in r.stderr, r.stderr)

        daemon.virsh("start", "a")
        daemon.virsh("start", "b")
        addr = address_of(daemon, "a")
        check("a guest on default gets a DHCP address on 192.168.122.0/24",
              addr is not None and addr.startswith("192.168.122."), addr)
        addr = address_of(daemon, "b")
        check("a guest on the isolated network gets one from its range", addr == "10.9.0.10/24", addr)
        daemon.virsh("destroy", "a")
        daemon.virsh("destroy", "b")

        daemon.kill()
        daemon.start()
        listed = daemon.virsh("net-list", "--name").stdout.split()
        check("networks stay active across a daemon restart", listed == ["default", "iso"], listed)
        daemon.virsh("net-destroy", "iso")
        r = daemon.virsh("start", "b", check=False)
        check("a domain on an inactive network does not start",
              r.returncode != 0 and "network 'iso' is not active" in r.stderr, r.stderr)
        daemon.virsh("net-undefine", "iso")
        check("net-undefine", daemon.virsh("net-list", "--all", "--name").stdout.split() == ["default"])
        r = daemon.virsh("net-define", write(work, "bad.xml", "<network><name>x</name>"
                                                              "<forward mode='macvtap'/></network>"),
                         check=False)
        check("an unsupported forward mode is named", r.returncode != 0 and "macvtap" in r.stderr,
              r.stderr)
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
