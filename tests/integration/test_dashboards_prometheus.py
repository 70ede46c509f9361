#!/usr/bin/env python3
"""Integration: a real Prometheus scrapes a live porthole-sidecar and every query of the Grafana
dashboards and of the Prometheus rules returns data.

Stack: the simulated enclave with porthole-agent inside and porthole-sidecar on the host
(harness.Stack); Prometheus (Debian package `prometheus`) runs on the host, scrapes the sidecar's
admin /metrics every second (job "porthole-sidecar") and porthole-loadtest's live metrics (job
"porthole-loadtest": a long, slow run through an ingress listener to the supervised demo workload,
for the dashboards/porthole-loadtest.json panels), and loads dashboards/rules/*.yml.

Checks:
  * the scrape target is up and carries both side="parent" and relayed side="enclave" series;
  * the data path carries a little traffic first (a few HTTP requests through an ingress listener
    to a workload in the enclave, one CONNECT through the agent's egress proxy to an HTTP server
    on the host), all of it clean, so the porthole_relay_* series exist on both sides and no
    data-path alert condition holds;
  * EVERY query printed by `dashboards/lint_dashboards.py --list-queries` (panels, template
    variables, recording and alerting rules), with Grafana's variables substituted, evaluates
    without error and returns at least one series (a panel that is empty on a healthy stack is
    as broken as one that errors);
  * Prometheus loads every rule and evaluates it without error, and on this healthy stack no
    alert condition holds.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402  (tests/integration/harness.py)

SOURCE_DIR = Path(os.environ.get("PORTHOLE_SOURCE_DIR") or HERE.parent.parent).resolve()
LINT = SOURCE_DIR / "dashboards" / "lint_dashboards.py"
RULES_DIR = SOURCE_DIR / "dashboards" / "rules"

JOB = "porthole-sidecar"
SCRAPE_INTERVAL_S = 1
# Stands in for Grafana's $__rate_interval (max(4 x scrape interval, $__interval + scrape
# interval)): wide enough for rate() to see several scrapes.
RATE_INTERVAL = "15s"
GRAFANA_VARS = {
    "__rate_interval": RATE_INTERVAL,
    "__interval": "5s",
    "__interval_ms": "5000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
    "datasource": "prometheus",  # only ever a datasource reference, never inside PromQL
}
# Grafana variable references: $name, ${name}, ${name:format}, [[name]].
VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(?:(?P<metric>.*?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$", re.S)
NUMBER_RE = re.compile(r"^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+|Inf|NaN)$", re.I)

PROMETHEUS_READY_TIMEOUT = 30
TARGET_UP_TIMEOUT = 30
# Rates need two scrapes inside RATE_INTERVAL, relayed series a first successful pull, recorded
# series a rule evaluation: all well inside this on a healthy stack.
QUERY_TIMEOUT = 60
RULES_TIMEOUT = 30
HEALTHY_OBSERVATION_SCRAPES = 10


# --------------------------------------------------------------------------------------------
# PromQL text helpers (pure functions)


def mask_promql(expr):
    """expr with string-literal contents and comments replaced by 'x' (offsets preserved), so
    operators and brackets found in the result are real syntax, not part of a label value."""
    out = list(expr)
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'`":
            i += 1
            while i < n and expr[i] != c:
                if expr[i] == "\\" and c != "`" and i + 1 < n:
                    out[i] = "x"
                    i += 1
                out[i] = "x"
                i += 1
            i += 1
        elif c == "#":
            while i < n and expr[i] != "\n":
                out[i] = "x"
                i += 1
        else:
            i += 1
    return "".join(out)


def top_level_comparisons(expr):
    """(start, end) of every comparison operator outside (), [] and {} in expr."""
    masked = mask_promql(expr)
    found, depth, i = [], 0, 0
    while i < len(masked):
        c = masked[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            two = masked[i:i + 2]
            if two in ("==", "!=", ">=", "<="):
                found.append((i, i + 2))
                i += 2
                continue
            if c in "<>":
                found.append((i, i + 1))
        i += 1
    return found


def with_bool(expr):
    """Add the `bool` modifier to a top-level comparison against a scalar literal.

    An alerting rule such as `porthole_enclave_up == 0` returns no series while the alert is not
    firing, which on a healthy stack is always. `porthole_enclave_up == bool 0` returns the same
    series with value 0 or 1 instead of filtering them, so "returns data" proves that the metric
    exists with the labels the rule expects and that the expression evaluates, whatever the alert
    state. Only the form our rules use, `<vector expr> OP <number>`, is rewritten; anything else
    (including a comparison already carrying `bool`) is returned unchanged.
    """
    comparisons = top_level_comparisons(expr)
    if not comparisons:
        return expr
    start, end = comparisons[-1]
    rhs = re.sub(r"#[^\n]*", "", expr[end:]).strip()  # a number cannot hold a '#'; drop comments
    if rhs.startswith("bool") or not NUMBER_RE.match(rhs) or not expr[:start].strip():
        return expr
    return f"{expr[:end]} bool {rhs}"


def substitute_variables(expr, user_vars):
    """Replace Grafana variables: built-ins by GRAFANA_VARS, the dashboard's own variables
    (user_vars, e.g. enclave) by the regex ".*" -- what "All" means with allValue ".*".
    Returns (expr, names of unknown variables)."""
    unknown = []

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GRAFANA_VARS:
            return GRAFANA_VARS[name]
        if name in user_vars:
            return ".*"
        unknown.append(name)
        return m.group(0)

    return VAR_RE.sub(repl, expr), unknown


def to_promql(query, user_vars):
    """(promql, problem) for one --list-queries record."""
    expr, unknown = substitute_variables(query["expr"], user_vars)
    if unknown:
        return None, f"unresolved template variable(s) {sorted(set(unknown))}"
    kind = query.get("kind")
    if kind == "variable":
        m = LABEL_VALUES_RE.match(expr)
        if not m:
            return None, "unsupported template-variable query (only label_values(...) is known)"
        label = m.group("label")
        return f"count by ({label}) ({m.group('metric') or 'up'})", None
    if kind == "alert":
        expr = with_bool(expr)
    return expr, None


def metric_names(expr):
    masked = mask_promql(expr)
    return sorted(set(re.findall(r"\b((?:porthole|process)_[a-zA-Z0-9_]+)", masked)))


def list_queries():
    r = subprocess.run([sys.executable, str(LINT), "--list-queries"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"{LINT} --list-queries failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    queries = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    if not queries:
        raise AssertionError(f"{LINT} --list-queries printed no query")
    return queries


# --------------------------------------------------------------------------------------------
# Prometheus


def prom_get(base, path, params=None, timeout=5):
    """(http status or None, parsed JSON or None, text) -- never raises for HTTP/network errors,
    so query errors (HTTP 400 with an error body) can be reported."""
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, None, str(e)
    try:
        return status, json.loads(text), text
    except ValueError:
        return status, None, text


class Prometheus:
    def __init__(self, binary, workdir, target, rule_files, extra_jobs=None):
        self.workdir = Path(workdir)
        self.port = harness.free_tcp_port()  # Prometheus cannot report a port-0 bind
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = self.workdir / "prometheus.yml"
        self.log_path = self.workdir / "prometheus.log"
        rules = "".join(f"  - {json.dumps(str(f))}\n" for f in rule_files)
        extra = "".join(f"  - job_name: {name}\n"
                        f"    scrape_interval: {SCRAPE_INTERVAL_S}s\n"
                        "    static_configs:\n"
                        f"      - targets: [{json.dumps(t)}]\n" for name, t in (extra_jobs or {}).items())
        self.config.write_text(
            "global:\n"
            f"  scrape_interval: {SCRAPE_INTERVAL_S}s\n"
            f"  scrape_timeout: {SCRAPE_INTERVAL_S}s\n"
            f"  evaluation_interval: {SCRAPE_INTERVAL_S}s\n"
            "rule_files:\n" + rules +
            "scrape_configs:\n"
            f"  - job_name: {JOB}\n"
            "    metrics_path: /metrics\n"
            f"    scrape_interval: {SCRAPE_INTERVAL_S}s\n"
            "    static_configs:\n"
            f"      - targets: [{json.dumps(target)}]\n" + extra,
            encoding="utf-8")
        self.cmd = [binary, f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}"]
        self.proc = None
        self._log = None

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{self.log_tail()}")
            status, _, _ = prom_get(self.url, "/-/ready", timeout=2)
            return status == 200

        try:
            harness.poll(ready, PROMETHEUS_READY_TIMEOUT, "prometheus /-/ready")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.log_tail()}") from None

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines=30):
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no prometheus log)"
        return "--- prometheus log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    def query(self, promql):
        """(ok, detail): ok when the query evaluates and returns at least one sample."""
        status, body, text = prom_get(self.url, "/api/v1/query", {"query": promql})
        if body is None:
            return False, f"HTTP {status}: {text[:300]}"
        if body.get("status") != "success":
            return False, f"{body.get('errorType', 'error')}: {body.get('error', text[:300])}"
        data = body.get("data") or {}
        if data.get("resultType") == "scalar":
            return True, "scalar"
        result = data.get("result") or []
        if not result:
            return False, "no data"
        return True, f"{len(result)} series"

    def vector(self, promql):
        status, body, text = prom_get(self.url, "/api/v1/query", {"query": promql})
        if body is None or body.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed: HTTP {status}: {text[:300]}")
        return body["data"]["result"]


# --------------------------------------------------------------------------------------------
# Data-path traffic: an ingress route to a workload inside the enclave and an egress destination
# on the host, so that every porthole_relay_* panel and rule has series on both sides.

INGRESS_LISTENER = "web"
LOADTEST_LISTENER = "loadtest"      # routed (http1) to the supervised demo workload
LOADTEST_JOB = "porthole-loadtest"
WORKLOAD_PORT = 8080                # inside the enclave
DEMO_WORKLOAD_PORT = 8090           # porthole-demo-workload, supervised by the agent
EGRESS_PROXY = "127.0.0.1:3128"     # the agent's CONNECT proxy, inside the enclave
INGRESS_REQUESTS = 5

# The workload: an HTTP/1.0 server (one request per connection) that writes a ready file once it
# listens, so no request is sent before it can be served (a refused connection would count as a
# relay error and trip PortholeRelayErrorsHigh on this "healthy" stack).
WORKLOAD = r"""
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = b"hello from the enclave"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
open(sys.argv[2] + ".tmp", "w").close()
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
"""

# Inside the enclave: CONNECT through the agent's proxy to argv[2], GET / through the tunnel,
# print the CONNECT status line and the response. A refused connect to the proxy itself (the
# agent still starting) is retried locally; it never reaches the relay.
EGRESS_CLIENT = r"""
import socket, sys, time
h, _, p = sys.argv[1].rpartition(":")
deadline = time.monotonic() + 15
while True:
    try:
        s = socket.create_connection((h, int(p)), timeout=10)
        break
    except ConnectionRefusedError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[2], sys.argv[2])).encode())
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
head, _, rest = data.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode())
if head.split()[1:2] == [b"200"]:
    s.sendall(b"GET / HTTP/1.1\r\nHost: destination\r\nConnection: close\r\n\r\n")
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
print(rest.decode("latin-1"))
"""


class EgressDestination:
    """An HTTP server on the host's loopback for the enclave's egress traffic."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = b"hello from the host"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class OtlpCollector:
    """A collector for the sidecar's OTLP/HTTP exporter: accepts every export (200, empty
    Export*ServiceResponse), so the exporter's series exist and report up."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def send_data_path_traffic(stack, egress_target):
    """A few clean ingress requests and one clean egress connection."""
    ready = os.path.join(stack.workdir, "workload.ready")
    workload = stack.enclave.spawn([sys.executable, "-c", WORKLOAD, str(WORKLOAD_PORT), ready],
                                   log_path=os.path.join(stack.workdir, "workload.log"))

    def workload_up():
        if workload.poll() is not None:
            raise AssertionError(f"the workload exited with {workload.returncode}: {stack.log('workload')}")
        return os.path.exists(ready)
    harness.poll(workload_up, 15, "the workload in the enclave to listen")

    host, _, port = listener_address(stack, INGRESS_LISTENER).rpartition(":")
    for i in range(INGRESS_REQUESTS):
        with socket.create_connection((host.strip("[]"), int(port)), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: enclave\r\n\r\n")
            reply = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        if not (reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"hello from the enclave")):
            raise AssertionError(f"ingress request {i} through {host}:{port} got {reply[:300]!r}")

    cp = stack.enclave.run([sys.executable, "-c", EGRESS_CLIENT, EGRESS_PROXY, egress_target], timeout=30)
    if cp.returncode != 0 or not cp.stdout.startswith("HTTP/1.1 200") or "hello from the host" not in cp.stdout:
        raise AssertionError(f"egress through {EGRESS_PROXY} to {egress_target} failed ({cp.returncode}):\n"
                             f"{cp.stdout}{cp.stderr}")


def listener_address(stack, name):
    """HOST:PORT the sidecar's ingress listener `name` is bound to (from /listeners)."""
    def bound():
        status, body = harness.http_get(stack.admin_url + "/listeners")
        return json.loads(body).get("ingress", {}).get(name) if status == 200 else None
    return harness.poll(bound, 10, f"ingress listener {name!r} in /listeners")


