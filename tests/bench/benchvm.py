"""benchvm: one QEMU for the benches, serving -display crp and -vnc at once.

The benches watch one guest through both protocols in the same interval
(see bench-vnc-vs-crp). Two guests:

- the busybox test guest (tests/guest/build-guest): BenchQemu with
  busybox_guest_args(), a shell or the demo on the framebuffer console;
- the real-desktop guest (tests/guest/desktop/build-desktop-guest):
  DesktopQemu, Xorg + twm with scenes (terminal, document, drag, video,
  idle, mixed) started on command, each between SCENE-BEGIN and SCENE-END
  on the serial console:

      vm = DesktopQemu(load_env(), workdir)
      vm.wait_desktop()                     # CRP-DESKTOP-READY, boot time
      t_begin = vm.start_scene("terminal")  # waits for SCENE-BEGIN
      ...                                   # measure
      stats = vm.stop_scene()               # SCENE-STAT ... SCENE-END
      vm.close()

Python 3 standard library only.
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "qemu-crp-display", "qmp"))
sys.path.insert(0, os.path.join(HERE, "..", "qemu-crp-display", "integration"))
from qmp import QMPConnection, crp_query  # noqa: E402
from crpvm import read_ppm, write_png  # noqa: E402

SCENES = ("terminal", "document", "drag", "video", "idle", "mixed")
# The shell workload: busybox sh on the serial console, output to the
# framebuffer console (fbcon on tty1), in the background until killed.
SHELL_LOOP = ('(i=0; while [ $i -lt 100000000 ]; do '
              'echo "line $i some text to scroll the terminal"; '
              'i=$((i+1)); done) >/dev/tty1 2>&1 &\n'
              'echo BENCH-LOOP $!\n')


def die_with_parent():
    """In QEMU's process before exec: SIGKILL it when the bench dies, so an
    interrupted run leaves no VM behind to skew the next one."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def read_env(path):
    """KEY=VALUE lines of an env file the builders write (shell quoting)."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = " ".join(shlex.split(v))
    return env


def load_env(*names, cache=None):
    """qemu-build.env plus the guests' env files (default: desktop.env)
    from ${CRP_CACHE:-~/.cache/crp}; FileNotFoundError names the builder
    to run."""
    cache = cache or os.environ.get("CRP_CACHE", os.path.expanduser("~/.cache/crp"))
    builders = {"qemu-build.env": "qemu-crp-display/build-qemu",
                "guest.env": "tests/guest/build-guest",
                "desktop.env": "tests/guest/desktop/build-desktop-guest"}
    env = {}
    for name in ("qemu-build.env",) + (names or ("desktop.env",)):
        path = os.path.join(cache, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} missing: run {builders.get(name, name)}")
        env.update(read_env(path))
    return env


class LineReader:
    """Collects lines from a stream in a thread, stamped on arrival."""

    def __init__(self, stream):
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, args=(stream,),
                                       daemon=True)
        self.thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self.cond:
                self.lines.append((time.monotonic(),
                                   raw.decode(errors="replace").rstrip()))
                self.cond.notify_all()

    def wait(self, pattern, start=0, timeout=30.0):
        """Index, time and match of the first line from @start matching
        @pattern."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i][1])
                    if m:
                        return i, self.lines[i][0], m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = " / ".join(line for _, line in self.lines[-5:])
                    raise TimeoutError(f"no line matching {pattern!r} "
                                       f"in {timeout:.0f} s; last lines: {tail}")
                self.cond.wait(left)

    def count(self):
        with self.cond:
            return len(self.lines)


