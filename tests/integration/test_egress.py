#!/usr/bin/env python3
"""TCP egress end to end: a client inside the simulated enclave goes out through porthole-agent
(its HTTP CONNECT proxy, or a static forward), one vsock stream per connection to
porthole-sidecar (vsock port 7002: destination request, status, then raw bytes), which checks
its own allowlist, resolves the name on the parent and dials the destination: an HTTP server on
the host's loopback run by this test.

Both policies are exercised: the agent's (default deny) and the sidecar's (default deny, plus a
default deny of loopback/link-local that these tests turn off with `deny: []` to reach the host
server). See docs/data-path.md.
"""

import json
import os
import socket
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import metric_value, poll  # noqa: E402

PROXY = "127.0.0.1:3128"
FORWARD = "127.0.0.1:8443"
ENCLAVE = "itest"

# Run inside the enclave: python3 -c CONNECT_CLIENT PROXY TARGET PATH
# Prints one JSON object: {"status": <CONNECT status>, "reason": <status line>, "body": <error
# body>} or, after a 200, also "response": the raw HTTP response of GET PATH through the tunnel.
# With PROXY "direct:HOST:PORT" it skips CONNECT and sends the GET straight to HOST:PORT
# (a static forward).
CONNECT_CLIENT = r'''
import json, socket, sys, time
proxy, target, path = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}

def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest

def read_rest(s, rest):
    chunks = [rest]
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)

def connect(h, p):
    # The agent may still be starting: retry a refused connect for a while (no other waiting).
    deadline = time.monotonic() + 15
    while True:
        try:
            return socket.create_connection((h, p), timeout=20)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

host = target.rpartition(":")[0]
if proxy.startswith("direct:"):
    h, _, p = proxy[7:].rpartition(":")
    s = connect(h, int(p))
    out["status"] = 200
else:
    h, _, p = proxy.rpartition(":")
    s = connect(h, int(p))
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head, rest = read_head(s)
    line = head.split("\r\n")[0]
    out["reason"] = line
    out["status"] = int(line.split()[1]) if len(line.split()) > 1 else 0
    if out["status"] != 200:
        out["body"] = read_rest(s, rest).decode("latin-1")
        print(json.dumps(out))
        sys.exit(0)
    if rest:
        out["early_bytes"] = rest.decode("latin-1")
s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
out["response"] = read_rest(s, b"").decode("latin-1")
print(json.dumps(out))
'''


