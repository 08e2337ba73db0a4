#!/usr/bin/env python3
"""Adaptive rate on a 2 Mbit/s, 50 ms link: real QEMU, the real test guest
playing a video-like region, the real crp-headless, through linkemu.py
(tbf at 2 Mbit/s each way, 25 ms each way in a relay).

What it asserts, while the video plays:
  - key to screen: crp-headless sends a key ("key a") and waits until the
    guest's answer (the demo's key counter, as typing would) is decoded on
    its screen ("wait-change" on it); p50 <= 200 ms (see MAX_KEY_P50_MS),
    and p50 at most 100 ms above the same measurement on loopback, taken
    first with the same video playing (what the link adds: under TCG the
    busy guest itself takes ~60 ms to answer, which no server can hide);
  - the queue in front of the link stays bounded: what QEMU's socket holds
    (its send queue) plus what tbf holds, sampled every 100 ms; p95 and
    the most; and QEMU's own count of the bytes in flight to the client
    (query-crp bytes-in-flight: those queues, the network and the client);
and once the motion stops (SIGUSR1 to the demo), that the client's picture
becomes exactly QEMU's screendump (lossless) within a few seconds.
Meanwhile a second client on a fast path (this side of the link) watches
the same screen: it must get at least the slow one's frame rate, at more
bytes a frame, and keep the full JPEG quality throughout (the slow link's
quality is the slow client's alone: clients share an encoding only while
they keep pace).

Usage: test-link-rate.py CRP_HEADLESS [--json FILE] [--no-assert]
  --json: write the measurements there (docs/performance.md's numbers);
  --no-assert: measure and print, never fail (to measure a build without
  the rate control).
Skips (exit 77) without root (network namespaces) or without QEMU and the
guest (CRP_CACHE, as the other integration tests).
"""

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linkemu  # noqa: E402
from crpvm import CrpVM, diff_pixels, load_env, read_png  # noqa: E402

RATE = 2_000_000
RTT_MS = 50
VIDEO = "320x240"
WARMUP_MS = 4000
KEYS = 16
# --typing: a key redraws the status block, whose first line ("KEY 30
# KEYS n") changes with every press and with nothing else.
PROBE = (16, 64, 320, 21)
# Screenshots every SHOT_MS after the pause, CONVERGE_S seconds in all:
# half a second apart, so that when the last tile lands decides the
# measured time, not which whole second it fell before (5.2 s measured as
# 6.2 with a shot a second).
CONVERGE_S = 8
SHOT_MS = 500

# The bounds. Measured on 2 shared cores (docs/performance.md, "Adaptive
# rate on a 2 Mbit/s, 50 ms link"): with the rate control p50 120-165 ms,
# queue p95 10-33 kB (in flight 24-35 kB); without it 232 ms and 51 kB
# (544 ms and 115 kB before the encoder sent grain strips as JPEG). The goal is 100 ms; what
# keeps it above: the guest (TCG, busy drawing the video: 62-68 ms on
# loopback with the video as H.264), then the link: 50 ms of round trip
# and the answer's frame (with H.264 video, the link adds 74-81 ms).
# The queue is bytes before the bottleneck: 44 kB is 180 ms at 2 Mbit/s.
MAX_KEY_P50_MS = 200
# What the link may add to key to screen, over the loopback baseline.
MAX_KEY_LINK_MS = 100
MAX_QUEUE_P95_BYTES = 44 * 1024
# In flight: the queue above plus a round trip's worth (12 kB) and what the
# client holds; an answer to input may double the window (18 kB here).
MAX_IN_FLIGHT_P95_BYTES = 56 * 1024
FULL_QUALITY = 75               # -display crp's jpeg-quality default
# Measured at half-second resolution on the quiet machine, 2026-12-03:
# 4.75-5.85 s (the 6 s set from one run at a shot a second left no room).
# A picture that never ends lossless, or takes much longer, still fails.
MAX_CONVERGE_S = 7


