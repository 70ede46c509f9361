// The OTLP metrics decoders (protobuf and JSON): round trips of every point type, bytes made by
// the official schema, attribute rendering, malformed input with the field's path, and limits.
#include <gtest/gtest.h>

#include <cmath>

#include <boost/json.hpp>

#include "otlp_metrics_samples.hpp"
#include "porthole/telemetry/otlp_metrics.hpp"

namespace porthole::telemetry {
namespace {

// A tiny protobuf writer for hand-made messages (the decoder must not be tested with its own
// encoder alone).
std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string tag(int field, int type) { return varint(static_cast<std::uint64_t>(field) << 3 | type); }
std::string len(int field, const std::string& body) { return tag(field, 2) + varint(body.size()) + body; }
std::string fixed64(int field, std::uint64_t v) {
  std::string out = tag(field, 1);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  return out;
}
std::string number(int field, std::uint64_t v) { return tag(field, 0) + varint(v); }

// ExportMetricsServiceRequest{resource_metrics{scope_metrics{metrics: metric}}}.
std::string request_with_metric(const std::string& metric) {
  return len(1, len(2, len(2, metric)));
}

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

MetricsBatch decode_ok(std::string_view wire) {
  MetricsBatch out;
  std::string error;
  EXPECT_TRUE(decode_metrics_request(wire, out, error)) << error;
  return out;
}

std::string decode_error(std::string_view wire, const OtlpDecodeLimits& limits = {}) {
  MetricsBatch out;
  std::string error;
  EXPECT_FALSE(decode_metrics_request(wire, out, error, limits));
  return error;
}

std::string json_error(std::string_view json, const OtlpDecodeLimits& limits = {}) {
  MetricsBatch out;
  std::string error;
  EXPECT_FALSE(decode_metrics_request_json(json, out, error, limits));
  return error;
}

TEST(OtlpMetricsCodecTest, EveryPointTypeRoundTrips) {
  const MetricsBatch batch = samples::every_kind();
  const std::string wire = encode_metrics_request(batch);
  const MetricsBatch decoded = decode_ok(wire);
  EXPECT_EQ(decoded, batch);
  EXPECT_EQ(encode_metrics_request(decoded), wire);
  EXPECT_EQ(count_data_points(decoded), 8u);
}

// Encoded by @opentelemetry/otlp-transformer 0.52.1's protobuf root, generated from the official
// opentelemetry-proto files (tests/integration/otel, package "decoder"): summary, exponential
// histogram, histogram, sum and gauge with every field set.
TEST(OtlpMetricsCodecTest, DecodesWhatTheOfficialSchemaEncodes) {
  const std::string wire = unhex(
      "0a88030a230a180a0c736572766963652e6e616d6512080a06676f6c64656e0a070a016e1202180712e0020a060a016712013912640a01"
      "731201641a01315a590a57110100000000000000190200000000000000210300000000000000290000000000001240321209000000000000"
      "e03f11000000000000f43f321209000000000000f03f1100000000000022403a070a016112021001400012720a0165526d0a690a0e0a0178"
      "120921000000000000d03f110a00000000000000191400000000000000210600000000000000290000000000001e40300539010000000000"
      "000042060803120201024a0508061201026100000000000059c069000000000000494071fca9f1d24d62503f1001124b0a01684a460a4221"
      "030000000000000029000000000000f83f3210010000000000000002000000000000003a08000000000000e03f5001599a9999999999b93f"
      "61333333333333f33f1002121d0a01633a180a1219030000000000000031fbffffffffffffff1002180112100a01672a0b0a0921000000"
      "0000000440");
  const MetricsBatch b = decode_ok(wire);
  ASSERT_EQ(b.resource_metrics.size(), 1u);
  const auto& r = b.resource_metrics[0];
  EXPECT_EQ(r.resource, (MetricAttributes{{"service.name", "golden"}, {"n", "7"}}));
  ASSERT_EQ(r.scope_metrics.size(), 1u);
  EXPECT_EQ(r.scope_metrics[0].scope_name, "g");
  EXPECT_EQ(r.scope_metrics[0].scope_version, "9");
  const auto& m = r.scope_metrics[0].metrics;
  ASSERT_EQ(m.size(), 5u);

  EXPECT_EQ(m[0].name, "s");
  EXPECT_EQ(m[0].description, "d");
  EXPECT_EQ(m[0].unit, "1");
  const auto& s = std::get<SummaryData>(m[0].data).data_points.at(0);
  EXPECT_EQ(s.attributes, (MetricAttributes{{"a", "true"}}));
  EXPECT_EQ(s.start_time_unix_nano, 1u);
  EXPECT_EQ(s.time_unix_nano, 2u);
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(s.sum, 4.5);
  EXPECT_EQ(s.quantile_values, (std::vector<QuantileValue>{{0.5, 1.25}, {1, 9}}));

  const auto& eh = std::get<ExponentialHistogramData>(m[1].data);
  EXPECT_EQ(eh.temporality, AggregationTemporality::Delta);
  const auto& e = eh.data_points.at(0);
  EXPECT_EQ(e.attributes, (MetricAttributes{{"x", "0.25"}}));
  EXPECT_EQ(e.start_time_unix_nano, 10u);
  EXPECT_EQ(e.time_unix_nano, 20u);
  EXPECT_EQ(e.count, 6u);
  EXPECT_EQ(e.sum, 7.5);
  EXPECT_EQ(e.scale, -3);
  EXPECT_EQ(e.zero_count, 1u);
  EXPECT_EQ(e.positive, (ExponentialBuckets{-2, {1, 2}}));
  EXPECT_EQ(e.negative, (ExponentialBuckets{3, {2}}));
  EXPECT_EQ(e.min, -100);
  EXPECT_EQ(e.max, 50);
  EXPECT_EQ(e.zero_threshold, 0.001);

  const auto& hd = std::get<HistogramData>(m[2].data);
  EXPECT_EQ(hd.temporality, AggregationTemporality::Cumulative);
  const auto& h = hd.data_points.at(0);
  EXPECT_EQ(h.count, 3u);
  EXPECT_EQ(h.sum, 1.5);
  EXPECT_EQ(h.bucket_counts, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(h.explicit_bounds, (std::vector<double>{0.5}));
  EXPECT_EQ(h.min, 0.1);
  EXPECT_EQ(h.max, 1.2);
  EXPECT_EQ(h.flags, kNoRecordedValueFlag);

  const auto& c = std::get<SumData>(m[3].data);
  EXPECT_TRUE(c.is_monotonic);
  EXPECT_EQ(c.temporality, AggregationTemporality::Cumulative);
  EXPECT_EQ(c.data_points.at(0).value, (std::variant<std::monostate, double, std::int64_t>{std::int64_t{-5}}));
  EXPECT_EQ(c.data_points.at(0).time_unix_nano, 3u);

  EXPECT_EQ(std::get<GaugeData>(m[4].data).data_points.at(0).value,
            (std::variant<std::monostate, double, std::int64_t>{2.5}));
}

TEST(OtlpMetricsCodecTest, NonStringAttributesAreRenderedAsLabelValues) {
  auto any = [](const std::string& value) { return len(2, value); };
  auto kv = [&](const std::string& key, const std::string& value) { return len(7, len(1, key) + any(value)); };
  const std::string array = len(5, len(1, len(1, "a")) + len(1, number(3, 1)) + len(1, number(2, 1)) +
                                       len(1, fixed64(4, 0x7ff8000000000000ULL)));
  const std::string kvlist = len(6, len(1, len(1, "k") + len(2, len(1, "v"))) + len(1, len(1, "n") + len(2, fixed64(4, 0x4000000000000000ULL))));
  const std::string point = kv("b", number(2, 1)) + kv("i", number(3, static_cast<std::uint64_t>(-42))) +
                            kv("d", fixed64(4, 0x3ff8000000000000ULL)) + kv("bytes", len(7, "\x01\x02\x03")) +
                            kv("arr", array) + kv("map", kvlist) + kv("empty", "") + kv("s", len(1, "text")) +
                            kv("big", fixed64(4, 0x4415AF1D78B58C40ULL));
  const std::string metric = len(1, "m") + len(5, len(1, point + fixed64(4, 0)));
  const MetricsBatch b = decode_ok(request_with_metric(metric));
  const auto& attrs = std::get<GaugeData>(b.resource_metrics.at(0).scope_metrics.at(0).metrics.at(0).data).data_points.at(0).attributes;
  EXPECT_EQ(attrs, (MetricAttributes{{"b", "true"},
                                     {"i", "-42"},
                                     {"d", "1.5"},
                                     {"bytes", "AQID"},
                                     {"arr", R"(["a",1,true,"NaN"])"},
                                     {"map", R"({"k":"v","n":2})"},
                                     {"empty", ""},
                                     {"s", "text"},
                                     {"big", "1e+20"}}));
}

TEST(OtlpMetricsCodecTest, RepeatedScalarsPackedOrNotReadTheSame) {
  std::string packed_counts, packed_bounds;
  for (std::uint64_t c : {1, 2, 3}) packed_counts += fixed64(1, c).substr(1);
  for (double b : {0.5, 2.0}) packed_bounds += fixed64(1, std::bit_cast<std::uint64_t>(b)).substr(1);
  const std::string packed = len(6, packed_counts) + len(7, packed_bounds);
  const std::string unpacked = fixed64(6, 1) + fixed64(6, 2) + fixed64(6, 3) + fixed64(7, std::bit_cast<std::uint64_t>(0.5)) +
                               fixed64(7, std::bit_cast<std::uint64_t>(2.0));
  for (const auto& body : {packed, unpacked}) {
    const MetricsBatch b = decode_ok(request_with_metric(len(1, "h") + len(9, len(1, body))));
    const auto& p = std::get<HistogramData>(b.resource_metrics[0].scope_metrics[0].metrics[0].data).data_points.at(0);
    EXPECT_EQ(p.bucket_counts, (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(p.explicit_bounds, (std::vector<double>{0.5, 2.0}));
  }
  // Exponential buckets: packed varints or one varint per field; offsets are zigzag sint32.
  for (const auto& counts : {len(2, varint(300) + varint(1)), number(2, 300) + number(2, 1)}) {
    const std::string buckets = number(1, 5) + counts;  // zigzag 5 = -3
    const MetricsBatch b = decode_ok(request_with_metric(len(1, "e") + len(10, len(1, len(8, buckets) + number(6, 7)))));
    const auto& p = std::get<ExponentialHistogramData>(b.resource_metrics[0].scope_metrics[0].metrics[0].data).data_points.at(0);
    EXPECT_EQ(p.positive, (ExponentialBuckets{-3, {300, 1}}));
    EXPECT_EQ(p.scale, -4);
  }
}

TEST(OtlpMetricsCodecTest, UnknownFieldsAndMismatchedWireTypesAreSkipped) {
  const std::string point = number(99, 1) + len(4, "not a double") + fixed64(4, std::bit_cast<std::uint64_t>(1.5));
  const std::string metric = len(1, "m") + len(77, "future") + len(5, len(1, point)) + number(12, 3);
  const MetricsBatch b = decode_ok(request_with_metric(metric) + len(9, "x"));
  const auto& p = std::get<GaugeData>(b.resource_metrics.at(0).scope_metrics.at(0).metrics.at(0).data).data_points.at(0);
  EXPECT_EQ(p.value, (std::variant<std::monostate, double, std::int64_t>{1.5}));
}

TEST(OtlpMetricsCodecTest, MalformedInputNamesTheField) {
  const std::string bad_packed = len(1, "h") + len(9, len(1, len(6, std::string(12, '\0'))));
  EXPECT_EQ(decode_error(request_with_metric(bad_packed)),
            "resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0].bucket_counts: packed fixed64 of "
            "12 bytes");
  const std::string truncated_attr = len(1, "g") + len(5, len(1, len(7, len(2, "\x0a\x05"))));
  EXPECT_EQ(decode_error(request_with_metric(truncated_attr)),
            "resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points[0].attributes[0].value: length 5 exceeds "
            "the 0 bytes left");
  const std::string bad_varint = len(1, "e") + len(10, len(1, len(9, len(2, "\x80")))) ;
  EXPECT_EQ(decode_error(request_with_metric(bad_varint)),
            "resource_metrics[0].scope_metrics[0].metrics[0].exponential_histogram.data_points[0].negative.bucket_counts: "
            "truncated packed varint");
  EXPECT_EQ(decode_error("\x0a\x05\x01"), "length 5 exceeds the 1 bytes left");
  EXPECT_FALSE(decode_error("\x80").empty());
}

TEST(OtlpMetricsCodecTest, LimitsAreEnforced) {
  OtlpDecodeLimits limits;
  limits.max_bytes = 16;
  EXPECT_EQ(decode_error(std::string(17, '\0'), limits), "request of 17 bytes exceeds the limit of 16");

  limits = {};
  limits.max_items = 2;
  std::string points;
  for (int i = 0; i < 3; ++i) points += len(1, fixed64(4, 0));
  EXPECT_EQ(decode_error(request_with_metric(len(5, points)), limits),
            "resource_metrics[0].scope_metrics[0].metrics[0].gauge: more than 2 data points");

  // Bucket counts per point.
  std::string counts(8 * (kMaxMetricBuckets + 1), '\0');
  EXPECT_EQ(decode_error(request_with_metric(len(9, len(1, len(6, counts))))),
            "resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0].bucket_counts: more than 4096");

  // Values: bucket counts count too, so many small points cannot add up to much memory.
  limits = {};
  limits.max_values = 100;
  EXPECT_EQ(decode_error(request_with_metric(len(9, len(1, len(6, std::string(8 * 200, '\0'))))), limits),
            "resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0].bucket_counts: more than 100 values");

  // Nesting: arrays in arrays in an attribute value.
  limits = {};
  limits.max_depth = 12;
  std::string value = len(1, "x");
  for (int i = 0; i < 10; ++i) value = len(5, len(1, value));
  const std::string deep = request_with_metric(len(5, len(1, len(7, len(1, "k") + len(2, value)))));
  EXPECT_NE(decode_error(deep, limits).find("nested deeper than 12 messages"), std::string::npos);
  limits.max_depth = 64;
  MetricsBatch out;
  std::string error;
  EXPECT_TRUE(decode_metrics_request(deep, out, error, limits)) << error;
}

// What the OpenTelemetry JS JSON exporter sends, in both key styles and with 64-bit integers as
// strings and numbers.
constexpr std::string_view kJsonRequest = R"({
  "resourceMetrics": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}},
                                {"key": "pid", "value": {"intValue": "4242"}}]},
    "scopeMetrics": [{
      "scope": {"name": "shop.meter", "version": "1.0"},
      "metrics": [
        {"name": "requests", "unit": "{request}", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
          "dataPoints": [{"attributes": [{"key": "ok", "value": {"boolValue": true}}],
                          "startTimeUnixNano": "1000", "timeUnixNano": 2000, "asInt": "9007199254740993"}]}},
        {"name": "temp", "gauge": {"data_points": [{"as_double": "NaN"}, {"asDouble": 1.5e3}]}},
        {"name": "lat", "histogram": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA",
          "dataPoints": [{"count": "3", "sum": 0.5, "bucketCounts": ["1", 2], "explicitBounds": [0.25], "min": 0.1, "max": 0.3}]}},
        {"name": "e", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [{"count": 4, "scale": -2,
          "zeroCount": "1", "zeroThreshold": 1e-6, "positive": {"offset": -1, "bucketCounts": [1, "2"]},
          "negative": {"bucketCounts": [1]}}]}},
        {"name": "q", "summary": {"dataPoints": [{"count": 2, "sum": 3, "quantileValues": [{"quantile": 0.5, "value": 1}, {"value": 0.5}]}]}},
        {"name": "nothing", "unknownKey": {"x": 1}}
      ]}]}]})";