class HostServer:
    """An HTTP server on the host's loopback: GET /anything -> "hello from the host <path>"."""

    def __init__(self):
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                seen.append((self.path, self.headers.get("Host")))
                body = f"hello from the host {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Blackhole:
    """A listener on the host's loopback whose accept queue is full (backlog 0, one connection
    never accepted): the kernel drops every further SYN, so a connect to it neither completes nor
    fails — a destination that times out, without a packet leaving the machine."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def close(self):
        self.filler.close()
        self.listener.close()


def decode_egress_reply(data):
    """(status, reason) from a PHER reply: magic, version, status, reason length, reason."""
    if len(data) < 7 or data[:4] != b"PHER":
        raise AssertionError(f"not an egress reply: {data[:40]!r}")
    return data[5], data[7:7 + data[6]].decode("latin-1")


def metric_sum(text, name, **labels):
    return sum(v for n, ls, v in harness.parse_metrics(text)
               if n == name and all(ls.get(k) == str(want) for k, want in labels.items()))


class Egress(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.allowed = HostServer()                        # allowed by both policies
        cls.addClassCleanup(cls.allowed.close)
        cls.named = HostServer()                          # allowed by both, by name only
        cls.addClassCleanup(cls.named.close)
        cls.sidecar_only_denied = HostServer()            # allowed by the agent, not by the sidecar
        cls.addClassCleanup(cls.sidecar_only_denied.close)
        cls.agent_denied = HostServer()                   # allowed by neither
        cls.addClassCleanup(cls.agent_denied.close)
        cls.closed_port = harness.free_tcp_port()         # nothing listens: refused
        cls.blackhole = Blackhole()                       # connects time out
        cls.addClassCleanup(cls.blackhole.close)
        a, s, c = cls.allowed.port, cls.sidecar_only_denied.port, cls.closed_port
        cls.rule_ip, cls.rule_name, cls.rule_closed = f"127.0.0.1:{a}", f"localhost:{cls.named.port}", f"127.0.0.1:{c}"
        cls.rule_blackhole = f"127.0.0.1:{cls.blackhole.port}"
        cls.sidecar_config = {"egress": {
            "enabled": True,
            # The default deny list protects the host's loopback; these tests talk to it.
            "deny": [],
            "allow": [cls.rule_ip, cls.rule_name, cls.rule_closed, cls.rule_blackhole],
            # Short, so the blackhole times out quickly; loopback connects take microseconds.
            "connect_timeout": "1s", "request_timeout": "5s"}}
        cls.agent_config = {"egress": {
            "proxy_listen": PROXY,
            "forwards": [{"listen": FORWARD, "destination": cls.rule_ip}],
            "allow": [cls.rule_ip, cls.rule_name, f"127.0.0.1:{s}", cls.rule_closed, cls.rule_blackhole],
            "deny": [],
            "request_timeout": "10s"}}
        stack_cm = harness.Stack(sidecar_config=cls.sidecar_config, agent_config=cls.agent_config)
        cls.stack = stack_cm.__enter__()
        cls.addClassCleanup(stack_cm.__exit__, None, None, None)
        cls.stack.wait_ready()

    def through(self, target, path="/", via=PROXY):
        cp = self.stack.enclave.run(["python3", "-c", CONNECT_CLIENT, via, target, path], timeout=40)
        self.assertEqual(cp.returncode, 0, f"client inside the enclave failed:\n{cp.stdout}{cp.stderr}")
        return json.loads(cp.stdout)

    def assert_ok(self, result, path):
        self.assertEqual(result["status"], 200, result)
        self.assertNotIn("early_bytes", result)
        self.assertTrue(result["response"].startswith("HTTP/1.1 200"), result)
        self.assertTrue(result["response"].endswith(f"hello from the host {path}"), result)

    def metrics_when(self, predicate, what):
        return poll(lambda: (lambda t: t if predicate(t) else None)(self.stack.metrics()), 10, what)

    def test_allowed_by_ip(self):
        result = self.through(self.rule_ip, "/by-ip")
        self.assert_ok(result, "/by-ip")
        self.assertIn(("/by-ip", "127.0.0.1"), self.allowed.seen)
        text = self.metrics_when(lambda t: metric_value(
            t, "porthole_relay_connections_closed_total", side="parent", path="egress", route=self.rule_ip) >= 1,
            "the egress connection to be counted closed on the parent")
        self.assertGreaterEqual(metric_value(text, "porthole_relay_connections_opened_total", side="enclave",
                                             enclave=ENCLAVE, path="egress", route="proxy"), 1)
        for side in ("parent", "enclave"):
            for direction in ("upstream", "downstream"):
                self.assertGreater(metric_sum(text, "porthole_relay_bytes_total", side=side, path="egress",
                                              direction=direction), 0, (side, direction))
        self.assertGreaterEqual(metric_value(text, "porthole_relay_setup_duration_seconds_count", side="parent",
                                             path="egress", route=self.rule_ip), 1)

    def test_allowed_by_name_resolved_on_the_parent(self):
        # The enclave has no resolver of its own: the name travels to the sidecar, which resolves
        # it with the host's resolver and matches the allow rule written with the name.
        result = self.through(self.rule_name, "/by-name")
        self.assert_ok(result, "/by-name")
        self.assertIn(("/by-name", "localhost"), self.named.seen)
        text = self.metrics_when(lambda t: metric_value(
            t, "porthole_relay_connections_opened_total", side="parent", path="egress", route=self.rule_name) == 1,
            "the connection to be counted under the name rule")
        self.assertIsNotNone(text)

    # No test of a name that fails to resolve: it would send a DNS query to the machine's
    # resolver, which is not on loopback, and tests send traffic to loopback only. The path
    # (status dns_failed -> 502, porthole_relay_errors_total{reason="dns_failed"}) is covered by
    # reading sidecar/src/egress_dialer.cpp, not by a test.

    def test_denied_by_the_agent_is_403(self):
        target = f"127.0.0.1:{self.agent_denied.port}"
        before = metric_value(self.stack.metrics(), "porthole_relay_errors_total", side="enclave", enclave=ENCLAVE,
                              path="egress", route="proxy", reason="denied") or 0
        result = self.through(target)
        self.assertEqual(result["status"], 403, result)
        self.assertTrue(result.get("body", "").strip(), "the 403 carries the reason in its body")
        self.assertEqual(self.agent_denied.seen, [])
        self.metrics_when(lambda t: metric_value(
            t, "porthole_relay_errors_total", side="enclave", enclave=ENCLAVE, path="egress", route="proxy",
            reason="denied") == before + 1, "the agent to count the denial")

    def test_denied_by_the_sidecar_only_is_403(self):
        target = f"127.0.0.1:{self.sidecar_only_denied.port}"
        before = metric_value(self.stack.metrics(), "porthole_relay_errors_total", side="parent", path="egress",
                              route="denied", reason="denied") or 0
        result = self.through(target)
        self.assertEqual(result["status"], 403, result)
        self.assertTrue(result.get("body", "").strip(), "the 403 carries the reason in its body")
        self.assertEqual(self.sidecar_only_denied.seen, [], "the sidecar must not dial a denied destination")
        self.metrics_when(lambda t: metric_value(
            t, "porthole_relay_errors_total", side="parent", path="egress", route="denied",
            reason="denied") == before + 1, "the sidecar to count the denial")

    def test_closed_port_is_502(self):
        result = self.through(self.rule_closed)
        self.assertEqual(result["status"], 502, result)
        self.metrics_when(lambda t: metric_value(
            t, "porthole_relay_errors_total", side="parent", path="egress", route=self.rule_closed,
            reason="refused") == 1, "the refused connection to be counted on the parent")

    def test_destination_that_never_answers_is_504_with_the_reason(self):
        t0 = time.monotonic()
        result = self.through(self.rule_blackhole)
        elapsed = time.monotonic() - t0
        self.assertEqual(result["status"], 504, result)
        self.assertIn("timed out", result.get("body", ""), "the 504 carries the reason in its body")
        self.assertIn(self.rule_blackhole, result.get("body", ""))
        self.assertLess(elapsed, 5, "given up at the sidecar's connect_timeout (1s), not later")
        text = self.metrics_when(lambda t: metric_value(
            t, "porthole_relay_errors_total", side="parent", path="egress", route=self.rule_blackhole,
            reason="timeout") == 1, "the sidecar to count the timeout")
        self.assertGreaterEqual(metric_value(text, "porthole_relay_errors_total", side="enclave", enclave=ENCLAVE,
                                             path="egress", route="proxy", reason="timeout"), 1)
        self.assertIn("connect timed out", self.stack.log("sidecar"))

    BAD_REQUESTS = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",                       # not a request at all
        b"PHEG\x09\x01\x03abc\x01\xbb\x00",                            # unknown version
        b"PHEG\x01\x07\x03abc\x01\xbb\x00",                            # unknown destination kind
        b"PHEG\x01\x01\x05a b!c\x01\xbb\x00",                          # a name with bad characters
        b"PHEG\x01\x01\x03abc\x00\x00\x00",                            # port 0
        b"PHEG\x01\x02\x04\x7f\x00\x00\x01\x01\xbb\x05\x01\x02\x03\x04\x05",  # unprintable id
    ]

    def send_bad_requests(self):
        """Sends BAD_REQUESTS straight to the sidecar's egress endpoint (7002), as anything that
        can reach it might; returns the protocol-error count before them."""
        path = os.path.join(self.stack.enclave.uds_dir, "3_7002.sock")
        before = metric_value(self.stack.metrics(), "porthole_relay_errors_total", side="parent", path="egress",
                              route="denied", reason="protocol") or 0
        for request in self.BAD_REQUESTS:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(path)
                s.sendall(request)
                reply = b""
                while chunk := s.recv(4096):
                    reply += chunk
            status, reason = decode_egress_reply(reply)
            self.assertEqual(status, 7, f"{request!r} -> status {status} ({reason})")  # protocol
            self.assertIn("malformed destination request", reason)
        return before

    def test_malformed_destination_requests_from_the_parent_side_are_rejected(self):
        """Each bad request is answered `protocol`, logged and counted once; the sidecar keeps serving."""
        before = self.send_bad_requests()
        text = self.metrics_when(lambda t: metric_value(
            t, "porthole_relay_errors_total", side="parent", path="egress", route="denied",
            reason="protocol") >= before + len(self.BAD_REQUESTS), "every malformed request to be counted")
        self.assertEqual(metric_value(text, "porthole_relay_errors_total", side="parent", path="egress",
                                      route="denied", reason="protocol"), before + len(self.BAD_REQUESTS))
        self.assertGreaterEqual(self.stack.log("sidecar").count("malformed destination request"),
                                len(self.BAD_REQUESTS))
        self.assert_ok(self.through(self.rule_ip, "/after-garbage"), "/after-garbage")

    def test_static_forward(self):
        result = self.through(self.rule_ip, "/forwarded", via="direct:" + FORWARD)
        self.assert_ok(result, "/forwarded")
        self.metrics_when(lambda t: metric_value(
            t, "porthole_relay_connections_closed_total", side="enclave", enclave=ENCLAVE, path="egress",
            route=f"forward:{FORWARD}") == 1, "the forward to be counted on the enclave side")


class SidecarDefaults(unittest.TestCase):
    def test_default_deny_protects_the_host_loopback(self):
        # Same agent policy, but the sidecar keeps its default deny list (loopback, link-local):
        # the enclave cannot reach services on the parent's loopback even when allowed.
        server = HostServer()
        self.addCleanup(server.close)
        target = f"127.0.0.1:{server.port}"
        with harness.Stack(sidecar_config={"egress": {"enabled": True, "allow": [target]}},
                           agent_config={"egress": {"proxy_listen": PROXY, "allow": [target]}}) as stack:
            stack.wait_ready()
            cp = stack.enclave.run(["python3", "-c", CONNECT_CLIENT, PROXY, target, "/"], timeout=40)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            result = json.loads(cp.stdout)
            self.assertEqual(result["status"], 403, result)
            self.assertEqual(server.seen, [])
            poll(lambda: metric_sum(stack.metrics(), "porthole_relay_errors_total", side="parent", path="egress",
                                    reason="denied") == 1, 10, "the sidecar to count the denial")


if __name__ == "__main__":
    unittest.main(verbosity=2)
