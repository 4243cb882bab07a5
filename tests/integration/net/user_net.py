#!/usr/bin/env python3
"""User-mode networking (--nic user, libslirp) with the default guest, as a
user would check it:

  - the guest gets its DHCP lease, 10.0.2.15/24
  - `wget` in the guest fetches a file from an HTTP server on the host
    (at 10.0.2.2, the host's loopback) with the right SHA-256
  - the host reaches the guest's web server through hostfwd
  - with restrict=on the guest can no longer reach the host, while the
    forward into the guest still works
  - `poweroff` still ends the VM with status 0

    user_net.py VESSEL GUEST_OUT_DIR SCRATCH_DIR
"""
import hashlib
import http.server
import os
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import TIMEOUT, Checks, boot, free_port, guest_files  # noqa: E402

BLOB_SIZE = 8 << 20


def serve(directory):
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=directory)  # noqa
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.read().decode(errors="replace")
    except OSError as e:
        return f"error: {e}"


def main():
    vessel, out, scratch = sys.argv[1:4]
    guest_files(out)
    os.makedirs(scratch, exist_ok=True)
    www = os.path.join(scratch, "www")
    os.makedirs(www, exist_ok=True)
    blob = os.urandom(BLOB_SIZE)
    with open(os.path.join(www, "blob"), "wb") as f:
        f.write(blob)
    server = serve(www)
    host_port = server.server_address[1]
    check = Checks()

    for restrict in (False, True):
        fwd = free_port()
        nic = f"user,hostfwd=tcp:127.0.0.1:{fwd}-:80" + (",restrict=on" if restrict else "")
        tag = "restrict=on: " if restrict else ""
        with open(os.path.join(scratch, f"user-net{'-restrict' if restrict else ''}.log"),
                  "wb") as log:
            con = None
            try:
                con, addr = boot(vessel, out, [nic], log)
                check(tag + "DHCP lease 10.0.2.15/24", addr == "10.0.2.15/24", addr)
                page = fetch(f"http://127.0.0.1:{fwd}/")
                check(tag + "hostfwd reaches the guest's web server",
                      "Vessel" in page, page[:200])
                got = con.run(f"wget -q -T 10 -O - http://10.0.2.2:{host_port}/blob | sha256sum; "
                              "echo status=$?", TIMEOUT)
                if restrict:
                    check(tag + "the guest cannot reach the host",
                          hashlib.sha256(blob).hexdigest() not in got, got)
                else:
                    check("wget from the host: SHA-256 matches",
                          hashlib.sha256(blob).hexdigest() in got, got)
                con.send("poweroff\n")
                status = con.wait_exit(TIMEOUT)
                check(tag + "poweroff exits with status 0", status == 0, f"status {status}")
            except (TimeoutError, EOFError) as e:
                check(tag + "console session", False, str(e))
            finally:
                if con:
                    con.kill()
    server.shutdown()
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
