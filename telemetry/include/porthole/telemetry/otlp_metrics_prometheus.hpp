// OTLP metrics -> Prometheus metric families, following the OpenTelemetry "Prometheus and
// OpenMetrics Compatibility" spec (OTLP metric points to Prometheus) as far as the text format
// 0.0.4 can carry it. The agent's OtlpMetricsStore keeps the result and serves it with the
// agent's own metrics. docs/telemetry-metrics.md has the rules; in short:
//
// - Names: characters outside [a-zA-Z0-9_:] become `_`, runs of `_` one `_`, a leading digit gets
//   a `_` in front; the unit is appended in words (`ms` -> `_milliseconds`, `By/s` ->
//   `_bytes_per_second`, `{request}` -> nothing, `1` -> `_ratio` for gauges) unless the name
//   already holds it; monotonic sums end in `_total`.
// - Types: Gauge and non-monotonic Sum -> gauge, monotonic Sum -> counter, Histogram -> histogram
//   (`le` buckets), ExponentialHistogram -> histogram with power-of-two bounds (downscaled to scale
//   0, so that bounds stay put when the SDK rescales), Summary -> summary. DELTA sums and histograms
//   are marked for accumulation (PointInfo::delta): the store adds them up into cumulative series.
// - Labels: data point attributes, names sanitised like metric names (no `:`), clashing names
//   joined with `;` in key order; `job` (service.namespace/service.name) and `instance`
//   (service.instance.id) from the resource, `otel_scope_name`/`otel_scope_version` from the
//   scope. An attribute named like one of those, or `enclave`, `side`, `target` (the agent's and
//   sidecar's), or `le`/`quantile` on histograms/summaries, is kept as `exported_<name>`.
//   Empty values are left out (Prometheus reads them as absent).
// - Resource attributes other than those three go to one `target_info` gauge series (value 1,
//   labels job, instance and the attributes) per resource, if the policy's resource_attributes
//   allow them; job and instance come only from attributes it allows too.
// - Rejected points (counted by reason, the first error kept): invalid ones (no value, bucket
//   counts not matching bounds or count, bounds not increasing, quantiles outside [0, 1],
//   unspecified temporality, names that sanitise to nothing or are too long, too many labels),
//   names the agent reserves (`porthole_*`, `target_info`), and a Prometheus type other than an
//   earlier metric of the same name in the batch. Points flagged NO_RECORDED_VALUE are skipped.
// - Two points of one series in a batch: deltas are added, otherwise the later one is kept.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "porthole/telemetry/otlp_metrics.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::telemetry {

// What a series came from, beside it while the families pass through apply_policy() (which
// removes and compacts series but keeps their order): until the store takes the series,
// ClientMetric::timestamp_ms holds the index of its PointInfo in OtlpMetricsConversion::points.
struct PointInfo {
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  bool delta = false;      // add to the stored series rather than replace it
  bool synthetic = false;  // a target_info series: made here, not a data point of the workload
};

enum class PointRejection : std::uint8_t { Invalid, ReservedName, TypeConflict, kCount };

struct OtlpMetricsConversion {
  std::vector<prometheus::MetricFamily> families;  // by first appearance; labels sorted by name
  std::vector<PointInfo> points;
  std::uint64_t offered = 0;  // data points in the batch
  std::array<std::uint64_t, static_cast<std::size_t>(PointRejection::kCount)> rejected{};
  std::uint64_t no_recorded_value = 0;
  std::string first_error;  // the first rejected point's reason, e.g. "metric 'x' (point 2): ..."
  PolicyCounts policy;      // resource attributes kept out of target_info, job and instance

  std::uint64_t rejected_total() const;
  const PointInfo& info(const prometheus::ClientMetric& series) const {
    return points.at(static_cast<std::size_t>(series.timestamp_ms));
  }
};

// Series carry at most this many labels of their own: the sidecar's parser takes 64 per line,
// and the sidecar adds `enclave` and `side`, a bucket `le`.
constexpr std::size_t kMaxSeriesLabels = 56;
// Longer metric or label names are invalid.
constexpr std::size_t kMaxNameBytes = 1024;

OtlpMetricsConversion convert_metrics(const MetricsBatch& batch, const TelemetryPolicy& policy);

// The exposed family name (for a counter with `_total`; histograms and summaries without their
// `_bucket`/`_sum`/`_count` suffixes). Empty when nothing valid is left of `name`.
std::string prometheus_metric_name(std::string_view name, std::string_view unit, prometheus::MetricType type);
// `key` as a label name: [a-zA-Z_][a-zA-Z0-9_]*, runs of `_` as one; "" when nothing is left.
std::string prometheus_label_name(std::string_view key);
// The unit in words: "ms" -> "milliseconds", "By/s" -> "bytes_per_second", "{packet}" -> "",
// "1" -> "ratio" (the caller appends that for gauges only).
std::string prometheus_unit(std::string_view unit);

// Adds `delta`, a series of the same family and type, to `into`: counter and gauge values add;
// histogram counts and sums add, buckets merged by upper bound (a bound one side lacks counts, on
// that side, what its next lower bound counts: exact for the same bounds and for the power-of-two
// bounds of converted exponential histograms). False, `into` unchanged, when the result would
// hold more than kMaxMetricBuckets buckets or the type cannot accumulate (summary).
bool accumulate(prometheus::MetricType type, prometheus::ClientMetric& into, const prometheus::ClientMetric& delta);

// About how many bytes TextSerializer writes for `series` of a family named `family`: what the
// store's byte budget counts.
std::size_t exposition_bytes(std::string_view family, prometheus::MetricType type, const prometheus::ClientMetric& series);

}  // namespace porthole::telemetry
