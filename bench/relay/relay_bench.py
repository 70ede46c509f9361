#!/usr/bin/env python3
"""Relay benchmark: TCP from the host into the simulated enclave, through
porthole-sidecar -> uds -> porthole-agent, against in the same run the same servers reached
(direct) from inside the enclave, through a two-hop socat chain and through a two-hop HAProxy
chain (both over a Unix socket, like our uds transport). Prints JSON lines (see
bench/relay/README.md).

    sudo PORTHOLE_BIN_DIR=build/bin python3 bench/relay/relay_bench.py [--round-trips 4000]

Needs root (network namespace), iperf3, socat and haproxy. The Porthole path runs when the
sidecar has ingress (`porthole-sidecar --print-default-config` mentions it) unless
--skip-porthole; otherwise its values are null and only the peers are measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PORTHOLE_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
IPERF_PORT = 5201   # iperf3 -s inside the enclave (throughput)
ECHO_PORT = 7007    # socat PIPE echo inside the enclave (latency)
MESSAGE = 1024      # bytes per request and per response


# ---------------------------------------------------------------------------------------------
# client mode (stdlib only: it also runs inside the enclave)


def client(host: str, port: int, n: int, warmup: int) -> dict:
    """One connection, `warmup` then `n` sequential 1 KiB request/response exchanges."""
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = os.urandom(MESSAGE)
    buf = bytearray(MESSAGE)
    view = memoryview(buf)
    rtts = []
    for i in range(warmup + n):
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        got = 0
        while got < MESSAGE:
            k = s.recv_into(view[got:])
            if k == 0:
                raise SystemExit(f"connection closed after {got} bytes of round trip {i}")
            got += k
        t1 = time.perf_counter_ns()
        if i >= warmup:
            rtts.append(t1 - t0)
    if bytes(buf) != msg:
        raise SystemExit("the echo answered different bytes")
    s.close()
    return {"rtt_ns": rtts}


# ---------------------------------------------------------------------------------------------
# helpers


def percentile(values, p):
    """Nearest-rank percentile."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def wait_port(connect, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if connect():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def tcp_open(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1):
        return True


def free_port() -> int:
    """For socat and haproxy, which cannot report a port-0 bind."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """pid and its descendants (socat forks one child per connection)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


