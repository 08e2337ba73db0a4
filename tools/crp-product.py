#!/usr/bin/env python3
"""crp-product: runs the product for tools/crp-run, on an embedded SQLite
database in a local state directory.

    crp-product.py STATE_DIR BUILD_DIR [--headless]

1. Sets up the broker's state once: configuration, broker key, database,
   the demo apps ("shell": the test guest's shell; "demo": an animation
   with sound that echoes the microphone's pitch), a demo user with its key
   file, subscribed to both.
2. Starts crp-broker.
3. With a display (and without --headless) opens crp-client, logged in with
   the demo key: the person at the screen takes it from there. Otherwise
   runs the headless client through the whole flow: log in, open the
   shell, screenshot, type a command, screenshot, close; open the demo,
   record its sound, speak into its microphone, screenshot, close.
4. Waits for every session to end, stops the broker and writes the usage
   report. Ctrl-C does the same at any point: no QEMU is left running and
   the usage is written.
"""
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "qemu-crp-display", "integration"))
from crpvm import load_env  # noqa: E402

USER = "demo"


def say(text):
    print(text, flush=True)


class Product:
    def __init__(self, state, build):
        self.state = os.path.abspath(state)
        self.build = os.path.abspath(build)
        self.out = os.path.join(self.state, "session")
        self.conf = os.path.join(self.state, "broker.conf")
        self.sock = os.path.join(self.state, "broker.sock")
        self.key = os.path.join(self.state, f"{USER}.crpkey")
        self.log = os.path.join(self.state, "broker.log")
        self.admin_bin = os.path.join(self.build, "broker/admin/crp-admin")
        self.broker_bin = os.path.join(self.build, "broker/daemon/crp-broker")
        self.client_bin = os.path.join(self.build, "clients/gtk/crp-client")
        self.headless_bin = os.path.join(self.build,
                                         "clients/headless/crp-headless")
        self.broker = None
        os.makedirs(self.out, exist_ok=True)

    # ---- state -------------------------------------------------------

    def admin(self, *args, check=True):
        r = subprocess.run([self.admin_bin, "--config", self.conf, *args],
                           capture_output=True, text=True, cwd=self.state)
        if check and r.returncode != 0:
            sys.exit(f"crp-run: crp-admin {' '.join(args)} failed:\n"
                     f"{r.stdout}{r.stderr}")
        return r

    def set_up(self, env):
        cache = os.environ.get("CRP_CACHE", os.path.expanduser("~/.cache/crp"))
        with open(self.conf, "w") as f:
            f.write(f"""# Written by tools/crp-run: the demo broker's configuration.
[broker]
listen = unix:{self.sock}
address = unix:{self.sock}
state-dir = {os.path.join(self.state, "broker")}
[qemu]
env-file = {os.path.join(cache, "qemu-build.env")}
# TCG, never KVM here: the build and test machines have a /dev/kvm in
# which nested guests hang. On a host with working KVM say kvm:tcg (the
# broker's default) for guests at native speed.
accel = tcg
[sessions]
shutdown-grace-s = 5
idle-timeout-s = 900
""")
        if not os.path.exists(os.path.join(self.state, "broker", "crp.db")):
            self.admin("init")
        apps = {a["name"] for a in json.loads(
            self.admin("app", "list", "--all", "--json").stdout)}
        for name, mode, title, desc in (
                ("shell", "shell", "Guest shell",
                 "A Linux shell in a small VM: type commands."),
                ("demo", "demo", "Demo animation",
                 "An animation with a tone; it shows the pitch your "
                 "microphone hears.")):
            if name in apps:
                continue
            append = f"{env['GUEST_APPEND']} crp.mode={mode}"
            self.admin("app", "publish", name, "--title", title,
                       "--description", desc, "--kernel", env["GUEST_KERNEL"],
                       "--initrd", env["GUEST_INITRD"], "--qemu-options",
                       f"-append '{append}'", "--vcpus", "1", "--memory", "256")
        if not os.path.exists(self.key):
            users = {u["id"] for u in json.loads(
                self.admin("user", "list", "--json").stdout)}
            verb = "rotate" if USER in users else "add"
            self.admin("user", verb, USER, "--key-file", self.key)
        self.admin("user", "subscribe", USER, "shell", "demo")

    # ---- the broker --------------------------------------------------

    def start_broker(self):
        self.broker_log = open(self.log, "ab")
        self.broker = subprocess.Popen([self.broker_bin, "--config", self.conf],
                                       stdout=self.broker_log,
                                       stderr=self.broker_log,
                                       start_new_session=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            if self.broker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"crp-run: crp-broker did not start; see {self.log}")
            time.sleep(0.05)

    def live_sessions(self):
        r = self.admin("session", "list", "--json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else []

    def stop(self):
        """Ends every session (powerdown, grace, quit, kill), then the
        broker, then writes the usage report. Only for a broker this run
        started: another run's sessions are not ours to end."""
        if self.broker is None:
            return None
        live = self.live_sessions()
        for s in live:
            if s["state"] != "closing":
                self.admin("session", "terminate", s["id"], check=False)
        if live:
            say(f"closing {len(live)} session(s) ...")
        deadline = time.monotonic() + 60
        while self.live_sessions() and time.monotonic() < deadline:
            time.sleep(0.3)
        if self.broker and self.broker.poll() is None:
            self.broker.send_signal(signal.SIGTERM)
            try:
                self.broker.wait(15)
            except subprocess.TimeoutExpired:
                self.broker.kill()
        # A session the broker could not close (it should not happen):
        # kill its QEMU rather than leave it running.
        for s in self.live_sessions():
            if s.get("qemu_pid") and self.owns(s):
                try:
                    os.kill(s["qemu_pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
        usage = os.path.join(self.state, "usage.txt")
        with open(usage, "w") as f:
            f.write(self.admin("usage", "--by", "user,app").stdout)
        with open(os.path.join(self.state, "usage.csv"), "w") as f:
            f.write(self.admin("usage", "--csv").stdout)
        return usage

    def owns(self, session):
        """TRUE if @session's pid is still its QEMU (not a recycled pid)."""
        try:
            with open(f"/proc/{session['qemu_pid']}/cmdline", "rb") as f:
                return session["id"].encode() in f.read()
        except OSError:
            return False

    # ---- clients -----------------------------------------------------

    def headless(self, app, script):
        """Opens @app, waits for its guest to be ready, then attaches
        again (a fresh one-time ticket) and runs @script."""
        opened = subprocess.run([self.headless_bin, "--key", self.key,
                                 "--open", app, "--run", "wait-frames 1; quit"],
                                capture_output=True, text=True)
        sid = None
        for line in opened.stdout.splitlines():
            if line.startswith("session "):
                sid = line.split()[1]
        if opened.returncode != 0 or not sid:
            sys.exit(f"crp-run: opening {app} failed (exit "
                     f"{opened.returncode}):\n{opened.stdout}{opened.stderr}")
        deadline = time.monotonic() + 120
        while "CRP-GUEST-READY" not in self.console(sid):
            if time.monotonic() > deadline:
                sys.exit(f"crp-run: the {app} guest did not start; see its "
                         f"console in {self.state}/broker/logs")
            time.sleep(0.2)
        stats = os.path.join(self.out, f"{app}-stats.json")
        r = subprocess.run([self.headless_bin, "--key", self.key, "--attach",
                            sid, "--timeout", "120", "--stats", stats,
                            "--run", script], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"crp-run: the headless client failed on {app} "
                     f"(exit {r.returncode}):\n{r.stdout}{r.stderr}")
        with open(stats) as f:
            return json.load(f)

    def console(self, sid):
        for path in (os.path.join(self.state, "broker", "run", sid,
                                  "console.log"),
                     os.path.join(self.state, "broker", "logs",
                                  f"{sid}-console.log")):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    return f.read()
        return ""

    def run_headless(self):
        o = self.out
        say("opening the guest shell through the broker (the VM boots in a "
            "few seconds) ...")
        shell = self.headless("shell", "; ".join([
            "wait-frames 2", f"screenshot {o}/1-shell.png",
            r"type echo hello from CRP, 6*7=$((6*7)) | tee /dev/ttyS0\n",
            "sleep 1500", f"screenshot {o}/2-shell-after-typing.png",
            "close-app"]))
        typed = "6*7=42" in self.console(shell["session"])
        mic = os.path.join(o, "mic-1000hz.wav")
        write_tone(mic, 1000, 3)
        say("opening the demo app: sound, microphone ...")
        demo = self.headless("demo", "; ".join([
            "wait-frames 3", "key 30", "click 640 600",
            "sleep 800", f"screenshot {o}/3-demo.png",
            f"record-start {o}/demo-sound.wav", "sleep 2500", "record-stop",
            f"mic {mic}", "sleep 1500",
            f"screenshot {o}/4-demo-after-microphone.png", "close-app"]))
        heard = [line for line in self.console(demo["session"]).splitlines()
                 if line.startswith("CRP-MIC freq=1")]
        return shell, demo, typed, heard

    def run_gui(self):
        say("opening crp-client (close its window to stop) ...")
        return subprocess.call([self.client_bin, "--key", self.key])


def write_tone(path, freq, seconds):
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"".join(
            struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / 48000))) * 2
            for i in range(int(48000 * seconds))))


