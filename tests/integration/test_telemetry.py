#!/usr/bin/env python3
"""Spans from the real OpenTelemetry JS SDK, out of the simulated enclave, into a collector.

    node (OTel SDK, OTLP/HTTP proto and json exporters) --127.0.0.1:4318--> porthole-agent
        [simulated enclave: policy, batch processor] --uds "vsock" 7001--> porthole-sidecar
        --OTLP/HTTP protobuf--> test collector (node, @opentelemetry/otlp-transformer 0.52.1
        decoder) and a JSON-lines file   [host]

Checks, all polled with deadlines:
  * every span the SDK made arrives once, with its trace id, span id and parent link;
  * attributes the default policy allows are there, forbidden ones (url.full,
    http.request.header.authorization, db.query.text, a non-allowed resource attribute) are
    not — and no secret value appears anywhere in the raw request bodies or the JSONL file;
  * the collector answers 503 twice: the sidecar retries and the spans still arrive;
  * the collector answers 400: the batch is dropped at once (rejected_4xx), no retry;
  * the sidecar does not take the channel: the agent's exports fail and are counted
    (export_failed), and after the sidecar is back new spans flow again.
Needs `npm ci --prefix tests/integration/otel` (scripts/setup does it).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value, poll  # noqa: E402

OTEL_DIR = os.path.join(harness.SOURCE_DIR, "tests", "integration", "otel")
NODE = shutil.which("node") or "/usr/bin/node"
ALLOWED = ("http.request.method", "http.route", "http.response.status_code")
FORBIDDEN = ("url.full", "http.request.header.authorization", "db.query.text")


class Collector:
    """collector.js on the host: one JSON line per request received."""

    def __init__(self, workdir: str):
        self.out = os.path.join(workdir, "collector.jsonl")
        open(self.out, "w").close()
        self.proc = subprocess.Popen([NODE, os.path.join(OTEL_DIR, "collector.js"), "--out", self.out],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            raise AssertionError(f"collector.js did not start: {line}{self.proc.stdout.read()}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def respond(self, status: int, count: int):
        assert harness.http_get(f"{self.url}/respond?status={status}&count={count}")[0] == 200

    def requests(self):
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.strip()]

    def accepted_spans(self):
        return [s for r in self.requests() if r["status"] == 200 for s in r["spans"]]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


class TelemetryTest(unittest.TestCase):
    def setUp(self):
        if not os.path.isdir(os.path.join(OTEL_DIR, "node_modules")):
            self.fail(f"{OTEL_DIR}/node_modules is missing: run scripts/setup (npm ci --prefix tests/integration/otel)")
        self.workdir = tempfile.mkdtemp(prefix="porthole-tel-")
        self.collector = Collector(self.workdir)
        self.jsonl = os.path.join(self.workdir, "spans.jsonl")
        self.stack = harness.Stack(
            sidecar_config={"telemetry": {
                "jsonl_path": self.jsonl,
                "otlp": {"endpoint": self.collector.url, "timeout": "2s", "initial_backoff": "100ms",
                         "max_backoff": "200ms", "max_elapsed": "20s"}}},
            agent_config={"telemetry": {"otlp_listen": "127.0.0.1:4318",
                                        "batch": {"spans": {"scheduled_delay": "200ms"}}}})
        self.stack.__enter__()

    def tearDown(self):
        self.stack.__exit__(None, None, None)
        self.collector.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def produce(self, protocol: str, traces: int):
        r = self.stack.enclave.run([NODE, os.path.join(OTEL_DIR, "produce_spans.js"), "--url",
                                    "http://127.0.0.1:4318/v1/traces", "--protocol", protocol,
                                    "--traces", str(traces)], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(len(out["spans"]), 3 * traces)
        return out

    def parent_metric(self, name, **labels):
        return metric_value(self.stack.metrics(), name, **labels) or 0

    def wait_spans(self, want: int, what: str):
        return poll(lambda: len(self.collector.accepted_spans()) >= want and self.collector.accepted_spans(),
                    30, what)

    def test_spans_leave_the_enclave_filtered(self):
        try:
            self.check_pipeline()
        except BaseException:
            self.stack.dump_logs()
            raise

    def check_pipeline(self):
        stack = self.stack
        stack.wait_ready()
        poll(lambda: self.parent_metric("porthole_telemetry_channel_connected", side="parent") == 1, 20,
             "the telemetry channel to connect")

        # --- proto and json exporters; ids, parents, policy ---------------------------------------
        made = self.produce("proto", 20)["spans"] + self.produce("json", 20)["spans"]
        self.assertTrue(all(code == 0 for code in
                            self.produce("proto", 1)["results"]), "the SDK's exports failed")
        made_total = len(made) + 3
        got = self.wait_spans(made_total, f"{made_total} spans at the collector")
        self.assertEqual(len(got), made_total, "a span arrived twice")
        by_id = {s["spanId"]: s for s in got}
        for m in made:
            s = by_id.get(m["spanId"])
            self.assertIsNotNone(s, f"span {m['spanId']} ({m['name']}) never arrived")
            self.assertEqual(s["traceId"], m["traceId"])
            self.assertEqual(s["parentSpanId"], m["parentSpanId"])
            self.assertEqual(s["name"], m["name"])
            self.assertEqual(s["resource"].get("service.name"), {"stringValue": "otel-itest"})
            self.assertNotIn("host.secret", s["resource"])
            for key in FORBIDDEN:
                self.assertNotIn(key, s["attributes"])
            if m["name"] == "GET /items":
                for key in ALLOWED:
                    self.assertIn(key, s["attributes"], f"{key} missing from {s['attributes']}")
                self.assertEqual(s["droppedAttributesCount"], 2)
        for r in self.collector.requests():
            raw = base64.b64decode(r["raw"])
            self.assertNotIn(b"SECRET", raw)
            self.assertEqual(r["type"], "application/x-protobuf")
        with open(self.jsonl) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), made_total)
        self.assertFalse(any("SECRET" in line for line in lines))
        ids = {json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] for line in lines}
        self.assertEqual(ids, set(by_id))
        text = stack.metrics()
        self.assertEqual(metric_value(text, "porthole_telemetry_spans_exported_total", side="enclave"), made_total)
        self.assertGreaterEqual(metric_value(text, "porthole_telemetry_policy_actions_total", side="enclave",
                                             kind="span_attribute", reason="not_allowed"), 3 * 41)
        self.assertEqual(metric_value(text, "porthole_otlp_receiver_requests_total", side="enclave",
                                      signal="traces", code="200") > 0, True)

        # --- the collector answers 503 twice: retried, delivered -----------------------------------
        before = len(self.collector.accepted_spans())
        self.collector.respond(503, 2)
        self.produce("proto", 5)
        self.wait_spans(before + 15, "spans after two 503s")
        self.assertGreaterEqual(self.parent_metric("porthole_exporter_retries_total", signal="traces"), 2)

        # --- the collector answers 400: dropped, not retried ---------------------------------------
        retries = self.parent_metric("porthole_exporter_retries_total", signal="traces")
        before = len(self.collector.accepted_spans())
        self.collector.respond(400, 1)
        self.produce("proto", 5)
        poll(lambda: self.parent_metric("porthole_exporter_items_dropped_total", signal="traces",
                                        reason="rejected_4xx") + len(self.collector.accepted_spans()) - before == 15,
             30, "15 spans delivered or dropped as rejected_4xx")
        self.assertGreater(self.parent_metric("porthole_exporter_items_dropped_total", signal="traces",
                                              reason="rejected_4xx"), 0)
        self.assertEqual(self.parent_metric("porthole_exporter_retries_total", signal="traces"), retries)

        # --- the sidecar does not take the channel: the agent counts its failed exports -----------
        # (A sidecar restarted with telemetry off: nothing listens on 7001, yet the control channel
        # relays the agent's metrics. A plain restart would race the agent's next export.)
        failed_before = self.parent_metric("porthole_telemetry_spans_dropped_total", side="enclave",
                                           reason="export_failed")
        telemetry_on = stack._sidecar_extra
        stack.stop_sidecar()
        stack._sidecar_extra = harness.deep_merge(telemetry_on, {"telemetry": {"enabled": False}})
        stack.start_sidecar()
        stack.wait_ready()
        self.produce("proto", 5)   # the receiver still answers; the channel is down
        poll(lambda: self.parent_metric("porthole_telemetry_spans_dropped_total", side="enclave",
                                        reason="export_failed") >= failed_before + 15,
             30, "the agent to count 15 spans dropped (export_failed) while the channel was down")
        self.assertGreater(self.parent_metric("porthole_telemetry_channel_errors_total", side="enclave",
                                              reason="not_connected"), 0)
        stack.stop_sidecar()
        stack._sidecar_extra = telemetry_on
        stack.start_sidecar()
        stack.wait_ready()
        poll(lambda: self.parent_metric("porthole_telemetry_channel_connected", side="parent") == 1, 20,
             "the telemetry channel to reconnect")
        before = len(self.collector.accepted_spans())
        self.produce("json", 2)
        self.wait_spans(before + 6, "spans after the sidecar came back")
        statuses = [r["status"] for r in self.collector.requests()]
        print(f"collector: {len(statuses)} requests ({statuses.count(503)} x 503, {statuses.count(400)} x 400), "
              f"{len(self.collector.accepted_spans())} spans accepted", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
