#include "porthole/relay/control_config.hpp"

#include <cstdlib>

namespace porthole::relay {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

BoundaryConfig read_boundary_config(ConfigNode node) {
  BoundaryConfig c;
  const auto transport = node.string("transport", "vsock");
  try {
    c.transport = parse_transport(transport);
  } catch (const ConfigError& e) {
    node.fail("transport", e.what());
  }
  c.parent_cid = static_cast<std::uint32_t>(node.integer("parent_cid", c.parent_cid, 0, 0xFFFFFFFEll));
  c.enclave_cid = static_cast<std::uint32_t>(node.integer("enclave_cid", c.enclave_cid, 0, 0xFFFFFFFEll));
  c.control_port = static_cast<std::uint32_t>(node.integer("control_port", c.control_port, 1, 0xFFFFFFFEll));
  c.ntp_port = static_cast<std::uint32_t>(node.integer("ntp_port", c.ntp_port, 1, 0xFFFFFFFEll));
  c.egress_port = static_cast<std::uint32_t>(node.integer("egress_port", c.egress_port, 1, 0xFFFFFFFEll));
  c.ingress_port = static_cast<std::uint32_t>(node.integer("ingress_port", c.ingress_port, 1, 0xFFFFFFFEll));
  c.telemetry_port = static_cast<std::uint32_t>(node.integer("telemetry_port", c.telemetry_port, 1, 0xFFFFFFFEll));
  const std::pair<const char*, std::uint32_t> ports[] = {{"control_port", c.control_port},
                                                         {"ntp_port", c.ntp_port},
                                                         {"egress_port", c.egress_port},
                                                         {"ingress_port", c.ingress_port},
                                                         {"telemetry_port", c.telemetry_port}};
  for (std::size_t i = 0; i < std::size(ports); ++i) {
    if (c.transport.kind == TransportKind::Tcp && ports[i].second > 65535) {
      node.fail(ports[i].first, "must be 1..65535 with the tcp transport");
    }
    for (std::size_t j = 0; j < i; ++j) {
      // ingress is on the enclave's CID, the rest on the parent's: only same-CID ports clash,
      // but with tcp or uds on one host every port must differ.
      if (ports[i].second == ports[j].second) {
        node.fail(ports[i].first, "must differ from boundary." + std::string(ports[j].first));
      }
    }
  }
  c.stream.vsock_buffer_bytes = node.bytes("vsock_buffer_bytes", c.stream.vsock_buffer_bytes, 4096, 64ull << 20);
  node.reject_unknown_keys();
  return c;
}

void read_relay_limits(ConfigNode& node, Duration& idle_timeout, std::int64_t& max_connections,
                       std::uint64_t& buffer_bytes, std::int64_t& splice_pipes) {
  idle_timeout = node.duration("idle_timeout", idle_timeout, milliseconds(100), hours(24 * 7));
  max_connections = node.integer("max_connections", max_connections, 1, 1000000);
  buffer_bytes = node.bytes("buffer_bytes", buffer_bytes, 4096, 16 << 20);
  splice_pipes = read_splice_pipes(node, splice_pipes);
}

std::int64_t read_splice_pipes(ConfigNode& node, std::int64_t fallback) {
  return node.integer("splice_pipes", fallback, 0, 1000000);
}

ControlConfig read_control_config(ConfigNode node, bool with_reconnect) {
  ControlConfig c;
  c.hello_timeout = node.duration("hello_timeout", c.hello_timeout, milliseconds(10), hours(1));
  c.heartbeat_interval = node.duration("heartbeat_interval", c.heartbeat_interval, milliseconds(10), hours(1));
  c.heartbeat_timeout = node.duration("heartbeat_timeout", c.heartbeat_timeout, milliseconds(20), hours(1));
  if (c.heartbeat_timeout <= c.heartbeat_interval) {
    node.fail("heartbeat_timeout", "must be longer than control.heartbeat_interval (" +
                                       format_duration(c.heartbeat_interval) +
                                       "), or every session would time out between two heartbeats; 3-5x is usual");
  }
  c.max_frame_bytes = node.bytes("max_frame_bytes", c.max_frame_bytes, 64 << 10, 64ull << 20);
  if (with_reconnect) {
    auto r = node.map("reconnect");
    c.reconnect.initial = r.duration("initial", c.reconnect.initial, milliseconds(1), hours(1));
    c.reconnect.max = r.duration("max", c.reconnect.max, milliseconds(1), hours(1));
    if (c.reconnect.max < c.reconnect.initial) {
      r.fail("max", "must be at least control.reconnect.initial (" + format_duration(c.reconnect.initial) + ")");
    }
    const auto mult = r.string("multiplier", "2");
    char* end = nullptr;
    c.reconnect.multiplier = std::strtod(mult.c_str(), &end);
    if (end != mult.c_str() + mult.size() || !(c.reconnect.multiplier >= 1.0 && c.reconnect.multiplier <= 10.0)) {
      r.fail("multiplier", "'" + mult + "' must be a number from 1 to 10");
    }
    r.reject_unknown_keys();
  }
  node.reject_unknown_keys();
  return c;
}

ControlSessionOptions ControlConfig::session_options(Role role, std::string local_name) const {
  ControlSessionOptions o;
  o.role = role;
  o.local_name = std::move(local_name);
  o.hello_timeout = hello_timeout;
  o.heartbeat_interval = heartbeat_interval;
  o.heartbeat_timeout = heartbeat_timeout;
  o.max_frame_bytes = max_frame_bytes;
  o.max_queued_bytes = 4 * max_frame_bytes;
  return o;
}

}  // namespace porthole::relay
