#!/usr/bin/env python3
"""The clipboard shared through -display crp, with real peers: real QEMU
(TCG) and guest, the real headless client, and QEMU's own VNC server in
the same QEMU as the other clipboard peer (tests/bench/rfb_client.py with
the extended clipboard, as QEMU's ui/vnc-clipboard.c speaks it).

Usage: test-clipboard.py CRP_HEADLESS CRP_CLIPBOARD_ABUSER [unittest args]
Skips (exit 77) when QEMU or the guest has not been built.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from crpvm import CrpVM, write_png  # noqa: E402
from rfb_client import CLIP_TEXT, ENC_EXT_CLIPBOARD, ENC_RAW, RFBClient  # noqa: E402

# The headless helper and the one-VM-per-class base of test-display.py.
_spec = importlib.util.spec_from_file_location(
    "test_display", os.path.join(HERE, "test-display.py"))
display = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(display)

MAX_CLIPBOARD = 16 * 1024 * 1024        # docs/protocol.md 5.4
ABUSER = None


class ClipboardGuest(display.GuestTestCase):
    """A VM with -display crp (clipboard on, the default) and -vnc."""

    display_opts = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="crp-it-clipboard-")
        cls.vnc_sock = os.path.join(cls.tmp.name, "vnc.sock")
        cls.vm = CrpVM(cls.tmp.name, display.ENV, mode="shell",
                       display_opts=cls.display_opts,
                       extra_args=["-vnc", f"unix:{cls.vnc_sock}",
                                   "-trace", "crp_clipboard_*",
                                   "-trace", "crp_peer_clipboard",
                                   "-trace", "crp_peer_disconnect"])
        cls.tickets = 0

    def vnc(self, extended=True):
        """A VNC client; with @extended the extended clipboard (notify,
        request, provide), else plain ClientCutText/ServerCutText."""
        encodings = (ENC_RAW, ENC_EXT_CLIPBOARD) if extended else (ENC_RAW,)
        client = RFBClient(self.vnc_sock, encodings=encodings)
        client.start()
        self.addCleanup(client.close)
        return client

    def headless_bg(self, script, *extra, timeout=90):
        """crp-headless running @script in the background; join() the
        thread, then its result is in .result."""
        ticket = self.ticket()
        worker = threading.Thread(target=lambda: setattr(
            worker, "result", display.headless(self.vm, ticket, script, *extra,
                                               timeout=timeout)))
        worker.start()
        return worker

    def wait_peers(self, n):
        self.wait_clients(n)
        time.sleep(0.5)         # past the handshake: it got the current grab


class Clipboard(ClipboardGuest):

    def test_text_both_ways_between_crp_and_vnc(self):
        """Text the CRP client copies reaches the VNC client (QEMU asks the
        CRP client for it when the VNC client pastes), and the VNC client's
        answer reaches the CRP client; non-ASCII UTF-8 intact."""
        vnc = self.vnc()
        to_vnc = "crp to vnc: gr\u00fc\u00dfe \u2713 # and ; kept"
        to_crp = "vnc to crp: danke \u00e9"
        script = ("clipboard-set crp to vnc: gr\u00fc\u00dfe \u2713 # and \\; kept; "
                  f"expect-clipboard 60000 {to_crp}; quit")
        worker = self.headless_bg(script)
        got = vnc.wait_clipboard(to_vnc, 60)
        self.assertEqual(got, to_vnc, vnc.error)
        vnc.clipboard_set(to_crp)
        worker.join(120)
        code, out, _ = worker.result
        self.assertEqual(code, 0, out)

    def test_png_between_crp_clients_vnc_sees_no_text(self):
        """A PNG one CRP client copies reaches another byte for byte through
        QEMU's clipboard (stock QEMU 10 kept only text: the grab arrived
        empty). The VNC client, which knows only text, is told of a
        clipboard without text, gets none, and its text still crosses."""
        vnc = self.vnc()
        path = os.path.join(self.vm.dir, f"copied-{time.monotonic_ns()}.png")
        write_png(path, 31, 17, bytes(range(256)) * 6 + bytes(range(33)))
        notified, texts = len(vnc.clip_notifies), vnc.clip_texts
        holder = self.headless_bg(f"clipboard-set-png {path}; sleep 20000; quit")
        self.wait_peers(1)
        code, out, _ = display.headless(self.vm, self.ticket(),
                                        f"expect-clipboard-png 30000 {path}; quit")
        self.assertEqual(code, 0, out)
        flags = vnc.clipboard_wait_notify(notified + 1, timeout=30)
        self.assertGreater(len(flags), notified, "the VNC client was not told")
        self.assertFalse(flags[-1] & CLIP_TEXT, hex(flags[-1]))
        self.assertEqual(vnc.clip_texts, texts)
        worker = self.headless_bg("expect-clipboard 30000 after the image; quit")
        self.wait_peers(2)
        vnc.clipboard_set("after the image")
        worker.join(120)
        self.assertEqual(worker.result[0], 0, worker.result[1])
        holder.join(120)
        self.assertEqual(holder.result[0], 0, holder.result[1])
        self.assertIsNone(vnc.error)
        self.assertTrue(self.vm.alive())

    def test_plain_client_cut_text_reaches_crp(self):
        """A VNC client without the extended clipboard sends its text whole
        (ClientCutText): QEMU holds the data, the CRP client gets it at once."""
        worker = self.headless_bg("expect-clipboard 60000 plain latin-1 \u00e4; quit")
        self.wait_peers(1)
        plain = self.vnc(extended=False)
        plain.clipboard_set("plain latin-1 \u00e4")
        worker.join(120)
        code, out, _ = worker.result
        self.assertEqual(code, 0, out)

    def test_largest_crosses_and_one_byte_more_is_refused(self):
        """16 MiB, the cap, goes from the CRP client through QEMU to the VNC
        client whole; 16 MiB + 1 is refused TOO_LARGE: a second CRP client
        is told so, the VNC client gets nothing, everyone stays up."""
        vnc = self.vnc()
        holder = self.headless_bg(f"clipboard-fill {MAX_CLIPBOARD}; sleep 30000; quit")
        got = vnc.wait_clipboard("x" * MAX_CLIPBOARD, 60)
        self.assertEqual(len(got or ""), MAX_CLIPBOARD)
        holder.join(120)
        self.assertEqual(holder.result[0], 0, holder.result[1])

        since = len(self.vm.stderr_text())
        texts = vnc.clip_texts
        holder = self.headless_bg(f"clipboard-fill {MAX_CLIPBOARD + 1}; "
                                  "sleep 15000; clipboard-set small again; "
                                  "sleep 10000; quit")
        self.wait_peers(1)
        code, out, _ = display.headless(
            self.vm, self.ticket(), "expect-clipboard-refused 30000 too-large; quit")
        self.assertEqual(code, 0, out)
        # The refusal, as QEMU traced it: status 2 (TOO_LARGE) from the holder.
        self.assertRegex(self.vm.stderr_text()[since:],
                         r"crp_peer_clipboard .*msg=CLIPBOARD_DATA .*status=2 bytes=0")
        self.assertEqual(vnc.wait_clipboard("small again", 60), "small again")
        self.assertEqual(vnc.clip_texts, texts + 1, "the VNC client got the oversized text")
        holder.join(120)
        self.assertEqual(holder.result[0], 0, holder.result[1])
        self.assertIsNone(vnc.error)
        self.assertTrue(self.vm.alive())

    def test_muted_client_shares_nothing(self):
        """A client that mutes the clipboard (--disable clipboard) cannot
        copy, and what the VNC client copies does not reach it."""
        code, out, _ = display.headless(self.vm, self.ticket(),
                                        "clipboard-set secret; quit",
                                        "--disable", "clipboard")
        self.assertEqual(code, 5, out)
        self.assertIn("does not share its clipboard", out)
        worker = self.headless_bg("expect-clipboard 5000 from vnc; quit",
                                  "--disable", "clipboard")
        self.wait_peers(1)
        self.vnc(extended=False).clipboard_set("from vnc")
        worker.join(60)
        code, out, _ = worker.result
        self.assertEqual(code, 5, out)
        self.assertIn("has no text", out)


class Abuse(ClipboardGuest):
    """Clients that break the clipboard's rules (crp-clipboard-abuser) are
    dropped with a reason; QEMU, the others and the clipboard go on."""

    def abuse(self, mode):
        ticket = self.ticket()
        path = os.path.join(self.vm.dir, f"ticket-{time.monotonic_ns()}")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(ticket)
        r = subprocess.run([ABUSER, self.vm.crp_addr, path, mode],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.strip()

    def still_shares(self):
        vnc = self.vnc()
        code, out, _ = display.headless(self.vm, self.ticket(),
                                        "clipboard-set after the abuse; sleep 5000; quit")
        self.assertEqual(code, 0, out)
        self.assertEqual(vnc.wait_clipboard("after the abuse", 30), "after the abuse")
        self.assertTrue(self.vm.alive())

    def test_grab_without_the_capability(self):
        said = self.abuse("grab-without-cap")
        self.assertRegex(said, r"^bye 1 CLIPBOARD_GRAB without the CLIPBOARD capability")
        self.still_shares()

    def test_chunks_out_of_order(self):
        self.vnc()          # it asks for every grab: QEMU asks the abuser
        said = self.abuse("out-of-order")
        self.assertRegex(said, r"^bye 1 clipboard data starts at offset 5")
        self.still_shares()

    def test_requests_without_reading_the_answers(self):
        # 1 MiB of text in QEMU's clipboard (VNC's largest): 200 answers
        # would be 200 MiB queued for a client that does not read.
        self.vnc(extended=False).clipboard_set("y" * (1 << 20))
        time.sleep(1)
        since = len(self.vm.stderr_text())
        said = self.abuse("request-flood")
        self.assertIn(said.split()[0], ("bye", "cut"))
        disconnects = [line for line in self.vm.stderr_text()[since:].splitlines()
                       if "crp_peer_disconnect" in line]
        self.assertTrue(any('reason="client asks for the clipboard without reading"'
                            in line for line in disconnects), disconnects)
        self.assertLess(self.vm_rss_mib(), 400)
        self.still_shares()

    def vm_rss_mib(self):
        with open(f"/proc/{self.vm.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
        return 0


class ClipboardOff(ClipboardGuest):
    """-display crp,...,clipboard=off: no clipboard at all over CRP."""

    display_opts = "clipboard=off"

    def test_clipboard_off_is_off(self):
        vnc = self.vnc()
        code, out, _ = display.headless(self.vm, self.ticket(),
                                        "clipboard-set secret; quit", "--verbose")
        self.assertEqual(code, 5, out)
        self.assertIn("does not share its clipboard", out)
        # The capability was not offered (bit 8, 0x100).
        caps = int(out.split("session ready, capabilities ")[1].split()[0], 16)
        self.assertEqual(caps & 0x100, 0, out)

        worker = self.headless_bg("expect-clipboard 5000 from vnc; quit")
        self.wait_peers(1)
        vnc.clipboard_set("from vnc")
        worker.join(60)
        code, out, _ = worker.result
        self.assertEqual(code, 5, out)
        self.assertIn("has no text", out)
        self.assertNotIn("crp_clipboard_grab", self.vm.stderr_text())
        self.assertTrue(self.vm.alive())


if __name__ == "__main__":
    # test-display.py's main: its HEADLESS and ENV, the skip without a
    # built QEMU, and unittest over this module's tests (__main__).
    ABUSER = sys.argv.pop(2)
    display.main()
