#!/usr/bin/env python3
"""porthole-loadtest end to end: against porthole-demo-workload on the host (send rate and
successful throughput, the JSON and HTML reports, compare, live metrics, SLO search with a
breakdown per step, the field-encryption scenario on two curves), against a tiny server in this
script that stalls for 1 s and records when (coordinated omission: every request intended during
the stall carries it, checked request by request from --dump-requests), and through the
simulated enclave (porthole-sidecar ingress -> uds -> porthole-agent with an http1 route -> demo
workload) with the sidecar's /metrics scraped for the per-request breakdown. No sleeps to
synchronise: files are polled with deadlines. Runs in about a minute.
"""

import base64
import html.parser
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import poll  # noqa: E402

LOADTEST = os.path.join(harness.BIN_DIR, "porthole-loadtest")
WORKLOAD = os.path.join(harness.BIN_DIR, "porthole-demo-workload")
ENCLAVE_PORT = 8080


def bucket_lowest(index: int, bits: int) -> int:
    """LatencyHistogram::lowest_of (loadtest/src/latency_histogram.cpp)."""
    exact = 1 << bits
    if index < exact:
        return index
    half = exact >> 1
    shift = (index - exact) // half + 1
    return ((index - exact) % half + half) << shift


def count_over(hist: dict, seconds: float) -> int:
    return sum(n for i, n in hist["buckets"] if bucket_lowest(i, hist["bits"]) > seconds * 1e9)


