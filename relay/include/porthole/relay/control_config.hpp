// The configuration sections both binaries share: how to reach the boundary (`boundary:`) and
// how the control channel behaves (`control:`). Defaults are production values.
#pragma once

#include <cstdint>

#include "porthole/common/backoff.hpp"
#include "porthole/common/config_reader.hpp"
#include "porthole/relay/address.hpp"
#include "porthole/relay/control_session.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::relay {

struct BoundaryConfig {
  Transport transport;  // vsock
  std::uint32_t parent_cid = kParentCid;
  std::uint32_t enclave_cid = 16;
  std::uint32_t control_port = kControlPort;
  std::uint32_t ntp_port = 7003;
  std::uint32_t egress_port = 7002;
  std::uint32_t telemetry_port = 7001;
  std::uint32_t ingress_port = 8000;
  StreamOptions stream;

  Endpoint control_endpoint() const { return transport.endpoint(parent_cid, control_port); }
  Endpoint ntp_endpoint() const { return transport.endpoint(parent_cid, ntp_port); }
  Endpoint egress_endpoint() const { return transport.endpoint(parent_cid, egress_port); }
  Endpoint telemetry_endpoint() const { return transport.endpoint(parent_cid, telemetry_port); }
  Endpoint ingress_endpoint() const { return transport.endpoint(enclave_cid, ingress_port); }
  bool operator==(const BoundaryConfig&) const = default;
};

struct ControlConfig {
  Duration hello_timeout = std::chrono::seconds(5);
  Duration heartbeat_interval = std::chrono::seconds(1);
  Duration heartbeat_timeout = std::chrono::seconds(5);
  std::uint64_t max_frame_bytes = 4 << 20;
  BackoffPolicy reconnect;  // agent only: 100ms doubling to 30s, with jitter

  ControlSessionOptions session_options(Role role, std::string local_name) const;
  bool operator==(const ControlConfig& o) const {
    return hello_timeout == o.hello_timeout && heartbeat_interval == o.heartbeat_interval &&
           heartbeat_timeout == o.heartbeat_timeout && max_frame_bytes == o.max_frame_bytes &&
           reconnect.initial == o.reconnect.initial && reconnect.max == o.reconnect.max &&
           reconnect.multiplier == o.reconnect.multiplier;
  }
};

BoundaryConfig read_boundary_config(ConfigNode node);

// The keys every relaying section (ingress, egress, both sides) has, with the same bounds:
// idle_timeout, max_connections, buffer_bytes. The arguments hold the defaults on entry.
void read_relay_limits(ConfigNode& node, Duration& idle_timeout, std::int64_t& max_connections,
                       std::uint64_t& buffer_bytes, std::int64_t& splice_pipes);
// `splice_pipes`: pipes a relay path may hold at once for splice(2); 0 copies through buffers.
std::int64_t read_splice_pipes(ConfigNode& node, std::int64_t fallback);
// `with_reconnect`: only the agent dials, so only its config has control.reconnect.
ControlConfig read_control_config(ConfigNode node, bool with_reconnect);

}  // namespace porthole::relay
