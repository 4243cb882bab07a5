"""A guest's serial console driven as a user would: through a pseudo-terminal
(Console) or a client of `--serial unix:` (SocketConsole): wait for output,
type commands, collect their output."""
import os
import pty
import re
import select
import socket
import subprocess
import time


class _Stream:
    """Output collected from a file descriptor; subclasses say how to type."""

    def __init__(self, fd, log):
        self._fd = fd
        self.buf = b""
        self.log = log

    def _read(self, timeout):
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self._fd, 65536)
        except OSError:  # EIO: the VMM closed the terminal
            data = b""
        if not data:
            return None
        self.buf += data
        self.log.write(data)
        self.log.flush()
        return True

    def expect(self, pattern, timeout):
        """Waits for a regex (bytes); returns the match, consuming the buffer."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {pattern!r} within {timeout}s")
            if self._read(min(left, 0.5)) is None:
                raise EOFError(f"console closed while waiting for {pattern!r}")

    def run(self, command, timeout=30):
        """Types a shell command; returns its output (between two sentinels).

        The sentinels are produced by arithmetic expansion, so the echo of the
        typed command line never matches them.
        """
        self.send(f"echo @@B$((6*7))@@; {command}; echo @@E$((6*7))@@\n")
        self.expect(rb"@@B42@@\r*\n", timeout)
        m = self.expect(rb"(?s)(.*?)@@E42@@", timeout)
        return m.group(1).decode(errors="replace").replace("\r", "")


class Console(_Stream):
    """A VMM process whose stdio is a pseudo-terminal (like a user's shell)."""

    def __init__(self, argv, log):
        self.master, slave = pty.openpty()
        self.start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave,
                                     stderr=slave, close_fds=True)
        os.close(slave)
        super().__init__(self.master, log)

    def send(self, text):
        os.write(self.master, text.encode())

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0.1):  # drain what is left
            pass
        return self.proc.poll()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


class SocketConsole(_Stream):
    """A client of a serial console socket (`--serial unix:PATH,server`)."""

    def __init__(self, path, log, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.sock.settimeout(None)
        super().__init__(self.sock.fileno(), log)

    def send(self, text):
        self.sock.sendall(text.encode())

    def close(self):
        self.sock.close()
