"""A real crp-broker with the test guest published as an app, for the
crp-client tests: tests/broker/flow/crpbroker.py's environment (its own
config, SQLite state and unix socket, users and apps made with the real
crp-admin) under the names these tests use.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "broker", "flow"))
from crpbroker import BrokerEnv as _BrokerEnv  # noqa: E402


class BrokerEnv(_BrokerEnv):
    def __init__(self, root, guest_env, broker, admin, test_client,
                 vcpus=2, memory_mib=1024):
        tools = {"broker": broker, "admin": admin, "test_client": test_client}
        # Key files name a broker elsewhere: the client is always told
        # --broker, as an operator's test setup would.
        super().__init__(root, tools, guest_env, vcpus=vcpus,
                         memory_mib=memory_mib,
                         address="tcp:broker.test:5930")
        self.address = f"unix:{self.sock}"

    def publish_guest(self, name, title, mode="demo", append=""):
        """The test guest as an app: std VGA, the demo or the shell (TCG:
        the broker's accel, set by crpbroker.py)."""
        super().publish_guest(name, mode=mode, title=title, append=append,
                              qemu_options="-vga std",
                              extra=("--description",
                                     f"the test guest ({mode})", "--audio"))

    def client(self, key, *commands):
        """crp-broker-test-client: requests without a GUI (setup only)."""
        code, lines = self.requests(key, *commands)
        if code != 0:
            raise RuntimeError(f"{commands}: {lines}")
        return "\n".join(lines) + "\n"

    def log_text(self):
        return self.text()

    def pools(self):
        return self.pool()

    def console_logs(self):
        """Every VM's serial console so far (the broker writes them)."""
        text = ""
        for dirpath, _, files in os.walk(self.state):
            for name in files:
                if name == "console.log":
                    with open(os.path.join(dirpath, name), errors="replace") as f:
                        text += f.read()
        return text

    def sessions_left(self):
        """QEMU pids of the sessions still live."""
        return [s["qemu_pid"] for s in self.sessions() if s.get("qemu_pid")]
