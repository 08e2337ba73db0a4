#!/usr/bin/env python3
"""test-broker-flow.py: the product's whole flow with the real broker, the
real crp-admin, real QEMUs running the test guest and the real headless
client going through the broker's gateway.

    test-broker-flow.py CRP_BROKER CRP_ADMIN CRP_HEADLESS CRP_BROKER_TEST_CLIENT

Skips (exit 77) when QEMU or the test guest are not built.
"""
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "qemu-crp-display",
                                "integration"))
from crpbroker import BrokerEnv, flow_test_setup, qemu_alive  # noqa: E402
from crpvm import load_env  # noqa: E402

TOOLS = {}
QEMU_ENV = None

# Protocol status codes (docs/protocol.md section 6) and headless exits.
NO_CAPACITY, QUOTA_EXCEEDED, SESSION_ENDED = 9, 10, 12
EXIT_AUTH, EXIT_REFUSED = 2, 6
# The guest shell's console is the serial port, which the broker logs:
# typed text reaches it through the shell's redirection.
TYPE_TO_CONSOLE = r"type echo crp-typed-$((6*7)) > /dev/ttyS0\n"


class BrokerTest(unittest.TestCase):
    """A fresh broker state per test (short path: unix sockets)."""

    broker_args = {}

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="crpf-", dir="/tmp")
        self.env = BrokerEnv(self.root, TOOLS, QEMU_ENV, **self.broker_args)
        self.alice = self.env.add_user("alice")
        self.env.publish_guest("shell", mode="shell")
        self.env.start()

    def tearDown(self):
        self.env.discard()

    def open_session(self, key=None, subscribe=True):
        """Launches shell through the broker and returns its session id,
        once the guest's shell is up."""
        code, out, sid = self.env.headless(
            key or self.alice, "--open", "shell",
            *(["--subscribe"] if subscribe else []), run="wait-frames 1; quit")
        self.assertEqual(code, 0, out)
        self.assertIsNotNone(sid, out)
        self.env.wait_console(sid, "CRP-GUEST-READY")
        return sid

    def assert_pools_full(self):
        compute = self.env.pool()["compute"]
        self.assertEqual((compute["sessions"], compute["vcpus_used"],
                          compute["memory_mib_used"]), (0, 0, 0), compute)


class WholeFlow(BrokerTest):
    def test_open_use_close(self):
        """key -> login -> subscribe -> launch -> attach through the gateway
        -> frames, typing -> close -> usage row -> pools full again."""
        sid = self.open_session()
        running = self.env.session(sid)
        self.assertEqual(running["state"], "running")
        self.assertTrue(qemu_alive(running["qemu_pid"]))
        self.assertEqual(self.env.pool()["compute"]["vcpus_used"], 1)

        # Attach again (a fresh ticket), type into the guest, close the app.
        code, out, again = self.env.headless(
            self.alice, "--attach", sid,
            run=f"wait-frames 5; {TYPE_TO_CONSOLE}; sleep 1000; close-app")
        self.assertEqual(code, 0, out)
        self.assertEqual(again, sid)
        self.env.wait_console(sid, "crp-typed-42")

        closed = self.env.wait_closed(sid)
        self.assertFalse(qemu_alive(running["qemu_pid"]))
        self.assertGreater(closed["frames"], 5)
        self.assertGreater(closed["bytes_in"], 0)
        self.assertGreater(closed["bytes_out"], closed["bytes_in"])
        usage = self.env.usage_total()
        self.assertEqual(usage["sessions"], 1)
        self.assertEqual(usage["frames"], closed["frames"])
        self.assertGreaterEqual(usage["vcpu_seconds"], 1)
        self.assertEqual(usage["mib_seconds"], usage["duration_s"] * 256)
        self.assert_pools_full()
        self.assertFalse(os.path.exists(os.path.join(self.env.state, "run",
                                                     sid)))
        # The broker's log never holds a ticket or a key.
        log = self.env.text()
        self.assertIn("event=attach", log)
        with open(self.alice) as f:
            secret = re.search(r"secret-key=(\S+)", f.read()).group(1)
        self.assertNotIn(secret, log)

    def test_closed_session_cannot_be_attached(self):
        sid = self.open_session()
        code, lines = self.env.requests(self.alice, f"close:{sid}")
        self.assertEqual(code, 0, lines)
        self.assertTrue(lines[1].startswith("OK"), lines)
        self.env.wait_closed(sid)
        code, out, _ = self.env.headless(self.alice, "--attach", sid,
                                         run="wait-frames 1; quit")
        self.assertEqual(code, EXIT_REFUSED, out)
        self.assertIn("ended", out)
        self.assert_pools_full()


