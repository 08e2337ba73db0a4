#!/usr/bin/env python3
"""The guest side of the clipboard with real peers: QEMU's qemu-vdagent
chardev on a virtio-serial port, the test guest's crp-vdagent on the other
end, and QEMU's own VNC server as the host-side clipboard peer (a VNC
client with the extended clipboard pseudo-encoding, rfb_client.py); and
the whole way from the guest to crp-headless through -display crp's
clipboard peer, when crp-headless has the clipboard commands.

PNG images cross the whole way too: stock QEMU 10's clipboard knows only
text, qemu-crp-display's 0002-clipboard-png.patch adds image/png to it and
to qemu-vdagent, and lifts the vdagent's 1 MiB output limit that dropped
larger clipboards on their way to the guest.

A second virtio-serial port, served by a scripted host from this test,
covers hostile messages, which the guest agent must refuse and survive.

Usage: test-vdagent.py CRP_HEADLESS [unittest args]
Skips (exit 77) when QEMU or the guest has not been built, or QEMU was
built without the qemu-vdagent chardev (no spice-protocol).
"""

import base64
import hashlib
import importlib.util
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

from crpvm import CrpVM, load_env

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from rfb_client import CLIP_TEXT, RFBClient  # noqa: E402

ENV = None
HEADLESS = None
LIMIT = 16 * 1024 * 1024       # crp-vdagent's CRP_VDAGENT_MAX_DATA, CRP's cap
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The headless helper of test-display.py.
_spec = importlib.util.spec_from_file_location(
    "test_display", os.path.join(HERE, "test-display.py"))
display = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(display)

# spice/vd_agent.h
VD_AGENT_CLIPBOARD = 4
VD_AGENT_ANNOUNCE_CAPABILITIES = 6
VD_AGENT_CLIPBOARD_GRAB = 7
VD_AGENT_CLIPBOARD_REQUEST = 8
VD_AGENT_CLIPBOARD_RELEASE = 9
CAP_BY_DEMAND = 1 << 5
CAP_SELECTION = 1 << 6
TYPE_NONE, TYPE_TEXT, TYPE_PNG = 0, 1, 2
SEL = b"\0\0\0\0"              # selection CLIPBOARD + 3 reserved bytes
AGENT_SOCK = "/run/crp-vdagent.sock"
FAKE_SOCK = "/run/fake.sock"


def vdagent_args(clipboard="on"):
    return ["-chardev", f"qemu-vdagent,id=vdagent0,clipboard={clipboard}",
            "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=vdagent0,name=com.redhat.spice.0"]


