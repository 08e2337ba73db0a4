#!/usr/bin/env python3
"""test-broker-connections.py: how the real crp-broker treats connections
that do not play along: keys rotated or revoked under a live connection,
replayed handshakes, floods, parallel failing logins, running out of file
descriptors, logged-in clients that say nothing, and a client whose name
tries to forge log lines.

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
                             listen=f"tcp:127.0.0.1:{self.port}", config=extra)
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


class LiveKeys(ConnectionTest):
    """A key rotated or revoked with crp-admin ends the connections logged
    in with it, within the broker's store poll (2 s) and some slack."""

    def key_withdrawn(self, *admin_args):
        c = self.live(self.alice, "catalog", "idle:12", "ticket:s-none",
                      "launch:shell")
        c.wait_line("APP_LIST")
        t0 = time.monotonic()
        self.env.admin(*admin_args)
        t_bye, bye = c.wait_line("BYE", timeout=15)
        self.assertTrue(bye.startswith(f"BYE code={KEY_REVOKED} "), bye)
        note(f"{admin_args[1]}: connection closed {t_bye - t0:.1f} s later")
        self.assertLess(t_bye - t0, 6, "closed too late")
        self.assertEqual(c.finish(), 1, c.text())
        self.assertEqual(c.text().splitlines()[-1], "closed", c.text())
        # Nothing asked after the withdrawal got an answer.
        self.assertNotRegex(c.text(), r"(ERROR|LAUNCHED) id=10[56]")
        self.assertIn("event=key-withdrawn", self.env.text())

    def test_rotation_ends_live_connections(self):
        new = os.path.join(self.root, "alice-new.key")
        self.key_withdrawn("user", "rotate", "alice", "--key-file", new)
        # The new key logs in; the old one does not.
        code, lines = self.env.requests(new, "catalog")
        self.assertEqual(code, 0, lines)
        code, lines = self.env.requests(self.alice, "catalog")
        self.assertEqual(code, 1, lines)

    def test_revocation_ends_live_connections(self):
        self.key_withdrawn("user", "revoke", "alice")

    def test_other_users_stay(self):
        bob = self.env.add_user("bob")
        c = self.live(bob, "catalog", "idle:5", "catalog")
        c.wait_line("APP_LIST")
        self.env.admin("user", "revoke", "alice")
        self.assertEqual(c.finish(), 0, c.text())
        self.assertEqual(c.text().count("APP_LIST"), 2, c.text())


class Replay(ConnectionTest):
    """A recorded HELLO replayed: the broker answers it (Noise IK's first
    message can be replayed) but the replayer cannot go on, so it never
    counts as a login and never outlives the handshake timeout."""

    REPLAYS = 2000

    def setUp(self):
        super().setUp()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, self.REPLAYS + 512)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    def test_replayed_hello_many_at_once(self):
        hello = self.record_hello(self.alice)
        pid = self.env.proc.pid
        base = broker_fds(pid)
        peak = 0
        socks = []
        for i in range(self.REPLAYS):
            # Each one stays open: they are all there at once.
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.settimeout(5)
            socks.append(s)
            try:
                s.connect(("127.0.0.1", self.port))
                s.sendall(hello)
            except OSError:
                pass                    # refused: the broker closed it
            if i % 100 == 99:
                peak = max(peak, broker_fds(pid))
            if i == self.REPLAYS // 2:
                # A real user logs in in the middle of it.
                self.logs_in()
        peak = max(peak, broker_fds(pid))
        self.logs_in()
        time.sleep(HANDSHAKE_TIMEOUT_S + 2)
        peak = max(peak, broker_fds(pid))
        for s in socks:
            s.close()
        # The default per-address cap bounds what the replayer holds.
        note(f"{self.REPLAYS} replays at once: broker fds {base} -> {peak}")
        self.assertLess(peak - base, 100, f"fds: {base} -> {peak}")
        self.assertEqual(len(self.events("login")), 2,
                         "a replayed HELLO was logged as a login")
        self.logs_in()

    def test_replayed_hello_one_after_another(self):
        hello = self.record_hello(self.alice)
        pid = self.env.proc.pid
        base = broker_fds(pid)
        peak = 0
        for i in range(self.REPLAYS):
            with socket.socket() as s:
                s.bind(("127.0.0.3", 0))
                s.connect(("127.0.0.1", self.port))
                s.sendall(hello)
                s.settimeout(5)
                try:
                    s.recv(4096)        # RESPONSE, or a REJECT
                except (socket.timeout, ConnectionResetError):
                    pass
            if i % 200 == 0:
                peak = max(peak, broker_fds(pid))
        self.logs_in()
        note(f"{self.REPLAYS} replays one by one: broker fds {base} -> {peak}, "
             f"{len(self.events('rate-limited'))} rate-limited lines")
        self.assertLess(peak - base, 100, f"fds: {base} -> {peak}")
        self.assertEqual(len(self.events("login")), 1,
                         "a replayed HELLO was logged as a login")