TEST(OtlpMetricsCodecTest, JsonDecodesLikeTheSdkSendsIt) {
  MetricsBatch b;
  std::string error;
  ASSERT_TRUE(decode_metrics_request_json(kJsonRequest, b, error)) << error;
  const auto& r = b.resource_metrics.at(0);
  EXPECT_EQ(r.resource, (MetricAttributes{{"service.name", "shop"}, {"pid", "4242"}}));
  EXPECT_EQ(r.scope_metrics.at(0).scope_name, "shop.meter");
  const auto& m = r.scope_metrics[0].metrics;
  ASSERT_EQ(m.size(), 6u);
  const auto& sum = std::get<SumData>(m[0].data);
  EXPECT_TRUE(sum.is_monotonic);
  EXPECT_EQ(sum.temporality, AggregationTemporality::Cumulative);
  EXPECT_EQ(sum.data_points.at(0).attributes, (MetricAttributes{{"ok", "true"}}));
  EXPECT_EQ(sum.data_points[0].start_time_unix_nano, 1000u);
  EXPECT_EQ(sum.data_points[0].time_unix_nano, 2000u);
  EXPECT_EQ(std::get<std::int64_t>(sum.data_points[0].value), 9007199254740993);  // exact beyond 2^53
  const auto& gauge = std::get<GaugeData>(m[1].data);
  EXPECT_TRUE(std::isnan(std::get<double>(gauge.data_points.at(0).value)));
  EXPECT_EQ(std::get<double>(gauge.data_points.at(1).value), 1500);
  const auto& hist = std::get<HistogramData>(m[2].data);
  EXPECT_EQ(hist.temporality, AggregationTemporality::Delta);
  EXPECT_EQ(hist.data_points.at(0).bucket_counts, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(hist.data_points[0].explicit_bounds, (std::vector<double>{0.25}));
  EXPECT_EQ(hist.data_points[0].count, 3u);
  EXPECT_EQ(hist.data_points[0].min, 0.1);
  const auto& exp = std::get<ExponentialHistogramData>(m[3].data).data_points.at(0);
  EXPECT_EQ(exp.scale, -2);
  EXPECT_EQ(exp.zero_count, 1u);
  EXPECT_EQ(exp.zero_threshold, 1e-6);
  EXPECT_EQ(exp.positive, (ExponentialBuckets{-1, {1, 2}}));
  EXPECT_EQ(exp.negative, (ExponentialBuckets{0, {1}}));
  const auto& summary = std::get<SummaryData>(m[4].data).data_points.at(0);
  EXPECT_EQ(summary.quantile_values, (std::vector<QuantileValue>{{0.5, 1}, {0, 0.5}}));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(m[5].data));

  // The JSON and protobuf decoders agree: protobuf of the JSON decodes to the same model.
  MetricsBatch again;
  ASSERT_TRUE(decode_metrics_request(encode_metrics_request(b), again, error)) << error;
  EXPECT_EQ(encode_metrics_request(again), encode_metrics_request(b));
}

