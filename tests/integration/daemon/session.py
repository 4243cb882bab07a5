"""An unprivileged user's daemon: `vesseld --session` listens under the user's
$XDG_RUNTIME_DIR, where the plain `vessel:///session` URI finds it with no
?socket=, and with --qemu-alias `qemu:///session` reaches it too. Another
unprivileged user cannot connect to its read-write socket. Run as root (the
test runs the daemon and clients as `nobody`); skipped otherwise.
Usage: session.py VESSELD WORKDIR"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from default_guest import Checks  # noqa: E402

USER = "nobody"


def as_user(runtime, argv, user=USER):
    return ["runuser", "-u", user, "--", "env", f"XDG_RUNTIME_DIR={runtime}",
            f"HOME={runtime}"] + argv


def main():
    vesseld, work = sys.argv[1:3]
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        print("SKIP: needs root to act as another user")
        return 77
    check = Checks()
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    # The user's runtime directory lives under /tmp: the build tree's parent
    # directories need not be open to `nobody`.
    runtime = tempfile.mkdtemp(prefix="vesseld-session-")
    os.chmod(runtime, 0o755)
    shutil.chown(runtime, USER)
    # The daemon, as the user, runs a copy next to its state.
    for name in ("vesseld", "vessel"):
        shutil.copy(os.path.join(os.path.dirname(vesseld), name), runtime)
    log = open(os.path.join(work, "vesseld.log"), "wb")
    daemon = subprocess.Popen(as_user(runtime, [os.path.join(runtime, "vesseld"), "--session",
                                                "--qemu-alias", "--state-dir",
                                                os.path.join(runtime, "state")]),
                              stdout=log, stderr=log)
    try:
        sock = os.path.join(runtime, "libvirt", "virtvesseld-sock")
        for _ in range(300):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        check("the session socket is under $XDG_RUNTIME_DIR/libvirt", os.path.exists(sock))

        def virsh(uri, *args, user=USER):
            return subprocess.run(as_user(runtime, ["virsh", "-q", "-c", uri] + list(args), user),
                                  capture_output=True, text=True, timeout=60)

        r = virsh("vessel:///session", "version")
        check("vessel:///session finds it", "Running hypervisor: Vessel" in r.stdout, r.stderr)
        r = virsh("qemu:///session", "net-list", "--name")
        check("qemu:///session reaches it with --qemu-alias", r.stdout.split() == ["default"],
              r.stdout + r.stderr)
        r = subprocess.run(["virsh", "-q", "-c", f"vessel+unix:///session?socket={sock}", "list"],
                           capture_output=True, text=True, timeout=60,
                           preexec_fn=lambda: (os.setgid(65534), os.setuid(65533)))
        check("another user is turned away", r.returncode != 0, r.stdout)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
        shutil.rmtree(runtime, ignore_errors=True)
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
