"""Events through libvirt's callback API (Debian's python3-libvirt with its
default event loop, and virsh net-event): domain lifecycle events for every
domain and for one domain only, a guest reset as a reboot event, deregistering,
a read-only connection's events, network lifecycle events, storage pool
lifecycle and refresh events.
Run with /usr/bin/python3, where the binding is importable.
Usage: events.py VESSELD GUEST_OUT WORKDIR"""
import os
import queue
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402
from vesseld import Daemon, domain_xml  # noqa: E402

try:
    import libvirt
except ImportError:
    print("SKIP: python3-libvirt is not importable")
    sys.exit(77)

WAIT = 60  # seconds for one event; a start under the sanitizer build is slow


class Recorder:
    """A callback that queues what it is called with, and waits for it."""

    def __init__(self):
        self.events = queue.Queue()

    def __call__(self, event):
        self.events.put(event)

    def take(self, count, timeout=WAIT):
        """The next `count` events, fewer if they do not come in time."""
        got = []
        deadline = time.time() + timeout
        while len(got) < count:
            try:
                got.append(self.events.get(timeout=max(0.0, deadline - time.time())))
            except queue.Empty:
                break
        return got

    def more(self, seconds=1.0):
        """What else arrives within `seconds` (nothing, one hopes)."""
        return self.take(1, seconds)


def lifecycle(recorder):
    return lambda conn, dom, event, detail, opaque: recorder((dom.name(), event, detail))


def main():
    vesseld, guest_out, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    check = Checks()
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    libvirt.virEventRegisterDefaultImpl()

    def run_loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=run_loop, daemon=True).start()

    daemon = Daemon(vesseld, work)
    try:
        conn = libvirt.open(daemon.uri)
        every, only_b, reboots = Recorder(), Recorder(), Recorder()
        conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle(every),
                                    None)
        conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
                                    lambda conn, dom, opaque: reboots(dom.name()), None)

        a = conn.defineXML(domain_xml("a", guest_out))
        b = conn.defineXML(domain_xml("b", guest_out))
        b_id = conn.domainEventRegisterAny(b, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                           lifecycle(only_b), None)
        defined = (libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED)
        got = every.take(2)
        check("define: a Defined event per domain", got == [("a", *defined), ("b", *defined)], got)

        a.create()
        got = every.take(1)
        check("start: Started Booted",
              got == [("a", libvirt.VIR_DOMAIN_EVENT_STARTED,
                       libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)], got)
        a.reset()
        got = reboots.take(1)
        check("reset: a reboot event", got == ["a"], got)
        a.destroy()
        got = every.take(1)
        check("destroy: Stopped Destroyed",
              got == [("a", libvirt.VIR_DOMAIN_EVENT_STOPPED,
                       libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)], got)
        extra = only_b.more()
        check("events of a reach no callback filtered on b", extra == [], extra)

        b.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        started = ("b", libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
        paused = ("b", libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
        got = only_b.take(2)
        check("the filtered callback gets b's events", got == [started, paused], got)
        got = every.take(2)
        check("and so does the one for every domain", got == [started, paused], got)
        b.destroy()
        only_b.take(1)
        every.take(1)

        conn.domainEventDeregisterAny(b_id)
        b.undefine()
        got = every.take(1)
        check("undefine: Undefined Removed",
              got == [("b", libvirt.VIR_DOMAIN_EVENT_UNDEFINED,
                       libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)], got)
        extra = only_b.more()
        check("a deregistered callback gets nothing", extra == [], extra)

        ro = libvirt.openReadOnly(f"vessel+unix:///system?socket={daemon.socket}-ro")
        watched = Recorder()
        ro.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle(watched),
                                  None)
        conn.defineXML(domain_xml("c", guest_out))
        got = watched.take(1)
        check("a read-only connection gets events too", got == [("c", *defined)], got)
        ro.close()

        networks = Recorder()
        conn.networkEventRegisterAny(
            None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE,
            lambda conn, net, event, detail, opaque: networks((net.name(), event)), None)
        virsh_events = subprocess.Popen(["virsh", "-c", daemon.uri, "net-event", "--loop",
                                         "--event", "lifecycle"],
                                        stdout=subprocess.PIPE, text=True)
        time.sleep(1)  # registered before the first event
        net = conn.networkDefineXML("<network><name>ev</name><forward mode='nat'/>"
                                    "<ip address='192.168.150.1' netmask='255.255.255.0'/>"
                                    "</network>")
        net.create()
        net.destroy()
        net.undefine()
        got = networks.take(4)
        check("network: Defined, Started, Stopped, Undefined",
              got == [("ev", libvirt.VIR_NETWORK_EVENT_DEFINED),
                      ("ev", libvirt.VIR_NETWORK_EVENT_STARTED),
                      ("ev", libvirt.VIR_NETWORK_EVENT_STOPPED),
                      ("ev", libvirt.VIR_NETWORK_EVENT_UNDEFINED)], got)
        time.sleep(0.5)
        virsh_events.terminate()
        lines = virsh_events.communicate()[0].splitlines()
        seen = [line.split(": ", 1)[1] for line in lines if "for network ev: " in line]
        check("virsh net-event shows them", seen == ["Defined", "Started", "Stopped", "Undefined"],
              lines)

        pools, refreshes = Recorder(), Recorder()
        conn.storagePoolEventRegisterAny(
            None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE,
            lambda conn, pool, event, detail, opaque: pools((pool.name(), event)), None)
        conn.storagePoolEventRegisterAny(
            None, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH,
            lambda conn, pool, opaque: refreshes(pool.name()), None)
        pool_dir = os.path.join(work, "pool")
        pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>p</name><target>"
                                         f"<path>{pool_dir}</path></target></pool>")
        pool.build()
        pool.create()
        pool.refresh()
        pool.destroy()
        pool.delete()
        pool.undefine()
        got = pools.take(6)
        check("pool: Defined, Created, Started, Stopped, Deleted, Undefined",
              got == [("p", libvirt.VIR_STORAGE_POOL_EVENT_DEFINED),
                      ("p", libvirt.VIR_STORAGE_POOL_EVENT_CREATED),
                      ("p", libvirt.VIR_STORAGE_POOL_EVENT_STARTED),
                      ("p", libvirt.VIR_STORAGE_POOL_EVENT_STOPPED),
                      ("p", libvirt.VIR_STORAGE_POOL_EVENT_DELETED),
                      ("p", libvirt.VIR_STORAGE_POOL_EVENT_UNDEFINED)], got)
        got = refreshes.take(1)
        check("pool-refresh: a refresh event", got == ["p"], got)
        conn.close()
    finally:
        daemon.close()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
