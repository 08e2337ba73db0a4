#!/usr/bin/env python3
"""crp-client, the GTK app, under Xvfb against the real QEMU and test guest.

The window's picture is compared with QMP screendump, keys and clicks go
in through the X server (xdotool: XTEST, so GTK's own event path runs),
and the header bar's "Close app" is clicked like a user would.

Usage: test-client.py CRP_CLIENT CRP_BROKER CRP_ADMIN CRP_BROKER_TEST_CLIENT
                      FAKE_SERVER [unittest args]
Skips (exit 77) when Xvfb, xwd, convert, xdotool or xclip is missing; without
QEMU and the test guest, only the tests against the scripted fake server
(tests/clients/headless/fake-server.c) run; without evilwm, the one that needs a
window manager (fullscreen) skips.
"""

import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "qemu-crp-display",
                                "integration"))
sys.path.insert(0, HERE)
from brokerenv import BrokerEnv  # noqa: E402
from crpvm import CrpVM, decode_png, diff_pixels, load_env, read_png, read_ppm, \
    write_png  # noqa: E402
from screen import Xvfb, close_window, count_differences, cursor_image, \
    find_image, mean_difference, screendump, stop_process  # noqa: E402

CLIENT = None
BROKER_TOOLS = None     # crp-broker, crp-admin, crp-broker-test-client
FAKE_SERVER = None
ENV = None
TOOLS = ("Xvfb", "xwd", "convert", "xdotool", "xclip")
# The demo guest's report of a 1000 Hz microphone tone, within 10 Hz.
MIC_TONE = r"CRP-MIC freq=(99\d|100\d|1010) "


class Client:
    """One crp-client process on the test's X server."""

    def __init__(self, x, workdir, args, **env):
        self.x = x
        self.log_path = os.path.join(workdir, f"client-{time.monotonic_ns()}.log")
        # Its own settings: what one test's window remembers (size,
        # scaling, mute) is not the next one's.
        env.setdefault("XDG_CONFIG_HOME", os.path.join(
            workdir, f"config-{time.monotonic_ns()}"))
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


def visible_windows(x, name):
    """The X windows whose title matches the regex @name, shown now."""
    r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name],
                       env=x.env(), timeout=30, capture_output=True, text=True)
    return r.stdout.split()


def crop(image, x, y, w, h):
    """Part of an image (width, height, RGB bytes)."""
    iw, _, p = image
    return w, h, b"".join(p[((y + r) * iw + x) * 3:((y + r) * iw + x + w) * 3]
                          for r in range(h))


def session_window(x):
    """The session window's X id (its title ends in "CRP")."""
    return xdotool(x, "search", "--sync", "--onlyvisible", "--name", "CRP$").split()[0]


def window_size(x, window):
    g = dict(line.split("=") for line in
             xdotool(x, "getwindowgeometry", "--shell", window).split())
    return int(g["WIDTH"]), int(g["HEIGHT"])


class ClientTest(unittest.TestCase):
    """A test with (at most) one crp-client, stopped at the end."""

    def setUp(self):
        self.client = None
        self.server = None

    def tearDown(self):
        if self.client:
            self.client.stop()


