// OTLP/JSON: the spec's example shapes, snake_case keys, integers as strings or numbers, base64
// bytes, hex ids, round trips through our encoder, and errors that name the JSON path.
#include <gtest/gtest.h>

#include "otlp_test_data.hpp"
#include "porthole/telemetry/otlp_json.hpp"

namespace porthole::telemetry {
namespace {

TEST(OtlpJson, DecodesTheSpecExampleShape) {
  // Shaped like opentelemetry-proto/examples/trace.json.
  const std::string json = R"({
    "resourceSpans": [{
      "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
      "scopeSpans": [{
        "scope": {"name": "my.library", "version": "1.0.0",
                  "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
        "spans": [{
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "EEE19B7EC3C1B174",
          "parentSpanId": "EEE19B7EC3C1B173",
          "name": "I'm a server span",
          "startTimeUnixNano": "1544712660000000000",
          "endTimeUnixNano": 1544712661000000000,
          "kind": 2,
          "attributes": [
            {"key": "my.span.attr", "value": {"stringValue": "some value"}},
            {"key": "n", "value": {"intValue": "-7"}},
            {"key": "m", "value": {"intValue": 8}},
            {"key": "d", "value": {"doubleValue": 1.5}},
            {"key": "nan", "value": {"doubleValue": "NaN"}},
            {"key": "raw", "value": {"bytesValue": "AAH/"}},
            {"key": "list", "value": {"arrayValue": {"values": [{"boolValue": true}, {}]}}},
            {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}}
          ],
          "events": [{"timeUnixNano": "1544712660500000000", "name": "ev", "droppedAttributesCount": 1}],
          "links": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "flags": 1}],
          "status": {"code": 2, "message": "oops"},
          "someFutureField": {"ignored": true}
        }]
      }]
    }]
  })";
  TraceBatch batch;
  std::string error;
  ASSERT_TRUE(decode_trace_request_json(json, batch, error)) << error;
  ASSERT_EQ(batch.span_count(), 1u);
  const auto& rs = batch.resource_spans[0];
  EXPECT_EQ(rs.resource.attributes[0].key, "service.name");
  EXPECT_EQ(rs.scope_spans[0].scope.version, "1.0.0");
  const Span& s = rs.scope_spans[0].spans[0];
  EXPECT_EQ(s.trace_id.hex(), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(s.span_id.hex(), "eee19b7ec3c1b174");
  EXPECT_EQ(s.parent_span_id.hex(), "eee19b7ec3c1b173");
  EXPECT_EQ(s.start_time_unix_nano, 1544712660000000000ULL);
  EXPECT_EQ(s.end_time_unix_nano, 1544712661000000000ULL);
  EXPECT_EQ(s.kind, 2);
  EXPECT_EQ(std::get<std::int64_t>(find_attribute(s.attributes, "n")->value), -7);
  EXPECT_EQ(std::get<std::int64_t>(find_attribute(s.attributes, "m")->value), 8);
  EXPECT_EQ(std::get<double>(find_attribute(s.attributes, "d")->value), 1.5);
  EXPECT_TRUE(std::isnan(std::get<double>(find_attribute(s.attributes, "nan")->value)));
  EXPECT_EQ(std::get<BytesValue>(find_attribute(s.attributes, "raw")->value).bytes, std::string("\x00\x01\xff", 3));
  const auto& list = std::get<ArrayValue>(find_attribute(s.attributes, "list")->value);
  ASSERT_EQ(list.values.size(), 2u);
  EXPECT_TRUE(list.values[1].empty());
  EXPECT_EQ(s.events[0].dropped_attributes_count, 1u);
  EXPECT_EQ(s.links[0].span_id.hex(), "eee19b7ec3c1b175");
  EXPECT_EQ(s.status.code, 2);
  EXPECT_EQ(s.status.message, "oops");
}

TEST(OtlpJson, AcceptsSnakeCaseKeys) {
  const std::string json = R"({"resource_logs": [{"scope_logs": [{"log_records": [{
      "time_unix_nano": "5", "observed_time_unix_nano": 6, "severity_number": 9, "severity_text": "INFO",
      "body": {"string_value": "hello"}, "trace_id": "0102030405060708090a0b0c0d0e0f10",
      "span_id": "0102030405060708", "dropped_attributes_count": 2, "event_name": "e"}]}]}]})";
  LogBatch batch;
  std::string error;
  ASSERT_TRUE(decode_logs_request_json(json, batch, error)) << error;
  const auto& r = batch.resource_logs[0].scope_logs[0].log_records[0];
  EXPECT_EQ(r.time_unix_nano, 5u);
  EXPECT_EQ(r.observed_time_unix_nano, 6u);
  EXPECT_EQ(r.severity_number, 9);
  EXPECT_EQ(std::get<std::string>(r.body.value), "hello");
  EXPECT_EQ(r.trace_id.hex(), "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(r.dropped_attributes_count, 2u);
  EXPECT_EQ(r.event_name, "e");
}

