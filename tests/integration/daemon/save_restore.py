"""virsh save / restore / managedsave on the default guest: the saved domain
is shut off (saved) and its image holds its XML; restore continues it
(running (restored)) and the guest still answers its power button with a
clean poweroff; managedsave, then start, continues it the same way and uses
the image up; bad images and inactive domains get clear errors.
Usage: save_restore.py VESSELD GUEST_OUT WORKDIR"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402

POWERED_OFF = b"powering off"


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    daemon = Daemon(vesseld, work)
    try:
        daemon.define(domain_xml("vm", guest_out))
        daemon.virsh("start", "vm")
        daemon.wait_booted("vm")

        image = os.path.join(work, "vm.save")
        daemon.virsh("save", "vm", image)
        check("save: shut off (saved)", daemon.state_of("vm") == "shut off (saved)",
              daemon.state_of("vm"))
        with open(image, "rb") as f:
            head = f.read(4096)
        check("the image holds the domain's XML", b"<name>vm</name>" in head)
        r = daemon.virsh("save", "vm", image, check=False)
        check("save of an inactive domain is refused", r.returncode != 0, r.stdout)

        daemon.virsh("restore", image)
        check("restore: running (restored)", daemon.state_of("vm") == "running (restored)",
              daemon.state_of("vm"))
        check("the restored guest answers its power button",
              daemon.shutdown("vm") == "shut off (shutdown)"
              and daemon.wait_console("vm", POWERED_OFF, 5))

        daemon.virsh("start", "vm")
        daemon.wait_booted("vm", count=2)
        daemon.virsh("managedsave", "vm")
        info = daemon.virsh("dominfo", "vm").stdout
        check("managedsave: shut off, with a managed save", "Managed save:   yes" in info, info)
        daemon.virsh("start", "vm")
        info = daemon.virsh("dominfo", "vm").stdout
        check("start continues the managed save and uses it up",
              daemon.state_of("vm") == "running (restored)" and "Managed save:   no" in info, info)
        check("and that guest powers off cleanly too",
              daemon.shutdown("vm") == "shut off (shutdown)"
              and daemon.wait_console("vm", POWERED_OFF, 5, count=2))

        daemon.virsh("start", "vm")
        daemon.virsh("managedsave", "vm")
        daemon.virsh("managedsave-remove", "vm")
        check("managedsave-remove", "Managed save:   no" in daemon.virsh("dominfo", "vm").stdout)

        garbage = os.path.join(work, "garbage.save")
        with open(garbage, "wb") as f:
            f.write(b"vessel-domain-save 1\n99999999\n<dom")
        r = daemon.virsh("restore", garbage, check=False)
        check("a corrupt image is refused", r.returncode != 0 and "corrupt" in r.stderr, r.stderr)
        r = daemon.virsh("restore", os.path.join(work, "missing.save"), check=False)
        check("a missing image is refused", r.returncode != 0 and "missing.save" in r.stderr,
              r.stderr)
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
