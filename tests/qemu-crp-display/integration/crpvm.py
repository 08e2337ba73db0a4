"""crpvm: run the test guest in the project's QEMU with -display crp.

Used by the integration tests. Everything is real: QEMU built by
qemu-crp-display/build-qemu, the guest built by tests/guest/build-guest,
unix sockets, the headless client. The environment comes from the env
files those builders write (see load_env()).
"""

import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "qmp"))
from qmp import QMPConnection  # noqa: E402


def _die_with_parent():
    """In the child before exec: QEMU gets SIGKILL if the test process
    dies, so a crashed or killed test leaves no VM behind."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def load_env():
    """Reads qemu-build.env and guest.env; returns a dict, or None if the
    builders have not run."""
    cache = os.environ.get("CRP_CACHE", os.path.expanduser("~/.cache/crp"))
    env = {}
    for name in ("qemu-build.env", "guest.env"):
        path = os.path.join(cache, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            lines = f.read().splitlines()
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = " ".join(shlex.split(value))
    return env


class CrpVM:
    """One QEMU with the test guest, -display crp and -audiodev crp."""

    def __init__(self, workdir, env, mode="shell", display_opts="",
                 append="", memory=256, vga="std", crp_addr=None,
                 extra_args=()):
        """@vga: "std" (-vga std, no hardware cursor, fixed size) or
        "virtio" (virtio-vga: hardware cursor and guest resize, driven in
        the guest by crp-drm) or "bochs" (bochs-display: video memory
        in the guest's own pixel format, set by crp-vbe). @crp_addr: where -display crp listens
        (default: the unix socket crp_sock). @extra_args: more QEMU
        arguments (e.g. -trace); its stderr is in stderr_text()."""
        self.dir = workdir
        self.env = env
        os.makedirs(workdir, exist_ok=True)
        self.crp_sock = os.path.join(workdir, "crp.sock")
        self.crp_addr = crp_addr or f"unix:{self.crp_sock}"
        self.qmp_sock = os.path.join(workdir, "qmp.sock")
        self.serial_sock = os.path.join(workdir, "serial.sock")
        self.serial_log = os.path.join(workdir, "serial.log")
        args = [env["QEMU"]]
        for d in env["QEMU_FIRMWARE_DIRS"].split(":"):
            args += ["-L", d]
        display = f"crp,addr={self.crp_addr},audiodev=snd0"
        if display_opts:
            display += "," + display_opts
        args += [
            "-accel", "tcg", "-m", str(memory), "-nic", "none",
            *{"std": ["-vga", "std"],
              "virtio": ["-vga", "none", "-device", "virtio-vga"],
              "bochs": ["-vga", "none", "-device", "bochs-display"]}[vga],
            "-device", "virtio-tablet-pci",
            "-device", "intel-hda", "-audiodev", "crp,id=snd0",
            "-device", "hda-duplex,audiodev=snd0",
            "-kernel", env["GUEST_KERNEL"], "-initrd", env["GUEST_INITRD"],
            "-append", f"{env['GUEST_APPEND']} crp.mode={mode} {append}".strip(),
            "-display", display,
            "-qmp", f"unix:{self.qmp_sock},server=on,wait=off",
            "-chardev", f"socket,id=ser0,path={self.serial_sock},server=on,"
                        f"wait=off,logfile={self.serial_log}",
            "-serial", "chardev:ser0",
            *extra_args,
        ]
        qenv = dict(os.environ, QEMU_MODULE_DIR=env["QEMU_MODULE_DIR"])
        self.stderr = open(os.path.join(workdir, "qemu.stderr"), "w")
        self.qmp = self.serial = None
        self.proc = subprocess.Popen(args, env=qenv, stdout=self.stderr,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        try:
            self.qmp = self._connect_qmp()
            # Connect to the console only once the guest is up: a client on
            # the socket during early boot stalled the guest's serial output.
            self.wait_serial(r"CRP-GUEST-READY", timeout=120)
            self.serial = self._connect_serial()
        except BaseException:
            # No caller will ever stop() a VM that failed to start.
            self.stop()
            raise
        # The log file has everything; drain the socket so it never fills.
        threading.Thread(target=self._drain_serial, daemon=True).start()

    def _retry(self, fn, what, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited ({self.proc.returncode}) "
                                   f"before {what}: {self.stderr_text()}")
            try:
                return fn()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _connect_qmp(self):
        return self._retry(lambda: QMPConnection(self.qmp_sock), "QMP")

    def _connect_serial(self):
        def connect():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.serial_sock)
            except OSError:
                s.close()
                raise
            return s
        return self._retry(connect, "the serial console")

    def _drain_serial(self):
        try:
            while self.serial.recv(65536):
                pass
        except OSError:
            pass

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read()

    def serial_text(self):
        try:
            with open(self.serial_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_serial(self, pattern, timeout=30, start=0):
        """Waits for @pattern in the serial log after offset @start;
        returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.serial_text(), start)
            if m:
                return m
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited: {self.stderr_text()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no /{pattern}/ on the serial console in "
                                   f"{timeout} s; tail: {self.serial_text()[-500:]!r}")
            time.sleep(0.1)

    def run(self, command, expect=None, timeout=30):
        """Runs a shell command on the guest's serial console."""
        start = len(self.serial_text())
        self.serial.sendall(command.encode() + b"\n")
        if expect:
            return self.wait_serial(expect, timeout, start)
        return None

    def sh(self, command, timeout=60):
        """Runs @command on the guest's serial shell and waits for it;
        returns (exit status, output with \\n lines)."""
        token = f"END-{time.monotonic_ns()}"
        m = self.run(f"{command}; echo {token} $?",
                     expect=rf"(?s)(.*?){token} (\d+)\r?\n", timeout=timeout)
        lines = m.group(1).replace("\r\n", "\n").split("\n")
        out = "\n".join(line for line in lines if line != "crp-guest#")
        return int(m.group(2)), out.strip("\n")

    def alive(self):
        """The guest still answers and QEMU still serves QMP."""
        token = f"alive-{time.monotonic_ns()}"
        self.run(f"echo {token}", expect=token, timeout=30)
        return self.qmp.command("query-crp")["enabled"]

    def set_ticket(self, ticket, **kw):
        args = {"ticket": ticket, **kw}
        return self.qmp.command("crp-set-ticket", **args)

    def query(self):
        return self.qmp.command("query-crp")

    def screendump(self, path):
        self.qmp.command("screendump", filename=path)
        return read_ppm(path)

    def stop(self):
        if self.qmp:
            try:
                self.qmp.command("quit")
            except Exception:
                pass
        try:
            self.proc.wait(timeout=20 if self.qmp else 0.1)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        for conn in (self.serial, self.qmp):
            if conn:
                conn.close()
        self.stderr.close()