class Floods(ConnectionTest):
    login = {"max-failures-per-minute": 5, "max-handshakes-per-address": 8,
             "handshake-timeout-s": 30}

    def test_parallel_failing_handshakes(self):
        """Many connections that each present a key the broker does not
        know, all opened before the first one fails: only a bounded number
        get the handshake's work; the rest are refused before it."""
        fields = {}
        with open(self.alice) as f:
            for line in f:
                k, sep, v = line.strip().partition("=")
                if sep:
                    fields[k] = v
        fields["user"] = "mallory"
        fields["secret-key"] = base64.b64encode(os.urandom(32)).decode()
        mallory = os.path.join(self.root, "mallory.key")
        with open(os.open(mallory, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("[crp-user-key]\n" + "".join(f"{k}={v}\n" for k, v in
                                                  fields.items()
                                                  if not k.startswith("[")))
        hello = self.record_hello(mallory)
        socks = [self.raw("127.0.0.4", hold=False) for _ in range(100)]
        for s in socks:
            try:
                s.sendall(hello)
            except OSError:
                pass
        answered = 0
        for s in socks:
            frames = read_frames(s, 10)
            if frames and frames[0][:1] == b"\x01":
                answered += 1           # a RESPONSE: the work was done
            s.close()
        done = len(self.events("login-refused"))
        note(f"100 parallel failing logins: {done} handshakes done, "
             f"{answered} answered")
        # At most 5 failures before the limit, plus what was already in
        # flight (the per-address cap on handshakes in progress).
        self.assertLessEqual(done, 5 + 8, f"{done} handshakes done")
        self.assertLessEqual(answered, 5 + 8)
        self.assertIn("event=refused", self.env.text())
        self.logs_in()


class Caps(ConnectionTest):
    login = {"max-connections": 12, "max-connections-per-address": 6,
             "max-handshakes": 9, "max-handshakes-per-address": 4,
             "handshake-timeout-s": 30}

    def assert_refused(self, source, status):
        s = self.raw(source, hold=False)
        frames = read_frames(s, 5)
        s.close()
        self.assertTrue(frames, f"{source}: no answer")
        self.assertEqual(reject_status(frames[0]), status, frames)

    def test_handshakes_in_progress(self):
        for _ in range(4):
            self.raw("127.0.0.5")
        self.assert_refused("127.0.0.5", RATE_LIMITED)
        for _ in range(4):
            self.raw("127.0.0.6")
        self.raw("127.0.0.7")
        self.assert_refused("127.0.0.8", NO_CAPACITY)
        self.assertIn("event=refused", self.env.text())
        for s in self.sockets:
            s.close()
        self.sockets = []
        time.sleep(0.5)
        self.logs_in()

    def test_connections(self):
        # Logged-in users count against the connection caps, not against
        # the handshakes in progress.
        for _ in range(6):
            c = self.live(self.alice, "catalog", "idle:60")
            c.wait_line("APP_LIST")
        code, lines = self.env.requests(self.alice, "catalog")
        self.assertEqual(code, 1, lines)
        self.assertIn("too many connections from this address", lines[0])
        for _ in range(4):
            self.raw("127.0.0.5")
        self.raw("127.0.0.6")
        self.raw("127.0.0.6")
        self.assert_refused("127.0.0.7", NO_CAPACITY)
        self.clients.pop().kill()
        time.sleep(0.5)
        self.logs_in()


class OutOfFiles(ConnectionTest):
    """The broker runs out of file descriptors (caps set above its limit):
    it must not spin, and it serves again once descriptors are free."""

    NOFILE = 48
    login = {"max-connections": 1000, "max-connections-per-address": 1000,
             "max-handshakes": 1000, "max-handshakes-per-address": 1000,
             "handshake-timeout-s": 60}

    def start_broker(self):
        # prlimit on the running broker: its start-up (database, key) has
        # the usual limit, its serving a low one.
        self.env.start()
        subprocess.run(["prlimit", f"--nofile={self.NOFILE}:{self.NOFILE}",
                        "--pid", str(self.env.proc.pid)], check=True)

    def test_emfile(self):
        pid = self.env.proc.pid
        # More connections than the broker has descriptors for (those it
        # cannot take wait in its listen backlog), until connecting
        # stalls (backlog full) or there are 100 more.
        stalled, why = 0, None
        while stalled < 3 and len(self.sockets) < self.NOFILE + 100:
            s = socket.socket()
            s.bind(("127.0.0.9", 0))
            s.settimeout(3)
            self.sockets.append(s)
            try:
                s.connect(("127.0.0.1", self.port))
            except OSError as e:
                stalled += 1
                why = e
        # The kernel holds them for the broker, which takes them in its
        # own time.
        deadline = time.monotonic() + 15
        while (broker_fds(pid) < self.NOFILE - 1 and
               time.monotonic() < deadline):
            time.sleep(0.2)
        self.assertGreaterEqual(broker_fds(pid), self.NOFILE - 1,
                                f"the broker did not run out of fds "
                                f"({len(self.sockets)} connections, "
                                f"{stalled} stalled: {why})")
        time.sleep(0.5)
        cpu0, t0 = broker_cpu_s(pid), time.monotonic()
        time.sleep(3)
        share = (broker_cpu_s(pid) - cpu0) / (time.monotonic() - t0)
        note(f"out of fds ({broker_fds(pid)} open): broker CPU {share:.1%}, "
             f"log {os.path.getsize(self.env.log)} bytes")
        self.assertLess(share, 0.10, f"the broker used {share:.0%} of a CPU "
                        "while out of file descriptors")
        self.assertLess(os.path.getsize(self.env.log), 200000, "log flood")
        for s in self.sockets:
            s.close()
        self.sockets = []
        deadline = time.monotonic() + 10
        while True:
            code, lines = self.env.requests(self.alice, "catalog")
            if code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(code, 0, lines)
        self.assertTrue(lines[1].startswith("APP_LIST"), lines)


class Idle(ConnectionTest):
    login = {"idle-timeout-s": 3}

    def test_silent_logged_in_connection_is_closed(self):
        c = self.live(self.alice, "catalog", "idle:15", "catalog")
        t0, _ = c.wait_line("APP_LIST")
        t_bye, bye = c.wait_line("BYE", timeout=20)
        self.assertTrue(bye.startswith(f"BYE code={TIMEOUT} "), bye)
        self.assertGreaterEqual(t_bye - t0, 2.5)
        self.assertLess(t_bye - t0, 8)
        self.assertEqual(c.finish(), 1, c.text())
        self.assertIn("event=idle-timeout", self.env.text())

    def test_talking_connection_stays(self):
        commands = ["catalog"]
        for _ in range(4):
            commands += ["idle:2", "sessions"]
        c = self.live(self.alice, *commands)
        self.assertEqual(c.finish(), 0, c.text())
        self.assertNotIn("BYE", c.text())
        self.assertEqual(c.text().count("SESSIONS"), 4, c.text())


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
