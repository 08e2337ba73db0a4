"""linkemu: a slow, distant network link that a test owns.

    link = EmulatedLink(rate_bps=2_000_000, rtt_ms=50)
    addr = link.relay_to(link.server_ip, 5930)      # "tcp:127.0.0.1:PORT"
    subprocess.run(link.netns_exec([crp_headless, "--connect", addr, ...]))
    link.close()

A client network namespace is joined to this one by a veth pair whose two
ends are shaped with tbf to @rate_bps (each direction on its way out), and
a relay in this process, inside the namespace, holds every byte for
@rtt_ms / 2 on its way in and again on its way out. A server listens on
link.server_ip here; a client runs in the namespace (netns_exec()) and
connects to the relay's address there.

Why a relay: the machines this runs on have tbf and htb but no netem, so
delay cannot come from the kernel. The relay sits behind the bottleneck,
on the client's side, so the server's own TCP connection is the one that
meets the shaped link: its socket buffer fills and pushes back exactly as
it would on a real slow link (a relay on the server's side would swallow
the backlog itself). What the relay does not reproduce is TCP seeing the
delay: acknowledgements come from the relay's socket at once, so TCP's own
round trip is the veth's plus tbf's queue, and the delay is seen only by
the application's own messages (FRAME_ACK, PONG), which is what CRP's flow
control measures.

Needs root (network namespaces, veth, tc). available() says whether this
machine can; tests skip otherwise. Python 3 standard library only.
"""

import collections
import ctypes
import os
import re
import selectors
import socket
import subprocess
import threading
import time

CLONE_NEWNET = 0x40000000
# A direction of the relay stops reading while it holds this much, so a
# client that stops reading pushes back on the server as TCP would.
RELAY_HOLD_MAX = 256 * 1024
RELAY_CHUNK = 65536

_libc = ctypes.CDLL(None, use_errno=True)
_counter = 0
_counter_lock = threading.Lock()


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True,
                          check=check)


def _tc(*args):
    subprocess.run(["tc", *args], capture_output=True, text=True, check=True)


def available():
    """Whether namespaces, veth and tbf can be set up here (root, iproute2)."""
    if os.geteuid() != 0:
        return False
    try:
        probe = EmulatedLink(rate_bps=1_000_000, rtt_ms=0)
    except (OSError, subprocess.CalledProcessError):
        return False
    probe.close()
    return True


def _cleanup_stale():
    """Removes namespaces of earlier runs whose process is gone (a killed
    test cannot clean up after itself)."""
    out = _ip("netns", "list", check=False).stdout
    for m in re.finditer(r"^crplink-(\d+)-\d+", out, re.M):
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _ip("netns", "del", m.group(0), check=False)
        except PermissionError:
            pass


def _used_subnets():
    out = _ip("-4", "-o", "addr", check=False).stdout
    return set(re.findall(r"inet 10\.(\d+)\.(\d+)\.", out))


