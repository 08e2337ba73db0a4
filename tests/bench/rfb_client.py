"""A minimal RFB 3.8 client for benchmarks (Python 3 standard library only).

It speaks just enough of the protocol (RFC 6143, plus the Tight encoding
from the community rfbproto spec) to stand in for a real viewer: no auth,
shared session, 32-bpp true colour, the encodings a viewer would ask for,
and a FramebufferUpdateRequest (incremental) sent as soon as each update
has been read, the way viewers without continuous updates behave.

It never decodes pixels: every rect is parsed only as far as needed to know
its length and consume it exactly. It counts bytes, updates and rects and
timestamps each update, which is what bench-vnc-vs-crp needs.

    c = RFBClient("/tmp/vm/vnc.sock", encodings=RFBClient.TIGHT_JPEG)
    c.start()                 # reader thread
    before = c.snapshot()
    ...
    after = c.snapshot()
    c.key(0xff0d)             # Return, press and release
    c.close()
"""

import socket
import struct
import threading
import time

# Encodings (RFC 6143 section 7.7, rfbproto).
ENC_RAW = 0
ENC_COPYRECT = 1
ENC_TIGHT = 7
ENC_ZRLE = 16
ENC_DESKTOP_SIZE = -223
ENC_COMPRESS_LEVEL0 = -256
ENC_QUALITY_LEVEL0 = -32

ENC_NAMES = {ENC_RAW: "raw", ENC_COPYRECT: "copy", ENC_TIGHT: "tight",
             ENC_ZRLE: "zrle", ENC_DESKTOP_SIZE: "desktop-size"}


class RFBError(Exception):
    pass


class _Reader:
    """Exact reads from a socket, counting every byte."""

    def __init__(self, sock):
        self.file = sock.makefile("rb", buffering=1 << 16)
        self.nbytes = 0

    def read(self, n):
        data = self.file.read(n)
        if data is None or len(data) != n:
            raise RFBError("connection closed")
        self.nbytes += n
        return data

    def skip(self, n):
        while n > 0:
            chunk = self.read(min(n, 1 << 16))
            n -= len(chunk)

    def u8(self):
        return self.read(1)[0]

    def u16(self):
        return struct.unpack(">H", self.read(2))[0]

    def u32(self):
        return struct.unpack(">I", self.read(4))[0]

    def compact_len(self):
        """Tight's compact length: 1-3 bytes, 7 bits each, low bits first."""
        b = self.u8()
        n = b & 0x7f
        if b & 0x80:
            b = self.u8()
            n |= (b & 0x7f) << 7
            if b & 0x80:
                n |= self.u8() << 14
        return n


