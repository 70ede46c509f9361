// OTLP metrics for tests: small builders, and one batch holding every kind of data point.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "porthole/telemetry/otlp_metrics.hpp"

namespace porthole::telemetry::samples {

inline NumberDataPoint number(double value, MetricAttributes attributes = {}, std::uint64_t time = 2000) {
  NumberDataPoint p;
  p.attributes = std::move(attributes);
  p.start_time_unix_nano = 1000;
  p.time_unix_nano = time;
  p.value = value;
  return p;
}

inline NumberDataPoint integer(std::int64_t value, MetricAttributes attributes = {}, std::uint64_t time = 2000) {
  NumberDataPoint p = number(0, std::move(attributes), time);
  p.value = value;
  return p;
}

inline Metric gauge(std::string name, std::vector<NumberDataPoint> points, std::string unit = "") {
  return Metric{std::move(name), "a gauge", std::move(unit), GaugeData{std::move(points)}};
}

inline Metric sum(std::string name, std::vector<NumberDataPoint> points, bool monotonic = true,
                  AggregationTemporality temporality = AggregationTemporality::Cumulative, std::string unit = "") {
  return Metric{std::move(name), "a sum", std::move(unit), SumData{std::move(points), temporality, monotonic}};
}

inline HistogramDataPoint histogram_point(std::vector<double> bounds, std::vector<std::uint64_t> counts,
                                          MetricAttributes attributes = {}, std::uint64_t time = 2000) {
  HistogramDataPoint p;
  p.attributes = std::move(attributes);
  p.start_time_unix_nano = 1000;
  p.time_unix_nano = time;
  for (auto c : counts) p.count += c;
  p.sum = 12.5;
  p.bucket_counts = std::move(counts);
  p.explicit_bounds = std::move(bounds);
  return p;
}

inline Metric histogram(std::string name, std::vector<HistogramDataPoint> points,
                        AggregationTemporality temporality = AggregationTemporality::Cumulative, std::string unit = "") {
  return Metric{std::move(name), "a histogram", std::move(unit), HistogramData{std::move(points), temporality}};
}

inline ExponentialHistogramDataPoint exponential_point(std::int32_t scale, std::int32_t offset,
                                                       std::vector<std::uint64_t> positive, std::uint64_t zero = 0) {
  ExponentialHistogramDataPoint p;
  p.start_time_unix_nano = 1000;
  p.time_unix_nano = 2000;
  p.scale = scale;
  p.zero_count = zero;
  p.positive.offset = offset;
  p.count = zero;
  for (auto c : positive) p.count += c;
  p.positive.bucket_counts = std::move(positive);
  p.sum = 3.0;
  return p;
}

inline Metric exponential(std::string name, std::vector<ExponentialHistogramDataPoint> points,
                          AggregationTemporality temporality = AggregationTemporality::Cumulative) {
  return Metric{std::move(name), "", "s", ExponentialHistogramData{std::move(points), temporality}};
}

inline Metric summary(std::string name, std::vector<SummaryDataPoint> points) {
  return Metric{std::move(name), "a summary", "", SummaryData{std::move(points)}};
}

inline MetricsBatch batch(std::vector<Metric> metrics, MetricAttributes resource = {{"service.name", "shop"}},
                          std::string scope = "shop.meter") {
  MetricsBatch b;
  auto& r = b.resource_metrics.emplace_back();
  r.resource = std::move(resource);
  auto& s = r.scope_metrics.emplace_back();
  s.scope_name = std::move(scope);
  s.scope_version = "1.0";
  s.metrics = std::move(metrics);
  return b;
}

// One metric of every kind, int and double values, every optional field set somewhere.
inline MetricsBatch every_kind() {
  SummaryDataPoint summary_point;
  summary_point.attributes = {{"route", "/a"}};
  summary_point.start_time_unix_nano = 5;
  summary_point.time_unix_nano = 6;
  summary_point.count = 4;
  summary_point.sum = 10.25;
  summary_point.quantile_values = {{0.5, 2.0}, {0.99, 4.5}, {0, 0}};
  summary_point.flags = 0;
  ExponentialHistogramDataPoint e = exponential_point(3, -2, {1, 0, 2});
  e.negative.offset = 5;
  e.negative.bucket_counts = {4};
  e.count += 4;
  e.zero_threshold = 1e-9;
  e.min = -40;
  e.max = 2;
  e.attributes = {{"k", "v"}};
  HistogramDataPoint h = histogram_point({0.1, 1, 10}, {1, 2, 3, 4}, {{"method", "GET"}});
  h.min = 0.01;
  h.max = 12;
  h.flags = kNoRecordedValueFlag;
  HistogramDataPoint no_buckets;
  no_buckets.count = 3;
  return batch({gauge("queue.depth", {number(3.5, {{"queue", "a"}}), integer(-7, {{"queue", "b"}})}, "{item}"),
                sum("requests", {integer(42, {{"code", "200"}})}, true, AggregationTemporality::Cumulative, "{request}"),
                sum("in.flight", {number(2)}, false, AggregationTemporality::Delta),
                histogram("latency", {h, no_buckets}, AggregationTemporality::Cumulative, "ms"),
                exponential("size", {e}, AggregationTemporality::Delta),
                summary("legacy", {summary_point}),
                Metric{"empty", "no data", "", {}}},
               {{"service.name", "shop"}, {"service.instance.id", "i-1"}, {"service.version", "2.0"}});
}

// The series of `family` in `families` whose labels include every one of `labels`.
inline const prometheus::ClientMetric* find_series(const std::vector<prometheus::MetricFamily>& families,
                                                   const std::string& family,
                                                   const std::vector<std::pair<std::string, std::string>>& labels = {}) {
  for (const auto& f : families) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      std::size_t found = 0;
      for (const auto& [name, value] : labels) {
        for (const auto& l : m.label) found += l.name == name && l.value == value;
      }
      if (found == labels.size()) return &m;
    }
  }
  return nullptr;
}

}  // namespace porthole::telemetry::samples
