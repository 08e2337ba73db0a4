"""A real crp-broker with the test guest published as an app, for the
crp-client tests: its own config, state (SQLite) and unix socket, users
and apps made with the real crp-admin.
"""

import json
import os
import signal
import subprocess
import time


class BrokerEnv:
    def __init__(self, root, guest_env, broker, admin, test_client,
                 vcpus=2, memory_mib=1024):
        self.root = root
        self.broker_bin, self.admin_bin, self.test_client = broker, admin, test_client
        self.sock = os.path.join(root, "broker.sock")
        self.address = f"unix:{self.sock}"
        self.conf = os.path.join(root, "broker.conf")
        self.state = os.path.join(root, "state")
        self.keys = os.path.join(root, "keys")
        os.makedirs(os.path.join(root, "images"))
        os.makedirs(self.keys)
        cache = os.environ.get("CRP_CACHE", os.path.expanduser("~/.cache/crp"))
        with open(self.conf, "w") as f:
            f.write(f"""[broker]
listen = unix:{self.sock}
address = tcp:broker.test:5930
state-dir = {self.state}
[compute]
vcpus = {vcpus}
memory-mib = {memory_mib}
[storage]
images-dir = {root}/images
[qemu]
env-file = {cache}/qemu-build.env
[sessions]
shutdown-grace-s = 2
""")
        self.guest = guest_env
        self.proc = None
        self.admin("init")

    def admin(self, *args):
        r = subprocess.run([self.admin_bin, "--config", self.conf, *args],
                           cwd=self.keys, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"crp-admin {' '.join(args)}: {r.stderr}")
        return r.stdout

    def add_user(self, user):
        path = os.path.join(self.keys, user + ".key")
        self.admin("user", "add", user, "--key-file", path)
        return path

    def publish_guest(self, name, title, mode="demo", append=""):
        """The test guest as an app: std VGA, TCG, the demo or the shell."""
        cmdline = f"{self.guest['GUEST_APPEND']} crp.mode={mode} {append}".strip()
        self.admin("app", "publish", name, "--title", title,
                   "--description", f"the test guest ({mode})",
                   "--kernel", self.guest["GUEST_KERNEL"],
                   "--initrd", self.guest["GUEST_INITRD"],
                   "--vcpus", "1", "--memory", "256", "--audio",
                   "--qemu-options", f"-accel tcg -vga std -append '{cmdline}'")

    def client(self, key, *commands):
        """crp-broker-test-client: requests without a GUI (setup only)."""
        r = subprocess.run([self.test_client, key, self.address, *commands],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"{commands}: {r.stdout}{r.stderr}")
        return r.stdout

    def start(self):
        self.log = open(os.path.join(self.root, "broker.log"), "ab")
        self.proc = subprocess.Popen([self.broker_bin, "--config", self.conf],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"crp-broker did not start: {self.log_text()}")
            time.sleep(0.05)

    def stop(self):
        """SIGTERM: the broker goes, its VMs stay (they are adopted on the
        next start)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass

    def log_text(self):
        with open(os.path.join(self.root, "broker.log"), errors="replace") as f:
            return f.read()

    def sessions(self):
        return json.loads(self.admin("session", "list", "--json"))

    def pools(self):
        return json.loads(self.admin("pool", "status", "--json"))

    def console_logs(self):
        """Every VM's serial console so far (the broker writes them)."""
        text = ""
        for dirpath, _, files in os.walk(self.state):
            for name in files:
                if name == "console.log":
                    with open(os.path.join(dirpath, name), errors="replace") as f:
                        text += f.read()
        return text

    def sessions_left(self):
        """QEMU pids of the sessions still live."""
        return [s["qemu_pid"] for s in self.sessions() if s.get("qemu_pid")]
