"""A minimal RFB 3.8 client for benchmarks (Python 3 standard library only).

It speaks just enough of the protocol (RFC 6143, plus the Tight encoding
from the community rfbproto spec) to stand in for a real viewer: no auth,
shared session, 32-bpp true colour, the encodings a viewer would ask for,
and a FramebufferUpdateRequest (incremental) sent as soon as each update
has been read, the way viewers without continuous updates behave.

By default it does not decode pixels: every rect is parsed only as far as
needed to know its length and consume it exactly (zlib data is inflated,
since Tight's and ZRLE's streams carry their dictionary from the first
rect on, but nothing more). It counts bytes, updates and rects and
timestamps each update, which is what bench-vnc-vs-crp measures, at a
cost that keeps the client from slowing the server it measures.

start_decoding() turns on decoding (Tight: fill, copy, palette, gradient,
JPEG through libturbojpeg with ctypes; ZRLE; CopyRect; raw) into an RGB
picture, from a full (non-incremental) update on: picture() then returns
what a viewer would show, for the picture-quality measurement. Decoding
is pure Python and slow (about a second for a full 1280x800 ZRLE frame),
so turn it on only where the client's pace does not matter.

    c = RFBClient("/tmp/vm/vnc.sock", encodings=RFBClient.TIGHT_JPEG)
    c.start()                 # reader thread
    before = c.snapshot()
    ...
    after = c.snapshot()
    c.key(0xff0d)             # Return, press and release
    c.start_decoding()
    ...                       # wait until c.synced() and c.idle_for() > 0.3
    w, h, rgb = c.picture()
    c.close()
"""

import ctypes
import ctypes.util
import socket
import struct
import threading
import time
import zlib

# Encodings (RFC 6143 section 7.7, rfbproto).
ENC_RAW = 0
ENC_COPYRECT = 1
ENC_TIGHT = 7
ENC_ZRLE = 16
ENC_DESKTOP_SIZE = -223
ENC_COMPRESS_LEVEL0 = -256
ENC_QUALITY_LEVEL0 = -32
# The extended clipboard pseudo-encoding (rfbproto "Extended Clipboard",
# QEMU ui/vnc-clipboard.c): notify, request and provide, zlib-compressed.
ENC_EXT_CLIPBOARD = -1063131698          # 0xc0a1e5ce
CLIP_TEXT = 1 << 0
CLIP_CAPS = 1 << 24
CLIP_REQUEST = 1 << 25
CLIP_NOTIFY = 1 << 27
CLIP_PROVIDE = 1 << 28

ENC_NAMES = {ENC_RAW: "raw", ENC_COPYRECT: "copy", ENC_TIGHT: "tight",
             ENC_ZRLE: "zrle", ENC_DESKTOP_SIZE: "desktop-size"}
BLOCK = 16          # granularity of the "painted since decoding began" map


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


def _swap3(data):
    """B,G,R triples (ZRLE's CPIXEL of our pixel format) to R,G,B."""
    out = bytearray(len(data))
    out[0::3], out[1::3], out[2::3] = data[2::3], data[1::3], data[0::3]
    return out


