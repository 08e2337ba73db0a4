#!/usr/bin/env python3
"""test-broker-files.py: My files (protocol section 5.6) between the real
crp-broker and crp-headless's files-* commands, without a VM:

- an upload is listed with its size, and a download gives the same bytes
  (multi-MiB, not a multiple of the 1 MiB chunk; and an empty file);
- an interrupted upload resumes: the second run starts where the broker
  says (at least what the first run had acknowledged) and sends only the
  rest; the unfinished file is never listed;
- paths that leave the area (../x, /etc/passwd, a/../../b) are refused
  BAD_REQUEST by the broker itself (--unchecked: crp-headless sends them as
  written) and by the client before sending; nothing lands outside;
- an upload larger than the quota is refused QUOTA_EXCEEDED: no file, no
  partial, nothing counted;
- delete, and NO_SUCH_FILE for a path that is not there.

    test-broker-files.py CRP_BROKER CRP_ADMIN CRP_HEADLESS CRP_BROKER_TEST_CLIENT
"""
import hashlib
import os
import re
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from crpbroker import BrokerEnv, take_tools  # noqa: E402

TOOLS = {}
MIB = 1 << 20


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class FilesTest(unittest.TestCase):

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="crpf-", dir="/tmp")
        # My files needs no QEMU: no app is published.
        self.env = BrokerEnv(self.root, TOOLS, {}, quota_mib=64)
        self.alice = self.env.add_user("alice")
        self.env.start()
        self.local = os.path.join(self.root, "local")
        os.makedirs(self.local)

    def tearDown(self):
        self.env.discard()

    def files(self, run, expect=0):
        code, out, _ = self.env.headless(self.alice, run=run, timeout=120)
        self.assertEqual(code, expect, f"{run}: exit {code}\n{out}\n"
                         f"{self.env.text()[-3000:]}")
        return out

    def random_file(self, name, size):
        path = os.path.join(self.local, name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        return path

    def listing(self, d=""):
        """{name: (kind, size)} and the header's (used, quota)."""
        out = self.files(f"files-list {d}".strip())
        m = re.search(r"^files \S+: used (\d+) quota (\d+), (\d+) entries",
                      out, re.M)
        self.assertIsNotNone(m, out)
        entries = {}
        for line in out.splitlines():
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[0] in ("file", "dir"):
                entries[parts[3]] = (parts[0], int(parts[1]))
        self.assertEqual(len(entries), int(m.group(3)), out)
        return entries, int(m.group(1)), int(m.group(2))

    def files_holding(self, data):
        """Every file under the test's root (state included) whose
        content is @data: where bytes landed, whatever the layout."""
        found = []
        for top, _, names in os.walk(self.root):
            for n in names:
                p = os.path.join(top, n)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                if p.startswith(self.local + os.sep):
                    continue
                if os.path.getsize(p) != len(data):
                    continue
                with open(p, "rb") as f:
                    if f.read() == data:
                        found.append(p)
        return found

    def test_upload_list_download(self):
        size = 5 * MIB + 123
        src = self.random_file("big.bin", size)
        empty = os.path.join(self.local, "empty")
        open(empty, "wb").close()
        out = self.files(f"files-upload {src} docs/big.bin; "
                         f"files-upload {empty} empty")
        self.assertIn(f"upload docs/big.bin from 0 of {size}", out)
        self.assertIn(f"uploaded docs/big.bin {size} bytes, sent {size}", out)

        top, used, quota = self.listing()
        self.assertEqual(top, {"docs": ("dir", 0), "empty": ("file", 0)})
        self.assertEqual(quota, 64 * MIB)
        self.assertGreaterEqual(used, size)
        docs, _, _ = self.listing("docs")
        self.assertEqual(docs, {"big.bin": ("file", size)})

        dst = os.path.join(self.local, "back.bin")
        dst_empty = os.path.join(self.local, "back.empty")
        out = self.files(f"files-download docs/big.bin {dst}; "
                         f"files-download empty {dst_empty}")
        self.assertIn(f"downloaded docs/big.bin {size} bytes", out)
        self.assertEqual(sha256(dst), sha256(src))
        self.assertEqual(os.path.getsize(dst_empty), 0)
        self.assertFalse(os.path.exists(dst + ".part"))

    def test_interrupted_upload_resumes(self):
        size = 12 * MIB + 7
        src = self.random_file("r.bin", size)
        stop = 2 * MIB
        out = self.files(f"files-upload --stop-after {stop} {src} r.bin")
        self.assertIn(f"upload r.bin from 0 of {size}", out)
        m = re.search(r"upload r\.bin stopped at (\d+) of", out)
        self.assertIsNotNone(m, out)
        acked = int(m.group(1))
        self.assertGreaterEqual(acked, stop)
        self.assertLess(acked, size)
        # Never visible half-done.
        top, _, _ = self.listing()
        self.assertNotIn("r.bin", top)

        out = self.files(f"files-upload {src} r.bin")
        m = re.search(r"upload r\.bin from (\d+) of (\d+)", out)
        self.assertIsNotNone(m, out)
        start = int(m.group(1))
        # The broker holds at least what it acknowledged, maybe the chunks
        # that were in flight too, never all of it.
        self.assertGreaterEqual(start, acked)
        self.assertLess(start, size)
        self.assertIn(f"uploaded r.bin {size} bytes, sent {size - start}",
                      out)

        dst = os.path.join(self.local, "r.back")
        self.files(f"files-download r.bin {dst}")
        self.assertEqual(sha256(dst), sha256(src))

    def test_paths_outside_refused(self):
        marker = b"crp traversal marker " + os.urandom(16).hex().encode()
        src = os.path.join(self.local, "m.txt")
        with open(src, "wb") as f:
            f.write(marker)
        bad = ["../x", "/etc/passwd", "a/../../b", "../../broker.conf"]
        for path in bad:
            # The broker's own check, then the client's before sending.
            for unchecked in ("--unchecked ", ""):
                out = self.files(f"files-upload {unchecked}--expect-error "
                                 f"bad-request {src} {path}")
                self.assertIn(f"refused {path}: ", out)
                out = self.files(
                    f"files-download {unchecked}--expect-error bad-request "
                    f"{path} {os.path.join(self.local, 'out')}")
                self.assertIn(f"refused {path}: ", out)
                self.assertFalse(os.path.exists(
                    os.path.join(self.local, "out")))
                self.files(f"files-delete {unchecked}--expect-error "
                           f"bad-request {path}")
        self.files("files-list --unchecked --expect-error bad-request ..")
        self.assertEqual(self.files_holding(marker), [])
        with open(self.env.conf) as f:
            self.assertIn("[broker]", f.read())
        top, _, _ = self.listing()
        self.assertEqual(top, {})

    def test_quota_exceeded(self):
        # Sparse: the broker refuses on the declared size, before any data.
        big = os.path.join(self.local, "huge")
        with open(big, "wb") as f:
            f.truncate(65 * MIB)
        _, used_before, _ = self.listing()
        out = self.files(f"files-upload --expect-error quota-exceeded {big} "
                         "huge")
        self.assertIn("refused huge: ", out)
        top, used, _ = self.listing()
        self.assertNotIn("huge", top)
        self.assertEqual(used, used_before)
        # Nothing of it anywhere (no partial): no 65 MiB file at all.
        for dirpath, _, names in os.walk(self.env.state):
            for n in names:
                p = os.path.join(dirpath, n)
                if os.path.isfile(p) and not os.path.islink(p):
                    self.assertLess(os.path.getsize(p), 65 * MIB, p)
        # Without --expect-error it is the refusal exit code.
        self.files(f"files-upload {big} huge", expect=6)

    def test_delete_and_missing(self):
        src = self.random_file("d.bin", 1000)
        self.files(f"files-upload {src} d/d.bin")
        out = self.files("files-delete d/d.bin; files-delete d")
        self.assertIn("deleted d/d.bin", out)
        top, _, _ = self.listing()
        self.assertEqual(top, {})
        dst = os.path.join(self.local, "gone")
        out = self.files(f"files-download --expect-error no-such-file d/d.bin "
                         f"{dst}; files-delete --expect-error no-such-file "
                         "nothing; files-list --expect-error no-such-file "
                         "nowhere")
        self.assertIn("refused d/d.bin: ", out)
        self.assertFalse(os.path.exists(dst))
        self.assertFalse(os.path.exists(dst + ".part"))
        # An expectation that is not met fails the script.
        self.files(f"files-upload --expect-error no-such-file {src} d.bin",
                   expect=5)


def main():
    take_tools(TOOLS)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