class SerialConsole(LineReader):
    def __init__(self, path, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        super().__init__(self.sock.makefile("rb"))

    def send(self, text):
        self.sock.sendall(text.encode())


def busybox_guest_args(env, workload):
    """The busybox test guest in mode @workload (shell or demo; film is
    the shell on virtio-vga, where crp-drm plays the film)."""
    mode = "shell" if workload == "film" else workload
    return ["-m", "256", "-device", "virtio-tablet-pci",
            "-kernel", env["GUEST_KERNEL"], "-initrd", env["GUEST_INITRD"],
            "-append", f"{env['GUEST_APPEND']} crp.mode={mode}"]


def clipboard_args():
    """QEMU's clipboard agent on the port a guest's spice-vdagent opens, as
    the broker gives an app's VMs (broker-vm-files.c)."""
    return ["-chardev", "qemu-vdagent,id=crp-vdagent,clipboard=on,mouse=off",
            "-device", "virtio-serial-pci,id=crp-virtio-serial",
            "-device", "virtserialport,bus=crp-virtio-serial.0,chardev=crp-vdagent,"
                       "name=com.redhat.spice.0"]


def files_args(path):
    """The user's files directory @path over virtio-9p with the tag the
    guests mount (crp-files), as the broker gives an app's VMs."""
    return ["-fsdev", f"local,id=crp-files,path={path},security_model=mapped-xattr",
            "-device", "virtio-9p-pci,fsdev=crp-files,mount_tag=crp-files"]


def desktop_guest_args(env, memory=1536, smp=2, clipboard=False, files=None):
    """The desktop guest: its image read-only (snapshot=on: each boot starts
    from the same disk), Debian's kernel booted directly (PVH); with
    @clipboard, the clipboard agent's port (spice-vdagent runs then); with
    @files, that host directory at ~user/My files."""
    return ["-m", str(memory), "-smp", str(smp), "-cpu", "max",
            *(clipboard_args() if clipboard else []),
            *(files_args(files) if files else []),
            "-device", "virtio-tablet-pci",
            "-drive", f"file={env['DESKTOP_IMAGE']},if=virtio,"
                      f"format={env.get('DESKTOP_IMAGE_FORMAT', 'qcow2')},snapshot=on",
            "-kernel", env["DESKTOP_KERNEL"], "-initrd", env["DESKTOP_INITRD"],
            "-append", env["DESKTOP_APPEND"]]


class BenchQemu:
    """QEMU under TCG with the guest of @guest_args, -vga std (or
    virtio-vga with @virtio), -display crp and -vnc on unix sockets in
    @workdir, QMP, the serial console on a socket (also logged to
    workdir/serial.log). @display False: -display none instead, no CRP and
    no VNC (what the guest costs without a display)."""

    def __init__(self, env, workdir, guest_args, lossless=False, module_dir=None,
                 virtio=False, display=True):
        self.dir = workdir
        self.crp_sock = os.path.join(workdir, "crp.sock")
        self.vnc_sock = os.path.join(workdir, "vnc.sock")
        self.qmp_sock = os.path.join(workdir, "qmp.sock")
        serial_sock = os.path.join(workdir, "serial.sock")
        crp = f"crp,addr=unix:{self.crp_sock}"
        if lossless:
            crp += ",lossless=on"
        cmd = [env["QEMU"]]
        for d in env["QEMU_FIRMWARE_DIRS"].split(":"):
            cmd += ["-L", d]
        cmd += ["-name", "bench,debug-threads=on", "-accel", "tcg",
                "-nic", "none",
                *(["-vga", "none", "-device", "virtio-vga"] if virtio else ["-vga", "std"]),
                *guest_args]
        if display:
            # lossy=on: without it QEMU ignores the client's JPEG quality
            # level and Tight never sends JPEG.
            cmd += ["-display", crp, "-vnc", f"unix:{self.vnc_sock},lossy=on"]
        else:
            cmd += ["-display", "none"]
        cmd += ["-qmp", f"unix:{self.qmp_sock},server=on,wait=off",
                "-chardev", f"socket,id=ser0,path={serial_sock},server=on,"
                            f"wait=off,logfile={os.path.join(workdir, 'serial.log')}",
                "-serial", "chardev:ser0"]
        qenv = dict(os.environ,
                    QEMU_MODULE_DIR=module_dir or env["QEMU_MODULE_DIR"])
        self.stderr = open(os.path.join(workdir, "qemu.log"), "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=qenv, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=self.stderr,
                                     preexec_fn=die_with_parent)
        self.pid = self.proc.pid
        self.qmp = None
        try:
            self.serial = SerialConsole(serial_sock)
            deadline = time.monotonic() + 10
            while not os.path.exists(self.qmp_sock):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"QEMU did not start; see {workdir}/qemu.log")
                time.sleep(0.02)
            self.qmp = QMPConnection(self.qmp_sock)
        except BaseException:
            self.close()
            raise

    def key(self, qcode="a"):
        for down in (True, False):
            self.qmp.command("input-send-event", events=[
                {"type": "key", "data": {"down": down,
                                         "key": {"type": "qcode", "data": qcode}}}])

    def pause(self):
        """Stops the guest's vCPUs (QMP stop); the displays go on
        refreshing, from a screen that no longer changes."""
        self.qmp.command("stop")

    def resume(self):
        self.qmp.command("cont")

    def screendump(self, path):
        """The guest's screen as QEMU has it, as a binary PPM."""
        self.qmp.command("screendump", filename=path)

    def crp_client(self):
        clients = crp_query(self.qmp).get("clients", [])
        return clients[0] if clients else None

    def screenshot(self, path):
        """The guest's screen as QEMU has it (QMP screendump), as a PNG."""
        ppm = path + ".ppm"
        self.screendump(ppm)
        width, height, rgb = read_ppm(ppm)
        os.unlink(ppm)
        write_png(path, width, height, rgb)

    def close(self):
        if self.qmp:
            try:
                self.qmp.command("quit")
            except Exception:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.qmp:
            self.qmp.close()
        self.stderr.close()


