#!/usr/bin/env python3
"""test-crp-broker.py: the real crp-broker against a temporary configuration
(unix socket), a real SQLite state set up with the real crp-admin, and
clients made of crp-broker-test-client (libcrp) and raw sockets.

Usage: test-crp-broker.py CRP_BROKER CRP_ADMIN CRP_BROKER_TEST_CLIENT
                          CRP_ADMIN_SEED

The steps share one state directory and run in order; each prints a TAP
line. Python 3 standard library only.
"""
import base64
import hashlib
import configparser
import os
import re
import signal
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import traceback

BROKER, ADMIN, CLIENT, SEED = (os.path.abspath(a) for a in sys.argv[1:5])

# Protocol status codes (docs/protocol.md section 6).
BAD_REQUEST, AUTH_FAILED, UNKNOWN_KEY, KEY_REVOKED = 1, 3, 4, 5
RATE_LIMITED, NO_SUCH_APP, NOT_SUBSCRIBED = 6, 7, 8
QUOTA_EXCEEDED = 10
NO_SUCH_SESSION, SESSION_ENDED, INTERNAL, TIMEOUT, SHUTDOWN = 11, 12, 13, 14, 15
SUBSCRIBED, AUDIO = 0x01, 0x02
HANDSHAKE_TIMEOUT_S = 2
# How the client shows the broker's refusals: crp_status_to_string() of the
# status, then the broker's message.
UNKNOWN_KEY_TEXT = "this key is not known to the broker"
KEY_REVOKED_TEXT = "this key has been revoked"
KEY_REVOKED_MESSAGE = ("this key was revoked or replaced by a newer one; "
                       "ask your administrator for a new key file")


def check(cond, message):
    if not cond:
        raise AssertionError(message)


class Broker:
    """One crp-broker process with its own config and socket."""

    def __init__(self, env, name, max_failures, tcp_port=None, state=None):
        self.env = env
        state = state or env.state
        self.sock = os.path.join(env.root, f"{name}.sock")
        self.tcp_port = tcp_port
        listen = (f"tcp:127.0.0.1:{tcp_port}" if tcp_port
                  else f"unix:{self.sock}")
        self.conf = os.path.join(env.root, f"{name}.conf")
        self.log = os.path.join(env.root, f"{name}.log")
        with open(self.conf, "w") as f:
            f.write(f"""[broker]
listen = {listen}
address = tcp:broker.test:5930
state-dir = {state}
[compute]
vcpus = 8
memory-mib = 8192
[storage]
images-dir = {env.images}
[qemu]
env-file = {env.root}/qemu-build.env
[login]
handshake-timeout-s = {HANDSHAKE_TIMEOUT_S}
max-failures-per-minute = {max_failures}
""")
        self.proc = None

    def start(self):
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen([BROKER, "--config", self.conf],
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            check(self.proc.poll() is None,
                  f"crp-broker exited {self.proc.returncode}: {self.text()}")
            if self.tcp_port:
                try:
                    socket.create_connection(("127.0.0.1", self.tcp_port),
                                             1).close()
                    return
                except OSError:
                    pass
            elif os.path.exists(self.sock):
                return
            time.sleep(0.05)
        raise AssertionError("crp-broker did not start listening")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None


class Env:
    def __init__(self, root):
        self.root = root
        self.state = os.path.join(root, "state")
        self.images = os.path.join(root, "images")
        self.keys = os.path.join(root, "keys")
        self.db = os.path.join(self.state, "crp.db")
        os.makedirs(self.images)
        os.makedirs(self.keys)
        with open(os.path.join(self.images, "disk.qcow2"), "wb") as f:
            f.write(b"\0" * 16)
        self.broker = Broker(self, "broker", 0)
        self.secrets = []       # base64 secret keys: must never be logged

    def admin(self, *args, expect=0):
        r = subprocess.run([ADMIN, "--config", self.broker.conf] + list(args),
                           cwd=self.keys, capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == expect,
              f"crp-admin {' '.join(args)}: exit {r.returncode}\n{r.stderr}")
        return r

    def seed(self, *args):
        r = subprocess.run([SEED, self.db] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, (args, r.stdout, r.stderr))

    def key(self, name):
        return os.path.join(self.keys, name)

    def add_user(self, user):
        self.admin("user", "add", user, "--key-file", self.key(user + ".key"))
        self.secrets.append(read_key(self.key(user + ".key"))["secret-key"])

    def client(self, key, *commands, sock=None, address=None, expect=0):
        address = address or "unix:" + (sock or self.broker.sock)
        r = subprocess.run([CLIENT, key, address]
                           + list(commands), capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == expect,
              f"client {' '.join(commands)}: exit {r.returncode}, "
              f"expected {expect}\nstdout: {r.stdout}\nstderr: {r.stderr}")
        return r.stdout.splitlines()


def read_key(path):
    cp = configparser.ConfigParser(interpolation=None)
    with open(path) as f:
        cp.read_file(f)
    return dict(cp["crp-user-key"])


def write_key(path, fields):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
              "w") as f:
        f.write("[crp-user-key]\n")
        for k, v in fields.items():
            f.write(f"{k}={v}\n")


