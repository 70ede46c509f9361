#!/usr/bin/env python3
"""End-to-end telemetry throughput: workload -> agent (OTLP/HTTP receiver, policy, batch
processor) -> telemetry channel -> sidecar (decode, JSON lines to /dev/null).

Inside the simulated enclave, `--clients` keep-alive connections POST one pre-encoded
ExportTraceServiceRequest of 512 spans (protobuf, 4 allowed + 2 forbidden attributes each) as
fast as they can for `--seconds`: that is sustained overload, so the agent's queue is full and
what comes out is the pipeline's ceiling. Prints JSON lines (bench/README.md):
  spans_per_second        spans the sidecar received per second (porthole_telemetry_channel_items_total)
  agent_cpu_seconds_per_100k_spans  agent utime+stime (/proc) per 100k spans delivered
  agent_cpu_seconds_per_100k_offered_spans  the same per 100k spans posted to the receiver
  agent_peak_rss_bytes    VmHWM of the agent after the overload
  offered_spans_per_second, dropped_fraction (queue_full) for context
Peer: none — no OpenTelemetry Collector (or other OTLP agent) is packaged for Debian 12, so
`peer` is "none" and there is no ratio.
Usage: sudo PORTHOLE_BIN_DIR=build-w1/bin bench/telemetry/telemetry_bench.py [--seconds 10] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time

SOURCE_DIR = os.environ.get("PORTHOLE_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402

GENERATOR = r'''
import http.client, sys, threading, time
body = open(sys.argv[1], "rb").read(); seconds = float(sys.argv[2]); clients = int(sys.argv[3])
counts = [0] * clients
def run(i):
    c = http.client.HTTPConnection("127.0.0.1", 4318)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        r = c.getresponse(); r.read()
        if r.status == 200: counts[i] += 1
threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
[t.start() for t in threads]; [t.join() for t in threads]
print(sum(counts))
'''


def varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num: int, payload: bytes) -> bytes:  # length-delimited
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def attr(key: str, value: str) -> bytes:
    return field(1, key.encode()) + field(2, field(1, value.encode()))


def request(spans: int) -> bytes:
    """ExportTraceServiceRequest, hand-encoded from the opentelemetry-proto field numbers."""
    resource = field(1, field(1, attr("service.name", "bench")))
    body = b""
    for i in range(spans):
        trace_id = struct.pack(">QQ", 0x1234, i // 4 + 1)
        span_id = struct.pack(">Q", i + 1)
        span = field(1, trace_id) + field(2, span_id)
        if i % 4:
            span += field(4, struct.pack(">Q", i))
        span += field(5, b"GET /items/:id") + varint(6 << 3) + varint(2)
        span += varint(7 << 3 | 1) + struct.pack("<Q", 1_700_000_000_000_000_000 + i)
        span += varint(8 << 3 | 1) + struct.pack("<Q", 1_700_000_000_000_100_000 + i)
        for k, v in (("http.request.method", "GET"), ("http.route", "/items/:id"),
                     ("server.address", "shop.example"), ("network.protocol.version", "1.1"),
                     ("url.full", "https://shop.example/items/7?token=x"), ("user_agent.original", "curl/8")):
            span += field(9, attr(k, v))
        body += field(2, span)
    scope_spans = field(2, field(1, field(1, b"bench")) + body)
    return field(1, resource + scope_spans)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def emit(metric, value, unit):
    print(json.dumps({"bench": "telemetry_e2e", "metric": metric, "value": value, "unit": unit,
                      "peer": "none", "peer_value": None, "ratio": None}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    with harness.Stack(sidecar_config={"telemetry": {"jsonl_path": "/dev/null"}},
                       agent_config={"telemetry": {"batch": {"spans": {"scheduled_delay": "100ms"}}}}) as stack:
        stack.wait_ready()
        harness.poll(lambda: harness.metric_value(stack.metrics(), "porthole_telemetry_channel_connected",
                                                  side="parent") == 1, 20, "the telemetry channel")
        body_path = os.path.join(stack.workdir, "request.bin")
        gen_path = os.path.join(stack.workdir, "gen.py")
        with open(body_path, "wb") as f:
            f.write(request(512))
        with open(gen_path, "w") as f:
            f.write(GENERATOR)
        pid = stack.agent.pid

        def delivered():
            return harness.metric_value(stack.metrics(), "porthole_telemetry_channel_items_total",
                                        side="parent", signal="spans") or 0
        d0, c0, t0 = delivered(), cpu_seconds(pid), time.monotonic()
        r = stack.enclave.run([sys.executable, gen_path, body_path, str(args.seconds), str(args.clients)],
                              timeout=args.seconds + 60)
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        t1, c1 = time.monotonic(), cpu_seconds(pid)
        d1 = delivered()
        offered = int(r.stdout.strip()) * 512
        spans = d1 - d0
        text = stack.metrics()
        dropped = harness.metric_value(text, "porthole_telemetry_spans_dropped_total", side="enclave",
                                       reason="queue_full") or 0
        emit("spans_per_second", round(spans / (t1 - t0)), "spans/s")
        emit("offered_spans_per_second", round(offered / (t1 - t0)), "spans/s")
        emit("dropped_fraction", round(dropped / max(offered, 1), 3), "ratio")
        emit("agent_cpu_seconds_per_100k_spans", round((c1 - c0) / max(spans, 1) * 1e5, 3), "s")
        # Under overload most offered spans are decoded, filtered and then dropped: per offered
        # span is the receiver's cost, per delivered span the whole pipeline's.
        emit("agent_cpu_seconds_per_100k_offered_spans", round((c1 - c0) / max(offered, 1) * 1e5, 3), "s")
        emit("agent_peak_rss_bytes", peak_rss(pid), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
