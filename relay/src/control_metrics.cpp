#include "porthole/relay/control_metrics.hpp"

namespace porthole::relay {

std::string_view to_string(CloseReason r) {
  switch (r) {
    case CloseReason::PeerClosed: return "peer_closed";
    case CloseReason::HeartbeatTimeout: return "heartbeat_timeout";
    case CloseReason::HelloTimeout: return "hello_timeout";
    case CloseReason::ProtocolError: return "protocol_error";
    case CloseReason::VersionMismatch: return "version_mismatch";
    case CloseReason::Superseded: return "superseded";
    case CloseReason::Shutdown: return "shutdown";
    case CloseReason::IoError: return "io_error";
    case CloseReason::Backpressure: return "backpressure";
  }
  return "unknown";
}

FrameRejectCounters::FrameRejectCounters(prometheus::Registry& registry, const std::string& side,
                                         const std::string& channel) {
  auto& family = prometheus::BuildCounter()
                     .Name("porthole_frames_rejected_total")
                     .Help("Frames rejected by the frame codec, by channel and reason; the connection is closed.")
                     .Labels({{"side", side}})
                     .Register(registry);
  for (auto e : kAllFrameErrors) {
    counters_[static_cast<std::size_t>(e)] = &family.Add({{"channel", channel}, {"reason", std::string(to_string(e))}});
  }
}

namespace {

prometheus::Family<prometheus::Gauge>& gauge(prometheus::Registry& r, const std::string& side, const char* name,
                                             const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Labels({{"side", side}}).Register(r);
}
prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& r, const std::string& side, const char* name,
                                                 const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Labels({{"side", side}}).Register(r);
}

}  // namespace

ControlMetrics::ControlMetrics(prometheus::Registry& registry, const std::string& side)
    : connected(gauge(registry, side, "porthole_control_connected",
                      "1 while the control channel is up (hello exchanged, heartbeats arriving).")
                    .Add({})),
      connects(counter(registry, side, "porthole_control_connects_total",
                       "Control-channel sessions established (hello handshakes completed).")
                   .Add({})),
      rejected(registry, side, "control") {
  auto& disc = counter(registry, side, "porthole_control_disconnects_total",
                       "Control-channel sessions ended, by reason.");
  for (auto r : kAllCloseReasons) disconnects[r] = &disc.Add({{"reason", std::string(to_string(r))}});
  auto& frames = counter(registry, side, "porthole_control_frames_total", "Control frames sent (tx) and received (rx).");
  for (auto t : kAllControlTypes) {
    frames_rx[t] = &frames.Add({{"direction", "rx"}, {"type", std::string(to_string(t))}});
    frames_tx[t] = &frames.Add({{"direction", "tx"}, {"type", std::string(to_string(t))}});
  }
}

}  // namespace porthole::relay