def replies(lines):
    """Parses the client's output into (kind, fields, entries) tuples."""
    out = []
    for line in lines:
        head, _, rest = line.partition(" ")
        if head in ("app", "session"):
            name, _, attrs = rest.partition(" ")
            out[-1][2].append((name, attrs))
        else:
            out.append((head, rest, []))
    return out


def apps_of(reply):
    """APP_LIST entries as {name: flags}."""
    check(reply[0] == "APP_LIST", f"not an APP_LIST: {reply}")
    result = {}
    for name, attrs in reply[2]:
        fields = dict(a.split("=", 1) for a in attrs.split(" ")
                      if "=" in a and not a.startswith("title"))
        result[name] = int(fields["flags"])
    count = int(reply[1].split("count=")[1])
    check(count == len(result), f"count {count} != entries {len(result)}")
    return result


def read_frames(sock, timeout):
    """Reads until EOF; returns (frames, seconds until EOF)."""
    start = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    elapsed = time.monotonic() - start
    frames = []
    while len(data) >= 4:
        n = struct.unpack(">I", data[:4])[0]
        frames.append(data[4:4 + n])
        data = data[4 + n:]
    return frames, elapsed


def reject_status(frame):
    check(len(frame) >= 3 and frame[0] == 0x02, f"not a REJECT: {frame!r}")
    return struct.unpack(">H", frame[1:3])[0]


def raw_connect(env):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(env.broker.sock)
    return s


# --------------------------------------------------------------------------
# Steps

def step_setup(env):
    env.admin("init")
    for user in ("alice", "bob", "carol", "dave"):
        env.add_user(user)
    env.admin("app", "publish", "desktop", "--title", "Desktop", "--disk",
              "disk.qcow2", "--vcpus", "2", "--memory", "1024")
    env.admin("app", "publish", "shell", "--title", "Shell", "--disk",
              "disk.qcow2", "--no-audio")
    env.admin("app", "publish", "old", "--title", "Old", "--disk",
              "disk.qcow2")
    env.admin("app", "unpublish", "old")
    env.broker.start()


def step_login(env):
    lines = env.client(env.key("alice.key"))
    check(lines and lines[0].startswith("ready software=crp-broker"), lines)
    # Logged when the client's first record (here its BYE) arrives, which
    # may be after the client is gone.
    deadline = time.monotonic() + 5
    while "event=login " not in env.broker.text() and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    check("event=login " in env.broker.text() and "user=alice" in
          env.broker.text(), "no login log line")


def step_catalog(env):
    r = replies(env.client(env.key("alice.key"), "catalog"))
    apps = apps_of(r[1])
    check(apps == {"desktop": AUDIO, "shell": 0}, f"catalog: {apps}")
    check("vcpus=2 memory=1024 title=Desktop" in r[1][2][0][1], r[1][2])


def step_subscribe(env):
    r = replies(env.client(env.key("alice.key"), "subscribe:desktop",
                           "subscribe:desktop", "my-apps", "catalog"))
    check(r[1][0] == "OK" and r[1][1] == "id=103", f"subscribe: {r[1]}")
    check(r[2][0] == "OK", f"subscribe again: {r[2]}")
    check(apps_of(r[3]) == {"desktop": SUBSCRIBED | AUDIO}, f"my-apps {r[3]}")
    check(apps_of(r[4]) == {"desktop": SUBSCRIBED | AUDIO, "shell": 0},
          f"catalog {r[4]}")
    # Another user's view is its own.
    r = replies(env.client(env.key("dave.key"), "catalog", "my-apps"))
    check(apps_of(r[1]) == {"desktop": AUDIO, "shell": 0}, f"dave {r[1]}")
    check(apps_of(r[2]) == {}, f"dave's apps {r[2]}")


