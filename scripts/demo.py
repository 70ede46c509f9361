#!/usr/bin/env python3
"""The demo behind scripts/demo: the simulated enclave with porthole-agent, porthole-sidecar on
the host, and a tour of what to look at. Run scripts/demo, not this file (it builds first)."""

import argparse
import json
import os
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
""")
    with open(os.path.join(workdir, "agent.yaml"), "w") as f:
        f.write(f"""# porthole-agent, inside the enclave (a network namespace with only lo)
enclave: {{name: demo}}
boundary: {{transport: "uds:{uds}"}}
ingress:
  routes: [{{listener: web, target: "127.0.0.1:8080"}}]   # the demo workload
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
        enclave.spawn([os.path.join(BIN, "porthole-demo-workload"), "--listen", "127.0.0.1:8080",
                       "--proxy", "127.0.0.1:3128"], log_path=os.path.join(workdir, "workload.log"))
        say(f"\n{BOLD}2. Started{RESET} porthole-sidecar on the host (admin {admin}) and porthole-agent in the "
            f"enclave;\n   their only link is the emulated vsock directory {uds}")

        port = int(admin.rsplit(":", 1)[1])
        reachable = simenclave.tcp_reachable_from(enclave, "127.0.0.1", port)
        say(f"\n{BOLD}3. Isolation{RESET}: from inside the enclave, the sidecar's TCP port 127.0.0.1:{port} is "
            f"{'REACHABLE (isolation broken!)' if reachable else 'unreachable, as in a real enclave'}")

        wait_for(lambda: get(admin + "/readyz")[0] == 200, 20, "/readyz")
        say(f"\n{BOLD}Time{RESET}: chronyd runs in the enclave against the agent's NTP relay (udp 127.0.0.1:123),\n"
            f"   which goes over vsock to the sidecar and on to the upstream chronyd on 127.0.0.1:{ntp_port}.")
        wait_for(lambda: 'porthole_chrony_up{enclave="demo",side="enclave"} 1' in get(admin + "/metrics")[1]
                 and 'porthole_ntp_synchronized{enclave="demo",side="enclave"} 1' in get(admin + "/metrics")[1],
                 30, "the enclave's clock to be synchronised")
        say(f"\n{BOLD}4. GET {admin}/readyz{RESET}\n   {get(admin + '/readyz')[1].strip()}")

        ingress = "http://" + json.loads(get(admin + "/listeners")[1])["ingress"]["web"]
        wait_for(lambda: get(ingress + "/health")[0] == 200, 20, "the workload through ingress")
        say(f"\n{BOLD}6. Real traffic{RESET}: the demo workload runs in the enclave; clients reach it through the")
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

        _, text = get(admin + "/metrics")
        interesting = ("porthole_enclave_up", "porthole_enclave_metrics_age_seconds", "porthole_build_info",
                       "porthole_control_connected", "porthole_control_connects_total",
                       "process_resident_memory_bytes", "process_open_fds",
                       "porthole_ntp_synchronized", "porthole_ntp_clock_offset_seconds",
                       "porthole_ntp_round_trip_seconds", "porthole_chrony_up",
                       "porthole_chrony_system_time_offset_seconds", "porthole_ntp_upstream_up",
                       "porthole_ntp_upstream_rtt_seconds", "porthole_relay_connections_opened_total",
                       "porthole_relay_errors_total")
        enclave_series = [line for line in text.splitlines() if 'side="enclave"' in line and not line.startswith("#")]
        shown = [line for line in text.splitlines()
                 if line.split("{")[0] in interesting
                 and ('side="enclave"' in line or "porthole_enclave_" in line or "porthole_ntp_upstream" in line)
                 and not line.endswith(" 0")
                 and ("porthole_relay_" not in line or 'side="enclave"' in line)]
        say(f"\n{BOLD}5. The enclave's metrics, relayed through the control channel, on {admin}/metrics{RESET}")
        for line in shown[:24]:
            say("   " + line)
        say(f"   {DIM}... {len(enclave_series)} series from inside the enclave in all{RESET}")

        say(f"""
{BOLD}Where to look{RESET}
   the workload  curl {ingress}/echo -d hi      (through the sidecar into the enclave)
   readiness     curl {admin}/readyz
   metrics       curl {admin}/metrics      (side="enclave" = relayed from inside the enclave)
   logs          {sidecar_log}
                 {agent_log}
   the enclave   ip netns exec {enclave.netns} ip addr      (only lo: no network at all)
   its clock     ip netns exec {enclave.netns} chronyc -h {workdir}/chrony-enclave/chronyd.sock tracking
   dashboards    dashboards/porthole-overview.json (Grafana), dashboards/rules/ (alerts)
   docs          README.md, docs/simulated-enclave.md, docs/configuration.md
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
