#!/usr/bin/env python3
"""crp-client, the GTK app, under Xvfb against the real QEMU and test guest.

The window's picture is compared with QMP screendump, keys and clicks go
in through the X server (xdotool: XTEST, so GTK's own event path runs),
and the header bar's "Close app" is clicked like a user would.

Usage: test-client.py CRP_CLIENT [unittest args]
Skips (exit 77) when QEMU or the test guest is not built, or when Xvfb,
xwd, convert or xdotool is missing.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
from crpvm import CrpVM, load_env  # noqa: E402
from screen import Xvfb, count_differences, cursor_image, find_image, \
    stop_process  # noqa: E402

CLIENT = None
ENV = None
TOOLS = ("Xvfb", "xwd", "convert", "xdotool")


class Client:
    """One crp-client process on the test's X server."""

    def __init__(self, x, workdir, args, **env):
        self.x = x
        self.log_path = os.path.join(workdir, f"client-{time.monotonic_ns()}.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([CLIENT, *args], env=x.env(**env),
                                         stdout=log, stderr=subprocess.STDOUT)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait(self, timeout=20):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        stop_process(self.proc)


def xdotool(x, *args):
    return subprocess.run(["xdotool", *args], env=x.env(), check=True,
                          timeout=30, capture_output=True, text=True).stdout


