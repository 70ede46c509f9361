#!/usr/bin/env python3
"""Round-trip time the NTP relay adds: the same NTP client, the same upstream chronyd, asked
(a) directly on the host and (b) through porthole-agent -> vsock (uds) -> porthole-sidecar from
inside the simulated enclave. Prints JSON lines (see bench/ntp/README.md).

    sudo PORTHOLE_BIN_DIR=build/bin python3 bench/ntp/ntp_rtt.py [--requests 2000]

Needs root (network namespace), chronyd (package chrony) and built binaries. The client is this
script in --client mode, run on the host for (a) and inside the enclave for (b): sequential
48-byte mode-3 requests, time.perf_counter_ns() around sendto() .. recvfrom() of the matching
reply (origin timestamp == our transmit timestamp).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PORTHOLE_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
RELAY_PORT = 12300


# ---------------------------------------------------------------------------------------------
# client mode (stdlib only: it runs inside the enclave)


def client(host: str, port: int, n: int, timeout: float) -> dict:
    """n sequential NTP exchanges -> {"rtt_ns": [...], "lost": k, "bad": k}."""
    rtts, lost, bad = [], 0, 0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))  # the same on both paths; also filters stray senders
    s.settimeout(timeout)
    head = bytes([0x23]) + bytes(39)  # LI 0, version 4, mode 3 (client)
    for i in range(n):
        # Any unique value works as the transmit timestamp; a counter keeps replies matchable.
        xmt = struct.pack(">Q", ((int(time.time()) + 2208988800) << 32) | i)
        pkt = head + xmt
        t0 = time.perf_counter_ns()
        s.send(pkt)
        while True:
            try:
                data = s.recv(2048)
            except socket.timeout:
                lost += 1
                break
            if len(data) >= 48 and data[24:32] == xmt and data[0] & 7 == 4:
                rtts.append(time.perf_counter_ns() - t0)
                break
            bad += 1  # a late reply to an earlier (lost) request: keep waiting for ours
    s.close()
    return {"rtt_ns": rtts, "lost": lost, "bad": bad}


# ---------------------------------------------------------------------------------------------
# orchestration


def percentile(values, p):
    """Nearest-rank percentile."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def run_client(argv_prefix, host, port, n, timeout, runner=None):
    cmd = argv_prefix + [sys.executable, os.path.abspath(__file__), "--client", host, str(port), str(n),
                         "--timeout", str(timeout)]
    if runner is not None:
        r = runner(cmd, timeout=n * timeout + 60)
    else:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=n * timeout + 60)
    if r.returncode != 0:
        raise SystemExit(f"client failed ({r.returncode}): {r.stderr}")
    return json.loads(r.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", nargs=3, metavar=("HOST", "PORT", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, default=1.0, help="per-request timeout, seconds (default 1)")
    ap.add_argument("--requests", type=int, default=2000, help="measured requests per path (default 2000)")
    ap.add_argument("--rounds", type=int, default=4,
                    help="alternate direct/relay in this many rounds so both see the same machine noise")
    ap.add_argument("--warmup", type=int, default=200, help="unmeasured requests per path first")
    args = ap.parse_args()

    if args.client:
        host, port, n = args.client
        print(json.dumps(client(host, int(port), int(n), args.timeout)))
        return 0

    sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
    import harness  # noqa: E402
    from ntp_peers import ChronyServer, query  # noqa: E402

    if not shutil.which("chronyd"):
        raise SystemExit("chronyd not found: install the Debian package 'chrony'")
    base = tempfile.mkdtemp(prefix="porthole-bench-ntp-")
    upstream = ChronyServer(base).start()
    try:
        # Rate limits far above a sequential client; no background measurement traffic.
        stack_cm = harness.Stack(
            sidecar_config={"ntp": {"upstreams": [f"127.0.0.1:{upstream.port}"], "request_timeout": "1s",
                                    "max_requests_per_second": 100000, "max_outstanding": 64}},
            agent_config={"ntp": {"listen": f"127.0.0.1:{RELAY_PORT}", "measure_interval": "0s",
                                  "max_requests_per_second": 100000, "max_outstanding": 64}})
        with stack_cm as stack:
            stack.wait_ready()
            in_enclave = lambda cmd, timeout: stack.enclave.run(cmd, timeout=timeout)  # noqa: E731
            harness.poll(lambda: run_client([], "127.0.0.1", RELAY_PORT, 1, 0.5, runner=in_enclave)["rtt_ns"],
                         20, "a first reply through the relay")
            assert query("127.0.0.1", upstream.port) is not None

            per_round = max(1, args.requests // args.rounds)
            direct, relay = {"rtt_ns": [], "lost": 0, "bad": 0}, {"rtt_ns": [], "lost": 0, "bad": 0}
            run_client([], "127.0.0.1", upstream.port, args.warmup, args.timeout)
            run_client([], "127.0.0.1", RELAY_PORT, args.warmup, args.timeout, runner=in_enclave)
            for _ in range(args.rounds):
                for acc, port, runner in ((direct, upstream.port, None), (relay, RELAY_PORT, in_enclave)):
                    r = run_client([], "127.0.0.1", port, per_round, args.timeout, runner=runner)
                    for k in acc:
                        acc[k] += r[k]
            text = stack.metrics()
    finally:
        upstream.stop()
        shutil.rmtree(base, ignore_errors=True)

    print(f"direct: {len(direct['rtt_ns'])} replies, {direct['lost']} lost; "
          f"relay: {len(relay['rtt_ns'])} replies, {relay['lost']} lost", file=sys.stderr)
    drops = [(ls, v) for n, ls, v in harness.parse_metrics(text) if n == "porthole_ntp_dropped_total" and v]
    if drops:
        print(f"relay drops during the run: {drops}", file=sys.stderr)
    for p in (50, 99):
        rv = percentile(relay["rtt_ns"], p) / 1000
        dv = percentile(direct["rtt_ns"], p) / 1000
        print(json.dumps({"bench": "ntp", "metric": f"rtt_p{p}", "value": round(rv, 1), "unit": "us",
                          "peer": "direct", "peer_value": round(dv, 1), "added": round(rv - dv, 1),
                          "requests": len(relay["rtt_ns"]), "lost": relay["lost"]}))
    return 0 if relay["rtt_ns"] and direct["rtt_ns"] else 1


if __name__ == "__main__":
    sys.exit(main())