def main():
    state, build = sys.argv[1], sys.argv[2]
    headless = "--headless" in sys.argv[3:] or not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    env = load_env()
    if env is None:
        sys.exit("crp-run: QEMU or the test guest is not built")
    p = Product(state, build)
    if os.path.exists(p.sock):
        # Another crp-run on this state? (Its broker holds the state lock.)
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(p.sock)
            sys.exit(f"crp-run: a broker already runs on {p.state}; stop "
                     "that run first")
        except OSError:
            pass
    p.set_up(env)
    # Ctrl-C and SIGTERM end the run the orderly way (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    try:
        p.start_broker()
        say(f"broker running (state in {p.state}/broker, log {p.log})")
        if headless:
            shell, demo, typed, heard = p.run_headless()
        else:
            p.run_gui()
    except KeyboardInterrupt:
        say("\ninterrupted: stopping everything ...")
        usage = p.stop()
        say(f"stopped; usage report: {usage}")
        sys.exit(130)
    except BaseException:
        p.stop()
        raise
    usage = p.stop()
    if not headless:
        say(f"stopped; usage report: {usage}")
        return
    o = p.out
    with open(usage) as f:
        report = f.read()
    say(f"""
done: two apps opened, used and closed through the broker.
  shell: {shell['frames']} frames, typed command {'reached the guest' if typed else 'NOT seen on the console'}
  demo:  {demo['frames']} frames, input-to-screen latency {demo['input_latency_ms']:.0f} ms,
         guest heard the microphone: {heard[-1].split()[1] if heard else 'no'}

  screenshots: {o}/1-shell.png
               {o}/2-shell-after-typing.png
               {o}/3-demo.png
               {o}/4-demo-after-microphone.png
  guest sound: {o}/demo-sound.wav
  usage:       {usage} (and usage.csv)

{report}""")
    if not typed or not heard:
        sys.exit("crp-run: the session did not do what it should (see above)")


if __name__ == "__main__":
    main()
