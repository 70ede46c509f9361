#include "porthole/telemetry/telemetry_channel_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace porthole::telemetry {

std::string_view to_string(ChannelSignal s) { return s == ChannelSignal::Spans ? "spans" : "logs"; }

std::string_view to_string(TelemetryChannelError e) {
  switch (e) {
    case TelemetryChannelError::NotConnected: return "not_connected";
    case TelemetryChannelError::ConnectionLost: return "connection_lost";
    case TelemetryChannelError::Oversized: return "oversized";
    case TelemetryChannelError::Rejected: return "rejected";
    case TelemetryChannelError::Malformed: return "malformed";
    case TelemetryChannelError::VersionMismatch: return "version_mismatch";
    case TelemetryChannelError::Superseded: return "superseded";
    case TelemetryChannelError::kCount: break;
  }
  return "unknown";
}

TelemetryChannelMetrics::TelemetryChannelMetrics(prometheus::Registry& registry, const std::string& side) {
  const prometheus::Labels constant{{"side", side}};
  connected_ = &prometheus::BuildGauge()
                    .Name("porthole_telemetry_channel_connected")
                    .Help("1 while the telemetry channel (agent -> sidecar span and log batches) is up.")
                    .Labels(constant)
                    .Register(registry)
                    .Add({});
  auto& frames = prometheus::BuildCounter()
                     .Name("porthole_telemetry_channel_frames_total")
                     .Help("Batch frames on the telemetry channel (sent by the agent, received by the sidecar).")
                     .Labels(constant)
                     .Register(registry);
  auto& items = prometheus::BuildCounter()
                    .Name("porthole_telemetry_channel_items_total")
                    .Help("Spans and log records in the telemetry channel's batch frames.")
                    .Labels(constant)
                    .Register(registry);
  auto& bytes = prometheus::BuildCounter()
                    .Name("porthole_telemetry_channel_bytes_total")
                    .Help("Batch payload bytes on the telemetry channel, as sent (after compression).")
                    .Labels(constant)
                    .Register(registry);
  auto& uncompressed = prometheus::BuildCounter()
                           .Name("porthole_telemetry_channel_uncompressed_bytes_total")
                           .Help("OTLP protobuf bytes of the telemetry channel's batches before compression.")
                           .Labels(constant)
                           .Register(registry);
  for (auto s : {ChannelSignal::Spans, ChannelSignal::Logs}) {
    const prometheus::Labels l{{"signal", std::string(to_string(s))}};
    const auto i = static_cast<std::size_t>(s);
    frames_[i] = &frames.Add(l);
    items_[i] = &items.Add(l);
    bytes_[i] = &bytes.Add(l);
    uncompressed_[i] = &uncompressed.Add(l);
  }
  auto& errors = prometheus::BuildCounter()
                     .Name("porthole_telemetry_channel_errors_total")
                     .Help("Telemetry channel errors by reason (see docs/telemetry.md).")
                     .Labels(constant)
                     .Register(registry);
  for (std::size_t i = 0; i < errors_.size(); ++i) {
    errors_[i] = &errors.Add({{"reason", std::string(to_string(static_cast<TelemetryChannelError>(i)))}});
  }
}

void TelemetryChannelMetrics::set_connected(bool up) { connected_->Set(up ? 1 : 0); }

void TelemetryChannelMetrics::batch(ChannelSignal signal, std::uint64_t items, std::uint64_t wire_bytes,
                                    std::uint64_t uncompressed_bytes) {
  const auto i = static_cast<std::size_t>(signal);
  frames_[i]->Increment();
  items_[i]->Increment(static_cast<double>(items));
  bytes_[i]->Increment(static_cast<double>(wire_bytes));
  uncompressed_[i]->Increment(static_cast<double>(uncompressed_bytes));
}

void TelemetryChannelMetrics::error(TelemetryChannelError e) { errors_[static_cast<std::size_t>(e)]->Increment(); }

}  // namespace porthole::telemetry
