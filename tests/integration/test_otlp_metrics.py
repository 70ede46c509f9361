#!/usr/bin/env python3
"""Metrics from the real OpenTelemetry JS SDK, out of the simulated enclave, at the sidecar's /metrics.

    node (OTel metrics SDK, OTLP/HTTP proto and json exporters) --127.0.0.1:4318/v1/metrics-->
        porthole-agent [simulated enclave: OtlpMetricsStore, policy] --control channel--> porthole-sidecar /metrics

produce_metrics.js exports twice (two rounds) over protobuf with cumulative temporality (job
"itest-proto") and over JSON with delta temporality (job "itest-json"), which the agent adds up:
both must show the same totals. Checks, polled with deadlines:
  * a counter, an up-down counter, a histogram (explicit buckets), an exponential histogram
    (power-of-two `le` buckets) and a gauge, with their values, the `enclave` label, job and
    instance from the resource, and no timestamps;
  * target_info carries the resource attributes the policy allows, not the others;
  * a metric name and a label the policy denies are absent, and no secret value appears anywhere;
  * the receiver and store counted the requests and points.
Needs `npm ci --prefix tests/integration/otel` (scripts/setup does it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value, parse_metrics, poll  # noqa: E402

OTEL_DIR = os.path.join(harness.SOURCE_DIR, "tests", "integration", "otel")
NODE = shutil.which("node") or "/usr/bin/node"
ROUNDS = 2


class OtlpMetricsTest(unittest.TestCase):
    def produce(self, stack, protocol: str, temporality: str, service: str):
        r = stack.enclave.run([NODE, os.path.join(OTEL_DIR, "produce_metrics.js"), "--url",
                                    "http://127.0.0.1:4318/v1/metrics", "--protocol", protocol,
                                    "--temporality", temporality, "--service", service,
                                    "--rounds", str(ROUNDS)], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        results = json.loads(r.stdout.strip().splitlines()[-1])["results"]
        self.assertGreaterEqual(len(results), ROUNDS)
        self.assertTrue(all(code == 0 for code in results), f"the SDK's exports failed: {results}")

    def test_sdk_metrics_reach_the_sidecar(self):
        if not os.path.isdir(os.path.join(OTEL_DIR, "node_modules", "@opentelemetry", "sdk-metrics")):
            self.fail(f"{OTEL_DIR}/node_modules lacks the metrics SDK: run scripts/setup "
                      "(npm ci --prefix tests/integration/otel)")
        agent_config = {"telemetry": {
            "otlp_listen": "127.0.0.1:4318",
            "policy": {
                # A family and a label the enclave decided must not leave it.
                "metric_names": {"allow": ["*"], "deny": ["itest_secret_*"]},
                "metric_labels": {"allow": ["*"], "deny": ["user_id"]},
            }}}
        with harness.Stack(agent_config=agent_config) as stack:  # its logs are dumped on a failure
            self.check(stack)

    def check(self, stack):
        stack.wait_ready()
        self.produce(stack, "proto", "cumulative", "itest-proto")
        self.produce(stack, "json", "delta", "itest-json")

        def text_with_both():
            text = stack.metrics()
            return text if all(metric_value(text, "itest_requests_total", job=job) is not None
                               for job in ("itest-proto", "itest-json")) else None
        text = poll(text_with_both, 15, "both jobs' itest_requests_total at the sidecar")

        for job in ("itest-proto", "itest-json"):
            labels = {"job": job, "instance": "instance-1", "enclave": "itest", "otel_scope_name": "porthole-itest"}
            with self.subTest(job=job):
                self.assertEqual(metric_value(text, "itest_requests_total", route="/a", **labels), 5.0 * ROUNDS)
                self.assertEqual(metric_value(text, "itest_inflight", **labels), 2.0 * ROUNDS)
                self.assertEqual(metric_value(text, "itest_temperature_celsius", room="lab", **labels),
                                 20.5 + ROUNDS - 1)
                # Explicit buckets 10, 100, 1000; each round records 5, 50, 500, 5000.
                for le, per_round in (("10", 1), ("100", 2), ("1000", 3), ("+Inf", 4)):
                    self.assertEqual(metric_value(text, "itest_latency_milliseconds_bucket", le=le, **labels),
                                     per_round * ROUNDS, le)
                self.assertEqual(metric_value(text, "itest_latency_milliseconds_count", **labels), 4.0 * ROUNDS)
                self.assertEqual(metric_value(text, "itest_latency_milliseconds_sum", **labels), 5555.0 * ROUNDS)
                # Exponential: 3 in (2, 4], 5 in (4, 8], 100 in (64, 128] once the buckets are powers of two.
                for le, per_round in (("4", 1), ("8", 2), ("64", 2), ("128", 3), ("+Inf", 3)):
                    self.assertEqual(metric_value(text, "itest_size_bytes_bucket", le=le, **labels),
                                     per_round * ROUNDS, le)
                self.assertEqual(metric_value(text, "itest_size_bytes_sum", **labels), 108.0 * ROUNDS)
                info = metric_value(text, "target_info", job=job, instance="instance-1", enclave="itest",
                                    service_version="1.2.3")
                self.assertEqual(info, 1.0)

        # The policy: the denied family and label never leave, nor any secret value.
        self.assertNotIn("itest_secret", text)
        self.assertNotIn("user_id", text)
        self.assertNotIn("SECRET", text)
        self.assertNotIn("host_secret", text)
        # Exporter conventions: no timestamps on relayed samples.
        for name, labels, _ in parse_metrics(text):
            if name.startswith("itest_"):
                self.assertEqual(labels.get("side"), "enclave", name)
        for line in text.splitlines():
            if line.startswith("itest_"):
                self.assertEqual(len(line.rsplit("}", 1)[-1].split()), 1, f"a timestamp on: {line}")

        # The agent's own account of it.
        self.assertGreaterEqual(metric_value(text, "porthole_otlp_receiver_requests_total", signal="metrics",
                                             code="200", side="enclave"), 2 * ROUNDS)
        self.assertGreater(metric_value(text, "porthole_otlp_metrics_points_total", result="accepted",
                                        side="enclave"), 0)
        self.assertEqual(metric_value(text, "porthole_otlp_metrics_points_total", result="rejected_invalid",
                                      side="enclave"), 0)
        self.assertGreater(metric_value(text, "porthole_otlp_metrics_points_total", result="dropped_policy",
                                        side="enclave"), 0)
        self.assertGreater(metric_value(text, "porthole_telemetry_policy_actions_total", kind="metric_label",
                                        reason="not_allowed", side="enclave"), 0)
        self.assertGreater(metric_value(text, "porthole_otlp_metrics_series", side="enclave"), 10)


if __name__ == "__main__":
    unittest.main()
