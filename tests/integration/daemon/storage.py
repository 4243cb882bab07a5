"""vesseld's storage pools and volumes through Debian's virsh: a directory
pool defined, built, started, marked autostart, described (XML valid for
libvirt's schema) and refreshed; raw and qcow2 volumes created (qemu-img
agrees on what was made), listed, described, found by path and deleted;
pools survive a daemon restart; errors for an unknown pool, a volume that
exists already and changes on the read-only socket.
Usage: storage.py VESSELD GUEST_OUT WORKDIR"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon  # noqa: E402


def validates(work, xml, schema):
    path = os.path.join(work, "check.xml")
    with open(path, "w") as f:
        f.write(xml)
    result = subprocess.run(["virt-xml-validate", path, schema], capture_output=True, text=True)
    return result.returncode == 0, result.stderr + result.stdout + xml


def qemu_img_info(path):
    out = subprocess.run(["qemu-img", "info", "--output=json", path], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def fields(text):
    """virsh's "Key:   value" lines as a dict."""
    return {k.strip(): v.strip() for k, _, v in
            (line.partition(":") for line in text.splitlines()) if v}


def main():
    vesseld, work = sys.argv[1], sys.argv[3]
    check = Checks()
    daemon = Daemon(vesseld, work)
    pool_dir = os.path.join(work, "pool")
    try:
        check("no pools yet", daemon.virsh("pool-list", "--all").stdout.strip() == "")
        daemon.virsh("pool-define-as", "p", "dir", "--target", pool_dir)
        listed = daemon.virsh("pool-list", "--all").stdout.split()
        check("pool-list --all shows it inactive", listed == ["p", "inactive", "no"], listed)
        check("pool-list shows only active ones", daemon.virsh("pool-list").stdout.strip() == "")
        r = daemon.virsh("pool-start", "p", check=False)
        check("an unbuilt pool does not start", r.returncode != 0 and pool_dir in r.stderr, r.stderr)
        daemon.virsh("pool-build", "p")
        check("pool-build makes the directory", os.path.isdir(pool_dir))
        daemon.virsh("pool-start", "p")
        daemon.virsh("pool-autostart", "p")
        info = fields(daemon.virsh("pool-info", "p").stdout)
        check("pool-info", info.get("Name") == "p" and info.get("State") == "running" and
              info.get("Persistent") == "yes" and info.get("Autostart") == "yes", info)
        xml = daemon.virsh("pool-dumpxml", "p").stdout
        ok, why = validates(work, xml, "storagepool")
        check("pool-dumpxml passes virt-xml-validate", ok, why)
        check("pool-dumpxml names the directory", f"<path>{pool_dir}</path>" in xml, xml)
        uuid = daemon.virsh("pool-uuid", "p").stdout.strip()
        check("pool-name by uuid", daemon.virsh("pool-name", uuid).stdout.strip() == "p")

        # Volumes.
        daemon.virsh("vol-create-as", "p", "a.qcow2", "64M", "--format", "qcow2")
        daemon.virsh("vol-create-as", "p", "r.img", "16M", "--format", "raw")
        qcow2, raw = os.path.join(pool_dir, "a.qcow2"), os.path.join(pool_dir, "r.img")
        q = qemu_img_info(qcow2)
        check("qemu-img sees the qcow2 volume", q["format"] == "qcow2" and
              q["virtual-size"] == 64 << 20, q)
        q = qemu_img_info(raw)
        check("qemu-img sees the raw volume", q["format"] == "raw" and
              q["virtual-size"] == 16 << 20, q)
        r = daemon.virsh("vol-create-as", "p", "a.qcow2", "1M", check=False)
        check("a volume that exists already", r.returncode != 0 and "exists already" in r.stderr,
              r.stderr)
        check("...is left as it was", qemu_img_info(qcow2)["virtual-size"] == 64 << 20)

        # A file put there behind the daemon's back is a volume too.
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(pool_dir, "b.qcow2"),
                        "1G"], check=True)
        daemon.virsh("pool-refresh", "p")
        vols = daemon.virsh("vol-list", "p").stdout.split()
        check("vol-list", vols == ["a.qcow2", qcow2, "b.qcow2", os.path.join(pool_dir, "b.qcow2"),
                                   "r.img", raw], vols)
        info = fields(daemon.virsh("vol-info", "--pool", "p", "b.qcow2").stdout)
        check("vol-info reads the qcow2 header", info.get("Type") == "file" and
              info.get("Capacity") == "1.00 GiB", info)
        info = fields(daemon.virsh("vol-info", raw).stdout)
        check("vol-info by path (raw)", info.get("Capacity") == "16.00 MiB", info)
        xml = daemon.virsh("vol-dumpxml", "--pool", "p", "a.qcow2").stdout
        ok, why = validates(work, xml, "storagevol")
        check("vol-dumpxml passes virt-xml-validate", ok, why)
        check("vol-dumpxml shows format and size", "<format type='qcow2'" in xml and
              f"<capacity unit='bytes'>{64 << 20}</capacity>" in xml, xml)
        check("vol-path", daemon.virsh("vol-path", "--pool", "p", "r.img").stdout.strip() == raw)
        check("vol-pool", daemon.virsh("vol-pool", qcow2).stdout.strip() == "p")
        r = daemon.virsh("vol-info", os.path.join(work, "elsewhere.img"), check=False)
        check("a path no pool holds", r.returncode != 0 and "no storage vol" in r.stderr, r.stderr)

        # Changes on the read-only socket.
        for args in (("vol-create-as", "p", "ro.img", "1M"), ("vol-delete", raw),
                     ("pool-destroy", "p"), ("pool-define-as", "q", "dir", "--target", work)):
            r = daemon.virsh(*args, check=False, readonly=True)
            check(f"read-only socket refuses {args[0]}",
                  r.returncode != 0 and "read only access" in r.stderr, r.stderr)
        r = daemon.virsh("vol-list", "p", readonly=True)
        check("read-only socket lists", "a.qcow2" in r.stdout, r.stdout)

        # Errors a user can make, each named.
        r = daemon.virsh("pool-info", "nosuch", check=False)
        check("an unknown pool", r.returncode != 0 and "failed to get pool 'nosuch'" in r.stderr,
              r.stderr)
        r = daemon.virsh("pool-define-as", "dup", "dir", "--target", pool_dir, check=False)
        check("two pools in one directory", r.returncode != 0 and "conflict" in r.stderr, r.stderr)
        r = daemon.virsh("pool-define-as", "lv", "logical", "--target", "/dev/vg", check=False)
        check("other pool types", r.returncode != 0 and "'logical'" in r.stderr, r.stderr)
        r = daemon.virsh("pool-undefine", "p", check=False)
        check("an active pool cannot be undefined", r.returncode != 0 and "active" in r.stderr,
              r.stderr)

        daemon.kill()
        daemon.start()
        info = fields(daemon.virsh("pool-info", "p").stdout)
        check("the pool is active after a daemon restart", info.get("State") == "running", info)
        check("and its volumes are there", "r.img" in daemon.virsh("vol-list", "p").stdout)

        daemon.virsh("vol-delete", "--pool", "p", "r.img")
        check("vol-delete removes the file", not os.path.exists(raw))
        daemon.virsh("pool-destroy", "p")
        check("pool-destroy", fields(daemon.virsh("pool-info", "p").stdout).get("State") == "inactive")
        check("pool-destroy leaves the files", os.path.exists(qcow2))
        daemon.virsh("pool-undefine", "p")
        check("pool-undefine", daemon.virsh("pool-list", "--all").stdout.strip() == "")
        check("no definition file left", os.listdir(os.path.join(daemon.state, "pools")) == [])
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
