#!/usr/bin/env python3
"""test-broker-web.py: crp-broker's web listener ([web]): the broker
channel over a WebSocket (crp-broker-test-client's ws:// transport, a
client of its own apart from the broker's framing), the Origin check, the
connection caps, hostile frames, and the static files with their headers.

Usage: test-broker-web.py CRP_BROKER CRP_ADMIN CRP_BROKER_TEST_CLIENT
                          CRP_ADMIN_SEED

Shares Broker, Env and the helpers of test-crp-broker.py. Each step prints
a TAP line. Python 3 standard library only.
"""
import base64
import hashlib
import http.client
import importlib.util
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

_spec = importlib.util.spec_from_file_location(
    "test_crp_broker", os.path.join(os.path.dirname(__file__),
                                    "test-crp-broker.py"))
tcb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tcb)
check, replies, apps_of = tcb.check, tcb.replies, tcb.apps_of
BROKER, CLIENT = tcb.BROKER, tcb.CLIENT

CSP = ("default-src 'self'; script-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; style-src 'self'; frame-ancestors 'none'")
SECRET = "not-for-the-web-0451"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebBroker(tcb.Broker):
    """A broker with a [web] group (and [login] caps when asked)."""

    def __init__(self, env, name, web, login="", state=None):
        super().__init__(env, name, 0, state=state)
        self.port = free_port()
        with open(self.conf, "a") as f:
            f.write(login)
            f.write("[web]\n" + web.format(port=self.port))

    def start(self):
        super().start()
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                check(time.monotonic() < deadline, "web listener not up")
                time.sleep(0.05)

    @property
    def ws(self):
        return f"ws://127.0.0.1:{self.port}/crp/broker"

    def get(self, path, method="GET", headers=()):
        """(status, headers as a dict with lower-case names, body)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            c.putheader(name, value)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def ws_connect(port, origin=None, path="/crp/broker", tls=None):
    """A raw WebSocket after its upgrade; (socket, status line). @tls: an
    SSLContext for wss."""
    s = socket.create_connection(("127.0.0.1", port), 10)
    if tls:
        s = tls.wrap_socket(s)
    key = base64.b64encode(os.urandom(16)).decode()
    origin = origin or f"http://127.0.0.1:{port}"
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Origin: {origin}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(1)
        check(b, f"no HTTP response: {head!r}")
        head += b
    status = head.split(b"\r\n")[0].decode()
    if " 101 " in status:
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
            .digest()).decode()
        check(f"sec-websocket-accept: {accept}".lower()
              in head.decode().lower(), head)
    return s, status


def ws_frame(opcode, payload, mask=True, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def ws_read_all(s, timeout):
    """Frames from the broker until it closes the TCP connection:
    [(opcode, payload)]."""
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    frames = []
    while len(data) >= 2:
        check(not data[1] & 0x80, "the broker masked a frame")
        n, off = data[1] & 0x7f, 2
        if n == 126:
            n, off = struct.unpack(">H", data[2:4])[0], 4
        elif n == 127:
            n, off = struct.unpack(">Q", data[2:10])[0], 10
        frames.append((data[0] & 0x0f, data[off:off + n]))
        data = data[off + n:]
    return frames


# --------------------------------------------------------------------------
# Steps

def step_setup(env):
    env.admin("init")
    for user in ("alice", "bob"):
        env.add_user(user)
    env.admin("app", "publish", "desktop", "--title", "Desktop", "--disk",
              "disk.qcow2", "--vcpus", "2", "--memory", "1024")
    env.admin("app", "publish", "shell", "--title", "Shell", "--disk",
              "disk.qcow2", "--no-audio")
    env.web_root = os.path.join(env.root, "web")
    os.makedirs(os.path.join(env.web_root, "sub"))
    os.makedirs(os.path.join(env.web_root, "withindex"))
    files = {"index.html": "<!doctype html><title>CRP</title>",
             "app.js": "export const x = 1;\n",
             "withindex/index.html": "<p>inner</p>",
             ".hidden": SECRET}
    for name, text in files.items():
        with open(os.path.join(env.web_root, name), "w") as f:
            f.write(text)
    # Outside the root, next to it: what traversal would reach.
    with open(os.path.join(env.root, "outside.txt"), "w") as f:
        f.write(SECRET)
    env.broker = WebBroker(env, "broker", f"listen = tcp:127.0.0.1:{{port}}\n"
                                          f"root = {env.web_root}\n")
    env.broker.start()


def step_ws_requests(env):
    """The same requests and replies over a WebSocket as over unix."""
    alice = env.key("alice.key")
    cmds = ["catalog", "subscribe:desktop", "my-apps", "sessions",
            "unsubscribe:desktop", "my-apps"]
    over_unix = env.client(alice, *cmds)
    over_ws = env.client(alice, *cmds, address=env.broker.ws)
    check(over_ws == over_unix, f"ws {over_ws}\nunix {over_unix}")
    r = replies(over_ws)
    check(r[0][0] == "ready" and "files=1" in r[0][1], r)
    check(apps_of(r[1]) == {"desktop": 2, "shell": 0}, r[1])
    check(apps_of(r[3]) == {"desktop": 3}, r[3])
    check("user=alice peer=127.0.0.1 software=crp-broker-test-client" in
          env.broker.text(), "WebSocket login not logged with its peer")


def step_ws_my_files(env):
    """My files (protocol 5.6) over a WebSocket: an upload in two chunks,
    the listing, a download, and many 1 MiB replies at once (the broker's
    backlog and the WebSocket's frames under backpressure)."""
    alice = env.key("alice.key")
    ws = env.broker.ws
    lines = env.client(alice, "upload-begin:11:web%2Fw.txt",
                       "upload-data:11:0:hello%20:web%2Fw.txt",
                       "upload-data:11:6:world:web%2Fw.txt", "files:web",
                       "download:0:100:web%2Fw.txt", address=ws)
    check(lines[1:] == ["UPLOAD_READY id=103 offset=0", "OK id=104",
                        "OK id=105",
                        "FILES id=106 flags=0 used=11 quota=2147483648 "
                        "count=1", "file w.txt kind=1 size=11",
                        "FILE_DATA id=107 size=11 bytes=11 data=hello world"],
          lines)
    area = os.path.join(env.state, "files", "alice")
    with open(os.path.join(area, "web", "w.txt"), "rb") as f:
        check(f.read() == b"hello world", "uploaded bytes differ")
    # 200 requests for 1 MiB at once, as over unix: the broker reads the
    # next request only as replies drain through the WebSocket, so its
    # memory stays far below the 200 MiB that queueing them would take.
    with open(os.path.join(area, "big.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    before = tcb.vm_hwm_kib(env.broker.proc.pid)
    lines = env.client(alice, "flood-download-late:200:big.bin", address=ws)
    check(lines[1] == "FILE_DATA replies=200", lines)
    grew = tcb.vm_hwm_kib(env.broker.proc.pid) - before
    check(grew < 64 * 1024, f"the broker's peak memory grew {grew} KiB")


def step_client_gone_mid_flood(env):
    """A client that vanishes while the broker's replies wait for room:
    the connection ends and the broker lives on. (Which of the broker's
    read and write sees the reset first is up to the kernel; the unit test
    test-broker-ws-stream makes the write see it first, which once
    crashed the broker.)"""
    for _ in range(3):
        p = subprocess.Popen([CLIENT, env.key("alice.key"), env.broker.ws,
                              "flood-download-late:200:big.bin"],
                             stdout=subprocess.PIPE, text=True)
        check(p.stdout.readline().startswith("ready"), "not ready")
        time.sleep(1)       # the replies fill the socket, then the queue
        p.kill()
        p.wait()
        p.stdout.close()
        time.sleep(0.3)
        check(env.broker.alive(), "the broker died")
    lines = env.client(env.key("alice.key"), "catalog", address=env.broker.ws)
    check(lines[1].startswith("APP_LIST"), lines)


def step_origin(env):
    r = subprocess.run([CLIENT, "--origin", "https://evil.example",
                        env.key("alice.key"), env.broker.ws, "catalog"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and r.stdout.strip() ==
          "failed code=HTTP: HTTP/1.1 403 Forbidden", (r.returncode, r.stdout))
    check("event=web-origin-refused peer=127.0.0.1 "
          "origin=https://evil.example" in env.broker.text(), "not logged")
    # The listener's own origin under another name is another origin.
    s, status = ws_connect(env.broker.port,
                           origin=f"http://localhost:{env.broker.port}")
    s.close()
    check(status == "HTTP/1.1 403 Forbidden", status)
    # No Origin (not a browser's upgrade): refused the same way.
    status, _, _ = env.broker.get("/crp/broker")
    check(status == 403, status)
    # An allowed page, but not an upgrade.
    status, _, _ = env.broker.get(
        "/crp/broker", headers=[("Origin", f"http://127.0.0.1:{env.broker.port}")])
    check(status == 400, status)


def step_allowed_origins(env):
    other = WebBroker(env, "origins",
                      "listen = tcp:127.0.0.1:{port}\n"
                      "allowed-origins = https://crp.example "
                      "http://localhost:{port}\n",
                      state=tcb.clone_state(env, "origins"))
    other.start()
    try:
        for origin, ok in (("https://crp.example", True),
                           (f"http://localhost:{other.port}", True),
                           (f"http://127.0.0.1:{other.port}", False)):
            r = subprocess.run([CLIENT, "--origin", origin,
                                env.key("alice.key"), other.ws, "catalog"],
                               capture_output=True, text=True, timeout=30)
            check((r.returncode == 0) == ok, (origin, r.stdout))
    finally:
        other.stop()


def step_hostile_frames(env):
    """A client that breaks RFC 6455 is closed with a Close frame (1002,
    or 1003 for text); the broker lives on and serves the next one."""
    for frame, code in ((ws_frame(2, b"\0\0\0\1x", mask=False), 1002),
                        (ws_frame(1, b"hello"), 1003),
                        # a 64-bit length with its top bit set
                        (bytes([0x82, 0xff, 0x80]) + b"\0" * 11, 1002),
                        (ws_frame(9, b"p" * 126), 1002),
                        (bytes([0xc2, 0x80]) + b"\0" * 4, 1002)):
        s, status = ws_connect(env.broker.port)
        check(" 101 " in status, status)
        s.sendall(frame)
        frames = ws_read_all(s, 10)
        s.close()
        closes = [p for op, p in frames if op == 8]
        check(closes and struct.unpack(">H", closes[0][:2])[0] == code,
              (frame[:4], frames))
    # Ping → pong with the same payload, then an orderly close.
    s, _ = ws_connect(env.broker.port)
    s.sendall(ws_frame(9, b"are you there") + ws_frame(8, b"\x03\xe8"))
    frames = ws_read_all(s, 10)
    s.close()
    check((10, b"are you there") in frames and frames[-1][0] == 8, frames)
    check(env.broker.alive(), "the broker died")
    lines = env.client(env.key("alice.key"), "catalog",
                       address=env.broker.ws)
    check(lines[1].startswith("APP_LIST"), lines)


def step_caps(env):
    """[login] caps hold for WebSockets, counted per address with TCP and
    WebSocket alike: the one over the cap gets the REJECT inside its
    WebSocket."""
    capped = WebBroker(env, "capped", "listen = tcp:127.0.0.1:{port}\n",
                       login="max-connections-per-address = 2\n",
                       state=tcb.clone_state(env, "capped"))
    # [login] is the last group before [web]: the line joins it.
    capped.start()
    held = []
    try:
        for _ in range(2):
            s, status = ws_connect(capped.port)
            check(" 101 " in status, status)
            held.append(s)
        time.sleep(0.3)
        r = subprocess.run([CLIENT, env.key("alice.key"), capped.ws,
                            "catalog"], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 1 and "too many connections from this address"
              in r.stdout, r.stdout)
        check("reason=peer-full" in capped.text(), "refusal not logged")
        for s in held:
            s.close()
        deadline = time.monotonic() + 10
        while True:
            r = subprocess.run([CLIENT, env.key("alice.key"), capped.ws,
                                "catalog"], capture_output=True, text=True,
                               timeout=30)
            if r.returncode == 0:
                break
            check(time.monotonic() < deadline,
                  f"closed WebSockets still counted: {r.stdout}")
            time.sleep(0.2)
    finally:
        for s in held:
            s.close()
        capped.stop()
    check(capped.proc.returncode == 0, "capped broker exit status")


def step_static(env):
    status, h, body = env.broker.get("/")
    check(status == 200 and body == b"<!doctype html><title>CRP</title>",
          (status, body))
    check(h.get("content-security-policy") == CSP, h)
    check(h.get("x-content-type-options") == "nosniff", h)
    check(h.get("cache-control") == "no-cache", h)
    check(h.get("content-type") == "text/html; charset=utf-8", h)
    status, h, body = env.broker.get("/app.js")
    check(status == 200 and body == b"export const x = 1;\n", status)
    check(h.get("content-type").startswith("text/javascript"), h)
    check("max-age" in h.get("cache-control", ""), h)
    check(h.get("content-security-policy") == CSP, h)
    status, _, body = env.broker.get("/withindex/")
    check(status == 200 and body == b"<p>inner</p>", (status, body))
    status, h, _ = env.broker.get("/app.js", method="HEAD")
    check(status == 200, status)
    status, _, _ = env.broker.get("/app.js", method="POST")
    check(status == 405, status)
    # Never a listing, never a file outside the root or a hidden one.
    for path in ("/sub", "/sub/", "/nothing.html", "/.hidden",
                 "/../outside.txt", "/%2e%2e/outside.txt",
                 "/sub/..%2f..%2foutside.txt", "/sub/%2e%2e/%2e%2e/outside.txt",
                 "/..%5coutside.txt", "/%00", "//outside.txt"):
        status, h, body = env.broker.get(path)
        check(status in (400, 404) and SECRET.encode() not in body,
              (path, status, body))
        if status == 404:
            check(h.get("content-security-policy") == CSP, (path, h))


def step_missing_root(env):
    other = WebBroker(env, "noroot", "listen = tcp:127.0.0.1:{port}\n"
                      f"root = {env.root}/no-such-dir\n",
                      state=tcb.clone_state(env, "noroot"))
    other.start()
    try:
        status, _, _ = other.get("/")
        check(status == 404, status)
        status, _, _ = other.get("/index.html")
        check(status == 404, status)
        check(other.alive(), "died on a missing root")
    finally:
        other.stop()


def step_plain_http_elsewhere(env):
    """Plain HTTP on a non-loopback address is refused at start."""
    bad = WebBroker(env, "public", "listen = tcp:0.0.0.0:{port}\n",
                    state=tcb.clone_state(env, "public"))
    r = subprocess.run([BROKER, "--config", bad.conf], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode != 0, f"started: {r.returncode}")
    check("[web] listen: 'tcp:0.0.0.0:" in r.stderr and
          "is not a loopback address: plain HTTP is only allowed on loopback"
          in r.stderr, r.stderr)
    with socket.socket() as s:
        check(s.connect_ex(("127.0.0.1", bad.port)) != 0, "it listens")


def step_https(env):
    """With a certificate: HTTPS and wss on any address (here loopback),
    and no plain HTTP on that port."""
    cert = os.path.join(env.root, "web.crt")
    key = os.path.join(env.root, "web.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    tls = WebBroker(env, "tls", "listen = tcp:127.0.0.1:{port}\n"
                    f"certificate = {cert}\nprivate-key = {key}\n"
                    f"root = {env.web_root}\n",
                    state=tcb.clone_state(env, "tls"))
    tls.start()
    try:
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", tls.port, timeout=10,
                                        context=ctx)
        c.request("GET", "/")
        r = c.getresponse()
        check(r.status == 200 and r.getheader("Content-Security-Policy")
              == CSP and r.read().startswith(b"<!doctype"), r.status)
        c.close()
        # The default origin is https://HOST:PORT now.
        s, status = ws_connect(tls.port, tls=ctx,
                               origin=f"https://127.0.0.1:{tls.port}")
        s.close()
        check(" 101 " in status, status)
        s, status = ws_connect(tls.port, tls=ctx)
        s.close()
        check(status == "HTTP/1.1 403 Forbidden", status)
        status = None
        try:
            status, _, _ = tls.get("/")
        except (OSError, http.client.HTTPException):
            pass
        check(status != 200, "plain HTTP served on the HTTPS port")
        check("tls=yes" in tls.text(), "not logged")
    finally:
        tls.stop()


def step_sigterm(env):
    """A WebSocket client is told SHUTDOWN like any other."""
    tcb.shutdown_with_waiting_client(env, env.broker.ws)


STEPS = [
    step_setup, step_ws_requests, step_ws_my_files,
    step_client_gone_mid_flood, step_origin,
    step_allowed_origins, step_hostile_frames, step_caps, step_static,
    step_missing_root, step_plain_http_elsewhere, step_https, step_sigterm,
]


if __name__ == "__main__":
    sys.exit(tcb.main(STEPS, "crp-broker-web-"))
