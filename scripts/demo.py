#!/usr/bin/env python3
"""The demo behind scripts/demo: the simulated enclave with porthole-agent, porthole-sidecar on
the host, and a tour of what to look at. Run scripts/demo, not this file (it builds first)."""

import argparse
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
    with open(os.path.join(workdir, "sidecar.yaml"), "w") as f:
        f.write(f"""# porthole-sidecar, on the "parent" (this host)
boundary: {{transport: "uds:{uds}"}}
admin: {{listen: "{listen}", address_file: "{addr_file}"}}
""")
    with open(os.path.join(workdir, "agent.yaml"), "w") as f:
        f.write(f"""# porthole-agent, inside the enclave (a network namespace with only lo)
enclave: {{name: demo}}
boundary: {{transport: "uds:{uds}"}}
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
            f"enclave;\n   their only link is the emulated vsock directory {uds}")

        port = int(admin.rsplit(":", 1)[1])
        reachable = simenclave.tcp_reachable_from(enclave, "127.0.0.1", port)
        say(f"\n{BOLD}3. Isolation{RESET}: from inside the enclave, the sidecar's TCP port 127.0.0.1:{port} is "
            f"{'REACHABLE (isolation broken!)' if reachable else 'unreachable, as in a real enclave'}")

        wait_for(lambda: get(admin + "/readyz")[0] == 200, 20, "/readyz")
        say(f"\n{BOLD}4. GET {admin}/readyz{RESET}\n   {get(admin + '/readyz')[1].strip()}")

        _, text = get(admin + "/metrics")
        interesting = ("porthole_enclave_up", "porthole_enclave_metrics_age_seconds", "porthole_build_info",
                       "porthole_control_connected", "porthole_control_connects_total", "porthole_control_frames_total",
                       "process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total")
        enclave_series = [line for line in text.splitlines() if 'side="enclave"' in line and not line.startswith("#")]
        shown = [line for line in text.splitlines()
                 if line.split("{")[0] in interesting and ('side="enclave"' in line or "porthole_enclave_" in line)
                 and not line.endswith(" 0")]
        say(f"\n{BOLD}5. The enclave's metrics, relayed through the control channel, on {admin}/metrics{RESET}")
        for line in shown[:18]:
            say("   " + line)
        say(f"   {DIM}... {len(enclave_series)} series from inside the enclave in all{RESET}")

        say(f"""
{BOLD}Where to look{RESET}
   readiness     curl {admin}/readyz
   metrics       curl {admin}/metrics      (side="enclave" = relayed from inside the enclave)
   logs          {sidecar_log}
                 {agent_log}
   the enclave   ip netns exec {enclave.netns} ip addr      (only lo: no network at all)
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
        say(f"Done. Logs are kept in {workdir}")


if __name__ == "__main__":
    main()