def tiny_png(seed):
    """A 3x2 RGB PNG, different for each @seed."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body)))
    rows = b"".join(b"\0" + bytes((seed + x * 40 + y * 90) % 256
                                  for x in range(9)) for y in range(2))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def seq_png(count):
    """What the guest writes with `seq_png_sh(count)`: the PNG signature,
    then `seq 1 count`. Every layer checks an image by its signature only,
    and this way a large one need not cross the serial console."""
    return PNG_SIGNATURE + "".join(f"{i}\n" for i in range(1, count + 1)).encode()


def seq_png_sh(count, path):
    return f"{{ printf '\\211PNG\\r\\n\\032\\n'; seq 1 {count}; }} >{path}"


def octal(data):
    """@data as a printf format of octal escapes (any byte, any shell)."""
    return "".join(f"\\{b:03o}" for b in data)


class Guest:
    """The guest's shell on the serial console."""

    def __init__(self, vm):
        self.vm = vm

    def sh(self, command, timeout=60):
        return self.vm.sh(command, timeout)

    def status(self, sock=AGENT_SOCK):
        """The agent's `crp-vdagent status` fields, {} if it does not answer."""
        code, out = self.sh(f"crp-vdagent status -s {sock}")
        if code != 0:
            return {}
        return dict(f.split("=", 1) for f in out.split() if "=" in f)

    def wait_status(self, timeout=60, sock=AGENT_SOCK, **want):
        """Polls the status until it has @want (host_types= for
        host-types=...); returns it."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status(sock)
            if all(st.get(k.replace("_", "-")) == v for k, v in want.items()):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"agent status {st} never had {want}")
            time.sleep(0.5)


class ScriptedHost:
    """The host end of a virtio-serial port (a socket chardev), speaking
    the agent protocol as this test tells it to."""

    def __init__(self, path):
        # QEMU listens on it from its start, before the guest is up.
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, kind, body, protocol=1):
        msg = struct.pack("<IIQI", protocol, kind, 0, len(body)) + body
        self.send_raw(struct.pack("<II", 1, len(msg)) + msg)

    def _read(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the port's socket closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self, timeout=30):
        """The next message: (type, body), reassembled from its chunks."""
        deadline = time.monotonic() + timeout
        msg = b""
        size = None
        while size is None or len(msg) < size:
            port, n = struct.unpack("<II", self._read(8, deadline))
            assert port == 1 and 0 < n <= 2048, f"agent chunk port={port} size={n}"
            msg += self._read(n, deadline)
            if size is None and len(msg) >= 20:
                protocol, kind, _, body_len = struct.unpack("<IIQI", msg[:20])
                assert protocol == 1, protocol
                size = 20 + body_len
        assert len(msg) == size, "an agent chunk ran past its message"
        return kind, msg[20:]

    def expect(self, kind, timeout=30):
        got, body = self.recv(timeout)
        assert got == kind, f"expected message {kind}, got {got} {body[:40]!r}"
        return body

    def handshake(self):
        """The agent's capabilities (it asks for ours), then ours."""
        body = self.expect(VD_AGENT_ANNOUNCE_CAPABILITIES, timeout=60)
        request, caps = struct.unpack("<II", body[:8])
        self.send(VD_AGENT_ANNOUNCE_CAPABILITIES,
                  struct.pack("<II", 0, CAP_BY_DEMAND | CAP_SELECTION))
        return request, caps

    def close(self):
        self.sock.close()


class VdagentVM(unittest.TestCase):
    """One VM for the class, with QEMU's VNC server and a VNC client that
    takes part in the clipboard."""

    @classmethod
    def start_vm(cls, name, extra_args):
        """@extra_args(dir): QEMU arguments besides VNC's."""
        cls.tmp = tempfile.TemporaryDirectory(prefix=f"crp-it-{name}-")
        cls.vnc_sock = os.path.join(cls.tmp.name, "vnc.sock")
        cls.vm = CrpVM(cls.tmp.name, ENV, mode="shell",
                       extra_args=[*extra_args(cls.tmp.name),
                                   "-vnc", f"unix:{cls.vnc_sock}"])
        cls.guest = Guest(cls.vm)
        cls.vnc = RFBClient(cls.vnc_sock, encodings=RFBClient.ZRLE, clipboard=True)
        cls.vnc.start()

    @classmethod
    def tearDownClass(cls):
        cls.vnc.close()
        cls.vm.stop()
        cls.tmp.cleanup()