def step_subscribe_errors(env):
    r = replies(env.client(env.key("alice.key"), "subscribe:nope",
                           "subscribe:old", "subscribe:Bad Name!",
                           "unsubscribe:nope"))
    for reply, name in zip(r[1:], ("nope", "old", None, "nope")):
        check(reply[0] == "ERROR", f"not an error: {reply}")
        check(f"code={NO_SUCH_APP} " in reply[1], f"code: {reply}")
        check("no such app in the catalog" in reply[1], f"message: {reply}")
        if name:
            check(reply[1].endswith(": " + name), f"name: {reply}")


def step_unsubscribe(env):
    r = replies(env.client(env.key("alice.key"), "unsubscribe:desktop",
                           "my-apps", "catalog", "unsubscribe:desktop"))
    check(r[1][0] == "OK", f"unsubscribe: {r[1]}")
    check(apps_of(r[2]) == {}, f"my-apps after unsubscribe: {r[2]}")
    check(apps_of(r[3]) == {"desktop": AUDIO, "shell": 0}, f"catalog {r[3]}")
    check(r[4][0] == "OK", f"unsubscribe twice: {r[4]}")


def step_sessions(env):
    now = int(time.time())
    env.seed("session", "s-alice-1", "alice", "desktop", "running", now - 60)
    env.seed("session", "s-alice-2", "alice", "shell", "starting", now - 30)
    env.seed("session", "s-alice-3", "alice", "shell", "running", now - 20)
    env.seed("close", "s-alice-3", now - 10)
    env.seed("session", "s-dave-1", "dave", "desktop", "running", now - 5)
    r = replies(env.client(env.key("alice.key"), "sessions"))
    check(r[1][0] == "SESSIONS" and "count=2" in r[1][1], f"sessions {r[1]}")
    got = {name: attrs for name, attrs in r[1][2]}
    check(got == {"s-alice-1": "app=desktop state=2",
                  "s-alice-2": "app=shell state=1"}, f"sessions {got}")
    r = replies(env.client(env.key("bob.key"), "sessions"))
    check(r[1][1].endswith("count=0") and not r[1][2], f"bob {r[1]}")


def step_session_requests(env):
    """The session requests' refusals, without a QEMU (the env-file names
    none here): the whole flow with a real VM is test-broker-flow.py's."""
    r = replies(env.client(env.key("alice.key"), "launch:nosuch",
                           "launch:desktop", "subscribe:desktop",
                           "launch:desktop", "close:s-alice-1",
                           "close:s-alice-3", "close:s-dave-1",
                           "sessions", "unsubscribe:desktop", "catalog"))
    check(r[1][0] == "ERROR" and f"code={NO_SUCH_APP} " in r[1][1], r[1])
    check(r[2][0] == "ERROR" and f"code={NOT_SUBSCRIBED} " in r[2][1], r[2])
    check(r[4][0] == "ERROR" and f"code={INTERNAL} " in r[4][1] and
          "could not be started" in r[4][1], f"launch without QEMU: {r[4]}")
    # Sessions this broker does not run are not the user's to close; a
    # closed one has ended; someone else's does not exist for alice.
    check(r[5][0] == "ERROR" and f"code={NO_SUCH_SESSION} " in r[5][1], r[5])
    check(r[6][0] == "ERROR" and f"code={SESSION_ENDED} " in r[6][1], r[6])
    check(r[7][0] == "ERROR" and f"code={NO_SUCH_SESSION} " in r[7][1], r[7])
    # The failed launch left nothing live behind.
    got = {name for name, _ in r[8][2]}
    check(got == {"s-alice-1", "s-alice-2"}, f"sessions after: {got}")
    check(r[10][0] == "APP_LIST", "connection unusable after an ERROR")


