#!/usr/bin/env python3
"""Bridged and host-only networking (--nic bridge) with two default guests,
in network namespaces this test makes and removes itself:

  namespace "lan": bridge br0 (192.168.77.1/24, the host side of a
  host-only network), the two VMs' TAPs as its ports, and veth0
  (192.168.88.1/24) towards namespace "far" (192.168.88.2), with IP
  forwarding off.

  - each VM reaches the other (ping both ways) and the host side of the
    bridge reaches both
  - 50 MiB sent from one VM to the other over TCP arrive with the same
    SHA-256
  - host-only: a VM routing through the bridge's host side reaches nothing
    beyond it (namespace "far" is reachable from "lan" itself)
  - both VMs power off with status 0, and no TAP is left behind

Exits 77 (skipped) where the machine cannot make namespaces or TAPs.

    bridge_net.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import TIMEOUT, Checks, boot, guest_files  # noqa: E402

SIZE_MIB = 50


def sh(*argv, check=True):
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


def skip(reason):
    print(f"skipped: {reason}")
    sys.exit(77)


def main():
    vessel, out, scratch = sys.argv[1:4]
    guest_files(out)
    os.makedirs(scratch, exist_ok=True)
    if os.geteuid() != 0:
        skip("needs root to make network namespaces, bridges and TAPs")
    if not os.path.exists("/dev/net/tun"):
        skip("no /dev/net/tun")
    lan, far = f"vessel-lan-{os.getpid()}", f"vessel-far-{os.getpid()}"
    try:
        sh("ip", "netns", "add", lan)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        skip(f"cannot make a network namespace: {getattr(e, 'stderr', e)}")
    check = Checks()
    consoles = []
    try:
        sh("ip", "netns", "add", far)
        for cmd in (["link", "set", "lo", "up"],
                    ["link", "add", "br0", "type", "bridge"],
                    ["addr", "add", "192.168.77.1/24", "dev", "br0"],
                    ["link", "set", "br0", "up"]):
            sh("ip", "-n", lan, *cmd)
        sh("ip", "-n", lan, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
           "netns", far)
        sh("ip", "-n", lan, "addr", "add", "192.168.88.1/24", "dev", "veth0")
        sh("ip", "-n", lan, "link", "set", "veth0", "up")
        sh("ip", "-n", far, "addr", "add", "192.168.88.2/24", "dev", "veth1")
        sh("ip", "-n", far, "link", "set", "veth1", "up")
        sh("ip", "-n", far, "route", "add", "default", "via", "192.168.88.1")
        sh("ip", "netns", "exec", lan, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        inside = ["ip", "netns", "exec", lan]

        vms = []
        for i, addr in enumerate(("192.168.77.2", "192.168.77.3")):
            log = open(os.path.join(scratch, f"bridge-vm{i}.log"), "wb")
            mac = f"52:54:00:77:00:0{i + 2}"
            con, got = boot(vessel, out, [f"bridge,br=br0,mac={mac}"], log,
                            append=f"vessel.ip={addr}/24", prefix=inside)
            consoles.append(con)
            check(f"vm{i} has {addr}/24", got == f"{addr}/24", got)
            vms.append((con, addr))
        ports = sh("ip", "-n", lan, "-o", "link", "show", "master", "br0").stdout
        check("both TAPs are ports of the bridge", ports.count("vessel-tap") == 2, ports)

        (a, a_ip), (b, b_ip) = vms
        for src, dst, name in ((a, b_ip, "vm0 pings vm1"), (b, a_ip, "vm1 pings vm0")):
            got = src.run(f"ping -c 3 -W 5 {dst}", TIMEOUT)
            check(name, " 0% packet loss" in got, got)
        for ip in (a_ip, b_ip):
            got = sh(*inside, "ping", "-c", "2", "-W", "5", ip, check=False)
            check(f"the host side reaches {ip}", got.returncode == 0, got.stdout + got.stderr)

        a.run("nc -l -p 5000 > /tmp/received & true", TIMEOUT)
        sent = b.run(f"dd if=/dev/urandom of=/tmp/sent bs=1M count={SIZE_MIB} 2>/dev/null && "
                     f"sha256sum /tmp/sent && nc -w 10 {a_ip} 5000 < /tmp/sent; echo nc=$?",
                     TIMEOUT)
        received = a.run("wait; sha256sum /tmp/received; ls -l /tmp/received", TIMEOUT)
        digest = sent.split()[0] if sent.split() else "?"
        check(f"{SIZE_MIB} MiB from vm1 to vm0 arrive intact",
              "nc=0" in sent and len(digest) == 64 and digest in received,
              f"sent {sent!r}, received {received!r}")

        far_ok = sh(*inside, "ping", "-c", "1", "-W", "5", "192.168.88.2", check=False)
        check("the far network answers the host", far_ok.returncode == 0, far_ok.stdout)
        got = a.run("ip route add default via 192.168.77.1; ping -c 2 -W 2 192.168.88.2", TIMEOUT)
        check("host-only: nothing beyond the host is routed", " 100% packet loss" in got, got)

        for i, (con, _) in enumerate(vms):
            con.send("poweroff\n")
            status = con.wait_exit(TIMEOUT)
            check(f"vm{i} powers off with status 0", status == 0, f"status {status}")
        left = sh("ip", "-n", lan, "-o", "link", "show").stdout
        check("no TAP is left behind", "vessel-tap" not in left, left)
    except (TimeoutError, EOFError, subprocess.CalledProcessError) as e:
        check("network session", False, str(getattr(e, "stderr", "") or e))
    finally:
        for con in consoles:
            con.kill()
        sh("ip", "netns", "del", lan, check=False)
        sh("ip", "netns", "del", far, check=False)
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
