#!/usr/bin/env python3
"""Integration tests of -display crp / -audiodev crp with real QEMU (TCG),
the real test guest and the real headless client.

Usage: test-display.py CRP_HEADLESS [unittest args]
Skips (exit 77) when QEMU or the guest has not been built.
"""

import json
import math
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import wave

from crpvm import CrpVM, diff_pixels, load_env, read_png

HEADLESS = None
ENV = None


def headless(vm, ticket, script, *extra, timeout=90):
    """Runs crp-headless against @vm; returns (exit code, output, stats)."""
    stats_path = os.path.join(vm.dir, f"stats-{time.monotonic_ns()}.json")
    args = [HEADLESS, "--connect", vm.crp_addr, "--timeout", str(timeout)]
    if ticket is None:
        args.append("--no-ticket")
    else:
        # A file, not --ticket: the command line is readable by everyone.
        path = os.path.join(vm.dir, f"ticket-{time.monotonic_ns()}")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(ticket)
        args += ["--ticket-file", path]
    args += ["--run", script, "--stats", stats_path, *extra]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30)
    stats = {}
    if os.path.exists(stats_path):
        with open(stats_path) as f:
            stats = json.load(f)
    return proc.returncode, proc.stdout + proc.stderr, stats


def write_tone(path, freq, seconds, channels=2):
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(48000)
        frames = bytearray()
        for i in range(int(48000 * seconds)):
            s = int(8000 * math.sin(2 * math.pi * freq * i / 48000))
            frames += struct.pack("<h", s) * channels
        w.writeframes(bytes(frames))


class GuestTestCase(unittest.TestCase):
    """One VM for the whole class (booting is the slow part), and a fresh
    one-time ticket for each client."""

    @classmethod
    def start_vm(cls, name, **kw):
        cls.tmp = tempfile.TemporaryDirectory(prefix=f"crp-it-{name}-")
        cls.vm = CrpVM(cls.tmp.name, ENV, **kw)
        cls.tickets = 0

    @classmethod
    def tearDownClass(cls):
        cls.vm.stop()
        cls.tmp.cleanup()

    def ticket(self):
        type(self).tickets += 1
        t = f"ticket-{type(self).tickets}-{time.monotonic_ns()}"
        self.vm.set_ticket(t)
        return t

    def setUp(self):
        # Clients of earlier tests may still be listed for a moment.
        self.first_id = max([c["id"] for c in self.vm.query()["clients"]], default=0)

    def wait_clients(self, n, timeout=30):
        """Until @n clients of this test are connected (a ticket is used
        once its client is in; QMP events can be stale, a query cannot)."""
        deadline = time.monotonic() + timeout
        while len([c for c in self.vm.query()["clients"] if c["id"] > self.first_id]) < n:
            self.assertLess(time.monotonic(), deadline, f"{n} clients never connected")
            time.sleep(0.05)


