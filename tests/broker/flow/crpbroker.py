"""crpbroker.py: a real crp-broker with its own state, set up by the real
crp-admin, for tests that run whole sessions (real QEMU, real test guest).

    env = BrokerEnv(root, tools, qemu_env)
    env.start()
    key = env.add_user("alice")
    env.publish_guest("shell", mode="shell")
    ... crp-headless --key key --open shell ...
    env.stop()

Python 3 standard library only.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time


class BrokerEnv:
    """One state directory, one configuration, one crp-broker process.

    @tools: dict with the paths of crp-broker, crp-admin, crp-headless and
    crp-broker-test-client. @qemu_env: load_env()'s dict (qemu-build.env
    and guest.env). Unix socket paths must stay short: keep @root short.
    """

    def __init__(self, root, tools, qemu_env, vcpus=2, memory_mib=600,
                 grace_s=2, idle_timeout_s=0, quota_mib=64, address=None,
                 listen=None, config=""):
        """@address: what key files name as the broker (default: its
        socket; clients can always say --broker). @listen: tcp:HOST:PORT
        instead of the unix socket. @config: more configuration, appended
        (a group named again adds to it)."""
        self.root = root
        self.tools = tools
        self.qemu_env = qemu_env
        self.state = os.path.join(root, "s")
        self.sock = os.path.join(root, "b.sock")
        self.conf = os.path.join(root, "broker.conf")
        self.log = os.path.join(root, "broker.log")
        self.images = os.path.join(root, "img")
        self.listen = listen or f"unix:{self.sock}"
        os.makedirs(self.images, exist_ok=True)
        cache = os.environ.get("CRP_CACHE", os.path.expanduser("~/.cache/crp"))
        with open(self.conf, "w") as f:
            f.write(f"""[broker]
