// The sidecar's `telemetry:` section: accepting the agent's telemetry channel and where the
// span and log batches go (an OTLP/HTTP collector, a JSON-lines file, or both).
#pragma once

#include <cstdint>
#include <string>

#include "porthole/common/config_reader.hpp"
#include "porthole/telemetry/otlp_exporter_config.hpp"

namespace porthole::sidecar {

struct SidecarTelemetryConfig {
  bool enabled = true;                          // accept the channel on boundary.telemetry_port
  std::uint64_t max_frame_bytes = 4u << 20;     // a bigger frame closes the connection
  std::uint64_t max_batch_bytes = 16u << 20;    // a batch's protobuf after gzip, at most
  std::string jsonl_path;                       // "" = off, "-" = stdout
  std::uint64_t jsonl_rotate_bytes = 0;         // 0 = never rotate
  unsigned jsonl_keep_files = 3;
  telemetry::OtlpExporterConfig otlp;           // otlp.endpoint "" = no collector
  bool operator==(const SidecarTelemetryConfig&) const = default;
};

SidecarTelemetryConfig read_sidecar_telemetry_config(ConfigNode node);

}  // namespace porthole::sidecar
