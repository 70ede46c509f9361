"""Real NTP peers for the integration tests and bench/ntp: a chronyd upstream on the host and
hand-built NTP client packets. Stdlib only."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time

import harness
from harness import poll

CHRONYD = shutil.which("chronyd") or "/usr/sbin/chronyd"
CHRONYC = shutil.which("chronyc") or "/usr/bin/chronyc"
TEMPLATE = os.path.join(harness.SOURCE_DIR, "ntp", "chrony.conf")

RELAY_PORT = 12300

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


# ---------------------------------------------------------------------------------------------
# NTP packets


def ntp_timestamp(t: float | None = None) -> int:
    """Unix time -> 64-bit NTP timestamp."""
    t = time.time() if t is None else t
    return int((t + NTP_EPOCH_OFFSET) * (1 << 32)) & ((1 << 64) - 1)


def ntp_request(transmit: int | None = None, mode: int = 3, size: int = 48) -> bytes:
    """A client request: LI 0, version 4, `mode`, transmit timestamp at offset 40, padded/cut to
    `size` bytes."""
    transmit = ntp_timestamp() if transmit is None else transmit
    pkt = bytes([(0 << 6) | (4 << 3) | mode]) + bytes(39) + struct.pack(">Q", transmit)
    return (pkt + bytes(max(0, size - len(pkt))))[:size]


def free_udp_port() -> int:
    """A UDP port that was free a moment ago. chronyd cannot bind port 0 and report it, so the
    port is picked here and released; another process could take it before chronyd binds it (a
    small race). ChronyServer.start() notices (the server does not answer) and says so."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(host: str, port: int, timeout: float = 0.5):
    """One NTP exchange from this process -> the reply bytes, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        req = ntp_request()
        s.sendto(req, (host, port))
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            return None
        return data if len(data) >= 48 and data[24:32] == req[40:48] else None


class ChronyServer:
    """chronyd on the host as the upstream NTP server: local stratum 8, allow 127.0.0.0/8, no
    command port, -x (never touches the clock), foreground (-d) so it is our child."""

    def __init__(self, workdir: str, port: int | None = None, name: str = "upstream"):
        self.dir = os.path.join(workdir, f"chrony-{name}")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.port = port or free_udp_port()
        self.conf = os.path.join(self.dir, "server.conf")
        self.log_path = os.path.join(self.dir, "chronyd.log")
        self.proc: subprocess.Popen | None = None
        with open(self.conf, "w") as f:
            f.write(f"port {self.port}\n"
                    "local stratum 8\n"
                    "allow 127.0.0.0/8\n"
                    "cmdport 0\n"
                    f"pidfile {self.dir}/chronyd.pid\n"
                    f"driftfile {self.dir}/chronyd.drift\n")

    def start(self, timeout: float = 10) -> "ChronyServer":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([CHRONYD, "-d", "-u", "root", "-x", "-f", self.conf],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def serving():
            if self.proc.poll() is not None:
                raise AssertionError(f"chronyd (upstream) exited with {self.proc.returncode}:\n{self.log()}")
            return query("127.0.0.1", self.port) is not None
        try:
            poll(serving, timeout, f"the upstream chronyd to answer on 127.0.0.1:{self.port}", interval=0.1)
        except AssertionError as e:
            self.stop()
            raise AssertionError(f"{e} (if another process took the port between free_udp_port() and "
                                 f"chronyd's bind, rerun)\n{self.log()}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
