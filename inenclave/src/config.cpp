#include "porthole/agent/config.hpp"
#include "porthole/agent/http_observer.hpp"

#include "porthole/common/shutdown.hpp"
#include "porthole/relay/allowlist.hpp"
#include "porthole/relay/control_protocol.hpp"

namespace porthole::agent {

using std::chrono::hours;
using std::chrono::milliseconds;

namespace {

void check_host_port(ConfigNode& node, const std::string& key, const std::string& text, bool allow_empty) {
  if (allow_empty && text.empty()) return;
  try {
    std::string host;
    std::uint16_t port = 0;
    relay::split_host_port(text, host, port);
    if (port == 0) throw ConfigError("'" + text + "': the port must be 1..65535");
  } catch (const ConfigError& e) {
    node.fail(key, e.what());
  }
}

AgentIngressConfig read_ingress_config(ConfigNode node) {
  AgentIngressConfig c;
  for (auto& r : node.maps("routes")) {
    IngressRouteConfig rc;
    rc.listener = r.string("listener", "");
    if (!relay::valid_peer_name(rc.listener)) {
      r.fail("listener", "'" + rc.listener + "' must be the name of a sidecar listener (1..64 of [A-Za-z0-9._-])");
    }
    for (const auto& other : c.routes) {
      if (other.listener == rc.listener) r.fail("listener", "'" + rc.listener + "' has another route already");
    }
    rc.target = r.string("target", "");
    check_host_port(r, "target", rc.target, false);
    rc.proxy_protocol = r.boolean("proxy_protocol", rc.proxy_protocol);
    rc.protocol = r.string("protocol", rc.protocol);
    if (rc.protocol != "tcp" && rc.protocol != "http1") {
      r.fail("protocol", "'" + rc.protocol + "' must be tcp (bytes as they are) or http1 (HTTP/1.1 spans and metrics)");
    }
    rc.http_routes = r.strings("http_routes", rc.http_routes);
    for (std::size_t i = 0; i < rc.http_routes.size(); ++i) {
      if (auto why = RouteTemplates::validate(rc.http_routes[i]); !why.empty()) {
        r.fail("http_routes", "entry " + std::to_string(i) + " '" + rc.http_routes[i] + "' " + why +
                                  " (templates look like /users/{id} or /static/*)");
      }
    }
    if (!rc.http_routes.empty() && rc.protocol != "http1") r.fail("http_routes", "needs protocol: http1");
    rc.service_name = r.string("service_name", rc.service_name);
    r.reject_unknown_keys();
    c.routes.push_back(std::move(rc));
  }
  c.header_timeout = node.duration("header_timeout", c.header_timeout, milliseconds(10), hours(1));
  c.connect_timeout = node.duration("connect_timeout", c.connect_timeout, milliseconds(10), hours(1));
  relay::read_relay_limits(node, c.idle_timeout, c.max_connections, c.buffer_bytes, c.splice_pipes);
  node.reject_unknown_keys();
  return c;
}

AgentEgressConfig read_egress_config(ConfigNode node) {
  AgentEgressConfig c;
  c.proxy_listen = node.string("proxy_listen", c.proxy_listen);
  check_host_port(node, "proxy_listen", c.proxy_listen, true);
  for (auto& f : node.maps("forwards")) {
    EgressForwardConfig fc;
    fc.listen = f.string("listen", "");
    check_host_port(f, "listen", fc.listen, false);
    fc.destination = f.string("destination", "");
    check_host_port(f, "destination", fc.destination, false);
    f.reject_unknown_keys();
    c.forwards.push_back(std::move(fc));
  }
  c.allow = relay::read_allow_rules(node, "allow", c.allow);
  c.deny = relay::read_allow_rules(node, "deny", c.deny);
  c.request_timeout = node.duration("request_timeout", c.request_timeout, milliseconds(10), hours(1));
  relay::read_relay_limits(node, c.idle_timeout, c.max_connections, c.buffer_bytes, c.splice_pipes);
  node.reject_unknown_keys();
  return c;
}

}  // namespace

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
  c.ingress = read_ingress_config(root.map("ingress"));
  c.egress = read_egress_config(root.map("egress"));
  c.ntp = ntp::read_agent_ntp_config(root.map("ntp"));
  c.telemetry = read_agent_telemetry_config(root.map("telemetry"));
  c.workload = read_workload_config(root.map("workload"));
  c.workload_metrics = read_workload_metrics_config(root.map("workload_metrics"));
  c.logging = read_logging_config(root.map("logging"));
  c.drain_timeout = read_shutdown_config(root.map("shutdown"));
  root.reject_unknown_keys();
  // Every snapshot of the enclave's metrics (the agent's own, the scraped workload's and the
  // workload's OTLP metrics) goes to the sidecar in one control frame; one that does not fit is
  // not sent at all, and the enclave's metrics would go stale as a whole.
  constexpr std::uint64_t kAgentOwnMetrics = 256 << 10;
  const std::uint64_t otlp = c.telemetry.enabled && c.telemetry.metrics.enabled ? c.telemetry.metrics.max_bytes : 0;
  const std::uint64_t scraped = c.workload_metrics.targets.empty() ? 0 : c.workload_metrics.max_bytes;
  if (otlp + scraped + kAgentOwnMetrics > c.control.max_frame_bytes) {
    root.map("control").fail("max_frame_bytes",
                             std::to_string(c.control.max_frame_bytes) + " bytes cannot carry a metrics snapshot: " +
                                 "telemetry.metrics.max_bytes (" + std::to_string(otlp) + ") + workload_metrics.max_bytes (" +
                                 std::to_string(scraped) + ") + 256KiB for the agent's own metrics must fit in it; " +
                                 "raise control.max_frame_bytes (on both sides) or lower those");
  }
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
  # vsock ports: control, NTP and egress on the parent; ingress on this enclave.
  control_port: 7000
  ntp_port: 7003
  egress_port: 7002
  telemetry_port: 7001
  ingress_port: 8000
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

ingress:
  # Where connections from each sidecar listener go inside the enclave, e.g.
  #   routes: [{listener: web, target: "127.0.0.1:8080", proxy_protocol: false}]
  # proxy_protocol: true passes a PROXY v2 header (the real client address) to the workload.
  # protocol: http1 records an HTTP server span and RED metrics per request and injects
  # traceparent (docs/telemetry-http.md); http_routes: ["/users/{id}"] names http.route;
  # service_name: the spans' service.name (default: the listener name).
  routes: []
  # The sidecar's PROXY v2 header must arrive within this time.
  header_timeout: 5s
  # Connecting to the workload must take no longer than this.
  connect_timeout: 5s
  # A connection with no byte either way for this long is aborted.
  idle_timeout: 5m
  max_connections: 1024
  buffer_bytes: 64KiB
  # Pipes for splice(2) (no copy through the process), held only while bytes are in flight;
  # at most this many at once, then buffers; 0 turns splice off.
  splice_pipes: 1024

egress:
  # The HTTP CONNECT proxy for the workload (HTTPS_PROXY=http://127.0.0.1:3128); "" = none.
  proxy_listen: 127.0.0.1:3128
  # Static forwards for programs that cannot use a proxy, e.g.
  #   forwards: [{listen: "127.0.0.1:8443", destination: "api.example.com:443"}]
  forwards: []
  # The enclave's own egress policy, enforced here whatever the parent does (HOST:PORTS; HOST
  # a name, *.domain, *, IP or CIDR; PORTS n, a-b or *). Deny wins; nothing is allowed by default.
  allow: []
  deny: []
  # The CONNECT request, and the sidecar's answer, must arrive within this time.
  request_timeout: 10s
  idle_timeout: 5m
  max_connections: 1024
  buffer_bytes: 64KiB
  splice_pipes: 1024

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

telemetry:
  # Spans and logs from the workload, filtered by the policy, batched and sent to the sidecar
  # on boundary.telemetry_port (docs/telemetry.md). false: no receiver, no channel.
  enabled: true
  # The OTLP/HTTP receiver (POST /v1/traces, /v1/logs and /v1/metrics, protobuf or JSON, gzip allowed);
  # "" = none (other sources, such as the workload supervisor's log capture, still ship).
  otlp_listen: 127.0.0.1:4318
  # Larger request bodies get 413, before and after gzip decompression.
  max_request_bytes: 4MiB
  max_connections: 64
  # A request must arrive within this time; an idle keep-alive connection is closed after it.
  request_timeout: 30s
  # The workload's OTLP metrics (POST /v1/metrics), served with the agent's own metrics at the
  # sidecar's /metrics (docs/telemetry-metrics.md). false: /v1/metrics answers 404.
  metrics:
    enabled: true
    # A series not updated for this long is removed.
    staleness: 5m
    # Series held at most, and about this much metrics text (it has to fit in one control frame
    # with the agent's own metrics); points of new series beyond either are refused.
    max_series: 10000
    max_bytes: 1MiB
  channel:
    # The largest batch frame; a bigger batch is sent in parts.
    max_frame_bytes: 4MiB
    # none or gzip (docs/telemetry.md has the measurement behind the default).
    compression: none
  # OpenTelemetry BatchSpanProcessor knobs, one set per signal.
  batch:
    spans:
      max_queue_size: 2048
      max_export_batch_size: 512
      scheduled_delay: 5s
      export_timeout: 30s
      max_queue_bytes: 16MiB
    logs:
      max_queue_size: 2048
      max_export_batch_size: 512
      scheduled_delay: 5s
      export_timeout: 30s
      max_queue_bytes: 16MiB
  # What may leave the enclave (docs/telemetry-policy.md). Missing keys keep their defaults:
  # the allow/deny lists of span_attributes, resource_attributes, log_attributes,
  # metric_names and metric_labels are listed there.
  policy:
    log_bodies: false
    span_status_messages: false
    max_value_bytes: 1KiB
    max_series_per_family: 2000

workload:
  # Run the workload as a supervised child (docs/workload.md); [] = the agent runs nothing.
  # e.g. command: [/usr/bin/my-service, --port, "8080"] (no shell unless you write one).
  command: []
  # Added to (and overriding) the agent's environment, e.g. {HTTPS_PROXY: "http://127.0.0.1:3128"}.
  env: {}
  # "" = the agent's working directory.
  working_dir: ""
  # never, on-failure (non-zero status or a signal) or always.
  restart: on-failure
  # Delays before a restart: exponential from initial to max, with jitter.
  restart_backoff:
    initial: 1s
    max: 1m
  # On shutdown: SIGTERM to the workload's process group, SIGKILL after this.
  stop_timeout: 10s
  # service.name of the log records made from its stdout and stderr lines.
  service_name: workload
  # Longer lines are split into pieces of this size (and counted).
  max_line_bytes: 16KiB

workload_metrics:
  # Prometheus endpoints inside the enclave, relayed through the sidecar's /metrics after the
  # telemetry policy, e.g.
  #   targets: [{name: app, url: "http://127.0.0.1:8080/metrics", interval: 15s, timeout: 5s}]
  targets: []
  # A larger response fails the scrape (the snapshot must fit in control.max_frame_bytes).
  max_bytes: 1MiB
  # A failed target's last good snapshot is relayed for at most this long; 0s = forever.
  max_staleness: 1m

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
