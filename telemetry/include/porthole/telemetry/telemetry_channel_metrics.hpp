// Self-metrics of the telemetry channel, the same names on both ends (`side` tells them apart):
//   porthole_telemetry_channel_connected{side}                    gauge   1 while a session is up
//   porthole_telemetry_channel_frames_total{side,signal}          counter batch frames sent/received
//   porthole_telemetry_channel_items_total{side,signal}           counter spans / log records in them
//   porthole_telemetry_channel_bytes_total{side,signal}           counter batch payload bytes on the wire
//   porthole_telemetry_channel_uncompressed_bytes_total{side,signal} counter the protobuf bytes before
//       compression (bytes / uncompressed_bytes is the compression ratio)
//   porthole_telemetry_channel_errors_total{side,reason}          counter see TelemetryChannelError
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
}  // namespace prometheus

namespace porthole::telemetry {

enum class ChannelSignal : std::uint8_t { Spans, Logs };
std::string_view to_string(ChannelSignal s);

enum class TelemetryChannelError : std::uint8_t {
  NotConnected,      // agent: an export while no session was up (the batch is dropped)
  ConnectionLost,    // agent: the session closed with exports waiting for their Ack
  Oversized,         // agent: one item alone encodes larger than max_frame_bytes (dropped)
  Rejected,          // agent: the sidecar acked "rejected"; sidecar: it rejected a batch
  Malformed,         // sidecar: a batch that does not decode (bad header, gzip or protobuf)
  VersionMismatch,   // either: the peer speaks another channel version
  Superseded,        // sidecar: a new agent connection replaced the old one
  kCount
};
std::string_view to_string(TelemetryChannelError e);

class TelemetryChannelMetrics {
 public:
  TelemetryChannelMetrics(prometheus::Registry& registry, const std::string& side);

  void set_connected(bool up);
  void batch(ChannelSignal signal, std::uint64_t items, std::uint64_t wire_bytes, std::uint64_t uncompressed_bytes);
  void error(TelemetryChannelError e);

 private:
  prometheus::Gauge* connected_ = nullptr;
  std::array<prometheus::Counter*, 2> frames_{}, items_{}, bytes_{}, uncompressed_{};
  std::array<prometheus::Counter*, static_cast<std::size_t>(TelemetryChannelError::kCount)> errors_{};
};

}  // namespace porthole::telemetry
