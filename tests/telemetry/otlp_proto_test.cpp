// The OTLP protobuf codec: lossless round trips, exact bytes for known messages, and clear
// errors (never crashes) on malformed or oversized input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <span>

#include "otlp_test_data.hpp"
#include "porthole/telemetry/otlp_json.hpp"
#include "porthole/telemetry/otlp_proto.hpp"

namespace porthole::telemetry {
namespace {

using testing::sample_log_batch;
using testing::sample_trace_batch;

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

TEST(OtlpProto, TraceRequestRoundTripsEveryField) {
  const TraceBatch batch = sample_trace_batch();
  const std::string wire = encode_trace_request(batch);
  TraceBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_trace_request(wire, decoded, error)) << error;
  EXPECT_EQ(decoded, batch);
  EXPECT_EQ(encode_trace_request(decoded), wire);
  EXPECT_EQ(decoded.span_count(), 5u);
}

TEST(OtlpProto, LogsRequestRoundTripsEveryField) {
  const LogBatch batch = sample_log_batch();
  const std::string wire = encode_logs_request(batch);
  LogBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_logs_request(wire, decoded, error)) << error;
  EXPECT_EQ(decoded, batch);
  EXPECT_EQ(encode_logs_request(decoded), wire);
}

TEST(OtlpProto, EncodesAMinimalSpanToTheExpectedBytes) {
  // resource_spans { scope_spans { spans { trace_id, span_id, name: "a", kind: SERVER,
  //   start_time_unix_nano: 1 } } }, written by hand from the .proto field numbers.
  TraceBatch batch;
  Span span;
  span.trace_id = testing::trace_id_of(1);
  span.span_id = testing::span_id_of(1);
  span.name = "a";
  span.kind = 2;
  span.start_time_unix_nano = 1;
  batch.resource_spans.push_back(ResourceSpans{{}, {ScopeSpans{{}, {span}, ""}}, ""});
  std::string span_body = bytes({0x0a, 16});
  for (int i = 0; i < 16; ++i) span_body.push_back(static_cast<char>(1 + i));
  span_body += bytes({0x12, 8});
  for (int i = 0; i < 8; ++i) span_body.push_back(static_cast<char>(1 + 3 * i));
  span_body += bytes({0x2a, 1, 'a', 0x30, 2, 0x39, 1, 0, 0, 0, 0, 0, 0, 0});
  const std::string scope_spans = bytes({0x12, static_cast<int>(span_body.size())}) + span_body;
  const std::string resource_spans = bytes({0x12, static_cast<int>(scope_spans.size())}) + scope_spans;
  const std::string expected = bytes({0x0a, static_cast<int>(resource_spans.size())}) + resource_spans;
  EXPECT_EQ(encode_trace_request(batch), expected);
}

TEST(OtlpProto, AnyValueOneofWritesDefaultsBecausePresenceIsTheValue) {
  LogBatch batch;
  LogRecord r;
  r.body = AnyValue(std::int64_t{0});
  batch.resource_logs.push_back(ResourceLogs{{}, {ScopeLogs{{}, {r}, ""}}, ""});
  LogBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_logs_request(encode_logs_request(batch), decoded, error)) << error;
  const auto& body = decoded.resource_logs[0].scope_logs[0].log_records[0].body;
  ASSERT_TRUE(std::holds_alternative<std::int64_t>(body.value));
}

TEST(OtlpProto, SkipsUnknownFieldsOfEveryWireTypeAndGroups) {
  TraceBatch batch = sample_trace_batch();
  std::string wire = encode_trace_request(batch);
  // Top-level unknown fields: varint 99, fixed64 100, fixed32 101, bytes 102, a group 103
  // holding a varint; and a known field (1) with the wrong wire type (varint).
  wire += bytes({0x98, 0x06, 0x05});
  wire += bytes({0xa1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8});
  wire += bytes({0xad, 0x06, 1, 2, 3, 4});
  wire += bytes({0xb2, 0x06, 2, 'h', 'i'});
  wire += bytes({0xbb, 0x06, 0x08, 0x01, 0xbc, 0x06});
  wire += bytes({0x08, 0x07});
  TraceBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_trace_request(wire, decoded, error)) << error;
  EXPECT_EQ(decoded, batch);
}

TEST(OtlpProto, EmptyInputIsAnEmptyRequest) {
  TraceBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_trace_request("", decoded, error));
  EXPECT_TRUE(decoded.resource_spans.empty());
}

