#!/usr/bin/env python3
"""test-crp-admin.py: the real crp-admin against a temporary configuration
and a real SQLite database.

Usage: test-crp-admin.py CRP_ADMIN CRP_ADMIN_SEED

crp-admin-seed (tests/broker/admin/crp-admin-seed.c) writes what the
daemon would write (sessions, overlays, usage rows) and runs the daemon's
login check, through the store API: the test does not depend on the SQL
schema. The steps share one state directory and run in order; each prints
a TAP line. Python 3 standard library only.
"""
import base64
import configparser
import csv
import hashlib
import io
import json
import os
import stat
import sqlite3
import subprocess
import sys
import tempfile
import traceback

ADMIN, SEED = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
OUTPUTS = []        # everything crp-admin printed, checked for secrets


# --------------------------------------------------------------------------
# X25519 (RFC 7748), to check that the stored public key belongs to the
# secret key in the key file.

def x25519_base(secret):
    p = 2**255 - 19
    k = bytearray(secret)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    n = int.from_bytes(k, "little")
    x1, x2, z2, x3, z3, swap = 9, 1, 0, 9, 1, 0
    for t in reversed(range(255)):
        bit = (n >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = x2 + z2, x2 - z2
        aa, bb = a * a % p, b * b % p
        e = aa - bb
        c, d = x3 + z3, x3 - z3
        da, cb = d * a % p, c * b % p
        x3 = (da + cb) ** 2 % p
        z3 = x1 * (da - cb) ** 2 % p
        x2 = aa * bb % p
        z2 = e * (aa + 121665 * e) % p
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, p - 2, p) % p).to_bytes(32, "little")


def fingerprint(public_key):
    return hashlib.blake2b(public_key, digest_size=32).hexdigest()[:16]


# --------------------------------------------------------------------------
# Harness