def _bgrx_to_rgb(data):
    """Raw 32-bpp pixels of our pixel format (B,G,R,x in memory) to R,G,B."""
    out = bytearray(len(data) // 4 * 3)
    out[0::3], out[1::3], out[2::3] = data[2::4], data[1::4], data[0::4]
    return out


# Packed palette indices: for each byte, its indices at 1, 2 and 4 bits,
# most significant first.
_UNPACK = {bits: [[(b >> (8 - bits * (i + 1))) & ((1 << bits) - 1)
                   for i in range(8 // bits)] for b in range(256)]
           for bits in (1, 2, 4)}


def _unpack_rows(data, pos, w, h, bits, palette):
    """Rows of packed palette indices (each row padded to a byte) to R,G,B
    pixels; returns (pixels, new position)."""
    row_bytes = (w * bits + 7) // 8
    table = _UNPACK[bits]
    out = bytearray()
    for _ in range(h):
        idx = []
        for b in data[pos:pos + row_bytes]:
            idx.extend(table[b])
        out += b"".join(palette[i] for i in idx[:w])
        pos += row_bytes
    return out, pos


class _TurboJPEG:
    """The few TurboJPEG calls a Tight JPEG rect needs, through ctypes."""

    def __init__(self):
        name = ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0"
        self.lib = ctypes.CDLL(name)
        self.lib.tjInitDecompress.restype = ctypes.c_void_p
        self.lib.tjGetErrorStr.restype = ctypes.c_char_p
        self.lib.tjDecompressHeader3.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong,
            ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        self.lib.tjDecompress2.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p,
            ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.handle = self.lib.tjInitDecompress()
        if not self.handle:
            raise RFBError("tjInitDecompress failed")

    def decode(self, data, w, h):
        """R,G,B pixels of a JPEG of @w x @h."""
        jw, jh, sub, cs = (ctypes.c_int() for _ in range(4))
        if self.lib.tjDecompressHeader3(self.handle, data, len(data), ctypes.byref(jw),
                                        ctypes.byref(jh), ctypes.byref(sub),
                                        ctypes.byref(cs)) != 0:
            raise RFBError("JPEG: " + self.lib.tjGetErrorStr().decode())
        if (jw.value, jh.value) != (w, h):
            raise RFBError(f"JPEG of {jw.value}x{jh.value} in a {w}x{h} rect")
        out = ctypes.create_string_buffer(w * h * 3)
        if self.lib.tjDecompress2(self.handle, data, len(data), out, w, 0, h,
                                  0, 0) != 0:                # TJPF_RGB
            raise RFBError("JPEG: " + self.lib.tjGetErrorStr().decode())
        return out.raw


class RFBClient:
    # What a viewer asks for, most preferred first.
    # TigerVNC's defaults: quality level 8, compression level 2.
    TIGHT_JPEG = (ENC_TIGHT, ENC_COPYRECT, ENC_DESKTOP_SIZE,
                  ENC_QUALITY_LEVEL0 + 8, ENC_COMPRESS_LEVEL0 + 2)
    ZRLE = (ENC_ZRLE, ENC_COPYRECT, ENC_DESKTOP_SIZE)

    def __init__(self, path, encodings=TIGHT_JPEG, timeout=10.0, clipboard=False):
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
        # zlib streams: Tight's four, ZRLE's one (persistent per connection).
        self.tight_z = [zlib.decompressobj() for _ in range(4)]
        self.zrle_z = zlib.decompressobj()
        # Decoding (start_decoding()): the picture, R,G,B, row after row,
        # and which BLOCK x BLOCK cells have been painted since it began.
        self.decoding = False
        self.jpeg = None
        self.pic = None
        self.painted = None
        self.last_update = time.monotonic()
        # Clipboard (ServerCutText, and the extended clipboard with
        # @clipboard or ENC_EXT_CLIPBOARD among @encodings): the last text
        # the server provided, every text as it came (bytes), the flags of
        # its NOTIFYs, and ours to provide on request.
        self.clip_cond = threading.Condition(self.lock)
        self.clip_text = None
        self.clip_received = []
        self.clip_notifies = []
        self.clip_ours = None
        if clipboard and ENC_EXT_CLIPBOARD not in encodings:
            encodings = tuple(encodings) + (ENC_EXT_CLIPBOARD,)
        self.ext_clipboard = ENC_EXT_CLIPBOARD in encodings
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
        # 255/255/255 at shifts 16/8/0 (Tight then sends 3-byte TPIXELs,
        # R,G,B; ZRLE 3-byte CPIXELs, the low bytes: B,G,R).
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
        except (RFBError, OSError, struct.error, zlib.error, IndexError) as e:
            if not self.closing:
                with self.clip_cond:
                    self.error = e
                    self.clip_cond.notify_all()

    def _message(self):
        rd = self.rd
        t = rd.u8()
        if t == 0:
            rd.read(1)
            n = rd.u16()
            rects = []
            counts = {}
            with self.lock:
                decoding = self.decoding
            for _ in range(n):
                x, y, w, h, enc = struct.unpack(">HHHHi", rd.read(12))
                kind = self._rect(x, y, w, h, enc, decoding)
                rects.append((x, y, w, h, enc))
                counts[kind] = counts.get(kind, 0) + 1
            now = time.monotonic()
            with self.lock:
                self.updates += 1
                self.last_update = now
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
            n = struct.unpack(">i", rd.read(4))[0]
            if n >= 0:
                self._clip_received(rd.read(n).decode("latin-1"))
            else:
                self._clip_ext(rd.read(-n))
        else:
            raise RFBError(f"unexpected server message type {t}")

    # -- clipboard -----------------------------------------------------------

    def _clip_send(self, flags, payload=b""):
        self._send(struct.pack(">Bxxxi", 6, -(4 + len(payload))) +
                   struct.pack(">I", flags) + payload)

    def _clip_received(self, text, raw=None):
        with self.clip_cond:
            self.clip_text = text
            self.clip_received.append(raw if raw is not None
                                      else text.encode("latin-1"))
            self.clip_cond.notify_all()

    def _clip_ext(self, body):
        flags = struct.unpack(">I", body[:4])[0]
        if flags & CLIP_CAPS:
            return
        if flags & CLIP_NOTIFY:
            # The server's clipboard changed: fetch its text at once, as a
            # viewer that mirrors it into the local clipboard does.
            with self.clip_cond:
                self.clip_notifies.append(flags)
                self.clip_cond.notify_all()
            if flags & CLIP_TEXT:
                self._clip_send(CLIP_REQUEST | CLIP_TEXT)
        if flags & CLIP_REQUEST and flags & CLIP_TEXT and self.clip_ours is not None:
            self._clip_provide()
        if flags & CLIP_PROVIDE and flags & CLIP_TEXT:
            data = zlib.decompress(body[4:])
            n = struct.unpack(">I", data[:4])[0]
            if n > len(data) - 4:
                raise RFBError("clipboard text longer than its payload")
            raw = data[4:4 + n]
            self._clip_received(raw.rstrip(b"\0").decode("utf-8", "replace"), raw)

    def _clip_provide(self):
        text = self.clip_ours
        if isinstance(text, str):
            text = text.encode("utf-8") + b"\0"
        self._clip_send(CLIP_PROVIDE | CLIP_TEXT,
                        zlib.compress(struct.pack(">I", len(text)) + text))

    def clipboard_set(self, text):
        """Our clipboard holds @text: announced (extended clipboard; the
        server asks for it) or sent whole (ClientCutText, Latin-1). A str
        is sent as UTF-8 with the NUL viewers add; bytes exactly as given."""
        self.clip_ours = text
        if self.ext_clipboard:
            self._clip_send(CLIP_NOTIFY | CLIP_TEXT)
        else:
            data = text.encode("latin-1") if isinstance(text, str) else text
            self._send(struct.pack(">BxxxI", 6, len(data)) + data)

    @property
    def clip_texts(self):
        """How many texts the server provided."""
        return len(self.clip_received)

    def clipboard_request(self):
        """Asks for the server's text (it comes to clipboard_wait())."""
        self._clip_send(CLIP_REQUEST | CLIP_TEXT)

    def clipboard_wait(self, count, timeout=10.0):
        """Waits until @count texts came in all; returns them (bytes)."""
        with self.clip_cond:
            self.clip_cond.wait_for(lambda: len(self.clip_received) >= count
                                    or self.error is not None, timeout)
            return list(self.clip_received)

    def clipboard_wait_notify(self, count, timeout=10.0):
        """Waits until @count NOTIFYs came in all; returns their flags."""
        with self.clip_cond:
            self.clip_cond.wait_for(lambda: len(self.clip_notifies) >= count
                                    or self.error is not None, timeout)
            return list(self.clip_notifies)

    def wait_clipboard(self, text, timeout):
        """Until the server provided @text; returns the last text seen."""
        deadline = time.monotonic() + timeout
        with self.clip_cond:
            while self.clip_text != text and self.error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.clip_cond.wait(left)
            return self.clip_text

    def _rect(self, x, y, w, h, enc, decoding):
        """Consumes one rect (into the picture if @decoding); returns what
        it was, e.g. "zrle" or "tight-jpeg"."""
        rd = self.rd
        if enc == ENC_RAW:
            if decoding:
                self._put(x, y, w, h, _bgrx_to_rgb(rd.read(w * h * 4)))
            else:
                rd.skip(w * h * 4)
        elif enc == ENC_COPYRECT:
            sx, sy = struct.unpack(">HH", rd.read(4))
            if decoding:
                self._copy(sx, sy, x, y, w, h)
        elif enc == ENC_ZRLE:
            data = self.zrle_z.decompress(rd.read(rd.u32()))
            if decoding:
                self._zrle(x, y, w, h, data)
        elif enc == ENC_TIGHT:
            return "tight-" + self._tight(x, y, w, h, decoding)
        elif enc == ENC_DESKTOP_SIZE:
            self.width, self.height = w, h
            if decoding:
                self._new_picture()
        else:
            raise RFBError(f"unexpected encoding {enc} (not requested)")
        return ENC_NAMES[enc]

    def _tight(self, x, y, w, h, decoding):
        rd = self.rd
        ctl = rd.u8()
        for i in range(4):
            if ctl & (1 << i):
                self.tight_z[i] = zlib.decompressobj()
        kind = ctl >> 4
        if kind == 8:                                    # fill
            px = rd.read(self.tpixel)
            if decoding:
                self._put(x, y, w, h, px * (w * h))
            return "fill"
        if kind == 9:                                    # JPEG
            data = rd.read(rd.compact_len())
            if decoding:
                self._put(x, y, w, h, self.jpeg.decode(data, w, h))
            return "jpeg"
        if kind & 0x8:                                   # PNG etc.: not asked for
            raise RFBError(f"unexpected tight compression control {ctl:#x}")
        filt = rd.u8() if kind & 0x4 else 0
        palette = None
        if filt == 0:                                    # copy
            size = w * h * self.tpixel
        elif filt == 1:                                  # palette
            ncolors = rd.u8() + 1
            pal = rd.read(ncolors * self.tpixel)
            palette = [pal[i * 3:i * 3 + 3] for i in range(ncolors)]
            size = ((w + 7) // 8) * h if ncolors == 2 else w * h
        elif filt == 2:                                  # gradient
            size = w * h * self.tpixel
        else:
            raise RFBError(f"unknown tight filter {filt}")
        if size < 12:
            data = rd.read(size)
        else:
            data = self.tight_z[kind & 3].decompress(rd.read(rd.compact_len()))
        if decoding:
            if len(data) != size:
                raise RFBError(f"tight: {len(data)} bytes for {size}")
            if filt == 0:
                self._put(x, y, w, h, data)
            elif filt == 1 and len(palette) == 2:
                self._put(x, y, w, h, _unpack_rows(data, 0, w, h, 1, palette)[0])
            elif filt == 1:
                self._put(x, y, w, h, b"".join(palette[i] for i in data))
            else:
                self._put(x, y, w, h, self._gradient(data, w, h))
        return ("copy", "palette", "gradient")[filt]

    @staticmethod
    def _gradient(data, w, h):
        """Tight's gradient filter undone: each component is its
        prediction (left + above - above-left, clamped) plus the data."""
        out = bytearray(len(data))
        stride = w * 3
        for i in range(len(data)):
            col = (i % stride) // 3
            left = out[i - 3] if col else 0
            above = out[i - stride] if i >= stride else 0
            corner = out[i - stride - 3] if col and i >= stride else 0
            p = min(255, max(0, left + above - corner))
            out[i] = (p + data[i]) & 0xff
        return out

    def _zrle(self, x, y, w, h, data):
        pos = 0
        for ty in range(y, y + h, 64):
            th = min(64, y + h - ty)
            for tx in range(x, x + w, 64):
                tw = min(64, x + w - tx)
                n = tw * th
                sub = data[pos]
                pos += 1
                if sub == 0:                             # raw
                    px = _swap3(data[pos:pos + n * 3])
                    pos += n * 3
                elif sub == 1:                           # solid
                    px = _swap3(data[pos:pos + 3]) * n
                    pos += 3
                elif sub <= 16:                          # packed palette
                    pal = [bytes(_swap3(data[pos + i * 3:pos + i * 3 + 3]))
                           for i in range(sub)]
                    pos += sub * 3
                    bits = 1 if sub == 2 else 2 if sub <= 4 else 4
                    px, pos = _unpack_rows(data, pos, tw, th, bits, pal)
                elif sub == 128 or sub >= 130:           # RLE, palette RLE
                    pal = None
                    if sub >= 130:
                        pal = [bytes(_swap3(data[pos + i * 3:pos + i * 3 + 3]))
                               for i in range(sub - 128)]
                        pos += (sub - 128) * 3
                    px = bytearray()
                    while len(px) < n * 3:
                        if pal is None:
                            c = bytes(_swap3(data[pos:pos + 3]))
                            pos += 3
                            is_run = True
                        else:
                            c = pal[data[pos] & 0x7f]
                            is_run = data[pos] & 0x80
                            pos += 1
                        run = 1
                        if is_run:
                            while True:
                                b = data[pos]
                                pos += 1
                                run += b
                                if b != 255:
                                    break
                        px += c * run
                else:
                    raise RFBError(f"ZRLE: unknown subencoding {sub}")
                if len(px) != n * 3:
                    raise RFBError("ZRLE: tile overruns")
                self._put(tx, ty, tw, th, px)
        if pos != len(data):
            raise RFBError(f"ZRLE: {len(data) - pos} bytes left in a rect")

    # -- the picture (decoding only) ----------------------------------------

    def _new_picture(self):
        with self.lock:
            self.pic = bytearray(self.width * self.height * 3)
            bw = (self.width + BLOCK - 1) // BLOCK
            bh = (self.height + BLOCK - 1) // BLOCK
            self.painted = bytearray(bw * bh)

    def _put(self, x, y, w, h, px):
        """@px (R,G,B, w * h pixels) into the picture at x, y."""
        if x + w > self.width or y + h > self.height or len(px) != w * h * 3:
            raise RFBError(f"rect {w}x{h}+{x}+{y} outside {self.width}x{self.height}")
        stride, row = self.width * 3, w * 3
        with self.lock:
            for r in range(h):
                o = (y + r) * stride + x * 3
                self.pic[o:o + row] = px[r * row:(r + 1) * row]
            self._mark(x, y, w, h)

    def _copy(self, sx, sy, x, y, w, h):
        if max(sx, x) + w > self.width or max(sy, y) + h > self.height:
            raise RFBError("CopyRect outside the screen")
        stride, row = self.width * 3, w * 3
        with self.lock:
            rows = [bytes(self.pic[(sy + r) * stride + sx * 3:(sy + r) * stride + sx * 3 + row])
                    for r in range(h)]
        self._put(x, y, w, h, b"".join(rows))

    def _mark(self, x, y, w, h):
        bw = (self.width + BLOCK - 1) // BLOCK
        for by in range(y // BLOCK, (y + h - 1) // BLOCK + 1):
            b0 = by * bw
            self.painted[b0 + x // BLOCK:b0 + (x + w - 1) // BLOCK + 1] = \
                b"\1" * ((x + w - 1) // BLOCK - x // BLOCK + 1)

    def start_decoding(self):
        """Decodes every rect from now on into the picture, starting from
        a full update (asked for here)."""
        if self.jpeg is None:
            self.jpeg = _TurboJPEG()
        self._new_picture()
        with self.lock:
            self.decoding = True
        self._send(struct.pack(">BBHHHH", 3, 0, 0, 0, self.width, self.height))

    def synced(self):
        """Whether every part of the picture has been painted since
        start_decoding()."""
        with self.lock:
            return self.painted is not None and all(self.painted)

    def idle_for(self):
        """Seconds since the last update was read (and decoded)."""
        with self.lock:
            return time.monotonic() - self.last_update

    def picture(self):
        """(width, height, R,G,B bytes) of what the client shows now."""
        with self.lock:
            return self.width, self.height, bytes(self.pic)

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
