#include "porthole/sidecar/telemetry_config.hpp"

namespace porthole::sidecar {

SidecarTelemetryConfig read_sidecar_telemetry_config(ConfigNode node) {
  SidecarTelemetryConfig c;
  c.enabled = node.boolean("enabled", c.enabled);
  c.max_frame_bytes = node.bytes("max_frame_bytes", c.max_frame_bytes, 64u << 10, 64ull << 20);
  c.max_batch_bytes = node.bytes("max_batch_bytes", c.max_batch_bytes, 64u << 10, 256ull << 20);
  if (c.max_batch_bytes < c.max_frame_bytes) {
    node.fail("max_batch_bytes", "must be at least telemetry.max_frame_bytes: an uncompressed batch fills a frame");
  }
  c.jsonl_path = node.string("jsonl_path", c.jsonl_path);
  c.jsonl_rotate_bytes = node.bytes("jsonl_rotate_bytes", c.jsonl_rotate_bytes, 0, 1ull << 40);
  if (c.jsonl_rotate_bytes != 0 && c.jsonl_rotate_bytes < (1u << 20)) {
    node.fail("jsonl_rotate_bytes", "must be 0 (never rotate) or at least 1MiB");
  }
  c.jsonl_keep_files = static_cast<unsigned>(node.integer("jsonl_keep_files", c.jsonl_keep_files, 1, 100));
  c.otlp = telemetry::read_otlp_exporter_config(node.map("otlp"));
  node.reject_unknown_keys();
  return c;
}

}  // namespace porthole::sidecar
