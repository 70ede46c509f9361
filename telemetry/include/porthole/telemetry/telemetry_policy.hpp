// The telemetry policy: what of the workload's telemetry may leave the enclave. The agent applies
// it to every span batch, log batch and metrics snapshot before anything goes to the sidecar
// (the parent is untrusted); it is part of the agent config and so of the measured enclave.
//
// Model: allowlists of keys (glob patterns, `*` matches any run of characters), each with an
// optional denylist that wins over it; a cap on attribute/label value length (longer values are
// truncated); a cap on series per metric family (the first N series of each family in a snapshot
// are kept). Whatever is removed is counted by kind and reason only — never by the removed key or
// value, since a forbidden key can itself be sensitive. See docs/telemetry-policy.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "porthole/common/config_reader.hpp"
#include "porthole/telemetry/otlp_model.hpp"

namespace prometheus {
class Registry;
class Counter;
}  // namespace prometheus

namespace porthole::telemetry {

// `*` matches any (possibly empty) run of characters; everything else matches itself.
bool glob_match(std::string_view pattern, std::string_view text);

// A key is allowed when it matches an `allow` pattern and no `deny` pattern.
struct KeyFilter {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  bool allows(std::string_view key) const;
  bool operator==(const KeyFilter&) const = default;
};

struct TelemetryPolicy {
  // Span, span event and span link attributes. Defaults: semantic-convention keys that describe
  // the request's shape, never its payload (see default_span_attribute_keys()).
  KeyFilter span_attributes;
  // Resource and instrumentation-scope attributes.
  KeyFilter resource_attributes;
  // Log record attributes (log fields).
  KeyFilter log_attributes;
  // Whether log record bodies may leave (a body is free text: off by default).
  bool log_bodies = false;
  // Whether span status messages may leave (often an error text with request data: off).
  bool span_status_messages = false;
  // Metric families by name, and label names on every series.
  KeyFilter metric_names;
  KeyFilter metric_labels;
  // String/bytes attribute values, log bodies and label values longer than this are truncated
  // (at a UTF-8 character boundary for strings).
  std::size_t max_value_bytes = 1024;
  // Per metric family and snapshot: series beyond the first N are dropped.
  std::size_t max_series_per_family = 2000;

  bool operator==(const TelemetryPolicy&) const = default;
};

std::vector<std::string> default_span_attribute_keys();
std::vector<std::string> default_span_attribute_deny();
std::vector<std::string> default_resource_attribute_keys();
std::vector<std::string> default_log_attribute_keys();
TelemetryPolicy default_telemetry_policy();

// Reads the `telemetry.policy` section:
//   span_attributes:     {allow: [globs], deny: [globs]}
//   resource_attributes: {allow, deny}
//   log_attributes:      {allow, deny}
//   log_bodies: bool
//   span_status_messages: bool
//   metric_names:        {allow, deny}
//   metric_labels:       {allow, deny}
//   max_value_bytes: bytes (16..1MiB)
//   max_series_per_family: integer (1..1000000)
// A missing key keeps its default; a list that is given replaces the default list (it is not
// merged). Throws ConfigError for unknown keys, empty patterns or out-of-range numbers.
TelemetryPolicy read_telemetry_policy(ConfigNode node);

// What applying the policy removed or changed, by kind and reason.
enum class PolicyKind : std::uint8_t {
  SpanAttribute,      // span, event and link attributes
  ResourceAttribute,  // resource and scope attributes
  LogAttribute,
  LogBody,
  SpanStatusMessage,
  MetricFamily,
  MetricLabel,
  MetricSeries,
  kCount
};
enum class PolicyReason : std::uint8_t {
  NotAllowed,  // removed: key/name not allowed, or the setting is off
  Truncated,   // kept, shortened to max_value_bytes
  SeriesCap,   // removed: beyond max_series_per_family
  Duplicate,   // removed: a series identical to an earlier one once labels were removed
  kCount
};
std::string_view to_string(PolicyKind kind);      // "span_attribute", ...
std::string_view to_string(PolicyReason reason);  // "not_allowed", "truncated", ...

struct PolicyCounts {
  std::array<std::array<std::uint64_t, static_cast<std::size_t>(PolicyReason::kCount)>,
             static_cast<std::size_t>(PolicyKind::kCount)>
      counts{};
  std::uint64_t& at(PolicyKind k, PolicyReason r) {
    return counts[static_cast<std::size_t>(k)][static_cast<std::size_t>(r)];
  }
  std::uint64_t get(PolicyKind k, PolicyReason r) const {
    return counts[static_cast<std::size_t>(k)][static_cast<std::size_t>(r)];
  }
  std::uint64_t total() const;
  PolicyCounts& operator+=(const PolicyCounts& other);
};

// Applies the policy in place and returns what it did (named apply_policy rather than apply so
// that argument-dependent lookup never competes with std::apply). Dropped attribute counts
// (dropped_attributes_count) grow by the attributes removed, as OTLP intends.
PolicyCounts apply_policy(const TelemetryPolicy& policy, TraceBatch& batch);
PolicyCounts apply_policy(const TelemetryPolicy& policy, LogBatch& batch);
// Families not allowed are removed whole; labels not allowed are removed from every series
// (`le` and `quantile` live outside ClientMetric::label and are untouched); series made identical
// by that are removed (Duplicate); then each family keeps its first max_series_per_family series.
PolicyCounts apply_policy(const TelemetryPolicy& policy, std::vector<prometheus::MetricFamily>& families);

// porthole_telemetry_policy_actions_total{side, kind, reason}: one series per (kind, reason) pair
// that can happen. Every reason but "truncated" means the item was removed.
class PolicyMetrics {
 public:
  PolicyMetrics(prometheus::Registry& registry, const std::string& side);
  void record(const PolicyCounts& counts);

 private:
  std::array<std::array<prometheus::Counter*, static_cast<std::size_t>(PolicyReason::kCount)>,
             static_cast<std::size_t>(PolicyKind::kCount)>
      counters_{};
};

}  // namespace porthole::telemetry
