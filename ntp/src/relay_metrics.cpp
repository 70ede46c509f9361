#include "porthole/ntp/relay_metrics.hpp"

namespace porthole::ntp {
namespace {

constexpr PacketError kPacketErrors[] = {PacketError::TooShort,   PacketError::TooLong,      PacketError::BadVersion,
                                         PacketError::WrongMode,  PacketError::BadStratum,   PacketError::ZeroTransmit,
                                         PacketError::BadLength};
constexpr Drop kDrops[] = {Drop::Unsolicited, Drop::RateLimited, Drop::QueueFull,
                           Drop::Timeout,     Drop::Disconnected, Drop::SendFailed};

prometheus::Family<prometheus::Counter>& counters(prometheus::Registry& r, const std::string& side, const char* name,
                                                  const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Labels({{"side", side}}).Register(r);
}

}  // namespace

std::string_view to_string(Drop d) {
  switch (d) {
    case Drop::Unsolicited: return "unsolicited";
    case Drop::RateLimited: return "rate_limited";
    case Drop::QueueFull: return "queue_full";
    case Drop::Timeout: return "timeout";
    case Drop::Disconnected: return "disconnected";
    case Drop::SendFailed: return "send_failed";
  }
  return "unknown";
}

RelayMetrics::RelayMetrics(prometheus::Registry& registry, const std::string& side)
    : outstanding(prometheus::BuildGauge()
                      .Name("porthole_ntp_outstanding")
                      .Help("NTP requests relayed and waiting for their reply.")
                      .Labels({{"side", side}})
                      .Register(registry)
                      .Add({})),
      rejected(registry, side, "ntp"),
      relayed_request_(counters(registry, side, "porthole_ntp_relayed_total", "NTP datagrams relayed, by direction.")
                           .Add({{"direction", "request"}})),
      relayed_reply_(counters(registry, side, "porthole_ntp_relayed_total", "NTP datagrams relayed, by direction.")
                         .Add({{"direction", "reply"}})) {
  auto& dropped = counters(registry, side, "porthole_ntp_dropped_total",
                           "NTP datagrams dropped, by direction and reason (none is ever answered).");
  for (auto d : {Direction::Request, Direction::Reply}) {
    const std::string dir = d == Direction::Request ? "request" : "reply";
    for (auto e : kPacketErrors) {
      dropped_[{d, std::string(to_string(e))}] = &dropped.Add({{"direction", dir}, {"reason", std::string(to_string(e))}});
    }
    for (auto w : kDrops) {
      dropped_[{d, std::string(to_string(w))}] = &dropped.Add({{"direction", dir}, {"reason", std::string(to_string(w))}});
    }
  }
}

}  // namespace porthole::ntp
