#include "porthole/agent/config.hpp"

#include "porthole/common/shutdown.hpp"
#include "porthole/relay/control_protocol.hpp"

namespace porthole::agent {

using std::chrono::hours;
using std::chrono::milliseconds;

AgentConfig read_agent_config(const YAML::Node& yaml, const std::string& source) {
  AgentConfig c;
  auto root = ConfigNode::root(yaml, source);
  {
    auto enclave = root.map("enclave");
    c.enclave_name = enclave.string("name", c.enclave_name);
    if (!relay::valid_peer_name(c.enclave_name)) {
      enclave.fail("name", "'" + c.enclave_name + "' must be 1..64 characters of [A-Za-z0-9._-]");
    }
    enclave.reject_unknown_keys();
  }
  c.boundary = relay::read_boundary_config(root.map("boundary"));
  c.control = relay::read_control_config(root.map("control"), true);
  c.ntp = ntp::read_agent_ntp_config(root.map("ntp"));
  c.logging = read_logging_config(root.map("logging"));
  c.drain_timeout = read_shutdown_config(root.map("shutdown"));
  root.reject_unknown_keys();
  return c;
}

AgentConfig load_agent_config(const std::string& path) { return read_agent_config(load_yaml_file(path), path); }

const std::string& default_agent_config_yaml() {
  static const std::string text = R"(# porthole-agent configuration (every key is optional; these are the defaults).
# Documented in docs/configuration.md. This file is part of the enclave image, so it is
# covered by the enclave's attestation measurements.

enclave:
  # This enclave's name: announced to the sidecar and used as the `enclave` label.
  name: enclave

boundary:
  # How the parent is reached: vsock (AWS Nitro), uds:DIR (vsock emulated on Unix sockets,
  # the simulated enclave) or tcp:HOST (development only).
  transport: vsock
  # The parent's CID (the agent dials it) and this enclave's CID.
  parent_cid: 3
  enclave_cid: 16
  # The control channel's and the NTP channel's vsock ports on the parent.
  control_port: 7000
  ntp_port: 7003
  # SO_VM_SOCKETS_BUFFER_SIZE for vsock connections.
  vsock_buffer_bytes: 1MiB

control:
  # The sidecar must say hello within this time after the connection is made.
  hello_timeout: 5s
  # Heartbeats are sent this often; a session silent for heartbeat_timeout is closed.
  heartbeat_interval: 1s
  heartbeat_timeout: 5s
  # The largest control frame accepted and sent (bounds a metrics snapshot).
  max_frame_bytes: 4MiB
  # Reconnecting to the sidecar: exponential backoff from initial to max, with jitter; forever.
  reconnect:
    initial: 100ms
    max: 30s
    multiplier: 2

ntp:
  # Serve NTP to chronyd in the enclave through the sidecar (docs/ntp.md).
  enabled: true
  # The UDP address chronyd uses as its server.
  listen: 127.0.0.1:123
  # Requests beyond this rate are dropped (burst: twice the rate).
  max_requests_per_second: 16
  # Requests waiting for a reply, at most.
  max_outstanding: 64
  # A request without a reply after this time is dropped (and counted).
  request_timeout: 5s
  # The agent's own measurement of the enclave clock through the relay; 0s turns it off.
  measure_interval: 16s
  # |offset| above this counts as unsynchronised.
  max_offset: 100ms
  # No good measurement for this long counts as unsynchronised.
  sync_timeout: 1m
  # chronyd's command socket, to read `chronyc tracking` (set automatically when the agent
  # runs chronyd); empty: do not read chrony.
  chrony_socket: ""
  chronyd:
    # Run chronyd as a supervised child, configured from the bundled template.
    run: false
    path: /usr/sbin/chronyd
    chronyc_path: /usr/bin/chronyc
    # false runs chronyd -x: it measures but never touches the clock (simulated enclaves).
    adjust_clock: true
    runtime_dir: /run/porthole/chrony
    config_template: /etc/porthole/chrony.conf.in

logging:
  # text or json (one JSON object per line).
  format: text
  # trace, debug, info, warn, error, critical or off; per component under levels.
  level: info
  levels: {}

shutdown:
  # On SIGTERM/SIGINT: close the control session, then wait at most this long.
  drain_timeout: 5s
)";
  return text;
}

}  // namespace porthole::agent