class ShellGuest(GuestTestCase):
    """The guest's shell on the framebuffer console, lossless encoding."""

    @classmethod
    def setUpClass(cls):
        cls.start_vm("shell", mode="shell", display_opts="lossless=on")
        # A still screen: no blinking cursor between screenshot and screendump.
        cls.vm.run("echo 0 > /sys/class/graphics/fbcon/cursor_blink; echo blink-off",
                   expect="blink-off")

    def test_framebuffer_equals_screendump(self):
        shot = os.path.join(self.vm.dir, "client.png")
        for attempt in range(3):
            code, out, _ = headless(self.vm, self.ticket(),
                                    f"wait-frames 1; sleep 2500; screenshot {shot}; quit")
            self.assertEqual(code, 0, out)
            dump = self.vm.screendump(os.path.join(self.vm.dir, "dump.ppm"))
            client = read_png(shot)
            differing = diff_pixels(client, dump)
            if differing == 0:
                break
        self.assertEqual(client[:2], dump[:2])
        self.assertEqual(differing, 0, "client framebuffer differs from screendump")

    def test_typed_text_reaches_the_shell(self):
        code, out, _ = headless(self.vm, self.ticket(),
                                "wait-frames 1; type echo crp-typed-$((6*7)) > /tmp/typed\\n;"
                                " sleep 1500; quit")
        self.assertEqual(code, 0, out)
        self.vm.run("cat /tmp/typed", expect=r"crp-typed-42")

    def test_wrong_expired_and_reused_tickets(self):
        self.vm.set_ticket(secrets.token_hex(16))
        code, out, _ = headless(self.vm, secrets.token_hex(16), "wait-frames 1; quit")
        self.assertEqual(code, 2, out)
        self.assertIn("ticket", out)

        short_lived = secrets.token_hex(16)
        self.vm.set_ticket(short_lived, expires=1)
        time.sleep(2.0)
        code, out, _ = headless(self.vm, short_lived, "wait-frames 1; quit")
        self.assertEqual(code, 2, out)

        reused = self.ticket()
        code, out, _ = headless(self.vm, reused, "wait-frames 1; quit")
        self.assertEqual(code, 0, out)
        code, out, _ = headless(self.vm, reused, "wait-frames 1; quit")
        self.assertEqual(code, 2, out)
        self.assertTrue(self.vm.alive())

    def test_garbage_and_stalled_clients_are_dropped(self):
        result = {}

        def good_client():
            result["good"] = headless(self.vm, ticket, "wait-frames 1; sleep 12000; "
                                      "type echo still-here\\n; sleep 1000; quit")

        ticket = self.ticket()
        worker = threading.Thread(target=good_client)
        worker.start()
        time.sleep(3)

        garbage = socket.socket(socket.AF_UNIX)
        garbage.connect(self.vm.crp_sock)
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(2000))
        garbage.settimeout(10)
        received = b""
        while True:
            chunk = garbage.recv(4096)
            if not chunk:
                break
            received += chunk
        garbage.close()
        # Dropped with a REJECT saying why (u32 length, kind 2, status 1).
        self.assertGreaterEqual(len(received), 7)
        self.assertEqual(received[4], 2)

        stalled = socket.socket(socket.AF_UNIX)
        stalled.connect(self.vm.crp_sock)
        stalled.settimeout(25)
        start = time.monotonic()
        self.assertEqual(stalled.recv(4096), b"")     # closed by the server
        self.assertLess(time.monotonic() - start, 20)
        stalled.close()

        worker.join(timeout=120)
        code, out, stats = result["good"]
        self.assertEqual(code, 0, out)
        self.assertGreaterEqual(stats["frames"], 1)
        self.vm.run("echo done", expect="done")
        self.assertTrue(self.vm.alive())

    def test_two_clients_at_once(self):
        # Both watch while the console scrolls: after the second joins they
        # share one encoding, and both end with QEMU's picture.
        shots = [os.path.join(self.vm.dir, f"two-{i}.png") for i in range(2)]
        results = [None, None]

        def client(i, ticket):
            results[i] = headless(self.vm, ticket,
                                  f"wait-frames 1; sleep 7000; screenshot {shots[i]}; quit")

        threads = []
        for i in range(2):
            threads.append(threading.Thread(target=client, args=(i, self.ticket())))
            threads[-1].start()
            # The second ticket replaces the first only once it is used.
            self.wait_clients(i + 1)
        start = len(self.vm.serial_text())
        self.vm.run("(for i in $(seq 1 10); do echo two clients line $i; usleep 50000; "
                    "done >/dev/tty1; echo two-$((1+1))-done) &")
        self.vm.wait_serial(r"two-2-done", start=start)
        time.sleep(1)
        during = {c["id"]: c for c in self.vm.query()["clients"]}
        for t in threads:
            t.join(timeout=120)
        self.assertEqual(len(during), 2)
        for code, out, stats in results:
            self.assertEqual(code, 0, out)
            self.assertGreaterEqual(stats["frames"], 2)
        # What the server had sent by then is a prefix of what each counted.
        for info, (_, _, stats) in zip(sorted(during.values(), key=lambda c: c["id"]),
                                       results):
            self.assertGreaterEqual(info["frames-sent"], 2)
            self.assertLessEqual(info["frames-sent"], stats["frames"])
            self.assertLessEqual(info["bytes-out"], stats["bytes_in"])
        dump = self.vm.screendump(os.path.join(self.vm.dir, "two.ppm"))
        for i, shot in enumerate(shots):
            self.assertEqual(diff_pixels(read_png(shot), dump), 0,
                             f"client {i} differs from screendump")

    def test_clients_that_decode_less_get_what_they_decode(self):
        """A client that does not offer ZSTD (an older one), and one that
        offers no compression at all, watch at the same time as a full
        one: each gets only the encodings it offered (its viewer refuses
        anything else as a protocol error), and all end with QEMU's
        picture. Clients of different encodings never share a group."""
        kinds = [(), ("--disable", "zstd"), ("--disable", "zstd,zlib,jpeg")]
        shots = [os.path.join(self.vm.dir, f"caps-{i}.png") for i in range(len(kinds))]
        results = [None] * len(kinds)

        def client(i, ticket):
            results[i] = headless(self.vm, ticket,
                                  f"wait-frames 1; sleep 6000; screenshot {shots[i]}; quit",
                                  *kinds[i])

        threads = []
        for i in range(len(kinds)):
            threads.append(threading.Thread(target=client, args=(i, self.ticket())))
            threads[-1].start()
            self.wait_clients(i + 1)
        start = len(self.vm.serial_text())
        self.vm.run("(for i in $(seq 1 10); do echo caps line $i; usleep 50000; "
                    "done >/dev/tty1; echo caps-$((1+1))-done) &")
        self.vm.wait_serial(r"caps-2-done", start=start)
        for t in threads:
            t.join(timeout=120)
        for code, out, stats in results:
            self.assertEqual(code, 0, out)
            self.assertGreaterEqual(stats["frames"], 2)
        dump = self.vm.screendump(os.path.join(self.vm.dir, "caps.ppm"))
        for i, shot in enumerate(shots):
            self.assertEqual(diff_pixels(read_png(shot), dump), 0,
                             f"client {kinds[i]} differs from screendump")

    def test_three_clients_share_diverge_and_agree(self):
        # Clients at the same point share one encoding; one that stalls
        # while the screen scrolls falls behind, goes on with a copy of the
        # encoder and joins again later. Whatever path each took, all three
        # end with the picture QEMU has, pixel for pixel.
        shots = [os.path.join(self.vm.dir, f"three-{i}.png") for i in range(3)]
        scripts = [
            f"wait-frames 1; sleep 13000; screenshot {shots[0]}; quit",
            f"wait-frames 1; stall 4000; sleep 8000; screenshot {shots[1]}; quit",
            f"wait-frames 1; sleep 11000; screenshot {shots[2]}; quit",
        ]
        results = [None] * 3

        def client(i, ticket):
            results[i] = headless(self.vm, ticket, scripts[i])

        threads = []
        for i in range(3):
            threads.append(threading.Thread(target=client, args=(i, self.ticket())))
            threads[-1].start()
            # The next ticket replaces this one only once it is used.
            self.wait_clients(i + 1)
        scroll_start = len(self.vm.serial_text())
        # Scroll the console for a second or two, done long before the
        # screenshots even on a loaded machine: the stalled client misses it.
        self.vm.run("(for i in $(seq 1 25); do echo shared line $i; usleep 50000; "
                    "done >/dev/tty1; echo scroll-$((1+1))-done) &")
        time.sleep(2)
        during = self.vm.query()["clients"]
        for t in threads:
            t.join(timeout=120)
        self.vm.wait_serial(r"scroll-2-done", start=scroll_start)
        for code, out, stats in results:
            self.assertEqual(code, 0, out)
            self.assertGreaterEqual(stats["frames"], 2)
        self.assertEqual(len(during), 3)
        self.assertTrue(all(c["frames-sent"] >= 1 for c in during))
        # Still now: every client has the screen exactly.
        dump = self.vm.screendump(os.path.join(self.vm.dir, "three.ppm"))
        for i, shot in enumerate(shots):
            self.assertEqual(diff_pixels(read_png(shot), dump), 0,
                             f"client {i} differs from screendump")

    def test_small_changes_then_a_late_client(self):
        # Small changes in different places, each in its own frame, while
        # one client watches (the server's framebuffer and the client's
        # picture trade places after each frame and catch up later); then
        # a second client joins and gets everything from that framebuffer.
        first = os.path.join(self.vm.dir, "late-first.png")
        late = os.path.join(self.vm.dir, "late-second.png")
        result = {}

        def watcher(ticket):
            result["first"] = headless(self.vm, ticket,
                                       f"wait-frames 1; sleep 7000; screenshot {first}; quit")

        # fbcon's cursor would join each change to the last one; hide it.
        self.vm.run("printf '\\033[?25l' >/dev/tty1; echo hidden-$((1+1))",
                    expect="hidden-2")
        self.addCleanup(self.vm.run, "printf '\\033[?25h' >/dev/tty1")
        thread = threading.Thread(target=watcher, args=(self.ticket(),))
        thread.start()
        self.wait_clients(1)
        time.sleep(1)
        # The last step puts back what row 10 had before the first: a
        # server that lost track of what the client shows sends nothing.
        for row, text in ((10, "top-change"), (20, "low-change"), (10, "          ")):
            token = f"placed-{row}-{time.monotonic_ns()}"
            self.vm.run(f"printf '\\033[{row};5H{text}' >/dev/tty1; sleep 0.5; "
                        f"echo {token}-$((1+1))", expect=f"{token}-2")
        thread.join(timeout=120)
        self.assertEqual(result["first"][0], 0, result["first"][1])
        dump = self.vm.screendump(os.path.join(self.vm.dir, "late.ppm"))
        self.assertEqual(diff_pixels(read_png(first), dump), 0, "watching client differs")

        code, out, _ = headless(self.vm, self.ticket(),
                                f"wait-frames 1; sleep 1500; screenshot {late}; quit")
        self.assertEqual(code, 0, out)
        self.assertEqual(diff_pixels(read_png(late), dump), 0, "late client differs")

    def test_query_and_events_agree_with_the_client(self):
        qmp = self.vm.qmp
        qmp.events.clear()
        seen = {}
        before = self.vm.query()

        def sample():
            time.sleep(4)
            seen["query"] = self.vm.query()

        ticket = self.ticket()
        sampler = threading.Thread(target=sample)
        sampler.start()
        # Typing keeps frames coming while the query runs.
        code, out, stats = headless(self.vm, ticket,
                                    "wait-frames 1; sleep 2000; type echo counting\\n; "
                                    "sleep 4000; close-app")
        sampler.join()
        self.assertEqual(code, 0, out)

        clients = seen["query"]["clients"]
        self.assertEqual(len(clients), 1)
        info = clients[0]
        # The server's counts at query time are a prefix of what the
        # client counted by its end.
        self.assertGreaterEqual(info["frames-sent"], 1)
        self.assertLessEqual(info["frames-sent"], stats["frames"])
        self.assertLessEqual(info["bytes-out"], stats["bytes_in"])
        self.assertGreater(info["bytes-in"], 0)
        self.assertGreater(info["rtt-ms"], 0)
        # It typed before the query: input reached a captured frame.
        self.assertGreater(info["input-latency-ms"], 0)
        self.assertLess(info["input-latency-ms"], 5000)

        connected = qmp.wait_event("CRP_CONNECTED", timeout=10)
        self.assertEqual(connected["data"]["id"], info["id"])
        close = qmp.wait_event("CRP_CLOSE_REQUESTED", timeout=10)
        self.assertEqual(close["data"]["id"], info["id"])
        gone = qmp.wait_event("CRP_DISCONNECTED", timeout=10)
        self.assertEqual(gone["data"]["id"], info["id"])
        self.assertTrue(gone["data"]["reason"])

        # The totals (for usage records) keep what the departed client
        # received: at least what it counted, on top of the earlier ones.
        after = self.vm.query()
        self.assertEqual(after["clients"], [])
        self.assertGreaterEqual(after["frames-sent"],
                                before["frames-sent"] + stats["frames"])
        self.assertGreaterEqual(after["bytes-out"],
                                before["bytes-out"] + stats["bytes_in"])
        self.assertGreaterEqual(after["bytes-in"],
                                before["bytes-in"] + stats["bytes_out"])