def start_loadtest(stack, workdir):
    """porthole-loadtest through the loadtest listener to the demo workload's /health, slowly,
    for longer than the test runs, with live metrics for Prometheus. Returns (process, HOST:PORT
    of its metrics)."""
    address = listener_address(stack, LOADTEST_LISTENER)
    url = f"http://{address}/health"
    # The supervised workload answers through the listener before the run starts, so the run
    # counts no connect errors.
    harness.poll(lambda: harness.http_get(url)[0] == 200, 30, "the demo workload through the loadtest listener")
    addr_file = os.path.join(workdir, "loadtest-metrics.addr")
    with open(os.path.join(workdir, "loadtest.log"), "wb") as log:
        proc = subprocess.Popen([os.path.join(harness.BIN_DIR, "porthole-loadtest"), "--url", url, "--rate", "20",
                                 "--connections", "2", "--duration", "30m", "--warmup", "0", "--quiet",
                                 "--metrics-listen", "127.0.0.1:0", "--metrics-address-file", addr_file],
                                stdout=subprocess.DEVNULL, stderr=log)

    def metrics_address():
        if proc.poll() is not None:
            raise AssertionError(f"porthole-loadtest exited with {proc.returncode}")
        try:
            with open(addr_file) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None
    return proc, harness.poll(metrics_address, 10, "porthole-loadtest's metrics address")