class VMTest(ClientTest):
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

    def start_typing(self, rows=None):
        """A client at 1:1 showing the guest, with the keyboard (a click
        into the picture); returns where the picture is."""
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest(rows=rows)
        self.assertIsNotNone(where, self.client.log())
        xdotool(self.x, "mousemove", str(where[0] + 600), str(where[1] + 500),
                "click", "1")
        return where

    def wait_for_log(self, pattern, timeout=30):
        """The client's log line that matches @pattern, once it is there."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.client.log())
            if m:
                return m
            self.assertLess(time.monotonic(), deadline,
                            f"no {pattern!r} in the client's log: {self.client.log()}")
            self.assertIsNone(self.client.proc.poll(), self.client.log())
            time.sleep(0.3)

    def wait_for_guest(self, timeout=30, rows=None):
        """Waits until the guest's screen (its top @rows rows, if given:
        the part that does not move) shows in the X screen, exactly;
        returns where, the screenshot and the screendump."""
        deadline = time.monotonic() + timeout
        while True:
            dump = screendump(self.vm, os.path.join(self.tmp.name, "dump.ppm"))
            if rows:
                dump = (dump[0], rows, dump[2][:dump[0] * 3 * rows])
            screen = self.x.screenshot()
            where = find_image(screen, dump)
            if where or time.monotonic() > deadline:
                return where, screen, dump
            self.assertIsNone(self.client.proc.poll(), self.client.log())
            time.sleep(0.5)


@unittest.skipIf(load_env() is None, "QEMU or the test guest is not built "
                 "(qemu-crp-display/build-qemu, tests/guest/build-guest)")
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
        # xdotool returns once X has the events: the shell runs the line a
        # little later.
        deadline = time.monotonic() + 20
        while True:
            token = f"typed-check-{time.monotonic_ns()}"
            start = len(self.vm.serial_text())
            self.vm.run(f"cat /tmp/typed 2>/dev/null; echo {token}", expect=token)
            if "crp-gtk-42" in self.vm.serial_text()[start:]:
                break
            self.assertLess(time.monotonic(), deadline, "the typed line did not run")
            time.sleep(0.5)

    def test_headless_mode_is_crp_headless(self):
        shot = os.path.join(self.tmp.name, "headless.png")
        r = subprocess.run([CLIENT, "--headless", "--connect", f"unix:{self.vm.crp_sock}",
                            "--ticket-file", self.ticket_file(),
                            "--run", f"wait-frames 1; sleep 1000; screenshot {shot}; quit"],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        dump = screendump(self.vm, os.path.join(self.tmp.name, "dump.ppm"))
        self.assertEqual(diff_pixels(read_png(shot), dump), 0)
        # Its exit codes too: a refused ticket is 2 (crp-headless's README).
        self.vm.set_ticket(secrets.token_hex(16))
        path = self.ticket_file()
        self.vm.set_ticket(secrets.token_hex(16))
        r = subprocess.run([CLIENT, "--headless", "--connect", f"unix:{self.vm.crp_sock}",
                            "--ticket-file", path, "--run", "quit"],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_clipboard_both_ways_with_the_desktop(self):
        """What another client copies (crp-headless through the same QEMU)
        lands on the X clipboard (xclip reads it from crp-client), and
        what is copied on the X desktop reaches the other client."""
        def clip_headless(script):
            return subprocess.Popen(
                [CLIENT, "--headless", "--connect", f"unix:{self.vm.crp_sock}",
                 "--ticket-file", self.ticket_file(), "--run", script],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def x_clipboard():
            r = subprocess.run(["xclip", "-o", "-selection", "clipboard"],
                               env=self.x.env(), capture_output=True, text=True,
                               timeout=10)
            return r.stdout if r.returncode == 0 else None

        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        other = clip_headless("clipboard-set from the session \u2713; sleep 15000; quit")
        deadline = time.monotonic() + 30
        while x_clipboard() != "from the session \u2713":
            self.assertLess(time.monotonic(), deadline,
                            f"X clipboard: {x_clipboard()!r}; {self.client.log()}")
            time.sleep(0.3)
        out, _ = other.communicate(timeout=60)
        self.assertEqual(other.returncode, 0, out)

        # xclip stays in the background as the selection's owner.
        subprocess.run(["xclip", "-i", "-selection", "clipboard"], env=self.x.env(),
                       input="from the desktop \u00e9", text=True, timeout=10,
                       check=True)
        other = clip_headless("expect-clipboard 30000 from the desktop \u00e9; quit")
        out, _ = other.communicate(timeout=60)
        self.assertEqual(other.returncode, 0, out + self.client.log())

    def test_clipboard_muted_from_the_menu(self):
        """The session menu's "Share the clipboard" switch: off, a copy on
        the desktop does not reach the session; on again, it does at once
        (the client announces what the desktop holds)."""
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())

        def menu_clipboard():
            xdotool(self.x, "key", "shift+F10")
            time.sleep(1.0)     # the popover maps and takes the keyboard
            xdotool(self.x, "key", "c")

        def other_expects(text, wait_ms):
            return subprocess.run(
                [CLIENT, "--headless", "--connect", f"unix:{self.vm.crp_sock}",
                 "--ticket-file", self.ticket_file(), "--run",
                 f"expect-clipboard {wait_ms} {text}; quit"],
                capture_output=True, text=True, timeout=60)

        menu_clipboard()
        deadline = time.monotonic() + 10
        while "clipboard: muted" not in self.client.log():
            self.assertLess(time.monotonic(), deadline, self.client.log())
            time.sleep(0.2)
        subprocess.run(["xclip", "-i", "-selection", "clipboard"], env=self.x.env(),
                       input="kept on the desktop", text=True, timeout=10,
                       check=True)
        r = other_expects("kept on the desktop", 4000)
        self.assertNotEqual(r.returncode, 0, r.stdout + self.client.log())

        menu_clipboard()
        r = other_expects("kept on the desktop", 30000)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.client.log())

    def test_clipboard_image_reaches_the_desktop(self):
        """A PNG another client copies (crp-headless through the same QEMU)
        lands on the X clipboard as image/png with the same pixels (GTK
        re-encodes it: the bytes may differ)."""
        width, height = 37, 21
        rgb = bytes((x * 7 + y * 3 + c * 80) % 256
                    for y in range(height) for x in range(width) for c in range(3))
        path = os.path.join(self.tmp.name, "copied.png")
        write_png(path, width, height, rgb)

        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        other = subprocess.Popen(
            [CLIENT, "--headless", "--connect", f"unix:{self.vm.crp_sock}",
             "--ticket-file", self.ticket_file(), "--run",
             f"clipboard-set-png {path}; sleep 15000; quit"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while True:
            r = subprocess.run(["xclip", "-o", "-selection", "clipboard", "-t", "image/png"],
                               env=self.x.env(), capture_output=True, timeout=10)
            if r.returncode == 0 and r.stdout.startswith(b"\x89PNG"):
                break
            self.assertLess(time.monotonic(), deadline,
                            f"X clipboard: {r.stdout[:16]!r} {r.stderr!r}; {self.client.log()}")
            time.sleep(0.3)
        self.assertEqual(decode_png(r.stdout), (width, height, rgb))
        out, _ = other.communicate(timeout=60)
        self.assertEqual(other.returncode, 0, out)

    def test_stats_overlay_toggles_with_shift_f12(self):
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        xdotool(self.x, "mousemove", str(where[0] + 600), str(where[1] + 400),
                "click", "1")

        def differing():
            dump = screendump(self.vm, os.path.join(self.tmp.name, "dump.ppm"))
            return count_differences(self.x.screenshot(), dump, *where)

        xdotool(self.x, "key", "shift+F12")
        deadline = time.monotonic() + 10
        while differing() == 0:
            self.assertLess(time.monotonic(), deadline, "no overlay")
            time.sleep(0.3)
        xdotool(self.x, "key", "shift+F12")
        deadline = time.monotonic() + 10
        while differing() != 0:
            self.assertLess(time.monotonic(), deadline, "the overlay stays")
            time.sleep(0.3)

    def test_a_server_that_drops_the_client_is_explained(self):
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        self.vm.qmp.command("crp-disconnect")
        deadline = time.monotonic() + 20
        while "session: " not in self.client.log():
            self.assertLess(time.monotonic(), deadline, self.client.log())
            time.sleep(0.2)
        self.assertRegex(self.client.log(), r"session: The session has ended|"
                                            r"session: The connection to the session was lost")
        self.assertIsNone(self.client.proc.poll())      # a dialog, not a crash
        self.assertTrue(self.vm.alive())

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

    def test_the_window_remembers_its_size_and_scaling(self):
        config = os.path.join(self.tmp.name, f"config-remember-{time.monotonic_ns()}")
        self.start("--one-to-one", XDG_CONFIG_HOME=config)
        where, _, dump = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        win = session_window(self.x)
        xdotool(self.x, "windowsize", "--sync", win, "1000", "700")
        time.sleep(0.5)
        close_window(self.x.display, win)
        self.assertEqual(self.client.wait(), 0, self.client.log())
        with open(os.path.join(config, "crp", "client.ini")) as f:
            ini = f.read()
        self.assertIn(f"[app unix:{self.vm.crp_sock}]", ini)
        self.assertRegex(ini, r"width=1000\nheight=700\none-to-one=true\nmuted=false")

        # Started again, without --one-to-one: that size, 1:1 (the guest's
        # top left corner is there pixel for pixel, with scroll bars).
        self.start(XDG_CONFIG_HOME=config)
        win = session_window(self.x)
        corner = crop(dump, 0, 0, 600, 300)
        deadline = time.monotonic() + 30
        while find_image(self.x.screenshot(), corner) is None:
            self.assertLess(time.monotonic(), deadline, self.client.log())
            time.sleep(0.5)
        self.assertEqual(window_size(self.x, win), (1000, 700))
        self.assertNotIn("resize: asking", self.client.log())

    def test_a_refused_ticket_is_explained(self):
        path = self.ticket_file()
        self.vm.set_ticket(secrets.token_hex(16))
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


@unittest.skipIf(load_env() is None, "QEMU or the test guest is not built "
                 "(qemu-crp-display/build-qemu, tests/guest/build-guest)")
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

    def test_a_guest_that_cannot_resize_is_scaled(self):
        # std VGA cannot change its mode for a client: the client asks
        # (the guest follows the window by default), sees no new size and
        # scales the picture into the window instead.
        self.start()
        where, _, _ = self.wait_for_guest(rows=self.TITLE_ROWS)
        self.assertIsNotNone(where, self.client.log())
        fb_w, fb_h, _ = screendump(self.vm, os.path.join(self.tmp.name, "dump.ppm"))
        win = session_window(self.x)
        width, height = window_size(self.x, win)
        new_w, new_h = 900, 700
        xdotool(self.x, "windowsize", "--sync", win, str(new_w), str(new_h))
        view_w, view_h = fb_w + new_w - width, fb_h + new_h - height
        self.wait_for_log(rf"resize: asking the guest for {view_w}x{view_h}")
        self.wait_for_log(rf"resize: the guest keeps {fb_w}x{fb_h} "
                          rf"\(asked for {view_w}x{view_h}\): its picture is scaled")
        path = os.path.join(self.tmp.name, "kept.ppm")
        dump = screendump(self.vm, path)
        self.assertEqual(dump[:2], (fb_w, fb_h))
        # The picture is the guest's, scaled to fit and centred: compare
        # with the screendump scaled the same way (the demo's band moves,
        # and filters differ: a mean difference, against one that is not
        # scaled as a control).
        scale = min(view_w / fb_w, view_h / fb_h)
        pic_w, pic_h = round(fb_w * scale), round(fb_h * scale)
        left = where[0] + (view_w - pic_w) // 2
        top = where[1] + (view_h - pic_h) // 2
        scaled_path = os.path.join(self.tmp.name, "kept-scaled.ppm")
        subprocess.run(["convert", path, "-resize", f"{pic_w}x{pic_h}!", scaled_path],
                       check=True, timeout=60)
        scaled = read_ppm(scaled_path)
        screen = self.x.screenshot()
        near = mean_difference(screen, scaled, left, top)
        control = mean_difference(screen, crop(dump, 0, 0, pic_w, pic_h), left, top)
        self.assertLess(near, 10, f"scaled picture differs: {near:.1f} (1:1: {control:.1f})")
        self.assertGreater(control, near * 2)

    def test_ctrl_alt_g_releases_the_keyboard(self):
        self.start_typing(rows=self.TITLE_ROWS)
        start = len(self.vm.serial_text())
        xdotool(self.x, "key", "a")
        m = self.vm.wait_serial(r"CRP-KEY code=30 value=0", start=start, timeout=15)
        # Ctrl and Alt went to the guest on their way: they come back up.
        xdotool(self.x, "key", "ctrl+alt+g")
        self.wait_for_log(r"keyboard: released")
        self.vm.wait_serial(r"CRP-KEY code=29 value=0", start=m.end(), timeout=15)
        self.vm.wait_serial(r"CRP-KEY code=56 value=0", start=m.end(), timeout=15)
        start = len(self.vm.serial_text())
        xdotool(self.x, "key", "b")
        time.sleep(2.0)
        self.assertNotIn("CRP-KEY code=48", self.vm.serial_text()[start:])
        # G itself never reached the guest.
        self.assertNotIn("CRP-KEY code=34", self.vm.serial_text())
        # A click into the picture gives the keyboard back.
        xdotool(self.x, "click", "1")
        xdotool(self.x, "key", "c")
        self.vm.wait_serial(r"CRP-KEY code=46 value=1", start=start, timeout=15)

    def test_the_wheel_reaches_the_guest(self):
        self.start("--one-to-one")
        where, _, _ = self.wait_for_guest(rows=self.TITLE_ROWS)
        self.assertIsNotNone(where, self.client.log())
        start = len(self.vm.serial_text())
        # X11 wheel: buttons 5 (down) and 4 (up), one detent each.
        xdotool(self.x, "mousemove", str(where[0] + 600), str(where[1] + 500),
                "click", "5")
        m = self.vm.wait_serial(r"CRP-WHEEL delta=(-?\d+)", start=start, timeout=15)
        down = int(m.group(1))
        xdotool(self.x, "click", "4")
        m = self.vm.wait_serial(r"CRP-WHEEL delta=(-?\d+)", start=m.end(), timeout=15)
        self.assertEqual(int(m.group(1)), -down)
        self.assertEqual(abs(down), 1)

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
        # The guest measures once a second; on a loaded machine one second
        # can come out chopped (and off by a few Hz): one within 10 Hz is
        # the tone arriving.
        self.vm.wait_serial(MIC_TONE, start=start, timeout=30)
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

    def test_mute_buttons_silence_speaker_and_microphone(self):
        raw = os.path.join(self.tmp.name, "muted.raw")
        start = len(self.vm.serial_text())
        client = self.start(
            "--one-to-one",
            CRP_CLIENT_AUDIO_SINK=f"filesink location={raw}",
            CRP_CLIENT_MIC_SOURCE="audiotestsrc freq=1000 volume=0.3 is-live=true")
        m = self.vm.wait_serial(MIC_TONE, start=start, timeout=30)
        where, screen, _ = self.wait_for_guest(rows=self.TITLE_ROWS)
        self.assertIsNotNone(where, client.log())
        speaker, mic = header_icons_after_close_app(screen, where[1])[:2]

        # The speaker: playback stops (the pipeline goes), the file stays.
        xdotool(self.x, "mousemove", str(speaker[0]), str(speaker[1]), "click", "1")
        time.sleep(1.0)
        size = os.path.getsize(raw)
        time.sleep(2.0)
        self.assertEqual(os.path.getsize(raw), size, "sound still plays when muted")

        # The microphone: the guest hears silence.
        xdotool(self.x, "mousemove", str(mic[0]), str(mic[1]), "click", "1")
        self.vm.wait_serial(r"CRP-MIC freq=0 ", start=m.end(), timeout=15)
        # And back on.
        start = len(self.vm.serial_text())
        xdotool(self.x, "click", "1")
        self.vm.wait_serial(MIC_TONE, start=start, timeout=15)


def drm_cursor_argb(x, y):
    """crp-drm's cursor pixel (tests/guest/src/crp-drm.c) as X shows it:
    ARGB, premultiplied (its alpha is 0 or 255, so the same)."""
    if x < 32 and y < 32 and x <= y:
        return 0xff000000 | (x * 8) << 16 | (y * 8) << 8 | 0x40
    return 0


@unittest.skipIf(load_env() is None, "QEMU or the test guest is not built "
                 "(qemu-crp-display/build-qemu, tests/guest/build-guest)")
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

    def test_the_guest_follows_the_window(self):
        start = len(self.vm.serial_text())
        self.addCleanup(self.drm_mode, 1280, 800)
        self.start()            # the default: the guest follows the window
        where, _, dump = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        win = session_window(self.x)
        width, height = window_size(self.x, win)
        # The view is the window less its header bar.
        want_w, want_h = 1000, 640
        xdotool(self.x, "windowsize", "--sync", win, str(want_w + width - dump[0]),
                str(want_h + height - dump[1]))
        self.vm.wait_serial(rf"CRP-DRM-MODE {want_w}x{want_h}", start=start, timeout=30)
        self.wait_for_log(rf"resize: the guest follows the window at {want_w}x{want_h}")
        # Asked once, for the final size (debounced).
        self.assertEqual(len(re.findall(r"resize: asking the guest", self.client.log())), 1,
                         self.client.log())
        # The guest's new screen is in the window pixel for pixel.
        where, screen, dump = self.wait_for_guest()
        self.assertEqual(dump[:2], (want_w, want_h))
        self.assertIsNotNone(where, "the resized guest is not in the window 1:1; "
                                    f"log: {self.client.log()}")
        self.assertEqual(count_differences(screen, dump, *where), 0)

    def test_scroll_bars_at_one_to_one(self):
        # 1:1 in a window smaller than the guest: scroll bars, and dragging
        # them to their ends shows the guest's bottom right corner 1:1.
        self.start("--one-to-one")
        where, _, dump = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        win = session_window(self.x)
        xdotool(self.x, "windowsize", "--sync", win, "900", "600")
        time.sleep(1.0)
        screen = self.x.screenshot()
        (sw, _, sp), (dw, dh, dp) = screen, dump

        def same(x, y):
            """The screen shows guest pixel (x, y) at its 1:1 place."""
            i, j = ((where[1] + y) * sw + where[0] + x) * 3, (y * dw + x) * 3
            return sp[i:i + 3] == dp[j:j + 3]

        # The view ends where the picture stops: there are the bars.
        view_w = next(x for x in range(dw) if not same(x, 10))
        view_h = next(y for y in range(dh) if not same(10, y))
        self.assertLess(view_w, dw)
        self.assertLess(view_h, dh)
        self.assertEqual(count_differences(screen, crop(dump, 0, 0, view_w, view_h),
                                           *where), 0)
        vbar = (where[0] + view_w + 5, where[1] + 20)
        hbar = (where[0] + 20, where[1] + view_h + 5)
        for (x, y), (to_x, to_y) in ((vbar, (vbar[0], 1199)), (hbar, (1599, hbar[1]))):
            xdotool(self.x, "mousemove", str(x), str(y), "mousedown", "1")
            xdotool(self.x, "mousemove", str((x + to_x) // 2), str((y + to_y) // 2))
            xdotool(self.x, "mousemove", str(to_x), str(to_y), "mouseup", "1")
            time.sleep(0.5)
        corner = crop(dump, dw - view_w, dh - view_h, view_w, view_h)
        deadline = time.monotonic() + 10
        while count_differences(self.x.screenshot(), corner, *where) != 0:
            self.assertLess(time.monotonic(), deadline,
                            "the bottom right corner is not shown 1:1")
            time.sleep(0.5)

    def test_hidpi_asks_for_device_pixels(self):
        # At scale 2 the window opens with the guest's pixels on device
        # pixels (half its size in GTK's logical pixels), and asks the
        # guest for device pixels.
        self.addCleanup(self.drm_mode, 1280, 800)
        self.start(GDK_SCALE="2")
        where, _, dump = self.wait_for_guest()
        self.assertIsNotNone(where, "the guest is not shown sharp at scale 2; "
                                    f"log: {self.client.log()}")
        # The header bar may make the new window wider than the guest (at
        # scale 2 it is wider than this screen): the guest follows that
        # first. Then a size of our own.
        time.sleep(3.0)
        where, _, dump = self.wait_for_guest()
        self.assertIsNotNone(where, self.client.log())
        start = len(self.vm.serial_text())
        asked = self.client.log().count("resize: asking")
        win = session_window(self.x)
        width, height = window_size(self.x, win)   # X: device pixels
        want_w, want_h = 1200, 640     # wider than the header bar at scale 2
        xdotool(self.x, "windowsize", "--sync", win, str(width - dump[0] + want_w),
                str(height - dump[1] + want_h))
        self.vm.wait_serial(rf"CRP-DRM-MODE {want_w}x{want_h}", start=start, timeout=30)
        self.wait_for_log(rf"resize: the guest follows the window at {want_w}x{want_h}")
        self.assertEqual(self.client.log().count("resize: asking"), asked + 1)
        where, screen, dump = self.wait_for_guest()
        self.assertEqual(dump[:2], (want_w, want_h))
        self.assertIsNotNone(where, self.client.log())
        self.assertEqual(count_differences(screen, dump, *where), 0)

    def drm_mode(self, width, height):
        """Puts the guest back to @width x @height (after the client has
        gone), the way it left: a client's RESIZE_REQUEST (crp-drm follows
        the host's preferred size, which a request sets)."""
        if self.client:
            self.client.stop()
            self.client = None
        r = subprocess.run([CLIENT, "--headless", "--connect", f"unix:{self.vm.crp_sock}",
                            "--ticket-file", self.ticket_file(),
                            "--run", f"wait-frames 1; resize {width} {height}; "
                                     f"wait-surface {width} {height} 30000; quit"],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)


