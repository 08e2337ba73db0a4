"""Screenshots of an X display and finding the guest's picture in them.

Used by the crp-client tests: the client draws the guest 1:1, so the
guest's screen (QMP screendump) must appear in the X screen unchanged,
somewhere inside the window.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "qemu-crp-display", "integration"))
from crpvm import read_ppm  # noqa: E402,F401  (one PPM reader for all tests)


def screendump(vm, path):
    """QMP screendump of @vm, read with the reader above."""
    vm.qmp.command("screendump", filename=path)
    return read_ppm(path)


class Xvfb:
    """A virtual X server of its own (display number chosen by the server)."""

    def __init__(self, workdir, size="1600x1200"):
        r, w = os.pipe()
        with open(os.path.join(workdir, "xvfb.log"), "w") as log:
            self.proc = subprocess.Popen(
                ["Xvfb", "-displayfd", str(w), "-screen", "0", f"{size}x24",
                 "-nolisten", "tcp", "-noreset"],
                pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=log)
        os.close(w)
        number = b""
        with os.fdopen(r, "rb") as f:
            deadline = time.monotonic() + 30
            while not number.endswith(b"\n") and time.monotonic() < deadline:
                chunk = f.read(1)
                if not chunk:
                    break
                number += chunk
        if not number.strip():
            self.proc.kill()
            raise RuntimeError("Xvfb did not start")
        self.display = ":" + number.decode().strip()
        self.workdir = workdir

    def env(self, **extra):
        env = dict(os.environ, DISPLAY=self.display, **extra)
        env.pop("WAYLAND_DISPLAY", None)
        # No session bus here: GTK would try to spawn one.
        env.setdefault("GTK_A11Y", "none")
        return env

    def screenshot(self, name="screen"):
        """(width, height, RGB bytes) of the whole screen."""
        ppm = os.path.join(self.workdir, name + ".ppm")
        for attempt in range(3):
            r = subprocess.run(f"xwd -root -silent -display {self.display} | "
                               f"convert xwd:- -strip -depth 8 {ppm}", shell=True,
                               capture_output=True, text=True)
            if r.returncode == 0:
                return read_ppm(ppm)
            time.sleep(0.5)
        raise RuntimeError(f"no screenshot of {self.display}: {r.stderr}")

    def stop(self):
        stop_process(self.proc)


def stop_process(proc):
    """SIGTERM, and SIGKILL if that is not enough within 10 s (None: no
    process)."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def find_image(screen, image):
    """Where @image appears in @screen, exactly: (x, y), or None.

    The guest's picture is found by its most detailed row (a row of one
    colour would match anywhere), then checked whole."""
    sw, sh, sp = screen
    w, h, p = image
    stride = w * 3
    rows = [p[y * stride:(y + 1) * stride] for y in range(h)]
    key = max(range(h), key=lambda y: len(set(rows[y][i:i + 3]
                                           for i in range(0, stride, 3))))
    for sy in range(key, sh - (h - key) + 1):
        line = sp[sy * sw * 3:(sy + 1) * sw * 3]
        start = 0
        while True:
            pos = line.find(rows[key], start)
            if pos < 0:
                break
            start = pos + 1
            if pos % 3 or pos // 3 + w > sw:
                continue
            x, y = pos // 3, sy - key
            if all(sp[((y + r) * sw + x) * 3:((y + r) * sw + x + w) * 3] == rows[r]
                   for r in range(h)):
                return x, y
    return None


def _row_pairs(screen, image, x, y):
    """Each row of @image with the part of @screen it covers at (@x, @y)."""
    sw, _, sp = screen
    w, h, p = image
    for r in range(h):
        yield (sp[((y + r) * sw + x) * 3:((y + r) * sw + x + w) * 3],
               p[r * w * 3:(r + 1) * w * 3])


def count_differences(screen, image, x, y):
    """Pixels of @image that differ from @screen at (@x, @y)."""
    w = image[0]
    return sum(sum(1 for i in range(0, w * 3, 3) if a[i:i + 3] != b[i:i + 3])
               for a, b in _row_pairs(screen, image, x, y) if a != b)


def mean_difference(screen, image, x, y):
    """The mean absolute difference per channel between @image and the
    part of @screen at (@x, @y): for pictures that are alike, not equal
    (scaled, filtered)."""
    total = sum(sum(abs(i - j) for i, j in zip(a, b))
                for a, b in _row_pairs(screen, image, x, y))
    return total / (image[0] * image[1] * 3)


class _XFixesCursorImage(__import__("ctypes").Structure):
    import ctypes as _c
    _fields_ = [("x", _c.c_short), ("y", _c.c_short),
                ("width", _c.c_ushort), ("height", _c.c_ushort),
                ("xhot", _c.c_ushort), ("yhot", _c.c_ushort),
                ("cursor_serial", _c.c_ulong),
                ("pixels", _c.POINTER(_c.c_ulong)),
                ("atom", _c.c_ulong), ("name", _c.c_char_p)]


def cursor_image(display):
    """The X server's current cursor: (width, height, (hot x, hot y), [ARGB
    premultiplied, one int per pixel]), through XFixes (screenshots do not
    show the cursor)."""
    import ctypes
    xlib = ctypes.CDLL("libX11.so.6")
    xfixes = ctypes.CDLL("libXfixes.so.3")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xlib.XFree.argtypes = [ctypes.c_void_p]
    xfixes.XFixesGetCursorImage.restype = ctypes.POINTER(_XFixesCursorImage)
    xfixes.XFixesGetCursorImage.argtypes = [ctypes.c_void_p]
    dpy = xlib.XOpenDisplay(display.encode())
    if not dpy:
        raise RuntimeError(f"cannot open X display {display}")
    try:
        image = xfixes.XFixesGetCursorImage(dpy)
        if not image:
            raise RuntimeError("XFixesGetCursorImage failed")
        c = image.contents
        pixels = [c.pixels[i] & 0xffffffff for i in range(c.width * c.height)]
        result = (c.width, c.height, (c.xhot, c.yhot), pixels)
        xlib.XFree(image)
        return result
    finally:
        xlib.XCloseDisplay(dpy)


class _XClientMessageEvent(__import__("ctypes").Structure):
    import ctypes as _c
    _fields_ = [("type", _c.c_int), ("serial", _c.c_ulong),
                ("send_event", _c.c_int), ("display", _c.c_void_p),
                ("window", _c.c_ulong), ("message_type", _c.c_ulong),
                ("format", _c.c_int), ("data", _c.c_long * 5),
                ("pad", _c.c_long * 24)]       # XEvent is 24 longs: room to spare


def close_window(display, window):
    """Asks @window to close, as a window manager's close button does:
    WM_DELETE_WINDOW (xdotool windowclose would destroy the X window under
    the client instead)."""
    import ctypes
    xlib = ctypes.CDLL("libX11.so.6")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int,
                                ctypes.c_long, ctypes.c_void_p]
    xlib.XFlush.argtypes = [ctypes.c_void_p]
    dpy = xlib.XOpenDisplay(display.encode())
    if not dpy:
        raise RuntimeError(f"cannot open X display {display}")
    try:
        event = _XClientMessageEvent()
        event.type = 33                 # ClientMessage
        event.window = int(window)
        event.message_type = xlib.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        event.format = 32
        event.data[0] = xlib.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        event.data[1] = 0               # CurrentTime
        if not xlib.XSendEvent(dpy, int(window), 0, 0, ctypes.byref(event)):
            raise RuntimeError("XSendEvent failed")
        xlib.XFlush(dpy)
    finally:
        xlib.XCloseDisplay(dpy)
