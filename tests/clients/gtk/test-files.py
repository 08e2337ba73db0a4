#!/usr/bin/env python3
"""crp-client's My files under Xvfb, against the real crp-broker (which
starts the test guest as the app "demo"): the Files window lists, uploads
(the file chooser driven by keys, as a user would), downloads and deletes,
shows folders first and moves in and out of them;
a file dropped on a session window lands in My files; a file over the
quota is refused in words.

Files are checked byte for byte where the broker keeps them (found by
name under its root: the test does not depend on the layout) and where
the client saved them.

The drop is a real X drag and drop (XDND): a small GTK 4 drag source
(tests/clients/gtk/drag-source.py, run by the system's python3 with
PyGObject) is dragged onto the session window with xdotool's pointer
(XTEST), so GTK's own drop path runs.

Usage: test-files.py CRP_CLIENT CRP_BROKER CRP_ADMIN CRP_BROKER_TEST_CLIENT
                     [unittest args]
Skips (exit 77) without Xvfb, xwd, convert or xdotool; the classes skip
without QEMU and the test guest. With CRP_FILES_SCREENSHOT=PATH.png, the
drop test saves the Files window next to the session there (docs/).
"""

import importlib.util
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "qemu-crp-display", "integration"))
from crpvm import load_env  # noqa: E402

# test-client.py's Client and xdotool helpers, one copy for both files.
_spec = importlib.util.spec_from_file_location("test_client",
                                               os.path.join(HERE, "test-client.py"))
tc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tc)
Client, xdotool, visible_windows = tc.Client, tc.xdotool, tc.visible_windows

# PyGObject with GTK 4: Debian's python3 has it (python3-gi), a pyenv one
# may not.
GI_PYTHON = next((p for p in ("/usr/bin/python3", sys.executable)
                  if os.path.exists(p) and subprocess.run(
                      [p, "-c", "import gi; gi.require_version('Gtk', '4.0')"],
                      capture_output=True).returncode == 0), None)


@unittest.skipIf(load_env() is None, "QEMU or the test guest is not built "
                 "(qemu-crp-display/build-qemu, tests/guest/build-guest)")