class WebSocketAttach(BrokerTest):
    """ATTACH over the web listener's WebSocket ([web]): the gateway
    splices it to the VM's display socket as it does a socket, so the
    display handshake runs end to end between the client and QEMU."""

    def setUp(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.broker_args = {
            "config": f"[web]\nlisten = tcp:127.0.0.1:{self.port}\n"}
        super().setUp()

    def display(self, command, sid):
        r = subprocess.run([TOOLS["test_client"], self.alice,
                            f"ws://127.0.0.1:{self.port}/crp/broker",
                            f"{command}:{sid}"], capture_output=True,
                           text=True, timeout=120)
        return r.returncode, r.stdout.splitlines()

    def test_display_handshake_over_websocket(self):
        sid = self.open_session()
        code, lines = self.display("display", sid)
        self.assertEqual(code, 0, lines)
        self.assertTrue(lines[0].startswith("ready"), lines)
        self.assertTrue(lines[1].startswith("OK id="), lines)
        # QEMU's crp module answered: the bytes reached the display socket
        # and its reply came back through the WebSocket.
        self.assertTrue(lines[2].startswith("display ready software="),
                        lines)
        self.assertTrue(lines[3].startswith("display message type="), lines)
        log = self.env.text()
        self.assertIn(f"event=attach session={sid} user=alice", log)
        # A wrong ticket fails in QEMU's handshake, not at the broker.
        code, lines = self.display("display-wrong-ticket", sid)
        self.assertNotEqual(code, 0, lines)
        self.assertTrue(lines[1].startswith("OK id="), lines)
        self.assertFalse(any(l.startswith("display ready") for l in lines),
                         lines)
        self.assertTrue(lines[-1].startswith("failed code="), lines)


class Refusals(BrokerTest):
    def test_revoked_key(self):
        bob = self.env.add_user("bob")
        self.env.admin("user", "revoke", "bob")
        code, out, sid = self.env.headless(bob, "--open", "shell",
                                           "--subscribe", run="quit")
        self.assertEqual(code, EXIT_AUTH, out)
        self.assertIn("revoked", out)
        self.assertIsNone(sid)

    def forge_broker_key(self, key_b64):
        """Alice's key file, pinning @key_b64 as the broker's key."""
        with open(self.alice) as f:
            text = f.read()
        forged = os.path.join(self.root, "forged.key")
        with open(forged, "w") as f:
            f.write(re.sub(r"broker-public-key=\S+", "broker-public-key=" + key_b64,
                           text))
        os.chmod(forged, 0o600)
        return forged

    def test_wrong_broker_key_pinned(self):
        # A valid key (X25519's base point, u = 9) that is not the broker's.
        forged = self.forge_broker_key("CQ" + "A" * 41 + "=")
        code, out, _ = self.env.headless(forged, "--open", "shell", run="quit")
        self.assertEqual(code, EXIT_AUTH, out)
        self.assertIn("not the broker your key file names", out)

    def test_low_order_broker_key_pinned(self):
        # All zeros is a point of low order: any Diffie-Hellman with it is
        # zero, so the client refuses it before it connects (exit 1: the
        # key file is damaged).
        forged = self.forge_broker_key("A" * 43 + "=")
        code, out, _ = self.env.headless(forged, "--open", "shell", run="quit")
        self.assertEqual(code, 1, out)
        self.assertIn("is the key file damaged", out)

    def test_not_subscribed(self):
        code, out, _ = self.env.headless(self.alice, "--open", "shell",
                                         run="quit")
        self.assertEqual(code, EXIT_REFUSED, out)
        self.assertIn("not subscribed", out)


class Capacity(BrokerTest):
    # Room for two 1-vCPU guests.
    broker_args = {"vcpus": 2, "memory_mib": 600}

    def test_concurrent_launches_race_for_the_last_slots(self):
        code, lines = self.env.requests(self.alice, "subscribe:shell")
        self.assertEqual(code, 0, lines)
        results = [None] * 3

        def launch(i):
            results[i] = self.env.requests(self.alice, "launch:shell")

        threads = [threading.Thread(target=launch, args=(i,))
                   for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        replies = [lines[1] for _, lines in results]
        launched = [r for r in replies if r.startswith("LAUNCHED")]
        refused = [r for r in replies if r.startswith("ERROR")]
        self.assertEqual((len(launched), len(refused)), (2, 1), replies)
        self.assertIn(f"code={NO_CAPACITY} ", refused[0])
        self.assertIn("no capacity", refused[0])
        compute = self.env.pool()["compute"]
        self.assertEqual((compute["sessions"], compute["vcpus_used"]), (2, 2))

        # Closing gives everything back.
        sids = [re.search(r"session=(\w+)", r).group(1) for r in launched]
        code, lines = self.env.requests(self.alice,
                                        *[f"close:{s}" for s in sids])
        self.assertEqual(code, 0, lines)
        for sid in sids:
            self.env.wait_closed(sid)
        self.assert_pools_full()
        self.assertEqual(self.env.usage_total()["sessions"], 2)


class Faults(BrokerTest):
    def test_qemu_killed_mid_session(self):
        sid = self.open_session()
        pid = self.env.session(sid)["qemu_pid"]
        os.kill(pid, signal.SIGKILL)
        closed = self.env.wait_closed(sid, timeout=20)
        self.assertGreater(closed["frames"], 0)
        self.assertEqual(self.env.usage_total()["sessions"], 1)
        self.assert_pools_full()
        self.assertIn("event=qemu-exited", self.env.text())

    def test_broker_killed_and_restarted(self):
        sid = self.open_session()
        pid = self.env.session(sid)["qemu_pid"]
        self.env.kill9()
        time.sleep(1)
        self.assertTrue(qemu_alive(pid), "QEMU must outlive the broker")
        # A ticket asked for before the adopted QEMU's QMP is back waits
        # for it (QEMU stopped here to hold that window open).
        os.kill(pid, signal.SIGSTOP)
        self.env.start()
        asked = {}
        waiter = threading.Thread(target=lambda: asked.update(
            reply=self.env.requests(self.alice, f"ticket:{sid}")))
        waiter.start()
        time.sleep(1.5)
        os.kill(pid, signal.SIGCONT)
        waiter.join(60)
        code, lines = asked["reply"]
        self.assertTrue(lines[1].startswith(f"LAUNCHED id=103 session={sid}"),
                        lines)
        # Adopted: a client attaches again and works.
        code, out, _ = self.env.headless(
            self.alice, "--attach", sid,
            run=f"wait-frames 3; {TYPE_TO_CONSOLE}; sleep 1000; close-app")
        self.assertEqual(code, 0, out)
        self.env.wait_console(sid, "crp-typed-42")
        closed = self.env.wait_closed(sid)
        self.assertFalse(qemu_alive(pid))
        # One usage row, and it counts the frames from both attachments.
        usage = self.env.usage_total()
        self.assertEqual(usage["sessions"], 1)
        self.assertEqual(usage["frames"], closed["frames"])
        self.assertIn("event=session-adopted", self.env.text())
        self.assert_pools_full()

    def test_stopped_while_a_ticket_waits(self):
        """SIGTERM while a ticket waits for a VM's QMP: the waiting request
        is answered with a shutdown and the broker exits cleanly (it used
        to answer into the connection registry it had freed: SIGSEGV)."""
        sid = self.open_session()
        pid = self.env.session(sid)["qemu_pid"]
        self.env.kill9()
        # The adopted QEMU, stopped, holds the ticket request open.
        os.kill(pid, signal.SIGSTOP)
        try:
            self.env.start()
            asked = {}
            waiter = threading.Thread(target=lambda: asked.update(
                reply=self.env.requests(self.alice, f"ticket:{sid}")))
            waiter.start()
            time.sleep(1.5)
            self.assertTrue(waiter.is_alive(), "the ticket did not wait")
            proc = self.env.proc
            self.env.stop()
            waiter.join(30)
            self.assertEqual(proc.returncode, 0, self.env.text()[-2000:])
            self.assertIn("event=shutdown", self.env.text())
        finally:
            os.kill(pid, signal.SIGCONT)

    def test_qemu_dies_while_the_broker_is_down(self):
        sid = self.open_session()
        time.sleep(2.5)                 # a heartbeat
        pid = self.env.session(sid)["qemu_pid"]
        self.env.kill9()
        os.kill(pid, signal.SIGKILL)
        time.sleep(2.5)
        restarted = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.env.start()
        closed = self.env.wait_closed(sid, timeout=20)
        self.assertIn("event=session-lost", self.env.text())
        self.assertEqual(self.env.usage_total()["sessions"], 1)
        # Ended when it was last seen, not when the broker came back.
        self.assertLess(closed["ended"], restarted)
        self.assertGreaterEqual(closed["ended"], closed["started"])
        self.assert_pools_full()

    def test_revoking_a_user_ends_their_sessions(self):
        sid = self.open_session()
        self.env.admin("user", "revoke", "alice")
        self.env.wait_closed(sid, timeout=30)
        self.assertIn("reason=user-revoked", self.env.text())
        self.assert_pools_full()

    def test_operator_terminates(self):
        sid = self.open_session()
        self.env.admin("session", "terminate", sid)
        self.env.wait_closed(sid, timeout=30)
        self.assertIn("reason=terminated-by-operator", self.env.text())
        self.assert_pools_full()


class MyFiles(BrokerTest):
    """My files with the real guest over 9p: what a client uploads is in
    the guest's /files at once, what the guest writes downloads unchanged,
    a second app sees the same files, and an app with --files off gets no
    share at all."""

    def type_in(self, sid, *commands):
        """Types shell commands into the guest's console (tty0); their
        output goes to the serial console by redirection."""
        typed = "; ".join(f"type {c}\\n" for c in commands)
        code, out, _ = self.env.headless(
            self.alice, "--attach", sid, run=f"wait-frames 2; {typed}; sleep 300")
        self.assertEqual(code, 0, out)

    def upload(self, path, text):
        name = path.replace("/", "%2F")
        code, lines = self.env.requests(
            self.alice, f"upload-begin:{len(text)}:{name}",
            f"upload-data:{len(text)}:0:{text}:{name}")
        self.assertEqual(lines[1:], ["UPLOAD_READY id=103 offset=0",
                                     "OK id=104"], lines)

    def download(self, path):
        code, lines = self.env.requests(self.alice,
                                        f"download:0:4096:{path}")
        return lines[1]

    def files_command(self, script):
        """Runs crp-headless's My files commands alone (no app)."""
        code, out, _ = self.env.headless(self.alice, run=f"{script}; quit")
        self.assertEqual(code, 0, out)
        return out

    def test_files_in_every_app(self):
        # A binary file through crp-headless and the broker, checked in the
        # guest by its hash.
        local = os.path.join(self.root, "up.bin")
        data = os.urandom(3 * 1024 * 1024 + 4321)
        with open(local, "wb") as f:
            f.write(data)
        self.files_command(f"files-upload {local} docs/up.bin")
        self.upload("docs/hello.txt", "crp-files-hello-123")
        sid = self.open_session()
        self.env.wait_console(sid, "files=1")
        self.type_in(sid, "sha256sum /files/docs/up.bin > /dev/ttyS0",
                     "cat /files/docs/hello.txt > /dev/ttyS0")
        self.env.wait_console(sid, hashlib.sha256(data).hexdigest())
        self.env.wait_console(sid, "crp-files-hello-123")

        # What the guest writes downloads with the same bytes.
        self.type_in(sid, "dd if=/dev/urandom of=/files/guest.bin bs=1024 "
                     "count=2500 2>/dev/null && sha256sum /files/guest.bin "
                     "> /dev/ttyS0")
        deadline = time.monotonic() + 60
        while not (m := re.search(r"([0-9a-f]{64})  /files/guest\.bin",
                                  self.env.console(sid))):
            self.assertLess(time.monotonic(), deadline, self.env.console(sid))
            time.sleep(0.3)
        back = os.path.join(self.root, "guest.bin")
        self.files_command(f"files-download guest.bin {back}")
        with open(back, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), m.group(1))

        # Uploaded while the guest runs: there at once (the guest caches
        # nothing of the share).
        self.upload("late.txt", "crp-files-late-456")
        self.type_in(sid, "cat /files/late.txt > /dev/ttyS0")
        self.env.wait_console(sid, "crp-files-late-456")

        # What the guest writes comes back through the broker unchanged.
        self.type_in(sid, "echo crp-from-guest-$((6*7)) > /files/out.txt")
        deadline = time.monotonic() + 30
        while "data=crp-from-guest-42" not in self.download("out.txt"):
            self.assertLess(time.monotonic(), deadline,
                            self.download("out.txt"))
            time.sleep(0.5)

        # Another app of the same user sees the same files.
        self.env.publish_guest("editor", mode="shell")
        code, out, sid2 = self.env.headless(
            self.alice, "--open", "editor", "--subscribe",
            run="wait-frames 1; quit")
        self.assertEqual(code, 0, out)
        self.env.wait_console(sid2, "CRP-GUEST-READY")
        self.type_in(sid2, "cat /files/out.txt > /dev/ttyS0")
        self.env.wait_console(sid2, "crp-from-guest-42")
        for s in (sid, sid2):
            self.env.requests(self.alice, f"close:{s}")
            self.env.wait_closed(s)

        # --files off: no share device, so nothing of My files in there.
        self.env.admin("app", "update", "editor", "--files", "off")
        code, out, sid3 = self.env.headless(
            self.alice, "--open", "editor", run="wait-frames 1; quit")
        self.assertEqual(code, 0, out)
        self.env.wait_console(sid3, "CRP-GUEST-READY")
        self.assertIn("files=0", self.env.console(sid3))
        with open(f"/proc/{self.env.session(sid3)['qemu_pid']}/cmdline",
                  "rb") as f:
            self.assertNotIn(b"virtio-9p-pci", f.read())


class Storage(BrokerTest):
    # 1 MiB per user: a fresh overlay fits, a filled one does not.
    broker_args = {"quota_mib": 1}

    def setUp(self):
        super().setUp()
        self.base = os.path.join(self.env.images, "base.qcow2")
        self.qemu_img("create", "-q", "-f", "qcow2", self.base, "16M")
        for name, extra in (("scratch", ()), ("keep", ("--persistent-storage",))):
            self.env.publish_guest(name, extra=("--disk", "base.qcow2", *extra))
        self.overlays = os.path.join(self.env.state, "overlays", "alice")

    def qemu_img(self, *args):
        r = subprocess.run([QEMU_ENV["QEMU_IMG"], *args], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def launch_and_close(self, app):
        code, lines = self.env.requests(self.alice, f"subscribe:{app}",
                                        f"launch:{app}")
        self.assertTrue(lines[2].startswith("LAUNCHED"), lines)
        sid = re.search(r"session=(\w+)", lines[2]).group(1)
        overlay = self.env.session(sid)["overlay"]
        self.assertTrue(overlay and os.path.exists(overlay), overlay)
        code, lines = self.env.requests(self.alice, f"close:{sid}")
        self.env.wait_closed(sid)
        return overlay

    def test_overlays_and_quota(self):
        # A throw-away overlay goes with its session.
        overlay = self.launch_and_close("scratch")
        self.assertEqual(os.path.dirname(overlay), self.overlays)
        self.assertFalse(os.path.exists(overlay))
        # A persistent one stays, and counts against the quota.
        # One session at a time on a persistent disk.
        code, lines = self.env.requests(self.alice, "subscribe:keep",
                                        "launch:keep", "launch:keep")
        self.assertTrue(lines[2].startswith("LAUNCHED"), lines)
        self.assertIn(f"code={NO_CAPACITY} ", lines[3])
        self.assertIn("already open", lines[3])
        sid = re.search(r"session=(\w+)", lines[2]).group(1)
        self.env.requests(self.alice, f"close:{sid}")
        self.env.wait_closed(sid)
        overlay = self.launch_and_close("keep")
        self.assertEqual(overlay, os.path.join(self.overlays, "keep.qcow2"))
        self.assertTrue(os.path.exists(overlay))
        users = self.env.pool()["storage"]["users"]
        self.assertEqual([u["user"] for u in users], ["alice"], users)
        # The user's guest fills its disk (here: 2 MiB written into the
        # overlay from outside): the next launch of a disk app is refused.
        data = os.path.join(self.root, "data.raw")
        with open(data, "wb") as f:
            f.write(os.urandom(2 << 20))
        self.qemu_img("convert", "-n", "-f", "raw", "-O", "qcow2", data,
                      overlay)
        code, lines = self.env.requests(self.alice, "launch:scratch")
        self.assertIn(f"code={QUOTA_EXCEEDED} ", lines[1])
        self.assertIn("quota", lines[1])
        # Nothing was allocated by the refusal.
        self.assert_pools_full()
        self.assertEqual(sorted(os.listdir(self.overlays)), ["keep.qcow2"])


class Idle(BrokerTest):
    broker_args = {"idle_timeout_s": 4}

    def test_idle_session_is_closed(self):
        # A client attached keeps it open past the idle timeout...
        code, out, sid = self.env.headless(
            self.alice, "--open", "shell", "--subscribe",
            run="wait-frames 1; sleep 7000; quit")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.env.session(sid)["state"], "running")
        # ... and without one it closes.
        self.env.wait_closed(sid, timeout=40)
        self.assertIn("reason=idle", self.env.text())
        self.assert_pools_full()


class LiveConnections(BrokerTest):
    """Broker connections that live as long as a session: they must last
    while the user is there, and end when the user's key does."""

    # A real client says something at least every 30 s (its keepalive).
    broker_args = {"config": "[login]\nidle-timeout-s = 40\n"}

    def test_idle_client_keeps_its_broker_connection(self):
        # crp-headless keeps its broker connection for the whole session
        # and sends nothing of its own: 55 s is past the idle timeout.
        code, out, sid = self.env.headless(
            self.alice, "--open", "shell", "--subscribe",
            run="wait-frames 1; sleep 55000; quit", timeout=120)
        self.assertEqual(code, 0, out)
        self.assertNotIn("event=idle-timeout", self.env.text())

    def test_rotation_cuts_attached_display(self):
        self.env.requests(self.alice, "subscribe:shell")
        proc = subprocess.Popen(
            [self.env.tools["headless"], "--key", self.alice, "--broker",
             self.env.listen, "--open", "shell", "--timeout", "110",
             "--run", "wait-frames 1; sleep 100000; quit"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while "event=attach " not in self.env.text():
                if proc.poll() is not None:
                    self.fail(proc.stdout.read())
                self.assertLess(time.monotonic(), deadline, self.env.text())
                time.sleep(0.2)
            time.sleep(2)       # the guest draws its first frame
            t0 = time.monotonic()
            self.env.admin("user", "rotate", "alice", "--key-file",
                           os.path.join(self.root, "alice-new.key"))
            out, _ = proc.communicate(timeout=30)
            self.assertLess(time.monotonic() - t0, 10, out)
            self.assertNotEqual(proc.returncode, 0, out)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertIn("event=key-withdrawn session=", self.env.text())
        # The session itself lives on for the new key.
        sid = re.search(r"event=attach session=(\w+)",
                        self.env.text()).group(1)
        self.assertEqual(self.env.session(sid)["state"], "running")


def main():
    global QEMU_ENV
    QEMU_ENV = flow_test_setup(TOOLS, load_env)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