class RFBClient:
    # What a viewer asks for, most preferred first.
    # TigerVNC's defaults: quality level 8, compression level 2.
    TIGHT_JPEG = (ENC_TIGHT, ENC_COPYRECT, ENC_DESKTOP_SIZE,
                  ENC_QUALITY_LEVEL0 + 8, ENC_COMPRESS_LEVEL0 + 2)
    ZRLE = (ENC_ZRLE, ENC_COPYRECT, ENC_DESKTOP_SIZE)

    def __init__(self, path, encodings=TIGHT_JPEG, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.rd = _Reader(self.sock)
        self.send_lock = threading.Lock()
        self.lock = threading.Lock()
        self.updates = 0
        self.rects = {}        # kind -> count, see _rect()
        self.update_log = []   # (monotonic time at end of update, rect list)
        self.error = None
        self.thread = None
        self.closing = False
        self._handshake(encodings)

    # -- handshake ---------------------------------------------------------

    def _handshake(self, encodings):
        rd = self.rd
        version = rd.read(12)
        if not version.startswith(b"RFB 003."):
            raise RFBError(f"not an RFB server: {version!r}")
        self.sock.sendall(b"RFB 003.008\n")
        n = rd.u8()
        if n == 0:
            raise RFBError("server refused: " + rd.read(rd.u32()).decode(errors="replace"))
        types = rd.read(n)
        if 1 not in types:
            raise RFBError(f"no 'None' security type offered: {list(types)}")
        self.sock.sendall(b"\x01")
        if rd.u32() != 0:
            raise RFBError("security handshake failed")
        self.sock.sendall(b"\x01")                       # ClientInit: shared
        self.width, self.height = rd.u16(), rd.u16()
        rd.read(16)                                      # server pixel format
        self.name = rd.read(rd.u32()).decode(errors="replace")
        # SetPixelFormat: 32 bpp, depth 24, little endian, true colour,
        # 255/255/255 at shifts 16/8/0 (Tight then sends 3-byte TPIXELs).
        pf = struct.pack(">BBBBHHHBBBxxx", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        msg = struct.pack(">Bxxx", 0) + pf
        msg += struct.pack(">BxH", 2, len(encodings))
        msg += b"".join(struct.pack(">i", e) for e in encodings)
        self.sock.sendall(msg)
        self.tpixel = 3
        self._request(incremental=False)

    # -- sending -----------------------------------------------------------

    def _send(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def _request(self, incremental=True):
        self._send(struct.pack(">BBHHHH", 3, 1 if incremental else 0,
                               0, 0, self.width, self.height))

    def key(self, keysym, down=None):
        """KeyEvent: press and release, or only one of them if @down is
        given."""
        for d in ((True, False) if down is None else (down,)):
            self._send(struct.pack(">BBxxI", 4, 1 if d else 0, keysym))

    def pointer(self, x, y, buttons=0):
        self._send(struct.pack(">BBHH", 5, buttons, x, y))

    # -- receiving ---------------------------------------------------------

    def start(self):
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                self._message()
        except (RFBError, OSError, struct.error) as e:
            if not self.closing:
                self.error = e

    def _message(self):
        rd = self.rd
        t = rd.u8()
        if t == 0:
            rd.read(1)
            n = rd.u16()
            rects = []
            counts = {}
            for _ in range(n):
                x, y, w, h, enc = struct.unpack(">HHHHi", rd.read(12))
                kind = self._rect(x, y, w, h, enc)
                rects.append((x, y, w, h, enc))
                counts[kind] = counts.get(kind, 0) + 1
            now = time.monotonic()
            with self.lock:
                self.updates += 1
                for enc, k in counts.items():
                    self.rects[enc] = self.rects.get(enc, 0) + k
                self.update_log.append((now, rects))
                if len(self.update_log) > 4096:
                    del self.update_log[:2048]
            self._request()
        elif t == 1:                                     # SetColourMapEntries
            rd.read(3)
            rd.skip(rd.u16() * 6)
        elif t == 2:                                     # Bell
            pass
        elif t == 3:                                     # ServerCutText
            rd.read(3)
            rd.skip(rd.u32())
        else:
            raise RFBError(f"unexpected server message type {t}")

    def _rect(self, x, y, w, h, enc):
        """Consumes one rect; returns what it was, e.g. "zrle" or
        "tight-jpeg"."""
        rd = self.rd
        if enc == ENC_RAW:
            rd.skip(w * h * 4)
        elif enc == ENC_COPYRECT:
            rd.read(4)
        elif enc == ENC_ZRLE:
            rd.skip(rd.u32())
        elif enc == ENC_TIGHT:
            return "tight-" + self._tight(w, h)
        elif enc == ENC_DESKTOP_SIZE:
            self.width, self.height = w, h
        else:
            raise RFBError(f"unexpected encoding {enc} (not requested)")
        return ENC_NAMES[enc]

    def _tight(self, w, h):
        rd = self.rd
        ctl = rd.u8()
        kind = ctl >> 4
        if kind == 8:                                    # fill
            rd.read(self.tpixel)
            return "fill"
        if kind == 9:                                    # JPEG
            rd.skip(rd.compact_len())
            return "jpeg"
        if kind & 0x8:                                   # PNG etc.: not asked for
            raise RFBError(f"unexpected tight compression control {ctl:#x}")
        filt = rd.u8() if kind & 0x4 else 0
        if filt == 0:                                    # copy
            size = w * h * self.tpixel
        elif filt == 1:                                  # palette
            ncolors = rd.u8() + 1
            rd.read(ncolors * self.tpixel)
            size = ((w + 7) // 8) * h if ncolors == 2 else w * h
        elif filt == 2:                                  # gradient
            size = w * h * self.tpixel
        else:
            raise RFBError(f"unknown tight filter {filt}")
        if size < 12:
            rd.read(size)
        else:
            rd.skip(rd.compact_len())
        return ("copy", "palette", "gradient")[filt]

    # -- results -----------------------------------------------------------

    def snapshot(self):
        """Counters now: (monotonic time, bytes received, updates,
        rects by kind: "zrle", "copy", "tight-jpeg", "tight-palette"...)."""
        with self.lock:
            return (time.monotonic(), self.rd.nbytes, self.updates,
                    dict(self.rects))

    def first_update_covering(self, px, py, after):
        """Time at which the first update that ended after @after and has a
        rect covering pixel (px, py) was fully read, or None."""
        with self.lock:
            log = list(self.update_log)
        for t, rects in log:
            if t <= after:
                continue
            for x, y, w, h, enc in rects:
                if enc in (ENC_DESKTOP_SIZE,):
                    continue
                if x <= px < x + w and y <= py < y + h:
                    return t
        return None

    def close(self):
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.thread:
            self.thread.join(2)