class MyFiles(tc.BrokerTest):
    # Wide: the Files window fits next to the demo's session window (the
    # screenshot), the drag source below both.
    SCREEN = "2000x1200"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.local = os.path.join(cls.tmp.name, "local")
        os.makedirs(cls.local)

    def setUp(self):
        super().setUp()
        self.drag = None

    def tearDown(self):
        if self.drag:
            tc.stop_process(self.drag)
        super().tearDown()

    # ---- helpers -------------------------------------------------------

    def log_line(self, pattern, after=0, timeout=60):
        """The client's first log line from @after on that matches @pattern."""
        return self.wait_until(f"no {pattern!r} in the client's log",
                               lambda: re.search(pattern, self.client.log()[after:]),
                               timeout)

    def listing(self, after=0):
        """The latest listing of the top of My files from @after on (once
        there is one): (names, the usage line)."""
        pattern = r"files: '': \d+ entries \[([^\]]*)\]; ([^\n]*)"
        self.log_line(pattern, after)
        m = list(re.finditer(pattern, self.client.log()[after:]))[-1]
        return m.group(1).split(", ") if m.group(1) else [], m.group(2)

    def mark(self):
        return len(self.client.log())

    def in_area(self, name):
        """The bytes of the file @name in the broker's files area (its
        only file of that name under the broker's root), or None."""
        found = [os.path.join(d, name) for d, _, files in os.walk(self.broker.root)
                 if name in files and not d.startswith(self.local)]
        self.assertLessEqual(len(found), 1, found)
        if not found:
            return None
        with open(found[0], "rb") as f:
            return f.read()

    def local_file(self, name, size):
        path = os.path.join(self.local, name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        return path

    def window(self, name):
        return xdotool(self.x, "search", "--sync", "--onlyvisible", "--name",
                       name).split()[0]

    def start(self):
        """crp-client logged in as alice; returns its main window."""
        self.client = Client(self.x, self.tmp.name,
                             ["--key", self.key, "--broker", self.broker.address],
                             XDG_CONFIG_HOME=os.path.join(self.tmp.name, "config-files"),
                             # The file chooser keeps its settings; no
                             # dconf (and no session bus) here.
                             GSETTINGS_BACKEND="memory")
        return self.window("^CRP .* alice$")

    def open_files(self, main):
        """Ctrl+F in the main window: the Files window, once it listed."""
        at = self.mark()
        self.keys(main, "ctrl+f")
        files = self.window("^My files — CRP$")
        self.listing(at)
        return files

    def choose(self, title, path, save=False):
        """Answers the file chooser @title with @path: typed into its
        location (open) or name (save) entry, then Enter."""
        dialog = self.window(f"^{title}$")
        xdotool(self.x, "windowfocus", "--sync", dialog)
        time.sleep(0.5)
        if save:
            xdotool(self.x, "key", "ctrl+a")
        else:
            xdotool(self.x, "key", "ctrl+l")
        time.sleep(0.3)
        xdotool(self.x, "type", "--delay", "20", path)
        time.sleep(0.3)
        xdotool(self.x, "key", "Return")

    # ---- tests ---------------------------------------------------------

    def test_upload_list_download_and_delete(self):
        data_path = self.local_file("report.bin", 3 * 1024 * 1024 + 12345)
        with open(data_path, "rb") as f:
            data = f.read()
        main = self.start()
        files = self.open_files(main)

        # Upload…: the chooser, the transfer, then the listing shows it.
        at = self.mark()
        self.keys(files, "alt+u")
        self.choose("Upload to My files", data_path)
        self.log_line(rf"files: upload report.bin done \({len(data)} bytes\)", at)
        self.assertEqual(self.in_area("report.bin"), data)
        names, usage = self.wait_until(
            "the listing does not show report.bin",
            lambda: (lambda n: n if "report.bin" in n[0] else None)(self.listing(at)))
        # The quota line counts it (and what other tests left); a no-break
        # space between number and unit.
        m = re.fullmatch(r"([\d.]+)\s([KMG])iB of 64\.0\sMiB used", usage)
        self.assertIsNotNone(m, usage)
        used = float(m.group(1)) * 1024 ** " KMG".index(m.group(2))
        self.assertGreaterEqual(used, len(data) * 0.95, usage)

        # Download…: the file that arrived is selected; the chooser saves
        # it elsewhere, identical.
        out = os.path.join(self.local, "saved.bin")
        at = self.mark()
        self.keys(files, "alt+d")
        self.choose("Download from My files", out, save=True)
        self.log_line(rf"files: download report.bin done \({len(data)} bytes\)", at)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertFalse(os.path.exists(out + ".part"))

        # Delete, confirmed: gone from the area and the listing.
        at = self.mark()
        self.keys(files, "alt+l")
        confirm = self.window("^Delete from My files$")
        self.keys(confirm, "alt+d")
        self.log_line(r"files: deleting report.bin", at)
        self.wait_until("report.bin is still listed",
                        lambda: "report.bin" not in self.listing(at)[0])
        self.assertIsNone(self.in_area("report.bin"))

    def files_script(self, script):
        """My files commands through crp-client --headless (another
        client of the same user)."""
        r = subprocess.run([tc.CLIENT, "--headless", "--key", self.key, "--broker",
                            self.broker.address, "--run", script],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_folders_first_enter_and_up(self):
        # A folder made by another client (the broker creates the parent
        # of what it uploads).
        inner = self.local_file("inner.txt", 1000)
        self.files_script(f"files-upload {inner} zz-folder/inner.txt; "
                          f"files-upload {inner} aa-top.txt")
        main = self.start()
        at = self.mark()
        files = self.open_files(main)
        names = self.listing(at)[0]
        # The folder comes first although its name sorts last.
        self.assertEqual(names[0], "zz-folder/", names)
        self.assertIn("aa-top.txt", names)
        # The keyboard is on the first row: Enter opens the folder...
        at = self.mark()
        self.keys(files, "Return")
        m = self.log_line(r"files: 'zz-folder': \d+ entries \[([^\]]*)\]", at)
        self.assertEqual(m.group(1), "inner.txt")
        # ... and Alt+Up goes back.
        at = self.mark()
        self.keys(files, "alt+Up")
        self.assertEqual(self.listing(at)[0][0], "zz-folder/")
        self.files_script("files-delete zz-folder/inner.txt; files-delete zz-folder; "
                          "files-delete aa-top.txt")

    def test_a_file_over_the_quota_is_refused_in_words(self):
        big = self.local_file("huge.bin", 65 * 1024 * 1024)
        main = self.start()
        files = self.open_files(main)
        at = self.mark()
        self.keys(files, "alt+u")
        self.choose("Upload to My files", big)
        # The row's words: the headline, then the broker's explanation.
        self.log_line(r"files: upload huge.bin failed: Not enough room in My files: ", at)
        self.assertIsNone(self.in_area("huge.bin"))
        self.assertIsNone(self.client.proc.poll())

    @unittest.skipIf(GI_PYTHON is None, "no python3 with PyGObject and GTK 4 "
                     "(python3-gi, gir1.2-gtk-4.0) for the drag source")
    def test_a_drop_on_the_session_window_uploads(self):
        dropped = self.local_file("dropped.bin", 200 * 1024 + 7)
        with open(dropped, "rb") as f:
            data = f.read()
        main = self.start()
        self.keys(main, "ctrl+1", "Return")
        self.wait_until("the app did not open",
                        lambda: [s["state"] for s in self.broker.sessions()] == ["running"]
                        and visible_windows(self.x, "^demo .* CRP$"))
        session = self.window("^demo .* CRP$")
        self.wait_until("the guest is not up",
                        lambda: "CRP-GUEST-READY" in self.broker.console_logs())

        # The drag source, away from the session window; then a drag from
        # it onto the session's picture, as a hand would.
        self.drag = subprocess.Popen(
            [GI_PYTHON, os.path.join(HERE, "drag-source.py"), dropped],
            env=self.x.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        source = self.window("^drag-source$")
        xdotool(self.x, "windowraise", session)
        xdotool(self.x, "windowmove", "--sync", source, "1700", "1000")
        xdotool(self.x, "windowraise", source)
        at = self.mark()
        xdotool(self.x, "mousemove", "--sync", "1800", "1050")
        xdotool(self.x, "mousedown", "1")
        for _ in range(10):
            xdotool(self.x, "mousemove_relative", "--", "-10", "-10")
            time.sleep(0.05)
        xdotool(self.x, "mousemove", "400", "300")
        time.sleep(0.3)
        xdotool(self.x, "mousemove", "420", "320")
        time.sleep(0.5)
        xdotool(self.x, "mouseup", "1")

        self.log_line(r"files: 1 dropped on the session: uploading to My files", at)
        self.log_line(rf"files: upload dropped.bin done \({len(data)} bytes\)", at)
        self.assertEqual(self.in_area("dropped.bin"), data)

        # The Files window from the session's menu (Shift+F10, My files)
        # lists it.
        at = self.mark()
        self.keys(session, "shift+F10")
        time.sleep(1.0)         # the popover maps and takes the keyboard
        xdotool(self.x, "key", "m")
        files = self.window("^My files — CRP$")
        self.wait_until("the Files window does not list dropped.bin",
                        lambda: "dropped.bin" in self.listing(at)[0])

        shot = os.environ.get("CRP_FILES_SCREENSHOT")
        if shot:
            tc.stop_process(self.drag)
            self.screenshot(shot, session, files)

    def screenshot(self, path, session, files):
        """The session and the Files window side by side, as PNG."""
        xdotool(self.x, "windowmove", "--sync", session, "0", "0")
        w, h = tc.window_size(self.x, session)
        xdotool(self.x, "windowmove", "--sync", files, str(w + 16), "0")
        fw, fh = tc.window_size(self.x, files)
        xdotool(self.x, "windowraise", files)
        time.sleep(1.5)
        self.x.screenshot("files-shot")
        ppm = os.path.join(self.tmp.name, "files-shot.ppm")
        subprocess.run(["convert", ppm, "-crop",
                        f"{w + 16 + fw}x{max(h, fh)}+0+0", "+repage", path], check=True)


if __name__ == "__main__":
    tc.main(fake_server=False, tools=("Xvfb", "xwd", "convert", "xdotool"))