class RssSampler:
    """Samples the summed VmRSS of process trees every 20 ms; peak() in MiB."""

    def __init__(self, roots: dict[str, list[int]]):
        self.roots, self.peaks = roots, {k: 0 for k in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for k, pids in self.roots.items():
                total = sum(rss_kib(p, "VmRSS") for root in pids for p in tree(root))
                self.peaks[k] = max(self.peaks[k], total)
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Procs:
    """Host processes started here: each in its own process group, all killed in close()."""

    def __init__(self, workdir: str):
        self.workdir, self.procs = workdir, []

    def spawn(self, argv, name: str) -> subprocess.Popen:
        log = open(os.path.join(self.workdir, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue


def haproxy_config(pairs) -> str:
    """pairs: (bind, server) in HAProxy address syntax; TCP mode, default tuning."""
    out = ["global", "  maxconn 4096", "defaults", "  mode tcp", "  timeout connect 5s",
           "  timeout client 120s", "  timeout server 120s"]
    for i, (bind, server) in enumerate(pairs):
        out += [f"frontend fe{i}", f"  bind {bind}", f"  default_backend be{i}",
                f"backend be{i}", f"  server s1 {server}"]
    return "\n".join(out) + "\n"


def porthole_has_ingress(bin_dir: str) -> bool:
    sidecar = os.path.join(bin_dir, "porthole-sidecar")
    try:
        r = subprocess.run([sidecar, "--print-default-config"], capture_output=True, text=True, timeout=10)
    except OSError:
        return False
    return r.returncode == 0 and "ingress" in r.stdout


# ---------------------------------------------------------------------------------------------
# orchestration


def iperf(runner, port: int, streams: int, seconds: int) -> float:
    """Gbit/s received, from `iperf3 -J`."""
    cmd = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"]
    if streams > 1:
        cmd += ["-P", str(streams)]
    r = runner(cmd, seconds + 60)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        raise SystemExit(f"iperf3 to port {port} failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")
    if "error" in doc:
        raise SystemExit(f"iperf3 to port {port}: {doc['error']}")
    return doc["end"]["sum_received"]["bits_per_second"] / 1e9


def host_run(cmd, timeout):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def latency(runner, port: int, n: int, warmup: int) -> list[int]:
    cmd = [sys.executable, os.path.abspath(__file__), "--client", "127.0.0.1", str(port), str(n),
           "--warmup", str(warmup)]
    r = runner(cmd, n * 0.1 + 120)
    if r.returncode != 0:
        raise SystemExit(f"latency client to port {port} failed ({r.returncode}): {r.stderr[-1000:]}")
    return json.loads(r.stdout)["rtt_ns"]


PEERS = ("haproxy", "socat", "direct")


def start_peers(enclave, procs: Procs, workdir: str) -> dict:
    """The socat and HAProxy chains (host -> unix socket -> enclave -> server), both targets.
    Returns {path: {"iperf": port, "echo": port, "host": [pids], "enclave": [pids]}}."""
    paths = {"socat": {"host": [], "enclave": []}, "haproxy": {"host": [], "enclave": []}}
    host_pairs, enc_pairs = [], []
    for tag, target in (("iperf", IPERF_PORT), ("echo", ECHO_PORT)):
        sock = os.path.join(workdir, f"socat_{tag}.sock")
        inner = enclave.spawn(["socat", f"UNIX-LISTEN:{sock},fork,unlink-early", f"TCP:127.0.0.1:{target}"],
                              log_path=os.path.join(workdir, f"socat_{tag}_enclave.log"))
        port = free_port()
        outer = procs.spawn(["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
                             f"UNIX-CONNECT:{sock}"], f"socat_{tag}_host")
        paths["socat"][tag] = port
        paths["socat"]["host"].append(outer.pid)
        paths["socat"]["enclave"].append(inner.pid)
        hsock = os.path.join(workdir, f"haproxy_{tag}.sock")
        hport = free_port()
        paths["haproxy"][tag] = hport
        host_pairs.append((f"127.0.0.1:{hport}", f"unix@{hsock}"))
        enc_pairs.append((f"unix@{hsock}", f"127.0.0.1:{target}"))
    for side, pairs in (("host", host_pairs), ("enclave", enc_pairs)):
        cfg = os.path.join(workdir, f"haproxy_{side}.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_config(pairs))
        argv = ["haproxy", "-db", "-f", cfg]
        p = (procs.spawn(argv, "haproxy_host") if side == "host"
             else enclave.spawn(argv, log_path=os.path.join(workdir, "haproxy_enclave.log")))
        paths["haproxy"][side].append(p.pid)
    return paths


def start_porthole(stack, harness) -> dict:
    stack.wait_ready()

    def listeners():
        status, body = harness.http_get(stack.admin_url + "/listeners")
        ingress = json.loads(body).get("ingress", {}) if status == 200 else {}
        return ingress if {"bench", "echo"} <= set(ingress) else None
    ingress = harness.poll(listeners, 20, "the sidecar's ingress listeners in /listeners")
    return {"iperf": int(ingress["bench"].rsplit(":", 1)[1]), "echo": int(ingress["echo"].rsplit(":", 1)[1]),
            "host": [stack.sidecar.pid], "enclave": [stack.agent.pid]}


def measure(args, enclave, paths: dict) -> dict:
    """Runs every metric on every path; returns {path: {metric: value}}."""
    in_enclave = lambda cmd, timeout: enclave.run(cmd, timeout=timeout)  # noqa: E731
    runner = {p: (in_enclave if p == "direct" else host_run) for p in paths}
    res = {p: {} for p in paths}
    # Every chain answers before anything is measured (socat listens before its inner hop does).
    for p, ports in paths.items():
        deadline = time.monotonic() + 20
        while True:
            try:
                latency(runner[p], ports["echo"], 1, 0)
                break
            except SystemExit:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    for p in paths:
        res[p]["rss_idle_before"] = {side: sum(rss_kib(x, "VmRSS") for r in paths[p][side] for x in tree(r)) / 1024
                                     for side in ("host", "enclave")}
    for streams in (1, 16):
        for p, ports in paths.items():
            with RssSampler({"host": ports["host"], "enclave": ports["enclave"]}) as sampler:
                res[p][f"throughput_{streams}"] = iperf(runner[p], ports["iperf"], streams, args.seconds)
            if streams == 16:
                # VmHWM of a single process covers spikes between samples; socat forks, so sum samples.
                hwm = {side: sum(rss_kib(r, "VmHWM") for r in ports[side]) for side in ("host", "enclave")}
                res[p]["rss_peak"] = {side: max(sampler.peaks[side], hwm[side] if p in ("porthole", "haproxy") else 0)
                                      / 1024 for side in ("host", "enclave")}
            print(f"  {p:8s} {streams:2d} stream(s): {res[p][f'throughput_{streams}']:.2f} Gbit/s", file=sys.stderr)
    rtts = {p: [] for p in paths}
    per_round = max(1, args.round_trips // args.rounds)
    for _ in range(args.rounds):
        for p, ports in paths.items():
            rtts[p] += latency(runner[p], ports["echo"], per_round, args.warmup)
    for p in paths:
        res[p]["rtt_p50"] = percentile(rtts[p], 50) / 1000
        res[p]["rtt_p99"] = percentile(rtts[p], 99) / 1000
        res[p]["round_trips"] = len(rtts[p])
    time.sleep(1.0)  # let the relays settle after the last connection closed
    for p in paths:
        res[p]["rss_idle"] = {side: sum(rss_kib(x, "VmRSS") for r in paths[p][side] for x in tree(r)) / 1024
                              for side in ("host", "enclave")}
    return res


def report(res: dict) -> None:
    pt = res.get("porthole")
    lines = []
    for metric, unit in (("throughput_1", "Gbit/s"), ("throughput_16", "Gbit/s"), ("rtt_p50", "us"), ("rtt_p99", "us"),
                         ("rss_peak_sidecar", "MiB"), ("rss_peak_agent", "MiB"),
                         ("rss_idle_sidecar", "MiB"), ("rss_idle_agent", "MiB")):
        for peer in PEERS:
            if metric.startswith("rss"):
                if peer == "direct":
                    continue  # no relay process on the direct path
                key, side = metric.rsplit("_", 1)
                get = lambda r, k=key, s=side: r[k]["host" if s == "sidecar" else "enclave"]  # noqa: E731
            else:
                get = lambda r, k=metric: r[k]  # noqa: E731
            value = round(get(pt), 2) if pt else None
            peer_value = round(get(res[peer]), 2)
            ratio = round(value / peer_value, 3) if value is not None and peer_value else None
            lines.append({"bench": "relay", "metric": metric, "value": value, "unit": unit, "peer": peer,
                          "peer_value": peer_value, "ratio": ratio})
    for line in lines:
        print(json.dumps(line))

    out = sys.stderr
    print("\npath       thr 1 (Gbit/s)  thr 16 (Gbit/s)  rtt p50 (us)  rtt p99 (us)  peak RSS host/enclave (MiB)"
          "  idle RSS host/enclave (MiB)", file=out)
    for p, r in res.items():
        peak = "-" if p == "direct" else f"{r['rss_peak']['host']:.1f} / {r['rss_peak']['enclave']:.1f}"
        idle = "-" if p == "direct" else f"{r['rss_idle']['host']:.1f} / {r['rss_idle']['enclave']:.1f}"
        print(f"{p:10s} {r['throughput_1']:14.2f}  {r['throughput_16']:15.2f}  {r['rtt_p50']:12.1f}  "
              f"{r['rtt_p99']:12.1f}  {peak:>27s}  {idle:>27s}", file=out)
    if not pt:
        print("\nporthole: not measured (no ingress in this build, or --skip-porthole)", file=out)
        return
    d, h, s = res["direct"], res["haproxy"], res["socat"]
    goals = [
        ("throughput_1 >= haproxy", pt["throughput_1"] >= h["throughput_1"]),
        ("throughput_16 >= haproxy", pt["throughput_16"] >= h["throughput_16"]),
        ("throughput_1 >= 2x socat", pt["throughput_1"] >= 2 * s["throughput_1"]),
        ("throughput_16 >= 2x socat", pt["throughput_16"] >= 2 * s["throughput_16"]),
        (f"added p99 {pt['rtt_p99'] - d['rtt_p99']:.1f} us <= haproxy's {h['rtt_p99'] - d['rtt_p99']:.1f} us",
         pt["rtt_p99"] - d["rtt_p99"] <= h["rtt_p99"] - d["rtt_p99"]),
        (f"agent peak RSS {pt['rss_peak']['enclave']:.1f} <= 32 MiB", pt["rss_peak"]["enclave"] <= 32),
        (f"sidecar peak RSS {pt['rss_peak']['host']:.1f} <= 64 MiB", pt["rss_peak"]["host"] <= 64),
    ]
    print("\ngoals:", file=out)
    for what, ok in goals:
        print(f"  {'met    ' if ok else 'NOT met'}  {what}", file=out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", nargs=3, metavar=("HOST", "PORT", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=200, help="unmeasured round trips per client run (default 200)")
    ap.add_argument("--round-trips", type=int, default=4000, help="measured 1 KiB round trips per path (default 4000)")
    ap.add_argument("--rounds", type=int, default=4, help="alternate the paths in this many latency rounds")
    ap.add_argument("--seconds", type=int, default=5, help="iperf3 -t (default 5)")
    ap.add_argument("--skip-porthole", action="store_true", help="measure only the peers")
    ap.add_argument("--splice-pipes", type=int, default=None,
                    help="ingress.splice_pipes on both sides (default: the product default; 0 copies "
                         "through buffers instead of splice)")
    args = ap.parse_args()

    if args.client:
        host, port, n = args.client
        print(json.dumps(client(host, int(port), int(n), args.warmup)))
        return 0

    for tool in ("iperf3", "socat", "haproxy"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found: install the Debian package '{tool}' (scripts/setup does)")
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespace)")
    sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
    import harness  # noqa: E402
    import simenclave  # noqa: E402  (harness put scripts/ on the path)

    with_porthole = not args.skip_porthole and porthole_has_ingress(harness.BIN_DIR)
    workdir = tempfile.mkdtemp(prefix="porthole-bench-relay-")
    os.chmod(workdir, 0o755)
    procs = Procs(workdir)
    stack = enclave = None
    try:
        if with_porthole:
            splice = {} if args.splice_pipes is None else {"splice_pipes": args.splice_pipes}
            stack = harness.Stack(
                sidecar_config={"ingress": {"listeners": [{"name": "bench", "listen": "127.0.0.1:0"},
                                                          {"name": "echo", "listen": "127.0.0.1:0"}], **splice}},
                agent_config={"ingress": {"routes": [{"listener": "bench", "target": f"127.0.0.1:{IPERF_PORT}"},
                                                     {"listener": "echo", "target": f"127.0.0.1:{ECHO_PORT}"}],
                                          **splice}})
            stack.__enter__()
            enclave = stack.enclave
        else:
            enclave = simenclave.SimulatedEnclave().up()
        enclave.spawn(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(IPERF_PORT)],
                      log_path=os.path.join(workdir, "iperf3.log"))
        enclave.spawn(["socat", f"TCP-LISTEN:{ECHO_PORT},bind=127.0.0.1,reuseaddr,fork,nodelay", "PIPE"],
                      log_path=os.path.join(workdir, "echo.log"))
        for port in (IPERF_PORT, ECHO_PORT):
            wait_port(lambda: simenclave.tcp_reachable_from(enclave, "127.0.0.1", port), f"port {port} in the enclave")
        paths = {}
        if with_porthole:
            paths["porthole"] = start_porthole(stack, harness)
        paths.update(start_peers(enclave, procs, workdir))
        paths["direct"] = {"iperf": IPERF_PORT, "echo": ECHO_PORT, "host": [], "enclave": []}
        print(f"relay bench: paths {', '.join(paths)}; iperf3 -t {args.seconds}; {args.round_trips} round trips "
              f"of {MESSAGE} B per path", file=sys.stderr)
        res = measure(args, enclave, paths)
    except BaseException:
        if stack is not None:
            stack.dump_logs()
        for name in sorted(os.listdir(workdir)):
            if name.endswith(".log"):
                with open(os.path.join(workdir, name), errors="replace") as f:
                    print(f"----- {name} -----\n{f.read()[-3000:]}", file=sys.stderr)
        raise
    finally:
        procs.close()
        if stack is not None:
            stack.__exit__(None, None, None)
        elif enclave is not None:
            enclave.down()
        shutil.rmtree(workdir, ignore_errors=True)
    report(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
