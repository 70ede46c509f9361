#!/usr/bin/env python3
"""TCP ingress end to end: a client on the host connects to a porthole-sidecar ingress listener,
the sidecar opens one vsock stream per connection to porthole-agent (vsock port 8000, PROXY v2
header first), and the agent connects to the workload inside the simulated enclave.

The servers inside the enclave are small Python programs (ENCLAVE_SERVER below) started with
stack.enclave.spawn(); each writes a ready file into the stack's workdir once it listens, and
records what it saw (resets, PROXY headers) in files there, so the test never sleeps to
synchronise. See docs/data-path.md.
"""

import hashlib
import http.client
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import metric_value, poll  # noqa: E402

ENCLAVE_PORT = 8080  # the workload's port inside the enclave (each test has its own namespace)
ENCLAVE_PP_PORT = 8081

# 1 GiB each way, both directions at once (full duplex), sha256 on both ends. Measured on the
# 2-core dev box: 3.4 s (about 600 MiB/s both ways together), so the full size stays.
BULK_BYTES = int(os.environ.get("PORTHOLE_IT_BULK_BYTES", 1 << 30))
BULK_TIMEOUT = 120

# A multi-purpose server run inside the enclave: python3 -c ENCLAVE_SERVER MODE PORT WORKDIR.
#   http   HTTP/1.1 (keep-alive): GET /item/<n> -> "item <n>", POST /echo -> the body,
#          GET /traceparent -> the traceparent header(s) it received
#   echo   echoes every byte until EOF, then closes
#   bulk   full duplex: hashes what it receives until EOF while sending BULK bytes of a
#          deterministic stream; then sends hex(sha256(received)) + hex(sha256(sent)) and closes
#   half   reads until EOF, then sends 1 MiB + "done" and closes (client half-closed first);
#          "server-first\n": sends a greeting, shuts its write side, reads until EOF and writes
#          the byte count to WORKDIR/half-server-first
#   abort  per connection: the first line says what to do: "wait" -> reply "ready\n" and read
#          until EOF or reset, writing WORKDIR/abort-seen ("eof" or "reset"); "abort" -> reply
#          "ready\n" and close with SO_LINGER 0 (RST)
#   proxy  expects a PROXY v2 header, writes it to WORKDIR/proxy-<n>.json as JSON, then echoes
#   duplex reads everything and sends without end, both at once, until the client goes away;
#          then writes how each direction ended to WORKDIR/duplex-end ("eof", "ConnectionResetError", ...)
ENCLAVE_SERVER = r'''
import hashlib, json, os, socket, struct, sys, threading
mode, port, workdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bulk = int(sys.argv[4]) if len(sys.argv) > 4 else 0

def ready():
    tmp = os.path.join(workdir, f"ready-{mode}-{port}.tmp")
    with open(tmp, "w") as f:
        f.write(str(os.getpid()))
    os.rename(tmp, os.path.join(workdir, f"ready-{mode}-{port}"))

def note(name, text):
    tmp = os.path.join(workdir, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(workdir, name))

if mode == "http":
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True   # headers and body are two writes: no 40 ms delayed-ACK stall
        def log_message(self, *a):
            pass
        def reply(self, body):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            if self.path.startswith("/item/"):
                self.reply(("item " + self.path[6:]).encode())
            elif self.path == "/health":
                self.reply(b"ok")
            elif self.path == "/traceparent":
                self.reply(",".join(self.headers.get_all("traceparent") or []).encode())
            else:
                self.send_error(404)
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            self.reply(self.rfile.read(n))
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    ready()
    srv.serve_forever()

def stream(n, seed=b"porthole-bulk"):
    block = bytearray(hashlib.sha256(seed).digest() * 32768)   # 1 MiB
    i = 0
    while n > 0:
        block[:8] = i.to_bytes(8, "big")
        chunk = bytes(block[:min(n, len(block))])
        yield chunk
        n -= len(chunk)
        i += 1

def serve(conn, n):
    try:
        if mode == "echo":
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        elif mode == "bulk":
            got = {}
            def reader():
                h, total, buf = hashlib.sha256(), 0, bytearray(1 << 20)
                while True:
                    k = conn.recv_into(buf)
                    if not k:
                        break
                    h.update(memoryview(buf)[:k])
                    total += k
                got["digest"], got["total"] = h.hexdigest(), total
            t = threading.Thread(target=reader)
            t.start()
            h = hashlib.sha256()
            for chunk in stream(bulk, b"from-enclave"):
                h.update(chunk)
                conn.sendall(chunk)
            t.join()
            conn.sendall((got["digest"] + h.hexdigest() + "%020d" % got["total"]).encode())
        elif mode == "half":
            first = conn.recv(65536)
            if first == b"server-first\n":
                conn.sendall(b"greeting from the enclave")
                conn.shutdown(socket.SHUT_WR)
                total = 0
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    total += len(data)
                note("half-server-first", str(total))
                return
            total = len(first)
            while first:
                first = conn.recv(65536)
                total += len(first)
            conn.sendall(b"r" * (1 << 20) + b"done %d" % total)
        elif mode == "abort":
            f = conn.makefile("rb")
            what = f.readline().strip()
            conn.sendall(b"ready\n")
            if what == b"abort":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            try:
                while conn.recv(65536):
                    pass
                note("abort-seen", "eof")
            except ConnectionResetError:
                note("abort-seen", "reset")
        elif mode == "duplex":
            ended = []
            def reader():
                try:
                    while conn.recv(1 << 20):
                        pass
                    ended.append("eof")
                except OSError as e:
                    ended.append(type(e).__name__)
            t = threading.Thread(target=reader, daemon=True)
            t.start()
            block = b"d" * (1 << 20)
            try:
                while True:
                    conn.sendall(block)
            except OSError as e:
                ended.append(type(e).__name__)
            note("duplex-end", ",".join(ended))
        elif mode == "proxy":
            head = b""
            while len(head) < 16:
                data = conn.recv(16 - len(head))
                if not data:
                    return
                head += data
            length = struct.unpack(">H", head[14:16])[0]
            rest = b""
            while len(rest) < length:
                data = conn.recv(length - len(rest))
                if not data:
                    return
                rest += data
            info = {"signature_ok": head[:12] == b"\r\n\r\n\x00\r\nQUIT\n", "ver_cmd": head[12],
                    "family": head[13], "tlvs": {}}
            if head[13] == 0x11:     # TCP over IPv4
                src, dst, sport, dport = struct.unpack(">4s4sHH", rest[:12])
                info["source"] = [socket.inet_ntoa(src), sport]
                info["destination"] = [socket.inet_ntoa(dst), dport]
                tlv = rest[12:]
            elif head[13] == 0x21:   # TCP over IPv6
                src, dst, sport, dport = struct.unpack(">16s16sHH", rest[:36])
                info["source"] = [socket.inet_ntop(socket.AF_INET6, src), sport]
                info["destination"] = [socket.inet_ntop(socket.AF_INET6, dst), dport]
                tlv = rest[36:]
            else:
                tlv = b""
            while len(tlv) >= 3:
                t, n = tlv[0], struct.unpack(">H", tlv[1:3])[0]
                info["tlvs"]["0x%02X" % t] = tlv[3:3 + n].decode("latin-1")
                tlv = tlv[3 + n:]
            note("proxy-%d.json" % n_conn[0], json.dumps(info))
            n_conn[0] += 1
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
    except OSError:
        pass
    finally:
        conn.close()

n_conn = [0]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1024)
ready()
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn, 0), daemon=True).start()
'''


