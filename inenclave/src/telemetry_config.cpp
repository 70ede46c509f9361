#include "porthole/agent/telemetry_config.hpp"

#include "porthole/relay/address.hpp"

namespace porthole::agent {

using std::chrono::hours;
using std::chrono::milliseconds;

namespace {

bool same(const telemetry::BatchConfig& a, const telemetry::BatchConfig& b) {
  return a.max_queue_size == b.max_queue_size && a.max_export_batch_size == b.max_export_batch_size &&
         a.scheduled_delay == b.scheduled_delay && a.export_timeout == b.export_timeout &&
         a.max_queue_bytes == b.max_queue_bytes && a.side == b.side;
}

}  // namespace

bool AgentTelemetryConfig::operator==(const AgentTelemetryConfig& o) const {
  return enabled == o.enabled && receiver == o.receiver && metrics == o.metrics && channel == o.channel &&
         same(spans, o.spans) && same(logs, o.logs) && policy == o.policy;
}

telemetry::BatchConfig read_batch_config(ConfigNode node) {
  telemetry::BatchConfig c;
  c.max_queue_size = static_cast<std::size_t>(node.integer("max_queue_size", static_cast<std::int64_t>(c.max_queue_size), 1, 1 << 20));
  c.max_export_batch_size = static_cast<std::size_t>(
      node.integer("max_export_batch_size", static_cast<std::int64_t>(c.max_export_batch_size), 1, 1 << 20));
  if (c.max_export_batch_size > c.max_queue_size) {
    node.fail("max_export_batch_size", std::to_string(c.max_export_batch_size) + " must not exceed max_queue_size (" +
                                           std::to_string(c.max_queue_size) + ")");
  }
  c.scheduled_delay = node.duration("scheduled_delay", c.scheduled_delay, milliseconds(1), hours(1));
  c.export_timeout = node.duration("export_timeout", c.export_timeout, milliseconds(10), hours(1));
  c.max_queue_bytes = static_cast<std::size_t>(node.bytes("max_queue_bytes", c.max_queue_bytes, 64u << 10, 1ull << 30));
  node.reject_unknown_keys();
  return c;
}

AgentTelemetryConfig read_agent_telemetry_config(ConfigNode node) {
  AgentTelemetryConfig c;
  c.enabled = node.boolean("enabled", c.enabled);
  c.receiver.listen = node.string("otlp_listen", c.receiver.listen);
  if (!c.receiver.listen.empty()) {
    try {
      std::string host;
      std::uint16_t port = 0;
      relay::split_host_port(c.receiver.listen, host, port);
    } catch (const ConfigError& e) {
      node.fail("otlp_listen", e.what());
    }
  }
  c.receiver.max_request_bytes = node.bytes("max_request_bytes", c.receiver.max_request_bytes, 1024, 64ull << 20);
  c.receiver.max_connections = node.integer("max_connections", c.receiver.max_connections, 1, 100000);
  c.receiver.request_timeout = node.duration("request_timeout", c.receiver.request_timeout, milliseconds(100), hours(1));
  {
    auto m = node.map("metrics");
    c.metrics.enabled = m.boolean("enabled", c.metrics.enabled);
    c.metrics.staleness = m.duration("staleness", c.metrics.staleness, std::chrono::seconds(1), hours(24 * 7));
    c.metrics.max_series = static_cast<std::uint64_t>(
        m.integer("max_series", static_cast<std::int64_t>(c.metrics.max_series), 1, 1000000));
    c.metrics.max_bytes = m.bytes("max_bytes", c.metrics.max_bytes, 4u << 10, 64ull << 20);
    m.reject_unknown_keys();
  }
  {
    auto ch = node.map("channel");
    c.channel.max_frame_bytes = ch.bytes("max_frame_bytes", c.channel.max_frame_bytes, 64u << 10, 64ull << 20);
    const auto compression = ch.string("compression", "none");
    if (compression == "gzip") {
      c.channel.compression = telemetry::ChannelCompression::Gzip;
    } else if (compression != "none") {
      ch.fail("compression", "'" + compression + "' is not one of: none, gzip");
    }
    ch.reject_unknown_keys();
  }
  {
    auto batch = node.map("batch");
    c.spans = read_batch_config(batch.map("spans"));
    c.logs = read_batch_config(batch.map("logs"));
    batch.reject_unknown_keys();
  }
  c.policy = telemetry::read_telemetry_policy(node.map("policy"));
  node.reject_unknown_keys();
  return c;
}

}  // namespace porthole::agent
