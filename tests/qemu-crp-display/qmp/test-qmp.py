#!/usr/bin/env python3
"""The QMP surface of -display crp, through the testers' scripts.

Checks -display help and -audiodev help, query-crp / crp-set-ticket /
crp-disconnect with crp in use and not in use, their error replies, and
the crp-qmp command line tool. Real QEMU, no guest needed (it sits in the
firmware). Skips (exit 77) when QEMU has not been built.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from crpvm import _die_with_parent, load_env  # noqa: E402
from qmp import QMPConnection, QMPError, crp_disconnect, crp_query, crp_set_ticket  # noqa: E402

ENV = None
CRP_QMP = os.path.join(HERE, "crp-qmp")


def qemu_env():
    return dict(os.environ, QEMU_MODULE_DIR=ENV["QEMU_MODULE_DIR"])


def firmware_args():
    args = []
    for d in ENV["QEMU_FIRMWARE_DIRS"].split(":"):
        args += ["-L", d]
    return args


class Qemu:
    """A QEMU with no guest, just QMP and the given display."""

    def __init__(self, workdir, display):
        self.qmp_sock = os.path.join(workdir, "qmp.sock")
        # A second monitor for the command line tool: a QMP socket serves
        # one client at a time.
        self.tool_sock = os.path.join(workdir, "qmp-tool.sock")
        args = [ENV["QEMU"], *firmware_args(), "-accel", "tcg", "-m", "64",
                "-nic", "none", "-display", display,
                "-qmp", f"unix:{self.qmp_sock},server=on,wait=off",
                "-qmp", f"unix:{self.tool_sock},server=on,wait=off"]
        self.proc = subprocess.Popen(args, env=qemu_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.qmp = QMPConnection(self.qmp_sock)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError(f"QEMU did not start: {self.proc.stdout.read()}")
                time.sleep(0.1)

    def stop(self):
        self.qmp.command("quit")
        self.qmp.close()
        self.assert_clean_exit()

    def assert_clean_exit(self):
        out, _ = self.proc.communicate(timeout=20)
        if self.proc.returncode != 0 or "crp" in out:
            raise AssertionError(f"QEMU exited {self.proc.returncode}: {out}")


class Help(unittest.TestCase):
    def test_help_lists_crp(self):
        for opt in ("-display", "-audiodev"):
            out = subprocess.run([ENV["QEMU"], opt, "help"], env=qemu_env(),
                                 capture_output=True, text=True, timeout=30).stdout
            self.assertIn("crp", out.split(), f"{opt} help: {out}")


class NotInUse(unittest.TestCase):
    def test_query_and_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            q = Qemu(tmp, "none")
            try:
                self.assertEqual(crp_query(q.qmp), {"enabled": False})
                with self.assertRaises(QMPError) as err:
                    crp_set_ticket(q.qmp, secrets.token_hex(16))
                self.assertIn("not active", err.exception.desc)
                with self.assertRaises(QMPError):
                    crp_disconnect(q.qmp)
            finally:
                q.stop()


class InUse(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.addr = f"unix:{cls.tmp.name}/crp.sock"
        cls.q = Qemu(cls.tmp.name, f"crp,addr={cls.addr},max-clients=2")

    @classmethod
    def tearDownClass(cls):
        cls.q.stop()
        cls.tmp.cleanup()

    def test_query(self):
        info = crp_query(self.q.qmp)
        self.assertEqual(info, {"enabled": True, "address": self.addr,
                                "clients": [], "bytes-in": 0, "bytes-out": 0,
                                "frames-sent": 0})

    def test_ticket_arguments_checked(self):
        fine = secrets.token_hex(16)
        crp_set_ticket(self.q.qmp, fine, expires=30)
        crp_set_ticket(self.q.qmp, fine, connected="disconnect")
        for bad in ({"ticket": ""}, {"ticket": fine, "expires": -1},
                    {"ticket": fine, "connected": "explode"}):
            with self.assertRaises(QMPError, msg=str(bad)):
                self.q.qmp.command("crp-set-ticket", **bad)

    def test_weak_tickets_refused(self):
        """The display key is a fast hash of the ticket: one recorded
        HELLO lets anyone try guesses offline, so a ticket must be
        random and long (128 bits by the characters it uses)."""
        for weak in ("s3cret", "correct-horse", "0123456789abcdef0123",
                     secrets.token_hex(15)):
            with self.assertRaises(QMPError, msg=weak) as err:
                crp_set_ticket(self.q.qmp, weak)
            self.assertIn("too weak", err.exception.desc)
        for strong in (secrets.token_hex(16), secrets.token_urlsafe(17),
                       secrets.token_urlsafe(32)):
            crp_set_ticket(self.q.qmp, strong)

    def test_disconnect_unknown_client(self):
        crp_disconnect(self.q.qmp)                      # nobody: fine
        with self.assertRaises(QMPError) as err:
            crp_disconnect(self.q.qmp, 424242)
        self.assertIn("424242", err.exception.desc)

    def test_crp_qmp_tool(self):
        run = lambda *a: subprocess.run([sys.executable, CRP_QMP, self.q.tool_sock, *a],
                                        capture_output=True, text=True, timeout=30)
        out = run("query")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(json.loads(out.stdout)["enabled"])
        self.assertEqual(run("set-ticket", secrets.token_hex(16), "--expires", "60").returncode, 0)
        self.assertEqual(run("set-ticket", "abc").returncode, 1)
        generated = run("set-ticket", "--generate")
        self.assertEqual(generated.returncode, 0, generated.stderr)
        self.assertRegex(generated.stdout, r"^[0-9a-f]{32}\n$")
        bad = run("disconnect", "99")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("99", bad.stderr)
        waited = run("wait-event", "CRP_CONNECTED", "--timeout", "0.5")
        self.assertEqual(waited.returncode, 2)
        self.assertIn("CRP_CONNECTED", waited.stderr)


class SocketFile(unittest.TestCase):
    """Where -display crp puts its unix socket, and what it will not
    touch. Without tickets the socket's permissions are the only lock."""

    def start(self, display, umask=None):
        """Runs QEMU until its QMP answers (returns it) or it exits
        (returns its output)."""
        def preexec():
            _die_with_parent()
            if umask is not None:
                os.umask(umask)
        qmp_sock = os.path.join(self.tmp.name, f"qmp-{time.monotonic_ns()}.sock")
        proc = subprocess.Popen([ENV["QEMU"], *firmware_args(), "-accel", "tcg",
                                 "-m", "64", "-nic", "none", "-display", display,
                                 "-qmp", f"unix:{qmp_sock},server=on,wait=off"],
                                env=qemu_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                preexec_fn=preexec)
        deadline = time.monotonic() + 30
        while proc.poll() is None:
            try:
                qmp = QMPConnection(qmp_sock)
            except OSError:
                self.assertLess(time.monotonic(), deadline, "QEMU never answered")
                time.sleep(0.1)
                continue
            self.addCleanup(lambda: (qmp.command("quit"), qmp.close(),
                                     proc.communicate(timeout=20)))
            return qmp
        return proc.communicate()[0]

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_no_ticket_socket_is_private_whatever_the_umask(self):
        private = os.path.join(self.tmp.name, "private")
        os.mkdir(private, 0o700)
        sock = os.path.join(private, "crp.sock")
        qmp = self.start(f"crp,addr=unix:{sock},disable-ticketing=on", umask=0)
        self.assertNotIsInstance(qmp, str, qmp)
        self.assertEqual(os.stat(sock).st_mode & 0o777, 0o600)

    def test_no_ticket_refused_in_a_shared_directory(self):
        shared = os.path.join(self.tmp.name, "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o755)
        out = self.start(f"crp,addr=unix:{shared}/crp.sock,disable-ticketing=on")
        self.assertIsInstance(out, str)
        self.assertIn("disable-ticketing needs a directory only this user can enter", out)
        self.assertIn("mode 0755", out)
        self.assertFalse(os.path.exists(f"{shared}/crp.sock"))

    def test_abstract_socket_refused(self):
        """Clients read unix:@name as an abstract socket, which any local
        user can claim first; QEMU would have made a file "@name"."""
        out = self.start("crp,addr=unix:@crp-test,disable-ticketing=on")
        self.assertIn("abstract unix sockets (unix:@name) are not supported", out)

    def test_only_a_dead_socket_is_replaced(self):
        path = os.path.join(self.tmp.name, "not-a-socket")
        with open(path, "w") as f:
            f.write("precious")
        out = self.start(f"crp,addr=unix:{path}")
        self.assertIn("exists and is not a socket", out)
        with open(path) as f:
            self.assertEqual(f.read(), "precious")

        live = os.path.join(self.tmp.name, "live.sock")
        server = socket.socket(socket.AF_UNIX)
        server.bind(live)
        server.listen()
        out = self.start(f"crp,addr=unix:{live}")
        self.assertIn("in use by another server", out)
        server.close()                  # the file stays: a dead socket now

        qmp = self.start(f"crp,addr=unix:{live}")
        self.assertNotIsInstance(qmp, str, qmp)
        probe = socket.socket(socket.AF_UNIX)
        probe.connect(live)             # QEMU's socket now
        probe.close()


def main():
    global ENV
    ENV = load_env()
    if ENV is None:
        print("1..0 # SKIP QEMU is not built (qemu-crp-display/build-qemu)")
        sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