def step_user_limits(env):
    """The user's own limits, decided in the launch transaction: alice
    holds s-alice-1 (desktop, 2 vCPUs, 1024 MiB) and s-alice-2 (shell, 1
    vCPU, 1024 MiB). Refusals are QUOTA_EXCEEDED with what is used up."""
    alice = env.key("alice.key")

    def launch_desktop(key=alice):
        r = replies(env.client(key, "subscribe:desktop", "launch:desktop"))
        return r[2]

    cases = (
        (("--sessions", "2"), "2 sessions open and may have at most 2"),
        (("--sessions", "0", "--vcpus", "4"),
         "desktop needs 2 vCPUs and your sessions hold 3 of your 4"),
        (("--vcpus", "0", "--memory", "2560"),
         "desktop needs 1024 MiB and your sessions hold 2048 of your 2560"),
    )
    for args, message in cases:
        env.admin("user", "limits", "alice", *args)
        reply = launch_desktop()
        check(reply[0] == "ERROR" and f"code={QUOTA_EXCEEDED} " in reply[1] and
              message in reply[1], f"{args}: {reply}")
    check("event=launch-refused user=alice app=desktop status=QUOTA_EXCEEDED"
          in env.broker.text(), "refusal not logged")
    # Another user is not limited by alice's limits.
    reply = launch_desktop(env.key("dave.key"))
    check(reply[0] == "ERROR" and f"code={INTERNAL} " in reply[1], reply)
    # Within the limits again: the launch gets as far as starting QEMU
    # (none here: INTERNAL), and nothing live is left by any of it.
    env.admin("user", "limits", "alice", "--memory", "4096")
    reply = launch_desktop()
    check(reply[0] == "ERROR" and f"code={INTERNAL} " in reply[1], reply)
    r = replies(env.client(alice, "sessions", "unsubscribe:desktop"))
    got = {name for name, _ in r[1][2]}
    check(got == {"s-alice-1", "s-alice-2"}, f"sessions after: {got}")
    env.admin("user", "limits", "alice", "--memory", "default")


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def step_my_files(env):
    """My files over the broker channel (protocol 5.6) with a scripted
    client: resume across connections, wrong offsets, bad paths, links and
    FIFOs a guest could leave, the quota, the capability, and a client that
    asks for far more than it reads."""
    alice = env.key("alice.key")
    area = os.path.join(env.state, "files", "alice")
    uploads = os.path.join(env.state, "files", ".uploads", "alice")
    lines = env.client(alice, "upload-begin:5:docs%2Fa.txt",
                       "upload-data:5:0:hel:docs%2Fa.txt")
    check("files=1" in lines[0], lines)
    check(lines[1:] == [f"UPLOAD_READY id=103 offset=0", "OK id=104"], lines)
    check(not os.path.exists(os.path.join(area, "docs", "a.txt")),
          "a partial upload is visible in the area")
    # A new connection resumes where the broker stands; a chunk elsewhere
    # changes nothing.
    lines = env.client(alice, "upload-begin:5:docs%2Fa.txt",
                       "upload-data:5:1:xx:docs%2Fa.txt",
                       "upload-data:5:3:lo:docs%2Fa.txt", "files:docs",
                       "download:1:100:docs%2Fa.txt")
    check(lines[1] == "UPLOAD_READY id=103 offset=3", lines)
    check(lines[2].startswith("ERROR id=104 code=1 message=expected offset 3"),
          lines)
    check(lines[3] == "OK id=105", lines)
    check(lines[4].startswith("FILES id=106 flags=0 used=5 quota=2147483648 "
                              "count=1") and lines[5] == "file a.txt kind=1 size=5",
          lines)
    check(lines[6] == "FILE_DATA id=107 size=5 bytes=4 data=ello", lines)
    with open(os.path.join(area, "docs", "a.txt"), "rb") as f:
        check(f.read() == b"hello", "uploaded bytes differ")
    check(os.listdir(uploads) == [], os.listdir(uploads))

    # Paths that leave the area, or could, are refused by name.
    for path, says in (("..%2Fx", '".."'), ("%2Fetc%2Fpasswd", "starts with"),
                       ("a%2F..%2F..%2Fb", '".."'),
                       ("a%2F%2Fb", "empty name"), ("a%09b", "control")):
        lines = env.client(alice, f"upload-begin:1:{path}", f"files:{path}")
        check(lines[1].startswith("ERROR id=103 code=1 message=invalid file "
                                  "name: ") and says in lines[1], lines)
        check(lines[2].startswith("ERROR id=104 code=1"), lines)
    # A str is UTF-8 without NUL (protocol section 5): anything else is
    # not a path at all but a malformed message, and ends the connection.
    for path in ("a%00b", "%C3%28"):
        lines = env.client(alice, f"upload-begin:1:{path}")
        check(lines[1].startswith("BYE code=1 reason=malformed UPLOAD_BEGIN"),
              lines)
    top = set(os.listdir(os.path.join(env.state, "files")))
    check(top <= {".uploads", "alice", "bob", "carol", "dave"}, top)
    check(os.listdir(area) == ["docs"] and not os.path.exists(
        os.path.join(env.root, "x")), os.listdir(area))

    # What a guest may leave in its share: a link out, a FIFO. Neither is
    # followed, opened for long or listed.
    os.symlink("/etc", os.path.join(area, "etc"))
    os.mkfifo(os.path.join(area, "fifo"))
    started = time.monotonic()
    lines = env.client(alice, "download:0:10:etc%2Fpasswd", "files:etc",
                       "download:0:10:fifo", "upload-begin:1:etc%2Fnew",
                       "files:", "delete:etc")
    check(time.monotonic() - started < 10, "a FIFO stalled the broker")
    check(all(l.startswith(f"ERROR id={103 + i} code=17") for i, l in
              enumerate(lines[1:4])), lines)
    check(lines[4].startswith("ERROR id=106 "), lines)     # refused at once
    check(lines[5].startswith("FILES id=107") and lines[5].endswith("count=1")
          and lines[6] == "file docs kind=2 size=0", lines)
    check(lines[7].startswith("ERROR id=108 code=17"), lines)
    check(not os.path.exists("/etc/new"), "wrote through a link")

    # What a guest makes through 9p (QEMU's mapped-xattr): a link or FIFO
    # is a plain file whose type is in user.virtfs.mode. Not the user's
    # data: neither listed nor served.
    guest_link = os.path.join(area, "guest-link")
    with open(guest_link, "w") as f:
        f.write("/etc/passwd")
    os.setxattr(guest_link, "user.virtfs.mode",
                struct.pack("=I", 0o120777))        # S_IFLNK | 0777
    lines = env.client(alice, "files:", "download:0:100:guest-link")
    check(lines[1].endswith("count=1") and lines[2] == "file docs kind=2 size=0",
          lines)
    check(lines[3].startswith("ERROR id=104 code=17"), lines)
    os.remove(guest_link)

    # The quota (2 GiB here) is checked before a byte is taken.
    lines = env.client(alice, "upload-begin:3000000000:big")
    check(lines[1].startswith("ERROR id=103 code=10 message=not enough room"),
          lines)
    check(os.listdir(uploads) == [], "a refused upload left a file")

    # An upload nobody resumes for a day is dropped (and its quota freed)
    # the next time anything looks at the area; a younger one stays.
    env.client(alice, "upload-begin:10:old", "upload-begin:10:young")
    parts = os.listdir(uploads)
    check(len(parts) == 2, parts)
    old_part = [p for p in parts
                if p.startswith(hashlib.sha256(b"old").hexdigest())][0]
    day_ago = time.time() - 25 * 3600
    os.utime(os.path.join(uploads, old_part), (day_ago, day_ago))
    env.client(alice, "files:")
    check(len(os.listdir(uploads)) == 1 and old_part not in
          os.listdir(uploads), os.listdir(uploads))
    r = env.admin("files", "clean", "alice", "--uploads-only")
    check(os.listdir(uploads) == [] and "docs" in os.listdir(area),
          (os.listdir(uploads), os.listdir(area)))

    # A last chunk that could not be put in place (a guest made a file
    # where its folder goes) leaves the upload whole but not complete; the
    # next UPLOAD_BEGIN puts it in place before it says "complete".
    lines = env.client(alice, "upload-begin:2:x%2Fy")
    check(lines[1] == "UPLOAD_READY id=103 offset=0", lines)
    with open(os.path.join(area, "x"), "w") as f:
        f.write("in the way")
    lines = env.client(alice, "upload-data:2:0:ab:x%2Fy")
    check(lines[1].startswith("ERROR id=103 code=1 message=part of the path "
                              "is a file"), lines)
    os.remove(os.path.join(area, "x"))
    lines = env.client(alice, "upload-begin:2:x%2Fy", "delete:x%2Fy",
                       "delete:x")
    check(lines[1] == "UPLOAD_READY id=103 offset=2", lines)
    check(lines[2:] == ["OK id=104", "OK id=105"], lines)

    # A file sent again at another size: the interrupted upload of the
    # old size goes (it held 1.5 GB of the 2 GiB quota).
    lines = env.client(alice, "upload-begin:1500000000:again",
                       "upload-begin:1600000000:again")
    check(lines[1] == "UPLOAD_READY id=103 offset=0" and
          lines[2] == "UPLOAD_READY id=104 offset=0", lines)
    check(len(os.listdir(uploads)) == 1 and os.listdir(uploads)[0].endswith(
        "-1600000000.part"), os.listdir(uploads))
    env.admin("files", "clean", "alice", "--uploads-only")

    # Deleting: a file, then a folder once empty.
    lines = env.client(alice, "delete:docs", "delete:docs%2Fa.txt",
                       "delete:docs%2Fa.txt", "delete:docs")
    check(lines[1].startswith("ERROR id=103 code=1 message=the folder is not "
                              "empty"), lines)
    check(lines[2:] == ["OK id=104", "ERROR id=105 code=17 message=no such "
                        "file or folder: docs/a.txt", "OK id=106"], lines)

    # Without the capability, a My files request ends the connection.
    r = subprocess.run([CLIENT, "--no-files", alice,
                        "unix:" + env.broker.sock, "files:"],
                       capture_output=True, text=True, timeout=30)
    check("files=0" in r.stdout and "BYE code=1" in r.stdout, r.stdout)

    # 200 requests for 1 MiB each at once: the broker answers them all,
    # reading the next only as the replies drain, so its memory stays far
    # below the 200 MiB that queueing them would take.
    with open(os.path.join(area, "big"), "wb") as f:
        f.write(os.urandom(1 << 20))
    before = vm_hwm_kib(env.broker.proc.pid)
    lines = env.client(alice, "flood-download:200:big")
    check(lines[1] == "FILE_DATA replies=200", lines)
    grew = vm_hwm_kib(env.broker.proc.pid) - before
    check(grew < 64 * 1024, f"the broker's peak memory grew {grew} KiB")

    # The operator's view and clean-up.
    r = env.admin("files", "list", "--user", "alice", "--csv")
    check("big,file,1048576," in r.stdout, r.stdout)
    env.admin("files", "list", "--user", "nobody", expect=1)
    r = env.admin("files", "clean", "alice")
    check(re.search(r"My files of alice: 1\.0\s+MiB freed", r.stdout), r.stdout)
    check(os.listdir(area) == [], os.listdir(area))
    check(env.broker.alive(), "crp-broker died")