def free_port(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def new_ticket(vm, path):
    """Sets a fresh ticket and writes it to @path (0600; a command line
    is readable by everyone)."""
    ticket = secrets.token_hex(16)
    vm.set_ticket(ticket)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(ticket)
    return path


def send_queue(ip, port):
    """Bytes in the send queues of QEMU's established connections on
    ip:port (the kernel's part of the server's queue)."""
    out = subprocess.run(["ss", "-tnH", "state", "established", "src",
                          f"{ip}:{port}"], capture_output=True, text=True).stdout
    total = 0
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[1].isdigit():
            total += int(f[1])
    return total


class Log:
    """crp-headless's stderr (-v), each line with the time it arrived."""

    def __init__(self, stream):
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.cond.notify_all()

    def wait(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, line in self.lines:
                    if rx.search(line):
                        return t, line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"crp-headless never logged /{pattern}/; "
                                       f"tail: {self.lines[-5:]}")
                self.cond.wait(left)


def stamped(line):
    """crp-headless's own timestamp of a -v line, in seconds."""
    m = re.match(r"\[\s*([\d.]+)\]", line)
    return float(m.group(1)) if m else None


def key_latencies(lines):
    """ms from each "key a" command to the command after its wait-change
    (both stamped by crp-headless's clock)."""
    out, t_key = [], None
    for _, line in lines:
        t = stamped(line)
        if t is None:
            continue
        if re.search(r": key a$", line):
            t_key = t
        elif t_key is not None and re.search(r": (sleep|screenshot) ", line):
            out.append((t - t_key) * 1000)
            t_key = None
    return out


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, len(v) * p // 100)] if v else None


def key_script(path, shots=()):
    """crp-headless's script: KEYS keys, each until its answer is on
    screen; then (link phase) the screenshots after the pause."""
    script = ["wait-surface", f"sleep {WARMUP_MS}"]
    for _ in range(KEYS):
        script += ["key a", "wait-change {} {} {} {} 5000".format(*PROBE),
                   "sleep 400"]
    if shots:
        # The test pauses the video when it sees this; then a
        # screenshot every SHOT_MS.
        script.append("sleep 300")
        for shot in shots:
            script += [f"sleep {SHOT_MS}", f"screenshot {shot}"]
    with open(path, "w") as f:
        f.write("\n".join(script) + "\n")


def loopback_keys(headless, work, vm, addr):
    """Key to screen with the video playing and no link in between: the
    guest's and the server's share of what the link test measures."""
    ticket_path = new_ticket(vm, os.path.join(work, "ticket-loopback"))
    script_path = os.path.join(work, "script-loopback")
    key_script(script_path)
    p = subprocess.run([headless, "-v", "--connect", addr, "--ticket-file",
                        ticket_path, "--timeout", "60", "--script",
                        script_path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=90)
    if p.returncode != 0:
        raise RuntimeError(f"loopback crp-headless exited {p.returncode}: "
                           + p.stderr[-2000:])
    return key_latencies([(0.0, line) for line in p.stderr.splitlines()])


def run(headless, work):
    env = load_env()
    link = linkemu.EmulatedLink(rate_bps=RATE, rtt_ms=RTT_MS)
    vm = None
    proc = None
    stop = threading.Event()
    try:
        port = free_port(link.server_ip)
        vm = CrpVM(work, env, mode="demo",
                   append=f"crp.demo=--video,{VIDEO},--typing",
                   crp_addr=f"tcp:{link.server_ip}:{port}")
        if re.search(r"CRP-DEMO video .* does not fit", vm.serial_text()):
            raise RuntimeError("the demo has no room for its video")
        addr = link.relay_to(link.server_ip, port)

        loopback = loopback_keys(headless, work, vm,
                                 f"tcp:{link.server_ip}:{port}")
        ticket_path = new_ticket(vm, os.path.join(work, "ticket"))
        shots = [os.path.join(work, f"shot-{i}.png")
                 for i in range(CONVERGE_S * 1000 // SHOT_MS)]
        script_path = os.path.join(work, "script")
        key_script(script_path, shots)
        stats_path = os.path.join(work, "stats.json")
        proc = subprocess.Popen(link.netns_exec([
            headless, "-v", "--connect", addr, "--ticket-file", ticket_path,
            "--timeout", "120", "--script", script_path, "--stats", stats_path]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        log = Log(proc.stderr)

        # While the video plays: the queue, and QEMU's own counters.
        log.wait(r": sleep %d$" % WARMUP_MS, timeout=60)
        queue, qmp = [], []
        qmp_lock = threading.Lock()     # one QMP connection, two threads

        def sample():
            while not stop.is_set():
                queue.append(send_queue(link.server_ip, port) +
                             link.tbf_stats()["backlog"])
                with qmp_lock:
                    qmp.append(vm.query()["clients"])
                time.sleep(0.1)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # The fast client: its own ticket (the first one is used).
        with qmp_lock:
            ticket2_path = new_ticket(vm, os.path.join(work, "ticket2"))
        fast_stats = os.path.join(work, "fast.json")
        fast = subprocess.Popen([
            headless, "--connect", f"tcp:{link.server_ip}:{port}",
            "--ticket-file", ticket2_path, "--timeout", "60",
            "--run", "wait-surface; sleep 3000; wait-frames 1000000",
            "--stats", fast_stats],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        t_warm = time.monotonic()
        with qmp_lock:
            c0 = vm.query()["clients"]
        t_pause_cmd, _ = log.wait(r": sleep 300$", timeout=120)
        with qmp_lock:
            c1 = vm.query()["clients"]
        fast.terminate()
        fast.wait(timeout=10)
        t_video = time.monotonic() - t_warm
        stop.set()
        sampler.join()

        # Motion stops: the picture must become QEMU's, exactly.
        vm.run("killall -USR1 crp-demo-guest", expect=r"CRP-DEMO paused=1", timeout=10)
        t_pause = time.monotonic()
        time.sleep(1.0)
        dump = vm.screendump(os.path.join(work, "screendump.ppm"))
        proc.wait(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"crp-headless exited {proc.returncode}: "
                               + "\n".join(l for _, l in log.lines[-10:]))
        converged_s, diffs = None, []
        for i, path in enumerate(shots):
            t_shot, _ = log.wait(re.escape(f"screenshot {path}"), timeout=1)
            d = diff_pixels(read_png(path), dump)
            diffs.append(d)
            if d == 0 and converged_s is None:
                converged_s = max(0.0, t_shot - t_pause)
        lat = key_latencies(log.lines)
        with open(stats_path) as f:
            stats = json.load(f)
        def delta(field, i):
            return c1[i][field] - c0[i][field]
        # The slow client is the first (it connected first).
        slow_i = min(range(len(c1)), key=lambda i: c1[i]["id"])
        fast_i = 1 - slow_i
        bytes_video = delta("bytes-out", slow_i)
        slow_id, fast_id = c1[slow_i]["id"], c1[fast_i]["id"]

        def field(cid, name):
            """@name of client @cid over the samples (builds without the
            rate control do not have it: [])."""
            return [c[name] for cs in qmp for c in cs
                    if c["id"] == cid and name in c]
        in_flight = field(slow_id, "bytes-in-flight")
        return {
            "link": f"{RATE / 1e6:g} Mbit/s, {RTT_MS} ms",
            "video": VIDEO,
            "keys": len(lat),
            "key_p50_ms": pct(lat, 50),
            "key_p95_ms": pct(lat, 95),
            "key_ms": [round(x) for x in lat],
            "loopback_key_p50_ms": pct(loopback, 50),
            "loopback_key_ms": [round(x) for x in loopback],
            "queue_p50_bytes": pct(queue, 50),
            "queue_p95_bytes": pct(queue, 95),
            "queue_max_bytes": max(queue) if queue else None,
            "in_flight_p50_bytes": pct(in_flight, 50),
            "in_flight_p95_bytes": pct(in_flight, 95),
            "link_rate_bps": (field(slow_id, "link-rate-bps") or [None])[-1],
            "link_rtt_ms": (field(slow_id, "link-rtt-ms") or [None])[-1],
            "jpeg_quality": (field(slow_id, "jpeg-quality") or [None])[-1],
            "fast_jpeg_quality": (field(fast_id, "jpeg-quality") or [None])[-1],
            "fast_link_rate_bps": (field(fast_id, "link-rate-bps") or [None])[-1],
            "fast_jpeg_quality_min": min(field(fast_id, "jpeg-quality") or [0]),
            "video_s": round(t_video, 2),
            "fps": round(delta("frames-sent", slow_i) / t_video, 1),
            "fast_fps": round(delta("frames-sent", fast_i) / t_video, 1),
            "bytes_per_frame": round(bytes_video / max(1, delta("frames-sent", slow_i))),
            "fast_bytes_per_frame": round(delta("bytes-out", fast_i) /
                                          max(1, delta("frames-sent", fast_i))),
            "kbit_s": round(bytes_video * 8 / t_video / 1000),
            "converged_s": None if converged_s is None else round(converged_s, 2),
            "diff_pixels_per_shot": diffs,
            "bytes_total": stats.get("bytes_in"),
            "client_fps": stats.get("fps"),
            "tbf_dropped": link.tbf_stats()["dropped"],
        }
    finally:
        stop.set()
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if vm:
            vm.stop()
        link.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("headless")
    ap.add_argument("--json")
    ap.add_argument("--no-assert", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if load_env() is None:
        print("SKIP: QEMU or the test guest is not built (see tests/qemu-crp-display/integration)")
        return 77
    if not linkemu.available():
        print("SKIP: cannot make network namespaces here (needs root and iproute2)")
        return 77
    work = tempfile.mkdtemp(prefix="crp-link-rate-")
    try:
        r = run(a.headless, work)
    except BaseException:
        print(f"work directory kept: {work}")
        raise
    print(json.dumps(r, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    failures = []
    if r["keys"] < KEYS:
        failures.append(f"only {r['keys']} of {KEYS} keys reached the screen")
    if r["key_p50_ms"] is None or r["key_p50_ms"] > MAX_KEY_P50_MS:
        failures.append(f"key to screen p50 {r['key_p50_ms']} ms > {MAX_KEY_P50_MS} ms")
    if r["key_p50_ms"] is not None and r["loopback_key_p50_ms"] is not None and \
            r["key_p50_ms"] - r["loopback_key_p50_ms"] > MAX_KEY_LINK_MS:
        failures.append(f"the link adds {r['key_p50_ms'] - r['loopback_key_p50_ms']:.0f} ms "
                        f"to key to screen p50 (loopback {r['loopback_key_p50_ms']:.0f} ms) "
                        f"> {MAX_KEY_LINK_MS} ms")
    if r["queue_p95_bytes"] is None or r["queue_p95_bytes"] > MAX_QUEUE_P95_BYTES:
        failures.append(f"queue p95 {r['queue_p95_bytes']} bytes > {MAX_QUEUE_P95_BYTES}")
    if r["converged_s"] is None or r["converged_s"] > MAX_CONVERGE_S:
        failures.append(f"picture not lossless within {MAX_CONVERGE_S} s of the "
                        f"pause (differing pixels, every {SHOT_MS} ms: "
                        f"{r['diff_pixels_per_shot']})")
    if r["in_flight_p95_bytes"] is not None and \
            r["in_flight_p95_bytes"] > MAX_IN_FLIGHT_P95_BYTES:
        failures.append(f"bytes in flight p95 {r['in_flight_p95_bytes']} > "
                        f"{MAX_IN_FLIGHT_P95_BYTES}")
    if r["fast_jpeg_quality_min"] and r["fast_jpeg_quality_min"] < FULL_QUALITY:
        failures.append(f"the fast client's JPEG quality went down to "
                        f"{r['fast_jpeg_quality_min']}: its link has room")
    # Bytes a frame: the fast client's must not be clearly fewer (the slow
    # link's lower quality). Not "more": with H.264 the video (most of the
    # bytes) goes at one quantiser to both, and only JPEG steps down.
    if r["fast_fps"] < 0.9 * r["fps"] or \
            r["fast_bytes_per_frame"] < 0.9 * r["bytes_per_frame"]:
        failures.append(f"the fast client got {r['fast_fps']} frames/s of "
                        f"{r['fast_bytes_per_frame']} bytes, the slow one "
                        f"{r['fps']} of {r['bytes_per_frame']}: held back, or "
                        f"the slow link's quality is not the slow client's own")
    if a.keep or (failures and not a.no_assert):
        print(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures and not a.no_assert else 0


if __name__ == "__main__":
    sys.exit(main())
