"""A small QMP client (Python 3 standard library only).

Transport and commands are apart, as in libvirt: QMPConnection frames JSON
lines, matches replies to commands by id and queues events; the crp_*
helpers are one short function per command.

    with QMPConnection("/run/vm1/qmp.sock") as qmp:
        crp_set_ticket(qmp, secrets.token_hex(16), expires=60)
        print(crp_query(qmp))
        event = qmp.wait_event("CRP_CONNECTED", timeout=30)
"""

import json
import socket
import time


class QMPError(Exception):
    """QEMU answered a command with an error."""

    def __init__(self, error):
        self.error_class = error.get("class", "GenericError")
        self.desc = error.get("desc", "")
        super().__init__(f"{self.error_class}: {self.desc}")


class QMPConnection:
    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.file = self.sock.makefile("rb")
        self.events = []
        self.next_id = 0
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError({"desc": f"not a QMP greeting: {greeting!r}"})
        self.command("qmp_capabilities")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.file.close()
        self.sock.close()

    def _read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("QMP connection closed")
        try:
            msg = json.loads(line)
        except json.JSONDecodeError as e:
            raise QMPError({"desc": f"malformed QMP line {line[:80]!r}: {e}"})
        if not isinstance(msg, dict):
            raise QMPError({"desc": f"QMP line is not an object: {line[:80]!r}"})
        return msg

    def command(self, name, /, **arguments):
        """Runs a command and returns its 'return' value (@name is
        positional-only: some commands take a "name" argument)."""
        self.next_id += 1
        cmd_id = f"crp-{self.next_id}"
        msg = {"execute": name, "id": cmd_id}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
            elif reply.get("id") == cmd_id:
                if "error" in reply:
                    raise QMPError(reply["error"])
                return reply.get("return")

    def next_event(self, timeout=30.0):
        """Returns the oldest queued event, or waits for one; raises
        TimeoutError."""
        if self.events:
            return self.events.pop(0)
        self.sock.settimeout(timeout)
        while True:
            try:
                msg = self._read()
            except socket.timeout:
                raise TimeoutError(f"no event within {timeout} s")
            if "event" in msg:
                return msg

    def wait_event(self, name, timeout=30.0, match=None):
        """Returns the first event called @name (already queued or new)
        for which @match(event) is true; other events stay queued.
        Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        seen = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {name} event within {timeout} s")
                try:
                    ev = self.next_event(left)
                except TimeoutError:
                    raise TimeoutError(f"no {name} event within {timeout} s")
                if ev["event"] == name and (match is None or match(ev)):
                    return ev
                seen.append(ev)
        finally:
            self.events[0:0] = seen

def crp_query(qmp):
    return qmp.command("query-crp")


def crp_set_ticket(qmp, ticket, expires=None, connected=None):
    args = {"ticket": ticket}
    if expires is not None:
        args["expires"] = expires
    if connected is not None:
        args["connected"] = connected
    return qmp.command("crp-set-ticket", **args)


def crp_disconnect(qmp, client_id=None):
    if client_id is None:
        return qmp.command("crp-disconnect")
    return qmp.command("crp-disconnect", id=client_id)


def screendump(qmp, path):
    return qmp.command("screendump", filename=path)