class TracedGuest(GuestTestCase):
    """QEMU started with -trace patterns for ui-crp's trace points, as an
    operator would (docs/operator-guide.md): they need no rebuild and
    show up on QEMU's stderr."""

    @classmethod
    def setUpClass(cls):
        cls.start_vm("trace", mode="shell",
                     extra_args=["-trace", "crp_peer_*", "-trace", "crp_head_*"])

    def trace(self, name, since=0):
        """The fields of every @name line after offset @since of stderr,
        as dicts (the log backend may prefix "PID@TIME:")."""
        text = self.vm.stderr_text()[since:]
        lines = []
        for line in text.splitlines():
            head, _, fields = line.partition(" ")
            if head.rsplit(":", 1)[-1] != name:
                continue
            lines.append({k: quoted or plain for k, quoted, plain in
                          re.findall(r'(\w+)=(?:"([^"]*)"|(\S*))', fields)})
        return lines

    def test_connect_handshake_and_frames_are_traced(self):
        since = len(self.vm.stderr_text())
        ticket = self.ticket()
        code, out, stats = headless(self.vm, ticket,
                                    "wait-frames 3; type echo traced\\n; "
                                    "wait-frames 2; sleep 500; quit")
        self.assertEqual(code, 0, out)
        # The same ticket again: used up, its handshake fails.
        code, out, _ = headless(self.vm, ticket, "wait-frames 1; quit")
        self.assertEqual(code, 2, out)

        deadline = time.monotonic() + 10
        while len(self.trace("crp_peer_disconnect", since)) < 2:
            self.assertLess(time.monotonic(), deadline,
                            "no crp_peer_disconnect lines: " + self.vm.stderr_text()[-2000:])
            time.sleep(0.1)
        connects = self.trace("crp_peer_connect", since)
        self.assertEqual(len(connects), 2, connects)
        peer = connects[0]["peer"]
        self.assertNotEqual(connects[1]["peer"], peer)
        self.assertEqual(connects[0]["address"], self.vm.crp_addr)
        self.assertRegex(connects[0]["origin"], r"^uid \d+$")

        refused = connects[1]["peer"]
        admits = {a["peer"]: a for a in self.trace("crp_peer_admit", since)}
        self.assertEqual(admits[peer]["status"], "0")
        self.assertNotEqual(admits.get(refused, {}).get("status"), "0")
        ready = [r for r in self.trace("crp_peer_ready", since) if r["peer"] == peer]
        self.assertEqual(len(ready), 1)
        self.assertNotEqual(int(ready[0]["caps"], 16), 0)
        self.assertFalse([r for r in self.trace("crp_peer_ready", since)
                          if r["peer"] == refused])

        queued = {int(f["frame"]): int(f["bytes"])
                  for f in self.trace("crp_peer_frame_queued", since) if f["peer"] == peer}
        sent = {int(f["frame"]): int(f["bytes"])
                for f in self.trace("crp_peer_frame_sent", since) if f["peer"] == peer}
        # Every frame the client counted was queued and written whole, in
        # the sizes queued (one queued as it left may not have been).
        self.assertGreaterEqual(stats["frames"], 5)
        for frame in range(1, stats["frames"] + 1):
            self.assertEqual(sent.get(frame), queued.get(frame), (frame, sent, queued))
        self.assertTrue(all(queued[f] == b for f, b in sent.items()), (sent, queued))
        self.assertTrue(all(b > 0 for b in sent.values()), sent)

        gone = {d["peer"]: d for d in self.trace("crp_peer_disconnect", since)}
        self.assertEqual(gone[peer]["status"], "0")
        self.assertIn(gone[peer]["reason"], ("client closed the connection",
                                             "connection closed by the client"))
        self.assertEqual(int(gone[peer]["frames"]), len(queued))
        # What it was sent covers every frame written and what the client
        # read (and its last word, which the client may not have read).
        self.assertGreaterEqual(int(gone[peer]["bytes_out"]), sum(sent.values()))
        self.assertGreaterEqual(int(gone[peer]["bytes_out"]), stats["bytes_in"])
        self.assertNotEqual(gone[refused]["status"], "0")

        # Its first frame is the whole screen, encoded once for its group
        # (a kilobyte or so of text console, far below raw pixels), plus
        # only FRAME_END and the encryption's few bytes.
        encoded = self.trace("crp_head_frame_encoded", since)
        full = int(encoded[0]["bytes"])
        self.assertEqual(encoded[0]["full"], "1")
        self.assertGreater(full, 100)
        self.assertLess(full, 1024 * 768)
        self.assertGreater(sent[1], full)
        self.assertLess(sent[1], full + 200)
        # The trace never shows a ticket.
        self.assertNotIn(ticket, self.vm.stderr_text())

    def test_trace_points_switch_on_at_run_time(self):
        """Not named at start: off, until QMP switches them on."""
        since = len(self.vm.stderr_text())
        code, out, _ = headless(self.vm, self.ticket(), "wait-frames 2; quit")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.trace("crp_group_rate", since), [])

        self.vm.qmp.command("trace-event-set-state", name="crp_group_*",
                                enable=True)
        try:
            since = len(self.vm.stderr_text())
            code, out, _ = headless(self.vm, self.ticket(), "wait-frames 2; quit")
            self.assertEqual(code, 0, out)
            rates = self.trace("crp_group_rate", since)
            self.assertTrue(rates, self.vm.stderr_text()[since:])
            self.assertTrue(all(1 <= int(r["jpeg_quality"]) <= 100 for r in rates), rates)
        finally:
            self.vm.qmp.command("trace-event-set-state", name="crp_group_*",
                                enable=False)


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpGuest(GuestTestCase):
    """-display crp on a TCP port, where anyone who can reach it can open
    connections before the real client does."""

    @classmethod
    def setUpClass(cls):
        cls.port = free_tcp_port()
        cls.start_vm("tcp", mode="shell", crp_addr=f"tcp:127.0.0.1:{cls.port}")

    def idle_connections(self, n, source):
        socks = []
        for _ in range(n):
            s = socket.socket()
            s.bind((source, 0))
            s.connect(("127.0.0.1", self.port))
            socks.append(s)
        return socks

    def test_idle_connections_cannot_keep_a_ticket_holder_out(self):
        """The review's pre-authentication starvation: max-clients + 8
        idle connections (no bytes, 10 s each) locked the real client
        out, from the same address or others."""
        idle = self.idle_connections(12, "127.0.0.1")
        for i in range(2, 6):
            idle += self.idle_connections(3, f"127.0.0.{i}")
        time.sleep(0.5)
        code, out, _ = headless(self.vm, self.ticket(), "wait-frames 1; quit")
        self.assertEqual(code, 0, out)

        # A peer that keeps opening connections while the client shakes
        # hands evicts only its own.
        stop = threading.Event()

        def flood():
            while not stop.is_set():
                idle.extend(self.idle_connections(1, "127.0.0.9"))
                time.sleep(0.01)

        flooder = threading.Thread(target=flood)
        flooder.start()
        try:
            for _ in range(3):
                code, out, _ = headless(self.vm, self.ticket(), "wait-frames 1; quit")
                self.assertEqual(code, 0, out)
        finally:
            stop.set()
            flooder.join()
        for s in idle:
            s.close()
        self.assertTrue(self.vm.alive())


