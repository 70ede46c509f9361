"""Integration-test harness: porthole-agent in a simulated enclave, porthole-sidecar on the host.

    with harness.Stack() as stack:
        stack.wait_ready()
        status, body = harness.http_get(stack.admin_url + "/metrics")

Configs are written as JSON (valid YAML). Everything binds port 0 or a per-test directory, so
tests can run in parallel. No sleeps for synchronisation: poll() with a deadline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SOURCE_DIR = os.environ.get("PORTHOLE_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN_DIR = os.environ.get("PORTHOLE_BIN_DIR") or os.path.join(SOURCE_DIR, "build", "bin")
sys.path.insert(0, os.path.join(SOURCE_DIR, "scripts"))

import simenclave  # noqa: E402

SIDECAR = os.path.join(BIN_DIR, "porthole-sidecar")
AGENT = os.path.join(BIN_DIR, "porthole-agent")

# Short timers so failure detection is quick in tests; production defaults are 1s / 5s.
FAST_CONTROL = {"hello_timeout": "2s", "heartbeat_interval": "200ms", "heartbeat_timeout": "1s"}


def poll(fn, timeout: float, what: str, interval: float = 0.05):
    """Calls fn() until it returns something truthy and returns it; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except (OSError, urllib.error.URLError, ValueError) as e:  # not up yet
            last_error = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5):
    """GET url -> (status, body). HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def free_tcp_port() -> int:
    """Only for peers that cannot report a port-0 bind themselves (e.g. Prometheus)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str):
    """Prometheus text -> list of (name, {labels}, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            out.append((m.group(1), dict(_LABEL.findall(m.group(3) or "")), float(m.group(4))))
    return out


def metric_value(text: str, name: str, **labels):
    """The value of the one series of `name` whose labels include `labels`, or None."""
    found = [v for n, ls, v in parse_metrics(text)
             if n == name and all(ls.get(k) == str(want) for k, want in labels.items())]
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} matches {len(found)} series")
    return found[0] if found else None


def deep_merge(base: dict, extra: dict | None) -> dict:
    out = dict(base)
    for k, v in (extra or {}).items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Stack:
    """A simulated enclave with porthole-agent inside and porthole-sidecar on the host."""

    def __init__(self, name: str | None = None, enclave_name: str = "itest",
                 sidecar_config: dict | None = None, agent_config: dict | None = None,
                 start_agent: bool = True):
        self.enclave_name = enclave_name
        self._start_agent = start_agent
        self.workdir = tempfile.mkdtemp(prefix="porthole-it-")
        os.chmod(self.workdir, 0o755)
        self.enclave = simenclave.SimulatedEnclave(name=name)
        self.sidecar = None
        self.agent = None
        self.admin_url = ""
        self._sidecar_extra = sidecar_config
        self._agent_extra = agent_config

    # -- configs -------------------------------------------------------------------------
    def sidecar_config(self) -> dict:
        return deep_merge({
            "boundary": {"transport": f"uds:{self.enclave.uds_dir}"},
            "control": dict(FAST_CONTROL),
            "admin": {"listen": "127.0.0.1:0",
                      "address_file": os.path.join(self.workdir, "admin.addr"),
                      "scrape_timeout": "500ms"},
            "shutdown": {"drain_timeout": "2s"},
            # Tests send traffic only to loopback: no NTP server listens on the discard port.
            "ntp": {"upstreams": ["127.0.0.1:9"]},
        }, self._sidecar_extra)

    def agent_config(self) -> dict:
        return deep_merge({
            "enclave": {"name": self.enclave_name},
            "boundary": {"transport": f"uds:{self.enclave.uds_dir}"},
            "control": dict(FAST_CONTROL, reconnect={"initial": "50ms", "max": "500ms"}),
            "shutdown": {"drain_timeout": "2s"},
            "ntp": {"measure_interval": "1s", "sync_timeout": "4s"},
        }, self._agent_extra)

    def _write(self, name: str, config: dict) -> str:
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        return path

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> "Stack":
        try:
            self.enclave.up()
            self.start_sidecar()
            if self._start_agent:
                self.start_agent()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self.dump_logs()
            if self.sidecar and self.sidecar.poll() is None:
                self.sidecar.kill()
                self.sidecar.wait(timeout=10)
        finally:
            self.enclave.down()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def start_sidecar(self) -> subprocess.Popen:
        addr_file = os.path.join(self.workdir, "admin.addr")
        if os.path.exists(addr_file):
            os.unlink(addr_file)
        cfg = self._write("sidecar.json", self.sidecar_config())
        log = open(os.path.join(self.workdir, "sidecar.log"), "ab")
        self.sidecar = subprocess.Popen([SIDECAR, "--config", cfg], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        log.close()

        def address():
            if self.sidecar.poll() is not None:
                raise AssertionError(f"porthole-sidecar exited with {self.sidecar.returncode}:\n"
                                     + self.log("sidecar"))
            with open(addr_file) as f:
                return f.read().strip()
        self.admin_url = "http://" + poll(address, 20, "the sidecar's admin address file")
        return self.sidecar

    def stop_sidecar(self, sig=signal.SIGTERM, timeout: float = 10) -> int:
        self.sidecar.send_signal(sig)
        return self.sidecar.wait(timeout=timeout)

    def start_agent(self) -> subprocess.Popen:
        cfg = self._write("agent.json", self.agent_config())
        self.agent = self.enclave.spawn([AGENT, "--config", cfg],
                                        log_path=os.path.join(self.workdir, "agent.log"))
        return self.agent

    def stop_agent(self, sig=signal.SIGTERM, timeout: float = 10):
        """Sends `sig` to the agent only (not SIGKILL escalation) and returns its exit code."""
        self.agent.send_signal(sig)
        return self.agent.wait(timeout=timeout)

    # -- observations --------------------------------------------------------------------
    def readyz(self):
        return http_get(self.admin_url + "/readyz")

    def metrics(self) -> str:
        status, body = http_get(self.admin_url + "/metrics")
        assert status == 200, f"/metrics answered {status}: {body[:200]}"
        return body

    def wait_ready(self, timeout: float = 30):
        return poll(lambda: self.readyz()[0] == 200, timeout, "/readyz to answer 200")

    def wait_not_ready(self, timeout: float):
        return poll(lambda: self.readyz()[0] == 503, timeout, "/readyz to answer 503")

    def log(self, which: str) -> str:
        try:
            with open(os.path.join(self.workdir, f"{which}.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def dump_logs(self) -> None:
        for which in ("sidecar", "agent"):
            print(f"----- {which}.log -----\n{self.log(which)[-6000:]}", file=sys.stderr)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
