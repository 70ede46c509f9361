// OTLP metrics -> Prometheus families: names and units, labels (attributes, job/instance, scope,
// clashes), target_info, histogram buckets (explicit and exponential), summaries, rejections,
// delta accumulation, and what TextSerializer makes of the result.
#include <gtest/gtest.h>

#include <cmath>

#include <prometheus/text_serializer.h>

#include "otlp_metrics_samples.hpp"
#include "porthole/telemetry/otlp_metrics_prometheus.hpp"
#include "porthole/telemetry/prom_text.hpp"

namespace porthole::telemetry {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricType;
using samples::find_series;
using Labels = std::vector<ClientMetric::Label>;

const TelemetryPolicy kPolicy = default_telemetry_policy();

OtlpMetricsConversion convert(const MetricsBatch& batch, const TelemetryPolicy& policy = kPolicy) {
  return convert_metrics(batch, policy);
}

const prometheus::MetricFamily* family(const OtlpMetricsConversion& c, const std::string& name) {
  for (const auto& f : c.families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::vector<std::pair<double, std::uint64_t>> buckets(const ClientMetric& m) {
  std::vector<std::pair<double, std::uint64_t>> out;
  for (const auto& b : m.histogram.bucket) out.emplace_back(b.upper_bound, b.cumulative_count);
  return out;
}

TEST(OtlpMetricsNamesTest, MetricNamesFollowTheCompatibilitySpec) {
  const struct {
    const char* name;
    const char* unit;
    MetricType type;
    const char* want;
  } cases[] = {
      {"http.server.request.duration", "s", MetricType::Histogram, "http_server_request_duration_seconds"},
      {"http.server.duration", "ms", MetricType::Histogram, "http_server_duration_milliseconds"},
      {"requests", "{request}", MetricType::Counter, "requests_total"},
      {"requests_total", "", MetricType::Counter, "requests_total"},
      {"requests_total", "", MetricType::Gauge, "requests_total"},
      {"bytes.sent", "By", MetricType::Counter, "bytes_sent_total"},         // already holds the unit
      {"sent", "By", MetricType::Counter, "sent_bytes_total"},               // unit before _total
      {"io_total", "By", MetricType::Counter, "io_bytes_total"},
      {"throughput", "By/s", MetricType::Gauge, "throughput_bytes_per_second"},
      {"rate", "{packet}/s", MetricType::Gauge, "rate_per_second"},
      {"cpu.utilization", "1", MetricType::Gauge, "cpu_utilization_ratio"},
      {"errors", "1", MetricType::Counter, "errors_total"},                  // "1" is "ratio" for gauges only
      {"heap", "MiBy", MetricType::Gauge, "heap_mebibytes"},
      {"odd", "req", MetricType::Gauge, "odd_req"},                          // unknown units as written
      {"2xx.count", "", MetricType::Gauge, "_2xx_count"},
      {"a..b--c", "", MetricType::Gauge, "a_b_c"},
      {"ns:sub.name", "", MetricType::Gauge, "ns:sub_name"},
      {"caf\xc3\xa9", "", MetricType::Gauge, "caf"},   // trailing `_` dropped
      {"!!!", "", MetricType::Gauge, ""},
      {"", "s", MetricType::Gauge, ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(prometheus_metric_name(c.name, c.unit, c.type), c.want) << c.name << " [" << c.unit << "]";
  }
  EXPECT_EQ(prometheus_unit("m/s"), "meters_per_second");
  EXPECT_EQ(prometheus_unit(" {thing} "), "");
  EXPECT_EQ(prometheus_unit("KiBy"), "kibibytes");
  EXPECT_EQ(prometheus_label_name("http.request.method"), "http_request_method");
  EXPECT_EQ(prometheus_label_name("9lives"), "_9lives");
  EXPECT_EQ(prometheus_label_name("__private"), "_private");
  EXPECT_EQ(prometheus_label_name("a:b"), "a_b");
  EXPECT_EQ(prometheus_label_name("..."), "");
}

TEST(OtlpMetricsPrometheusTest, TypesNamesAndValues) {
  const auto c = convert(samples::batch({
      samples::gauge("temp", {samples::number(21.5)}, "Cel"),
      samples::sum("requests", {samples::integer(42)}, true),
      samples::sum("in.flight", {samples::integer(-3)}, false),
      samples::sum("delta.count", {samples::integer(5)}, true, AggregationTemporality::Delta),
  }));
  EXPECT_EQ(c.offered, 4u);
  EXPECT_EQ(c.rejected_total(), 0u) << c.first_error;
  ASSERT_NE(family(c, "temp_celsius"), nullptr);
  EXPECT_EQ(family(c, "temp_celsius")->type, MetricType::Gauge);
  EXPECT_EQ(family(c, "temp_celsius")->help, "a gauge");
  EXPECT_EQ(family(c, "temp_celsius")->metric.at(0).gauge.value, 21.5);
  ASSERT_NE(family(c, "requests_total"), nullptr);
  EXPECT_EQ(family(c, "requests_total")->type, MetricType::Counter);
  EXPECT_EQ(family(c, "requests_total")->metric.at(0).counter.value, 42);
  EXPECT_FALSE(c.info(family(c, "requests_total")->metric.at(0)).delta);
  ASSERT_NE(family(c, "in_flight"), nullptr);
  EXPECT_EQ(family(c, "in_flight")->type, MetricType::Gauge);
  EXPECT_EQ(family(c, "in_flight")->metric.at(0).gauge.value, -3);
  ASSERT_NE(family(c, "delta_count_total"), nullptr);
  const auto& delta = family(c, "delta_count_total")->metric.at(0);
  EXPECT_TRUE(c.info(delta).delta);
  EXPECT_EQ(c.info(delta).start_time_unix_nano, 1000u);
  EXPECT_EQ(c.info(delta).time_unix_nano, 2000u);
}

TEST(OtlpMetricsPrometheusTest, LabelsFromAttributesResourceAndScope) {
  MetricsBatch b = samples::batch(
      {samples::gauge("g", {samples::number(1, {{"http.method", "GET"},
                                                {"a_b", "2"},
                                                {"a.b", "1"},
                                                {"job", "theirs"},
                                                {"side", "x"},
                                                {"empty", ""},
                                                {"bad", "\xff\xfeok"},
                                                {"le", "kept as is on a gauge"}})})},
      {{"service.name", "shop"}, {"service.namespace", "prod"}, {"service.instance.id", "i-7"}});
  const auto c = convert(b);
  ASSERT_EQ(c.rejected_total(), 0u) << c.first_error;
  const Labels want{{"a_b", "1;2"},  // "a.b" sorts before "a_b"
                    {"bad", "\xEF\xBF\xBD\xEF\xBF\xBDok"},
                    {"exported_job", "theirs"},
                    {"exported_side", "x"},
                    {"http_method", "GET"},
                    {"instance", "i-7"},
                    {"job", "prod/shop"},
                    {"le", "kept as is on a gauge"},
                    {"otel_scope_name", "shop.meter"},
                    {"otel_scope_version", "1.0"}};
  EXPECT_EQ(family(c, "g")->metric.at(0).label, want);

  // `le` on a histogram and `quantile` on a summary would clash with the bucket/quantile label.
  SummaryDataPoint s;
  s.attributes = {{"quantile", "q"}};
  const auto h = convert(samples::batch({samples::histogram("h", {samples::histogram_point({1}, {1, 0}, {{"le", "x"}})}),
                                         samples::summary("s", {s})},
                                        {}, ""));
  ASSERT_EQ(h.rejected_total(), 0u) << h.first_error;
  EXPECT_EQ(family(h, "h")->metric.at(0).label, (Labels{{"exported_le", "x"}, {"otel_scope_version", "1.0"}}));
  EXPECT_EQ(family(h, "s")->metric.at(0).label, (Labels{{"exported_quantile", "q"}, {"otel_scope_version", "1.0"}}));
}

TEST(OtlpMetricsPrometheusTest, ResourceAttributesGoToTargetInfoWhenThePolicyAllows) {
  OtlpMetricsConversion c = convert(samples::batch(
      {samples::gauge("g", {samples::number(1)})},
      {{"service.name", "shop"}, {"service.version", "2.0"}, {"telemetry.sdk.language", "nodejs"},
       {"host.name", "secret-host"}, {"process.command_line", "shop --password=hunter2"}}));
  const auto* info = find_series(c.families, "target_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->label, (Labels{{"job", "shop"}, {"service_version", "2.0"}, {"telemetry_sdk_language", "nodejs"}}));
  EXPECT_EQ(info->gauge.value, 1);
  EXPECT_TRUE(c.info(*info).synthetic);
  EXPECT_EQ(c.policy.get(PolicyKind::ResourceAttribute, PolicyReason::NotAllowed), 2u);
  EXPECT_EQ(c.offered, 1u);  // target_info is not a data point of the workload

  // job and instance are resource attributes: they leave only if the policy allows them.
  TelemetryPolicy strict = kPolicy;
  strict.resource_attributes.allow = {"service.version"};
  c = convert(samples::batch({samples::gauge("g", {samples::number(1)})},
                             {{"service.name", "shop"}, {"service.instance.id", "i-1"}, {"service.version", "2.0"}}),
              strict);
  EXPECT_EQ(find_series(c.families, "g")->label, (Labels{{"otel_scope_name", "shop.meter"}, {"otel_scope_version", "1.0"}}));
  EXPECT_EQ(find_series(c.families, "target_info")->label, (Labels{{"service_version", "2.0"}}));
  EXPECT_EQ(c.policy.get(PolicyKind::ResourceAttribute, PolicyReason::NotAllowed), 2u);
}

TEST(OtlpMetricsPrometheusTest, ExplicitHistogramBuckets) {
  auto p = samples::histogram_point({0.1, 1, 10}, {1, 2, 3, 4});
  const auto c = convert(samples::batch({samples::histogram("lat", {p}, AggregationTemporality::Cumulative, "s")}));
  ASSERT_EQ(c.rejected_total(), 0u) << c.first_error;
  const auto& m = family(c, "lat_seconds")->metric.at(0);
  EXPECT_EQ(buckets(m), (std::vector<std::pair<double, std::uint64_t>>{{0.1, 1}, {1, 3}, {10, 6}}));
  EXPECT_EQ(m.histogram.sample_count, 10u);  // le="+Inf"
  EXPECT_EQ(m.histogram.sample_sum, 12.5);

  HistogramDataPoint bare;  // no buckets, no sum: _count, _sum NaN and +Inf only
  bare.count = 5;
  const auto b = convert(samples::batch({samples::histogram("bare", {bare})}));
  ASSERT_EQ(b.rejected_total(), 0u) << b.first_error;
  EXPECT_TRUE(family(b, "bare")->metric.at(0).histogram.bucket.empty());
  EXPECT_TRUE(std::isnan(family(b, "bare")->metric.at(0).histogram.sample_sum));
}

TEST(OtlpMetricsPrometheusTest, InvalidHistogramPointsAreRejectedOneByOne) {
  auto mismatch = samples::histogram_point({1, 2}, {1, 1});
  auto wrong_count = samples::histogram_point({1}, {1, 1});
  wrong_count.count = 5;
  auto unordered = samples::histogram_point({2, 1}, {1, 1, 1});
  auto close = samples::histogram_point({1, 1.00000000000000001}, {1, 1, 1});
  auto infinite = samples::histogram_point({1, INFINITY}, {1, 1, 1});
  auto good = samples::histogram_point({1}, {1, 1}, {{"ok", "yes"}});
  const auto c = convert(samples::batch({samples::histogram("h", {mismatch, wrong_count, unordered, close, infinite, good})}));
  EXPECT_EQ(c.rejected[static_cast<std::size_t>(PointRejection::Invalid)], 5u);
  EXPECT_EQ(c.first_error, "metric 'h': data point 0: 2 bucket_counts for 2 explicit_bounds; want one more count than bounds");
  ASSERT_NE(family(c, "h"), nullptr);
  EXPECT_EQ(family(c, "h")->metric.size(), 1u);

  const auto counts = convert(samples::batch({samples::histogram("h", {wrong_count})}));
  EXPECT_EQ(counts.first_error, "metric 'h': data point 0: bucket counts add up to 2 but count is 5");
}

TEST(OtlpMetricsPrometheusTest, ExponentialHistogramsBecomePowerOfTwoBuckets) {
  // Scale 0: bucket i covers (2^i, 2^(i+1)].
  auto p = samples::exponential_point(0, 0, {1, 2, 3}, 1);
  auto c = convert(samples::batch({samples::exponential("size", {p})}));
  ASSERT_EQ(c.rejected_total(), 0u) << c.first_error;
  const auto* m = find_series(c.families, "size_seconds");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(buckets(*m), (std::vector<std::pair<double, std::uint64_t>>{{0, 1}, {2, 2}, {4, 4}, {8, 7}}));
  EXPECT_EQ(m->histogram.sample_count, 7u);

  // Scale 2 is downscaled to 0: indices 0..3 -> 0 and 4..7 -> 1, so the bounds do not move
  // when the SDK rescales.
  p = samples::exponential_point(2, 0, {1, 1, 1, 1, 1, 1, 1, 1});
  c = convert(samples::batch({samples::exponential("size", {p})}));
  EXPECT_EQ(buckets(*find_series(c.families, "size_seconds")),
            (std::vector<std::pair<double, std::uint64_t>>{{2, 4}, {4, 8}}));
  p = samples::exponential_point(1, -1, {1, 1, 1, 1});  // -1 >> 1 = -1: (0.5, 1]
  c = convert(samples::batch({samples::exponential("size", {p})}));
  EXPECT_EQ(buckets(*find_series(c.families, "size_seconds")),
            (std::vector<std::pair<double, std::uint64_t>>{{1, 1}, {2, 3}, {4, 4}}));

  // Negative scales keep their own (coarser) bounds: scale -1, base 4.
  p = samples::exponential_point(-1, 1, {2});
  c = convert(samples::batch({samples::exponential("size", {p})}));
  EXPECT_EQ(buckets(*find_series(c.families, "size_seconds")), (std::vector<std::pair<double, std::uint64_t>>{{16, 2}}));

  // Negative values: bucket j covers [-2^(j+1), -2^j), so le is -2^j; then zero, then positive.
  p = samples::exponential_point(0, 0, {1}, 2);
  p.negative.offset = 0;
  p.negative.bucket_counts = {3, 1};
  p.count += 4;
  p.zero_threshold = 0.5;
  c = convert(samples::batch({samples::exponential("size", {p})}));
  ASSERT_EQ(c.rejected_total(), 0u) << c.first_error;
  EXPECT_EQ(buckets(*find_series(c.families, "size_seconds")),
            (std::vector<std::pair<double, std::uint64_t>>{{-2, 1}, {-1, 4}, {0.5, 6}, {2, 7}}));
}

TEST(OtlpMetricsPrometheusTest, InvalidExponentialHistograms) {
  auto scale = samples::exponential_point(21, 0, {1});
  auto count = samples::exponential_point(0, 0, {1});
  count.count = 9;
  auto beyond = samples::exponential_point(0, 1024, {1});
  auto threshold = samples::exponential_point(0, 0, {1}, 1);
  threshold.zero_threshold = 4;  // overlaps (1, 2]
  const auto c = convert(samples::batch({samples::exponential("e", {scale, count, beyond, threshold})}));
  EXPECT_EQ(c.rejected[static_cast<std::size_t>(PointRejection::Invalid)], 4u);
  EXPECT_EQ(c.first_error, "metric 'e': data point 0: scale 21 is outside -10..20");

  // The top bucket's bound overflows to +Inf: its values count in le="+Inf" (sample_count) only.
  auto top = samples::exponential_point(0, 1022, {1, 1});
  const auto t = convert(samples::batch({samples::exponential("e", {top})}));
  ASSERT_EQ(t.rejected_total(), 0u) << t.first_error;
  const auto* m = find_series(t.families, "e_seconds");
  EXPECT_EQ(buckets(*m), (std::vector<std::pair<double, std::uint64_t>>{{std::ldexp(1.0, 1023), 1}}));
  EXPECT_EQ(m->histogram.sample_count, 2u);
}

TEST(OtlpMetricsPrometheusTest, SummariesSortQuantiles) {
  SummaryDataPoint p;
  p.count = 10;
  p.sum = 5;
  p.quantile_values = {{0.99, 9}, {0.5, 4}};
  SummaryDataPoint bad = p;
  bad.quantile_values = {{1.5, 1}};
  const auto c = convert(samples::batch({samples::summary("rt", {p, bad})}));
  EXPECT_EQ(c.rejected[static_cast<std::size_t>(PointRejection::Invalid)], 1u);
  EXPECT_EQ(c.first_error, "metric 'rt': data point 1: quantile 1.5 is outside [0, 1]");
  const auto& s = family(c, "rt")->metric.at(0).summary;
  ASSERT_EQ(s.quantile.size(), 2u);
  EXPECT_EQ(s.quantile[0].quantile, 0.5);
  EXPECT_EQ(s.quantile[1].value, 9);
  EXPECT_EQ(s.sample_count, 10u);
}

TEST(OtlpMetricsPrometheusTest, RejectionsByReason) {
  Metric no_temporality = samples::sum("s", {samples::integer(1)});
  std::get<SumData>(no_temporality.data).temporality = AggregationTemporality::Unspecified;
  NumberDataPoint no_value;
  NumberDataPoint no_recorded = samples::number(1);
  no_recorded.flags = kNoRecordedValueFlag;
  const auto c = convert(samples::batch({
      samples::gauge("porthole.fake", {samples::number(1), samples::number(2, {{"a", "b"}})}),
      samples::gauge("target.info", {samples::number(1)}),
      samples::gauge("x_total", {samples::number(1)}),
      samples::sum("x", {samples::integer(1)}),  // x_total as a counter: the gauge came first
      no_temporality,
      samples::gauge("v", {no_value, no_recorded}),
      samples::gauge("...", {samples::number(1)}),
  }));
  EXPECT_EQ(c.offered, 9u);
  EXPECT_EQ(c.rejected[static_cast<std::size_t>(PointRejection::ReservedName)], 3u);
  EXPECT_EQ(c.rejected[static_cast<std::size_t>(PointRejection::TypeConflict)], 1u);
  EXPECT_EQ(c.rejected[static_cast<std::size_t>(PointRejection::Invalid)], 3u);
  EXPECT_EQ(c.no_recorded_value, 1u);
  EXPECT_EQ(c.first_error, "metric 'porthole.fake': 'porthole_fake' is reserved for the agent's own metrics (porthole_*, target_info)");
  EXPECT_EQ(family(c, "porthole_fake"), nullptr);
  EXPECT_EQ(family(c, "x_total")->type, MetricType::Gauge);

  // Too many labels for the sidecar's parser.
  MetricAttributes many;
  for (std::size_t i = 0; i < kMaxSeriesLabels; ++i) many.push_back({"k" + std::to_string(i), "v"});
  const auto l = convert(samples::batch({samples::gauge("g", {samples::number(1, many)})}));
  EXPECT_EQ(l.first_error, "metric 'g': data point 0: 59 labels; at most 56");
}

TEST(OtlpMetricsPrometheusTest, TwoPointsOfOneSeriesInABatch) {
  const auto c = convert(samples::batch({
      samples::gauge("g", {samples::number(1, {}, 3000), samples::number(2, {}, 2000)}),  // the later one wins
      samples::sum("d", {samples::integer(3), samples::integer(4)}, true, AggregationTemporality::Delta),
  }));
  EXPECT_EQ(family(c, "g")->metric.size(), 1u);
  EXPECT_EQ(family(c, "g")->metric[0].gauge.value, 1);
  EXPECT_EQ(family(c, "d_total")->metric.size(), 1u);
  EXPECT_EQ(family(c, "d_total")->metric[0].counter.value, 7);
}

TEST(OtlpMetricsPrometheusTest, DeltaHistogramsAccumulateByBound) {
  ClientMetric into, delta;
  into.histogram.bucket = {{1, 1.0}, {3, 2.0}};
  into.histogram.sample_count = 4;
  into.histogram.sample_sum = 5;
  delta.histogram.bucket = {{2, 2.0}, {5, 4.0}};
  delta.histogram.sample_count = 6;
  delta.histogram.sample_sum = 1;
  ASSERT_TRUE(accumulate(MetricType::Histogram, into, delta));
  EXPECT_EQ(buckets(into), (std::vector<std::pair<double, std::uint64_t>>{{1, 1}, {2, 5}, {4, 8}}));
  EXPECT_EQ(into.histogram.sample_count, 10u);
  EXPECT_EQ(into.histogram.sample_sum, 6);

  ClientMetric counter, plus;
  counter.counter.value = 2;
  plus.counter.value = 3;
  ASSERT_TRUE(accumulate(MetricType::Counter, counter, plus));
  EXPECT_EQ(counter.counter.value, 5);
  EXPECT_FALSE(accumulate(MetricType::Summary, counter, plus));

  ClientMetric wide, other;
  for (std::size_t i = 0; i < kMaxMetricBuckets; ++i) wide.histogram.bucket.push_back({i, static_cast<double>(i)});
  other.histogram.bucket.push_back({1, 0.5});
  const auto before = wide.histogram.bucket;
  EXPECT_FALSE(accumulate(MetricType::Histogram, wide, other));
  EXPECT_EQ(wide.histogram.bucket.size(), before.size());
}

TEST(OtlpMetricsPrometheusTest, HelpIsEscapedAndBounded) {
  Metric m = samples::gauge("g", {samples::number(1)});
  m.description = "line one\nline two \\ with a \x01 control and \xff";
  const auto c = convert(samples::batch({m}));
  EXPECT_EQ(family(c, "g")->help, "line one\\nline two \\\\ with a   control and \xEF\xBF\xBD");
  TelemetryPolicy small = kPolicy;
  small.max_value_bytes = 16;
  m.description = std::string(15, 'x') + "\xc3\xa9";  // a 2-byte character across the cut
  EXPECT_EQ(family(convert(samples::batch({m}), small), "g")->help, std::string(15, 'x'));
}

// What the agent serves has to read back through the sidecar's strict parser unchanged, and the
// byte budget has to cover what TextSerializer writes.
TEST(OtlpMetricsPrometheusTest, TheTextReadsBackAndTheByteEstimateCoversIt) {
  auto c = convert(samples::every_kind());
  ASSERT_EQ(c.rejected_total(), 0u) << c.first_error;
  std::size_t estimate = 0;
  for (auto& f : c.families) {
    for (auto& m : f.metric) {
      m.timestamp_ms = 0;
      estimate += exposition_bytes(f.name, f.type, m);
    }
  }
  std::size_t help_and_type = 0;
  for (const auto& f : c.families) help_and_type += f.name.size() * 2 + f.help.size() + 32;
  const std::string text = prometheus::TextSerializer().Serialize(c.families);
  EXPECT_GE(estimate + help_and_type, text.size()) << text;
  const auto parsed = parse_prometheus_text(text);
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.front().message << "\n" << text;
  EXPECT_EQ(parsed.families.size(), c.families.size()) << text;
  EXPECT_NE(text.find("size_seconds_bucket{"), std::string::npos) << text;
  EXPECT_NE(text.find("requests_total{code=\"200\",instance=\"i-1\",job=\"shop\",otel_scope_name=\"shop.meter\","
                      "otel_scope_version=\"1.0\"} 42"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace porthole::telemetry
