"""libvirt's Python binding (Debian's python3-libvirt, unchanged) against
vesseld: open, listAllDomains, defineXML, lookupByName, create, info, state,
XMLDesc, attachDeviceFlags (config; live refused with VIR_ERR_OPERATION_UNSUPPORTED),
shutdown, destroy, undefine, close; libvirt's errors carry libvirt's numbers.
Run with /usr/bin/python3, where the binding is importable.
Usage: python_api.py VESSELD GUEST_OUT WORKDIR"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402

try:
    import libvirt
except ImportError:
    print("SKIP: python3-libvirt is not importable")
    sys.exit(77)


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    libvirt.registerErrorHandler(lambda ctx, err: None, None)  # no noise on stderr
    daemon = Daemon(vesseld, work)
    try:
        conn = libvirt.open(daemon.uri)
        check("open", conn is not None)
        check("getType", conn.getType() == "Vessel", conn.getType())
        check("no domains", conn.listAllDomains() == [])
        dom = conn.defineXML(domain_xml("py", guest_out))
        check("defineXML", dom.name() == "py")
        dom = conn.lookupByName("py")
        check("lookupByName", dom.UUIDString() == conn.lookupByUUIDString(dom.UUIDString()).UUIDString())
        check("listAllDomains", [d.name() for d in conn.listAllDomains()] == ["py"])
        check("inactive: state shutoff", dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF, dom.state())
        try:
            conn.lookupByName("missing")
            check("lookup of a missing domain fails", False)
        except libvirt.libvirtError as e:
            check("lookup of a missing domain: VIR_ERR_NO_DOMAIN",
                  e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, e.get_error_code())

        dom.create()
        check("create: active", dom.isActive() == 1 and dom.ID() > 0)
        state, max_mem, mem, vcpus, _ = dom.info()
        check("info", (state, max_mem, mem, vcpus) == (libvirt.VIR_DOMAIN_RUNNING, 262144, 262144, 1),
              dom.info())
        check("state", dom.state() == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED],
              dom.state())
        check("XMLDesc has the id", f"id='{dom.ID()}'" in dom.XMLDesc())

        disk = os.path.join(work, "extra.img")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        dev = (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
               f"<source file='{disk}'/><target dev='vdb' bus='virtio'/></disk>")
        dom.attachDeviceFlags(dev, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        check("attachDeviceFlags(CONFIG): in the next start's XML",
              "vdb" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) and "vdb" not in dom.XMLDesc())
        try:
            dom.attachDeviceFlags(dev.replace("vdb", "vdc"), libvirt.VIR_DOMAIN_AFFECT_LIVE)
            check("attachDeviceFlags(LIVE) is refused", False)
        except libvirt.libvirtError as e:
            check("attachDeviceFlags(LIVE): VIR_ERR_OPERATION_UNSUPPORTED",
                  e.get_error_code() == libvirt.VIR_ERR_OPERATION_UNSUPPORTED, e)

        daemon.wait_booted("py")
        dom.shutdown()
        deadline = time.time() + 120
        while dom.isActive() and time.time() < deadline:
            time.sleep(0.2)
        check("shutdown: the guest powered off",
              dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN],
              dom.state())
        dom.create()
        dom.destroy()
        check("destroy", dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF,
                                         libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED], dom.state())
        dom.undefine()
        check("undefine", conn.listAllDomains() == [])
        conn.close()
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
