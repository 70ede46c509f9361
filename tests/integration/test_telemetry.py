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
  * the collector answers 503 until the exporter's max_elapsed runs out: the spans are counted
    retry_expired, and the sidecar keeps serving (its admin port answers throughout, and spans
    flow again once the collector does);
  * a parent that takes the telemetry channel, says hello and never acks (a hung sidecar) while
    the agent (restarted with a 16-span queue) gets a burst of 300 spans: the queue fills to its
    bound and no further, exports time out, and every span is counted (queue_full,
    export_timeout); then with no parent at all exports fail at once (export_failed,
    not_connected); after the sidecar is back new spans flow again.
The collector's 503/400 answers are scripted for traces only: the agent's own log records,
exported to /v1/logs at any moment, cannot consume them.
Needs `npm ci --prefix tests/integration/otel` (scripts/setup does it).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value, poll  # noqa: E402

OTEL_DIR = os.path.join(harness.SOURCE_DIR, "tests", "integration", "otel")
NODE = shutil.which("node") or "/usr/bin/node"
ALLOWED = ("http.request.method", "http.route", "http.response.status_code")
FORBIDDEN = ("url.full", "http.request.header.authorization", "db.query.text")
MAX_ELAPSED_S = 3        # the sidecar exporter's retry budget per request
SMALL_QUEUE = 16         # the agent's span queue in the overload phase
EXPORT_TIMEOUT_S = 3     # the agent's export timeout in the overload phase