TEST(OtlpJson, TraceRoundTripThroughOurEncoder) {
  const TraceBatch batch = testing::sample_trace_batch();
  const std::string json = encode_trace_request_json(batch);
  TraceBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_trace_request_json(json, decoded, error)) << error << "\n" << json;
  EXPECT_EQ(decoded, batch);
  // 64-bit integers are written as strings, ids as lowercase hex.
  EXPECT_NE(json.find(R"("intValue":"9223372036854775807")"), std::string::npos);
  EXPECT_NE(json.find(R"("traceId":"0102030405060708090a0b0c0d0e0f10")"), std::string::npos);
}

TEST(OtlpJson, LogsRoundTripThroughOurEncoder) {
  const LogBatch batch = testing::sample_log_batch();
  LogBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_logs_request_json(encode_logs_request_json(batch), decoded, error)) << error;
  EXPECT_EQ(decoded, batch);
}

TEST(OtlpJson, EncoderReplacesInvalidUtf8SoTheRequestStaysValidJson) {
  TraceBatch batch;
  Span span;
  span.name = "ok \xC3\xA9 bad \xFF\xC3 end";
  span.attributes = {{"k\xFE", AnyValue("\xED\xA0\x80")}};  // a UTF-16 surrogate is not UTF-8
  batch.resource_spans.push_back(ResourceSpans{{}, {ScopeSpans{{}, {span}, ""}}, ""});
  TraceBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_trace_request_json(encode_trace_request_json(batch), decoded, error)) << error;
  const Span& s = decoded.resource_spans[0].scope_spans[0].spans[0];
  EXPECT_EQ(s.name, "ok \xC3\xA9 bad \xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_EQ(s.attributes[0].key, "k\xEF\xBF\xBD");
  EXPECT_EQ(std::get<std::string>(s.attributes[0].value.value), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(OtlpJson, ErrorsNameThePath) {
  struct Case {
    std::string json;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"not json", "invalid JSON"},
      {"[]", "expected a JSON object"},
      {R"({"resourceSpans": {}})", "resourceSpans: expected an array"},
      {R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abc"}]}]}]})",
       "resourceSpans[0].scopeSpans[0].spans[0].traceId: must be 32 hex digits, got 3 characters"},
      {R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "zzzzzzzzzzzzzzzz"}]}]}]})",
       "spans[0].spanId: must be 16 hex digits"},
      {R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "-1"}]}]}]})",
       "spans[0].startTimeUnixNano: expected an integer in range"},
      {R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "SERVER"}]}]}]})", "spans[0].kind"},
      {R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": {"bytesValue": "!!"}}]}]}]}]})",
       "spans[0].attributes[0].value.bytesValue: expected base64"},
      {R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": 5}]}]}]}]})",
       "attributes[0].key: expected a string"},
  };
  for (const auto& c : cases) {
    TraceBatch batch;
    std::string error;
    EXPECT_FALSE(decode_trace_request_json(c.json, batch, error)) << c.json;
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.json << " -> " << error;
  }
}

TEST(OtlpJson, EnforcesLimits) {
  OtlpDecodeLimits limits;
  limits.max_items = 1;
  TraceBatch batch;
  std::string error;
  EXPECT_FALSE(decode_trace_request_json(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{},{}]}]}]})", batch, error,
                                         limits));
  EXPECT_NE(error.find("more than 1 spans"), std::string::npos) << error;

  std::string deep = R"({"stringValue":"x"})";
  for (int i = 0; i < 100; ++i) deep = R"({"arrayValue":{"values":[)" + deep + "]}}";
  const std::string json = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":)" + deep + "}]}]}]}";
  LogBatch logs;
  EXPECT_FALSE(decode_logs_request_json(json, logs, error));
  EXPECT_FALSE(error.empty());

  limits = OtlpDecodeLimits{};
  limits.max_bytes = 10;
  EXPECT_FALSE(decode_trace_request_json(R"({"resourceSpans":[]})", batch, error, limits));
  EXPECT_NE(error.find("exceeds the limit of 10"), std::string::npos) << error;
}

TEST(OtlpJson, PartialSuccessResponses) {
  EXPECT_EQ(encode_trace_response_json({3, "bad"}), R"({"partialSuccess":{"rejectedSpans":"3","errorMessage":"bad"}})");
  EXPECT_EQ(encode_logs_response_json({}), "{}");
  OtlpPartialSuccess p;
  std::string error;
  ASSERT_TRUE(decode_logs_response_json(R"({"partialSuccess":{"rejectedLogRecords":4}})", p, error)) << error;
  EXPECT_EQ(p.rejected, 4);
  ASSERT_TRUE(decode_trace_response_json(R"({"partial_success":{"rejected_spans":"2","error_message":"m"}})", p, error));
  EXPECT_EQ(p, (OtlpPartialSuccess{2, "m"}));
  ASSERT_TRUE(decode_trace_response_json("{}", p, error));
  EXPECT_TRUE(p.full_success());
  EXPECT_FALSE(decode_trace_response_json(R"({"partialSuccess":{"rejectedSpans":"x"}})", p, error));
}

}  // namespace
}  // namespace porthole::telemetry
