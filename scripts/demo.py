#!/usr/bin/env python3
"""The demo behind scripts/demo: the simulated enclave with porthole-agent, porthole-sidecar on
the host, and a tour of what to look at. Run scripts/demo, not this file (it builds first)."""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import simenclave  # noqa: E402

BIN = os.path.join(ROOT, "build", "bin")
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text=""):
    print(text, flush=True)


def get(url, timeout=3):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = fn()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"demo: timed out waiting for {what}")


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_upstream_chronyd(workdir):
    """chronyd on the host as the upstream NTP server (the AWS Time Sync endpoint's stand-in)."""
    d = os.path.join(workdir, "chrony-upstream")
    os.makedirs(d, mode=0o700)
    port = free_udp_port()
    conf = os.path.join(d, "server.conf")
    with open(conf, "w") as f:
        f.write(f"port {port}\nlocal stratum 8\nallow 127.0.0.0/8\ncmdport 0\n"
                f"pidfile {d}/chronyd.pid\ndriftfile {d}/chronyd.drift\n")
    log = open(os.path.join(d, "chronyd.log"), "ab")
    proc = subprocess.Popen(["/usr/sbin/chronyd", "-d", "-u", "root", "-x", "-f", conf],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    return proc, port


def jsonl_records(path):
    """(spans, log records) written by the sidecar so far, each with its resource attributes."""
    spans, logs = [], []
    try:
        with open(path) as f:
            lines = f.readlines()
    except OSError:
        return spans, logs
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # a line still being written
        for rs in doc.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                spans += ss.get("spans", [])
        for rl in doc.get("resourceLogs", []):
            for sl in rl.get("scopeLogs", []):
                logs += sl.get("logRecords", [])
    return spans, logs


def attributes(record):
    out = {}
    for kv in record.get("attributes", []):
        value = kv.get("value", {})
        out[kv["key"]] = next(iter(value.values()), None) if value else None
    return out


def show_telemetry(ingress, telemetry_jsonl, enclave):
    """Server spans recorded in the enclave, a client's traceparent joined, the workload's logs."""
    trace_id = os.urandom(16).hex()
    parent = os.urandom(8).hex()
    request = urllib.request.Request(ingress + "/payload?size=10&delay_ms=5",
                                     headers={"traceparent": f"00-{trace_id}-{parent}-01"})
    urllib.request.urlopen(request, timeout=10).read()
    span = wait_for(lambda: next((s for s in jsonl_records(telemetry_jsonl)[0] if s.get("traceId") == trace_id), None),
                    20, "the server span of a traced request")
    a = attributes(span)
    took = (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e6
    say(f"\n{BOLD}6. Telemetry out of the enclave{RESET}: the agent parses each request at ingress (inside the "
        f"enclave) and\n   records a server span; batches leave over vsock 7001 and the sidecar writes them to "
        f"{telemetry_jsonl}")
    say(f"   a request sent with traceparent 00-{trace_id}-{parent}-01 became this span:")
    say(f"     name {span['name']!r}, trace {span['traceId']}, parent {span.get('parentSpanId')} (the client's),")
    say(f"     {a.get('http.request.method')} {a.get('http.route')} -> {a.get('http.response.status_code')}, "
        f"{took:.1f} ms; the query string and the headers never left the enclave")
    sdk = os.path.join(ROOT, "tests", "integration", "otel")
    node = shutil.which("node")
    if node and os.path.isdir(os.path.join(sdk, "node_modules")):
        before = len(jsonl_records(telemetry_jsonl)[0])
        r = enclave.run([node, os.path.join(sdk, "produce_spans.js"), "--url", "http://127.0.0.1:4318/v1/traces",
                         "--protocol", "proto", "--traces", "5"], timeout=60)
        if r.returncode == 0:
            made = json.loads(r.stdout.strip().splitlines()[-1])["spans"]
            wait_for(lambda: len(jsonl_records(telemetry_jsonl)[0]) >= before + len(made), 20, "the SDK's spans")
            spans = jsonl_records(telemetry_jsonl)[0][before:]
            secrets = sum("SECRET" in json.dumps(x) for x in spans)
            say(f"   the OpenTelemetry JS SDK in the enclave exported {len(made)} spans to the agent's OTLP receiver "
                f"(127.0.0.1:4318):\n     {len(spans)} arrived, with url.full, authorization headers and SQL text "
                f"removed by the policy ({secrets} secrets leaked)")
    logs = wait_for(lambda: jsonl_records(telemetry_jsonl)[1], 20, "log records")
    sources = sorted({attributes(r).get("log.iostream") or "agent" for r in logs})
    say(f"   {len(logs)} log records so far (the workload's stdout/stderr and the agent's own: {', '.join(sources)}); "
        f"their\n   bodies stay in the enclave unless telemetry.policy.log_bodies is on")


def show_metrics(admin):
    _, text = get(admin + "/metrics")
    interesting = ("porthole_enclave_up", "porthole_control_connected", "process_resident_memory_bytes",
                   "process_open_fds", "porthole_ntp_synchronized", "porthole_ntp_clock_offset_seconds",
                   "porthole_relay_connections_opened_total", "porthole_relay_errors_total",
                   "porthole_http_requests_total", "porthole_telemetry_spans_exported_total",
                   "porthole_telemetry_logs_exported_total", "porthole_workload_running", "porthole_workload_up",
                   "demo_requests_total")
    enclave_series = [line for line in text.splitlines() if 'side="enclave"' in line and not line.startswith("#")]
    shown = [line for line in text.splitlines()
             if line.split("{")[0] in interesting and not line.endswith(" 0")
             and ('side="enclave"' in line or "porthole_enclave_" in line or "enclave=" in line)]
    say(f"\n{BOLD}7. The enclave's metrics{RESET} (its own, the workload's scraped ones, RED metrics of the http1 "
        f"route),\n   relayed through the control channel to {admin}/metrics")
    for line in shown[:22]:
        say("   " + line)
    say(f"   {DIM}... {len(enclave_series)} series from inside the enclave in all{RESET}")


def run_loadtest(ingress, admin, workdir):
    """Five seconds of open-loop load through the sidecar into the enclave, with the breakdown."""
    report = os.path.join(workdir, "loadtest.html")
    say(f"\n{BOLD}8. porthole-loadtest{RESET}: 200 requests/s for 5 s through the sidecar into the enclave "
        f"(latency from the intended\n   send time; the sidecar's /metrics says where the time went)")
    r = subprocess.run([os.path.join(BIN, "porthole-loadtest"), "--url", ingress + "/echo", "--scenario", "echo",
                        "--rate", "200", "--connections", "4", "--duration", "5s", "--warmup", "1s",
                        "--scrape", admin + "/metrics", "--html", report,
                        "--json", os.path.join(workdir, "loadtest.json")],
                       capture_output=True, text=True, timeout=120)
    for line in r.stdout.strip().splitlines():
        say("   " + line)
    if r.returncode != 0:
        say(f"   (porthole-loadtest exited with {r.returncode}: {r.stderr.strip()[-300:]})")
    return report


def main():
    ap = argparse.ArgumentParser(description="Porthole demo in a simulated enclave")
    ap.add_argument("--duration", type=float, default=None,
                    help="run unattended for N seconds, then clean up (default: until Ctrl-C)")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="porthole-demo-")
    os.chmod(workdir, 0o755)
    uds = os.path.join(workdir, "vsock")
    listen = "127.0.0.1:9901" if port_free(9901) else "127.0.0.1:0"
    addr_file = os.path.join(workdir, "admin.addr")
    upstream, ntp_port = start_upstream_chronyd(workdir)
    # An "internet" service on the host for the enclave's egress: a plain HTTP server.
    site = os.path.join(workdir, "site")
    os.makedirs(site)
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("hello from outside the enclave\n")
    web = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", site],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    web_port = int(web.stdout.readline().split("port ")[1].split()[0])
    ingress_listen = "127.0.0.1:8080" if port_free(8080) else "127.0.0.1:0"
    telemetry_jsonl = os.path.join(workdir, "telemetry.jsonl")
    with open(os.path.join(workdir, "sidecar.yaml"), "w") as f:
        f.write(f"""# porthole-sidecar, on the "parent" (this host)
boundary: {{transport: "uds:{uds}"}}
admin: {{listen: "{listen}", address_file: "{addr_file}"}}
ntp: {{upstreams: ["127.0.0.1:{ntp_port}"]}}   # a chronyd on this host stands in for AWS Time Sync
ingress:
  listeners: [{{name: web, listen: "{ingress_listen}"}}]
egress:
  # The demo's "internet" is this host's loopback, which the sidecar denies by default.
  allow: ["localhost:{web_port}", "127.0.0.1:{web_port}"]
  deny: []
telemetry:
  jsonl_path: {telemetry_jsonl}   # spans and log records from the enclave, one per line (OTLP/JSON)
""")
    with open(os.path.join(workdir, "agent.yaml"), "w") as f:
        f.write(f"""# porthole-agent, inside the enclave (a network namespace with only lo)
enclave: {{name: demo}}
boundary: {{transport: "uds:{uds}"}}
ingress:
  # http1: the agent records a server span and RED metrics per request, inside the enclave
  routes: [{{listener: web, target: "127.0.0.1:8080", protocol: http1, service_name: demo-workload,
             http_routes: ["/health", "/echo", "/payload", "/egress", "/encrypt", "/metrics"]}}]
workload:     # the agent supervises the demo workload; its stdout/stderr become log records
  command: ["{os.path.join(BIN, "porthole-demo-workload")}", --listen, "127.0.0.1:8080", --proxy, "127.0.0.1:3128"]
  service_name: demo-workload
  restart: on-failure
workload_metrics:   # scraped inside the enclave, served by the sidecar with an enclave label
  targets: [{{name: demo, url: "http://127.0.0.1:8080/metrics", interval: 2s, timeout: 1s}}]
telemetry:
  batch: {{spans: {{scheduled_delay: 500ms}}, logs: {{scheduled_delay: 500ms}}}}   # default 5s
egress:
  proxy_listen: 127.0.0.1:3128          # HTTPS_PROXY for the workload
  allow: ["localhost:{web_port}"]       # the enclave's own policy
ntp:
  measure_interval: 2s
  chronyd:    # the agent runs chronyd in the enclave, pointed at its own NTP relay
    run: true
    adjust_clock: false   # -x: the simulated enclave shares the host's clock; don't touch it
    runtime_dir: {workdir}/chrony-enclave
    config_template: {os.path.join(ROOT, "ntp", "chrony.conf")}
""")

    enclave = simenclave.SimulatedEnclave(uds_dir=uds)
    sidecar = None
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        enclave.up()
        say(f"{BOLD}1. The enclave{RESET}: network namespace {enclave.netns}; its only interfaces:")
        ifaces = enclave.run(["ip", "-brief", "addr"]).stdout.strip()
        say("   " + ifaces.replace("\n", "\n   "))

        sidecar_log = os.path.join(workdir, "sidecar.log")
        agent_log = os.path.join(workdir, "agent.log")
        with open(sidecar_log, "ab") as log:
            sidecar = subprocess.Popen([os.path.join(BIN, "porthole-sidecar"), "--config",
                                        os.path.join(workdir, "sidecar.yaml")],
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        admin = "http://" + wait_for(lambda: open(addr_file).read().strip(), 15, "the sidecar's admin port")
        enclave.spawn([os.path.join(BIN, "porthole-agent"), "--config", os.path.join(workdir, "agent.yaml")],
                      log_path=agent_log)
        say(f"\n{BOLD}2. Started{RESET} porthole-sidecar on the host (admin {admin}) and porthole-agent in the "
            f"enclave,\n   which runs the demo workload as its supervised child; their only link is the emulated "
            f"vsock directory\n   {uds}")

        port = int(admin.rsplit(":", 1)[1])
        reachable = simenclave.tcp_reachable_from(enclave, "127.0.0.1", port)
        say(f"\n{BOLD}3. Isolation{RESET}: from inside the enclave, the sidecar's TCP port 127.0.0.1:{port} is "
            f"{'REACHABLE (isolation broken!)' if reachable else 'unreachable, as in a real enclave'}")

        try:
            wait_for(lambda: get(admin + "/readyz")[0] == 200, 20, "/readyz")
        except SystemExit:
            with open(agent_log) as f:
                say("   the agent's log ends with:\n   " + "   ".join(f.readlines()[-5:]))
            raise
        wait_for(lambda: 'porthole_chrony_up{enclave="demo",side="enclave"} 1' in get(admin + "/metrics")[1]
                 and 'porthole_ntp_synchronized{enclave="demo",side="enclave"} 1' in get(admin + "/metrics")[1],
                 30, "the enclave's clock to be synchronised")
        say(f"\n{BOLD}4. Time{RESET}: chronyd runs in the enclave against the agent's NTP relay (udp 127.0.0.1:123),\n"
            f"   which goes over vsock to the sidecar and on to the upstream chronyd on 127.0.0.1:{ntp_port}: synchronised.")
        say(f"   GET {admin}/readyz -> {get(admin + '/readyz')[1].strip()}")

        ingress = "http://" + json.loads(get(admin + "/listeners")[1])["ingress"]["web"]
        wait_for(lambda: get(ingress + "/health")[0] == 200, 20, "the workload through ingress")
        say(f"\n{BOLD}5. Real traffic{RESET}: the demo workload runs in the enclave; clients reach it through the")
        say(f"   sidecar's ingress listener {ingress} (one vsock stream per connection, PROXY v2 header first)")
        for path in ("/health", "/payload?size=100000", "/egress?target=localhost:%d&path=/" % web_port,
                     "/egress?target=example.com:443&path=/"):
            status, body = get(ingress + path, timeout=15)
            shown = body.strip() if len(body) < 200 else f"{len(body)} bytes"
            say(f"   GET {path:<42} -> {status} {shown}")
        say("   (/egress goes out through the enclave's CONNECT proxy, the agent's and the sidecar's allowlists,")
        say("    and DNS on the parent; example.com is not allowed, so it is refused with the reason)")
        for _ in range(200):
            get(ingress + "/echo")

        show_telemetry(ingress, telemetry_jsonl, enclave)
        show_metrics(admin)
        report = run_loadtest(ingress, admin, workdir)
        say(f"""
{BOLD}Where to look{RESET}
   the workload  curl {ingress}/echo -d hi      (through the sidecar into the enclave)
   readiness     curl {admin}/readyz
   metrics       curl {admin}/metrics      (side="enclave" = relayed from inside the enclave)
   spans, logs   {telemetry_jsonl}   (from inside the enclave, after its policy)
   load test     {report}   (porthole-loadtest's HTML report)
   process logs  {sidecar_log}
                 {agent_log}
   the enclave   ip netns exec {enclave.netns} ip addr      (only lo: no network at all)
   its clock     ip netns exec {enclave.netns} chronyc -h {workdir}/chrony-enclave/chronyd.sock tracking
   dashboards    dashboards/porthole-overview.json (Grafana), dashboards/rules/ (alerts)
   docs          README.md, docs/telemetry.md, docs/data-path.md, docs/loadtest.md, docs/configuration.md
""")
        deadline = time.monotonic() + args.duration if args.duration is not None else None
        say("Running" + (f" for {args.duration:g}s" if deadline else "; press Ctrl-C to stop and clean up") + ".")
        last = 0.0
        while not stopping and (deadline is None or time.monotonic() < deadline):
            if sidecar.poll() is not None:
                raise SystemExit(f"demo: porthole-sidecar exited with {sidecar.returncode}; see {sidecar_log}")
            if time.monotonic() - last >= 5:
                last = time.monotonic()
                status, body = get(admin + "/readyz")
                say(f"   {time.strftime('%H:%M:%S')}  /readyz {status}: {body.strip()}")
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        say("\nCleaning up: stopping the agent and the sidecar, removing the enclave namespace.")
        if sidecar and sidecar.poll() is None:
            sidecar.send_signal(signal.SIGTERM)
            try:
                sidecar.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sidecar.kill()
        enclave.down()
        web.terminate()
        upstream.terminate()
        try:
            upstream.wait(timeout=10)
        except subprocess.TimeoutExpired:
            upstream.kill()
        say(f"Done. Logs are kept in {workdir}")


if __name__ == "__main__":
    main()