class HungParent:
    """Takes the telemetry channel (vsock 7001) in the sidecar's place: says hello (telemetry
    channel v1), reads every batch and never acks, like a parent that hangs."""

    HELLO = struct.pack(">IBH", 2, 1, 1)  # frame: u32 length 2, u8 type 1 (Hello), u16 version 1

    def __init__(self, path: str):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.lock = threading.Lock()
        self.conns, self.read = [], 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.sendall(self.HELLO)
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self._drain, args=(c,), daemon=True).start()

    def _drain(self, c):
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.read += len(data)

    def connections(self) -> int:
        with self.lock:
            return len(self.conns)

    def bytes_read(self) -> int:
        with self.lock:
            return self.read

    def close(self):
        # shutdown() stops the listening socket even while _accept() blocks in accept() (a plain
        # close() from another thread would leave it listening); no file, no parent.
        for step in (lambda: self.sock.shutdown(socket.SHUT_RDWR), self.sock.close, lambda: os.unlink(self.path)):
            try:
                step()
            except OSError:
                pass
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()


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

    def respond(self, status: int, count: int, signal: str = "traces"):
        assert harness.http_get(f"{self.url}/respond?signal={signal}&status={status}&count={count}")[0] == 200

    def requests(self, signal: str = "traces"):
        with open(self.out) as f:
            return [r for r in (json.loads(line) for line in f if line.strip()) if r["signal"] == signal]

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
                         "max_backoff": "200ms", "max_elapsed": f"{MAX_ELAPSED_S}s"}}},
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
        with open(self.jsonl) as f:   # the agent's own log records may be there too
            lines = [line for line in f.read().splitlines() if '"resourceSpans"' in line]
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

        # --- the collector answers 503 until max_elapsed runs out: counted, the sidecar serves on ---
        expired_before = self.parent_metric("porthole_exporter_items_dropped_total", signal="traces",
                                            reason="retry_expired")
        before = len(self.collector.accepted_spans())
        attempts_before = len(self.collector.requests())
        self.collector.respond(503, 1_000_000)
        self.produce("proto", 2)

        def expired_while_serving():
            self.assertEqual(stack.readyz()[0], 200, "the sidecar stopped serving during the 503s")
            return self.parent_metric("porthole_exporter_items_dropped_total", signal="traces",
                                      reason="retry_expired") >= expired_before + 6
        poll(expired_while_serving, MAX_ELAPSED_S + 15, f"6 spans dropped as retry_expired after {MAX_ELAPSED_S}s of 503s")
        self.assertEqual(self.parent_metric("porthole_exporter_items_dropped_total", signal="traces",
                                            reason="retry_expired"), expired_before + 6)
        self.assertGreater(len(self.collector.requests()) - attempts_before, 2, "the 503s were retried")
        self.assertEqual(len(self.collector.accepted_spans()), before)
        self.collector.respond(200, 0)
        self.produce("proto", 1)
        self.wait_spans(before + 3, "spans once the collector accepts again")

        # --- a hung parent: the channel is taken, hello said, nothing acked. The agent, restarted
        # with a small queue, gets a burst far beyond it: the queue fills to its bound and stays
        # there while an export waits for its ack; every span is counted ------------------------
        # (The sidecar runs with telemetry off, so the fake parent owns the 7001 socket while the
        # control channel still relays the agent's metrics.)
        telemetry_on = stack._sidecar_extra
        stack.stop_sidecar()
        stack._sidecar_extra = harness.deep_merge(telemetry_on, {"telemetry": {"enabled": False}})
        stack.start_sidecar()
        stack.wait_ready()
        hung = HungParent(os.path.join(stack.enclave.uds_dir, "3_7001.sock"))
        self.addCleanup(hung.close)
        started = poll(lambda: self.parent_metric("process_start_time_seconds", side="enclave"), 20,
                       "the agent's metrics through the restarted sidecar")
        stack.stop_agent()
        stack._agent_extra = harness.deep_merge(stack._agent_extra, {"telemetry": {"batch": {"spans": {
            "max_queue_size": SMALL_QUEUE, "max_export_batch_size": 12, "scheduled_delay": "1s",
            "export_timeout": f"{EXPORT_TIMEOUT_S}s"}}}})
        stack.start_agent()
        stack.wait_ready()
        poll(lambda: self.parent_metric("process_start_time_seconds", side="enclave") != started, 20,
             "the restarted agent's metrics to be relayed")
        poll(lambda: hung.connections() > 0, 20, "the agent to take the hung parent's channel")
        depths, sampling = [], threading.Event()

        def sample_queue_depth():
            while not sampling.wait(0.02):  # a sampling period, not a wait for anything
                depths.append(self.parent_metric("porthole_telemetry_spans_queue_depth", side="enclave"))

        sampler = threading.Thread(target=sample_queue_depth)
        sampler.start()
        try:
            self.produce("proto", 100)   # 300 spans in requests of 64; the receiver still answers
            def all_counted():
                text = stack.metrics()
                received = metric_value(text, "porthole_telemetry_spans_received_total", side="enclave") or 0
                dropped = sum(metric_value(text, "porthole_telemetry_spans_dropped_total", side="enclave",
                                           reason=r) or 0 for r in ("queue_full", "export_failed", "export_timeout"))
                return received >= 300 and dropped == received and text
            text = poll(all_counted, 30, "the agent to count all 300 spans as dropped by the hung parent")
        finally:
            sampling.set()
            sampler.join()
        # The burst filled the queue; one export of 12 then waited for an ack that never came, so what
        # was left (at least 4 spans) stayed queued for EXPORT_TIMEOUT_S: many samples see it.
        self.assertLessEqual(max(depths), SMALL_QUEUE, "the agent's queue grew beyond max_queue_size")
        self.assertGreater(max(depths), 0, "the queue depth gauge was never seen above 0: is it live?")
        self.assertGreater(metric_value(text, "porthole_telemetry_spans_dropped_total", side="enclave",
                                        reason="queue_full"), 0, "a burst beyond the queue hit its bound")
        self.assertGreater(metric_value(text, "porthole_telemetry_spans_dropped_total", side="enclave",
                                        reason="export_timeout"), 0, "exports to a parent that never acks time out")
        self.assertEqual(metric_value(text, "porthole_telemetry_spans_exported_total", side="enclave"), 0)
        self.assertGreater(hung.bytes_read(), 0, "the hung parent was sent batches")
        self.assertIn("batch processor: dropped", stack.log("agent"), "the agent warns about its drops")
        print(f"hung parent: {metric_value(text, 'porthole_telemetry_spans_received_total', side='enclave'):.0f} spans "
              f"received, queue depth at most {max(depths):.0f} (bound {SMALL_QUEUE}) over {len(depths)} samples, "
              f"queue_full "
              f"{metric_value(text, 'porthole_telemetry_spans_dropped_total', side='enclave', reason='queue_full'):.0f}, "
              f"export_timeout "
              f"{metric_value(text, 'porthole_telemetry_spans_dropped_total', side='enclave', reason='export_timeout'):.0f}",
              file=sys.stderr)

        # --- no parent at all: exports fail at once and are counted -----------------------------
        hung.close()
        failed_before = self.parent_metric("porthole_telemetry_spans_dropped_total", side="enclave",
                                           reason="export_failed")
        poll(lambda: self.parent_metric("porthole_telemetry_channel_connected", side="enclave") == 0, 20,
             "the agent to notice the parent is gone")
        self.produce("proto", 2)
        poll(lambda: self.parent_metric("porthole_telemetry_spans_dropped_total", side="enclave",
                                        reason="export_failed") >= failed_before + 6,
             20, "6 spans dropped (export_failed) while no parent takes the channel")
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
        logs = self.collector.requests("logs")
        self.assertTrue(all(r["status"] == 200 and not r["error"] for r in logs),
                        "the agent's log batches decode as ExportLogsServiceRequest and are never scripted")
        print(f"collector: {len(statuses)} trace requests ({statuses.count(503)} x 503, {statuses.count(400)} x 400), "
              f"{len(self.collector.accepted_spans())} spans accepted; {len(logs)} log requests, "
              f"{sum(len(r['logs']) for r in logs)} log records", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