class Clipboard(VdagentVM):
    """The real vdagent chardev + VNC, and a scripted host port."""

    @classmethod
    def setUpClass(cls):
        def args(d):
            cls.host_sock = os.path.join(d, "host.sock")
            return [*vdagent_args(),
                    "-chardev", f"socket,id=host0,path={cls.host_sock},server=on,wait=off",
                    "-device", "virtserialport,chardev=host0,name=org.crp.test.host.0"]
        cls.start_vm("vdagent", args)

    def setUp(self):
        # /init started the daemon; it has talked to QEMU once it knows
        # QEMU's capabilities.
        self.agent = self.guest.wait_status(host_clipboard="1")

    def copy_in_guest(self, data, *opts):
        return self.guest.sh(f"printf '{octal(data)}' | crp-vdagent copy {' '.join(opts)} -f -")

    def test_guest_copy_reaches_vnc_client(self):
        text = f"copied in the guest: grüße ✓ {time.monotonic_ns()}".encode()
        notified = len(self.vnc.clip_notifies)
        received = len(self.vnc.clip_received)
        code, out = self.copy_in_guest(text)
        self.assertEqual(code, 0, out)
        flags = self.vnc.clipboard_wait_notify(notified + 1)
        self.assertEqual(len(flags), notified + 1, "the VNC client was not told")
        self.assertTrue(flags[-1] & CLIP_TEXT)
        self.vnc.clipboard_request()
        got = self.vnc.clipboard_wait(received + 1, timeout=30)
        self.assertEqual(len(got), received + 1, "no text came for the request")
        self.assertEqual(got[-1], text)
        self.assertIsNone(self.vnc.error)

    def test_vnc_client_text_pasted_in_guest(self):
        text = f"set by the viewer: Ärger € {time.monotonic_ns()}".encode()
        # NUL-terminated, as viewers send it; the agent drops the NUL.
        self.vnc.clipboard_set(text + b"\0")
        self.guest.wait_status(host_types="text,")
        code, out = self.guest.sh("crp-vdagent paste | sha256sum")
        self.assertEqual(code, 0, out)
        self.assertEqual(out.split()[0], hashlib.sha256(text).hexdigest(),
                         self.guest.sh("crp-vdagent paste | od -c | head")[1])
        code, out = self.guest.sh("crp-vdagent paste; echo")
        self.assertEqual(code, 0, out)
        self.assertEqual(out, text.decode())
        # The host's clipboard holds no image: a clear error, not a hang.
        code, out = self.guest.sh("crp-vdagent paste -t png -o /tmp/none.png")
        self.assertEqual(code, 1)
        self.assertIn("holds no png", out)

    def test_oversized_copy_refused(self):
        notified = len(self.vnc.clip_notifies)
        code, out = self.guest.sh(f"head -c {LIMIT + 1} /dev/zero | tr '\\0' x >/tmp/big; "
                                  "crp-vdagent copy -f /tmp/big")
        self.assertEqual(code, 1, out)
        self.assertIn(f"over the clipboard limit of {LIMIT} bytes", out)
        code, out = self.copy_in_guest(b"\xff\xfe not UTF-8")
        self.assertEqual(code, 1, out)
        self.assertIn("not valid UTF-8", out)
        code, out = self.copy_in_guest(b"plain text", "-t png")
        self.assertEqual(code, 1, out)
        self.assertIn("not a PNG image", out)
        time.sleep(1)
        self.assertEqual(len(self.vnc.clip_notifies), notified,
                         "a refused copy still reached the host")
        # Exactly at the limit is fine, and arrives whole.
        received = len(self.vnc.clip_received)
        code, out = self.guest.sh(f"head -c {LIMIT} /tmp/big >/tmp/limit; "
                                  "crp-vdagent copy -f /tmp/limit")
        self.assertEqual(code, 0, out)
        self.vnc.clipboard_wait_notify(notified + 1)
        self.vnc.clipboard_request()
        got = self.vnc.clipboard_wait(received + 1, timeout=60)
        self.assertEqual(len(got), received + 1)
        self.assertEqual(got[-1], b"x" * LIMIT)

    def test_scripted_host_png_and_hostile_messages(self):
        host = ScriptedHost(self.host_sock)
        self.addCleanup(host.close)
        fake = f"-s {FAKE_SOCK}"
        code, out = self.guest.sh(f"(crp-vdagent daemon -p org.crp.test.host.0 {fake} "
                                  "-D /run/fake -l /run/fake.log </dev/null &)")
        self.assertEqual(code, 0, out)
        request, caps = host.handshake()
        self.assertEqual(request, 1)
        self.assertEqual(caps & (CAP_BY_DEMAND | CAP_SELECTION), CAP_BY_DEMAND | CAP_SELECTION)
        st = self.guest.wait_status(sock=FAKE_SOCK, host_clipboard="1")
        pid = st["pid"]
        self.addCleanup(self.guest.sh, f"kill {pid}")

        # An image from the guest: GRAB with PNG, the bytes on REQUEST.
        png = tiny_png(1)
        code, out = self.guest.sh(f"echo {base64.b64encode(png).decode()} | base64 -d >/tmp/a.png; "
                                  f"crp-vdagent copy {fake} -t png -f /tmp/a.png")
        self.assertEqual(code, 0, out)
        self.assertEqual(host.expect(VD_AGENT_CLIPBOARD_GRAB), SEL + struct.pack("<I", TYPE_PNG))
        host.send(VD_AGENT_CLIPBOARD_REQUEST, SEL + struct.pack("<I", TYPE_PNG))
        self.assertEqual(host.expect(VD_AGENT_CLIPBOARD), SEL + struct.pack("<I", TYPE_PNG) + png)
        # A type the guest does not hold: an empty answer, not silence.
        host.send(VD_AGENT_CLIPBOARD_REQUEST, SEL + struct.pack("<I", TYPE_TEXT))
        self.assertEqual(host.expect(VD_AGENT_CLIPBOARD), SEL + struct.pack("<I", TYPE_NONE))

        # An image from the host, pasted in the guest byte for byte.
        png2 = tiny_png(77)
        host.send(VD_AGENT_CLIPBOARD_GRAB, SEL + struct.pack("<II", TYPE_TEXT, TYPE_PNG))
        self.guest.wait_status(sock=FAKE_SOCK, host_types="text,png,")
        start = len(self.vm.serial_text())
        self.vm.run(f"crp-vdagent paste {fake} -t png -o /tmp/b.png; sha256sum /tmp/b.png; "
                    "echo PASTED-$?")
        self.assertEqual(host.expect(VD_AGENT_CLIPBOARD_REQUEST), SEL + struct.pack("<I", TYPE_PNG))
        host.send(VD_AGENT_CLIPBOARD, SEL + struct.pack("<I", TYPE_PNG) + png2)
        m = self.vm.wait_serial(r"([0-9a-f]{64})  /tmp/b.png\s+PASTED-(\d+)", timeout=30, start=start)
        self.assertEqual(m.group(1), hashlib.sha256(png2).hexdigest())

        # Hostile messages that keep the framing: refused, counted, ignored.
        refused = int(self.guest.status(FAKE_SOCK)["refused"])
        host.send(VD_AGENT_CLIPBOARD_GRAB, SEL + struct.pack("<100I", *([TYPE_TEXT] * 100)))
        host.send(VD_AGENT_CLIPBOARD, SEL + struct.pack("<I", TYPE_TEXT) + b"unasked")
        host.send(VD_AGENT_CLIPBOARD_REQUEST, SEL + b"\1\0")
        host.send(VD_AGENT_CLIPBOARD_GRAB, SEL + struct.pack("<I", TYPE_TEXT), protocol=7)
        host.send(VD_AGENT_ANNOUNCE_CAPABILITIES, b"\1\0")
        refused += 5
        st = self.guest.wait_status(sock=FAKE_SOCK, refused=str(refused))
        # The earlier grab still stands: the host's clipboard has text.
        self.assertEqual(st["host-types"], "text,png,")
        # Data that is not what it claims: a paste fails with the reason.
        start = len(self.vm.serial_text())
        self.vm.run(f"crp-vdagent paste {fake}; echo PASTED-$?")
        self.assertEqual(host.expect(VD_AGENT_CLIPBOARD_REQUEST), SEL + struct.pack("<I", TYPE_TEXT))
        host.send(VD_AGENT_CLIPBOARD, SEL + struct.pack("<I", TYPE_TEXT) + b"bad \xc0\xaf utf-8")
        m = self.vm.wait_serial(r"crp-vdagent: (.*?)\r?\nPASTED-(\d+)", timeout=30, start=start)
        self.assertEqual((m.group(1), m.group(2)), ("text is not valid UTF-8", "1"))
        refused += 1

        # Hostile messages that break the framing: refused, and the agent
        # reopens its port, announcing itself again, to resynchronise.
        huge_chunk = struct.pack("<II", 1, 0xffffffff)
        huge_message = (struct.pack("<II", 1, 20) +
                        struct.pack("<IIQI", 1, VD_AGENT_CLIPBOARD, 0, 0x7fffffff))
        past_the_end = (struct.pack("<II", 1, 28) +
                        struct.pack("<IIQI", 1, VD_AGENT_CLIPBOARD_RELEASE, 0, 0) +
                        b"trailing")
        for bad in (huge_chunk, huge_message, past_the_end):
            host.send_raw(bad)
            request, _ = host.handshake()
            self.assertEqual(request, 1)
            refused += 1
        st = self.guest.wait_status(sock=FAKE_SOCK, refused=str(refused),
                                    host_clipboard="1")
        self.assertEqual(st["pid"], pid, "the agent restarted: it crashed")

        # And it still works.
        host.send(VD_AGENT_CLIPBOARD_GRAB, SEL + struct.pack("<I", TYPE_TEXT))
        self.guest.wait_status(sock=FAKE_SOCK, host_types="text,")
        start = len(self.vm.serial_text())
        self.vm.run(f"crp-vdagent paste {fake}; echo; echo PASTED-$?")
        self.assertEqual(host.expect(VD_AGENT_CLIPBOARD_REQUEST), SEL + struct.pack("<I", TYPE_TEXT))
        host.send(VD_AGENT_CLIPBOARD, SEL + struct.pack("<I", TYPE_TEXT) + b"after the storm")
        m = self.vm.wait_serial(r"after the storm\r?\nPASTED-0", timeout=30, start=start)
        self.assertTrue(m)
        # The real agent beside it never noticed.
        self.assertEqual(self.guest.status()["pid"], self.agent["pid"])