def read_ppm(path):
    """Returns (width, height, RGB bytes) of a binary 8-bit PPM. The header
    ends with exactly one whitespace byte: the pixels may start with
    another (a red of 0x20), which a whitespace split would eat."""
    with open(path, "rb") as f:
        data = f.read()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    if not m:
        raise ValueError(f"{path}: not an 8-bit P6 PPM")
    width, height = int(m.group(1)), int(m.group(2))
    pixels = data[m.end():m.end() + width * height * 3]
    if len(pixels) != width * height * 3:
        raise ValueError(f"{path}: truncated")
    return width, height, pixels


def read_png(path):
    """Returns (width, height, RGB bytes) of the PNG at @path (see
    decode_png)."""
    with open(path, "rb") as f:
        return decode_png(f.read(), path)


def decode_png(data, name="PNG"):
    """Returns (width, height, RGB bytes) of an 8-bit RGB or RGBA,
    non-interlaced PNG, any filter (what libcrp's crp_png_encode and GTK
    write); alpha is dropped."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{name}: not a PNG")
    pos, idat, width, height, bpp = 8, b"", 0, 0, 3
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width = int.from_bytes(body[0:4], "big")
            height = int.from_bytes(body[4:8], "big")
            if body[8] != 8 or body[9] not in (2, 6) or body[12] != 0:
                raise ValueError(f"{name}: not 8-bit RGB(A) non-interlaced")
            bpp = 3 if body[9] == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind > 4:
            raise ValueError(f"{name}: PNG filter {kind}")
        for i in range(stride if kind else 0):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + a) & 0xff
            elif kind == 2:
                row[i] = (row[i] + b) & 0xff
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xff
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        prev = row
        rows.append(bytes(row) if bpp == 3 else
                    b"".join(bytes(row[x * 4:x * 4 + 3]) for x in range(width)))
    return width, height, b"".join(rows)


def write_png(path, width, height, rgb):
    """An 8-bit RGB PNG (QEMU here is built without libpng)."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    stride = width * 3
    raw = b"".join(b"\0" + rgb[y * stride:(y + 1) * stride] for y in range(height))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6))
                + chunk(b"IEND", b""))


def diff_pixels(a, b):
    """Number of differing pixels between two (w, h, rgb) images."""
    if a[:2] != b[:2]:
        return max(a[0] * a[1], b[0] * b[1])
    pa, pb = a[2], b[2]
    return sum(1 for i in range(0, len(pa), 3) if pa[i:i + 3] != pb[i:i + 3])
