#!/usr/bin/env python3
"""The user's files directory in the VM, with real peers: QEMU's virtio-9p
device on a host directory (security_model=mapped-xattr, as the broker
starts it), the test guest's 9p modules and its mount of the tag crp-files
at /files. No broker: this test is the host side itself.

Checks bytes both ways, that a file the host renames into place is seen at
once (no stale cache in the guest), that what the guest makes as a symlink
or a FIFO is a plain file on the host, that any guest user can use the
host's 0666/0777 files, and that a VM without the device boots as before.

Usage: test-files.py [unittest args]
Skips (exit 77) when QEMU or the guest has not been built, QEMU was built
without virtfs, or the host file system has no user xattrs.
"""

import hashlib
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import unittest

from crpvm import CrpVM, load_env

ENV = None
TAG = "crp-files"


def files_args(path):
    return ["-fsdev", f"local,id=crp-files,path={path},security_model=mapped-xattr",
            "-device", f"virtio-9p-pci,fsdev=crp-files,mount_tag={TAG}"]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_random(path, size):
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
        f.write(os.urandom(size & ((1 << 20) - 1)))


class Files(unittest.TestCase):
    """One VM with the files device on a directory laid out as the
    broker's: 0777 inside a 0700 parent."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="crp-it-files-")
        os.chmod(cls.tmp.name, 0o700)
        cls.files = os.path.join(cls.tmp.name, "files")
        os.mkdir(cls.files)
        os.chmod(cls.files, 0o777)
        cls.vm = CrpVM(os.path.join(cls.tmp.name, "vm"), ENV, mode="shell",
                       extra_args=files_args(cls.files))

    @classmethod
    def tearDownClass(cls):
        cls.vm.stop()
        cls.tmp.cleanup()

    def sh(self, command, timeout=60):
        code, out = self.vm.sh(command, timeout)
        self.assertEqual(code, 0, f"{command}: {out}")
        return out

    def test_guest_reports_and_mounts(self):
        m = re.search(r"CRP-GUEST-DEVICES .*", self.vm.serial_text())
        self.assertIn(" files=1 ", m.group(0))
        self.assertIn("files=1", self.sh("cat /run/crp-guest.info"))
        mounts = self.sh("grep ' /files ' /proc/mounts")
        self.assertRegex(mounts, rf"^{TAG} /files 9p .*trans=virtio")

    def test_host_file_read_in_guest(self):
        size = 3 * (1 << 20) + 12345
        write_random(os.path.join(self.files, "from-host.bin"), size)
        out = self.sh("sha256sum /files/from-host.bin")
        self.assertEqual(out.split()[0], sha256_file(os.path.join(self.files, "from-host.bin")))
        self.assertEqual(self.sh("stat -c %s /files/from-host.bin"), str(size))

    def test_guest_file_read_on_host(self):
        out = self.sh("mkdir -p /files/made/in/guest && "
                      "dd if=/dev/urandom of=/files/made/in/guest/g.bin bs=65536 count=37 2>/dev/null && "
                      "sync && sha256sum /files/made/in/guest/g.bin")
        path = os.path.join(self.files, "made", "in", "guest", "g.bin")
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(st.st_size, 37 * 65536)
        self.assertEqual(sha256_file(path), out.split()[0])
        # mapped-xattr: the host file belongs to QEMU's user, whatever the
        # guest's owner was (that lives in an xattr).
        self.assertEqual(st.st_uid, os.getuid())
        self.assertTrue(stat.S_ISDIR(os.lstat(os.path.join(self.files, "made", "in")).st_mode))

    def test_host_rename_seen_at_once(self):
        d = os.path.join(self.files, "renamed")
        os.mkdir(d)
        os.chmod(d, 0o777)
        with open(os.path.join(d, "doc.txt"), "w") as f:
            f.write("version 1\n")
        # The guest lists the directory and reads the file: anything it
        # caches is now the old state.
        self.assertEqual(self.sh("ls /files/renamed"), "doc.txt")
        self.assertEqual(self.sh("cat /files/renamed/doc.txt"), "version 1")
        # As the broker stores an upload: a temporary name, then rename.
        for name, text in (("doc.txt", "version 2, longer than the first\n"),
                           ("new.txt", "a new file\n")):
            tmp = os.path.join(d, f".{name}.part")
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, os.path.join(d, name))
        self.assertEqual(self.sh("ls /files/renamed").split(), ["doc.txt", "new.txt"])
        self.assertEqual(self.sh("cat /files/renamed/doc.txt"),
                         "version 2, longer than the first")
        self.assertEqual(self.sh("cat /files/renamed/new.txt"), "a new file")
        # And a removal on the host is gone for the guest too.
        os.unlink(os.path.join(d, "new.txt"))
        code, out = self.vm.sh("cat /files/renamed/new.txt")
        self.assertNotEqual(code, 0, out)
        self.assertEqual(self.sh("ls /files/renamed"), "doc.txt")

    def test_guest_special_files_are_plain_on_host(self):
        self.sh("ln -s /etc/passwd /files/link && mkfifo /files/fifo")
        # The guest sees what it made...
        self.assertEqual(self.sh("readlink /files/link"), "/etc/passwd")
        self.assertEqual(self.sh("stat -c %F /files/fifo"), "fifo")
        # ...the host only plain files: nothing there points out of the
        # directory or blocks a reader.
        link = os.lstat(os.path.join(self.files, "link"))
        self.assertTrue(stat.S_ISREG(link.st_mode), oct(link.st_mode))
        with open(os.path.join(self.files, "link"), "rb") as f:
            self.assertEqual(f.read(), b"/etc/passwd")
        fifo = os.lstat(os.path.join(self.files, "fifo"))
        self.assertTrue(stat.S_ISREG(fifo.st_mode), oct(fifo.st_mode))

    def test_any_guest_user_uses_host_files(self):
        path = os.path.join(self.files, "shared.txt")
        with open(path, "w") as f:
            f.write("from the host\n")
        os.chmod(path, 0o666)
        self.sh("grep -q '^user:' /etc/passwd || "
                "echo 'user:x:1000:1000::/tmp:/bin/sh' >>/etc/passwd")
        self.sh("su -s /bin/sh user -c 'echo appended by user >>/files/shared.txt && "
                "echo made by user >/files/by-user.txt && id -u'")
        with open(path) as f:
            self.assertEqual(f.read(), "from the host\nappended by user\n")
        with open(os.path.join(self.files, "by-user.txt")) as f:
            self.assertEqual(f.read(), "made by user\n")
        # The guest keeps the owner it gave the file (in the xattr).
        self.assertEqual(self.sh("stat -c %u /files/by-user.txt"), "1000")

    def test_throughput(self):
        """Not a limit (TCG on a shared machine): the number, for the log."""
        size = 64 << 20
        write_random(os.path.join(self.files, "big.bin"), size)
        out = self.sh("a=$(cut -d' ' -f1 /proc/uptime); cat /files/big.bin >/dev/null; "
                      "b=$(cut -d' ' -f1 /proc/uptime); "
                      "dd if=/dev/zero of=/files/big-out.bin bs=1M count=64 2>/dev/null; sync; "
                      "c=$(cut -d' ' -f1 /proc/uptime); echo $a $b $c", timeout=300)
        a, b, c = (float(x) for x in out.split())
        mib = size >> 20
        print(f"\nfiles: guest read {mib} MiB in {b - a:.2f} s ({mib / max(b - a, 0.01):.0f} MiB/s), "
              f"wrote {mib} MiB in {c - b:.2f} s ({mib / max(c - b, 0.01):.0f} MiB/s)",
              file=sys.stderr)
        self.assertEqual(os.path.getsize(os.path.join(self.files, "big-out.bin")), size)


class NoFiles(unittest.TestCase):
    """A VM without the device boots as before and says files=0."""

    def test_boots_without_files(self):
        with tempfile.TemporaryDirectory(prefix="crp-it-nofiles-") as d:
            vm = CrpVM(d, ENV, mode="shell")
            try:
                m = re.search(r"CRP-GUEST-DEVICES .*", vm.serial_text())
                self.assertIn(" files=0 ", m.group(0))
                code, out = vm.sh("grep -c ' 9p ' /proc/mounts; lsmod | grep -c 9p")
                self.assertEqual(out.split(), ["0", "0"], "9p was set up without the device")
                self.assertNotIn("CRP-GUEST-WARN", vm.serial_text())
                self.assertTrue(vm.alive())
            finally:
                vm.stop()


def main():
    global ENV
    ENV = load_env()
    if ENV is None:
        print("SKIP: QEMU or the test guest is not built (tools/crp-test builds them)")
        sys.exit(77)
    helptext = subprocess.run([ENV["QEMU"], "-device", "help"], capture_output=True,
                              text=True, env=dict(os.environ,
                                                  QEMU_MODULE_DIR=ENV["QEMU_MODULE_DIR"])).stdout
    if "virtio-9p-pci" not in helptext:
        print("SKIP: this QEMU has no virtio-9p-pci (rebuild it: "
              "qemu-crp-display/build-qemu configures it with --enable-virtfs)")
        sys.exit(77)
    with tempfile.NamedTemporaryFile() as f:
        try:
            os.setxattr(f.name, "user.crp-test", b"1")
        except OSError as e:
            print(f"SKIP: {tempfile.gettempdir()} has no user xattrs "
                  f"(security_model=mapped-xattr needs them): {e}")
            sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
