// OTLP metrics (opentelemetry-proto metrics/v1 and collector/metrics/v1) as the agent's OTLP/HTTP
// receiver takes them from the workload, on their way to Prometheus series (see
// otlp_metrics_prometheus.hpp and docs/telemetry-metrics.md).
//
// Metrics never leave the enclave as OTLP: they leave as Prometheus text. So the model keeps what
// the conversion needs and nothing else: attribute values are rendered to the strings that become
// label values while decoding (OpenTelemetry's rules for non-string attributes: booleans
// `true`/`false`, integers in decimal, doubles in their shortest round-trip form, bytes in base64,
// arrays and maps as JSON), exemplars, metric metadata and schema URLs are skipped, and scope
// attributes are not kept.
//
// Decoding is for untrusted input, with the trace decoder's discipline: bounded in size, nesting
// depth and counts (OtlpDecodeLimits; data points count as items, bucket counts and bounds as
// values), unknown fields skipped, and on malformed input false with a message naming the field,
// e.g. "resource_metrics[0].scope_metrics[0].metrics[2].histogram.data_points[0].bucket_counts:
// packed fixed64 of 12 bytes". Never throws. Whether a point makes sense (bucket counts matching
// the bounds, a temporality given) is the conversion's business: it rejects that one point, not
// the request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "porthole/telemetry/otlp_proto.hpp"

namespace porthole::telemetry {

struct MetricAttribute {
  std::string key;
  std::string value;  // rendered (see above); "" for an empty AnyValue
  bool operator==(const MetricAttribute&) const = default;
};
using MetricAttributes = std::vector<MetricAttribute>;

enum class AggregationTemporality : std::int32_t { Unspecified = 0, Delta = 1, Cumulative = 2 };

// DataPointFlags.NO_RECORDED_VALUE: the series has no value at this time (it ended).
constexpr std::uint32_t kNoRecordedValueFlag = 1;

// Bucket counts, explicit bounds and quantiles of one data point, at most: a real SDK uses a few
// dozen (exponential histograms 160 per sign by default).
constexpr std::size_t kMaxMetricBuckets = 4096;

struct NumberDataPoint {
  MetricAttributes attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::variant<std::monostate, double, std::int64_t> value;  // as_double / as_int; monostate: unset
  std::uint32_t flags = 0;
  bool operator==(const NumberDataPoint&) const = default;
};

struct HistogramDataPoint {
  MetricAttributes attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  std::optional<double> sum;
  std::vector<std::uint64_t> bucket_counts;  // explicit_bounds.size() + 1, or none
  std::vector<double> explicit_bounds;
  std::uint32_t flags = 0;
  std::optional<double> min;
  std::optional<double> max;
  bool operator==(const HistogramDataPoint&) const = default;
};

struct ExponentialBuckets {
  std::int32_t offset = 0;
  std::vector<std::uint64_t> bucket_counts;
  bool operator==(const ExponentialBuckets&) const = default;
};

struct ExponentialHistogramDataPoint {
  MetricAttributes attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  std::optional<double> sum;
  std::int32_t scale = 0;
  std::uint64_t zero_count = 0;
  ExponentialBuckets positive;
  ExponentialBuckets negative;
  std::uint32_t flags = 0;
  std::optional<double> min;
  std::optional<double> max;
  double zero_threshold = 0;
  bool operator==(const ExponentialHistogramDataPoint&) const = default;
};

struct QuantileValue {
  double quantile = 0;
  double value = 0;
  bool operator==(const QuantileValue&) const = default;
};

struct SummaryDataPoint {
  MetricAttributes attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  double sum = 0;
  std::vector<QuantileValue> quantile_values;
  std::uint32_t flags = 0;
  bool operator==(const SummaryDataPoint&) const = default;
};

struct GaugeData {
  std::vector<NumberDataPoint> data_points;
  bool operator==(const GaugeData&) const = default;
};
struct SumData {
  std::vector<NumberDataPoint> data_points;
  AggregationTemporality temporality = AggregationTemporality::Unspecified;
  bool is_monotonic = false;
  bool operator==(const SumData&) const = default;
};
struct HistogramData {
  std::vector<HistogramDataPoint> data_points;
  AggregationTemporality temporality = AggregationTemporality::Unspecified;
  bool operator==(const HistogramData&) const = default;
};
struct ExponentialHistogramData {
  std::vector<ExponentialHistogramDataPoint> data_points;
  AggregationTemporality temporality = AggregationTemporality::Unspecified;
  bool operator==(const ExponentialHistogramData&) const = default;
};
struct SummaryData {
  std::vector<SummaryDataPoint> data_points;
  bool operator==(const SummaryData&) const = default;
};

struct Metric {
  std::string name;
  std::string description;
  std::string unit;
  // monostate: none of gauge, sum, histogram, exponential_histogram, summary was set (no points).
  std::variant<std::monostate, GaugeData, SumData, HistogramData, ExponentialHistogramData, SummaryData> data;
  bool operator==(const Metric&) const = default;
};

struct ScopeMetrics {
  std::string scope_name;
  std::string scope_version;
  std::vector<Metric> metrics;
  bool operator==(const ScopeMetrics&) const = default;
};

struct ResourceMetrics {
  MetricAttributes resource;
  std::vector<ScopeMetrics> scope_metrics;
  bool operator==(const ResourceMetrics&) const = default;
};

// ExportMetricsServiceRequest.
struct MetricsBatch {
  std::vector<ResourceMetrics> resource_metrics;
  bool operator==(const MetricsBatch&) const = default;
};

// Data points of every metric in the batch.
std::size_t count_data_points(const MetricsBatch& batch);

bool decode_metrics_request(std::string_view wire, MetricsBatch& out, std::string& error,
                            const OtlpDecodeLimits& limits = {});
// OTLP/JSON: lowerCamelCase keys (snake_case accepted), 64-bit integers as strings or numbers,
// doubles as numbers or "NaN"/"Infinity"/"-Infinity", enums as integers.
bool decode_metrics_request_json(std::string_view json, MetricsBatch& out, std::string& error,
                                 const OtlpDecodeLimits& limits = {});

// Protobuf, fields in number order, proto3 defaults left out; attributes as string values. For
// tests, the fuzzer and benchmarks: decode(encode(x)) == x.
std::string encode_metrics_request(const MetricsBatch& batch);

// ExportMetricsServiceResponse; partial.rejected is rejected_data_points.
std::string encode_metrics_response(const OtlpPartialSuccess& partial);
std::string encode_metrics_response_json(const OtlpPartialSuccess& partial);

}  // namespace porthole::telemetry
