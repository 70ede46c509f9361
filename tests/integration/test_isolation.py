#!/usr/bin/env python3
"""Integration test: the simulated enclave (scripts/simenclave.py) isolates like an enclave.

- TCP on the host is not reachable from inside; the shared uds: directory is.
- down() kills what runs inside and removes the namespace and its temp uds dir.
- gc() removes namespaces whose creating process is dead.

Needs root (network namespaces). Run: python3 -u tests/integration/test_isolation.py
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
_SOURCE_DIR = os.environ.get("PORTHOLE_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(_SOURCE_DIR, "scripts"))

import simenclave  # noqa: E402
from simenclave import SimulatedEnclave, tcp_reachable_from  # noqa: E402


def wait_for(pred, timeout=10.0, what="condition"):
    """Poll pred() until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def netns_names():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def pid_running(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(")") + 2:].split()[0] not in ("Z", "X")


def dead_pid():
    """The pid of a process that has exited and been reaped."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def read_line(stream, timeout):
    """One line from a pipe, with a deadline."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no line within {timeout}s (got {buf!r})")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                break
            buf += chunk
    return buf.decode()


_INSIDE_LISTENER = """\
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("ready", flush=True)
while True:
    s.accept()[0].close()
"""

_UDS_CLIENT = """\
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""


class IsolationTest(unittest.TestCase):
    def setUp(self):
        self.enc = SimulatedEnclave().up()
        self.addCleanup(self.enc.down)

    def test_lo_is_the_only_interface(self):
        cp = self.enc.run(["ip", "-o", "link", "show"], check=True)
        names = [line.split(":")[1].strip() for line in cp.stdout.splitlines()]
        self.assertEqual(names, ["lo"], cp.stdout)
        self.assertIn("UP", cp.stdout)

    def test_host_tcp_not_reachable_from_inside(self):
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]

        # Control: the listener works from the host.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        # From inside, 127.0.0.1 is the namespace's own loopback: nothing listens there.
        self.assertFalse(tcp_reachable_from(self.enc, "127.0.0.1", port),
                         "host TCP listener reachable from inside the enclave")

        # The host's non-loopback addresses are unreachable too (no route at all).
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                             capture_output=True, text=True).stdout
        for addr in [line.split()[3].split("/")[0] for line in out.splitlines()][:2]:
            self.assertFalse(tcp_reachable_from(self.enc, addr, port, timeout=1.0),
                             f"host address {addr}:{port} reachable from inside")

        # Control for the probe: a listener inside, on the same port number (free there,
        # because the namespace has its own stack), is reachable from inside.
        inside = self.enc.spawn([sys.executable, "-c", _INSIDE_LISTENER, str(port)],
                                stdout=subprocess.PIPE)
        self.addCleanup(inside.stdout.close)
        self.addCleanup(self.enc.stop, inside)
        self.assertEqual(read_line(inside.stdout, 10).strip(), "ready")
        self.assertTrue(tcp_reachable_from(self.enc, "127.0.0.1", port),
                        "probe cannot reach a listener inside the enclave")

    def test_uds_dir_reachable_from_inside(self):
        path = os.path.join(self.enc.uds_dir, "3_7000.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(server.close)
        server.bind(path)
        server.listen(1)
        server.settimeout(15)
        received = []

        def serve():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                data = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                received.append(data)
                conn.sendall(b"echo:" + data)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        cp = self.enc.run([sys.executable, "-c", _UDS_CLIENT, path, "hello from inside"],
                          timeout=20)
        t.join(15)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(received, [b"hello from inside"])
        self.assertEqual(cp.stdout, "echo:hello from inside")


class TeardownTest(unittest.TestCase):
    def test_down_kills_processes_and_removes_namespace(self):
        enc = SimulatedEnclave().up()
        self.addCleanup(enc.down)
        uds_dir, netns = enc.uds_dir, enc.netns
        self.assertIn(netns, netns_names())
        self.assertTrue(os.path.isdir(uds_dir))
        self.assertTrue(os.path.exists(os.path.join(simenclave.STATE_DIR, netns + ".json")))

        proc = enc.spawn(["sleep", "1000"])
        # A daemon that left the process group: only the namespace still ties it to us.
        escaped = enc.spawn(["sh", "-c", "setsid sleep 1001 </dev/null >/dev/null 2>&1 & "
                                         "echo $!"], stdout=subprocess.PIPE)
        escaped_pid = int(read_line(escaped.stdout, 10))
        escaped.stdout.close()
        escaped.wait(10)
        wait_for(lambda: proc.pid in enc.pids() and escaped_pid in enc.pids(), 10,
                 "both sleeps inside the namespace")

        enc.down()
        self.assertIsNotNone(proc.poll(), "process survived down()")
        wait_for(lambda: not pid_running(escaped_pid), 10, "the escaped daemon to die")
        self.assertNotIn(netns, netns_names())
        self.assertFalse(os.path.exists(uds_dir), "temp uds dir not removed")
        self.assertFalse(os.path.exists(os.path.join(simenclave.STATE_DIR, netns + ".json")))
        enc.down()  # idempotent

    def test_caller_uds_dir_is_kept(self):
        with tempfile.TemporaryDirectory(prefix="porthole-test-") as d:
            uds = os.path.join(d, "uds")
            with SimulatedEnclave(uds_dir=uds) as enc:
                self.assertTrue(os.path.isdir(uds))
                # A socket whose owner is gone (stale) and one still bound on the host.
                stale = socket.socket(socket.AF_UNIX)
                stale.bind(os.path.join(uds, "16_8000.sock"))
                stale.close()
                live = socket.socket(socket.AF_UNIX)
                self.addCleanup(live.close)
                live.bind(os.path.join(uds, "3_7000.sock"))
                live.listen(1)
                with open(os.path.join(uds, "keep.txt"), "w") as f:
                    f.write("x")
            self.assertTrue(os.path.isdir(uds))
            self.assertEqual(sorted(os.listdir(uds)), ["3_7000.sock", "keep.txt"])
            self.assertNotIn(enc.netns, netns_names())

    def test_stop_escalates_to_sigkill(self):
        with SimulatedEnclave() as enc:
            proc = enc.spawn([sys.executable, "-c",
                              "import signal,sys,time\n"
                              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                              "print('ready', flush=True)\ntime.sleep(1000)\n"],
                             stdout=subprocess.PIPE)
            self.assertEqual(read_line(proc.stdout, 10).strip(), "ready")
            proc.stdout.close()
            rc = enc.stop(proc, timeout=0.5)
            self.assertEqual(rc, -signal.SIGKILL)


class GcTest(unittest.TestCase):
    def test_gc_removes_orphan_with_dead_pid(self):
        name = f"phgc{os.getpid()}"
        state_path = os.path.join(simenclave.STATE_DIR, name + ".json")
        uds = tempfile.mkdtemp(prefix="porthole-test-gc-")

        def cleanup():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            for p in (state_path,):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
            subprocess.run(["rm", "-rf", uds])

        self.addCleanup(cleanup)
        subprocess.run(["ip", "netns", "add", name], check=True)
        sleeper = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "1000"],
                                   start_new_session=True)
        self.addCleanup(lambda: (sleeper.kill(), sleeper.wait()))
        # The orphan: a state file whose creating pid is dead.
        os.makedirs(simenclave.STATE_DIR, exist_ok=True)
        with open(state_path, "w") as f:
            json.dump({"pid": dead_pid(), "uds_dir": uds, "created": time.time()}, f)

        # An enclave whose owner (this process) is alive must survive gc.
        with SimulatedEnclave() as alive:
            removed = simenclave.gc()
            self.assertIn(name, removed)
            self.assertNotIn(alive.netns, removed)
            self.assertIn(alive.netns, netns_names())

        self.assertNotIn(name, netns_names())
        self.assertFalse(os.path.exists(state_path))
        self.assertTrue(os.path.isdir(uds), "gc removed a uds dir it did not own")
        wait_for(lambda: sleeper.poll() is not None, 10, "the orphan's process to die")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("test_isolation: needs root (network namespaces)", file=sys.stderr)
        sys.exit(1)
    simenclave.install_cleanup_handlers()
    unittest.main(verbosity=2)