listen = {self.listen}
address = {address or self.listen}
state-dir = {self.state}
[compute]
vcpus = {vcpus}
memory-mib = {memory_mib}
[storage]
images-dir = {self.images}
user-quota-mib = {quota_mib}
[qemu]
env-file = {os.path.join(cache, "qemu-build.env")}
# /dev/kvm is there on the test machines but nested guests hang in it.
accel = tcg
[sessions]
shutdown-grace-s = {grace_s}
idle-timeout-s = {idle_timeout_s}
ticket-lifetime-s = 60
{config}""")
        self.proc = None
        self.logf = None
        self.admin("init")

    # ---- the daemon ----------------------------------------------------

    def start(self):
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.tools["broker"], "--config",
                                      self.conf], stdout=self.logf,
                                     stderr=self.logf)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"crp-broker exited: {self.text()}")
            # Connect, not just look: a broker killed with -9 leaves its
            # socket file behind until the next one replaces it.
            try:
                self.connect().close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("crp-broker did not start listening")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.logf:
            self.logf.close()
            self.logf = None

    def discard(self):
        """After a test: whatever it left running goes (QEMUs killed, the
        broker stopped), then the state, unless $CRP_KEEP_TEST_STATE."""
        for s in self.sessions():
            if s.get("qemu_pid"):
                try:
                    os.kill(s["qemu_pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.stop()
        if os.environ.get("CRP_KEEP_TEST_STATE"):
            print(f"# kept {self.root}", file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def connect(self):
        """A plain socket connected to the broker's listen address."""
        if self.listen.startswith("tcp:"):
            host, port = self.listen[4:].rsplit(":", 1)
            return socket.create_connection((host, int(port)), 5)
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(self.sock)
        except OSError:
            s.close()
            raise
        return s

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.logf.close()
        self.logf = None

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    # ---- crp-admin -----------------------------------------------------

    def admin(self, *args, expect=0):
        r = subprocess.run([self.tools["admin"], "--config", self.conf,
                            *args], cwd=self.root, capture_output=True,
                           text=True, timeout=60)
        if r.returncode != expect:
            raise AssertionError(f"crp-admin {' '.join(args)}: exit "
                                 f"{r.returncode}\n{r.stdout}{r.stderr}")
        return r.stdout

    def add_user(self, user):
        self.admin("user", "add", user, "--key-file",
                   os.path.join(self.root, f"{user}.key"))
        return os.path.join(self.root, f"{user}.key")

    def publish_guest(self, name, mode="shell", vcpus=1, memory=256,
                      extra=(), title=None, append="", qemu_options=""):
        """Publishes the test guest (crp.mode=@mode) as app @name;
        @append goes on its kernel command line, @qemu_options before it."""
        e = self.qemu_env
        cmdline = f"{e['GUEST_APPEND']} crp.mode={mode} {append}".strip()
        self.admin("app", "publish", name, "--title",
                   title or f"Test guest {mode}", "--kernel", e["GUEST_KERNEL"],
                   "--initrd", e["GUEST_INITRD"], "--qemu-options",
                   f"{qemu_options} -append '{cmdline}'".strip(), "--vcpus",
                   str(vcpus), "--memory", str(memory), *extra)

    def sessions(self, all=False):
        out = self.admin("session", "list", "--json", *(["--all"] if all
                                                         else []))
        return json.loads(out)

    def session(self, sid):
        for s in self.sessions(all=True):
            if s["id"] == sid:
                return s
        return None

    def usage_total(self):
        """Usage over everything: one row (sessions, duration_s, ...)."""
        rows = json.loads(self.admin("usage", "--json", "--by", "none"))
        return rows[0] if rows else {"sessions": 0}

    def pool(self):
        return json.loads(self.admin("pool", "status", "--json"))

    def wait_closed(self, sid, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.session(sid)
            if s and s["state"] == "closed":
                return s
            time.sleep(0.2)
        raise AssertionError(f"session {sid} did not close: "
                             f"{self.session(sid)}\n{self.text()}")

    def console(self, sid):
        """The guest's serial console: live, or kept after the session
        (the older part, console.log.1, first)."""
        for base in (os.path.join(self.state, "run", sid, "console.log"),
                     os.path.join(self.state, "logs", f"{sid}-console.log")):
            text = b""
            for path in (base + ".1", base):
                try:
                    with open(path, "rb") as f:
                        text += f.read()
                except FileNotFoundError:
                    pass
            if text:
                return text.decode(errors="replace")
        return ""

    def wait_console(self, sid, text, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.console(sid):
                return
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on session {sid}'s console: "
                             f"{self.console(sid)[-2000:]}")

    # ---- clients -------------------------------------------------------

    def headless(self, key, *args, run=None, timeout=90):
        """crp-headless in broker mode; returns (exit code, stdout+stderr,
        session id or None)."""
        cmd = [self.tools["headless"], "--key", key, "--broker",
               self.listen, "--timeout", str(timeout - 10), *args]
        if run:
            cmd += ["--run", run]
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
        sid = None
        for line in r.stdout.splitlines():
            if line.startswith("session "):
                sid = line.split()[1]
        return r.returncode, r.stdout + r.stderr, sid

    def requests(self, key, *commands):
        """crp-broker-test-client: one line per reply (see its header)."""
        r = subprocess.run([self.tools["test_client"], key, self.listen,
                            *commands], capture_output=True, text=True,
                           timeout=120)
        return r.returncode, r.stdout.splitlines()


def qemu_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def take_tools(tools):
    """Takes crp-broker, crp-admin, crp-headless and crp-broker-test-client
    from argv[1:5] into @tools (the rest is for unittest)."""
    for name, path in zip(("broker", "admin", "headless", "test_client"),
                          sys.argv[1:5]):
        tools[name] = os.path.abspath(path)
    del sys.argv[1:5]


def flow_test_setup(tools, load_env):
    """For a flow test's main(): take_tools(), then returns @load_env()'s
    QEMU and guest env; exits 77 (skip) when they are not built."""
    take_tools(tools)
    env = load_env()
    if env is None:
        print("1..0 # SKIP QEMU or the test guest is not built")
        sys.exit(77)
    return env
