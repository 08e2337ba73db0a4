#!/usr/bin/env python3
"""Checks of bench-vnc-vs-crp's picture-quality measurement, no QEMU needed:
tests/bench/picture-quality on pictures whose PSNR and SSIM are known, and
rfb_client.py's ZRLE and Tight decoders on rects built by hand.

    test-picture-quality.py build/tests/bench/picture-quality
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import unittest
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rfb_client import RFBClient  # noqa: E402

TOOL = None
W, H = 64, 48


def ppm(path, rgb, w=W, h=H):
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h) + bytes(rgb))


def pattern():
    """A picture with structure (gradients and a checkerboard), values
    below 250 so that +4 never clips."""
    out = bytearray()
    for y in range(H):
        for x in range(W):
            c = 200 if (x // 8 + y // 8) % 2 else 20
            out += bytes((c, (x * 3) % 240, (y * 5) % 240))
    return out


class PictureQuality(unittest.TestCase):
    def run_tool(self, ref, *pics):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, pic in enumerate((ref,) + pics):
                paths.append(os.path.join(d, f"{i}.ppm"))
                ppm(paths[-1], pic)
            out = subprocess.run([TOOL] + paths, check=True, capture_output=True,
                                 text=True).stdout
        return [json.loads(line) for line in out.splitlines()]

    def test_equal_is_infinite(self):
        p = pattern()
        (q,) = self.run_tool(p, p)
        self.assertEqual(q["psnr_y"], math.inf)
        self.assertEqual(q["psnr_rgb"], math.inf)
        self.assertEqual(q["ssim_y"], 1.0)
        self.assertEqual(q["differing"], 0)
        self.assertEqual(q["pixels"], W * H)

    def test_known_error(self):
        # +4 on every component: MSE 16 on RGB and on the luma (weights
        # sum to 1), PSNR 10 log10(255^2 / 16) = 36.09 dB. A constant
        # shift leaves the structure: SSIM stays close to 1 but below.
        p = pattern()
        (q,) = self.run_tool(p, bytes(v + 4 for v in p))
        expect = 10 * math.log10(255 * 255 / 16)
        self.assertAlmostEqual(q["psnr_rgb"], expect, places=2)
        self.assertAlmostEqual(q["psnr_y"], expect, places=2)
        self.assertLess(q["ssim_y"], 1.0)
        self.assertGreater(q["ssim_y"], 0.95)
        self.assertEqual(q["differing"], W * H)

    def test_structure_lost(self):
        # A flat grey of the same mean: low SSIM.
        p = pattern()
        mean = sum(p) // len(p)
        (q,) = self.run_tool(p, bytes([mean]) * len(p))
        self.assertLess(q["ssim_y"], 0.5)

    def test_refuses_other_sizes_and_garbage(self):
        with tempfile.TemporaryDirectory() as d:
            a, b, c = (os.path.join(d, n) for n in ("a.ppm", "b.ppm", "c.ppm"))
            ppm(a, pattern())
            ppm(b, bytes(3 * 8 * 8), 8, 8)
            with open(c, "wb") as f:
                f.write(b"P6\n64 48\n255\n" + b"\0" * 10)
            for other in (b, c):
                r = subprocess.run([TOOL, a, other], capture_output=True, text=True)
                self.assertEqual(r.returncode, 1)
                self.assertIn("picture-quality:", r.stderr)


class Decoders(unittest.TestCase):
    """The decoders alone, on a client object that has no connection."""

    def client(self, w, h):
        c = RFBClient.__new__(RFBClient)
        c.width, c.height = w, h
        import threading
        c.lock = threading.Lock()
        c.tpixel = 3
        c._new_picture()
        return c

    def test_zrle_subencodings(self):
        # One 4x2 tile each: solid, packed palette (2 colours, 1 bit),
        # plain RLE, palette RLE, raw. CPIXELs are B,G,R.
        red, blue = b"\x00\x00\xff", b"\xff\x00\x00"
        tiles = [
            (b"\x01" + red, [red] * 8),
            (b"\x02" + red + blue + bytes([0b10100000, 0b01010000]),
             [blue, red, blue, red, red, blue, red, blue]),
            (b"\x80" + red + b"\x04" + blue + b"\x02", [red] * 5 + [blue] * 3),
            (b"\x82" + red + blue + b"\x80\x02" + b"\x01" + b"\x81\x03",
             [red] * 3 + [blue] + [blue] * 4),
            (b"\x00" + red * 4 + blue * 4, [red] * 4 + [blue] * 4),
        ]
        for data, want in tiles:
            c = self.client(4, 2)
            c._zrle(0, 0, 4, 2, data)
            rgb = bytes(c.picture()[2])
            self.assertEqual(rgb, b"".join(p[::-1] for p in want), data)

    def test_zrle_overrun_is_an_error(self):
        c = self.client(4, 2)
        with self.assertRaises(Exception):
            c._zrle(0, 0, 4, 2, b"\x80" + b"\0\0\xff" + b"\x20")

    def test_tight_palette_and_copy_through_zlib(self):
        class Rd:
            def __init__(self, data):
                self.data, self.pos = data, 0

            def read(self, n):
                out = self.data[self.pos:self.pos + n]
                self.pos += n
                return out

            def u8(self):
                return self.read(1)[0]

            def compact_len(self):
                return self.u8()        # short data only here

        c = self.client(8, 2)
        c.tight_z = [zlib.decompressobj() for _ in range(4)]
        a, b = b"\x01\x02\x03", b"\x0a\x0b\x0c"
        # Stream 1 with a filter byte (ctl 0x50), palette of two: a bitmap
        # of 2 bytes, under 12, so sent as is.
        rows = bytes([0b11110000, 0b00001111])
        c.rd = Rd(bytes([0x50, 1, 1]) + a + b + rows)
        c._tight(0, 0, 8, 2, True)
        self.assertEqual(bytes(c.picture()[2]), (b * 4 + a * 4) + (a * 4 + b * 4))
        # Copy filter (stream 0, no filter byte), 8x2 TPIXELs through zlib,
        # in two rects: the stream keeps its dictionary between them.
        z = zlib.compressobj()
        for colour in (a, b):
            data = z.compress(colour * 16) + z.flush(zlib.Z_SYNC_FLUSH)
            c.rd = Rd(bytes([0x00, len(data)]) + data)
            c._tight(0, 0, 8, 2, True)
            self.assertEqual(bytes(c.picture()[2]), colour * 16)


if __name__ == "__main__":
    TOOL = sys.argv.pop(1)
    unittest.main()
