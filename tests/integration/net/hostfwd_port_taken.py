#!/usr/bin/env python3
"""`vessel run --nic user,hostfwd=…` on a host port another process holds:
one error line naming the forward, exit status 1.

    hostfwd_port_taken.py EXPECT_EXIT VESSEL FIRMWARE
"""
import socket
import subprocess
import sys

expect, vessel, firmware = sys.argv[1:4]
with socket.socket() as taken:
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    spec = f"tcp:127.0.0.1:{port}-:80"
    sys.exit(subprocess.call([
        expect, "1",
        f"^vessel: error: hostfwd={spec}: cannot listen on 127.0.0.1:{port} "
        r"\(Address already in use\)$", "", "--",
        vessel, "run", "--firmware", firmware, "--nic", f"user,hostfwd={spec}"]))