class DemoGuest(GuestTestCase):
    """The guest's demo program: animation, tone, microphone, default
    (lossy where it pays) encoding."""

    @classmethod
    def setUpClass(cls):
        cls.start_vm("demo", mode="demo")

    def test_key_and_click_reach_the_guest(self):
        start = len(self.vm.serial_text())
        code, out, _ = headless(self.vm, self.ticket(),
                                "wait-frames 2; key 30; click 320 600; "
                                "wait-change 300 580 40 40 10000; quit")
        self.assertEqual(code, 0, out)
        self.vm.wait_serial(r"CRP-KEY code=30 value=1", start=start)
        m = self.vm.wait_serial(r"CRP-CLICK button=left x=(\d+) y=(\d+)", start=start)
        self.assertLessEqual(abs(int(m.group(1)) - 320), 2)
        self.assertLessEqual(abs(int(m.group(2)) - 600), 2)

    def test_slow_client_gets_fewer_frames_and_never_holds_others(self):
        results = {}

        def run(name, script):
            results[name] = headless(self.vm, self.ticket_now[name], script)

        self.ticket_now = {}
        threads = []
        for name, script in (("slow", "wait-frames 2; stall 8000; wait-frames 5; quit"),
                             ("fast", "wait-frames 2; sleep 8000; quit")):
            self.ticket_now[name] = self.ticket()
            threads.append(threading.Thread(target=run, args=(name, script)))
            threads[-1].start()
            time.sleep(1.5)
        time.sleep(1.0)
        before = {c["id"]: c for c in self.vm.query()["clients"]}
        time.sleep(4.0)
        after = {c["id"]: c for c in self.vm.query()["clients"]}
        for t in threads:
            t.join(timeout=120)
        for name, (code, out, _) in results.items():
            self.assertEqual(code, 0, f"{name}: {out}")

        slow_id, fast_id = sorted(before)
        sent = lambda cid: after[cid]["frames-sent"] - before[cid]["frames-sent"]
        written = lambda cid: after[cid]["bytes-out"] - before[cid]["bytes-out"]
        # The stalled client is sent at most a window of frames, and what
        # QEMU writes to it stays bounded; the other one keeps going.
        self.assertLessEqual(sent(slow_id), 3)
        self.assertLess(written(slow_id), 16 * 1024 * 1024)
        self.assertGreater(sent(fast_id), sent(slow_id) + 3)

    def test_frames_keep_flowing(self):
        # The encoder hand-off once lost a job queued before the worker
        # woke, and every frame stopped within seconds of animation.
        code, out, stats = headless(self.vm, self.ticket(), "wait-frames 120; quit",
                                    timeout=60)
        self.assertEqual(code, 0, out)
        self.assertGreaterEqual(stats["frames"], 120)

    def test_guest_tone_arrives(self):
        wav = os.path.join(self.vm.dir, "tone.wav")
        code, out, _ = headless(self.vm, self.ticket(),
                                f"wait-frames 1; record-start {wav}; sleep 2500; "
                                "expect-audio 440 10; record-stop; quit")
        self.assertEqual(code, 0, out)
        with wave.open(wav) as w:
            self.assertEqual(w.getframerate(), 48000)
            self.assertGreater(w.getnframes(), 48000)

    def test_microphone_reaches_the_guest(self):
        tone = os.path.join(self.vm.dir, "mic.wav")
        write_tone(tone, 1000, 4)
        start = len(self.vm.serial_text())
        code, out, _ = headless(self.vm, self.ticket(),
                                f"wait-frames 1; mic {tone}; quit")
        self.assertEqual(code, 0, out)
        m = self.vm.wait_serial(r"CRP-MIC freq=(9[89]\d|10[01]\d) ", start=start)
        self.assertLessEqual(abs(int(m.group(1)) - 1000), 10)