def step_unknown_key(env):
    fields = read_key(env.key("alice.key"))
    fields["user"] = "mallory"
    fields["secret-key"] = base64.b64encode(os.urandom(32)).decode()
    write_key(env.key("mallory.key"), fields)
    lines = env.client(env.key("mallory.key"), "catalog", expect=1)
    check(lines == ["failed code=REJECTED: " + UNKNOWN_KEY_TEXT +
                    ": this broker does not know this key"], lines)


def step_revoked(env):
    env.admin("user", "revoke", "bob")
    lines = env.client(env.key("bob.key"), "catalog", expect=1)
    check(lines == ["failed code=REJECTED: " + KEY_REVOKED_TEXT + ": " +
                    KEY_REVOKED_MESSAGE], lines)
    check("event=login-refused conn=" in env.broker.text() and
          f"user=bob peer=unix:uid={os.getuid()} status=KEY_REVOKED" in env.broker.text(),
          "refusal not logged")


def step_rotated(env):
    env.admin("user", "rotate", "carol", "--key-file",
              env.key("carol-new.key"))
    env.secrets.append(read_key(env.key("carol-new.key"))["secret-key"])
    lines = env.client(env.key("carol.key"), "catalog", expect=1)
    check(lines == ["failed code=REJECTED: " + KEY_REVOKED_TEXT + ": " +
                    KEY_REVOKED_MESSAGE], lines)
    lines = env.client(env.key("carol-new.key"), "catalog")
    check(lines[0].startswith("ready") and lines[1].startswith("APP_LIST"),
          lines)


