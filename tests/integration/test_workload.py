#!/usr/bin/env python3
"""The agent as the workload's supervisor and Prometheus scraper, end to end in the simulated
enclave: porthole-agent starts porthole-demo-workload inside the enclave, scrapes its /metrics,
and the sidecar's /metrics on the host shows the workload's families with the enclave label and
porthole_workload_up 1. Killing the workload is counted and it is restarted (up goes 0, then 1
again); what the telemetry policy forbids never reaches the sidecar; the workload's stderr lines
and the agent's own log records reach the sidecar through the log pipeline; SIGTERM to the agent
stops the workload too. See docs/workload.md. No sleeps: every wait polls with a deadline.
"""

import os
import shutil
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import metric_value, parse_metrics, poll  # noqa: E402

WORKLOAD = os.path.join(harness.BIN_DIR, "porthole-demo-workload")
PORT = 8080  # inside the enclave's own network namespace


def agent_config():
    return {
        "workload": {
            "command": [WORKLOAD, "--listen", f"127.0.0.1:{PORT}"],
            "restart": "on-failure",
            # Long enough that a scrape sees the workload down before it is back.
            "restart_backoff": {"initial": "2s", "max": "4s"},
            "stop_timeout": "3s",
            "service_name": "demo",
        },
        "workload_metrics": {
            "targets": [{"name": "demo", "url": f"http://127.0.0.1:{PORT}/metrics",
                         "interval": "300ms", "timeout": "250ms"}],
        },
        "telemetry": {
            "policy": {
                # A family and a label the enclave decided must not leave it.
                "metric_names": {"allow": ["*"], "deny": ["demo_request_duration_*"]},
                "metric_labels": {"allow": ["*"], "deny": ["code"]},
                # The workload's lines may leave (bodies are off by default).
                "log_bodies": True,
            },
            "batch": {"logs": {"scheduled_delay": "200ms"}},
        },
    }


def children_of(pid):
    """Pids whose parent is pid (from /proc, no pgrep needed)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def log_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


class WorkloadTest(unittest.TestCase):
    def test_supervised_and_scraped_workload(self):
        workload_pids = []
        out_dir = tempfile.mkdtemp(prefix="porthole-it-workload-")
        self.addCleanup(shutil.rmtree, out_dir, True)
        jsonl = os.path.join(out_dir, "telemetry.jsonl")  # the sidecar writes shipped records here
        with harness.Stack(agent_config=agent_config(),
                           sidecar_config={"telemetry": {"jsonl_path": jsonl}}) as stack:
            try:
                stack.wait_ready()

                def relayed():
                    text = stack.metrics()
                    ok = (metric_value(text, "porthole_workload_up", enclave="itest", target="demo") == 1
                          and metric_value(text, "demo_requests_total", enclave="itest", target="demo",
                                           path="/metrics") is not None)
                    return text if ok else None
                text = poll(relayed, 30, "the workload's metrics at the sidecar")

                # Names kept; enclave label gained; the policy held inside the enclave.
                series = [(n, ls) for n, ls, _ in parse_metrics(text) if n.startswith("demo_")]
                self.assertTrue(series)
                for name, labels in series:
                    self.assertEqual(labels.get("enclave"), "itest", name)
                    self.assertEqual(labels.get("target"), "demo", name)
                    self.assertNotIn("code", labels, name)
                self.assertNotIn("demo_request_duration", text)
                self.assertEqual(metric_value(text, "porthole_workload_running", enclave="itest"), 1)
                self.assertGreater(metric_value(
                    text, "porthole_telemetry_policy_actions_total", enclave="itest", side="enclave",
                    kind="metric_family", reason="not_allowed"), 0)
                # Exposition conventions: no timestamps on relayed samples.
                for line in text.splitlines():
                    if line.startswith("demo_"):
                        self.assertEqual(len(line.split()), 2, line)

                # Its stderr lines and the agent's own log records went through the log pipeline
                # to the sidecar (written there as OTLP/JSON lines).
                def shipped(*needles):
                    return [line for line in log_lines(jsonl) if all(n in line for n in needles)]
                workload_line = poll(lambda: shipped("listening on http://127.0.0.1:8080"), 20,
                                     "the workload's stderr line at the sidecar")[0]
                self.assertIn('"demo"', workload_line)      # service.name
                self.assertIn('"stderr"', workload_line)    # log.iostream
                self.assertIn('"WARN"', workload_line)
                poll(lambda: shipped("workload: started", "porthole-agent"), 20,
                     "the agent's own log record at the sidecar")

                # The agent supervises the workload: it is the agent's child.
                workload_pids = poll(lambda: [p for p in children_of(stack.agent.pid)], 10, "the workload process")
                pid = workload_pids[0]
                os.kill(pid, signal.SIGKILL)

                poll(lambda: metric_value(stack.metrics(), "porthole_workload_up", target="demo") == 0,
                     10, "porthole_workload_up to go 0 while the workload is down")
                def restarted():
                    t = stack.metrics()
                    return (metric_value(t, "porthole_workload_restarts_total", enclave="itest") == 1
                            and metric_value(t, "porthole_workload_up", target="demo") == 1) and t
                text = poll(restarted, 20, "the restarted workload to be scraped again")
                self.assertEqual(metric_value(text, "porthole_workload_exits_total", reason="signal"), 1)
                self.assertEqual(metric_value(text, "porthole_workload_last_exit_code", enclave="itest"),
                                 128 + signal.SIGKILL)
                new_pids = poll(lambda: [p for p in children_of(stack.agent.pid) if p != pid], 10,
                                "the new workload process")
                workload_pids += new_pids
                self.assertIn("workload: was killed by signal 9", stack.log("agent"))

                # SIGTERM to the agent stops the workload (SIGTERM to its group) before it exits.
                self.assertEqual(stack.stop_agent(signal.SIGTERM, timeout=15), 0)
                for p in new_pids:
                    self.assertFalse(alive(p), f"workload {p} outlived the agent")
                self.assertIn("workload: sending SIGTERM", stack.log("agent"))
            finally:
                for p in workload_pids:  # never leave a workload behind, whatever failed
                    if alive(p):
                        os.kill(p, signal.SIGKILL)


if __name__ == "__main__":
    unittest.main()