def drm_cursor_pixel(x, y):
    """RGBA of crp-drm's cursor at (x, y), straight alpha: mirrors
    crp_drm_cursor_pixel() in tests/guest/src/crp-drm.c."""
    if x < 32 and y < 32 and x <= y:
        return bytes((x * 8, y * 8, 0x40, 0xff))
    return bytes(4)


def read_pam(path):
    """Returns (width, height, hotspot, RGBA bytes) of crp-headless's
    save-cursor output."""
    with open(path, "rb") as f:
        data = f.read()
    header, body = data.split(b"ENDHDR\n", 1)
    fields = dict(line.split(b" ", 1) for line in header.splitlines()[1:]
                  if b" " in line and not line.startswith(b"#"))
    hot = [line.split()[2:] for line in header.splitlines()
           if line.startswith(b"# hotspot")][0]
    return (int(fields[b"WIDTH"]), int(fields[b"HEIGHT"]),
            (int(hot[0]), int(hot[1])), body)


class VideoGuest(GuestTestCase):
    """The demo program playing a film in its band (--film): a region
    that keeps changing like video, then stops."""

    VIDEO_S = 15

    @classmethod
    def setUpClass(cls):
        cls.start_vm("video", mode="demo",
                     append=f"crp.demo=--film,{cls.VIDEO_S},--no-audio")

    def test_video_goes_h264_and_settles_exact(self):
        """A client that offers H264 gets the film as H264 rects, one that
        does not gets JPEG there (and no H264 rect, which its viewer would
        refuse); once the film stops, both show exactly QEMU's picture:
        the region was refined losslessly."""
        kinds = [(), ("--disable", "h264")]
        shots = [os.path.join(self.vm.dir, f"video-{i}.png") for i in range(len(kinds))]
        results = [None] * len(kinds)
        # Past the film's end (it started before READY) with time to settle.
        sleep_ms = (self.VIDEO_S + 6) * 1000

        def client(i, ticket):
            results[i] = headless(self.vm, ticket,
                                  f"wait-frames 1; sleep {sleep_ms}; "
                                  f"screenshot {shots[i]}; quit", *kinds[i],
                                  timeout=120)

        threads = []
        for i in range(len(kinds)):
            threads.append(threading.Thread(target=client, args=(i, self.ticket())))
            threads[-1].start()
            self.wait_clients(i + 1)
        self.vm.wait_serial(r"CRP-VIDEO-STOPPED", timeout=60)
        for t in threads:
            t.join(timeout=180)
        for code, out, stats in results:
            self.assertEqual(code, 0, out)
        h264, jpeg = results[0][2]["encodings"], results[1][2]["encodings"]
        print(f"video: H264 client {results[0][2]['bytes_in']} bytes "
              f"({h264['h264'][0]} H264 rects, {h264['h264'][1]} bytes), "
              f"JPEG client {results[1][2]['bytes_in']} bytes "
              f"({jpeg['jpeg'][0]} JPEG rects, {jpeg['jpeg'][1]} bytes)", file=sys.stderr)
        self.assertGreaterEqual(h264["h264"][0], 20)
        self.assertEqual(jpeg["h264"][0], 0)
        self.assertGreaterEqual(jpeg["jpeg"][0], 20)
        dump = self.vm.screendump(os.path.join(self.vm.dir, "video.ppm"))
        for i, shot in enumerate(shots):
            self.assertEqual(diff_pixels(read_png(shot), dump), 0,
                             f"client {kinds[i]} differs from screendump")