class ClipboardOff(VdagentVM):
    """clipboard=off: the agent has its port, but QEMU offers no clipboard,
    so nothing crosses in either direction."""

    @classmethod
    def setUpClass(cls):
        cls.start_vm("vdagent-off", lambda d: vdagent_args("off"))

    def test_nothing_crosses(self):
        st = self.guest.wait_status(connected="1")
        self.assertEqual(st["host-clipboard"], "0")
        code, out = self.guest.sh("crp-vdagent copy secret from the guest")
        self.assertEqual(code, 1)
        self.assertIn("offers no clipboard", out)
        self.vnc.clipboard_set(b"secret from the viewer\0")
        time.sleep(2)
        self.assertEqual(self.vnc.clip_notifies, [])
        code, out = self.guest.sh("crp-vdagent paste")
        self.assertEqual(code, 1)
        self.assertIn("offers no clipboard", out)


class CrpClient(VdagentVM):
    """The whole way: the guest's agent, QEMU's vdagent, QEMU's clipboard,
    -display crp's clipboard peer, crp-headless."""

    @classmethod
    def setUpClass(cls):
        helptext = subprocess.run([HEADLESS, "--help"], capture_output=True,
                                  text=True).stdout
        if "clipboard-set" not in helptext:
            raise unittest.SkipTest("this crp-headless has no clipboard commands")
        cls.start_vm("vdagent-crp", lambda d: [*vdagent_args(),
                                               "-trace", "crp_peer_clipboard"])
        cls.guest.wait_status(host_clipboard="1")
        cls.tickets = 0

    def headless(self, script, timeout=90):
        type(self).tickets += 1
        ticket = f"ticket-{type(self).tickets}-{time.monotonic_ns()}"
        self.vm.set_ticket(ticket)
        return display.headless(self.vm, ticket, script, timeout=timeout)

    def test_guest_copy_reaches_crp_client(self):
        text = f"from the guest to crp: grüße ✓ {time.monotonic_ns()}"
        code, out = self.guest.sh(f"printf '{octal(text.encode())}' | crp-vdagent copy -f -")
        self.assertEqual(code, 0, out)
        code, out, _ = self.headless(f"expect-clipboard 60000 {text}; quit")
        self.assertEqual(code, 0, out)

    def headless_holding(self, script, check, hold_ms=60000):
        """Runs @script (it sets crp-headless's clipboard), then holds it
        for @hold_ms while @check() looks at the guest; returns headless's
        (code, out)."""
        result = {}
        worker = threading.Thread(target=lambda: result.update(
            r=self.headless(f"{script}; sleep {hold_ms}; quit",
                            timeout=hold_ms // 1000 + 60)))
        worker.start()
        try:
            check()
        finally:
            worker.join(hold_ms // 1000 + 90)
        code, out, _ = result["r"]
        return code, out

    def test_crp_client_text_pasted_in_guest(self):
        text = f"from crp to the guest: danke é {time.monotonic_ns()}"

        def check():
            self.guest.wait_status(host_types="text,")
            code, out = self.guest.sh("crp-vdagent paste | sha256sum")
            self.assertEqual(code, 0, out)
            self.assertEqual(out.split()[0], hashlib.sha256(text.encode()).hexdigest(),
                             self.guest.sh("crp-vdagent paste | od -c | head")[1])
        code, out = self.headless_holding(f"clipboard-set {text}", check, 15000)
        self.assertEqual(code, 0, out)

    def test_guest_png_reaches_crp_client(self):
        """A real (tiny) PNG, then a 2.9 MB one, copied in the guest, arrive
        at crp-headless byte for byte. Stock QEMU 10 turned a PNG-only grab
        into an empty one: the client was told the clipboard was empty."""
        small = tiny_png(5)
        big = seq_png(400000)
        for name, png, put in (
                ("small", small, f"echo {base64.b64encode(small).decode()} "
                                 "| base64 -d >/tmp/copy.png"),
                ("big", big, seq_png_sh(400000, "/tmp/copy.png"))):
            with self.subTest(name):
                path = os.path.join(self.vm.dir, f"expect-{name}.png")
                with open(path, "wb") as f:
                    f.write(png)
                code, out = self.guest.sh(f"{put}; crp-vdagent copy -t png -f /tmp/copy.png")
                self.assertEqual(code, 0, out)
                t0 = time.monotonic()
                code, out, _ = self.headless(f"expect-clipboard-png 60000 {path}; quit")
                self.assertEqual(code, 0, out)
                print(f"\n  {len(png)} byte PNG guest -> crp-headless: "
                      f"{time.monotonic() - t0:.1f} s (with the connection)",
                      file=sys.stderr)

    def paste_png_in_guest(self, expect_sha):
        """Waits for the host's PNG grab; pastes it; returns the time."""
        self.guest.wait_status(host_types="png,")
        t0 = time.monotonic()
        code, out = self.guest.sh("crp-vdagent paste -t png -o /tmp/paste.png; echo rc=$?; "
                                  "sha256sum </tmp/paste.png | cut -d\\  -f1", timeout=180)
        took = time.monotonic() - t0
        self.assertEqual(code, 0, out)
        self.assertEqual(out.split()[-2:], ["rc=0", expect_sha], out)
        return took

    def test_crp_client_png_pasted_in_guest(self):
        """A real PNG, then one of exactly 16 MiB (CRP's cap), set by
        crp-headless, pasted in the guest byte for byte."""
        small = tiny_png(9)
        big = PNG_SIGNATURE + bytes(range(256)) * ((LIMIT - len(PNG_SIGNATURE)) // 256)
        big += b"\0" * (LIMIT - len(big))
        for name, png, hold_ms in (("small", small, 15000), ("16 MiB", big, 30000)):
            with self.subTest(name):
                path = os.path.join(self.vm.dir, f"set-{len(png)}.png")
                with open(path, "wb") as f:
                    f.write(png)
                took = []
                code, out = self.headless_holding(
                    f"clipboard-set-png {path}",
                    lambda: took.append(self.paste_png_in_guest(
                        hashlib.sha256(png).hexdigest())), hold_ms)
                self.assertEqual(code, 0, out)
                print(f"\n  {len(png)} byte PNG crp-headless -> guest paste: {took[0]:.1f} s",
                      file=sys.stderr)

    def test_oversized_png_refused(self):
        """16 MiB + 1: crp-headless refuses it TOO_LARGE when QEMU asks, the
        guest's paste fails with a reason, and everything goes on; in the
        guest, crp-vdagent refuses to copy it."""
        path = os.path.join(self.vm.dir, "oversized.png")
        with open(path, "wb") as f:
            f.write(PNG_SIGNATURE + b"\0" * (LIMIT + 1 - len(PNG_SIGNATURE)))
        since = len(self.vm.stderr_text())

        def check():
            self.guest.wait_status(host_types="png,")
            code, out = self.guest.sh("crp-vdagent paste -t png -o /tmp/over.png", timeout=60)
            self.assertEqual(code, 1, out)
            self.assertIn("the host did not answer in time", out)
        code, out = self.headless_holding(f"clipboard-set-png {path}", check, 20000)
        self.assertEqual(code, 0, out)
        self.assertRegex(self.vm.stderr_text()[since:],
                         r"crp_peer_clipboard .*msg=CLIPBOARD_DATA .*formats=0x2 status=2 bytes=0")
        code, out = self.guest.sh(f"head -c {LIMIT + 1} /dev/zero >/tmp/over.png; "
                                  "printf '\\211PNG\\r\\n\\032\\n' | "
                                  "dd of=/tmp/over.png conv=notrunc 2>/dev/null; "
                                  "crp-vdagent copy -t png -f /tmp/over.png")
        self.assertEqual(code, 1, out)
        self.assertIn(f"over the clipboard limit of {LIMIT} bytes", out)
        # Still working: a small image goes through.
        png = tiny_png(11)
        path = os.path.join(self.vm.dir, "after.png")
        with open(path, "wb") as f:
            f.write(png)
        code, out = self.headless_holding(
            f"clipboard-set-png {path}",
            lambda: self.paste_png_in_guest(hashlib.sha256(png).hexdigest()), 15000)
        self.assertEqual(code, 0, out)
        self.assertTrue(self.vm.alive())

    def test_crp_client_large_text_pasted_in_guest(self):
        """4 MiB of text: stock QEMU's vdagent dropped any message to the
        guest over 1 MiB ("buffer full"), the paste then timed out."""
        size = 4 * 1024 * 1024

        def check():
            self.guest.wait_status(host_types="text,")
            t0 = time.monotonic()
            code, out = self.guest.sh("crp-vdagent paste >/tmp/large.txt; echo rc=$?; "
                                      "wc -c </tmp/large.txt; sha256sum </tmp/large.txt | cut -d\\  -f1",
                                      timeout=180)
            took = time.monotonic() - t0
            self.assertEqual(code, 0, out)
            self.assertIn("rc=0", out, out)
            self.assertEqual(out.split()[-2:],
                             [str(size), hashlib.sha256(b"x" * size).hexdigest()], out)
            print(f"\n  4 MiB text crp-headless -> guest paste: {took:.1f} s",
                  file=sys.stderr)
        code, out = self.headless_holding(f"clipboard-fill {size}", check, 30000)
        self.assertEqual(code, 0, out)


def main():
    global ENV, HEADLESS
    HEADLESS = sys.argv.pop(1)
    display.HEADLESS = HEADLESS
    ENV = load_env()
    display.ENV = ENV
    if ENV is None:
        print("SKIP: QEMU or the test guest is not built (tools/crp-test builds them)")
        sys.exit(77)
    helptext = subprocess.run([ENV["QEMU"], "-chardev", "help"], capture_output=True,
                              text=True).stdout
    if "qemu-vdagent" not in helptext:
        print("SKIP: this QEMU has no qemu-vdagent chardev (rebuild it: "
              "qemu-crp-display/build-qemu configures it with spice-protocol)")
        sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