def step_wrong_broker_key(env):
    fields = read_key(env.key("alice.key"))
    fields["broker-public-key"] = base64.b64encode(os.urandom(32)).decode()
    write_key(env.key("alice-wrong-broker.key"), fields)
    lines = env.client(env.key("alice-wrong-broker.key"), "catalog", expect=1)
    check(len(lines) == 1 and lines[0].startswith("failed code=AUTH"), lines)
    check("authentication failed" in lines[0], lines)


def step_garbage(env):
    s = raw_connect(env)
    payload = b"GET / HTTP/1.0\r\n\r\n" + b"x" * 80
    s.sendall(struct.pack(">I", len(payload)) + payload)
    frames, _ = read_frames(s, 10)
    s.close()
    check(len(frames) == 1, f"frames: {frames}")
    check(reject_status(frames[0]) == BAD_REQUEST,
          f"status {reject_status(frames[0])}")
    # Not even a frame: an oversized length.
    s = raw_connect(env)
    s.sendall(b"\xff\xff\xff\xff garbage")
    frames, _ = read_frames(s, 10)
    s.close()
    check(frames and reject_status(frames[0]) == BAD_REQUEST, frames)
    check(env.broker.alive(), "the broker died")
    lines = env.client(env.key("alice.key"), "catalog")
    check(lines[0].startswith("ready"), "the broker stopped serving")