class VirtioGpuGuest(GuestTestCase):
    """virtio-vga with the guest's virtio_gpu driver, driven by crp-drm as
    a desktop would: a hardware cursor (shape, hot spot, moves) and a mode
    change when the client asks for another size. std VGA has neither."""

    @classmethod
    def setUpClass(cls):
        cls.start_vm("gpu", mode="shell", vga="virtio", display_opts="lossless=on")
        cls.vm.run("crp-drm &", expect=r"CRP-DRM-READY mode=1280x800 .*hot=3,5",
                   timeout=30)

    def drm(self, command, expect):
        self.vm.run(f"echo {command} > /run/crp-drm", expect=expect)

    def test_cursor_shape_and_moves_reach_the_client(self):
        self.drm("move 100 200", r"CRP-DRM-MOVED 100 200")
        pam = os.path.join(self.vm.dir, "cursor.pam")
        result = {}

        def client():
            # The shape and position a joining client is given, then a move
            # made while it watches.
            result["run"] = headless(self.vm, ticket,
                                     f"wait-cursor 100 200 10000; save-cursor {pam}; "
                                     "wait-cursor 300 50 30000; quit")

        ticket = self.ticket()
        worker = threading.Thread(target=client)
        worker.start()
        self.wait_clients(1)
        time.sleep(0.5)
        self.drm("move 300 50", r"CRP-DRM-MOVED 300 50")
        worker.join(timeout=120)
        code, out, _ = result["run"]
        self.assertEqual(code, 0, out)

        width, height, hot, rgba = read_pam(pam)
        self.assertEqual((width, height), (64, 64))
        self.assertEqual(hot, (3, 5))
        wrong = [(x, y) for y in range(64) for x in range(64)
                 if rgba[(y * 64 + x) * 4:(y * 64 + x) * 4 + 4] != drm_cursor_pixel(x, y)]
        self.assertEqual(wrong, [], "cursor pixels differ from what the guest set")

    def test_resize_request_changes_the_guest_mode(self):
        shot = os.path.join(self.vm.dir, "resized.png")
        start = len(self.vm.serial_text())
        # crp-drm paints a gradient whose far corner is #ffff60 at any size:
        # that pixel says the new mode's first frame has arrived.
        code, out, _ = headless(self.vm, self.ticket(),
                                "wait-frames 1; resize 960 600; "
                                "wait-surface 960 600 30000; "
                                "wait-pixel 959 599 ffff60 10000; "
                                f"screenshot {shot}; quit")
        self.assertEqual(code, 0, out)
        self.vm.wait_serial(r"CRP-DRM-MODE 960x600", start=start)
        dump = self.vm.screendump(os.path.join(self.vm.dir, "resized.ppm"))
        self.assertEqual(dump[:2], (960, 600))
        self.assertEqual(diff_pixels(read_png(shot), dump), 0)

        # And back: each request is a new mode and a new SURFACE.
        code, out, _ = headless(self.vm, self.ticket(),
                                "wait-frames 1; resize 1280 800; "
                                "wait-surface 1280 800 30000; "
                                "wait-pixel 1279 799 ffff60 10000; quit")
        self.assertEqual(code, 0, out)

    def test_mode_changes_while_nobody_watches(self):
        """The outside review's heap overflow: a viewer saw 1280x800 and
        left; the guest went to a larger mode (painting all of it) and
        back with nobody watching; a viewer comes back. Damage of the
        larger surface was copied from and into the 1280x800 images,
        past their ends (QEMU crashed, or ASan stopped it)."""
        code, out, _ = headless(self.vm, self.ticket(),
                                "wait-surface 1280 800 30000; wait-frames 1; quit")
        self.assertEqual(code, 0, out)
        self.wait_no_clients()
        self.drm("mode 1920 1080", r"CRP-DRM-MODE 1920x1080")
        self.drm("mode 640 480", r"CRP-DRM-MODE 640x480")
        self.drm("mode 1280 800", r"CRP-DRM-MODE 1280x800")

        shot = os.path.join(self.vm.dir, "after-modes.png")
        code, out, _ = headless(self.vm, self.ticket(),
                                "wait-surface 1280 800 30000; "
                                "wait-pixel 1279 799 ffff60 10000; "
                                f"sleep 500; screenshot {shot}; quit")
        self.assertEqual(code, 0, out)
        self.assertTrue(self.vm.alive())
        dump = self.vm.screendump(os.path.join(self.vm.dir, "after-modes.ppm"))
        self.assertEqual(diff_pixels(read_png(shot), dump), 0)

    def wait_no_clients(self, timeout=30):
        deadline = time.monotonic() + timeout
        while self.vm.query()["clients"]:
            self.assertLess(time.monotonic(), deadline, "a client stayed connected")
            time.sleep(0.05)