def stop_process(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------


class DashboardsPrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        prometheus = shutil.which("prometheus")
        if not prometheus:
            raise AssertionError("prometheus not found: install the Debian package 'prometheus' (scripts/setup does)")
        cls.rule_files = sorted(list(RULES_DIR.glob("*.yml")) + list(RULES_DIR.glob("*.yaml")))
        if not cls.rule_files:
            raise AssertionError(f"no rule files in {RULES_DIR}")
        cls.queries = list_queries()

        # Class cleanups run in reverse order even if setUpClass fails half-way: Prometheus is
        # stopped before the stack (and its workdir, which holds the TSDB) goes away.
        # A healthy stack includes time: a real upstream chronyd for the sidecar's NTP relay
        # (the default upstream, 169.254.169.123, does not answer off EC2), so the NTP alerts'
        # conditions are false and every NTP series has a value.
        from ntp_peers import ChronyServer  # noqa: E402  (tests/integration)
        import tempfile
        chrony_dir = tempfile.mkdtemp(prefix="porthole-it-chrony-")
        cls.addClassCleanup(shutil.rmtree, chrony_dir, True)
        cls.upstream = ChronyServer(chrony_dir).start()
        cls.addClassCleanup(cls.upstream.stop)
        # A healthy stack also relays TCP: one ingress listener routed to a workload in the
        # enclave, and egress from the enclave to an HTTP server on the host's loopback (allowed
        # by both policies; the sidecar's default deny of loopback is lifted for it).
        cls.destination = EgressDestination()
        cls.addClassCleanup(cls.destination.close)
        egress_target = f"127.0.0.1:{cls.destination.port}"
        cls.collector = OtlpCollector()
        cls.addClassCleanup(cls.collector.close)
        stack_cm = harness.Stack(
            sidecar_config={"ntp": {"upstreams": [f"127.0.0.1:{cls.upstream.port}"]},
                            "ingress": {"listeners": [{"name": INGRESS_LISTENER, "listen": "127.0.0.1:0",
                                                       "max_connections": 1024},
                                                      {"name": LOADTEST_LISTENER, "listen": "127.0.0.1:0",
                                                       "max_connections": 64}]},
                            "egress": {"enabled": True, "deny": [], "allow": [egress_target]},
                            # The exporter's series exist once a collector is configured; the
                            # supervised workload's log lines go there.
                            "telemetry": {"otlp": {"endpoint": cls.collector.url}}},
            # The agent runs chronyd (-x: the namespace shares the host's clock) from the bundled
            # template, so the porthole_chrony_* series carry real values too.
            agent_config={"ntp": {"listen": "127.0.0.1:12300", "measure_interval": "1s",
                                  "chronyd": {"run": True, "adjust_clock": False,
                                              "config_template": str(SOURCE_DIR / "ntp" / "chrony.conf"),
                                              "runtime_dir": os.path.join(chrony_dir, "enclave")}},
                          # protocol http1: the agent records spans and porthole_http_* for it.
                          "ingress": {"routes": [{"listener": INGRESS_LISTENER, "protocol": "http1",
                                                  "target": f"127.0.0.1:{WORKLOAD_PORT}"},
                                                 {"listener": LOADTEST_LISTENER, "protocol": "http1",
                                                  "target": f"127.0.0.1:{DEMO_WORKLOAD_PORT}"}]},
                          "egress": {"proxy_listen": EGRESS_PROXY, "allow": [egress_target]},
                          # The agent supervises the demo workload and scrapes it: the Workload row.
                          "workload": {"command": [os.path.join(harness.BIN_DIR, "porthole-demo-workload"),
                                                   "--listen", f"127.0.0.1:{DEMO_WORKLOAD_PORT}"]},
                          "workload_metrics": {"targets": [{"name": "demo", "interval": "1s", "timeout": "500ms",
                                                            "url": f"http://127.0.0.1:{DEMO_WORKLOAD_PORT}/metrics"}]}})
        cls.stack = stack_cm.__enter__()
        cls.addClassCleanup(stack_cm.__exit__, None, None, None)
        cls.stack.wait_ready(timeout=30)
        send_data_path_traffic(cls.stack, egress_target)
        # The supervised workload listens and has been scraped (PortholeWorkloadDown's condition is false).
        harness.poll(lambda: harness.metric_value(cls.stack.metrics(), "porthole_workload_up", target="demo") == 1,
                     30, "the agent to scrape the supervised demo workload")

        # porthole-loadtest's live metrics, for the load-test dashboard.
        loadtest, loadtest_metrics = start_loadtest(cls.stack, cls.stack.workdir)
        cls.addClassCleanup(stop_process, loadtest)

        target = urllib.parse.urlsplit(cls.stack.admin_url).netloc
        cls.prom = Prometheus(prometheus, cls.stack.workdir, target, cls.rule_files,
                              extra_jobs={LOADTEST_JOB: loadtest_metrics})
        cls.addClassCleanup(cls.prom.stop)
        cls.prom.start()

        last = {}

        def target_up(job):
            status, body, text = prom_get(cls.prom.url, "/api/v1/targets", {"state": "active"})
            targets = ((body or {}).get("data") or {}).get("activeTargets") or []
            mine = [t for t in targets if (t.get("labels") or {}).get("job") == job]
            last["targets"] = mine or text[:300]
            return any(t.get("health") == "up" for t in mine)

        try:
            harness.poll(lambda: target_up(JOB), TARGET_UP_TIMEOUT, f"scrape target {target} to be up")
            harness.poll(lambda: target_up(LOADTEST_JOB), TARGET_UP_TIMEOUT,
                         f"scrape target {loadtest_metrics} ({LOADTEST_JOB}) to be up")
        except AssertionError as e:
            raise AssertionError(f"{e}; last /api/v1/targets: {last.get('targets')}\n{cls.prom.log_tail()}") from None

    def sidecar_metric_names(self):
        try:
            status, body = harness.http_get(self.stack.admin_url + "/metrics")
        except Exception as e:  # diagnostics only
            return None, f"GET /metrics failed: {e}"
        names = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", body, re.M))
        return names, f"HTTP {status}"

    def test_1_both_sides_are_scraped(self):
        def both_sides():
            sides = {r["metric"].get("side") for r in self.prom.vector(f'count by (side) (porthole_build_info{{job="{JOB}"}})')}
            return {"parent", "enclave"} <= sides and sides

        harness.poll(both_sides, QUERY_TIMEOUT,
                     'porthole_build_info with side="parent" and side="enclave" (relayed) in Prometheus')
        relayed = self.prom.vector('porthole_build_info{side="enclave"}')
        self.assertTrue(all(r["metric"].get("enclave") for r in relayed),
                        f"relayed enclave series without an enclave label: {relayed}")

    def test_2_every_query_returns_data(self):
        user_vars = {q["name"] for q in self.queries if q.get("kind") == "variable"}
        pending, problems, last = {}, [], {}
        for i, q in enumerate(self.queries):
            promql, problem = to_promql(q, user_vars)
            if problem:
                problems.append(f"{q['source']}: {problem}\n    expr: {q['expr']}")
            else:
                pending[i] = (q, promql)

        def all_have_data():
            for i in list(pending):
                ok, detail = self.prom.query(pending[i][1])
                if ok:
                    del pending[i]
                else:
                    last[i] = detail
            return not pending

        try:
            harness.poll(all_have_data, QUERY_TIMEOUT, "every dashboard and rule query to return data")
        except AssertionError:
            pass
        if pending:
            names, how = self.sidecar_metric_names()
            for i, (q, promql) in sorted(pending.items()):
                msg = f"{q['source']} [{q.get('kind')}]: {last.get(i)}\n    promql: {promql}"
                if names is not None:
                    missing = [n for n in metric_names(promql) if n not in names]
                    if missing:
                        msg += f"\n    not in the sidecar's /metrics ({how}): {', '.join(missing)}"
                problems.append(msg)
        if problems:
            self.fail(f"{len(problems)} of {len(self.queries)} queries failed after {QUERY_TIMEOUT}s "
                      f"(scrape every {SCRAPE_INTERVAL_S}s, $__rate_interval={RATE_INTERVAL}):\n" + "\n".join(problems))

    def test_3_rules_evaluate_and_healthy_stack_fires_no_alert(self):
        expected = {q["name"] for q in self.queries if q.get("kind") in ("alert", "record")}
        last = {}

        def all_rules_evaluated():
            status, body, text = prom_get(self.prom.url, "/api/v1/rules")
            groups = ((body or {}).get("data") or {}).get("groups") or []
            rules = {r.get("name"): r for g in groups for r in g.get("rules") or []}
            last["rules"] = rules
            return expected <= set(rules) and all(rules[n].get("health") != "unknown" for n in expected)

        error = None
        try:
            harness.poll(all_rules_evaluated, RULES_TIMEOUT, "Prometheus to load and evaluate every rule")
        except AssertionError as e:
            error = e
        if error:
            rules = last.get("rules") or {}
            self.fail(f"{error}: missing {sorted(expected - set(rules))}, not yet evaluated "
                      f"{sorted(n for n in expected & set(rules) if rules[n].get('health') == 'unknown')}\n"
                      f"{self.prom.log_tail()}")
        broken = [f"{n}: health {r.get('health')}: {r.get('lastError')}" for n, r in sorted(last["rules"].items())
                  if n in expected and r.get("health") != "ok"]
        self.assertFalse(broken, "rules Prometheus could not evaluate:\n" + "\n".join(broken))

        # On a healthy stack every alert condition must be false (its expression, without the
        # `bool` rewrite, returns nothing). Judged only once Prometheus has watched the stack for
        # HEALTHY_OBSERVATION_SCRAPES scrapes, so counter-based conditions (frames rejected,
        # reconnects) have had a chance to see something; polled, so a gauge left over from
        # start-up (an age before the first pull) may clear, while a lasting condition fails.
        harness.poll(lambda: self.prom.vector(
                         f'count_over_time(porthole_build_info{{job="{JOB}",side="parent"}}[5m]) >= {HEALTHY_OBSERVATION_SCRAPES}'),
                     QUERY_TIMEOUT, f"{HEALTHY_OBSERVATION_SCRAPES} scrapes of the sidecar")
        alerts = [q for q in self.queries if q.get("kind") == "alert"]
        holding = {}

        def no_alert_condition():
            holding.clear()
            for q in alerts:
                result = self.prom.vector(q["expr"])
                if result:
                    holding[q["source"]] = result
            return not holding

        try:
            harness.poll(no_alert_condition, QUERY_TIMEOUT, "no alert condition to hold on a healthy stack")
        except AssertionError:
            pass
        if holding:
            self.fail("alert conditions hold on a healthy stack:\n" +
                      "\n".join(f"{s}: {json.dumps(r)[:500]}" for s, r in holding.items()))
        status, body, text = prom_get(self.prom.url, "/api/v1/alerts")
        firing = [a for a in ((body or {}).get("data") or {}).get("alerts") or [] if a.get("state") == "firing"]
        self.assertFalse(firing, f"alerts firing on a healthy stack: {json.dumps(firing)[:1000]}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