def step_handshake_timeout(env):
    for partial in (b"", b"\x00\x00\x00\x60CRPB\x01\x00"):
        s = raw_connect(env)
        s.sendall(partial)
        frames, elapsed = read_frames(s, HANDSHAKE_TIMEOUT_S + 10)
        s.close()
        check(HANDSHAKE_TIMEOUT_S - 0.5 <= elapsed <= HANDSHAKE_TIMEOUT_S + 5,
              f"dropped after {elapsed:.2f} s")
        check(len(frames) == 1 and reject_status(frames[0]) == TIMEOUT,
              f"frames: {frames}")
    check("event=handshake-timeout" in env.broker.text(), "not logged")


def step_idle_client_unaffected(env):
    # A stalled connection does not block others meanwhile.
    s = raw_connect(env)
    lines = env.client(env.key("alice.key"), "catalog")
    check(lines[1].startswith("APP_LIST"), lines)
    s.close()


def clone_state(env, name):
    """A copy of the state (users, keys, apps) for a second broker: one
    broker per state directory."""
    state = os.path.join(env.root, f"{name}-state")
    os.makedirs(state, mode=0o700)
    shutil.copy2(os.path.join(env.state, "broker.key"), state)
    with sqlite3.connect(env.db) as src, \
            sqlite3.connect(os.path.join(state, "crp.db")) as dst:
        src.backup(dst)
    return state


def step_one_broker_per_state_dir(env):
    second = Broker(env, "second", 0)
    second.logf = open(second.log, "wb")
    r = subprocess.run([BROKER, "--config", second.conf], stdout=second.logf,
                       stderr=subprocess.STDOUT, timeout=20)
    check(r.returncode == 1, f"second broker exit {r.returncode}")
    check("another crp-broker is running on the state directory" in
          second.text(), second.text())
    # The first one was not disturbed.
    lines = env.client(env.key("alice.key"), "catalog")
    check(lines[1].startswith("APP_LIST"), lines)


def step_rate_limited(env):
    limited = Broker(env, "limited", 3, state=clone_state(env, "limited"))
    limited.start()
    try:
        for _ in range(3):
            lines = env.client(env.key("mallory.key"), sock=limited.sock,
                               expect=1)
            check(UNKNOWN_KEY_TEXT in lines[0], lines)
        # Now even a good key is refused, before any crypto.
        lines = env.client(env.key("alice.key"), sock=limited.sock, expect=1)
        check(lines == ["failed code=REJECTED: server refused the "
                        "connection: too many attempts; try again later "
                        "(too many failed logins from this address; try "
                        "again in a minute)"], lines)
        check("event=rate-limited" in limited.text(), "not logged")
        # The other broker (its own limiter) still serves alice.
        lines = env.client(env.key("alice.key"), "catalog")
        check(lines[0].startswith("ready"), lines)
    finally:
        limited.stop()
    check(limited.proc.returncode == 0, "limited broker exit status")