class DesktopQemu(BenchQemu):
    """The real-desktop guest (tests/guest/desktop) in a BenchQemu."""

    def __init__(self, env, workdir, lossless=False, module_dir=None,
                 memory=1536, smp=2, display=True, clipboard=False, files=None):
        super().__init__(env, workdir, desktop_guest_args(env, memory, smp, clipboard, files),
                         lossless=lossless, module_dir=module_dir, display=display)
        self.scene = None
        self.ready = None

    def wait_desktop(self, timeout=600):
        """Waits for CRP-DESKTOP-READY; returns its fields (uptime: the
        guest's seconds since boot; screen; probe: x, y, w, h of a square
        that only a key into the idle terminal changes) plus boot_s, wall
        seconds since QEMU started."""
        _, t, m = self.serial.wait(r"CRP-DESKTOP-(READY|ERROR)(.*)", timeout=timeout)
        if m.group(1) == "ERROR":
            raise RuntimeError(f"desktop guest: {m.group(0)}")
        fields = dict(kv.split("=", 1) for kv in m.group(2).split())
        self.ready = {
            "boot_s": t - self.started,
            "uptime_s": float(fields["uptime"]),
            "screen": fields["screen"],
            "probe": tuple(int(v) for v in fields["probe"].split(",")),
        }
        return self.ready

    def start_scene(self, name, rate=None, timeout=120):
        """Starts scene @name (see SCENES; @rate its pace, None for the
        default) and waits for its SCENE-BEGIN line; returns the time
        (time.monotonic()) that line arrived."""
        if name not in SCENES:
            raise ValueError(f"unknown scene {name!r}; scenes: {', '.join(SCENES)}")
        start = self.serial.count()
        self.serial.send(f"scene {name}{'' if rate is None else f' {rate}'}\n")
        _, t, m = self.serial.wait(rf"SCENE-(BEGIN|ERROR) {name}\b", start=start,
                                   timeout=timeout)
        if m.group(1) == "ERROR":
            raise RuntimeError(f"scene {name} did not start")
        self.scene = name
        return t

    def run(self, command, timeout=60):
        """Runs a shell command in the guest as its user (crp-agent's
        `run`, for debugging); returns (exit status, output lines)."""
        start = self.serial.count()
        self.serial.send(f"run {command}\n")
        end, _, m = self.serial.wait(r"^RUN-END rc=(\d+)", start=start, timeout=timeout)
        with self.serial.cond:
            out = [line[5:] for _, line in self.serial.lines[start:end]
                   if line.startswith("RUN: ")]
        return int(m.group(1)), out

    def stop_scene(self, timeout=60):
        """Stops the running scene; returns what the guest says it did
        (seconds it ran and its own counters, e.g. lines, steps, laps,
        frames_dropped)."""
        start = self.serial.count()
        self.serial.send("stop\n")
        _, _, m = self.serial.wait(r"SCENE-STAT (\S+)(.*)", start=start, timeout=timeout)
        self.serial.wait(r"SCENE-END ", start=start, timeout=timeout)
        self.scene = None
        stats = {"scene": m.group(1)}
        for kv in m.group(2).split():
            k, _, v = kv.partition("=")
            try:
                stats[k] = float(v)
            except ValueError:
                stats[k] = v
        return stats