def metric_sum(text, name, **labels):
    """Sum of every series of `name` whose labels include `labels` (0 if none)."""
    return sum(v for n, ls, v in harness.parse_metrics(text)
               if n == name and all(ls.get(k) == str(want) for k, want in labels.items()))


def relay_config(listeners=None, routes=None, sidecar_ingress=None, agent_ingress=None):
    """(sidecar_config, agent_config) with the given ingress listeners and routes."""
    listeners = listeners or [{"name": "web", "listen": "127.0.0.1:0", "max_connections": 1024}]
    routes = routes or [{"listener": "web", "target": f"127.0.0.1:{ENCLAVE_PORT}", "proxy_protocol": False}]
    sidecar = {"ingress": dict({"listeners": listeners}, **(sidecar_ingress or {}))}
    agent = {"ingress": dict({"routes": routes}, **(agent_ingress or {}))}
    return sidecar, agent


def start_server(stack, mode, port=ENCLAVE_PORT, *extra):
    """Starts ENCLAVE_SERVER in `mode` inside the enclave and waits until it listens."""
    proc = stack.enclave.spawn(["python3", "-c", ENCLAVE_SERVER, mode, str(port), stack.workdir,
                                *[str(e) for e in extra]],
                               log_path=os.path.join(stack.workdir, f"server-{mode}.log"))
    ready = os.path.join(stack.workdir, f"ready-{mode}-{port}")

    def up():
        if proc.poll() is not None:
            with open(os.path.join(stack.workdir, f"server-{mode}.log"), errors="replace") as f:
                raise AssertionError(f"enclave server {mode} exited with {proc.returncode}:\n{f.read()}")
        return os.path.exists(ready)
    poll(up, 15, f"the {mode} server inside the enclave to listen")
    return proc


