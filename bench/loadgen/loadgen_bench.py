#!/usr/bin/env python3
"""Load-generator benchmark: the maximum request rate porthole-loadtest (closed loop, --rate 0)
drives against a local HTTP server, against wrk (Debian package) with the same connections and
threads against the same server, in the same run. Prints JSON lines (see bench/loadgen/README.md).

    PORTHOLE_BIN_DIR=build/bin python3 bench/loadgen/loadgen_bench.py [--rounds 3] [--duration 5]

Needs wrk. The server is porthole-demo-workload (Beast, keep-alive) on 127.0.0.1, port 0; the
tools alternate in rounds so they share the machine's noise, and the median round of each counts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PORTHOLE_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))


def wait_file(path: str, what: str, proc: subprocess.Popen, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def child_cpu() -> float:
    """CPU seconds (user + system) of every child process waited for so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# porthole-loadtest sends these on every request (a traceparent of its own per request); wrk is
# given the same ones, so the server parses the same bytes from both and the ratio compares the
# generators, not the requests.
SAME_HEADERS = ["-H", "User-Agent: porthole-loadtest",
                "-H", "traceparent: 00-0123456789abcdef0000000000000001-0123456789abcdef-01"]


def wrk_rate(url: str, threads: int, connections: int, seconds: int) -> tuple[float, float]:
    """(requests/s, client CPU seconds)."""
    cpu0 = child_cpu()
    r = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", *SAME_HEADERS, url],
                       capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([0-9.]+)", r.stdout)
    if r.returncode != 0 or not m:
        raise SystemExit(f"wrk failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", r.stdout)
    if errors:
        print(f"  wrk reported errors: {errors.group(0)}", file=sys.stderr)
    return float(m.group(1)), child_cpu() - cpu0


def loadtest_run(loadtest: str, url: str, workdir: str, extra: list[str], seconds: float) -> dict:
    """The report's result, plus "cpu_seconds" of the client process."""
    out = os.path.join(workdir, "report.json")
    cpu0 = child_cpu()
    r = subprocess.run([loadtest, "--url", url, "--duration", f"{seconds}s", "--json", out, "--quiet"] + extra,
                       capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise SystemExit(f"porthole-loadtest failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    with open(out) as f:
        result = json.load(f)["result"]
    result["cpu_seconds"] = child_cpu() - cpu0
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="client threads, both tools (default 1)")
    ap.add_argument("--connections", type=int, default=16, help="connections, both tools (default 16)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per measurement (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--server-threads", type=int, default=1, help="porthole-demo-workload --threads (default 1)")
    ap.add_argument("--path", default="/health", help="request path (default /health)")
    args = ap.parse_args()

    bin_dir = os.environ.get("PORTHOLE_BIN_DIR") or os.path.join(SOURCE_DIR, "build", "bin")
    loadtest = os.path.join(bin_dir, "porthole-loadtest")
    workload = os.path.join(bin_dir, "porthole-demo-workload")
    for path in (loadtest, workload):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"{path} not found: build the `binaries` target and set PORTHOLE_BIN_DIR")
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: install the Debian package 'wrk' (scripts/setup does)")

    workdir = tempfile.mkdtemp(prefix="loadgen-bench-")
    server = None
    try:
        addr_file = os.path.join(workdir, "server.addr")
        server = subprocess.Popen([workload, "--listen", "127.0.0.1:0", "--address-file", addr_file,
                                   "--threads", str(args.server_threads)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://{wait_file(addr_file, 'porthole-demo-workload', server)}{args.path}"
        print(f"server {url}; {args.threads} thread(s), {args.connections} connection(s), "
              f"{args.duration}s x {args.rounds} round(s)", file=sys.stderr)

        ours, theirs, our_cpu, their_cpu = [], [], [], []
        for i in range(args.rounds):
            # Alternate which tool goes first (ABBA...), so a trend in the machine's load does not
            # favour either.
            def run_wrk():
                return wrk_rate(url, args.threads, args.connections, args.duration)

            def run_ours():
                return loadtest_run(loadtest, url, workdir, ["--rate", "0", "--warmup", "0",
                                                             "--connections", str(args.connections),
                                                             "--threads", str(args.threads)], args.duration)
            if i % 2 == 0:
                w, w_cpu = run_wrk()
                res = run_ours()
            else:
                res = run_ours()
                w, w_cpu = run_wrk()
            if res["errors"]:
                print(f"  porthole-loadtest reported {res['errors']} errors", file=sys.stderr)
            theirs.append(w)
            ours.append(res["throughput"])
            # Client CPU per request: robust to a noisy machine where the rates are not.
            their_cpu.append(1e6 * w_cpu / max(1.0, w * args.duration))
            our_cpu.append(1e6 * res["cpu_seconds"] / max(1, res["completed"]))
            print(f"  round {i + 1}: wrk {w:.0f}/s ({their_cpu[-1]:.1f} us CPU/request), porthole-loadtest "
                  f"{res['throughput']:.0f}/s ({our_cpu[-1]:.1f} us CPU/request), ratio {res['throughput'] / w:.3f}",
                  file=sys.stderr)

        value, peer_value = statistics.median(ours), statistics.median(theirs)
        # The ratio of the medians, and the median of the per-round ratios (each round's two runs
        # share the machine's state, so it is the steadier of the two).
        round_ratio = statistics.median(a / b for a, b in zip(ours, theirs))
        lines = [{"bench": "loadgen", "metric": "max_request_rate", "value": round(value, 1), "unit": "req/s",
                  "peer": "wrk", "peer_value": round(peer_value, 1), "ratio": round(value / peer_value, 3),
                  "median_round_ratio": round(round_ratio, 3)}]
        cpu, peer_cpu = statistics.median(our_cpu), statistics.median(their_cpu)
        lines.append({"bench": "loadgen", "metric": "client_cpu_per_request", "value": round(cpu, 2), "unit": "us",
                      "peer": "wrk", "peer_value": round(peer_cpu, 2), "ratio": round(cpu / peer_cpu, 3)})

        # Open loop at half of wrk's maximum: the successful throughput must be the target (within 1 %).
        target = round(peer_value / 2)
        res = loadtest_run(loadtest, url, workdir, ["--rate", str(target), "--warmup", "1s",
                                                     "--connections", str(args.connections),
                                                     "--threads", str(args.threads)], args.duration)
        accuracy = res["throughput"] / target
        p99_ms = res["latency"]["percentiles"]["99"] / 1e6
        lines.append({"bench": "loadgen", "metric": "open_loop_throughput_over_target", "value": round(accuracy, 4),
                      "unit": "ratio", "peer": None, "peer_value": None, "ratio": None,
                      "target_rate": target, "send_rate": round(res["send_rate"], 1), "p99_ms": round(p99_ms, 3),
                      "late": res["late"]})
        for line in lines:
            print(json.dumps(line))
        print(f"\nmax request rate: porthole-loadtest {value:.0f}/s, wrk {peer_value:.0f}/s "
              f"(ratio {value / peer_value:.3f}; goal >= 1.0: {'met' if value >= peer_value else 'NOT met'})",
              file=sys.stderr)
        print(f"open loop at {target}/s: successful {100 * accuracy:.2f}% of target (goal within 1 %: "
              f"{'met' if abs(accuracy - 1) <= 0.01 else 'NOT met'}), p99 {p99_ms:.3f} ms, {res['late']} late",
              file=sys.stderr)
        return 0
    finally:
        if server and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