// Queued items interleave origins (requests from two SDKs, the agent's own spans) and equal
// origins come as different pointers (one per request): encoding them straight from the items must
// give exactly the bytes of grouping them first.
TEST(OtlpProto, ItemsEncodeExactlyAsTheirGroupedBatch) {
  auto first = split_batch(sample_trace_batch());
  auto again = split_batch(sample_trace_batch());  // equal origins, other pointers
  std::vector<SpanItem> items;
  for (std::size_t i = 0; i < first.size(); ++i) {
    items.push_back(first[first.size() - 1 - i]);
    items.push_back(again[i]);
  }
  std::string direct;
  encode_trace_request(std::span<const SpanItem>(items), direct);
  auto copy = items;
  EXPECT_EQ(direct, encode_trace_request(group_items(std::move(copy))));
  TraceBatch decoded;
  std::string error;
  ASSERT_TRUE(decode_trace_request(direct, decoded, error)) << error;
  EXPECT_EQ(decoded.span_count(), items.size());
  EXPECT_EQ(decoded.resource_spans.size(), 2u);  // the two resources of the sample, each once

  auto logs = split_batch(sample_log_batch());
  auto more = split_batch(sample_log_batch());
  logs.insert(logs.begin() + 1, more.begin(), more.end());
  std::string direct_logs;
  encode_logs_request(std::span<const LogItem>(logs), direct_logs);
  auto logs_copy = logs;
  EXPECT_EQ(direct_logs, encode_logs_request(group_items(std::move(logs_copy))));
  EXPECT_TRUE(encode_trace_request(TraceBatch{}).empty());
  std::string none;
  encode_trace_request(std::span<const SpanItem>(), none);
  EXPECT_TRUE(none.empty());
}

// Sub-messages are written after one reserved length byte; bodies of 127, 128 and 16384 bytes
// need one, two and three length bytes.
TEST(OtlpProto, SubMessagesOfEveryLengthClassRoundTrip) {
  for (std::size_t n : {0u, 1u, 120u, 127u, 128u, 300u, 16383u, 16384u, 70000u}) {
    TraceBatch batch;
    Span span;
    span.trace_id = testing::trace_id_of(1);
    span.span_id = testing::span_id_of(2);
    span.name = std::string(n, 'x');
    span.attributes = {{"k", AnyValue(std::string(n, 'v'))}};
    batch.resource_spans.push_back(ResourceSpans{{}, {ScopeSpans{{}, {span}, ""}}, ""});
    const auto wire = encode_trace_request(batch);
    TraceBatch decoded;
    std::string error;
    ASSERT_TRUE(decode_trace_request(wire, decoded, error)) << n << ": " << error;
    EXPECT_EQ(decoded, batch) << n;
  }
}

struct Malformed {
  const char* name;
  std::string wire;
  const char* expected_error;
};

TEST(OtlpProto, MalformedInputGivesAnErrorNamingThePlace) {
  // A span whose trace_id is 5 bytes, inside resource_spans[0].scope_spans[0].spans[0].
  const std::string short_id_span = bytes({0x0a, 5, 1, 2, 3, 4, 5});
  const std::string scope = bytes({0x12, static_cast<int>(short_id_span.size())}) + short_id_span;
  const std::string resource = bytes({0x12, static_cast<int>(scope.size())}) + scope;
  const std::vector<Malformed> cases = {
      {"truncated tag", bytes({0x80}), "truncated field tag"},
      {"length past end", bytes({0x0a, 10, 1}), "length 10 exceeds the 1 bytes left"},
      // The one-byte-length fast path must reject a length one past the end, too.
      {"length one past end", bytes({0x12, 0, 0x0a, 2, 1}), "length 2 exceeds the 1 bytes left"},
      {"field number 0", bytes({0x02, 0}), "invalid field number 0"},
      {"wire type 7", bytes({0x0f}), "invalid wire type 7"},
      {"stray end group", bytes({0x0c}), "end-group without start-group"},
      {"unterminated group", bytes({0x0b, 0x08, 0x01}), "unterminated group"},
      {"overlong varint", bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
       "truncated or overlong varint"},
      {"short trace id", bytes({0x0a, static_cast<int>(resource.size())}) + resource,
       "resource_spans[0].scope_spans[0].spans[0].trace_id: must be 16 bytes, got 5"},
  };
  for (const auto& c : cases) {
    TraceBatch decoded;
    std::string error;
    EXPECT_FALSE(decode_trace_request(c.wire, decoded, error)) << c.name;
    EXPECT_NE(error.find(c.expected_error), std::string::npos) << c.name << ": " << error;
  }
}

TEST(OtlpProto, RejectsInputOverTheSizeLimit) {
  const std::string wire = encode_trace_request(sample_trace_batch());
  TraceBatch decoded;
  std::string error;
  OtlpDecodeLimits limits;
  limits.max_bytes = wire.size() - 1;
  EXPECT_FALSE(decode_trace_request(wire, decoded, error, limits));
  EXPECT_NE(error.find("exceeds the limit"), std::string::npos) << error;
}

