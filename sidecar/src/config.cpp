#include "porthole/sidecar/config.hpp"

#include <charconv>

#include "porthole/common/shutdown.hpp"
#include "porthole/relay/allowlist.hpp"
#include "porthole/relay/control_protocol.hpp"

namespace porthole::sidecar {

using std::chrono::hours;
using std::chrono::milliseconds;


namespace {

void check_host_port(ConfigNode& node, const std::string& key, const std::string& text) {
  try {
    std::string host;
    std::uint16_t port = 0;
    relay::split_host_port(text, host, port);
  } catch (const ConfigError& e) {
    node.fail(key, e.what());
  }
}

IngressConfig read_ingress_config(ConfigNode node) {
  IngressConfig c;
  auto listeners = node.maps("listeners");
  for (auto& l : listeners) {
    IngressListenerConfig lc;
    lc.name = l.string("name", "");
    if (!relay::valid_peer_name(lc.name)) l.fail("name", "'" + lc.name + "' must be 1..64 characters of [A-Za-z0-9._-]");
    for (const auto& other : c.listeners) {
      if (other.name == lc.name) l.fail("name", "'" + lc.name + "' is used by another listener");
    }
    lc.listen = l.string("listen", "");
    check_host_port(l, "listen", lc.listen);
    lc.max_connections = l.integer("max_connections", lc.max_connections, 1, 1000000);
    l.reject_unknown_keys();
    c.listeners.push_back(std::move(lc));
  }
  c.connect_timeout = node.duration("connect_timeout", c.connect_timeout, milliseconds(10), hours(1));
  c.idle_timeout = node.duration("idle_timeout", c.idle_timeout, milliseconds(100), hours(24 * 7));
  c.buffer_bytes = node.bytes("buffer_bytes", c.buffer_bytes, 4096, 16 << 20);
  c.splice_pipes = relay::read_splice_pipes(node, c.splice_pipes);
  node.reject_unknown_keys();
  return c;
}

EgressConfig read_egress_config(ConfigNode node) {
  EgressConfig c;
  c.enabled = node.boolean("enabled", c.enabled);
  c.allow = relay::read_allow_rules(node, "allow", c.allow);
  c.deny = relay::read_allow_rules(node, "deny", c.deny);
  c.connect_timeout = node.duration("connect_timeout", c.connect_timeout, milliseconds(10), hours(1));
  c.request_timeout = node.duration("request_timeout", c.request_timeout, milliseconds(10), hours(1));
  relay::read_relay_limits(node, c.idle_timeout, c.max_connections, c.buffer_bytes, c.splice_pipes);
  node.reject_unknown_keys();
  return c;
}

}  // namespace

SidecarConfig read_sidecar_config(const YAML::Node& yaml, const std::string& source) {
  SidecarConfig c;
  auto root = ConfigNode::root(yaml, source);
  c.name = root.string("name", c.name);
  if (!relay::valid_peer_name(c.name)) root.fail("name", "'" + c.name + "' must be 1..64 characters of [A-Za-z0-9._-]");
  {
    auto enclave = root.map("enclave");
    c.enclave_name = enclave.string("name", c.enclave_name);
    if (!c.enclave_name.empty() && !relay::valid_peer_name(c.enclave_name)) {
      enclave.fail("name", "'" + c.enclave_name + "' must be empty (accept any) or 1..64 characters of [A-Za-z0-9._-]");
    }
    enclave.reject_unknown_keys();
  }
  c.boundary = relay::read_boundary_config(root.map("boundary"));
  c.control = relay::read_control_config(root.map("control"), false);
  {
    auto admin = root.map("admin");
    c.admin.listen = admin.string("listen", c.admin.listen);
    try {
      std::string host;
      std::uint16_t port = 0;
      relay::split_host_port(c.admin.listen, host, port);
    } catch (const ConfigError& e) {
      admin.fail("listen", e.what());
    }
    c.admin.address_file = admin.string("address_file", c.admin.address_file);
    c.admin.scrape_timeout = admin.duration("scrape_timeout", c.admin.scrape_timeout, milliseconds(10), hours(1));
    c.admin.request_timeout = admin.duration("request_timeout", c.admin.request_timeout, milliseconds(100), hours(1));
    if (c.admin.scrape_timeout >= c.admin.request_timeout) {
      admin.fail("scrape_timeout", "must be shorter than admin.request_timeout (" +
                                       format_duration(c.admin.request_timeout) + ")");
    }
    c.admin.max_connections = admin.integer("max_connections", c.admin.max_connections, 1, 100000);
    admin.reject_unknown_keys();
  }
  c.ingress = read_ingress_config(root.map("ingress"));
  c.egress = read_egress_config(root.map("egress"));
  c.ntp = ntp::read_sidecar_ntp_config(root.map("ntp"));
  c.telemetry = read_sidecar_telemetry_config(root.map("telemetry"));
  c.logging = read_logging_config(root.map("logging"));
  c.drain_timeout = read_shutdown_config(root.map("shutdown"));
  root.reject_unknown_keys();
  return c;
}

SidecarConfig load_sidecar_config(const std::string& path) { return read_sidecar_config(load_yaml_file(path), path); }

const std::string& default_sidecar_config_yaml() {
  static const std::string text = R"(# porthole-sidecar configuration (every key is optional; these are the defaults).
# Documented in docs/configuration.md.

# This sidecar's name, sent to the agent in the control hello.
name: sidecar

enclave:
  # The enclave name the agent must announce; empty accepts any.
  name: ""

boundary:
  # How the enclave is reached: vsock (AWS Nitro), uds:DIR (vsock emulated on Unix sockets,
  # the simulated enclave) or tcp:HOST (development only).
  transport: vsock
  # The parent's CID (the sidecar listens here) and the enclave's CID.
  parent_cid: 3
  enclave_cid: 16
  # vsock ports: control, NTP and egress on the parent; ingress on the enclave.
  control_port: 7000
  ntp_port: 7003
  egress_port: 7002
  telemetry_port: 7001
  ingress_port: 8000
  # SO_VM_SOCKETS_BUFFER_SIZE for vsock connections.
  vsock_buffer_bytes: 1MiB

control:
  # An agent that connects must say hello within this time.
  hello_timeout: 5s
  # Heartbeats are sent this often; a session silent for heartbeat_timeout is closed.
  heartbeat_interval: 1s
  heartbeat_timeout: 5s
  # The largest control frame accepted (bounds a metrics snapshot).
  max_frame_bytes: 4MiB

admin:
  # The admin HTTP server: /healthz, /readyz, /metrics. Port 0 picks a free port.
  listen: 127.0.0.1:9901
  # When set, the bound host:port is written to this file once listening.
  address_file: ""
  # How long /metrics waits for the enclave's live metrics before serving the last snapshot.
  scrape_timeout: 2s
  # A connection that has not sent a complete request within this time is closed.
  request_timeout: 10s
  # Connections beyond this are closed at once.
  max_connections: 64

ingress:
  # TCP listeners whose connections are relayed into the enclave, each one vsock stream to
  # the agent starting with a PROXY v2 header naming the listener, e.g.
  #   listeners: [{name: web, listen: "0.0.0.0:443", max_connections: 1024}]
  # (the agent maps the name to the workload's address; port 0 picks a free port).
  listeners: []
  # Connecting to the agent must take no longer than this.
  connect_timeout: 5s
  # A connection with no byte either way for this long is aborted.
  idle_timeout: 5m
  # Per direction of a connection, held only while bytes are in flight.
  buffer_bytes: 64KiB
  # Bytes move socket -> pipe -> socket with splice(2), no copy through the process; a pipe
  # (two descriptors) is held only while bytes are in flight. At most this many at once (then
  # buffers); 0 turns splice off.
  splice_pipes: 1024

egress:
  # Connect to destinations the agent asks for (its HTTP CONNECT proxy and forwards).
  enabled: true
  # Destinations allowed (HOST:PORTS; HOST a name, *.domain, *, IP or CIDR; PORTS n, a-b or *).
  # Nothing is allowed by default.
  allow: []
  # Destinations denied even if allowed (checked against the name and every resolved
  # address): by default the host's own loopback and link-local, metadata service included.
  deny: ["127.0.0.0/8:*", "169.254.0.0/16:*", "[::1]:*", "[fe80::/10]:*"]
  connect_timeout: 5s
  # The agent must send its destination request within this time.
  request_timeout: 5s
  idle_timeout: 5m
  # Egress connections open at once, at most.
  max_connections: 1024
  buffer_bytes: 64KiB
  splice_pipes: 1024

ntp:
  # Relay NTP between chronyd in the enclave and the upstream servers (docs/ntp.md).
  enabled: true
  # Upstream NTP servers (host:port), in order of preference; the AWS Time Sync endpoint.
  upstreams: ["169.254.169.123:123"]
  # A request the upstream has not answered within this time is dropped (and counted).
  request_timeout: 2s
  # Requests from the enclave beyond this rate are dropped (burst: twice the rate).
  max_requests_per_second: 32
  # Requests waiting for a reply, at most.
  max_outstanding: 64
  # Consecutive timeouts before the upstream is marked down and the next one is used.
  failover_after: 3

telemetry:
  # Accept the agent's span and log batches on boundary.telemetry_port (docs/telemetry.md).
  enabled: true
  # A larger frame from the agent closes the channel.
  max_frame_bytes: 4MiB
  # A batch's OTLP protobuf, after gzip decompression, at most (larger: rejected).
  max_batch_bytes: 16MiB
  # One OTLP/JSON object per span or log record per line; "-" = stdout, "" = off.
  jsonl_path: ""
  # Rotate the file before it grows past this (0 = never; logrotate + SIGHUP also works).
  jsonl_rotate_bytes: 0
  jsonl_keep_files: 3
  # The OTLP/HTTP exporter to a collector; endpoint "" turns it off.
  otlp:
    # Base URL (http:// only); signals go to endpoint + /v1/traces and /v1/logs.
    endpoint: ""
    # Per-signal URLs used as they are; "" derives them from endpoint.
    traces_endpoint: ""
    logs_endpoint: ""
    metrics_endpoint: ""
    # Extra request headers, e.g. {authorization: "Bearer ..."}; never logged.
    headers: {}
    # protobuf or json; none or gzip.
    encoding: protobuf
    compression: none
    # One attempt (connect, write, response) at most.
    timeout: 10s
    # Requests waiting or being retried, at most (beyond: dropped, buffer_full).
    max_queue_bytes: 16MiB
    max_queue_requests: 1024
    # Retries of 429/502/503/504 and connection errors: exponential backoff with jitter,
    # or the collector's Retry-After; a request is given up after max_elapsed.
    initial_backoff: 1s
    max_backoff: 30s
    max_elapsed: 5m

logging:
  # text or json (one JSON object per line).
  format: text
  # trace, debug, info, warn, error, critical or off; per component under levels.
  level: info
  levels: {}

shutdown:
  # On SIGTERM/SIGINT: stop accepting, then wait at most this long for work in flight.
  drain_timeout: 5s
)";
  return text;
}

}  // namespace porthole::sidecar