class _NetnsThread(threading.Thread):
    """A thread that runs in the network namespace @path: every socket it
    creates belongs there (a namespace is per thread on Linux)."""

    def __init__(self, path, target, name):
        super().__init__(name=name, daemon=True)
        self.netns_path, self.body = path, target
        self.ready = threading.Event()
        self.error = None

    def run(self):
        fd = os.open(self.netns_path, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns {self.netns_path}: {os.strerror(err)}")
        except OSError as e:
            self.error = e
            self.ready.set()
            return
        finally:
            os.close(fd)
        self.body(self)


class _Pipe:
    """One direction of a relayed connection: bytes read from @src are
    written to @dst @delay seconds after they arrived."""

    def __init__(self, src, dst, delay):
        self.src, self.dst, self.delay = src, dst, delay
        self.queue = collections.deque()    # [due, bytes]
        self.held = 0
        self.eof = False
        self.done = False
        self.broken = False         # @dst went away: close both

    def want_read(self):
        return not self.eof and self.held < RELAY_HOLD_MAX

    def due(self):
        return self.queue[0][0] if self.queue else None

    def read(self, now):
        try:
            data = self.src.recv(RELAY_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
        else:
            self.queue.append([now + self.delay, data])
            self.held += len(data)

    def write(self, now):
        while self.queue and self.queue[0][0] <= now:
            data = self.queue[0][1]
            try:
                n = self.dst.send(data)
            except BlockingIOError:
                return
            except OSError:
                # The far end is gone: drop the rest, as a network would.
                self.queue.clear()
                self.held = 0
                self.eof = self.done = self.broken = True
                return
            self.held -= n
            if n < len(data):
                self.queue[0][1] = data[n:]
                return
            self.queue.popleft()
        if self.eof and not self.queue and not self.done:
            self.done = True
            try:
                self.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass


class _Relay:
    """Listens on 127.0.0.1 inside the namespace; each connection is
    joined to (@host, @port) with @delay seconds each way."""

    def __init__(self, link, host, port, delay):
        self.host, self.port, self.delay = host, port, delay
        self.stop = False
        self.conns = []             # (client sock, server sock, [pipe, pipe])
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.thread = _NetnsThread(link.netns_path, self._main,
                                   f"linkemu-relay-{port}")
        self.thread.start()
        self.thread.ready.wait(10)
        if self.thread.error:
            raise self.thread.error
        self.addr = f"tcp:127.0.0.1:{self.listen_port}"

    def close(self):
        self.stop = True
        os.write(self.wake_w, b"x")
        self.thread.join(5)
        os.close(self.wake_r)
        os.close(self.wake_w)

    def _accept(self, listener):
        try:
            client, _ = listener.accept()
        except BlockingIOError:
            return
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            server.connect((self.host, self.port))
        except OSError:
            client.close()
            server.close()
            return
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conns.append((client, server, [_Pipe(client, server, self.delay),
                                            _Pipe(server, client, self.delay)]))

    def _main(self, thread):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        self.listen_port = listener.getsockname()[1]
        thread.ready.set()
        sel = selectors.DefaultSelector()
        try:
            while not self.stop:
                self._step(sel, listener)
        finally:
            sel.close()
            listener.close()
            for client, server, _ in self.conns:
                client.close()
                server.close()

    def _step(self, sel, listener):
        now = time.monotonic()
        interest = {listener: selectors.EVENT_READ}
        timeout = None
        for client, server, pipes in self.conns:
            for p in pipes:
                if p.want_read():
                    interest[p.src] = interest.get(p.src, 0) | selectors.EVENT_READ
                due = p.due()
                if due is not None:
                    if due <= now:
                        interest[p.dst] = interest.get(p.dst, 0) | selectors.EVENT_WRITE
                    else:
                        timeout = due - now if timeout is None else min(timeout, due - now)
        for key in list(sel.get_map().values()):
            if key.fileobj not in interest:
                sel.unregister(key.fileobj)
        for obj, ev in interest.items():
            try:
                sel.modify(obj, ev)
            except KeyError:
                sel.register(obj, ev)
        try:
            sel.register(self.wake_r, selectors.EVENT_READ)
        except KeyError:
            pass
        ready = sel.select(timeout)
        now = time.monotonic()
        readable = {k.fileobj for k, ev in ready if ev & selectors.EVENT_READ}
        if self.wake_r in readable:
            try:
                os.read(self.wake_r, 64)
            except BlockingIOError:
                pass
        if listener in readable:
            self._accept(listener)
        for client, server, pipes in self.conns:
            for p in pipes:
                if p.src in readable and p.want_read():
                    p.read(now)
                p.write(now)
        alive = []
        for client, server, pipes in self.conns:
            if any(p.broken for p in pipes) or all(p.done for p in pipes):
                for s in (client, server):
                    if s in sel.get_map():
                        sel.unregister(s)
                    s.close()
            else:
                alive.append((client, server, pipes))
        self.conns = alive


class EmulatedLink:
    """A client namespace behind a shaped veth pair, with relays that add
    the delay (see the module's documentation)."""

    def __init__(self, rate_bps=2_000_000, rtt_ms=50, queue_ms=100):
        """@rate_bps: tbf rate each way; @rtt_ms: the round trip the relay
        adds (half each way); @queue_ms: how long tbf's queue is, at that
        rate, before it drops (a router's buffer)."""
        global _counter
        _cleanup_stale()
        with _counter_lock:
            _counter += 1
            n = _counter
        pid = os.getpid()
        self.rate_bps, self.rtt_ms = rate_bps, rtt_ms
        self.netns = f"crplink-{pid}-{n}"
        self.netns_path = f"/run/netns/{self.netns}"
        tag = f"{pid % 1000000}{n % 100}"
        self.dev_server, self.dev_client = f"crl{tag}s", f"crl{tag}c"
        used = _used_subnets()
        a = 200 + (pid // 250) % 50
        b = (pid + 7 * n) % 250
        while (str(a), str(b)) in used:
            b = (b + 1) % 250
        self.server_ip = f"10.{a}.{b}.1"
        self.client_ip = f"10.{a}.{b}.2"
        self.relays = []
        self._closed = False
        _ip("netns", "add", self.netns)
        try:
            _ip("link", "add", self.dev_server, "type", "veth", "peer", "name",
                self.dev_client, "netns", self.netns)
            _ip("addr", "add", f"{self.server_ip}/30", "dev", self.dev_server)
            _ip("link", "set", self.dev_server, "up")
            _ip("-n", self.netns, "addr", "add", f"{self.client_ip}/30", "dev",
                self.dev_client)
            _ip("-n", self.netns, "link", "set", self.dev_client, "up")
            _ip("-n", self.netns, "link", "set", "lo", "up")
            # A burst of two full frames, and a queue of @queue_ms.
            shape = ["tbf", "rate", f"{int(rate_bps)}bit", "burst", "3200",
                     "latency", f"{int(queue_ms)}ms"]
            _tc("qdisc", "add", "dev", self.dev_server, "root", *shape)
            _tc("-n", self.netns, "qdisc", "add", "dev", self.dev_client, "root",
                *shape)
        except BaseException:
            self.close()
            raise

    def relay_to(self, host, port):
        """A relay in the namespace to (@host, @port) on this side of the
        link; returns the address a client in the namespace connects to
        ("tcp:127.0.0.1:PORT")."""
        relay = _Relay(self, host, port, self.rtt_ms / 2000.0)
        self.relays.append(relay)
        return relay.addr

    def netns_exec(self, args):
        """@args as a command that runs in the client namespace."""
        return ["ip", "netns", "exec", self.netns, *args]

    def in_netns(self, fn, name="linkemu-netns"):
        """Runs @fn() in a thread inside the namespace; returns the thread
        (join it). Sockets @fn creates are the namespace's."""
        def target(thread):
            thread.ready.set()
            fn()
        t = _NetnsThread(self.netns_path, target, name)
        t.start()
        t.ready.wait(10)
        if t.error:
            raise t.error
        return t

    def tbf_stats(self):
        """{"sent": bytes, "dropped": packets, "backlog": bytes} of the
        server-to-client shaper."""
        out = subprocess.run(["tc", "-s", "qdisc", "show", "dev", self.dev_server],
                             capture_output=True, text=True).stdout
        m = re.search(r"Sent (\d+) bytes \d+ pkt \(dropped (\d+)", out)
        b = re.search(r"backlog (\d+)b", out)
        return {"sent": int(m.group(1)) if m else 0,
                "dropped": int(m.group(2)) if m else 0,
                "backlog": int(b.group(1)) if b else 0}

    def close(self):
        if self._closed:
            return
        self._closed = True
        for r in self.relays:
            r.close()
        # The namespace takes its end of the veth pair, and the pair with it.
        _ip("netns", "del", self.netns, check=False)
        _ip("link", "del", self.dev_server, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    import argparse
    import sys
    ap = argparse.ArgumentParser(description="Run COMMAND in a namespace behind "
                                 "an emulated link to HOST:PORT on this side; "
                                 "'{addr}' in COMMAND is the relay's address.")
    ap.add_argument("--rate", type=float, default=2e6, help="bits/s (2e6)")
    ap.add_argument("--rtt", type=float, default=50, help="ms (50)")
    ap.add_argument("--target", required=True, help="PORT of a server listening "
                    "on this side (0.0.0.0, or the link's server address, "
                    "printed first)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    with EmulatedLink(a.rate, a.rtt) as link:
        print(f"server address {link.server_ip}", file=sys.stderr, flush=True)
        addr = link.relay_to(link.server_ip, int(a.target))
        cmd = [c.replace("{addr}", addr) for c in a.command]
        sys.exit(subprocess.run(link.netns_exec(cmd)).returncode if cmd else 0)
