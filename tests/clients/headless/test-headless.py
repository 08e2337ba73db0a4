#!/usr/bin/env python3
"""crp-headless against tests/clients/headless/fake-server (suite 'integration').

Usage: test-headless.py CRP_HEADLESS FAKE_SERVER [unittest args]
(or the paths in $CRP_HEADLESS and $CRP_FAKE_SERVER). Python 3 standard
library only; the exit status says whether every test passed.

The fake server's scene (see fake-server.c): background PALETTE[key
presses % 4], a red square at (20,20) 40x40, a green block at (240,140)
60x40, a white 7x7 marker on every left click, a 440 Hz tone as playback;
it reports what it received on stdout.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import wave

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', 'qemu-crp-display', 'integration'))
from crpvm import read_png  # noqa: E402

HEADLESS = os.environ.get('CRP_HEADLESS')
FAKE_SERVER = os.environ.get('CRP_FAKE_SERVER')
TICKET = 'k7-one-time-ticket'
PALETTE = [0x204080, 0x20a040, 0xa02040, 0xc0c000]
# A GLib critical is a bug even when the run otherwise succeeds.
ENV = dict(os.environ, G_DEBUG='fatal-criticals')
RED, GREEN, WHITE = 0xff0000, 0x00ff00, 0xffffff
# The flood tests: PINGs and frames sent, and the client's peak resident
# memory allowed (a run peaks near 7 MiB; answering every PING and frame
# of the flood would queue some 75 MB more).
FLOOD = 1000000
FLOOD_PEAK_KIB = 32 * 1024


class Png:
    """A decoded 8-bit RGB(A) PNG: pixel(x, y) -> 0xRRGGBB."""

    def __init__(self, path):
        self.width, self.height, self.rgb = read_png(path)

    def pixel(self, x, y):
        r, g, b = self.rgb[(y * self.width + x) * 3:(y * self.width + x) * 3 + 3]
        return r << 16 | g << 8 | b


def write_tone(path, hz, seconds=1.0, rate=48000, channels=1, amplitude=10000):
    with wave.open(path, 'wb') as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            v = int(amplitude * math.sin(2 * math.pi * hz * i / rate))
            frames += struct.pack('<h', v) * channels
        w.writeframes(bytes(frames))


def read_wav(path):
    """Returns (rate, channels, mono samples), checking the header sizes."""
    with wave.open(path, 'rb') as w:
        rate, channels, n = w.getframerate(), w.getnchannels(), w.getnframes()
        assert w.getsampwidth() == 2
        data = w.readframes(n)
    # The header was fixed up: its data size matches the file.
    assert os.path.getsize(path) == 44 + n * channels * 2, path
    samples = struct.unpack(f'<{n * channels}h', data)
    mono = [sum(samples[i:i + channels]) / channels
            for i in range(0, len(samples), channels)]
    return rate, channels, mono


def tone_frequency(samples, rate):
    """Frequency of a clean tone from its rising zero crossings."""
    crossings = []
    for i in range(1, len(samples)):
        a, b = samples[i - 1], samples[i]
        if a < 0 <= b and b - a > 200:
            crossings.append(i - 1 + (-a) / (b - a))
    if len(crossings) < 10:
        return 0.0
    return (len(crossings) - 1) * rate / (crossings[-1] - crossings[0])


class FakeServer:
    def __init__(self, tmp, *args, tcp=False, ticket=TICKET, socket=None):
        cmd = [FAKE_SERVER, '--ticket', ticket, *args]
        if tcp:
            cmd.append('--tcp')
        else:
            cmd += ['--socket', socket or os.path.join(tmp, 'crp.sock')]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                     env=ENV)
        first = self.proc.stdout.readline().split()
        if first[:2] == ['listening', 'tcp']:
            self.address = f'tcp:127.0.0.1:{first[2]}'
        elif first[:2] == ['listening', 'unix']:
            self.address = f'unix:{first[2]}'
        else:
            self.proc.kill()
            raise RuntimeError(f'fake-server did not start: {first}')
        self.lines = None

    def finish(self):
        """Waits for the server to end; returns its event lines."""
        if self.lines is None:
            try:
                out, _ = self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
            self.lines = out.splitlines()
        return self.lines

    def report(self):
        for line in self.finish():
            if line.startswith('report '):
                words = line.split()[1:]
                return {k: float(v) for k, v in zip(words[::2], words[1::2])}
        raise AssertionError(f'no report from fake-server: {self.lines}')

    def kill(self):
        """Ends the server now; returns its event lines."""
        if self.proc.poll() is None:
            self.proc.kill()
        return self.finish()


class HeadlessTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix='crp-headless-')
        self.tmp = self._tmp.name
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def server(self, *args, **kw):
        s = FakeServer(self.tmp, *args, **kw)
        self.servers.append(s)
        return s

    def ticket_file(self, mode=0o600, ticket=TICKET):
        path = self.path('ticket')
        with open(path, 'w') as f:
            f.write(f'  {ticket}\n')
        os.chmod(path, mode)
        return path

    def headless(self, *args, timeout=60):
        res = subprocess.run([HEADLESS, *args], capture_output=True, text=True,
                             timeout=timeout, env=ENV)
        return res

    def headless_watched(self, *args, timeout=90):
        """Runs crp-headless like headless(), sampling its peak resident
        memory (VmHWM, KiB) until it exits; returns (result, peak)."""
        proc = subprocess.Popen([HEADLESS, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=ENV)
        peak, deadline = 0, time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with open(f'/proc/{proc.pid}/status') as f:
                    for line in f:
                        if line.startswith('VmHWM:'):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), peak

    def connect(self, server, *args, ticket=TICKET, **kw):
        return self.headless('--connect', server.address,
                             '--ticket-file', self.ticket_file(ticket=ticket),
                             *args, **kw)

    def assertExit(self, res, code):
        self.assertEqual(res.returncode, code,
                         f'exit {res.returncode}, stderr: {res.stderr!r}')

    # ---- screen ----------------------------------------------------------

    def test_screenshot_has_the_scene(self):
        srv = self.server()
        res = self.headless(
            '--connect', srv.address, '--ticket-file', self.ticket_file(),
            '--screenshot', self.path('end.png'), '--stats', self.path('st.json'),
            '--run', f'wait-surface; wait-frames 2; screenshot {self.path("s.png")}; quit')
        self.assertExit(res, 0)
        for name in ('s.png', 'end.png'):
            png = Png(self.path(name))
            self.assertEqual((png.width, png.height), (320, 200))
            self.assertEqual(png.pixel(100, 100), PALETTE[0])
            self.assertEqual(png.pixel(30, 30), RED)
            self.assertEqual(png.pixel(59, 59), RED)
            self.assertEqual(png.pixel(60, 60), PALETTE[0])
            self.assertEqual(png.pixel(250, 150), GREEN)
        with open(self.path('st.json')) as f:
            stats = json.load(f)
        self.assertGreaterEqual(stats['frames'], 2)
        self.assertEqual((stats['width'], stats['height']), (320, 200))
        self.assertGreater(stats['bytes_in'], 0)
        self.assertEqual(stats['exit_code'], 0)
        self.assertIn('client-bye 0 done', srv.finish())
        self.assertGreaterEqual(srv.report()['acks'], 2)

    def test_type_and_key_change_the_colour(self):
        srv = self.server()
        p = PALETTE
        res = self.connect(srv, '--run',
                           f'wait-frames 1; wait-pixel 100 100 {p[0]:06x} 5000; '
                           f'type aB; wait-pixel 100 100 {p[2]:06x} 5000; '
                           f'key enter; wait-pixel 100 100 {p[3]:06x} 5000; '
                           f'screenshot {self.path("s.png")}; quit')
        self.assertExit(res, 0)
        self.assertEqual(Png(self.path('s.png')).pixel(100, 100), PALETTE[3])
        keys = [l for l in srv.finish() if l.startswith('key ')]
        self.assertEqual(keys, ['key 30 1', 'key 30 0',             # a
                                'key 42 1', 'key 48 1', 'key 48 0',  # B
                                'key 42 0',
                                'key 28 1', 'key 28 0'])             # enter

    def test_type_escapes_and_punctuation(self):
        srv = self.server()
        res = self.connect(srv, '--run', r'wait-frames 1; type x\;!\n; quit')
        self.assertExit(res, 0)
        keys = [l for l in srv.finish() if l.startswith('key ')]
        self.assertEqual(keys, ['key 45 1', 'key 45 0',             # x
                                'key 39 1', 'key 39 0',             # ;
                                'key 42 1', 'key 2 1', 'key 2 0',   # !
                                'key 42 0',
                                'key 28 1', 'key 28 0'])            # \n

    def test_click_lands_at_the_spot(self):
        srv = self.server()
        res = self.connect(srv, '--run',
                           'wait-frames 1; click 200 120; '
                           'wait-pixel 200 120 ffffff 5000; '
                           f'wait-frames 1; screenshot {self.path("s.png")}; quit')
        self.assertExit(res, 0)
        png = Png(self.path('s.png'))
        self.assertEqual(png.pixel(200, 120), WHITE)
        self.assertEqual(png.pixel(197, 117), WHITE)
        self.assertEqual(png.pixel(203, 123), WHITE)
        self.assertEqual(png.pixel(196, 120), PALETTE[0])
        self.assertEqual(png.pixel(204, 120), PALETTE[0])
        self.assertIn('pointer 200 120 1', srv.finish())

    def test_wait_change_sees_a_click(self):
        srv = self.server()
        res = self.connect(srv, '--run',
                           'wait-frames 1; click 150 50 right; '
                           'click 150 50; wait-change 140 40 20 20 5000; quit')
        self.assertExit(res, 0)
        self.assertIn('pointer 150 50 4', srv.finish())

    def test_wait_pixel_timeout_fails_with_5(self):
        srv = self.server()
        res = self.connect(srv, '--run', 'wait-frames 1; wait-pixel 5 5 123456 300')
        self.assertExit(res, 5)
        self.assertIn('#204080', res.stderr)
        self.assertIn('expected #123456', res.stderr)

    # ---- audio -----------------------------------------------------------

    def test_playback_is_440_hz(self):
        srv = self.server()
        res = self.connect(srv, '--record', self.path('all.wav'), '--run',
                           f'wait-frames 1; record-start {self.path("win.wav")}; '
                           'sleep 1000; expect-audio 440 5; record-stop; quit')
        self.assertExit(res, 0)
        for name in ('all.wav', 'win.wav'):
            rate, channels, mono = read_wav(self.path(name))
            self.assertEqual((rate, channels), (48000, 2))
            self.assertGreater(len(mono), 0.8 * rate, name)
            self.assertAlmostEqual(tone_frequency(mono[4800:], rate), 440, delta=3)
        _, _, window = read_wav(self.path('win.wav'))
        self.assertLess(len(window), 1.5 * 48000)

    def test_mono_playback_records_mono(self):
        srv = self.server('--channels', '1')
        res = self.connect(srv, '--record', self.path('all.wav'), '--run',
                           'wait-frames 1; sleep 500; expect-audio 440; quit')
        self.assertExit(res, 0)
        rate, channels, mono = read_wav(self.path('all.wav'))
        self.assertEqual((rate, channels), (48000, 1))
        self.assertAlmostEqual(tone_frequency(mono[4800:], rate), 440, delta=3)

    def test_expect_audio_mismatch_fails_with_5(self):
        srv = self.server()
        res = self.connect(srv, '--run', 'wait-frames 1; sleep 300; expect-audio 1000 20')
        self.assertExit(res, 5)
        self.assertIn('expected 1000', res.stderr)

    def test_mic_1000_hz_reaches_the_server(self):
        write_tone(self.path('tone.wav'), 1000, seconds=1.0)
        srv = self.server()
        start = time.monotonic()
        res = self.connect(srv, '--run',
                           f'wait-surface; mic {self.path("tone.wav")}; sleep 200; quit')
        elapsed = time.monotonic() - start
        self.assertExit(res, 0)
        report = srv.report()
        self.assertAlmostEqual(report['mic-frequency'], 1000, delta=5)
        self.assertGreaterEqual(report['mic-ms'], 950)
        # Streamed in real time, not in one burst.
        self.assertGreaterEqual(elapsed, 0.95)

    def test_stereo_mic_to_mono_server(self):
        write_tone(self.path('tone.wav'), 1000, seconds=0.5, channels=2)
        srv = self.server('--channels', '1')
        res = self.connect(srv, '--run',
                           f'wait-surface; mic {self.path("tone.wav")}; quit')
        self.assertExit(res, 0)
        self.assertAlmostEqual(srv.report()['mic-frequency'], 1000, delta=5)

    def test_mic_at_44100_is_refused(self):
        write_tone(self.path('tone.wav'), 1000, seconds=0.2, rate=44100)
        srv = self.server()
        res = self.connect(srv, '--run', f'wait-surface; mic {self.path("tone.wav")}')
        self.assertExit(res, 1)
        self.assertIn('44100', res.stderr)
        self.assertIn('48000', res.stderr)

    # ---- authentication and endings ----------------------------------

    def test_wrong_ticket_exits_2(self):
        srv = self.server()
        res = self.connect(srv, '--run', 'wait-frames 1; quit', ticket='not-the-ticket')
        self.assertExit(res, 2)
        self.assertIn('authentication refused', res.stderr)
        self.assertIn('ticket', res.stderr)
        self.assertTrue(any(l.startswith('auth-failed') for l in srv.finish()))

    def test_no_ticket_on_a_filesystem_socket(self):
        # The socket's permissions decide who may be the server: no-ticket
        # mode is for this.
        srv = self.server(ticket='')
        res = self.headless('--connect', srv.address, '--no-ticket',
                            '--run', 'wait-frames 1; quit')
        self.assertExit(res, 0)
        self.assertIn('client-bye 0 done', srv.finish())

    def test_no_ticket_on_an_abstract_socket_is_refused(self):
        # An abstract name has no permissions: any local user can claim it
        # first and pose as the VM, and only a ticket would tell. So the
        # client refuses before it connects.
        name = f'@crp-test-{os.getpid()}-{time.monotonic_ns()}'
        srv = self.server(ticket='', socket=name)
        self.assertEqual(srv.address, f'unix:{name}')
        res = self.headless('--connect', srv.address, '--no-ticket',
                            '--run', 'wait-frames 1; quit')
        self.assertExit(res, 1)
        self.assertIn('abstract', res.stderr)
        self.assertIn('ticket', res.stderr)
        self.assertFalse([l for l in srv.kill() if l.startswith('ready')])
        # With a ticket, an abstract socket is fine: the handshake proves
        # the server holds it.
        srv = self.server(socket=name)
        res = self.connect(srv, '--run', 'wait-frames 1; quit')
        self.assertExit(res, 0)

    def test_ticket_on_the_command_line_is_scrubbed(self):
        # /proc/PID/cmdline is readable by every local user: --ticket still
        # works (scripts use it), but the client overwrites the ticket there
        # once it has read it, and says to use --ticket-file instead.
        for form in (['--ticket', TICKET], [f'--ticket={TICKET}']):
            with self.subTest(form=form[0]):
                srv = self.server()
                proc = subprocess.Popen(
                    [HEADLESS, '--connect', srv.address, *form,
                     '--run', 'wait-frames 1; sleep 1500; quit'],
                    stderr=subprocess.PIPE, text=True, env=ENV)
                try:
                    time.sleep(0.5)         # running, well past its options
                    with open(f'/proc/{proc.pid}/cmdline', 'rb') as f:
                        cmdline = f.read()
                    _, err = proc.communicate(timeout=30)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.communicate()
                self.assertIn(b'--connect', cmdline)
                self.assertNotIn(TICKET.encode(), cmdline)
                self.assertEqual(proc.returncode, 0, err)
                self.assertIn('use --ticket-file', err)
                self.assertIn('client-bye 0 done', srv.finish())

    def test_world_readable_ticket_file_is_refused(self):
        res = self.headless('--connect', f'unix:{self.path("none.sock")}',
                            '--ticket-file', self.ticket_file(0o644))
        self.assertExit(res, 1)
        self.assertIn('can be read by other users', res.stderr)
        self.assertIn('chmod 600', res.stderr)

    def test_server_cut_exits_4(self):
        srv = self.server('--cut-after-frames', '3')
        res = self.connect(srv, '--run', 'wait-frames 1000')
        self.assertExit(res, 4)
        self.assertIn('without ending the session', res.stderr)

    def test_server_bye_ends_a_run_without_script(self):
        srv = self.server('--bye-after-frames', '3')
        res = self.connect(srv, '--screenshot', self.path('end.png'))
        self.assertExit(res, 0)
        self.assertIn('guest powered off', res.stderr)
        self.assertEqual(Png(self.path('end.png')).pixel(30, 30), RED)

    def test_server_bye_during_script_exits_4(self):
        srv = self.server('--bye-after-frames', '3')
        res = self.connect(srv, '--run', 'wait-frames 1000')
        self.assertExit(res, 4)
        self.assertIn('shutting down (guest powered off)', res.stderr)

    def test_run_without_script_until_timeout(self):
        srv = self.server()
        res = self.connect(srv, '--timeout', '1', '--screenshot', self.path('end.png'),
                           '--stats', self.path('st.json'), '--record', self.path('all.wav'))
        self.assertExit(res, 0)
        self.assertEqual(Png(self.path('end.png')).pixel(250, 150), GREEN)
        with open(self.path('st.json')) as f:
            stats = json.load(f)
        self.assertGreaterEqual(stats['frames'], 10)
        self.assertGreater(stats['audio_packets_in'], 10)
        self.assertGreaterEqual(srv.report()['pongs'], 1)
        _, channels, mono = read_wav(self.path('all.wav'))
        self.assertGreater(len(mono), 0.5 * 48000)

    def test_script_file(self):
        with open(self.path('script'), 'w') as f:
            f.write('# comments; even with semicolons\n'
                    'wait-surface   # trailing comment\n'
                    'wait-frames 1; type #1 #x\n'
                    '\n'
                    'keydown leftctrl\n'
                    'keyup 29\n'
                    'quit\n')
        srv = self.server()
        res = self.connect(srv, '--script', self.path('script'))
        self.assertExit(res, 0)
        keys = [l for l in srv.finish() if l.startswith('key ')]
        shift_hash = ['key 42 1', 'key 4 1', 'key 4 0', 'key 42 0']
        self.assertEqual(keys, shift_hash + ['key 2 1', 'key 2 0',     # 1
                                             'key 57 1', 'key 57 0'] +  # space
                         shift_hash + ['key 45 1', 'key 45 0',          # x
                                       'key 29 1', 'key 29 0'])         # ctrl

    def test_bad_rect_is_a_protocol_error_3(self):
        srv = self.server('--bad-rect-after-frames', '2')
        res = self.connect(srv, '--run', 'wait-frames 1000')
        self.assertExit(res, 3)
        self.assertIn('protocol error', res.stderr)
        # The server is told why (BYE BAD_REQUEST).
        self.assertTrue(any(l.startswith('client-bye 1 ') for l in srv.finish()))

    def test_close_app(self):
        srv = self.server()
        res = self.connect(srv, '--run', 'wait-frames 1; close-app')
        self.assertExit(res, 0)
        lines = srv.finish()
        self.assertIn('close-app', lines)
        self.assertTrue(any(l.startswith('client-bye 0') for l in lines))

    def test_overall_timeout_fails_a_script_with_5(self):
        srv = self.server()
        res = self.connect(srv, '--timeout', '1', '--run', 'wait-frames 100000')
        self.assertExit(res, 5)
        self.assertIn('wait-frames 100000', res.stderr)

    def test_tcp(self):
        srv = self.server(tcp=True)
        res = self.connect(srv, '--run', 'wait-frames 2; wheel 3; quit')
        self.assertExit(res, 0)
        self.assertIn('wheel 0 3', srv.finish())

    # ---- a server that floods us and does not read -------------------------

    def test_flood_without_reading_stays_bounded(self):
        # A million PINGs and frames, each asking for an answer (~37 bytes
        # each) that the client cannot get out: it keeps the latest PONG
        # and FRAME_ACK only, so its memory stays flat.
        srv = self.server('--flood', str(FLOOD))
        res, peak = self.headless_watched('--connect', srv.address,
                                          '--ticket-file', self.ticket_file())
        print(f'peak resident memory under the flood: {peak} KiB', file=sys.stderr)
        self.assertIn(f'flooded {FLOOD}', srv.finish())
        # The server cut it off: a clear ending, not a crash.
        self.assertExit(res, 4)
        self.assertIn('without ending the session', res.stderr)
        self.assertGreater(peak, 0)     # it was sampled
        self.assertLess(peak, FLOOD_PEAK_KIB)

    def test_flood_then_read_gets_the_latest_answers(self):
        # When the server reads again, the latest PING and frame are
        # answered (FRAME_ACK is cumulative): a slow link stays alive.
        srv = self.server('--flood', str(FLOOD), '--then-read')
        res, peak = self.headless_watched('--connect', srv.address,
                                          '--ticket-file', self.ticket_file())
        self.assertExit(res, 0)
        self.assertIn('flood over', res.stderr)
        self.assertIn('caught-up', srv.finish())
        report = srv.report()
        self.assertEqual(report['last-pong'], FLOOD)
        self.assertEqual(report['last-ack'], FLOOD)
        print(f'answers to {FLOOD} PINGs: {report["pongs-total"]:.0f} PONGs, '
              f'{report["acks"]:.0f} FRAME_ACKs', file=sys.stderr)
        self.assertLess(report['pongs-total'], FLOOD / 10)
        self.assertLess(peak, FLOOD_PEAK_KIB)

    # ---- usage -------------------------------------------------------------

    def test_usage_errors_exit_1(self):
        sock = f'unix:{self.path("none.sock")}'
        cases = [
            ([], 'give --connect (direct) or --key'),
            (['--connect', sock, '--key', 'k', '--open', 'a'],
             'give --connect (direct) or --key'),
            (['--key', 'k'], 'needs --open APP or --attach'),
            (['--key', 'k', '--open', 'a', '--ticket', 't'],
             'gets its ticket from the broker'),
            (['--connect', sock, '--ticket', 't', '--open', 'a'], 'need --key'),
            (['--key', self.path('missing.key'), '--open', 'a'],
             'missing.key'),
            (['--connect', sock], 'exactly one of'),
            (['--connect', 'http://x', '--ticket', 't'], 'bad address'),
            (['--connect', 'tcp:127.0.0.1:1', '--no-ticket'], 'only for unix'),
            (['--connect', sock, '--ticket', 't', '--run', 'wait-frames x'],
             'command 1: wait-frames'),
            (['--connect', sock, '--ticket', 't', '--run', 'type é'], 'US keyboard'),
            (['--connect', sock, '--ticket', 't', '--run', 'quit; sleep 1'],
             'nothing runs after'),
            (['--connect', sock, '--ticket', 't'], 'cannot connect'),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                res = self.headless(*args)
                self.assertExit(res, 1)
                self.assertIn(message, res.stderr)


def main():
    global HEADLESS, FAKE_SERVER
    args = sys.argv[1:]
    if len(args) >= 2 and not args[0].startswith('-'):
        HEADLESS, FAKE_SERVER, args = args[0], args[1], args[2:]
    if not HEADLESS or not FAKE_SERVER:
        sys.exit('usage: test-headless.py CRP_HEADLESS FAKE_SERVER [unittest args]')
    unittest.main(argv=[sys.argv[0], *args], verbosity=2)


if __name__ == '__main__':
    main()
