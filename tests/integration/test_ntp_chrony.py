#!/usr/bin/env python3
"""NTP over vsock with real chronyd on both sides.

    chronyd (client, -x) --UDP 127.0.0.1:12300--> porthole-agent  [simulated enclave, lo only]
        --uds "vsock" port 7003--> porthole-sidecar --UDP--> chronyd (server, local stratum 8, -x)  [host]

Checks, all polled with deadlines:
  * within 30 s the enclave's chronyd selects the relay as its source (`^*`) and reports
    |System time offset| < 1 ms, and the agent's own measurement through the relay says
    synchronised with |offset| < 1 ms; the sidecar counts replies and sees its upstream up;
  * the upstream stops -> unsynchronised, upstream down, timeouts counted; it comes back on the
    same port -> synchronised again;
  * the agent runs chronyd itself (ntp.chronyd.run) from the bundled template and exports
    chronyc tracking as porthole_chrony_*;
  * bad requests from inside the enclave (too short, mode 4, 2000 bytes) are dropped and counted
    by reason, and none of them produces a reply (no amplification), while a valid request
    sent on the same socket gets exactly one reply carrying its transmit timestamp.

Both chronyd run with -x: they measure and serve but never touch this machine's clock (the
simulated enclave shares the host's clock, see docs/simulated-enclave.md).

ChronyServer (the upstream) is also used by bench/ntp/ntp_rtt.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric_value, poll  # noqa: E402

from ntp_peers import (CHRONYC, CHRONYD, NTP_EPOCH_OFFSET, RELAY_PORT, TEMPLATE, ChronyServer,  # noqa: E402,F401
                       free_udp_port, ntp_request, ntp_timestamp, query)
SYNC_DEADLINE = 30          # the "within 30 s"
STATE_CHANGE_DEADLINE = 30  # sync_timeout 4s + request timeouts + a scrape, with room to spare


def render_client_config(runtime_dir: str, relay_address: str = "127.0.0.1", relay_port: int = RELAY_PORT) -> str:
    """ntp/chrony.conf with its placeholders substituted, written to runtime_dir (mode 0700,
    which chronyd requires of its command socket's directory); returns the path."""
    os.makedirs(runtime_dir, exist_ok=True)
    os.chmod(runtime_dir, 0o700)
    with open(TEMPLATE) as f:
        text = f.read()
    text = (text.replace("@RELAY_ADDRESS@", relay_address).replace("@RELAY_PORT@", str(relay_port))
            .replace("@RUNTIME_DIR@", runtime_dir))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise AssertionError(f"{TEMPLATE}: unknown placeholders {sorted(set(left))}")
    path = os.path.join(runtime_dir, "chrony.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def ntp_stack(upstream_port: int, **kwargs) -> harness.Stack:
    return harness.Stack(
        sidecar_config={"ntp": {"upstreams": [f"127.0.0.1:{upstream_port}"], "request_timeout": "500ms",
                                "failover_after": 2}},
        agent_config={"ntp": {"listen": f"127.0.0.1:{RELAY_PORT}", "measure_interval": "1s",
                              "sync_timeout": "4s"}},
        **kwargs)


# Runs inside the enclave: sends each packet of argv[1] (JSON list of hex strings) from one UDP
# socket to the relay, then collects replies for argv[2] seconds; prints them as JSON hex.
SEND_AND_COLLECT = r"""
import json, socket, sys, time
pkts = [bytes.fromhex(h) for h in json.loads(sys.argv[1])]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in pkts:
    s.sendto(p, ("127.0.0.1", int(sys.argv[3])))
replies, deadline = [], time.monotonic() + float(sys.argv[2])
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        replies.append(s.recvfrom(65536)[0].hex())
    except socket.timeout:
        break
print(json.dumps(replies))
"""


def send_from_enclave(stack, packets, wait: float = 2.0):
    r = stack.enclave.run([sys.executable, "-c", SEND_AND_COLLECT, json.dumps([p.hex() for p in packets]),
                           str(wait), str(RELAY_PORT)], timeout=wait + 20)
    if r.returncode != 0:
        raise AssertionError(f"sender in the enclave failed ({r.returncode}): {r.stderr}")
    return [bytes.fromhex(h) for h in json.loads(r.stdout)]


def metrics_when(stack, pred, timeout, what):
    """Polls /metrics until pred(text) holds; returns the text."""
    last = {}

    def check():
        text = stack.metrics()
        last["text"] = text
        return text if pred(text) else None
    try:
        return poll(check, timeout, what, interval=0.25)
    except AssertionError as e:
        ntp = "\n".join(l for l in last.get("text", "").splitlines()
                        if ("porthole_ntp" in l or "porthole_chrony" in l) and not l.startswith("#"))
        raise AssertionError(f"{e}\nlast NTP metrics:\n{ntp}") from None


def stat_mode(path: str) -> int:
    return os.stat(path).st_mode & 0o777


def value(text, name, **labels):
    v = metric_value(text, name, **labels)
    return float("nan") if v is None else v


class NtpWithChrony(unittest.TestCase):
    def setUp(self):
        for tool in (CHRONYD, CHRONYC):
            if not os.access(tool, os.X_OK):
                self.fail(f"{tool} not found: install the Debian package 'chrony' (scripts/setup does)")

    def test_sync_lose_upstream_and_recover(self):
        # The upstream lives in its own directory: it starts before the stack (whose sidecar
        # config names its port) and is restarted in the middle of the test.
        base = tempfile.mkdtemp(prefix="porthole-ntp-")
        upstream = None
        client = None
        try:
            upstream = ChronyServer(base).start()
            with ntp_stack(upstream.port) as stack:
                stack.wait_ready()
                runtime = os.path.join(stack.workdir, "chrony-client")
                conf = render_client_config(runtime)
                sock = os.path.join(runtime, "chronyd.sock")
                client = stack.enclave.spawn([CHRONYD, "-d", "-x", "-u", "root", "-f", conf],
                                             log_path=os.path.join(stack.workdir, "chronyd-client.log"))
                t0 = time.monotonic()
                try:
                    self._check_synchronised(stack, client, sock, upstream.port, t0)

                    # Stop the upstream: everything downstream notices.
                    upstream.stop()
                    server = f"127.0.0.1:{upstream.port}"
                    text = metrics_when(
                        stack,
                        lambda t: (value(t, "porthole_ntp_synchronized", side="enclave") == 0
                                   and value(t, "porthole_ntp_upstream_up", side="parent", server=server) == 0
                                   and value(t, "porthole_ntp_upstream_requests_total", side="parent",
                                             server=server, result="timeout") > 0
                                   and value(t, "porthole_ntp_measurements_total", side="enclave",
                                             result="timeout") > 0),
                        STATE_CHANGE_DEADLINE, "unsynchronised, upstream down and timeouts counted")
                    self.assertGreater(value(text, "porthole_ntp_last_sync_age_seconds", side="enclave"), 4)

                    # Start it again on the same port: back to synchronised.
                    upstream.start()
                    metrics_when(
                        stack,
                        lambda t: (value(t, "porthole_ntp_synchronized", side="enclave") == 1
                                   and value(t, "porthole_ntp_upstream_up", side="parent", server=server) == 1
                                   and abs(value(t, "porthole_ntp_clock_offset_seconds", side="enclave")) < 1e-3),
                        STATE_CHANGE_DEADLINE, "synchronised again after the upstream came back")
                except BaseException:
                    self._dump(stack, upstream)
                    raise
                finally:
                    stack.enclave.stop(client)
        finally:
            if upstream is not None:
                upstream.stop()
            shutil.rmtree(base, ignore_errors=True)

    def _check_synchronised(self, stack, client, sock, upstream_port, t0):
        def chronyc(*args):
            if client.poll() is not None:
                raise AssertionError(f"chronyd in the enclave exited with {client.returncode}:\n"
                                     + self._read(os.path.join(stack.workdir, "chronyd-client.log")))
            r = stack.enclave.run([CHRONYC, "-h", sock, "-n", *args], timeout=10)
            return r.stdout if r.returncode == 0 else ""

        last = {}

        def selected_and_close():
            sources = chronyc("sources")
            tracking = chronyc("tracking")
            last.update(sources=sources, tracking=tracking)
            if not re.search(r"^\^\*\s+127\.0\.0\.1\s", sources, re.M):
                return None
            m = re.search(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow)", tracking, re.M)
            return m and float(m.group(1)) < 1e-3 and float(m.group(1))
        try:
            offset = poll(selected_and_close, SYNC_DEADLINE - (time.monotonic() - t0),
                          "chronyd in the enclave to select the relay with |offset| < 1 ms", interval=0.25)
        except AssertionError as e:
            raise AssertionError(f"{e}\nsources:\n{last.get('sources')}\ntracking:\n{last.get('tracking')}") from None
        print(f"chronyd selected the relay after {time.monotonic() - t0:.1f}s, |offset| {offset * 1e6:.1f}us",
              file=sys.stderr)

        server = f"127.0.0.1:{upstream_port}"
        text = metrics_when(
            stack,
            lambda t: (value(t, "porthole_ntp_synchronized", side="enclave") == 1
                       and abs(value(t, "porthole_ntp_clock_offset_seconds", side="enclave")) < 1e-3
                       and value(t, "porthole_ntp_relayed_total", side="parent", direction="reply") > 0
                       and value(t, "porthole_ntp_upstream_up", side="parent", server=server) == 1),
            max(1.0, SYNC_DEADLINE - (time.monotonic() - t0)),
            "the agent to report synchronised with |offset| < 1 ms and the sidecar its upstream up")
        self.assertEqual(value(text, "porthole_ntp_upstream_selected", side="parent", server=server), 1)
        self.assertGreaterEqual(value(text, "porthole_ntp_round_trip_seconds", side="enclave"), 0)
        self.assertGreaterEqual(value(text, "porthole_ntp_upstream_rtt_seconds", side="parent", server=server), 0)
        self.assertLess(value(text, "porthole_ntp_last_sync_age_seconds", side="enclave"), 4)
        self.assertGreater(value(text, "porthole_ntp_measurements_total", side="enclave", result="ok"), 0)
        self.assertGreater(value(text, "porthole_ntp_relayed_total", side="enclave", direction="request"), 0)
        # The relay never answers more than it was asked.
        for side in ("enclave", "parent"):
            self.assertLessEqual(value(text, "porthole_ntp_relayed_total", side=side, direction="reply"),
                                 value(text, "porthole_ntp_relayed_total", side=side, direction="request"), side)

    def test_bad_requests_are_dropped_counted_and_never_answered(self):
        base = tempfile.mkdtemp(prefix="porthole-ntp-")
        upstream = None
        try:
            upstream = ChronyServer(base).start()
            with ntp_stack(upstream.port) as stack:
                stack.wait_ready()
                # The relay is up and forwards: a valid request gets its reply.
                poll(lambda: len(send_from_enclave(stack, [ntp_request()], wait=0.5)) == 1, 20,
                     "a first valid request through the relay to be answered")
                before = stack.metrics()
                for reason in ("too_short", "wrong_mode", "too_long"):
                    self.assertEqual(value(before, "porthole_ntp_dropped_total", side="enclave",
                                           direction="request", reason=reason), 0, reason)

                valid = ntp_request()
                bad = [ntp_request(size=20),           # too short
                       ntp_request(mode=4),            # a reply (mode 4) sent to the relay
                       ntp_request(size=2000)]         # far longer than any NTP packet
                replies = send_from_enclave(stack, bad + [valid], wait=2.0)
                # Exactly one reply, and it answers the valid request: nothing for the bad ones.
                self.assertEqual(len(replies), 1, [r[:48].hex() for r in replies])
                self.assertEqual(replies[0][0] & 0x7, 4, "reply mode")
                self.assertEqual(replies[0][24:32], valid[40:48], "reply origin timestamp")

                text = metrics_when(
                    stack,
                    lambda t: all(value(t, "porthole_ntp_dropped_total", side="enclave", direction="request",
                                        reason=r) >= 1 for r in ("too_short", "wrong_mode", "too_long")),
                    10, "the three bad requests to be counted")
                for reason in ("too_short", "wrong_mode", "too_long"):
                    self.assertEqual(value(text, "porthole_ntp_dropped_total", side="enclave",
                                           direction="request", reason=reason), 1, reason)
                # None of them left the enclave: the sidecar dropped nothing as a request.
                parent_drops = sum(v for n, ls, v in harness.parse_metrics(text)
                                   if n == "porthole_ntp_dropped_total" and ls.get("side") == "parent"
                                   and ls.get("direction") == "request" and ls.get("reason") != "timeout")
                self.assertEqual(parent_drops, 0)
        finally:
            if upstream is not None:
                upstream.stop()
            shutil.rmtree(base, ignore_errors=True)

    def test_agent_runs_chronyd_from_the_bundled_template(self):
        """ntp.chronyd.run: the agent renders ntp/chrony.conf, supervises chronyd (-x here) and
        exports chronyc tracking as porthole_chrony_*."""
        base = tempfile.mkdtemp(prefix="porthole-ntp-")
        upstream = None
        try:
            upstream = ChronyServer(base).start()
            runtime = os.path.join(base, "enclave-chrony")
            stack_cm = harness.Stack(
                sidecar_config={"ntp": {"upstreams": [f"127.0.0.1:{upstream.port}"], "request_timeout": "500ms"}},
                agent_config={"ntp": {"listen": f"127.0.0.1:{RELAY_PORT}", "measure_interval": "1s",
                                      "sync_timeout": "4s",
                                      "chronyd": {"run": True, "adjust_clock": False, "config_template": TEMPLATE,
                                                  "runtime_dir": runtime}}})
            with stack_cm as stack:
                stack.wait_ready()
                text = metrics_when(
                    stack,
                    lambda t: (value(t, "porthole_chrony_up", side="enclave") == 1
                               and value(t, "porthole_chrony_stratum", side="enclave") == 9
                               and abs(value(t, "porthole_chrony_system_time_offset_seconds", side="enclave")) < 1e-3),
                    SYNC_DEADLINE, "chronyd run by the agent to sync to the relay (stratum 9, |offset| < 1 ms)")
                self.assertEqual(value(text, "porthole_chrony_leap_status", side="enclave"), 0)
                self.assertLess(abs(value(text, "porthole_chrony_frequency_ppm", side="enclave")), 1e6)
                self.assertEqual(stat_mode(runtime), 0o700)
                r = stack.enclave.run([CHRONYC, "-h", os.path.join(runtime, "chronyd.sock"), "-n", "sources"])
                self.assertRegex(r.stdout, r"(?m)^\^\*\s+127\.0\.0\.1\s", r.stderr)
        finally:
            if upstream is not None:
                upstream.stop()
            shutil.rmtree(base, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def _dump(self, stack, upstream):
        print(f"----- chronyd (enclave) -----\n{self._read(os.path.join(stack.workdir, 'chronyd-client.log'))}\n"
              f"----- chronyd (upstream) -----\n{upstream.log() if upstream else ''}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