class VMTest(unittest.TestCase):
    """One VM and one X server for the class; a client per test."""

    MODE = "shell"
    VGA = "std"
    n = 0
    DISPLAY_OPTS = ""
    APPEND = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="crp-client-")
        cls.vm = CrpVM(os.path.join(cls.tmp.name, "vm"), ENV, mode=cls.MODE,
                       display_opts=cls.DISPLAY_OPTS, append=cls.APPEND,
                       vga=cls.VGA)
        cls.x = Xvfb(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.x.stop()
        cls.vm.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.client = None

    def tearDown(self):
        if self.client:
            self.client.stop()

    def ticket_file(self, mode=0o600):
        VMTest.n += 1
        ticket = f"gtk-ticket-{VMTest.n}-{time.monotonic_ns()}"
        self.vm.set_ticket(ticket)
        path = os.path.join(self.tmp.name, f"ticket-{VMTest.n}")
        with open(path, "w") as f:
            f.write(ticket + "\n")
        os.chmod(path, mode)
        return path

    def start(self, *extra, ticket_file=None, **env):
        self.client = Client(self.x, self.tmp.name,
                             ["--connect", f"unix:{self.vm.crp_sock}",
                              "--ticket-file", ticket_file or self.ticket_file(),
                              *extra], **env)
        return self.client

    def wait_for_guest(self, timeout=30, rows=None):
        """Waits until the guest's screen (its top @rows rows, if given:
        the part that does not move) shows in the X screen, exactly;
        returns where, the screenshot and the screendump."""
        deadline = time.monotonic() + timeout
        while True:
            dump = self.vm.screendump(os.path.join(self.tmp.name, "dump.ppm"))
            if rows:
                dump = (dump[0], rows, dump[2][:dump[0] * 3 * rows])
            screen = self.x.screenshot()
            where = find_image(screen, dump)
            if where or time.monotonic() > deadline:
                return where, screen, dump
            self.assertIsNone(self.client.proc.poll(), self.client.log())
            time.sleep(0.5)


class DirectMode(VMTest):
    """crp-client --connect against one VM: the guest's shell, lossless."""

    DISPLAY_OPTS = "lossless=on"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A still screen: no blinking cursor between screenshot and screendump.
        cls.vm.run("echo 0 > /sys/class/graphics/fbcon/cursor_blink; echo blink-off",
                   expect="blink-off")

    def test_window_shows_the_guest_pixel_for_pixel(self):
        self.start("--one-to-one")
        where, screen, dump = self.wait_for_guest()
        self.assertIsNotNone(where, "the guest's screen is not in the window "
                                    f"exactly; log: {self.client.log()}")
        self.assertEqual(count_differences(screen, dump, *where), 0)
        # Below the header bar, not off the screen's corner: a window.
        self.assertGreater(where[1], 10)

    def test_no_local_cursor_when_the_guest_has_none(self):
        # std VGA has no hardware cursor: the guest's console draws its own
        # (or none), so a local one would be a second, wrong pointer.
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        xdotool(self.x, "mousemove", str(where[0] + 300), str(where[1] + 300))
        deadline = time.monotonic() + 10
        while True:
            width, height, _, pixels = cursor_image(self.x.display)
            if not any(p >> 24 for p in pixels) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertFalse(any(p >> 24 for p in pixels),
                         f"a visible {width}x{height} cursor over the guest")

    def test_typed_keys_reach_the_guest(self):
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        # The pointer over the picture gives the window the X focus (no
        # window manager here); a click gives the display GTK's focus.
        xdotool(self.x, "mousemove", str(where[0] + 600), str(where[1] + 400),
                "click", "1")
        xdotool(self.x, "type", "--delay", "30", "echo crp-gtk-$((6*7)) > /tmp/typed")
        xdotool(self.x, "key", "Return")
        self.vm.run("cat /tmp/typed", expect=r"crp-gtk-42", timeout=20)

    def test_close_app_is_reported_and_the_client_exits(self):
        self.vm.qmp.events.clear()
        client = self.start("--one-to-one")
        where, screen, _ = self.wait_for_guest()
        self.assertIsNotNone(where, client.log())
        self.vm.qmp.wait_event("CRP_CONNECTED", timeout=10)
        x, y = find_close_app_button(screen, where[1])
        xdotool(self.x, "mousemove", str(x), str(y), "click", "1")
        self.vm.qmp.wait_event("CRP_CLOSE_REQUESTED", timeout=10)
        self.vm.qmp.wait_event("CRP_DISCONNECTED", timeout=10)
        self.assertEqual(client.wait(), 0, client.log())

    def test_a_refused_ticket_is_explained(self):
        path = self.ticket_file()
        self.vm.set_ticket("not-the-one-in-the-file")
        client = self.start(ticket_file=path)
        deadline = time.monotonic() + 20
        while "refused" not in client.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertIn("The server refused the ticket", client.log())
        self.assertNotIn("not-the-one", client.log())       # no secrets logged
        self.assertTrue(self.vm.alive())

    def test_a_readable_ticket_file_is_refused(self):
        client = self.start(ticket_file=self.ticket_file(mode=0o644))
        deadline = time.monotonic() + 20
        while "chmod 600" not in client.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertIn("chmod 600", client.log())


class DemoGuest(VMTest):
    """The guest's demo program: pointer, keys and sound both ways."""

    MODE = "demo"
    DISPLAY_OPTS = "lossless=on"
    TITLE_ROWS = 60     # "CRP DEMO GUEST ... PRESS A KEY OR CLICK": still

    def test_clicks_land_where_aimed_when_scaled(self):
        self.start()
        where, _, dump = self.wait_for_guest(rows=self.TITLE_ROWS)
        self.assertIsNotNone(where, self.client.log())
        fb_w, fb_h = dump[0], 800
        # At its natural size the window shows the guest 1:1 even when
        # scaling; now make it smaller, so the picture is scaled down.
        win = xdotool(self.x, "search", "--sync", "--onlyvisible", "--name",
                      "CRP$").split()[0]
        geometry = dict(line.split("=") for line in
                        xdotool(self.x, "getwindowgeometry", "--shell", win).split())
        new_w, new_h = 900, 700
        xdotool(self.x, "windowsize", "--sync", win, str(new_w), str(new_h))
        view_w = fb_w + new_w - int(geometry["WIDTH"])
        view_h = fb_h + new_h - int(geometry["HEIGHT"])
        scale = min(view_w / fb_w, view_h / fb_h)
        self.assertLess(scale, 0.9)
        left = where[0] + (view_w - fb_w * scale) // 2
        top = where[1] + (view_h - fb_h * scale) // 2
        time.sleep(1.0)
        start = len(self.vm.serial_text())
        for gx, gy in ((320, 600), (1000, 150)):
            x, y = int(left + (gx + 0.5) * scale), int(top + (gy + 0.5) * scale)
            xdotool(self.x, "mousemove", str(x), str(y), "click", "1")
            m = self.vm.wait_serial(rf"CRP-CLICK button=left x=(\d+) y=(\d+)",
                                    start=start, timeout=15)
            start = m.end()
            # One screen pixel covers 1/scale guest pixels.
            self.assertLessEqual(abs(int(m.group(1)) - gx), 2, m.group(0))
            self.assertLessEqual(abs(int(m.group(2)) - gy), 2, m.group(0))

    def test_keys_are_released_when_the_window_loses_focus(self):
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest(rows=self.TITLE_ROWS)
        self.assertIsNotNone(where, self.client.log())
        # Another application to switch to.
        other = subprocess.Popen(["xlogo", "-geometry", "100x100+1450+1050"],
                                 env=self.x.env())
        try:
            other_win = xdotool(self.x, "search", "--sync", "--onlyvisible",
                                "--class", "xlogo").split()[0]
            start = len(self.vm.serial_text())
            xdotool(self.x, "mousemove", str(where[0] + 600), str(where[1] + 500))
            xdotool(self.x, "keydown", "a")
            self.vm.wait_serial(r"CRP-KEY code=30 value=1", start=start, timeout=15)
            # Focus elsewhere while the key is still held down.
            xdotool(self.x, "windowfocus", "--sync", other_win)
            self.vm.wait_serial(r"CRP-KEY code=30 value=0", start=start, timeout=15)
        finally:
            xdotool(self.x, "keyup", "a")
            stop_process(other)

    def test_sound_plays_and_the_microphone_reaches_the_guest(self):
        raw = os.path.join(self.tmp.name, "playback.raw")
        start = len(self.vm.serial_text())
        client = self.start(
            CRP_CLIENT_AUDIO_SINK=f"filesink location={raw}",
            CRP_CLIENT_MIC_SOURCE="audiotestsrc freq=1000 volume=0.3 is-live=true")
        m = self.vm.wait_serial(r"CRP-MIC freq=(9[89]\d|10[01]\d) ", start=start,
                                timeout=30)
        self.assertLessEqual(abs(int(m.group(1)) - 1000), 10, client.log())
        time.sleep(1.0)
        client.stop()
        with open(raw, "rb") as f:
            pcm = f.read()
        # The guest plays 440 Hz: S16LE stereo at 48 kHz, count the
        # left channel's sign changes over at least a second.
        left = [int.from_bytes(pcm[i:i + 2], "little", signed=True)
                for i in range(0, len(pcm) - 3, 4)]
        self.assertGreater(len(left), 48000, client.log())
        left = left[-48000 * 2:]
        crossings = sum(1 for a, b in zip(left, left[1:]) if (a < 0) != (b < 0))
        self.assertAlmostEqual(crossings / 2 / (len(left) / 48000), 440, delta=15)


def drm_cursor_argb(x, y):
    """crp-drm's cursor pixel (tests/guest/src/crp-drm.c) as X shows it:
    ARGB, premultiplied (its alpha is 0 or 255, so the same)."""
    if x < 32 and y < 32 and x <= y:
        return 0xff000000 | (x * 8) << 16 | (y * 8) << 8 | 0x40
    return 0


class VirtioGpuGuest(VMTest):
    """virtio-vga with crp-drm in the guest: a hardware cursor."""

    VGA = "virtio"
    DISPLAY_OPTS = "lossless=on"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.vm.run("crp-drm &", expect=r"CRP-DRM-READY mode=1280x800 .*hot=3,5",
                   timeout=30)

    def test_the_guest_cursor_is_the_local_cursor(self):
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        xdotool(self.x, "mousemove", str(where[0] + 400), str(where[1] + 300))
        deadline = time.monotonic() + 15
        while True:
            width, height, hot, pixels = cursor_image(self.x.display)
            if (width, height) == (64, 64) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual((width, height, hot), (64, 64, (3, 5)), self.client.log())
        wrong = [(x, y) for y in range(64) for x in range(64)
                 if pixels[y * 64 + x] != drm_cursor_argb(x, y)]
        self.assertEqual(wrong, [], "the cursor differs from the guest's")


def find_close_app_button(screen, header_bottom):
    """The centre of the red "Close app" button in the header bar above
    @header_bottom (the only saturated red there)."""
    w, _, p = screen
    xs, ys = [], []
    for y in range(max(0, header_bottom - 60), header_bottom):
        for x in range(0, min(w, 400)):
            r, g, b = p[(y * w + x) * 3:(y * w + x) * 3 + 3]
            if r > 180 and g < 80 and b < 80:
                xs.append(x)
                ys.append(y)
    if not xs:
        raise AssertionError("no Close app button in the header bar")
    return (min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2


def main():
    global CLIENT, ENV
    CLIENT = sys.argv.pop(1)
    ENV = load_env()
    if ENV is None:
        print("1..0 # SKIP QEMU or the test guest is not built "
              "(qemu-crp-display/build-qemu, tests/guest/build-guest)")
        sys.exit(77)
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        print(f"1..0 # SKIP missing {', '.join(missing)} (tools/crp-deps)")
        sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
