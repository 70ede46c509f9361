"""The control channel end to end: porthole-agent in the simulated enclave, porthole-sidecar on
the host, talking only through the emulated vsock directory. Readiness, the relayed metrics,
agent and sidecar restarts, shutdown, and bad peers."""

import os
import signal
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import metric_value, poll  # noqa: E402

HEARTBEAT_TIMEOUT = 1.0  # harness.FAST_CONTROL


def frame(ftype: int, payload: bytes) -> bytes:
    return struct.pack(">IB", len(payload), ftype) + payload


def hello(version=1, role=1, name=b"raw-agent") -> bytes:
    return frame(1, struct.pack(">HBI", version, role, 1) + bytes([len(name)]) + name + b"\x050.0.0")


def read_frames(sock: socket.socket, timeout: float = 5.0):
    """Reads until the peer closes; returns [(type, payload)]."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    frames = []
    while len(data) >= 5:
        n, t = struct.unpack(">IB", data[:5])
        frames.append((t, data[5:5 + n]))
        data = data[5 + n:]
    return frames


class ControlChannel(unittest.TestCase):
    def test_ready_relay_restart_and_recover(self):
        with harness.Stack() as stack:
            stack.wait_ready()
            text = stack.metrics()
            self.assertEqual(metric_value(text, "porthole_enclave_up", enclave="itest"), 1)
            # The agent's own registry arrives through the control channel, relabelled.
            self.assertEqual(metric_value(text, "porthole_control_connected", side="enclave", enclave="itest"), 1)
            self.assertEqual(metric_value(text, "porthole_build_info", side="enclave", enclave="itest"), 1)
            self.assertIsNotNone(metric_value(text, "process_open_fds", side="enclave", enclave="itest"))
            self.assertIsNotNone(metric_value(text, "process_open_fds", side="parent"))

            # Kill the agent: /readyz fails within the heartbeat timeout, enclave_up drops to 0
            # and the last snapshot is served with its age.
            stack.agent.kill()
            stack.agent.wait(timeout=10)
            killed = time.monotonic()
            stack.wait_not_ready(timeout=HEARTBEAT_TIMEOUT + 2)
            self.assertLess(time.monotonic() - killed, HEARTBEAT_TIMEOUT + 1.0)
            text = stack.metrics()
            self.assertEqual(metric_value(text, "porthole_enclave_up", enclave="itest"), 0)
            self.assertGreater(metric_value(text, "porthole_enclave_metrics_age_seconds", enclave="itest"), 0)
            self.assertEqual(metric_value(text, "porthole_control_connected", side="parent"), 0)
            self.assertIn("not ready: no agent connected", stack.readyz()[1])

            # Restart the agent: ready again.
            stack.start_agent()
            stack.wait_ready(timeout=10)
            text = stack.metrics()
            self.assertEqual(metric_value(text, "porthole_enclave_up", enclave="itest"), 1)
            self.assertEqual(metric_value(text, "porthole_enclave_metrics_age_seconds", enclave="itest"), 0)

            # Kill and restart the sidecar: the same agent process reconnects by itself.
            agent_pid = stack.agent.pid
            stack.stop_sidecar(signal.SIGKILL)
            stack.start_sidecar()
            stack.wait_ready(timeout=10)
            self.assertIsNone(stack.agent.poll())
            self.assertEqual(stack.agent.pid, agent_pid)
            text = stack.metrics()
            self.assertGreaterEqual(
                metric_value(text, "porthole_control_connects_total", side="enclave", enclave="itest"), 2)

    def test_clean_shutdown_exits_zero_and_tells_the_peer(self):
        with harness.Stack() as stack:
            stack.wait_ready()
            t0 = time.monotonic()
            self.assertEqual(stack.stop_agent(signal.SIGTERM), 0)
            self.assertLess(time.monotonic() - t0, 3)
            stack.wait_not_ready(timeout=5)
            self.assertIn("the agent is shutting down", stack.log("sidecar"))
            stack.start_agent()
            stack.wait_ready()
            t0 = time.monotonic()
            self.assertEqual(stack.stop_sidecar(signal.SIGTERM), 0)
            self.assertLess(time.monotonic() - t0, 3)
            poll(lambda: "the sidecar is shutting down" in stack.log("agent"), 5, "the agent to hear of the shutdown")

    def test_bad_peers_are_refused_and_counted_while_the_agent_is_served(self):
        with harness.Stack(sidecar_config={"control": {"hello_timeout": "500ms"}}) as stack:
            stack.wait_ready()
            path = os.path.join(stack.enclave.uds_dir, "3_7000.sock")

            # A peer of another protocol version gets an Error frame saying so.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                s.sendall(hello(version=2))
                frames = read_frames(s)
            self.assertEqual([t for t, _ in frames], [1, 5])
            code = struct.unpack(">H", frames[1][1][:2])[0]
            self.assertEqual(code, 1)
            self.assertIn(b"the peer speaks control protocol v2, this sidecar speaks v1", frames[1][1])
            self.assertIn("speaks control protocol v2", stack.log("sidecar"))

            # A peer that connects and says nothing is closed at the hello timeout.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                t0 = time.monotonic()
                read_frames(s, timeout=5)
                self.assertLess(time.monotonic() - t0, 3)

            # Oversized, unknown-type and truncated frames.
            for bad in (struct.pack(">IB", 100 << 20, 2), frame(99, b""), hello()[:7]):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(path)
                    s.sendall(bad)
                    s.shutdown(socket.SHUT_WR)
                    read_frames(s)

            text = poll(lambda: (lambda t: t if metric_value(
                t, "porthole_frames_rejected_total", side="parent", channel="control", reason="truncated") == 1 else None)(
                stack.metrics()), 5, "the truncated frame to be counted")
            for reason in ("oversized", "unknown_type", "truncated"):
                self.assertEqual(metric_value(text, "porthole_frames_rejected_total", side="parent",
                                              channel="control", reason=reason), 1, reason)
            self.assertEqual(metric_value(text, "porthole_control_disconnects_total", side="parent",
                                          reason="version_mismatch"), 1)
            self.assertEqual(metric_value(text, "porthole_control_disconnects_total", side="parent",
                                          reason="hello_timeout"), 1)
            # None of it disturbed the real agent's session.
            self.assertEqual(stack.readyz()[0], 200)
            self.assertEqual(metric_value(text, "porthole_control_connects_total", side="parent"), 1)

    def test_agent_refuses_a_sidecar_of_another_version(self):
        with harness.Stack(start_agent=False) as stack:
            stack.stop_sidecar(signal.SIGKILL)
            path = os.path.join(stack.enclave.uds_dir, "3_7000.sock")
            os.unlink(path)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
                srv.bind(path)
                srv.listen(1)
                srv.settimeout(10)
                stack.start_agent()
                conn, _ = srv.accept()
                with conn:
                    conn.sendall(hello(version=7, role=2, name=b"future-sidecar"))
                    frames = read_frames(conn)
            self.assertEqual(frames[0][0], 1)   # the agent's own hello
            self.assertEqual(frames[-1][0], 5)  # then an error naming both versions
            self.assertIn(b"v7", frames[-1][1])
            poll(lambda: "the peer speaks control protocol v7, this agent speaks v1" in stack.log("agent"), 5,
                 "the agent to log the version mismatch")
            self.assertIsNone(stack.agent.poll())  # it keeps running and will retry


if __name__ == "__main__":
    unittest.main(verbosity=2)