def listener_address(stack, name="web"):
    """The bound (host, port) of an ingress listener, from the sidecar's GET /listeners."""
    def get():
        status, body = harness.http_get(stack.admin_url + "/listeners")
        if status != 200:
            return None
        addr = json.loads(body).get("ingress", {}).get(name)
        return addr
    addr = poll(get, 10, f"ingress listener {name!r} in GET /listeners")
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def connect(addr, timeout=5.0):
    s = socket.create_connection(addr, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += data
    return bytes(buf)


def recv_all(sock):
    chunks = []
    while True:
        data = sock.recv(1 << 20)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def echo_roundtrip(addr, payload=b"ping", timeout=5.0):
    with connect(addr, timeout) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = recv_all(s)
    if got != payload:
        raise AssertionError(f"echo returned {got[:64]!r}, want {payload[:64]!r}")


def closed_or_reset(sock, timeout):
    """Waits up to `timeout` for the peer to close the connection: 'eof', 'reset' or None."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return "eof"
    except ConnectionResetError:
        return "reset"
    except (socket.timeout, TimeoutError):
        return None
    return None


def read_note(stack, name):
    try:
        with open(os.path.join(stack.workdir, name)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def wait_metric(stack, predicate, what, timeout=10):
    """Polls /metrics until predicate(text) holds; returns the text."""
    return poll(lambda: (lambda t: t if predicate(t) else None)(stack.metrics()), timeout, what)


def fds_beyond_pipe_cache(stack):
    """Open descriptors of (sidecar, agent), less the idle splice pipes each keeps cached (two
    descriptors a pipe, a bounded cache that porthole_relay_splice_pipes{state="idle"} shows):
    what a leak would make grow."""
    text = stack.metrics()
    idle = {side: sum(v for n, ls, v in harness.parse_metrics(text)
                      if n == "porthole_relay_splice_pipes" and ls.get("state") == "idle" and ls.get("side") == side)
            for side in ("parent", "enclave")}
    return (harness.open_fds(stack.sidecar.pid) - 2 * int(idle["parent"]),
            harness.open_fds(stack.agent.pid) - 2 * int(idle["enclave"]))


def wait_fds_at_baseline(stack, base_sidecar, base_agent, timeout, slack=0):
    """Polls until both processes' descriptors (fds_beyond_pipe_cache) are back within `slack` of
    their baseline; the failure names both counts."""
    last = [None]

    def back():
        last[0] = fds_beyond_pipe_cache(stack)
        return last[0][0] <= base_sidecar + slack and last[0][1] <= base_agent + slack
    try:
        poll(back, timeout, "both processes' descriptors to return to their baseline")
    except AssertionError as e:
        sidecar, agent = last[0]
        raise AssertionError(f"{e}: sidecar {base_sidecar} -> {sidecar}, agent {base_agent} -> {agent} "
                             "(descriptors less cached splice pipes)") from None


def pipes_in_use(text):
    """Splice pipes lent out on (parent, enclave): 0 on both once every connection is gone."""
    return tuple(metric_sum(text, "porthole_relay_splice_pipes", side=side, state="in_use")
                 for side in ("parent", "enclave"))


def vanish_mid_transfer(addr, nbytes, timeout=30):
    """Sends and receives at once until `nbytes` went each way, then disappears without a word
    (SO_LINGER 0: a RST, what a crashed client's kernel sends with bytes unread). Returns
    (sent, received, the time it vanished)."""
    s = connect(addr)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    block = memoryview(b"c" * (1 << 20))
    sent = received = 0
    deadline = time.monotonic() + timeout
    try:
        while (sent < nbytes or received < nbytes) and time.monotonic() < deadline:
            for _, events in sel.select(1):
                try:
                    if events & selectors.EVENT_READ:
                        data = s.recv(1 << 20)
                        if not data:
                            raise AssertionError(f"the relay ended the stream after {received} bytes")
                        received += len(data)
                    if events & selectors.EVENT_WRITE:
                        sent += s.send(block)
                except BlockingIOError:
                    pass
    finally:
        sel.close()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    return sent, received, time.monotonic()


def web(**labels):
    return dict(dict(path="ingress", route="web"), **labels)


class UntrustedParent(unittest.TestCase):
    """Streams the parent opens into the enclave are validated: a malformed PROXY v2 header, an
    unknown listener or no header in time closes that stream and is counted; the agent keeps
    serving the real ones."""

    def test_bad_headers_and_slowloris_are_cut_off(self):
        sc, ag = relay_config(agent_ingress={"header_timeout": "1s"})
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "echo")
            addr = listener_address(stack)
            path = os.path.join(stack.enclave.uds_dir, "16_8000.sock")  # the agent's ingress port

            def stream(data: bytes, shut: bool = True) -> float:
                """Sends data as the parent would and returns how long until the agent closed."""
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(path)
                    if data:
                        s.sendall(data)
                    t0 = time.monotonic()
                    s.settimeout(5)
                    try:
                        while s.recv(4096):
                            pass
                    except (ConnectionResetError, socket.timeout):
                        pass
                    return time.monotonic() - t0

            signature = b"\r\n\r\n\x00\r\nQUIT\n"
            stream(b"GET / HTTP/1.1\r\n\r\n")                        # not PROXY v2 at all
            stream(signature + b"\x21\x11\xff\xff")                   # absurd length
            unknown = signature + b"\x21\x11\x00\x10" + bytes(12) + b"\xe0\x00\x01x"
            unknown = unknown[:14] + struct.pack(">H", 12 + 4) + unknown[16:]
            stream(unknown)                                              # listener "x" has no route
            waited = stream(b"")                                         # slowloris: nothing at all
            self.assertGreaterEqual(waited, 0.8)
            self.assertLess(waited, 3.0)

            text = wait_metric(stack, lambda t: (metric_value(t, "porthole_relay_errors_total", side="enclave",
                                                              path="ingress", route="unrouted", reason="timeout") or 0)
                               >= 1, "the slowloris stream to be counted")
            self.assertGreaterEqual(metric_value(text, "porthole_relay_errors_total", side="enclave", path="ingress",
                                                 route="unrouted", reason="protocol"), 3)
            # The real path still works.
            echo_roundtrip(addr)


# A selectors echo server for many connections at once (inside the enclave).
HOLD_SERVER = r"""
import os, resource, selectors, socket, sys
port, ready = int(sys.argv[1]), sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
sel = selectors.DefaultSelector()
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(4096); srv.setblocking(False)
sel.register(srv, selectors.EVENT_READ)
open(ready, "w").close()
while True:
    for key, _ in sel.select():
        if key.fileobj is srv:
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            c.setblocking(False); sel.register(c, selectors.EVENT_READ)
        else:
            c = key.fileobj
            try:
                d = c.recv(4096)
            except OSError:
                d = b""
            if d:
                try:
                    c.send(d)
                except OSError:
                    pass
            else:
                sel.unregister(c); c.close()
"""


class ManyConnections(unittest.TestCase):
    def test_ten_thousand_concurrent_connections_limits_hold_nothing_leaks(self):
        import resource
        import selectors
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        total, limit = 10_000, 4_000
        if hard < total + 1000:
            self.skipTest(f"needs {total + 1000} descriptors, the hard limit is {hard}")
        sc, ag = relay_config(listeners=[{"name": "web", "listen": "127.0.0.1:0", "max_connections": limit}],
                              agent_ingress={"max_connections": limit + 100})
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            ready = os.path.join(stack.workdir, "hold-ready")
            stack.enclave.spawn(["python3", "-c", HOLD_SERVER, str(ENCLAVE_PORT), ready],
                                log_path=os.path.join(stack.workdir, "hold.log"))
            poll(lambda: os.path.exists(ready), 15, "the hold server inside the enclave")
            addr = listener_address(stack)
            echo_roundtrip(addr)
            base_sidecar, base_agent = fds_beyond_pipe_cache(stack)

            socks = []
            try:
                for _ in range(total):  # all open at once
                    s = socket.socket()
                    s.setblocking(False)
                    s.connect_ex(addr)
                    socks.append(s)
                # Every connection either is relayed (it echoes) or was refused at the limit (EOF
                # or reset). Ask each once, then read answers until all are accounted for.
                sel = selectors.DefaultSelector()
                pending = {}
                deadline = time.monotonic() + 120
                for s in socks:
                    sel.register(s, selectors.EVENT_WRITE)
                    pending[s.fileno()] = s
                served = refused = 0
                while pending and time.monotonic() < deadline:
                    for key, events in sel.select(timeout=1):
                        s = key.fileobj
                        if events & selectors.EVENT_WRITE:
                            try:
                                s.send(b"x")
                                sel.modify(s, selectors.EVENT_READ)
                            except BlockingIOError:
                                pass
                            except OSError:
                                refused += 1
                                sel.unregister(s)
                                del pending[s.fileno()]
                            continue
                        try:
                            data = s.recv(16)
                        except BlockingIOError:
                            continue
                        except OSError:
                            data = b""
                        served += 1 if data == b"x" else 0
                        refused += 0 if data == b"x" else 1
                        sel.unregister(s)
                        del pending[s.fileno()]
                self.assertFalse(pending, f"{len(pending)} connections neither served nor refused in time")
                self.assertEqual(served, limit, f"served {served}, refused {refused}")
                self.assertEqual(refused, total - limit)
                # Every refusal is counted, with its reason: most at the listener's limit; on a
                # loaded machine a few at the agent, whose accept queue (net.core.somaxconn) can
                # fill in the burst; those free their slot and a later connection is served.
                text = stack.metrics()
                errors = {reason: metric_value(text, "porthole_relay_errors_total", side="parent", reason=reason,
                                               **web()) or 0
                          for reason in ("limit", "refused", "timeout", "reset", "protocol")}
                print(f"\nburst: served {served}, refused {refused}; parent errors by reason {errors}", flush=True)
                self.assertEqual(sum(errors.values()), total - limit, errors)
                self.assertEqual(errors["limit"] + errors["refused"], total - limit, errors)
                self.assertGreater(errors["limit"], 0, errors)
                self.assertEqual(metric_value(text, "porthole_relay_connections_active", side="parent", **web()),
                                 limit)
            finally:
                for s in socks:
                    s.close()
            # Everything released on both sides.
            wait_fds_at_baseline(stack, base_sidecar, base_agent, 60)
            self.assertEqual(pipes_in_use(stack.metrics()), (0, 0), "every splice pipe went back to its pool")
            echo_roundtrip(addr)


class Ingress(unittest.TestCase):
    def test_http1_route_records_requests_and_injects_traceparent(self):
        """protocol: http1 — the agent parses HTTP as it passes (docs/telemetry-http.md): bodies
        intact, a fresh traceparent for the workload (a child of the client's), RED metrics."""
        sc, ag = relay_config(routes=[{"listener": "web", "target": f"127.0.0.1:{ENCLAVE_PORT}",
                                       "protocol": "http1", "http_routes": ["/item/{n}"]}])
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "http")
            addr = listener_address(stack)
            conn = http.client.HTTPConnection(*addr, timeout=10)
            for i in range(200):
                if i % 4 == 0:
                    body = os.urandom(70000 + i)  # bodies larger than a relay buffer
                    conn.request("POST", "/echo", body=body)
                else:
                    body = f"item {i}?secret=x".encode()  # the workload gets the query as sent
                    conn.request("GET", f"/item/{i}?secret=x")
                r = conn.getresponse()
                self.assertEqual((r.status, r.read()), (200, body), f"request {i}")
            conn.request("GET", "/nothing-here")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 404)

            client_tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            conn.request("GET", "/traceparent", headers={"traceparent": client_tp})
            seen = conn.getresponse().read().decode()
            self.assertRegex(seen, r"^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$")  # one header, same trace
            self.assertNotEqual(seen, client_tp)  # the agent's span is the workload's parent
            conn.request("GET", "/traceparent")
            fresh = conn.getresponse().read().decode()
            self.assertRegex(fresh, r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")
            self.assertNotIn("4bf92f3577b34da6a3ce929d0e0e4736", fresh)
            conn.close()

            # Not HTTP at all: relayed untouched (the server answers 400), counted once.
            with socket.create_connection(addr, timeout=10) as s:
                s.sendall(b"\x16\x03\x01 definitely not http\r\n\r\n")
                s.shutdown(socket.SHUT_WR)
                got = b""
                while chunk := s.recv(65536):
                    got += chunk
                self.assertIn(b"400", got.split(b"\r\n")[0])

            def counts(t):
                get = lambda **kw: metric_value(t, "porthole_http_requests_total", side="enclave", listener="web", **kw)
                return (get(method="GET", status_class="2xx"), get(method="POST", status_class="2xx"),
                        get(method="GET", status_class="4xx"))
            text = wait_metric(stack, lambda t: counts(t) == (152, 50, 1), "the requests counted at the sidecar")
            self.assertEqual(metric_value(text, "porthole_http_unobserved_connections_total", side="enclave",
                                          listener="web", reason="parse_error"), 1)
            self.assertEqual(metric_value(text, "porthole_http_request_duration_seconds_count", side="enclave",
                                          listener="web"), 203)

    def test_http_with_and_without_keep_alive(self):
        sc, ag = relay_config()
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "http")
            addr = listener_address(stack)

            # 1,000 requests on one keep-alive connection, every tenth a POST with a body.
            conn = http.client.HTTPConnection(*addr, timeout=10)
            for i in range(1000):
                if i % 10 == 0:
                    body = os.urandom(1000 + i)
                    conn.request("POST", "/echo", body=body)
                else:
                    body = f"item {i}".encode()
                    conn.request("GET", f"/item/{i}")
                r = conn.getresponse()
                self.assertEqual((r.status, r.read()), (200, body), f"request {i} (keep-alive)")
            conn.close()

            # 1,000 connections, one request each.
            def one(i):
                c = http.client.HTTPConnection(*addr, timeout=10)
                try:
                    c.request("GET", f"/item/{i}", headers={"Connection": "close"})
                    r = c.getresponse()
                    return r.status, r.read()
                finally:
                    c.close()
            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(one, range(1000)))
            for i, (status, body) in enumerate(results):
                self.assertEqual((status, body), (200, f"item {i}".encode()), f"request {i} (new connection)")

            # 1,001 connections opened and closed on both sides; bytes both ways; none active.
            text = wait_metric(stack, lambda t: metric_value(
                t, "porthole_relay_connections_closed_total", side="enclave", **web()) == 1001,
                "1,001 ingress connections closed on the enclave side")
            for side in ("parent", "enclave"):
                self.assertEqual(metric_value(text, "porthole_relay_connections_opened_total", side=side, **web()), 1001, side)
                self.assertEqual(metric_value(text, "porthole_relay_connections_closed_total", side=side, **web()), 1001, side)
                self.assertEqual(metric_value(text, "porthole_relay_connections_active", side=side, **web()), 0, side)
                for direction in ("upstream", "downstream"):
                    self.assertGreater(metric_value(text, "porthole_relay_bytes_total", side=side,
                                                    direction=direction, **web()), 100_000, (side, direction))
                self.assertEqual(metric_sum(text, "porthole_relay_errors_total", side=side, **web()), 0, side)
                self.assertEqual(metric_value(text, "porthole_relay_connection_duration_seconds_count",
                                              side=side, **web()), 1001, side)
            self.assertEqual(metric_value(text, "porthole_relay_connections_opened_total", side="enclave",
                                          enclave="itest", **web()), 1001)

    def test_bulk_one_gibibyte_each_way_with_checksums(self):
        sc, ag = relay_config()
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "bulk", ENCLAVE_PORT, BULK_BYTES)
            addr = listener_address(stack)
            block = bytearray(hashlib.sha256(b"from-host").digest() * 32768)  # 1 MiB
            sent = hashlib.sha256()
            received = hashlib.sha256()
            t0 = time.monotonic()
            with connect(addr, timeout=BULK_TIMEOUT) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

                def writer():
                    n, i = BULK_BYTES, 0
                    while n > 0:
                        block[:8] = i.to_bytes(8, "big")
                        chunk = bytes(block[:min(n, len(block))])
                        sent.update(chunk)
                        s.sendall(chunk)
                        n -= len(chunk)
                        i += 1
                    s.shutdown(socket.SHUT_WR)
                errors = []

                def guarded():
                    try:
                        writer()
                    except Exception as e:  # reported below
                        errors.append(e)
                t = threading.Thread(target=guarded, daemon=True)
                t.start()
                buf = bytearray(1 << 20)
                view = memoryview(buf)
                total = 0
                while total < BULK_BYTES:
                    k = s.recv_into(view[:min(len(buf), BULK_BYTES - total)])
                    if not k:
                        self.fail(f"EOF after {total} of {BULK_BYTES} bytes from the enclave")
                    received.update(view[:k])
                    total += k
                trailer = recv_all(s)
                t.join(BULK_TIMEOUT)
            elapsed = time.monotonic() - t0
            self.assertFalse(errors, f"sending failed: {errors}")
            print(f"\nbulk: {BULK_BYTES / (1 << 20):.0f} MiB each way in {elapsed:.1f} s "
                  f"({2 * BULK_BYTES / (1 << 20) / elapsed:.0f} MiB/s total)", file=sys.stderr)
            self.assertEqual(len(trailer), 148, trailer[:200])
            server_received, server_sent, server_total = trailer[:64].decode(), trailer[64:128].decode(), int(trailer[128:])
            self.assertEqual(server_total, BULK_BYTES)
            self.assertEqual(server_received, sent.hexdigest(), "host -> enclave bytes differ")
            self.assertEqual(server_sent, received.hexdigest(), "enclave -> host bytes differ")
            self.assertLess(elapsed, BULK_TIMEOUT)

            text = wait_metric(stack, lambda t: metric_value(
                t, "porthole_relay_connections_closed_total", side="enclave", **web()) == 1,
                "the bulk connection to be closed on the enclave side")
            for side in ("parent", "enclave"):
                self.assertEqual(metric_value(text, "porthole_relay_bytes_total", side=side, direction="upstream", **web()),
                                 BULK_BYTES, side)
                # Downstream carries the trailer too.
                self.assertEqual(metric_value(text, "porthole_relay_bytes_total", side=side, direction="downstream", **web()),
                                 BULK_BYTES + 148, side)

    def test_half_close_both_ways(self):
        sc, ag = relay_config()
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "half")
            addr = listener_address(stack)

            # The client shuts its write side; the server reads to EOF and still replies in full.
            with connect(addr) as s:
                s.sendall(b"q" * 100_000)
                s.shutdown(socket.SHUT_WR)
                reply = recv_all(s)
            self.assertEqual(len(reply), (1 << 20) + len(b"done 100000"))
            self.assertTrue(reply.endswith(b"done 100000"), reply[-40:])

            # The server shuts its write side first; the client still gets to send.
            with connect(addr) as s:
                s.sendall(b"server-first\n")
                self.assertEqual(recv_all(s), b"greeting from the enclave")  # EOF after it
                s.sendall(b"z" * 50_000)
                s.shutdown(socket.SHUT_WR)
                poll(lambda: read_note(stack, "half-server-first"), 5, "the server to read the client's data")
                self.assertEqual(read_note(stack, "half-server-first"), "50000")
                self.assertEqual(closed_or_reset(s, 5), "eof")

    def test_abort_propagates_both_ways(self):
        sc, ag = relay_config()
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "abort")
            addr = listener_address(stack)

            # Client -> RST: the server inside sees a reset or EOF within 1 s.
            s = connect(addr)
            s.sendall(b"wait\n")
            self.assertEqual(recv_exact(s, 6), b"ready\n")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            t0 = time.monotonic()
            seen = poll(lambda: read_note(stack, "abort-seen"), 1.0, "the server inside to see the client's abort",
                        interval=0.01)
            self.assertIn(seen, ("eof", "reset"))
            self.assertLess(time.monotonic() - t0, 1.0)

            # Server inside -> RST: the client sees a reset within 1 s.
            with connect(addr) as s:
                s.sendall(b"abort\n")
                self.assertEqual(recv_exact(s, 6), b"ready\n")
                t0 = time.monotonic()
                outcome = closed_or_reset(s, 1.0)
                self.assertEqual(outcome, "reset", f"the workload's abort reached the client as {outcome!r}")
                self.assertLess(time.monotonic() - t0, 1.0)

            text = wait_metric(stack, lambda t: metric_value(
                t, "porthole_relay_connections_active", side="enclave", **web()) == 0,
                "both aborted connections to be closed on the enclave side")
            self.assertEqual(metric_value(text, "porthole_relay_connections_active", side="parent", **web()), 0)
            self.assertGreaterEqual(metric_sum(text, "porthole_relay_errors_total", reason="reset", **web()), 1,
                                    "an abort is counted as reason=reset on at least one side")

    def test_client_vanishing_mid_transfer_closes_both_sides_within_a_second(self):
        sc, ag = relay_config()
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "duplex")
            addr = listener_address(stack)
            note = os.path.join(stack.workdir, "duplex-end")

            def all_closed(text):
                return (metric_value(text, "porthole_relay_connections_active", side="parent", **web()) == 0
                        and metric_value(text, "porthole_relay_connections_active", side="enclave", **web()) == 0)

            # A first one warms up whatever is created lazily; the baseline comes after it.
            vanish_mid_transfer(addr, 1 << 20)
            poll(lambda: os.path.exists(note) and all_closed(stack.metrics()), 10, "the warm-up to end")
            os.unlink(note)
            base_sidecar, base_agent = fds_beyond_pipe_cache(stack)

            sent, received, vanished = vanish_mid_transfer(addr, 64 << 20)
            self.assertGreaterEqual(min(sent, received), 64 << 20, "the transfer did not flow both ways")
            poll(lambda: os.path.exists(note), 1.0, "the workload to see the client's disappearance", interval=0.01)
            text = poll(lambda: (lambda t: t if all_closed(t) else None)(stack.metrics()), 1.0,
                        "both sides to close the connection", interval=0.01)
            elapsed = time.monotonic() - vanished
            print(f"\nvanish: both sides closed {elapsed * 1000:.0f} ms after the client vanished "
                  f"({sent >> 20} MiB up, {received >> 20} MiB down; workload saw {read_note(stack, 'duplex-end')})",
                  file=sys.stderr)
            self.assertLess(elapsed, 1.0)
            self.assertGreaterEqual(metric_sum(text, "porthole_relay_errors_total", reason="reset", **web()), 1,
                                    "the disappearance is counted as a reset")
            self.assertEqual(pipes_in_use(text), (0, 0))
            wait_fds_at_baseline(stack, base_sidecar, base_agent, 5)

    def test_silent_client_is_closed_at_the_idle_timeout(self):
        sc, ag = relay_config(sidecar_ingress={"idle_timeout": "2s"})
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "echo")
            addr = listener_address(stack)
            echo_roundtrip(addr)
            with connect(addr) as s:
                t0 = time.monotonic()
                outcome = closed_or_reset(s, 2.0 + 2.0)
                elapsed = time.monotonic() - t0
            self.assertIsNotNone(outcome, "a silent client was not closed within idle_timeout (2s) + 2s")
            self.assertGreaterEqual(elapsed, 1.5, "closed well before the idle timeout")
            text = wait_metric(stack, lambda t: metric_value(
                t, "porthole_relay_connections_closed_total", side="parent", **web()) == 2,
                "the idle connection to be counted as closed")
            self.assertEqual(metric_value(text, "porthole_relay_connections_active", side="parent", **web()), 0)
            self.assertEqual(metric_value(text, "porthole_relay_errors_total", side="parent", reason="timeout", **web()), 1)

    def test_listener_max_connections(self):
        sc, ag = relay_config(listeners=[{"name": "web", "listen": "127.0.0.1:0", "max_connections": 5}])
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "echo")
            addr = listener_address(stack)
            held = []
            try:
                for i in range(5):
                    s = connect(addr)
                    s.sendall(b"held %d" % i)
                    self.assertEqual(recv_exact(s, 6), b"held %d" % i)
                    held.append(s)
                for i in range(5):
                    with connect(addr) as s:
                        try:
                            s.sendall(b"over the limit")
                        except (BrokenPipeError, ConnectionResetError):
                            pass
                        t0 = time.monotonic()
                        outcome = closed_or_reset(s, 2.0)
                        self.assertIsNotNone(outcome, f"connection {5 + i} over the limit was not closed")
                        self.assertLess(time.monotonic() - t0, 1.0, "closed at once")
                # The held ones are still served.
                for i, s in enumerate(held):
                    s.sendall(b"again %d" % i)
                    self.assertEqual(recv_exact(s, 7), b"again %d" % i)
                text = stack.metrics()
                self.assertEqual(metric_value(text, "porthole_relay_errors_total", side="parent", reason="limit", **web()), 5)
                self.assertEqual(metric_value(text, "porthole_relay_connections_active", side="parent", **web()), 5)
            finally:
                for s in held:
                    s.close()
            # Capacity comes back once they close.
            wait_metric(stack, lambda t: metric_value(
                t, "porthole_relay_connections_active", side="parent", **web()) == 0, "the held connections to close")
            echo_roundtrip(addr, b"after")

    def test_twenty_thousand_connections_leak_no_fds(self):
        sc, ag = relay_config()
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "echo")
            addr = listener_address(stack)
            for _ in range(20):  # warm up whatever is created lazily
                echo_roundtrip(addr)
            wait_metric(stack, lambda t: metric_value(
                t, "porthole_relay_connections_active", side="enclave", **web()) == 0, "the warm-up to finish")
            base_sidecar, base_agent = fds_beyond_pipe_cache(stack)

            total, workers = 20_000, 8
            t0 = time.monotonic()

            def worker(k):
                for i in range(k, total, workers):
                    echo_roundtrip(addr, b"%d" % i, timeout=10)
            with ThreadPoolExecutor(workers) as pool:
                for f in [pool.submit(worker, k) for k in range(workers)]:
                    f.result()
            elapsed = time.monotonic() - t0
            print(f"\nsoak: {total} connections in {elapsed:.1f} s", file=sys.stderr)
            self.assertLess(elapsed, 120)

            wait_fds_at_baseline(stack, base_sidecar, base_agent, 15, slack=2)
            text = wait_metric(stack, lambda t: metric_value(
                t, "porthole_relay_connections_closed_total", side="enclave", **web()) == total + 20,
                "every connection to be counted closed on the enclave side")
            for side in ("parent", "enclave"):
                self.assertEqual(metric_value(text, "porthole_relay_connections_opened_total", side=side, **web()), total + 20)
                self.assertEqual(metric_value(text, "porthole_relay_connections_active", side=side, **web()), 0)
                self.assertEqual(metric_sum(text, "porthole_relay_errors_total", side=side, **web()), 0, side)
            self.assertEqual(pipes_in_use(text), (0, 0), "every splice pipe went back to its pool")

    def test_agent_restart_fails_open_connections_cleanly(self):
        sc, ag = relay_config()
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "echo")
            addr = listener_address(stack)
            held = []
            try:
                for i in range(3):
                    s = connect(addr)
                    s.sendall(b"open %d" % i)
                    self.assertEqual(recv_exact(s, 6), b"open %d" % i)
                    held.append(s)
                stack.agent.kill()
                stack.agent.wait(timeout=10)
                for i, s in enumerate(held):
                    self.assertIsNotNone(closed_or_reset(s, 5.0),
                                         f"connection {i} stayed open after the agent died")
            finally:
                for s in held:
                    s.close()
            stack.start_agent()
            stack.wait_ready(timeout=15)
            poll(lambda: echo_roundtrip(addr, b"new") is None, 10, "a new connection to work after the restart")
            text = stack.metrics()
            self.assertEqual(metric_value(text, "porthole_relay_connections_active", side="parent", **web()), 0)
            self.assertEqual(metric_value(text, "porthole_relay_connections_active", side="enclave", **web()), 0)

    def test_proxy_protocol_to_the_workload(self):
        sc, ag = relay_config(
            listeners=[{"name": "web", "listen": "127.0.0.1:0", "max_connections": 1024},
                       {"name": "pp", "listen": "127.0.0.1:0", "max_connections": 1024}],
            routes=[{"listener": "web", "target": f"127.0.0.1:{ENCLAVE_PORT}", "proxy_protocol": False},
                    {"listener": "pp", "target": f"127.0.0.1:{ENCLAVE_PP_PORT}", "proxy_protocol": True}])
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.wait_ready()
            start_server(stack, "echo", ENCLAVE_PORT)
            start_server(stack, "proxy", ENCLAVE_PP_PORT)
            addr = listener_address(stack, "pp")
            ids = []
            for i in range(2):
                with connect(addr) as s:
                    client = s.getsockname()
                    s.sendall(b"after the header")
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_all(s), b"after the header")
                info = json.loads(poll(lambda: read_note(stack, f"proxy-{i}.json"), 5, "the PROXY header"))
                self.assertTrue(info["signature_ok"], info)
                self.assertEqual(info["ver_cmd"], 0x21, info)  # v2, PROXY
                self.assertEqual(info["source"], [client[0], client[1]], info)
                self.assertEqual(info["destination"], [addr[0], addr[1]], info)
                self.assertEqual(info["tlvs"].get("0xE0"), "pp", info)
                self.assertTrue(info["tlvs"].get("0x05"), f"no PP2_TYPE_UNIQUE_ID: {info}")
                ids.append(info["tlvs"]["0x05"])
            self.assertNotEqual(ids[0], ids[1], "connection ids must be unique")
            # The other route gets no header.
            echo_roundtrip(listener_address(stack, "web"), b"plain")


if __name__ == "__main__":
    unittest.main(verbosity=2)