class BochsDisplayGuest(GuestTestCase):
    """bochs-display builds its surface from guest memory in whatever
    format the guest set (16 bpp: r5g6b5), without asking the display."""

    @classmethod
    def setUpClass(cls):
        cls.start_vm("bochs", mode="shell", vga="bochs", display_opts="lossless=on")

    def check_mode(self, w, h, bpp, corner):
        """The review's finding: the capture read 4 bytes a pixel of a
        16-bit surface, past the end of guest video memory (QEMU crashed
        on the guard page behind it) and sent what it found there."""
        self.vm.run(f"crp-vbe {w} {h} {bpp} end", expect=rf"CRP-VBE-MODE {w}x{h}x{bpp} ")
        shot = os.path.join(self.vm.dir, f"vbe-{bpp}.png")
        code, out, _ = headless(self.vm, self.ticket(),
                                f"wait-surface {w} {h} 30000; "
                                f"wait-pixel {w - 1} {h - 1} {corner} 10000; "
                                f"sleep 300; screenshot {shot}; quit")
        self.assertEqual(code, 0, out)
        self.assertTrue(self.vm.alive())
        dump = self.vm.screendump(os.path.join(self.vm.dir, f"vbe-{bpp}.ppm"))
        self.assertEqual(dump[:2], (w, h))
        self.assertEqual(diff_pixels(read_png(shot), dump), 0)

    def test_16bpp_mode_at_the_end_of_video_memory(self):
        self.check_mode(640, 480, 16, "ffff84")

    def test_32bpp_mode_still_exact(self):
        self.check_mode(800, 600, 32, "ffff80")


def main():
    global HEADLESS, ENV
    HEADLESS = sys.argv.pop(1)
    ENV = load_env()
    if ENV is None:
        print("1..0 # SKIP QEMU or the test guest is not built "
              "(qemu-crp-display/build-qemu, tests/guest/build-guest)")
        sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