@unittest.skipIf(load_env() is None, "QEMU or the test guest is not built "
                 "(qemu-crp-display/build-qemu, tests/guest/build-guest)")
class SpecialKeys(VMTest):
    """The session menu's special keys reach the demo guest (a VM of its
    own: Ctrl+Alt+Del reboots it, as it would a PC)."""

    MODE = "demo"
    DISPLAY_OPTS = "lossless=on"

    def menu_item(self, *keys):
        """Opens the session menu (Shift+F10) and picks an item with the
        keyboard: @keys are its mnemonics ("f", "2": Ctrl+Alt+F2)."""
        xdotool(self.x, "key", "shift+F10")
        time.sleep(1.0)         # the popover maps and takes the keyboard
        for key in keys:        # one at a time: a submenu slides in
            xdotool(self.x, "key", key)
            time.sleep(0.6)

    def expect_keys(self, start, codes):
        """The guest saw @codes pressed in order, then released in reverse."""
        at = start
        for code in codes:
            at = self.vm.wait_serial(rf"CRP-KEY code={code} value=1", start=at,
                                     timeout=15).end()
        for code in reversed(codes):
            at = self.vm.wait_serial(rf"CRP-KEY code={code} value=0", start=at,
                                     timeout=15).end()

    def test_special_keys_from_the_menu_reach_the_guest(self):
        self.start_typing(rows=DemoGuest.TITLE_ROWS)
        # Ctrl+Alt+F2, from the submenu ("F1…F12", then "2").
        start = len(self.vm.serial_text())
        self.menu_item("f", "2")
        self.wait_for_log(r"keys: sending Ctrl\+Alt\+F2")
        self.expect_keys(start, (29, 56, 60))

        # Ctrl+Alt+Del: the three keys down in order, then up; the guest's
        # init takes it as a PC would: it reboots.
        start = len(self.vm.serial_text())
        self.menu_item("d")
        self.wait_for_log(r"keys: sending Ctrl\+Alt\+Del")
        self.expect_keys(start, (29, 56, 111))
        self.vm.wait_serial(r"CRP-GUEST-POWEROFF", start=start, timeout=30)


