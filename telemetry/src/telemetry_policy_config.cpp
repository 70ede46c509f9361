// Defaults of the telemetry policy and reading it from the `telemetry.policy` config section.
#include <cctype>

#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::telemetry {

std::vector<std::string> default_span_attribute_keys() {
  // OpenTelemetry semantic-convention keys that describe a request's shape (method, route,
  // status, peer service, error class), never its content. Deliberately absent: url.full,
  // url.path and url.query (ids and tokens live there), http.request/response.header.*,
  // db.query.text/db.statement (literals), exception.message/stacktrace (free text built from
  // data), client.address and user_agent.original (personal data), enduser.*.
  return {
      "http.request.method", "http.response.status_code", "http.route", "url.scheme",
      "server.address", "server.port", "network.protocol.name", "network.protocol.version",
      "network.transport", "network.type", "rpc.system", "rpc.service", "rpc.method",
      "rpc.grpc.status_code", "db.system", "db.system.name", "db.operation.name", "db.namespace",
      "db.collection.name", "messaging.system", "messaging.operation.type",
      "messaging.destination.name", "peer.service", "error.type", "exception.type",
      "service.name", "service.version", "deployment.environment", "deployment.environment.name",
      "telemetry.sdk.*", "otel.*", "code.function", "code.function.name", "thread.name",
      "porthole.*",
  };
}

std::vector<std::string> default_span_attribute_deny() {
  // Wins over `allow`, so that a broad allow pattern ("http.*") cannot let these through.
  return {"url.full", "url.query", "http.request.header.*", "http.response.header.*", "db.query.text",
          "db.statement", "exception.message", "exception.stacktrace", "enduser.*", "user.*"};
}

std::vector<std::string> default_resource_attribute_keys() {
  // Not process.command_line/command_args (secrets are passed on command lines) nor host.name.
  return {"service.name", "service.namespace", "service.version", "service.instance.id",
          "deployment.environment", "deployment.environment.name", "telemetry.sdk.*",
          "telemetry.distro.*", "otel.*", "process.runtime.*", "os.type", "host.arch",
          "cloud.provider", "cloud.platform", "cloud.region", "porthole.*"};
}

std::vector<std::string> default_log_attribute_keys() {
  auto keys = default_span_attribute_keys();
  keys.insert(keys.end(), {"event.name", "log.iostream", "code.file.path", "code.line.number"});
  return keys;
}

TelemetryPolicy default_telemetry_policy() {
  TelemetryPolicy p;
  p.span_attributes = {default_span_attribute_keys(), default_span_attribute_deny()};
  p.resource_attributes = {default_resource_attribute_keys(), {}};
  p.log_attributes = {default_log_attribute_keys(), default_span_attribute_deny()};
  p.log_bodies = false;
  p.span_status_messages = false;
  // Metric names and label names are chosen by the workload's code, not by request data; the
  // label values are what can leak, and the per-family series cap bounds that.
  p.metric_names = {{"*"}, {}};
  p.metric_labels = {{"*"}, {}};
  return p;
}

namespace {

void check_patterns(const ConfigNode& node, const std::string& key, const std::vector<std::string>& patterns) {
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const auto& p = patterns[i];
    if (p.empty()) node.fail(key, "entry " + std::to_string(i) + " is empty; write a key or a glob such as 'http.*'");
    for (unsigned char c : p) {
      if (std::isspace(c) || std::iscntrl(c)) {
        node.fail(key, "entry " + std::to_string(i) + " '" + p + "' contains whitespace or control characters");
      }
    }
  }
}

KeyFilter read_filter(ConfigNode& parent, const std::string& key, const KeyFilter& fallback) {
  ConfigNode node = parent.map(key);
  KeyFilter f;
  f.allow = node.strings("allow", fallback.allow);
  f.deny = node.strings("deny", fallback.deny);
  check_patterns(node, "allow", f.allow);
  check_patterns(node, "deny", f.deny);
  node.reject_unknown_keys();
  return f;
}

}  // namespace

TelemetryPolicy read_telemetry_policy(ConfigNode node) {
  const TelemetryPolicy d = default_telemetry_policy();
  TelemetryPolicy p;
  p.span_attributes = read_filter(node, "span_attributes", d.span_attributes);
  p.resource_attributes = read_filter(node, "resource_attributes", d.resource_attributes);
  p.log_attributes = read_filter(node, "log_attributes", d.log_attributes);
  p.log_bodies = node.boolean("log_bodies", d.log_bodies);
  p.span_status_messages = node.boolean("span_status_messages", d.span_status_messages);
  p.metric_names = read_filter(node, "metric_names", d.metric_names);
  p.metric_labels = read_filter(node, "metric_labels", d.metric_labels);
  p.max_value_bytes = node.bytes("max_value_bytes", d.max_value_bytes, 16, 1u << 20);
  p.max_series_per_family = static_cast<std::size_t>(
      node.integer("max_series_per_family", static_cast<std::int64_t>(d.max_series_per_family), 1, 1000000));
  node.reject_unknown_keys();
  return p;
}

}  // namespace porthole::telemetry