TEST(OtlpProto, RejectsNestingDeeperThanTheLimit) {
  AnyValue v("leaf");
  for (int i = 0; i < 40; ++i) v = AnyValue(ArrayValue{{std::move(v)}});
  LogBatch batch;
  LogRecord r;
  r.body = v;
  batch.resource_logs.push_back(ResourceLogs{{}, {ScopeLogs{{}, {r}, ""}}, ""});
  LogBatch decoded;
  std::string error;
  EXPECT_FALSE(decode_logs_request(encode_logs_request(batch), decoded, error));
  EXPECT_NE(error.find("nested deeper than 32"), std::string::npos) << error;
  EXPECT_EQ(error.rfind("resource_logs[0].scope_logs[0].log_records[0].body", 0), 0u) << error;
}

TEST(OtlpProto, RejectsMoreItemsOrMessagesThanTheLimits) {
  const std::string wire = encode_trace_request(sample_trace_batch());
  TraceBatch decoded;
  std::string error;
  OtlpDecodeLimits few_items;
  few_items.max_items = 4;
  EXPECT_FALSE(decode_trace_request(wire, decoded, error, few_items));
  EXPECT_NE(error.find("more than 4 spans"), std::string::npos) << error;

  OtlpDecodeLimits few_values;
  few_values.max_values = 20;
  EXPECT_FALSE(decode_trace_request(wire, decoded, error, few_values));
  EXPECT_NE(error.find("more than 20 messages"), std::string::npos) << error;
}

TEST(OtlpProto, ManyEmptyGroupsAreBoundedByTheMessageLimit) {
  // 2-byte empty resource_spans entries cost far more in memory than on the wire.
  std::string wire;
  for (int i = 0; i < 300000; ++i) wire += bytes({0x0a, 0x00});
  TraceBatch decoded;
  std::string error;
  EXPECT_FALSE(decode_trace_request(wire, decoded, error));
  EXPECT_NE(error.find("messages"), std::string::npos) << error;
}

TEST(OtlpProto, PartialSuccessResponsesRoundTrip) {
  const OtlpPartialSuccess partial{3, "3 spans had no name"};
  OtlpPartialSuccess decoded;
  std::string error;
  ASSERT_TRUE(decode_trace_response(encode_trace_response(partial), decoded, error)) << error;
  EXPECT_EQ(decoded, partial);
  ASSERT_TRUE(decode_logs_response(encode_logs_response(partial), decoded, error)) << error;
  EXPECT_EQ(decoded, partial);
  // Full success is an empty message.
  EXPECT_EQ(encode_trace_response(OtlpPartialSuccess{}), "");
  ASSERT_TRUE(decode_trace_response("", decoded, error));
  EXPECT_TRUE(decoded.full_success());
  // partial_success { rejected_spans: 2 } by hand.
  ASSERT_TRUE(decode_trace_response(bytes({0x0a, 0x02, 0x08, 0x02}), decoded, error));
  EXPECT_EQ(decoded.rejected, 2);
  EXPECT_FALSE(decode_trace_response(bytes({0x0a, 0x05}), decoded, error));
}

// Writes the fuzzer's seed corpus when PORTHOLE_WRITE_OTLP_SEEDS names a directory:
//   PORTHOLE_WRITE_OTLP_SEEDS=fuzz/corpus/otlp porthole_telemetry_tests
//       --gtest_filter=OtlpProto.WriteSeedCorpus
TEST(OtlpProto, WriteSeedCorpus) {
  const char* dir = std::getenv("PORTHOLE_WRITE_OTLP_SEEDS");
  if (dir == nullptr) GTEST_SKIP() << "PORTHOLE_WRITE_OTLP_SEEDS not set";
  // The fuzzer reads the first byte as the message type: 0 traces, 1 logs, 2/3 responses,
  // 4/5 OTLP/JSON traces/logs.
  const auto write = [&](const std::string& name, char type, const std::string& body) {
    std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << type << body;
  };
  write("traces_full", 0, encode_trace_request(sample_trace_batch()));
  TraceBatch one;
  one.resource_spans.push_back(ResourceSpans{{}, {ScopeSpans{{}, {testing::sample_span(1)}, ""}}, ""});
  write("traces_one_span", 0, encode_trace_request(one));
  write("logs_full", 1, encode_logs_request(sample_log_batch()));
  write("trace_response", 2, encode_trace_response({5, "rejected"}));
  write("logs_response", 3, encode_logs_response({1, "x"}));
  write("traces_json", 4, encode_trace_request_json(sample_trace_batch()));
  write("logs_json", 5, encode_logs_request_json(sample_log_batch()));
}

}  // namespace
}  // namespace porthole::telemetry