TEST(OtlpMetricsCodecTest, JsonErrorsNameThePath) {
  EXPECT_EQ(json_error(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"dataPoints":[{"asInt":"1.5"}]}}]}]}]})"),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt: expected an integer in range");
  EXPECT_EQ(json_error(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","histogram":{"dataPoints":[{"bucketCounts":[1,-2]}]}}]}]}]})"),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]: expected a number");
  EXPECT_EQ(json_error(R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":{"bytesValue":"!!"}}]}}]})"),
            "resourceMetrics[0].resource.attributes[0].value.bytesValue: expected base64");
  EXPECT_EQ(json_error(R"({"resourceMetrics":{}})"), "resourceMetrics: expected an array");
  EXPECT_EQ(json_error("[1]"), "expected a JSON object");
  EXPECT_EQ(json_error("{").rfind("invalid JSON: ", 0), 0u);
  OtlpDecodeLimits limits;
  limits.max_items = 1;
  EXPECT_EQ(json_error(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{},{}]}}]}]}]})", limits),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[1]: more than 1 data points");
}

TEST(OtlpMetricsCodecTest, ResponsesInBothEncodings) {
  OtlpPartialSuccess partial;
  EXPECT_EQ(encode_metrics_response(partial), "");
  EXPECT_EQ(encode_metrics_response_json(partial), "{}");
  partial.rejected = 3;
  partial.error_message = "3 of 9 data points rejected";
  OtlpPartialSuccess decoded;
  std::string error;
  ASSERT_TRUE(decode_trace_response(encode_metrics_response(partial), decoded, error)) << error;  // the same wire shape
  EXPECT_EQ(decoded, partial);
  const auto json = boost::json::parse(encode_metrics_response_json(partial));
  EXPECT_EQ(json.at("partialSuccess").at("rejectedDataPoints"), "3");
  EXPECT_EQ(json.at("partialSuccess").at("errorMessage"), "3 of 9 data points rejected");
}

}  // namespace
}  // namespace porthole::telemetry
