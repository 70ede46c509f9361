// Counters both NTP relays keep: datagrams relayed and dropped (by direction and reason) and
// requests waiting for a reply. Every label value exists from the start.
#pragma once

#include <map>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "porthole/ntp/packet.hpp"
#include "porthole/relay/control_metrics.hpp"

namespace porthole::ntp {

enum class Direction { Request, Reply };

// Drop reasons beyond the packet checks of packet.hpp.
enum class Drop { Unsolicited, RateLimited, QueueFull, Timeout, Disconnected, SendFailed };
std::string_view to_string(Drop d);

class RelayMetrics {
 public:
  RelayMetrics(prometheus::Registry& registry, const std::string& side);

  void relayed(Direction d) { (d == Direction::Request ? relayed_request_ : relayed_reply_).Increment(); }
  void dropped(Direction d, PacketError e) { dropped_.at({d, std::string(to_string(e))})->Increment(); }
  void dropped(Direction d, Drop why) { dropped_.at({d, std::string(to_string(why))})->Increment(); }
  prometheus::Gauge& outstanding;
  relay::FrameRejectCounters rejected;  // porthole_frames_rejected_total{channel="ntp"}

 private:
  prometheus::Counter& relayed_request_;
  prometheus::Counter& relayed_reply_;
  std::map<std::pair<Direction, std::string>, prometheus::Counter*> dropped_;
};

}  // namespace porthole::ntp
