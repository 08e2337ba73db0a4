#!/usr/bin/env python3
"""crp-session: one real CRP session, headless, for the run command.

Boots the test guest's demo app in QEMU with -display crp and
-audiodev crp, hands out a one-time ticket over QMP, and lets the headless
client use it: watch, press a key, click, speak into the microphone, listen,
then close. Prints where the screenshots, the recorded sound and the
statistics are. Ctrl-C stops everything; no QEMU is left running.
"""

import json
import math
import os
import secrets
import struct
import subprocess
import sys
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from crpvm import CrpVM, load_env  # noqa: E402


def write_tone(path, freq, seconds):
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"".join(
            struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / 48000))) * 2
            for i in range(int(48000 * seconds))))


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".state/session")
    headless = sys.argv[2] if len(sys.argv) > 2 else "build/qemu-crp-display/client/crp-headless"
    os.makedirs(out, exist_ok=True)
    env = load_env()
    if env is None:
        sys.exit("crp-session: QEMU or the guest is not built")

    print("booting the demo app (QEMU, TCG) ...", flush=True)
    vm = CrpVM(os.path.join(out, "vm"), env, mode="demo")
    try:
        ticket = secrets.token_urlsafe(24)
        vm.set_ticket(ticket, expires=60)
        mic = os.path.join(out, "mic-1000hz.wav")
        write_tone(mic, 1000, 3)
        script = "; ".join([
            "wait-frames 3",
            f"screenshot {out}/1-started.png",
            "key 30", "click 640 600", "sleep 800",
            f"screenshot {out}/2-after-key-and-click.png",
            f"record-start {out}/guest-sound.wav", "sleep 2000", "record-stop",
            f"mic {mic}",
            f"screenshot {out}/3-after-microphone.png",
            "close-app",
        ])
        print("client connected with a one-time ticket; using the app ...", flush=True)
        serial_start = len(vm.serial_text())
        proc = subprocess.run([headless, "--connect", f"unix:{vm.crp_sock}",
                               "--ticket", ticket, "--run", script,
                               "--stats", f"{out}/client-stats.json"],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            sys.exit(f"crp-session: the client failed ({proc.returncode}):\n"
                     f"{proc.stdout}{proc.stderr}")
        mic_heard = vm.wait_serial(r"CRP-MIC freq=(\d{3,4}) ", timeout=10,
                                   start=serial_start).group(1)
        with open(f"{out}/client-stats.json") as f:
            stats = json.load(f)
    finally:
        vm.stop()

    print(f"""
session done: {stats['frames']} frames, {stats['bytes_in'] / 1024:.0f} KiB received
(encrypted), input-to-screen latency {stats['input_latency_ms']:.0f} ms, guest heard the
microphone at {mic_heard} Hz.

  screenshots: {out}/1-started.png
               {out}/2-after-key-and-click.png
               {out}/3-after-microphone.png
  guest sound: {out}/guest-sound.wav
  client stats: {out}/client-stats.json
""")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("crp-session: interrupted")
