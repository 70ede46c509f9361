#!/usr/bin/env python3
"""End-to-end telemetry throughput: workload -> agent (OTLP/HTTP receiver, policy, batch
processor) -> telemetry channel (vsock 7001, emulated) -> sidecar (validates, acks) -> a sink.

Inside the simulated enclave, `--clients` keep-alive connections POST one pre-encoded
ExportTraceServiceRequest of 512 spans (protobuf, 4 allowed + 2 forbidden attributes each).
Default agent settings (queue 2048, batch 512, 5 s delay, one export in flight); the sidecar's
sink is `none` (validate, ack, discard) or `jsonl` (JSON lines to /dev/null).

Two phases, JSON lines (bench/README.md) for each:
  overload  the clients send as fast as they can for `--seconds`: what comes out is the
            pipeline's ceiling; the rest is shed at the agent's queue and counted.
              spans_per_second                   spans the sidecar received per second
              offered_spans_per_second, dropped_fraction (queue_full)
              agent_cpu_seconds_per_100k_spans   agent utime+stime per 100k spans delivered
              agent_peak_rss_bytes               VmHWM after the overload (vs the queue bounds)
  steady    the clients pace themselves to `--rate` spans/s (default: half the overload
            throughput) for `--seconds`: below capacity nothing may be lost.
              steady_lost_spans                  offered - delivered, and every agent drop: must be 0
              steady_agent_cpu_seconds_per_100k_spans
              spans_per_agent_cpu_second         delivered spans per second of agent CPU: the
                                                 "spans/s on one agent core" of the issue
Peer: none: no OpenTelemetry Collector (or other OTLP agent) is packaged for Debian 12, so
`peer` is "none" and there is no ratio.
Usage: sudo PORTHOLE_BIN_DIR=build/bin bench/telemetry/telemetry_bench.py [--seconds 10] [--clients 4]
           [--rate SPANS_PER_S] [--sink none|jsonl]
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
rate = float(sys.argv[4])  # requests per second over all clients; 0 = as fast as possible
counts = [0] * clients
def run(i):
    c = http.client.HTTPConnection("127.0.0.1", 4318)
    start = time.monotonic(); end = start + seconds; n = 0
    while True:
        if rate > 0:
            due = start + (i + n * clients) / rate  # open loop: late requests go at once
            now = time.monotonic()
            if due >= end: break
            if due > now: time.sleep(due - now)
        elif time.monotonic() >= end:
            break
        c.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        r = c.getresponse(); r.read(); n += 1
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


def emit(metric, value, unit, **extra):
    print(json.dumps({"bench": "telemetry_e2e", "metric": metric, "value": value, "unit": unit,
                      "peer": "none", "peer_value": None, "ratio": None, **extra}), flush=True)


SPANS_PER_REQUEST = 512
DROP_REASONS = ("queue_full", "export_failed", "export_timeout", "shutdown")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=float, default=0, help="steady phase spans/s (0: half the overload throughput)")
    ap.add_argument("--sink", choices=("none", "jsonl"), default="none")
    args = ap.parse_args()
    sidecar = {"telemetry": {"jsonl_path": "/dev/null"}} if args.sink == "jsonl" else {}
    with harness.Stack(sidecar_config=sidecar) as stack:
        stack.wait_ready()
        harness.poll(lambda: harness.metric_value(stack.metrics(), "porthole_telemetry_channel_connected",
                                                  side="parent") == 1, 20, "the telemetry channel")
        body_path = os.path.join(stack.workdir, "request.bin")
        gen_path = os.path.join(stack.workdir, "gen.py")
        with open(body_path, "wb") as f:
            f.write(request(SPANS_PER_REQUEST))
        with open(gen_path, "w") as f:
            f.write(GENERATOR)
        pid = stack.agent.pid

        def counters():
            text = stack.metrics()
            delivered = harness.metric_value(text, "porthole_telemetry_channel_items_total", side="parent",
                                             signal="spans") or 0
            drops = {r: harness.metric_value(text, "porthole_telemetry_spans_dropped_total", side="enclave",
                                             reason=r) or 0 for r in DROP_REASONS}
            return delivered, drops, cpu_seconds(pid)

        def phase(rate_requests: float):
            d0, drops0, c0 = counters()
            t0 = time.monotonic()
            r = stack.enclave.run([sys.executable, gen_path, body_path, str(args.seconds), str(args.clients),
                                   str(rate_requests)], timeout=args.seconds + 60)
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            t1 = time.monotonic()
            offered = int(r.stdout.strip()) * SPANS_PER_REQUEST
            # What was accepted is exported within the schedule delay (5 s): wait for it.
            def settled():
                d, drops, _ = counters()
                return d - d0 + sum(drops[k] - drops0[k] for k in DROP_REASONS) >= offered
            try:
                harness.poll(settled, 15, "every offered span delivered or counted", interval=0.2)
            except AssertionError:
                pass  # reported as loss below
            d1, drops1, c1 = counters()
            return dict(offered=offered, delivered=d1 - d0, seconds=t1 - t0, cpu=c1 - c0,
                        drops={k: drops1[k] - drops0[k] for k in DROP_REASONS})

        over = phase(0)
        emit("spans_per_second", round(over["delivered"] / over["seconds"]), "spans/s", phase="overload", sink=args.sink)
        emit("offered_spans_per_second", round(over["offered"] / over["seconds"]), "spans/s", phase="overload")
        emit("dropped_fraction", round(over["drops"]["queue_full"] / max(over["offered"], 1), 3), "ratio",
             phase="overload", reason="queue_full")
        emit("agent_cpu_seconds_per_100k_spans", round(over["cpu"] / max(over["delivered"], 1) * 1e5, 3), "s",
             phase="overload")
        emit("agent_peak_rss_bytes", peak_rss(pid), "bytes", phase="overload",
             queue_bound_bytes=16 << 20, queue_bound_items=2048)

        rate = args.rate or over["delivered"] / over["seconds"] / 2
        steady = phase(rate / SPANS_PER_REQUEST)
        # Every span the agent dropped is also missing at the sidecar; a span missing there without
        # a drop counted would be a silent loss, so report whichever is larger.
        lost = max(steady["offered"] - steady["delivered"], sum(steady["drops"].values()))
        emit("steady_offered_spans_per_second", round(steady["offered"] / steady["seconds"]), "spans/s",
             phase="steady", target=round(rate))
        emit("steady_lost_spans", lost, "spans", phase="steady",
             drops=steady["drops"])
        emit("steady_agent_cpu_seconds_per_100k_spans", round(steady["cpu"] / max(steady["delivered"], 1) * 1e5, 3),
             "s", phase="steady")
        emit("spans_per_agent_cpu_second", round(steady["delivered"] / max(steady["cpu"], 1e-9)), "spans/s",
             phase="steady", goal=200000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
