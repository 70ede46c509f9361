// The control channel's metrics, shared by the sidecar and the agent; `side` ("parent" or
// "enclave") is a constant label so the relayed enclave series never collide with ours.
// Every labelled series is created up front, so rate() works from the first scrape.
#pragma once

#include <array>
#include <map>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "porthole/relay/control_protocol.hpp"
#include "porthole/relay/frame.hpp"

namespace porthole::relay {

enum class CloseReason {
  PeerClosed,
  HeartbeatTimeout,
  HelloTimeout,
  ProtocolError,
  VersionMismatch,
  Superseded,
  Shutdown,
  IoError,
  Backpressure,
};
std::string_view to_string(CloseReason r);
inline constexpr CloseReason kAllCloseReasons[] = {
    CloseReason::PeerClosed,      CloseReason::HeartbeatTimeout, CloseReason::HelloTimeout,
    CloseReason::ProtocolError,   CloseReason::VersionMismatch,  CloseReason::Superseded,
    CloseReason::Shutdown,        CloseReason::IoError,          CloseReason::Backpressure};

// porthole_frames_rejected_total{side, channel, reason}: shared by every framed channel.
class FrameRejectCounters {
 public:
  FrameRejectCounters(prometheus::Registry& registry, const std::string& side, const std::string& channel);
  prometheus::Counter& operator[](FrameError e) { return *counters_.at(static_cast<std::size_t>(e)); }

 private:
  std::array<prometheus::Counter*, std::size(kAllFrameErrors)> counters_{};
};

struct ControlMetrics {
  ControlMetrics(prometheus::Registry& registry, const std::string& side);

  prometheus::Gauge& connected;  // set by the owner of the current session, not by sessions
  prometheus::Counter& connects;
  std::map<CloseReason, prometheus::Counter*> disconnects;
  std::map<ControlType, prometheus::Counter*> frames_rx;
  std::map<ControlType, prometheus::Counter*> frames_tx;
  FrameRejectCounters rejected;
};

}  // namespace porthole::relay
