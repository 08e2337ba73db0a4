#!/usr/bin/env python3
"""test-broker-connections.py: how the real crp-broker treats connections
that do not play along; here, a client whose name tries to forge log
lines.

    test-broker-connections.py CRP_BROKER CRP_ADMIN CRP_BROKER_TEST_CLIENT \
                               CRP_HEADLESS

The real broker (its own state, real SQLite, set up by the real crp-admin)
listens on TCP on 127.0.0.1; hostile clients are scripted sockets bound to
other loopback addresses (127.0.0.2 and up), so that the broker sees them
as other peers than the real users, who connect from 127.0.0.1 with
crp-broker-test-client (libcrp). The hostile bytes are real: a HELLO
recorded from crp-headless. No QEMU is needed.

Python 3 standard library only.
"""
import base64
import os
import re
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "flow"))
from crpbroker import BrokerEnv  # noqa: E402

TOOLS = {}

# Protocol status codes (docs/protocol.md section 6).
KEY_REVOKED, RATE_LIMITED, NO_CAPACITY, TIMEOUT = 5, 6, 9, 14
HANDSHAKE_TIMEOUT_S = 2


def note(text):
    """A measurement, for whoever reads the test log."""
    print(f"# {text}", file=sys.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def broker_cpu_s(pid):
    """User + system CPU time of the process so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_frames(sock, timeout):
    """Reads until EOF or @timeout; returns the frames seen."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    frames = []
    while len(data) >= 4:
        n = struct.unpack(">I", data[:4])[0]
        frames.append(data[4:4 + n])
        data = data[4 + n:]
    return frames


def reject_status(frame):
    """The status of a REJECT frame, or None if it is something else."""
    if len(frame) >= 3 and frame[0] == 0x02:
        return struct.unpack(">H", frame[1:3])[0]
    return None


class LiveClient:
    """crp-broker-test-client running in the background; its lines are
    kept with the time they arrived."""

    def __init__(self, env, key, *commands, software=None):
        cmd = [TOOLS["test_client"]]
        if software is not None:
            cmd += ["--software", software]
        self.proc = subprocess.Popen(cmd + [key, env.listen, *commands],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.cond.notify_all()

    def wait_line(self, prefix, timeout=20):
        """(time, line) of the first line starting with @prefix."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, line in self.lines:
                    if line.startswith(prefix):
                        return t, line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not self.reader.is_alive()):
                    raise AssertionError(f"no line {prefix!r}: {self.text()}")
                self.cond.wait(min(left, 0.2))

    def finish(self, timeout=30):
        code = self.proc.wait(timeout)
        self.reader.join(5)
        return code

    def text(self):
        return "\n".join(line for _, line in self.lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class ConnectionTest(unittest.TestCase):
    """A fresh broker (TCP on 127.0.0.1) per test, with @login as its
    [login] configuration."""

    login = {}

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="crpc-", dir="/tmp")
        self.port = free_port()
        login = {"handshake-timeout-s": HANDSHAKE_TIMEOUT_S, **self.login}
        extra = "[login]\n" + "".join(f"{k} = {v}\n"
                                      for k, v in login.items())
        self.env = BrokerEnv(self.root, TOOLS, {},
                             listen=f"tcp:127.0.0.1:{self.port}", extra=extra)
        self.alice = self.env.add_user("alice")
        self.clients = []
        self.sockets = []
        self.start_broker()

    def start_broker(self):
        self.env.start()

    def tearDown(self):
        for c in self.clients:
            c.kill()
        for s in self.sockets:
            s.close()
        self.env.stop()
        if os.environ.get("CRP_KEEP_TEST_STATE"):
            print(f"# kept {self.root}", file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def live(self, key, *commands, software=None):
        c = LiveClient(self.env, key, *commands, software=software)
        self.clients.append(c)
        return c

    def raw(self, source, hold=True):
        """A plain TCP connection from @source (a loopback address)."""
        s = socket.socket()
        s.bind((source, 0))
        s.connect(("127.0.0.1", self.port))
        if hold:
            self.sockets.append(s)
        return s

    def logs_in(self, *commands):
        """A real user logs in from 127.0.0.1 and is served."""
        code, lines = self.env.requests(self.alice, "catalog", *commands)
        self.assertEqual(code, 0, lines)
        self.assertTrue(lines[1].startswith("APP_LIST"), lines)
        return lines

    def record_hello(self, key):
        """The first frame crp-headless sends when logging in with @key:
        a real HELLO, as an eavesdropper would record it."""
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            proc = subprocess.Popen(
                [TOOLS["headless"], "--key", key, "--broker",
                 f"tcp:127.0.0.1:{srv.getsockname()[1]}", "--open", "shell",
                 "--timeout", "10", "--run", "quit"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            srv.settimeout(10)
            conn, _ = srv.accept()
            with conn:
                conn.settimeout(10)
                data = b""
                while len(data) < 4 or len(data) < 4 + struct.unpack(
                        ">I", data[:4])[0]:
                    chunk = conn.recv(4096)
                    self.assertTrue(chunk, "headless hung up before HELLO")
                    data += chunk
            proc.wait(30)
        hello = data[:4 + struct.unpack(">I", data[:4])[0]]
        self.assertEqual(hello[4:8], b"CRPB", hello)
        return hello

    def count(self, text):
        return self.env.text().count(text)

    def events(self, event):
        """The log lines of @event (its first key=value)."""
        return re.findall(rf"^\*\* \w+: [\d:.]+: event={event} .*$",
                          self.env.text(), re.M)


class Logs(ConnectionTest):
    def test_client_name_cannot_forge_log_lines(self):
        name = 'x\n event=login user=admin \x01\x1b[2J"q\\'
        c = self.live(self.alice, "catalog", software=name)
        self.assertEqual(c.finish(), 0, c.text())
        log = self.env.text()
        logins = self.events("login")
        self.assertEqual(len(logins), 1, log)
        self.assertNotRegex(log, r"[\x00-\x08\x0b-\x1f\x7f]",
                            "control bytes in the log")
        self.assertNotRegex(log, r"(?m)^ event=", "a forged line")
        line = logins[0]
        self.assertIn(r'software="x\n event=login user=admin \x01\x1b[2J\"q\\"',
                      line)


def main():
    for name, path in zip(("broker", "admin", "test_client", "headless"),
                          sys.argv[1:5]):
        TOOLS[name] = os.path.abspath(path)
    del sys.argv[1:5]
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
