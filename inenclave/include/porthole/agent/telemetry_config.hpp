// The agent's `telemetry:` section: the OTLP/HTTP receiver the workload sends spans, logs and metrics to,
// the telemetry policy applied to them, the batch processors, and the channel to the sidecar.
#pragma once

#include <cstdint>
#include <string>

#include "porthole/common/config_reader.hpp"
#include "porthole/telemetry/batch_processor.hpp"
#include "porthole/telemetry/telemetry_channel.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::agent {

struct OtlpReceiverConfig {
  std::string listen = "127.0.0.1:4318";  // "" = no receiver
  std::uint64_t max_request_bytes = 4u << 20;  // body size, before and after gzip
  std::int64_t max_connections = 64;
  Duration request_timeout = std::chrono::seconds(30);  // reading one request; idle keep-alive
  bool operator==(const OtlpReceiverConfig&) const = default;
};

struct TelemetryChannelConfig {
  std::uint64_t max_frame_bytes = 4u << 20;
  telemetry::ChannelCompression compression = telemetry::ChannelCompression::None;
  bool operator==(const TelemetryChannelConfig&) const = default;
};

// The workload's OTLP metrics (POST /v1/metrics), kept by OtlpMetricsStore and served with the
// agent's metrics (docs/telemetry-metrics.md).
struct OtlpMetricsConfig {
  bool enabled = true;
  Duration staleness = std::chrono::minutes(5);  // a series not updated for this long is removed
  std::uint64_t max_series = 10000;              // series kept at most, over all families
  std::uint64_t max_bytes = 1u << 20;            // about this much text at most (a control frame holds all)
  bool operator==(const OtlpMetricsConfig&) const = default;
};

struct AgentTelemetryConfig {
  bool enabled = true;
  OtlpReceiverConfig receiver;
  OtlpMetricsConfig metrics;
  TelemetryChannelConfig channel;
  telemetry::BatchConfig spans;
  telemetry::BatchConfig logs;
  telemetry::TelemetryPolicy policy = telemetry::default_telemetry_policy();
  bool operator==(const AgentTelemetryConfig& o) const;
};

AgentTelemetryConfig read_agent_telemetry_config(ConfigNode node);
// Reads one BatchConfig (`telemetry.batch.spans`); shared with the sidecar's config tests.
telemetry::BatchConfig read_batch_config(ConfigNode node);

}  // namespace porthole::agent