class BrokerTest(ClientTest):
    """The real crp-broker (the test guest's demo as the app "demo", which
    alice is subscribed to, and the shell as "second") and one X server
    for the class; a client per test, and no session left after it."""

    SCREEN = "1600x1200"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="crp-client-broker-")
        cls.broker = BrokerEnv(cls.tmp.name, ENV, *BROKER_TOOLS)
        cls.key = cls.broker.add_user("alice")
        cls.user_keys = {"alice": cls.key}
        cls.broker.publish_guest("demo", "Demo guest")
        # Two rows in the catalog: Up and Down have somewhere to go.
        cls.broker.publish_guest("second", "Second guest", mode="shell")
        cls.broker.start()
        cls.broker.client(cls.key, "subscribe:demo")
        cls.x = Xvfb(cls.tmp.name, size=cls.SCREEN)

    @classmethod
    def tearDownClass(cls):
        cls.x.stop()
        cls.broker.stop()
        # VMs outlive the broker by design: end the ones the tests left.
        for s in cls.broker.sessions_left():
            os.kill(s, 9)
        cls.tmp.cleanup()

    def tearDown(self):
        super().tearDown()
        # A test that failed half way leaves its session: not the next one's.
        for s in self.broker.sessions():
            self.broker.client(self.user_keys.get(s["user"], self.key),
                               f"close:{s['id']}")
        self.wait_until("sessions left over", lambda: not self.broker.sessions())

    def wait_until(self, what, predicate, timeout=60):
        """@predicate's value once true; fails after @timeout s."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"{what}; client: {self.client.log() if self.client else ''}\n"
                          f"broker: {self.broker.log_text()[-3000:]}")
            time.sleep(0.5)

    def keys(self, window, *keys):
        """Keys to a window: raised and given the X focus first (there is
        no window manager to do it; a session window opening takes it)."""
        xdotool(self.x, "windowraise", window)
        xdotool(self.x, "windowfocus", "--sync", window)
        xdotool(self.x, "key", "--delay", "100", *keys)


@unittest.skipIf(load_env() is None, "QEMU or the test guest is not built "
                 "(qemu-crp-display/build-qemu, tests/guest/build-guest)")
class BrokerMode(BrokerTest):
    """crp-client against the real crp-broker: log in, open, type, close;
    and a broker restart in the middle of a session; the main window from
    the keyboard."""

    def start_link(self, link):
        """crp-client started by a crp:// link, as a browser would; returns
        its confirmation window (the X window id) once shown."""
        self.client = Client(self.x, self.tmp.name,
                             ["--key", self.key, "--broker", self.broker.address,
                              "--one-to-one", link],
                             XDG_CONFIG_HOME=os.path.join(self.tmp.name, "config"))
        return xdotool(self.x, "search", "--sync", "--onlyvisible", "--name",
                       "^Open a link — CRP$").split()[0]

    def test_a_link_asks_first_and_cancel_launches_nothing(self):
        logins = self.broker.log_text().count("event=login ")
        window = self.start_link("crp:///demo")
        # Nothing has happened yet: no login, no VM, while the user reads.
        time.sleep(3)
        self.assertEqual(self.broker.sessions(), [])
        self.assertEqual(self.broker.log_text().count("event=login "), logins)
        # Enter is Cancel (the safe default); the client goes away.
        xdotool(self.x, "windowfocus", "--sync", window)
        xdotool(self.x, "key", "Return")
        self.assertEqual(self.client.wait(), 0, self.client.log())
        self.assertIn("link: not opened", self.client.log())
        self.assertEqual(self.broker.sessions(), [])
        self.assertEqual(self.broker.log_text().count("event=login "), logins)

    def open_demo(self):
        """crp-client with a crp:// link: asks, is told Open, logs in,
        opens the app, and its session window shows the guest. Returns the
        session."""
        config = os.path.join(self.tmp.name, "config")
        window = self.start_link("crp:///demo")
        # The window names the app and the broker it would open it from.
        self.assertIn(f"link: asking to open demo from {self.broker.address}",
                      self.client.log())
        self.assertEqual(self.broker.sessions(), [])
        xdotool(self.x, "windowfocus", "--sync", window)
        xdotool(self.x, "key", "alt+o")
        deadline = time.monotonic() + 90
        while True:
            self.assertIsNone(self.client.proc.poll(), self.client.log())
            sessions = [s for s in self.broker.sessions() if s["state"] == "running"]
            if sessions and "CRP-GUEST-READY" in self.broker.console_logs():
                try:
                    screen = self.x.screenshot()
                    button = find_close_app_button(screen, 100)
                    break
                except AssertionError:
                    pass
            if time.monotonic() > deadline:
                self.fail(f"the app did not open: {self.client.log()}")
            time.sleep(0.5)
        # The key file that worked is remembered for next time.
        with open(os.path.join(config, "crp", "client.ini")) as f:
            self.assertIn(f"key-file={self.key}", f.read())
        return sessions[0], button

    def type_key(self, name, code):
        """Presses a key until the guest has it (after a reconnect, the
        display channel may still be in its handshake: keys typed then
        are not the guest's)."""
        start = len(self.broker.console_logs())
        deadline = time.monotonic() + 30
        while True:
            xdotool(self.x, "mousemove", "600", "400", "click", "1")
            xdotool(self.x, "key", name)
            pressed = time.monotonic()
            while time.monotonic() < pressed + 3:
                if f"CRP-KEY code={code} value=1" in self.broker.console_logs()[start:]:
                    return
                time.sleep(0.2)
            self.assertLess(time.monotonic(), deadline, "the key did not reach the "
                            f"guest; client: {self.client.log()}")

    def test_open_type_and_close_releases_the_vm(self):
        session, button = self.open_demo()
        self.type_key("a", 30)
        self.assertEqual(self.broker.pools()["compute"]["vcpus_used"], 1)
        xdotool(self.x, "mousemove", str(button[0]), str(button[1]), "click", "1")
        # CLOSE_APP: the broker shuts the VM down and frees its share.
        self.wait_until("the session did not end",
                        lambda: not any(s["id"] == session["id"]
                                        for s in self.broker.sessions()))
        compute = self.broker.pools()["compute"]
        self.assertEqual((compute["sessions"], compute["vcpus_used"],
                          compute["memory_mib_used"]), (0, 0, 0))
        # The user is still logged in: the main window stays.
        self.assertIsNone(self.client.proc.poll(), self.client.log())

    def app_names(self, key, command):
        """The apps of crp-broker-test-client's "catalog" or "my-apps",
        in the broker's order (the window's too)."""
        return re.findall(r"^app (\S+) ", self.broker.client(key, command), re.M)

    def last_log_line(self, prefix):
        """The client's last debug line about a list ("catalog: 2 apps, 1
        subscribed"): what the window shows now."""
        lines = re.findall(rf"{prefix}: [^\n]*", self.client.log())
        return lines[-1] if lines else None

    def test_the_main_window_works_from_the_keyboard(self):
        # Subscribe, unsubscribe, open, reconnect and close, no mouse:
        # Ctrl+1/2/3 pick a tab and focus its first row, Up/Down move,
        # Enter is the row's button, Delete closes a session.
        key = self.user_keys["carol"] = self.broker.add_user("carol")
        catalog = self.app_names(key, "catalog")
        self.assertEqual(sorted(catalog), ["demo", "second"])
        self.assertEqual(self.app_names(key, "my-apps"), [])
        demo, second = catalog.index("demo"), catalog.index("second")

        def move(here, there):
            return ["Down" if there > here else "Up"] * abs(there - here)

        def my_apps_are(apps):
            self.wait_until(f"my apps are not {apps}",
                            lambda: sorted(self.app_names(key, "my-apps")) == apps)

        def log_says(prefix, text):
            self.wait_until(f"the window did not show {prefix}: {text}",
                            lambda: self.last_log_line(prefix) == f"{prefix}: {text}")

        self.client = Client(self.x, self.tmp.name,
                             ["--key", key, "--broker", self.broker.address],
                             XDG_CONFIG_HOME=os.path.join(self.tmp.name, "config-carol"),
                             G_MESSAGES_DEBUG="all")
        main = xdotool(self.x, "search", "--sync", "--onlyvisible", "--name",
                       "^CRP .* carol$").split()[0]
        log_says("catalog", "2 apps, 0 subscribed")

        # The catalog: Subscribe on the second row, then the first...
        self.keys(main, "ctrl+2", *move(0, second), "Return")
        my_apps_are(["second"])
        log_says("catalog", "2 apps, 1 subscribed")
        self.keys(main, *move(second, demo), "Return")
        my_apps_are(["demo", "second"])
        log_says("catalog", "2 apps, 2 subscribed")
        # ... and Unsubscribe (the rebuilt list kept the focus on its row).
        self.keys(main, *move(demo, second), "Return")
        my_apps_are(["demo"])
        log_says("my apps", "1 apps, 1 subscribed")

        # My apps: Open.
        self.keys(main, "ctrl+1", "Return")
        self.wait_until("the app did not open",
                        lambda: [s["state"] for s in self.broker.sessions()] == ["running"]
                        and visible_windows(self.x, "^demo .* CRP$"))
        session = self.broker.sessions()[0]
        self.assertEqual((session["user"], session["app"]), ("carol", "demo"))
        attach = f"event=attach session={session['id']}"
        self.wait_until("no attach", lambda: attach in self.broker.log_text())

        # Closing the session window only disconnects: the app runs on.
        detach = f"event=detach session={session['id']}"
        close_window(self.x.display, visible_windows(self.x, "^demo .* CRP$")[0])
        self.wait_until("the session window stays",
                        lambda: not visible_windows(self.x, "^demo .* CRP$")
                        and detach in self.broker.log_text())
        self.assertEqual([(s["id"], s["state"]) for s in self.broker.sessions()],
                         [(session["id"], "running")])
        log_says("sessions", "1, 1 running")

        # Sessions: Reconnect, to the same session.
        attaches = self.broker.log_text().count(attach)
        self.keys(main, "ctrl+3", "Return")
        self.wait_until("Reconnect did not attach",
                        lambda: self.broker.log_text().count(attach) > attaches
                        and visible_windows(self.x, "^demo .* CRP$"))
        self.assertEqual([s["id"] for s in self.broker.sessions()], [session["id"]])

        # Sessions: Delete closes it; the pools are empty again.
        self.keys(main, "ctrl+3", "Delete")
        self.wait_until("Delete did not close the session",
                        lambda: not self.broker.sessions())
        compute = self.broker.pools()["compute"]
        self.assertEqual((compute["sessions"], compute["vcpus_used"],
                          compute["memory_mib_used"]), (0, 0, 0))
        self.assertIsNone(self.client.proc.poll(), self.client.log())

    def login_fails(self, key, address=None):
        """Starts crp-client on @key; returns the login's logged reason."""
        self.client = Client(self.x, self.tmp.name,
                             ["--key", key, "--broker", address or self.broker.address],
                             XDG_CONFIG_HOME=os.path.join(self.tmp.name, "config-bad"))
        deadline = time.monotonic() + 30
        while "login: " not in self.client.log():
            self.assertLess(time.monotonic(), deadline, self.client.log())
            time.sleep(0.2)
        time.sleep(0.2)
        log = self.client.log()
        self.client.stop()
        self.client = None
        return log

    def test_login_failures_are_explained(self):
        loose = os.path.join(self.tmp.name, "loose.key")
        shutil.copy(self.key, loose)
        os.chmod(loose, 0o644)
        self.assertIn("login: The key file cannot be used", self.login_fails(loose))

        self.assertIn("login: Cannot reach the broker",
                      self.login_fails(self.key, "unix:" + os.path.join(self.tmp.name,
                                                                        "nobody.sock")))
        revoked = self.broker.add_user("bob")
        self.broker.admin("user", "revoke", "bob")
        self.assertIn("login: This key has been revoked", self.login_fails(revoked))

        # A key file whose pinned broker key is another broker's.
        other = os.path.join(self.tmp.name, "other-broker.key")
        with open(self.key) as f:
            text = f.read()
        text = re.sub(r"broker-public-key=.*", "broker-public-key=" +
                      base64.b64encode(os.urandom(32)).decode(), text)
        with open(os.open(other, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(text)
        self.assertIn("login: This is not the broker your key belongs to",
                      self.login_fails(other))
        self.assertTrue(self.broker.proc.poll() is None)

    def test_a_broker_restart_reconnects_the_session(self):
        session, button = self.open_demo()
        self.type_key("a", 30)
        attaches = self.broker.log_text().count(f"event=attach session={session['id']}")
        # The broker goes away (both connections drop); the VM stays.
        self.broker.stop()
        time.sleep(2)
        self.broker.start()
        self.wait_until("the client did not attach again",
                        lambda: self.broker.log_text().count(
                            f"event=attach session={session['id']}") > attaches)
        self.assertIn("reconnecting", self.client.log())
        self.type_key("b", 48)
        # Still one session: the same VM, not a new one.
        self.assertEqual([s["id"] for s in self.broker.sessions()], [session["id"]])
        xdotool(self.x, "mousemove", str(button[0]), str(button[1]), "click", "1")
        self.wait_until("the session did not end", lambda: not self.broker.sessions())


class FakeServer(ClientTest):
    """crp-client against tests/clients/headless/fake-server (no QEMU): TCP, a
    mono server, and servers that break the protocol or the connection."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="crp-client-fake-")
        cls.x = Xvfb(cls.tmp.name)
        cls.ticket = os.path.join(cls.tmp.name, "ticket")
        with open(os.open(cls.ticket, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("fake-ticket\n")

    @classmethod
    def tearDownClass(cls):
        cls.x.stop()
        cls.tmp.cleanup()

    def tearDown(self):
        super().tearDown()
        stop_process(self.server)
        if self.server:
            self.server.stdout.close()

    def serve(self, *args, **env):
        """Starts the fake server and a client on it; returns the client."""
        sock = os.path.join(self.tmp.name, f"fake-{time.monotonic_ns()}.sock")
        where = ["--tcp"] if "--tcp" in args else ["--socket", sock]
        self.server = subprocess.Popen(  # its stdout: closed by communicate()
            [FAKE_SERVER, "--ticket", "fake-ticket", *where,
             *(a for a in args if a != "--tcp")],
            stdout=subprocess.PIPE, text=True)
        words = self.server.stdout.readline().split()   # listening KIND WHERE
        self.assertEqual(words[:1], ["listening"], "fake-server did not start")
        address = f"tcp:127.0.0.1:{words[2]}" if words[1] == "tcp" else f"unix:{words[2]}"
        self.client = Client(self.x, self.tmp.name,
                             ["--connect", address, "--ticket-file", self.ticket], **env)
        return self.client

    def server_lines(self):
        """Everything the server said, once it has ended."""
        out, _ = self.server.communicate(timeout=30)
        return out.splitlines()

    def wait_for_log(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while text not in self.client.log():
            self.assertLess(time.monotonic(), deadline, self.client.log())
            time.sleep(0.2)

    def scene(self):
        """The fake scene's background (0x204080) in the X screen, once the
        window shows it: its centre and its top."""
        deadline = time.monotonic() + 20
        while True:
            w, h, p = self.x.screenshot()
            hits = [i // 3 for i in range(0, len(p), 3 * 7)
                    if p[i:i + 3] == b"\x20\x40\x80"]
            if hits:
                xs, ys = [i % w for i in hits], [i // w for i in hits]
                return (min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2, min(ys)
            self.assertLess(time.monotonic(), deadline, self.client.log())
            time.sleep(0.3)

    def test_tcp_keys_and_a_mono_microphone(self):
        # A mono server: the client's stereo microphone is mixed down.
        self.serve("--tcp", "--channels", "1",
                   CRP_CLIENT_AUDIO_SINK="fakesink",
                   CRP_CLIENT_MIC_SOURCE="audiotestsrc freq=1000 volume=0.3 is-live=true")
        x, y, top = self.scene()
        xdotool(self.x, "mousemove", str(x), str(y), "click", "1")
        xdotool(self.x, "key", "a")
        time.sleep(2.0)
        button = find_close_app_button(self.x.screenshot(), top)
        xdotool(self.x, "mousemove", str(button[0]), str(button[1]), "click", "1")
        self.assertEqual(self.client.wait(), 0, self.client.log())
        lines = self.server_lines()
        self.assertIn("key 30 1", lines)
        self.assertIn("key 30 0", lines)
        self.assertIn("close-app", lines)
        report = dict(zip(*[iter(next(l for l in lines if l.startswith("report "))
                                 .split()[1:])] * 2))
        self.assertAlmostEqual(float(report["mic-frequency"]), 1000, delta=10)
        self.assertGreaterEqual(float(report["mic-ms"]), 1000)

    def test_a_server_breaking_the_protocol_is_explained(self):
        self.serve("--bad-rect-after-frames", "5")
        self.wait_for_log("session: The session broke down (protocol error)")
        time.sleep(0.5)
        self.assertIsNone(self.client.proc.poll(), "the client did not survive")

    def test_a_cut_connection_is_explained(self):
        self.serve("--cut-after-frames", "5")
        self.wait_for_log("session: The connection to the session was lost")
        self.assertIsNone(self.client.proc.poll(), "the client did not survive")

    def test_no_ticket_on_an_abstract_socket_is_refused(self):
        # Direct mode without --ticket-file is no-ticket mode: refused at
        # an abstract socket, whose name any local user can claim first.
        name = f"@crp-gtk-test-{os.getpid()}-{time.monotonic_ns()}"
        self.server = subprocess.Popen([FAKE_SERVER, "--ticket", "", "--socket", name],
                                       stdout=subprocess.PIPE, text=True)
        self.assertEqual(self.server.stdout.readline().split(), ["listening", "unix", name])
        self.client = Client(self.x, self.tmp.name, ["--connect", f"unix:{name}"])
        self.wait_for_log("session: Cannot connect: no-ticket mode needs a filesystem socket")
        self.assertIsNone(self.client.proc.poll(), "the client did not survive")
        stop_process(self.server)
        self.assertFalse([l for l in self.server_lines() if l.startswith("ready")])


@unittest.skipIf(shutil.which("evilwm") is None,
                 "no window manager to test with (evilwm, tools/crp-deps)")
class WindowManager(ClientTest):
    """What needs a window manager (Xvfb has none): fullscreen, under
    evilwm, a tiny one that does EWMH fullscreen; against the fake server."""

    serve = FakeServer.serve
    scene = FakeServer.scene
    server_lines = FakeServer.server_lines

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="crp-client-wm-")
        cls.x = Xvfb(cls.tmp.name)
        with open(os.path.join(cls.tmp.name, "wm.log"), "w") as log:
            cls.wm = subprocess.Popen(["evilwm", "-fn", "fixed"], env=cls.x.env(),
                                      stdout=log, stderr=subprocess.STDOUT)
        # Up once it answers EWMH questions.
        deadline = time.monotonic() + 20
        while subprocess.run(["xdotool", "get_num_desktops"], env=cls.x.env(),
                             capture_output=True, timeout=30).returncode != 0:
            if cls.wm.poll() is not None or time.monotonic() > deadline:
                stop_process(cls.wm)
                cls.x.stop()
                raise RuntimeError("evilwm did not start")
            time.sleep(0.1)
        cls.ticket = os.path.join(cls.tmp.name, "ticket")
        with open(os.open(cls.ticket, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("fake-ticket\n")

    @classmethod
    def tearDownClass(cls):
        stop_process(cls.wm)
        cls.x.stop()
        cls.tmp.cleanup()

    def tearDown(self):
        super().tearDown()
        stop_process(self.server)
        if self.server:
            self.server.stdout.close()

    def geometry(self, window):
        g = dict(line.split("=") for line in
                 xdotool(self.x, "getwindowgeometry", "--shell", window).split())
        return tuple(int(g[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))

    def wait_geometry(self, what, window, predicate):
        deadline = time.monotonic() + 20
        while True:
            geometry = self.geometry(window)
            if predicate(geometry):
                return geometry
            self.assertLess(time.monotonic(), deadline,
                            f"{what}: {geometry}; {self.client.log()}")
            time.sleep(0.2)

    def test_f11_fullscreen_covers_the_screen_and_comes_back(self):
        screen = (0, 0, 1600, 1200)
        self.serve()
        x, y, _ = self.scene()
        window = xdotool(self.x, "search", "--sync", "--onlyvisible", "--name",
                         "CRP$").split()[0]
        before = self.geometry(window)
        self.assertLess(before[2] * before[3], 1600 * 1200 // 2, before)
        # The keyboard to the window: the display has it after a click.
        xdotool(self.x, "mousemove", str(x), str(y), "click", "1")
        xdotool(self.x, "key", "F11")
        self.wait_geometry("F11 did not fill the screen", window,
                           lambda g: g == screen)
        time.sleep(1.0)     # fullscreen a moment: the guest is asked for it
        xdotool(self.x, "key", "F11")
        # Back to its size (the window manager may get there in steps).
        self.wait_geometry("the window did not come back to its size", window,
                           lambda g: g[2:] == before[2:])
        self.assertIsNone(self.client.proc.poll(), self.client.log())
        # F11 stays with the client; other keys still go to the server.
        xdotool(self.x, "key", "a")
        time.sleep(2.0)     # the key on its way out (a missing one fails)
        self.client.stop()
        self.client = None
        lines = self.server_lines()
        self.assertIn("key 30 1", lines)
        self.assertNotIn("key 87 1", lines)
        # Fullscreen, the guest was asked for the screen: the header bar
        # is hidden, the window's frame stays (5 px a side, here).
        resizes = [tuple(int(v) for v in line.split()[1:])
                   for line in lines if line.startswith("resize ")]
        self.assertIn((1590, 1190), resizes)


def header_icons_after_close_app(screen, header_bottom):
    """Centres of the header bar's icons right of "Close app", left to
    right (the speaker and microphone toggles come first): clusters of
    dark symbolic-icon pixels in the button row."""
    w, _, p = screen
    bx, by = find_close_app_button(screen, header_bottom)
    right = bx
    while right < w and p[(by * w + right) * 3] > 180:      # the red button
        right += 1
    columns = []
    for x in range(right + 1, min(w, right + 300)):
        if any(max(p[(y * w + x) * 3:(y * w + x) * 3 + 3]) < 90
               for y in range(by - 8, by + 9)):
            columns.append(x)
    icons, run = [], []
    for x in columns:
        if run and x - run[-1] > 6:
            icons.append(((run[0] + run[-1]) // 2, by))
            run = []
        run.append(x)
    if run:
        icons.append(((run[0] + run[-1]) // 2, by))
    return icons


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


def main(fake_server=True, tools=TOOLS):
    """Takes the programs off the command line, then runs the tests of
    the __main__ module (this one, or test-files.py without the fake
    server)."""
    global CLIENT, BROKER_TOOLS, FAKE_SERVER, ENV
    CLIENT = sys.argv.pop(1)
    BROKER_TOOLS = [sys.argv.pop(1) for _ in range(3)]
    if fake_server:
        FAKE_SERVER = sys.argv.pop(1)
    ENV = load_env()
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        print(f"1..0 # SKIP missing {', '.join(missing)} (tools/crp-deps)")
        sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