def read_text(path):
    """The stripped contents of a file, or "" while it does not exist."""
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def run_loadtest(*args, timeout=90, check=True):
    r = subprocess.run([LOADTEST, *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"porthole-loadtest {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


class HtmlChecker(html.parser.HTMLParser):
    """Collects tags and anything that would fetch an external resource."""
    VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line", "polyline", "path", "circle"}

    def __init__(self):
        super().__init__()
        self.stack, self.problems, self.tags = [], [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for k, v in attrs:
            if k in ("src", "href") or (v and ("http://" in v or "https://" in v) and k != "xmlns"):
                self.problems.append(f"<{tag} {k}={v!r}> refers to an external resource")
        if tag in ("script", "link", "img", "iframe"):
            self.problems.append(f"<{tag}> in a self-contained report")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()


def check_html(test, path):
    with open(path) as f:
        text = f.read()
    checker = HtmlChecker()
    checker.feed(text)
    checker.close()
    test.assertEqual(checker.problems, [])
    test.assertEqual(checker.stack, [], "unclosed tags")
    test.assertIn("svg", checker.tags)
    test.assertIn("polyline", checker.tags)


class StallingHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive; the 101st request is answered 1 s late (one server thread: the
    whole server stalls). Records when the stall began and ended on CLOCK_MONOTONIC, the clock
    of porthole-loadtest's request dump."""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    count = 0
    stall_ns = None  # (start, end)
    stall = threading.Event()  # never set: waits its full timeout, a stall that cannot end early

    def log_message(self, *a):
        pass

    def do_GET(self):
        type(self).count += 1
        if type(self).count == 101:
            start = time.monotonic_ns()
            self.stall.wait(1.0)
            type(self).stall_ns = (start, time.monotonic_ns())
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class LocalWorkload:
    def __init__(self, workdir):
        self.addr_file = os.path.join(workdir, "workload.addr")
        self.proc = subprocess.Popen([WORKLOAD, "--listen", "127.0.0.1:0", "--address-file", self.addr_file,
                                      "--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"porthole-demo-workload exited with {self.proc.returncode}")
            return read_text(self.addr_file)
        self.address = poll(ready, 10, "the demo workload's address file")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class LoadtestLocal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="porthole-loadtest-it-")
        cls.workload = LocalWorkload(cls.workdir)
        cls.url = f"http://{cls.workload.address}"

    @classmethod
    def tearDownClass(cls):
        cls.workload.stop()
        subprocess.run(["rm", "-rf", cls.workdir], check=False)

    def path(self, name):
        return os.path.join(self.workdir, name)

    def report(self, name):
        with open(self.path(name)) as f:
            doc = json.load(f)
        self.assertEqual(doc["format"], "porthole-loadtest/2")
        return doc

    def test_rate_accuracy_reports_and_compare(self):
        for name, rate in (("a.json", 400), ("b.json", 800)):
            r = run_loadtest("--url", self.url + "/health", "--rate", str(rate), "--connections", "4", "--duration",
                             "3s", "--warmup", "500ms", "--json", self.path(name), "--html",
                             self.path(name.replace(".json", ".html")))
            self.assertIn("coordinated omission corrected", r.stdout)
            res = self.report(name)["result"]
            # The server keeps up: what was sent and what succeeded are the target within 1 %.
            self.assertAlmostEqual(res["send_rate"], rate, delta=rate * 0.01, msg=r.stdout)
            self.assertAlmostEqual(res["throughput"], rate, delta=rate * 0.01, msg=r.stdout)
            self.assertEqual(res["connect_time"]["count"], 4)  # one keep-alive connection each
            self.assertEqual(res["errors"], 0)
            self.assertEqual(res["status"]["2xx"], res["completed"])
            self.assertEqual(res["latency"]["count"], res["completed"])
            self.assertGreater(res["warmup"], 0)
            self.assertEqual(sum(n for _, n in res["latency"]["buckets"]), res["completed"])
            check_html(self, self.path(name.replace(".json", ".html")))

        r = run_loadtest("compare", self.path("a.json"), self.path("b.json"))
        self.assertIn("throughput", r.stdout)
        self.assertIn("+100.0%", r.stdout)  # target rate 400 -> 800
        r = run_loadtest("compare", "--json", self.path("a.json"), self.path("b.json"))
        rows = {row["metric"]: row for row in json.loads(r.stdout)["rows"]}
        a, b = self.report("a.json")["result"], self.report("b.json")["result"]
        self.assertEqual(rows["throughput"]["a"], a["throughput"])
        self.assertEqual(rows["send rate"]["b"], b["send_rate"])
        self.assertAlmostEqual(rows["target rate"]["change"], 1.0)
        self.assertAlmostEqual(rows["latency p99"]["a"], a["latency"]["percentiles"]["99"] / 1e9)

        with open(self.path("broken.json"), "w") as f:
            f.write('{"format": "porthole-loadtest/2"}')
        r = run_loadtest("compare", self.path("a.json"), self.path("broken.json"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing field", r.stderr)
        with open(self.path("old.json"), "w") as f:
            f.write('{"format": "porthole-loadtest/1"}')
        r = run_loadtest("compare", self.path("a.json"), self.path("old.json"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("older porthole-loadtest", r.stderr)

    def encrypted_documents(self, curve):
        status, body = harness.http_get(self.url + "/metrics")
        self.assertEqual(status, 200)
        return harness.metric_value(body, "demo_encrypted_documents_total", cipher="aes-256-gcm", curve=curve) or 0

    def test_field_encryption_scenario_on_two_curves(self):
        for curve, key_bytes in (("p-384", 97), ("x25519", 32)):
            before = self.encrypted_documents(curve)
            run_loadtest("--url", self.url, "--scenario", "field-encryption", "--curve", curve, "--fields", "32",
                         "--rate", "200", "--connections", "2", "--requests", "300", "--json", self.path("fe.json"),
                         "--quiet")
            res = self.report("fe.json")["result"]
            self.assertEqual(res["completed"], 300)
            self.assertEqual(res["errors"], 0, res["error_kinds"])
            self.assertEqual(res["status"]["2xx"], 300)
            self.assertGreater(res["bytes_received"], 300 * 32 * 40)  # 32 sealed fields per response
            # Every document went through the envelope on that curve.
            self.assertEqual(self.encrypted_documents(curve) - before, 300)
            # What a response looks like: the ephemeral public key of the curve, every field sealed.
            req = urllib.request.Request(f"{self.url}/encrypt?curve={curve}", method="POST",
                                         data=b'{"id": 1, "fields": {"a": "secret", "b": "other"}}')
            with urllib.request.urlopen(req, timeout=10) as resp:
                doc = json.loads(resp.read())
            self.assertEqual((doc["curve"], doc["cipher"], doc["id"]), (curve, "aes-256-gcm", 1))
            self.assertEqual(len(base64.b64decode(doc["ephemeral_key"])), key_bytes)
            self.assertNotIn("secret", json.dumps(doc))

    def test_scenario_file_and_errors(self):
        with open(self.path("mix.json"), "w") as f:
            json.dump({"name": "mix", "requests": [
                {"name": "health", "path": "/health", "weight": 3},
                {"name": "missing", "path": "/nope", "weight": 1}]}, f)
        run_loadtest("--url", self.url, "--scenario", self.path("mix.json"), "--rate", "0", "--requests", "400",
                     "--connections", "2", "--json", self.path("mix-report.json"), "--quiet")
        res = self.report("mix-report.json")["result"]
        self.assertEqual(res["status"]["2xx"], 300, {k: res[k] for k in ("status", "error_kinds", "completed")})
        self.assertEqual(res["status"]["4xx"], 100)
        self.assertEqual(res["errors"], 100)

        with open(self.path("bad.json"), "w") as f:
            f.write('{"requests": [{"weight": 0}]}')
        r = run_loadtest("--url", self.url, "--scenario", self.path("bad.json"), check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("requests[0].weight", r.stderr)
        r = run_loadtest("--url", self.url, "--rate", "lots", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--rate", r.stderr)

    def test_unreachable_server_is_counted_not_fatal(self):
        # Bound but not listening: every connect is refused, and no one else can take the port.
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            run_loadtest("--url", f"http://127.0.0.1:{port}/", "--rate", "100", "--connections", "2", "--duration",
                         "1s", "--warmup", "0", "--json", self.path("down.json"), "--quiet")
        res = self.report("down.json")["result"]
        self.assertEqual(res["errors"], res["completed"])
        self.assertGreater(res["error_kinds"]["connect"], 50)
        # Nothing went out and nothing succeeded: both rates are 0, whatever the target.
        self.assertEqual(res["throughput"], 0)
        self.assertEqual(res["send_rate"], 0)
        self.assertEqual(res["ok_in_window"], 0)
        self.assertEqual(res["connect_failures"], res["completed"])

    def test_live_metrics_and_slo_search(self):
        addr_file = self.path("metrics.addr")
        proc = subprocess.Popen([LOADTEST, "--url", self.url + "/health", "--rate", "200", "--connections", "2",
                                 "--duration", "4s", "--warmup", "0", "--metrics-listen", "127.0.0.1:0",
                                 "--metrics-address-file", addr_file, "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            address = poll(lambda: read_text(addr_file), 10,
                           "the metrics address file")

            def some_requests():
                status, body = harness.http_get(f"http://{address}/metrics")
                return status == 200 and (harness.metric_value(body, "porthole_loadtest_requests_total") or 0) > 0 \
                    and body
            body = poll(some_requests, 10, "live porthole_loadtest_requests_total > 0")
            self.assertEqual(harness.metric_value(body, "porthole_loadtest_target_requests_per_second"), 200)
            self.assertIn("porthole_loadtest_latency_seconds_bucket", body)
            self.assertIn("porthole_loadtest_service_time_seconds_bucket", body)
            self.assertIn("porthole_loadtest_connect_duration_seconds_bucket", body)
            self.assertGreater(harness.metric_value(body, "porthole_loadtest_sent_requests_total"), 0)
            self.assertEqual(harness.metric_value(body, "porthole_loadtest_unsent_requests_total"), 0)
            self.assertEqual(harness.metric_value(body, "porthole_loadtest_running"), 1)
        finally:
            out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)

        # The workload's own /metrics is scraped around every step: a breakdown per step.
        r = run_loadtest("--url", self.url + "/health", "--slo", "p99=1s", "--slo-start", "100", "--slo-step", "100",
                         "--slo-max", "300", "--duration", "1s", "--warmup", "200ms", "--connections", "2",
                         "--scrape", self.url + "/metrics", "--json", self.path("slo.json"), "--html",
                         self.path("slo.html"))
        with open(self.path("slo.json")) as f:
            slo = json.load(f)
        self.assertEqual(slo["format"], "porthole-loadtest-slo/2")
        self.assertEqual([s["rate"] for s in slo["steps"]], [100, 200, 300])
        self.assertEqual(slo["max_sustainable_rate"], 300)
        self.assertIn("maximum sustainable rate: 300.0/s", r.stdout)
        for step in slo["steps"]:
            # 1 s windows: a few requests cross the window's edges either way.
            self.assertAlmostEqual(step["throughput"], step["rate"], delta=step["rate"] * 0.05, msg=step)
            entries = {e["component"]: e for e in step["breakdown"]["entries"]}
            self.assertEqual(entries["workload"]["count"], entries["client"]["count"], step["breakdown"])
            self.assertTrue(step["breakdown"]["split"]["has_workload"])
        self.assertIn("at 300.0/s: mean per request", r.stdout)
        check_html(self, self.path("slo.html"))

    def test_an_interrupted_slo_search_exits_130(self):
        proc = subprocess.Popen([LOADTEST, "--url", self.url + "/health", "--slo", "p99=10s", "--slo-start", "10",
                                 "--slo-step", "10", "--duration", "1m", "--warmup", "0", "--connections", "1",
                                 "--metrics-listen", "127.0.0.1:0", "--metrics-address-file",
                                 self.path("slo-int.addr"), "--json", self.path("slo-int.json")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            address = poll(lambda: read_text(self.path("slo-int.addr")), 10, "the metrics address file")
            poll(lambda: (harness.metric_value(harness.http_get(f"http://{address}/metrics")[1],
                                               "porthole_loadtest_requests_total") or 0) > 0, 10, "the first step running")
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("(search interrupted)", out)
        with open(self.path("slo-int.json")) as f:
            self.assertTrue(json.load(f)["interrupted"])


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class OkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class LoadtestTlsAndTcp(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="porthole-loadtest-tls-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.workdir], check=False)

    def serve(self, server):
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def test_https_with_a_verified_certificate(self):
        cert, key = os.path.join(self.workdir, "cert.pem"), os.path.join(self.workdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        server = ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        port = self.serve(server)
        out = os.path.join(self.workdir, "tls.json")
        run_loadtest("--url", f"https://127.0.0.1:{port}/", "--ca-file", cert, "--rate", "200", "--connections", "2",
                     "--requests", "200", "--json", out, "--quiet")
        with open(out) as f:
            res = json.load(f)["result"]
        self.assertEqual(res["completed"], 200)
        self.assertEqual(res["errors"], 0)
        # Without the CA the certificate does not verify: every request is a TLS error.
        run_loadtest("--url", f"https://127.0.0.1:{port}/", "--rate", "100", "--connections", "1",
                     "--requests", "20", "--json", out, "--quiet")
        with open(out) as f:
            res = json.load(f)["result"]
        self.assertEqual(res["errors"], 20)
        self.assertEqual(res["error_kinds"]["tls"], 20)

    def test_raw_tcp_echo(self):
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), EchoHandler)
        server.daemon_threads = True
        port = self.serve(server)
        out = os.path.join(self.workdir, "tcp.json")
        run_loadtest("--url", f"tcp://127.0.0.1:{port}", "--scenario", "echo", "--body-size", "1000", "--rate",
                     "500", "--connections", "4", "--requests", "1000", "--json", out, "--quiet")
        with open(out) as f:
            res = json.load(f)["result"]
        self.assertEqual(res["completed"], 1000)
        self.assertEqual(res["errors"], 0)
        self.assertEqual(res["bytes_received"], 1000 * 1000)


class LoadtestStall(unittest.TestCase):
    def test_a_one_second_stall_shows_in_every_request_intended_during_it(self):
        StallingHandler.count = 0
        StallingHandler.stall_ns = None
        server = HTTPServer(("127.0.0.1", 0), StallingHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        workdir = tempfile.mkdtemp(prefix="porthole-loadtest-stall-")
        try:
            out, dump = os.path.join(workdir, "stall.json"), os.path.join(workdir, "stall.jsonl")
            # One connection at 100/s: request 101 (t = 1 s) stalls the server until t = 2 s.
            run_loadtest("--url", f"http://127.0.0.1:{server.server_port}/", "--rate", "100", "--connections", "1",
                         "--duration", "3s", "--warmup", "0", "--json", out, "--dump-requests", dump, "--quiet")
            with open(out) as f:
                res = json.load(f)["result"]
            with open(dump) as f:
                header, *requests = [json.loads(line) for line in f]
        finally:
            server.shutdown()
            server.server_close()
            subprocess.run(["rm", "-rf", workdir], check=False)
        self.assertEqual(res["errors"], 0)
        self.assertEqual(header["not_dumped"], 0)
        self.assertEqual(len(requests), res["completed"])
        self.assertIsNotNone(StallingHandler.stall_ns, "the server never stalled")
        # The stall on the dump's clock (CLOCK_MONOTONIC, since the run's t=0).
        stall_start, stall_end = (t - header["run_start_monotonic_ns"] for t in StallingHandler.stall_ns)
        self.assertGreaterEqual(stall_end - stall_start, 0.99e9)
        # EVERY request intended while the server stalled was answered after the stall ended: its
        # latency is at least (stall end - intended time), minus 1 ms for the response's trip.
        during = [r for r in requests if stall_start <= r["intended_ns"] < stall_end]
        self.assertGreaterEqual(len(during), 98, (stall_start, stall_end))  # ~100 at 100/s
        short = [(r["index"], r["intended_ns"], r["done_ns"]) for r in during
                 if r["done_ns"] - r["intended_ns"] < (stall_end - r["intended_ns"]) - 1e6]
        self.assertEqual(short, [], "requests intended during the stall but not charged for it")
        self.assertGreaterEqual(res["latency"]["max"], 0.99e9)
        # Service time, what a closed-loop tool reports, shows one slow request only.
        self.assertLessEqual(count_over(res["service_time"], 0.5), 1)
        self.assertGreaterEqual(res["late"], 90)


class LoadtestThroughEnclave(unittest.TestCase):
    def test_through_sidecar_and_agent_with_breakdown(self):
        # protocol http1: the agent records every request's time inside the enclave
        # (porthole_http_request_duration_seconds); it also scrapes the workload, so the
        # workload's handler histogram is relayed in the sidecar's /metrics.
        sc = {"ingress": {"listeners": [{"name": "web", "listen": "127.0.0.1:0", "max_connections": 1024}]}}
        ag = {"ingress": {"routes": [{"listener": "web", "target": f"127.0.0.1:{ENCLAVE_PORT}",
                                      "proxy_protocol": False, "protocol": "http1"}]},
              "workload_metrics": {"targets": [{"name": "demo", "interval": "500ms", "timeout": "400ms",
                                                "url": f"http://127.0.0.1:{ENCLAVE_PORT}/metrics"}]}}
        with harness.Stack(sidecar_config=sc, agent_config=ag) as stack:
            stack.enclave.spawn([WORKLOAD, "--listen", f"127.0.0.1:{ENCLAVE_PORT}"],
                                log_path=os.path.join(stack.workdir, "workload.log"))
            stack.wait_ready()

            def listener():
                status, body = harness.http_get(stack.admin_url + "/listeners")
                return status == 200 and json.loads(body).get("ingress", {}).get("web")
            ingress = "http://" + poll(listener, 10, "the ingress listener in GET /listeners")
            poll(lambda: harness.http_get(ingress + "/health")[0] == 200, 20, "the workload through ingress")
            poll(lambda: "demo_request_duration_seconds" in stack.metrics(), 20,
                 "the workload's metrics relayed by the agent")

            out = os.path.join(stack.workdir, "enclave.json")
            html_out = os.path.join(stack.workdir, "enclave.html")
            dump = os.path.join(stack.workdir, "enclave.jsonl")
            r = run_loadtest("--url", ingress, "--scenario", "field-encryption", "--rate", "300", "--connections",
                             "8", "--duration", "3s", "--warmup", "500ms", "--scrape", stack.admin_url + "/metrics",
                             "--json", out, "--html", html_out, "--dump-requests", dump)
            with open(out) as f:
                doc = json.load(f)
            res = doc["result"]
            self.assertEqual(res["errors"], 0, r.stdout)
            self.assertAlmostEqual(res["send_rate"], 300, delta=3, msg=r.stdout)
            self.assertAlmostEqual(res["throughput"], 300, delta=3, msg=r.stdout)
            self.assertIn("where the time went", r.stdout)

            breakdown = doc["breakdown"]
            entries = {e["component"]: e for e in breakdown["entries"]}
            self.assertLessEqual({"client", "enclave (agent)", "workload"}, set(entries), breakdown)
            client, enclave, workload = entries["client"], entries["enclave (agent)"], entries["workload"]
            # Every request sent (warm-up included) got a response, and the agent and the workload
            # each counted every one of them, no more.
            sent = res["completed"] + res["warmup"]
            self.assertEqual(client["count"], sent, breakdown)
            self.assertEqual(enclave["count"], sent, breakdown)
            self.assertEqual(workload["count"], sent, breakdown)
            self.assertIn('listener="web"', enclave["metric"])
            self.assertTrue(enclave["per_request"])
            # Time inside the enclave is part of the client's, the workload's part of the enclave's.
            self.assertLessEqual(enclave["mean_seconds"], client["mean_seconds"], breakdown)
            self.assertLessEqual(workload["mean_seconds"], enclave["mean_seconds"], breakdown)
            self.assertGreater(workload["mean_seconds"], 0)
            split = breakdown["split"]
            self.assertTrue(split["has_enclave"] and split["has_workload"], split)
            self.assertGreaterEqual(split["outside_enclave_seconds"], 0)
            self.assertGreaterEqual(split["agent_seconds"], 0)
            self.assertAlmostEqual(split["outside_enclave_seconds"] + split["agent_seconds"] +
                                   split["workload_seconds"], client["mean_seconds"], delta=1e-9)
            self.assertFalse(any("failed" in n or "counted" in n for n in breakdown["notes"]), breakdown["notes"])
            self.assertIn("outside the enclave (network + sidecar + vsock)", r.stdout)
            print("\n".join(line for line in r.stdout.splitlines() if "mean per request" in line), file=sys.stderr)
            # Per-connection relay setup is there too, and marked so.
            self.assertFalse(entries["sidecar relay setup"]["per_request"])

            # Every request carried the run's traceparent: the dump lists one trace-id per request.
            with open(dump) as f:
                header, *requests = [json.loads(line) for line in f]
            self.assertEqual(len(requests), sent)
            self.assertEqual(len({q["trace_id"] for q in requests}), sent)
            self.assertTrue(all(q["trace_id"].startswith(header["trace_id_prefix"]) for q in requests))
            self.assertEqual(doc["result"]["trace_id_prefix"], header["trace_id_prefix"])
            check_html(self, html_out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