def step_tcp(env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tcp = Broker(env, "tcp", 2, tcp_port=port, state=clone_state(env, "tcp"))
    tcp.start()
    try:
        address = f"tcp:127.0.0.1:{port}"
        lines = env.client(env.key("alice.key"), "catalog", address=address)
        check(lines[0].startswith("ready") and lines[1].startswith(
            "APP_LIST"), lines)
        check("user=alice peer=127.0.0.1 " in tcp.text(), "peer not logged")
        for _ in range(2):
            env.client(env.key("mallory.key"), address=address, expect=1)
        lines = env.client(env.key("alice.key"), address=address, expect=1)
        check("too many failed logins from this address" in lines[0], lines)
    finally:
        tcp.stop()
    check(tcp.proc.returncode == 0, "tcp broker exit status")


def step_socket_mode(env):
    mode = os.stat(env.broker.sock).st_mode & 0o777
    check(mode == 0o666, f"socket mode {mode:o}")


def shutdown_with_waiting_client(env, address):
    """SIGTERM while a client at @address waits: it is told SHUTDOWN, then
    the broker exits cleanly."""
    waiting = subprocess.Popen([CLIENT, env.key("alice.key"), address,
                                "catalog", "wait"],
                               stdout=subprocess.PIPE, text=True)
    first = waiting.stdout.readline()
    check(first.startswith("ready"), first)
    check(waiting.stdout.readline().startswith("APP_LIST"), "no catalog")
    env.broker.proc.send_signal(signal.SIGTERM)
    rest, _ = waiting.communicate(timeout=20)
    check(waiting.returncode == 0, f"client exit {waiting.returncode}: {rest}")
    lines = [l for l in rest.splitlines() if not l.startswith("app ")]
    check(lines[0].startswith(f"BYE code={SHUTDOWN} "), lines)
    check(lines[-1] == "closed", lines)
    check(env.broker.proc.wait(10) == 0, "crp-broker exit status")


def step_sigterm(env):
    shutdown_with_waiting_client(env, "unix:" + env.broker.sock)
    check(not os.path.exists(env.broker.sock), "socket left behind")
    check("event=shutdown" in env.broker.text(), "shutdown not logged")


def step_no_secrets_logged(env):
    text = env.broker.text() + open(os.path.join(env.root,
                                                 "limited.log")).read()
    for secret in env.secrets:
        check(secret not in text, "a secret key is in the log")
    with open(os.path.join(env.state, "broker.key")) as f:
        for line in f:
            if line.startswith("secret-key="):
                check(line.split("=", 1)[1].strip() not in text,
                      "the broker key is in the log")


STEPS = [
    step_setup, step_login, step_catalog, step_subscribe,
    step_subscribe_errors, step_unsubscribe, step_sessions,
    step_session_requests, step_user_limits, step_my_files, step_unknown_key,
    step_revoked, step_rotated,
    step_wrong_broker_key, step_garbage, step_handshake_timeout,
    step_idle_client_unaffected, step_one_broker_per_state_dir,
    step_rate_limited, step_tcp,
    step_socket_mode, step_sigterm,
    step_no_secrets_logged,
]


def main(steps=STEPS, prefix="crp-broker-test-"):
    """Runs @steps in order on one Env (test-broker-web.py runs its own)."""
    failed = 0
    print(f"1..{len(steps)}")
    with tempfile.TemporaryDirectory(prefix=prefix) as root:
        env = Env(root)
        try:
            for i, step in enumerate(steps, 1):
                name = step.__name__[5:]
                try:
                    step(env)
                    print(f"ok {i} - {name}")
                except Exception:
                    failed += 1
                    print(f"not ok {i} - {name}")
                    for line in traceback.format_exc().splitlines():
                        print("# " + line)
                    if step.__name__ == "step_setup":
                        break
                sys.stdout.flush()
        finally:
            env.broker.stop()
            if failed:
                print("# broker log:")
                try:
                    for line in env.broker.text().splitlines()[-40:]:
                        print("#   " + line)
                except OSError:
                    pass
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
