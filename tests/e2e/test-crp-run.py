#!/usr/bin/env python3
"""test-crp-run.py: the README's run command, headless path, end to end.

    test-crp-run.py SOURCE_DIR BUILD_DIR

Runs `tools/crp-run --no-build --headless` (the build steps are what
tools/crp-test has just done) in a fresh state directory and checks what a
newcomer would: it succeeds, the screenshots, the sound and the usage
report exist and say the right things, and nothing is left running. Then
Ctrl-C in the middle of a run: everything stops, the usage is written.
Skips (77) when QEMU or the test guest are not built.
"""
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import wave

SRC, BUILD = (os.path.abspath(a) for a in sys.argv[1:3])
sys.path.insert(0, os.path.join(SRC, "tests", "qemu-crp-display", "integration"))
from crpvm import load_env  # noqa: E402


def qemus_of(state):
    """QEMU processes whose command line names @state."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if "qemu-system" in cmd and state in cmd:
            found.append(int(pid))
    return found


class RunCommand(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="crpr-", dir="/tmp")
        self.env = dict(os.environ, CRP_STATE=self.state)
        self.env.pop("DISPLAY", None)
        self.env.pop("WAYLAND_DISPLAY", None)

    def tearDown(self):
        for pid in qemus_of(self.state):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.state, ignore_errors=True)

    def usage_rows(self):
        with open(os.path.join(self.state, "usage.csv"), newline="") as f:
            return list(csv.DictReader(f))

    def test_headless_run(self):
        r = subprocess.run([os.path.join(SRC, "tools", "crp-run"), "--no-build",
                            "--headless"], env=self.env, capture_output=True,
                           text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("typed command reached the guest", r.stdout)
        self.assertIn("guest heard the microphone: freq=1000", r.stdout)
        out = os.path.join(self.state, "session")
        for name in ("1-shell.png", "2-shell-after-typing.png", "3-demo.png",
                     "4-demo-after-microphone.png"):
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", name)
        with wave.open(os.path.join(out, "demo-sound.wav")) as w:
            self.assertEqual(w.getframerate(), 48000)
            self.assertGreater(w.getnframes(), 48000)
        rows = self.usage_rows()
        self.assertEqual(sorted(r["app"] for r in rows), ["demo", "shell"])
        for row in rows:
            self.assertEqual(row["user"], "demo")
            self.assertGreater(int(row["frames"]), 0, row)
        self.assertEqual(qemus_of(self.state), [])
        self.assertFalse(os.path.exists(os.path.join(self.state,
                                                     "broker.sock")))

    def test_ctrl_c_stops_everything(self):
        p = subprocess.Popen([os.path.join(SRC, "tools", "crp-run"),
                              "--no-build", "--headless"], env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        deadline = time.monotonic() + 120
        while not qemus_of(self.state):
            self.assertIsNone(p.poll(), p.stdout.read() if p.poll() else "")
            self.assertLess(time.monotonic(), deadline, "no VM started")
            time.sleep(0.2)
        time.sleep(2)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 130, out)
        self.assertIn("interrupted: stopping everything", out)
        self.assertEqual(qemus_of(self.state), [], out)
        rows = self.usage_rows()
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["app"], "shell")


if __name__ == "__main__":
    del sys.argv[1:3]
    if load_env() is None:
        print("1..0 # SKIP QEMU or the test guest is not built")
        sys.exit(77)
    unittest.main(verbosity=2)