class Env:
    def __init__(self, root):
        self.root = root
        self.work = os.path.join(root, "work")
        self.state = os.path.join(root, "state")
        self.images = os.path.join(root, "images")
        self.db = os.path.join(self.state, "crp.db")
        self.conf = os.path.join(root, "crp-broker.conf")
        os.makedirs(self.work)
        os.makedirs(self.images)
        with open(self.conf, "w") as f:
            f.write(f"""# test configuration
[broker]
listen = unix:{root}/broker.sock
address = tcp:broker.test:5930   # what key files name
state-dir = {self.state}
[compute]
vcpus = 8
memory-mib = 8192
[storage]
images-dir = {self.images}
user-quota-mib = 1
[qemu]
env-file = {root}/qemu-build.env
""")

    def run(self, *args, expect=0, config=True, env=None):
        cmd = [ADMIN] + (["--config", self.conf] if config else []) + \
            list(args)
        full_env = {k: v for k, v in os.environ.items()
                    if k != "CRP_BROKER_CONFIG"}
        full_env.update(env or {})
        # Bytes, decoded here: text=True would translate CSV's CRLF.
        r = subprocess.run(cmd, cwd=self.work, capture_output=True,
                           env=full_env, timeout=60)
        r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
        OUTPUTS.append(r.stdout + r.stderr)
        if r.returncode != expect:
            raise AssertionError(
                f"{' '.join(args)}: exit {r.returncode}, expected {expect}\n"
                f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def json(self, *args):
        return json.loads(self.run(*args, "--json").stdout)

    def csv(self, *args):
        out = self.run(*args, "--csv").stdout
        assert out.endswith("\r\n"), repr(out[-10:])
        return list(csv.DictReader(io.StringIO(out, newline="")))

    def seed(self, *args, expect=0):
        r = subprocess.run([SEED, self.db] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == expect, (args, r.stdout, r.stderr)
        return r.stdout.strip()

    def broker_public(self):
        b64 = self.run("broker-key", "--public").stdout.strip()
        key = base64.b64decode(b64, validate=True)
        assert len(key) == 32
        return b64, key


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def read_key_file(path):
    cp = configparser.ConfigParser(interpolation=None)
    with open(path) as f:
        cp.read_file(f)
    return cp["crp-user-key"]


def users(env):
    return {u["id"]: u for u in env.json("user", "list")}


def apps(env, *extra):
    return {a["name"]: a for a in env.json("app", "list", *extra)}


def check(cond, message):
    if not cond:
        raise AssertionError(message)


# --------------------------------------------------------------------------
# Steps

def step_x25519_vector(env):
    # RFC 7748 section 6.1: the checker itself must be right.
    secret = bytes.fromhex("77076d0a7318a57d3c16c17251b26645"
                           "df4c2f87ebc0992ab177fba51db92c2a")
    check(x25519_base(secret).hex() ==
          "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
          "x25519 test vector")


def step_usage_errors(env):
    r = env.run(expect=2, config=False)
    check("Usage: crp-admin" in r.stderr, r.stderr)
    r = env.run("--help", config=False)
    for word in ("user add", "app publish", "pool status", "session terminate",
                 "usage"):
        check(word in r.stdout, f"--help lacks {word}")
    env.run("frobnicate", expect=2)
    r = env.run("user", expect=2)
    check("needs a subcommand" in r.stderr, r.stderr)
    env.run("user", "frob", expect=2)
    r = env.run("app", "--help")
    check("app publish" in r.stdout and "user add" not in r.stdout, r.stdout)
    r = env.run("user", "add", expect=2)
    check("missing ID" in r.stderr, r.stderr)
    env.run("user", "add", "a", "b", expect=2)
    env.run("user", "list", "--json", "--csv", expect=2)
    env.run("user", "list", "--bogus", expect=2)
    r = env.run("user", "add", "--help")
    check("--key-file" in r.stdout, r.stdout)
    check(env.run("--version", config=False).stdout.startswith("crp-admin "),
          "--version")


def step_before_init(env):
    r = env.run("user", "list", expect=1)
    check("crp-admin init" in r.stderr, r.stderr)
    r = env.run("broker-key", expect=1)
    check("crp-admin init" in r.stderr, r.stderr)
    check(not os.path.exists(env.db), "a read command created the database")


def step_init(env):
    r = env.run("init")
    check(mode(env.state) == 0o700, oct(mode(env.state)))
    key_path = os.path.join(env.state, "broker.key")
    check(mode(key_path) == 0o600, oct(mode(key_path)))
    check(mode(env.db) == 0o600, oct(mode(env.db)))
    check(os.path.isdir(os.path.join(env.state, "overlays")), "overlays dir")
    check("(created)" in r.stdout, r.stdout)
    b64, public = env.broker_public()
    fp = fingerprint(public)
    check(fp in r.stdout, f"init does not print fingerprint {fp}:\n{r.stdout}")
    check(env.run("broker-key", "--fingerprint").stdout.strip() == fp,
          "broker-key --fingerprint")
    kf = configparser.ConfigParser(interpolation=None)
    kf.read(key_path)
    check(kf["crp-broker-key"]["version"] == "1", "broker key version")
    secret = base64.b64decode(kf["crp-broker-key"]["secret-key"])
    check(x25519_base(secret) == public, "public key is not derived")
    env.broker_secret = kf["crp-broker-key"]["secret-key"]

    # Idempotent: same key, nothing re-created; a loosened state directory
    # is made private again.
    os.chmod(env.state, 0o755)
    r = env.run("init")
    check("broker.key (created)" not in r.stdout, r.stdout)
    check(fp in r.stdout, r.stdout)
    check(env.broker_public()[0] == b64, "init replaced the broker key")
    check(mode(env.state) == 0o700, "state dir not tightened")
    check("schema version" in r.stdout, r.stdout)


def step_user_add(env):
    b64, broker_public = env.broker_public()
    r = env.run("user", "add", "alice")
    path = os.path.join(env.work, "alice.crpkey")
    check(path in r.stdout, f"key file path not printed:\n{r.stdout}")
    check(mode(path) == 0o600, oct(mode(path)))
    kf = read_key_file(path)
    check(kf["version"] == "1", "version")
    check(kf["user"] == "alice", "user")
    check(kf["broker-public-key"] == b64, "broker-public-key")
    check(kf["broker-address"] == "tcp:broker.test:5930", "broker-address")
    secret = base64.b64decode(kf["secret-key"], validate=True)
    check(len(secret) == 32, "secret length")
    env.alice_secret = kf["secret-key"]
    env.alice_public = x25519_base(secret)

    u = users(env)["alice"]
    check(u["state"] == "active" and u["key_state"] == "active", u)
    check(u["revoked_at"] is None, u)
    check(base64.b64decode(u["public_key"]) == env.alice_public,
          "stored public key does not match the key file")
    check(u["key_fingerprint"] == fingerprint(env.alice_public), u)
    check(env.seed("login", u["public_key"]) == "ok", "alice cannot log in")

    # Duplicate user: refused, no file written.
    r = env.run("user", "add", "alice", "--key-file", "alice-2.crpkey",
                expect=1)
    check("already exists" in r.stderr, r.stderr)
    check(not os.path.exists(os.path.join(env.work, "alice-2.crpkey")),
          "key file written for a refused user")

    # Existing key file: refused before the store changes.
    bob_path = os.path.join(env.work, "bob.crpkey")
    with open(bob_path, "w") as f:
        f.write("precious")
    r = env.run("user", "add", "bob", expect=1)
    check("refusing to overwrite" in r.stderr, r.stderr)
    check(open(bob_path).read() == "precious", "overwrote a file")
    check("bob" not in users(env), "bob added although his file was refused")

    # The key file cannot be written: the user is rolled back.
    r = env.run("user", "add", "carol", "--key-file",
                os.path.join(env.root, "no-such-dir", "carol.key"), expect=1)
    check("No such file" in r.stderr, r.stderr)
    check("carol" not in users(env), "carol added without a key file")

    env.run("user", "add", "bad id!", expect=2)
    env.run("user", "add", "-leading-dash", expect=2)

    os.makedirs(os.path.join(env.work, "keys"))
    env.run("user", "add", "bob", "--key-file", "keys/bob.key")
    check(mode(os.path.join(env.work, "keys/bob.key")) == 0o600, "bob mode")
    env.bob_secret = read_key_file(
        os.path.join(env.work, "keys/bob.key"))["secret-key"]
    env.run("user", "add", "dave", "-k", os.path.join(env.root, "dave.key"))

    rows = env.csv("user", "list")
    check([r["id"] for r in rows] == ["alice", "bob", "dave"], rows)
    check(rows[0]["public_key"] == u["public_key"], rows[0])
    table = env.run("user", "list").stdout
    check("FINGERPRINT" in table and u["key_fingerprint"] in table, table)


def step_user_rotate(env):
    old_b64 = users(env)["alice"]["public_key"]
    r = env.run("user", "rotate", "alice", expect=1)    # alice.crpkey exists
    check("refusing to overwrite" in r.stderr, r.stderr)
    check(users(env)["alice"]["public_key"] == old_b64, "rotated anyway")

    env.run("user", "rotate", "alice", "--key-file", "alice-new.crpkey")
    kf = read_key_file(os.path.join(env.work, "alice-new.crpkey"))
    check(kf["secret-key"] != env.alice_secret, "same secret after rotate")
    new_public = x25519_base(base64.b64decode(kf["secret-key"]))
    u = users(env)["alice"]
    check(base64.b64decode(u["public_key"]) == new_public, "new key stored")
    check(u["state"] == "active" and u["key_state"] == "active", u)
    check(env.seed("login", old_b64) == "key-revoked", "old key still works")
    check(env.seed("login", u["public_key"]) == "ok", "new key refused")
    env.alice_secret_2 = kf["secret-key"]

    env.run("user", "rotate", "nobody", "--key-file", "n.key", expect=1)
    check(not os.path.exists(os.path.join(env.work, "n.key")), "n.key")
    env.run("user", "rotate", "bad id", expect=2)


def step_user_revoke(env):
    bob_key = users(env)["bob"]["public_key"]
    env.run("user", "revoke", "bob")
    u = users(env)["bob"]
    check(u["state"] == "revoked" and u["key_state"] == "revoked", u)
    check(u["revoked_at"] is not None, u)
    check(users(env)["alice"]["state"] == "active", "revoke hit alice")
    check(env.seed("login", bob_key) == "key-revoked", "bob still logs in")
    r = env.run("user", "revoke", "bob")
    check("already revoked" in r.stdout, r.stdout)
    env.run("user", "rotate", "bob", "--key-file", "bob2.key", expect=1)
    check(not os.path.exists(os.path.join(env.work, "bob2.key")), "bob2.key")
    r = env.run("user", "add", "bob", "--key-file", "bob3.key", expect=1)
    check(not os.path.exists(os.path.join(env.work, "bob3.key")), "bob3.key")
    env.run("user", "revoke", "nobody", expect=1)


def step_apps(env):
    for name in ("vmlinuz", "initrd.img", "disk.qcow2"):
        with open(os.path.join(env.images, name), "wb") as f:
            f.write(b"\0" * 16)
    disk = os.path.join(env.images, "disk.qcow2")

    env.run("app", "publish", "desktop", "--title", "Desktop", "--disk",
            "disk.qcow2", "--vcpus", "2", "--memory", "1024",
            "--max-instances", "2")
    env.run("app", "publish", "shell", "--title", "Shell", "--kernel",
            "vmlinuz", "--initrd", os.path.join(env.images, "initrd.img"),
            "--no-audio", "--persistent-storage", "--qemu-options",
            "-machine q35 -device virtio-rng-pci", "--description", "A shell")
    title = 'Quotes, "commas"\nand a newline \u00e9'
    env.run("app", "publish", "quoted", "--title", title, "--disk", disk,
            "--memory", "512")

    a = apps(env)
    d = a["desktop"]
    check(d["disk"] == disk and d["kernel"] is None, d)
    check((d["vcpus"], d["memory_mib"], d["max_instances"]) == (2, 1024, 2), d)
    check(d["audio"] is True and d["persistent_storage"] is False, d)
    check(d["state"] == "published" and d["unpublished_at"] is None, d)
    s = a["shell"]
    check(s["kernel"] == os.path.join(env.images, "vmlinuz"), s)
    check(s["initrd"] == os.path.join(env.images, "initrd.img"), s)
    check(s["audio"] is False and s["persistent_storage"] is True, s)
    check(s["qemu_options"] == "-machine q35 -device virtio-rng-pci", s)
    check(s["description"] == "A shell" and s["vcpus"] == 1, s)
    check(a["quoted"]["title"] == title, a["quoted"])
    rows = {r["name"]: r for r in env.csv("app", "list")}
    check(rows["quoted"]["title"] == title, "CSV quoting lost the title")
    check(rows["desktop"]["vcpus"] == "2", rows["desktop"])
    table = env.run("app", "list").stdout
    check("Quotes, \"commas\"?and a newline" in table, table)
    check(len(table.strip().split("\n")) == 4, "a title broke the table")

    # Refusals: nothing changes.
    r = env.run("app", "publish", "ghost", "--title", "G", "--disk",
                "missing.qcow2", expect=1)
    check(os.path.join(env.images, "missing.qcow2") in r.stderr and
          "No such file" in r.stderr, r.stderr)
    r = env.run("app", "publish", "ghost", "--title", "G", "--kernel",
                env.images, expect=1)
    check("not a regular file" in r.stderr, r.stderr)
    r = env.run("app", "publish", "Bad_Name", "--title", "X", "--disk", disk,
                expect=2)
    check("invalid app name" in r.stderr, r.stderr)
    env.run("app", "publish", "-x", "--title", "X", "--disk", disk, expect=2)
    env.run("app", "publish", "ghost", "--disk", disk, expect=2)
    env.run("app", "publish", "ghost", "--title", "G", expect=2)
    env.run("app", "publish", "ghost", "--title", "G", "--disk", disk,
            "--initrd", "initrd.img", expect=2)
    env.run("app", "publish", "ghost", "--title", "G", "--disk", disk,
            "--audio", "--no-audio", expect=2)
    env.run("app", "publish", "ghost", "--title", "G", "--disk", disk,
            "--vcpus", "0", expect=2)
    env.run("app", "publish", "ghost", "--title", "G", "--disk", disk,
            "--memory", "lots", expect=2)
    for opts in ("-display gtk", "-m 4G", "--qmp=unix:/x", "-smp 4",
                 "-machine 'q35", "-accel kvm", "-enable-kvm",
                 "-machine q35,accel=kvm", "-M accel=tcg", "--machine=pc,accel=kvm"):
        r = env.run("app", "publish", "ghost", "--title", "G", "--disk", disk,
                    "--qemu-options", opts, expect=2)
        if "accel" in opts or "kvm" in opts:
            check("use --accel" in r.stderr, r.stderr)
    for accel in ("xen", "kvm::tcg", "tcg -S", "tcg,thread"):
        r = env.run("app", "publish", "ghost", "--title", "G", "--disk", disk,
                    "--accel", accel, expect=2)
        check("--accel:" in r.stderr, r.stderr)
    r = env.run("app", "publish", "desktop", "--title", "Again", "--disk",
                disk, expect=1)
    check("exists already" in r.stderr, r.stderr)
    check("ghost" not in apps(env, "--all"), "a refused app was published")
    check(apps(env)["desktop"]["title"] == "Desktop", "refusal changed it")

    # The accelerator: the broker's unless the app has its own.
    check(d["accel"] is None and s["accel"] is None, (d, s))
    r = env.run("app", "publish", "fast", "--title", "Fast", "--disk", disk,
                "--accel", "kvm:tcg,thread=single")
    check("accel kvm:tcg,thread=single" in r.stdout, r.stdout)
    check(apps(env)["fast"]["accel"] == "kvm:tcg,thread=single", apps(env))
    env.run("app", "update", "fast", "--accel", "tcg")
    check(apps(env)["fast"]["accel"] == "tcg", apps(env)["fast"])
    env.run("app", "update", "fast", "--accel", "")
    check(apps(env)["fast"]["accel"] is None, apps(env)["fast"])
    check("ACCEL" in env.run("app", "list").stdout, "no ACCEL column")
    env.run("app", "unpublish", "fast")

    # The clipboard: on unless the operator turns it off (data-loss
    # prevention), and not to be smuggled in through --qemu-options.
    check(d["clipboard"] is True and s["clipboard"] is True, (d, s))
    r = env.run("app", "publish", "vault", "--title", "Vault", "--disk", disk,
                "--clipboard", "off")
    check("clipboard" not in r.stdout, r.stdout)
    check(apps(env)["vault"]["clipboard"] is False, apps(env)["vault"])
    env.run("app", "update", "vault", "--clipboard", "on")
    check(apps(env)["vault"]["clipboard"] is True, apps(env)["vault"])
    env.run("app", "update", "vault", "--clipboard", "off")
    env.run("app", "update", "vault", "--vcpus", "2")
    check(apps(env)["vault"]["clipboard"] is False, "another update turned it on")
    r = env.run("app", "update", "vault", "--clipboard", "maybe", expect=2)
    check("--clipboard: 'maybe' is neither on nor off" in r.stderr, r.stderr)
    for opts in ("-chardev qemu-vdagent,id=v,clipboard=on",
                 "--chardev=qemu-vdagent,id=v"):
        r = env.run("app", "update", "vault", "--qemu-options", opts, expect=2)
        check("use --clipboard" in r.stderr, r.stderr)
    check(apps(env)["vault"]["qemu_options"] == "", apps(env)["vault"])
    check("CLIPBOARD" in env.run("app", "list").stdout, "no CLIPBOARD column")
    env.run("app", "unpublish", "vault")

    # Update: only what is given changes.
    env.run("app", "update", "desktop", "--title", "New desktop", "--vcpus",
            "3", "--no-audio")
    d = apps(env)["desktop"]
    check((d["title"], d["vcpus"], d["audio"]) == ("New desktop", 3, False), d)
    check((d["memory_mib"], d["max_instances"], d["disk"]) ==
          (1024, 2, disk), d)
    env.run("app", "update", "desktop", expect=2)
    r = env.run("app", "update", "desktop", "--disk", "gone.qcow2", expect=1)
    check("gone.qcow2" in r.stderr, r.stderr)
    check(apps(env)["desktop"]["disk"] == disk, "failed update changed disk")
    env.run("app", "update", "ghost", "--title", "G", expect=1)
    env.run("app", "update", "shell", "--initrd", "")
    check(apps(env)["shell"]["initrd"] is None, "initrd not cleared")
    r = env.run("app", "update", "shell", "--kernel", "", expect=1)
    check("needs a kernel or a disk" in r.stderr, r.stderr)
    r = env.run("app", "update", "shell", "--vcpus", "9")
    check("cannot start" in r.stderr, "no budget warning")
    env.run("app", "update", "shell", "--vcpus", "1")

    # Unpublish / republish.
    env.run("app", "unpublish", "shell")
    check("shell" not in apps(env), "unpublished app still listed")
    s = apps(env, "--all")["shell"]
    check(s["state"] == "unpublished" and s["unpublished_at"], s)
    r = env.run("app", "unpublish", "shell")
    check("already unpublished" in r.stdout, r.stdout)
    env.run("app", "unpublish", "ghost", expect=1)
    env.run("app", "republish", "shell")
    check("shell" in apps(env), "republish")
    env.run("app", "unpublish", "shell")


def step_user_subscribe(env):
    r = env.run("user", "subscribe", "alice", "desktop", "quoted")
    check("subscribed alice to desktop" in r.stdout, r.stdout)
    with sqlite3.connect(env.db) as db:
        got = sorted(a for (a,) in db.execute(
            "SELECT app_name FROM subscriptions WHERE user_id = 'alice'"))
    check(got == ["desktop", "quoted"], got)
    env.run("user", "subscribe", "alice", "desktop")      # again: fine
    env.run("user", "subscribe", "alice", "ghost", expect=1)
    env.run("user", "subscribe", "bob", "desktop", expect=1)  # revoked
    env.run("user", "subscribe", "alice", expect=2)            # usage
    r = env.run("user", "unsubscribe", "alice", "quoted")
    check("unsubscribed alice from quoted" in r.stdout, r.stdout)
    with sqlite3.connect(env.db) as db:
        got = [a for (a,) in db.execute(
            "SELECT app_name FROM subscriptions WHERE user_id = 'alice'")]
    check(got == ["desktop"], got)


def step_user_limits(env):
    # The configuration's defaults: 4 sessions, no CPU or memory limit.
    u = users(env)["alice"]
    check((u["max_sessions"], u["max_vcpus"], u["max_memory_mib"],
           u["limits"]) == (4, None, None, "default"), u)
    r = env.run("user", "limits", "alice")
    check("sessions 4 (default), vCPUs none (default), memory none "
          "(default)" in r.stdout, r.stdout)

    r = env.run("user", "limits", "alice", "--sessions", "3", "--vcpus", "4",
                "--memory", "4096")
    check("sessions 3, vCPUs 4, memory 4096 MiB" in r.stdout, r.stdout)
    u = users(env)["alice"]
    check((u["max_sessions"], u["max_vcpus"], u["max_memory_mib"],
           u["limits"]) == (3, 4, 4096, "own"), u)
    table = env.run("user", "list").stdout
    check("MAX SESSIONS" in table and "4096" in table, table)
    rows = {r["id"]: r for r in env.csv("user", "list")}
    check(rows["alice"]["max_vcpus"] == "4", rows["alice"])
    check(users(env)["dave"]["limits"] == "default", users(env)["dave"])

    # Only what is given changes; 0 is no limit; 'default' goes back.
    env.run("user", "limits", "alice", "--vcpus", "0", "--sessions",
            "default")
    u = users(env)["alice"]
    check((u["max_sessions"], u["max_vcpus"], u["max_memory_mib"]) ==
          (4, None, 4096), u)
    r = env.run("user", "limits", "alice")
    check("sessions 4 (default), vCPUs none, memory 4096 MiB" in r.stdout,
          r.stdout)

    # Refusals change nothing.
    for args in (("--sessions", "-1"), ("--vcpus", "lots"),
                 ("--memory", "1e9"), ("--sessions", "1000001")):
        env.run("user", "limits", "alice", *args, expect=2)
    r = env.run("user", "limits", "nobody", "--sessions", "1", expect=1)
    check("nobody" in r.stderr, r.stderr)
    env.run("user", "limits", expect=2)
    u = users(env)["alice"]
    check((u["max_sessions"], u["max_vcpus"], u["max_memory_mib"]) ==
          (4, None, 4096), u)
    env.run("user", "limits", "alice", "--memory", "default")


T0 = 1736503200     # 2025-01-10T10:00:00Z


def step_pool(env):
    empty = env.json("pool", "status")
    check(empty["compute"]["sessions"] == 0, empty)

    env.seed("session", "s1", "alice", "desktop", "running", T0)
    env.seed("session", "s2", "alice", "quoted", "starting", T0 + 10)
    env.seed("session", "s3", "dave", "desktop", "running", 1700000000)
    env.seed("close", "s3", 1700000100)
    # A revoked user cannot start sessions (the store refuses).
    env.seed("session", "s4", "bob", "desktop", "running", T0, expect=1)
    overlays = os.path.join(env.state, "overlays")
    env.seed("overlay", f"{overlays}/alice-desktop.qcow2", "alice",
             "desktop", 1572864)
    env.seed("overlay", f"{overlays}/alice-quoted.qcow2", "alice", "quoted",
             1048576)
    env.seed("overlay", f"{overlays}/dave-desktop.qcow2", "dave", "desktop",
             100)

    p = env.json("pool", "status")
    c = p["compute"]
    # s1: desktop at 3 vCPU / 1024 MiB; s2: quoted at 1 / 512.
    check(c["sessions"] == 2, c)
    check((c["vcpus_used"], c["vcpus_budget"]) == (4, 8), c)
    check((c["memory_mib_used"], c["memory_mib_budget"]) == (1536, 8192), c)
    st = p["storage"]
    check(st["used_bytes"] == 1572864 + 1048576 + 100, st)
    check(st["user_quota_mib"] == 1 and st["overlays_dir"] == overlays, st)
    per = {u["user"]: u for u in st["users"]}
    check(per["alice"]["used_bytes"] == 2621440, per)
    check(per["alice"]["overlays"] == 2, per)
    check(per["alice"]["over_quota"] is True, per)
    check(per["dave"]["over_quota"] is False, per)
    ap = {a["name"]: a for a in p["applications"]}
    check(sorted(ap) == ["desktop", "quoted"], ap)    # shell: unpublished
    check((ap["desktop"]["live_instances"], ap["desktop"]["max_instances"]) ==
          (1, 2), ap)
    check(ap["quoted"]["live_instances"] == 1, ap)
    r = env.run("pool", "status")
    check("Compute (2 live sessions)" in r.stdout, r.stdout)
    check("4 of 8" in r.stdout and "OVER" in r.stdout, r.stdout)
    env.run("pool", "status", "--csv", expect=2)


def step_sessions(env):
    live = env.json("session", "list")
    check([s["id"] for s in live] == ["s1", "s2"], live)
    check(live[0]["state"] == "running" and live[1]["state"] == "starting",
          live)
    check(live[0]["started"] == "2025-01-10T10:00:00Z", live[0])
    check(live[0]["vcpus"] == 3 and live[0]["memory_mib"] == 1024, live[0])
    every = {s["id"]: s for s in env.json("session", "list", "--all")}
    check(sorted(every) == ["s1", "s2", "s3"], every)
    check(every["s3"]["state"] == "closed", every["s3"])
    check(every["s3"]["ended"] == "2023-11-14T22:15:00Z", every["s3"])
    check([s["id"] for s in env.json("session", "list", "--all", "--user",
                                     "dave")] == ["s3"], "--user")
    rows = env.csv("session", "list")
    check([r["id"] for r in rows] == ["s1", "s2"], rows)
    check(rows[0]["qemu_pid"] == "", rows[0])

    r = env.run("session", "terminate", "s1")
    check("marked closing" in r.stdout, r.stdout)
    states = {s["id"]: s["state"] for s in env.json("session", "list")}
    check(states == {"s1": "closing", "s2": "starting"}, states)
    # Closing sessions still hold their resources until the broker acts.
    check(env.json("pool", "status")["compute"]["vcpus_used"] == 4, "pool")
    check("already closing" in env.run("session", "terminate", "s1").stdout,
          "terminate twice")
    check("already ended" in env.run("session", "terminate", "s3").stdout,
          "terminate closed")
    env.run("session", "terminate", "nope", expect=1)
    env.run("session", "terminate", expect=2)


def step_usage(env):
    day = 86400
    env.seed("usage", "u1", "alice", "desktop", T0, T0 + 3600, 7200, 3686400,
             100, 200, 50)
    env.seed("usage", "u2", "alice", "quoted", T0 + 10 * day,
             T0 + 10 * day + 600, 600, 307200, 10, 20, 5)
    env.seed("usage", "u3", "dave", "desktop", T0 + 22 * day,
             T0 + 22 * day + 60, 180, 61440, 1, 2, 3)
    # s3 (closed in step_pool): 100 s at 3 vCPU, 1024 MiB, no traffic.
    s3 = dict(sessions=1, duration_s=100, vcpu_seconds=300,
              mib_seconds=102400, bytes_in=0, bytes_out=0, frames=0)
    u1 = dict(sessions=1, duration_s=3600, vcpu_seconds=7200,
              mib_seconds=3686400, bytes_in=100, bytes_out=200, frames=50)
    u2 = dict(sessions=1, duration_s=600, vcpu_seconds=600,
              mib_seconds=307200, bytes_in=10, bytes_out=20, frames=5)
    u3 = dict(sessions=1, duration_s=60, vcpu_seconds=180,
              mib_seconds=61440, bytes_in=1, bytes_out=2, frames=3)

    def total(*rows):
        return {k: sum(r[k] for r in rows) for k in rows[0]}

    def strip(row, *keys):
        return {k: v for k, v in row.items() if k not in keys}

    [none] = env.json("usage", "--by", "none")
    check(none == total(s3, u1, u2, u3), none)

    by_user = {r["user"]: r for r in env.csv("usage", "--by", "user")}
    check(sorted(by_user) == ["alice", "dave"], by_user)
    check({k: int(v) for k, v in strip(by_user["alice"], "user").items()} ==
          total(u1, u2), by_user["alice"])
    check({k: int(v) for k, v in strip(by_user["dave"], "user").items()} ==
          total(s3, u3), by_user["dave"])

    by_app = {r["app"]: strip(r, "app") for r in env.json("usage", "--by",
                                                          "app")}
    check(by_app == {"desktop": total(s3, u1, u3), "quoted": u2}, by_app)

    jan = env.json("usage", "--from", "2025-01-01", "--to", "2025-01-31")
    check([(r["user"], r["app"]) for r in jan] ==
          [("alice", "desktop"), ("alice", "quoted")], jan)
    check(strip(jan[0], "user", "app") == u1, jan)

    # A bare --to date includes that whole day; a time excludes itself.
    check(len(env.json("usage", "--from", "2025-01-10", "--to",
                       "2025-01-10")) == 1, "--to DAY is inclusive")
    check(env.json("usage", "--from", "2025-01-01", "--to",
                   "2025-01-10T10:00:00Z") == [], "--to TIME is exclusive")
    check(len(env.json("usage", "--from", str(T0 + 10 * day))) == 2,
          "--from Unix seconds")
    dave = env.json("usage", "--user", "dave", "--by", "user,app")
    check([(r["user"], r["app"]) for r in dave] == [("dave", "desktop")],
          dave)
    check(strip(dave[0], "user", "app") == total(s3, u3), dave)
    [q] = env.json("usage", "--app", "quoted", "--by", "none")
    check(q == u2, q)
    [nothing] = env.json("usage", "--user", "nobody", "--by", "none")
    check(nothing["sessions"] == 0, nothing)

    r = env.run("usage")
    check("USER" in r.stdout and "APP" in r.stdout and "7200" in r.stdout,
          r.stdout)
    env.run("usage", "--from", "yesterday", expect=2)
    env.run("usage", "--from", "2025-02-30", expect=2)
    env.run("usage", "--by", "host", expect=2)
    env.run("usage", "--from", "2025-02-01", "--to", "2025-01-01", expect=2)


def step_broker_key_permissions(env):
    key_path = os.path.join(env.state, "broker.key")
    os.chmod(key_path, 0o644)
    try:
        r = env.run("broker-key", "--public", expect=1)
        check("chmod 600" in r.stderr and "0644" in r.stderr, r.stderr)
        env.run("user", "add", "eve", expect=1)
        check(not os.path.exists(os.path.join(env.work, "eve.crpkey")),
              "key file issued with a loose broker key")
        env.run("init", expect=1)
    finally:
        os.chmod(key_path, 0o600)
    check("eve" not in users(env), "eve added with a loose broker key")
    env.run("broker-key", "--public")


def step_config(env):
    show = env.run("config", "show").stdout
    check(f"state-dir = {env.state}" in show, show)
    check(f"url = sqlite:{env.db}" in show, show)
    check("address = tcp:broker.test:5930" in show, show)
    env.run("config", "check")
    # $CRP_BROKER_CONFIG names the file when --config does not.
    show = env.run("config", "show", config=False,
                   env={"CRP_BROKER_CONFIG": env.conf}).stdout
    check(f"state-dir = {env.state}" in show, show)
    # --config after the command works too.
    env.run("config", "show", "--config", env.conf, config=False)

    bad = os.path.join(env.root, "bad.conf")
    with open(bad, "w") as f:
        f.write("[compute]\nvcpus = lots\n")
    r = env.run("user", "list", config=False, expect=1,
                env={"CRP_BROKER_CONFIG": bad})
    check(f"{bad}: [compute] vcpus: 'lots'" in r.stderr, r.stderr)
    with open(bad, "w") as f:
        f.write("[broker]\nstate-dirr = /x\n")
    r = env.run("config", "check", config=False, expect=1,
                env={"CRP_BROKER_CONFIG": bad})
    check("unknown key" in r.stderr, r.stderr)
    r = env.run("--config", os.path.join(env.root, "missing.conf"),
                "user", "list", config=False, expect=1)
    check("missing.conf" in r.stderr, r.stderr)


def step_no_secrets_printed(env):
    secrets = [env.broker_secret, env.alice_secret, env.alice_secret_2,
               env.bob_secret]
    for out in OUTPUTS:
        for s in secrets:
            check(s not in out, "a secret key was printed")


STEPS = [step_x25519_vector, step_usage_errors, step_before_init, step_init,
         step_user_add, step_user_rotate, step_user_revoke, step_apps,
         step_user_subscribe, step_user_limits,
         step_pool, step_sessions, step_usage, step_broker_key_permissions,
         step_config, step_no_secrets_printed]


def main():
    failed = 0
    print(f"1..{len(STEPS)}")
    with tempfile.TemporaryDirectory(prefix="crp-admin-") as root:
        env = Env(root)
        for i, step in enumerate(STEPS, 1):
            name = step.__name__[len("step_"):]
            try:
                step(env)
                print(f"ok {i} - {name}")
            except Exception:
                failed += 1
                print(f"not ok {i} - {name}")
                for line in traceback.format_exc().splitlines():
                    print(f"# {line}")
                break   # later steps build on this one
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
