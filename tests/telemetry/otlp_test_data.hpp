// Rich OTLP batches that exercise every field of the model, for codec and policy tests.
#pragma once

#include <cmath>
#include <limits>

#include "porthole/telemetry/otlp_model.hpp"

namespace porthole::telemetry::testing {

inline TraceId trace_id_of(std::uint8_t seed) {
  TraceId id;
  for (std::size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<std::uint8_t>(seed + i);
  return id;
}
inline SpanId span_id_of(std::uint8_t seed) {
  SpanId id;
  for (std::size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<std::uint8_t>(seed + 3 * i);
  return id;
}

// Every AnyValue kind, nested, including the values proto3 would leave out outside a oneof.
inline Attributes every_kind_of_value() {
  return {
      {"s", AnyValue("text \xC3\xA9")},
      {"empty_s", AnyValue("")},
      {"b", AnyValue(true)},
      {"b0", AnyValue(false)},
      {"i", AnyValue(std::int64_t{-42})},
      {"i0", AnyValue(std::int64_t{0})},
      {"imax", AnyValue(std::numeric_limits<std::int64_t>::max())},
      {"d", AnyValue(3.25)},
      {"d0", AnyValue(0.0)},
      {"dinf", AnyValue(-std::numeric_limits<double>::infinity())},
      {"bytes", AnyValue(BytesValue{std::string("\x00\x01\xff", 3)})},
      {"arr", AnyValue(ArrayValue{{AnyValue(1), AnyValue("two"), AnyValue(ArrayValue{}), AnyValue()}})},
      {"kv", AnyValue(KeyValueList{{{"inner", AnyValue(KeyValueList{{{"deep", AnyValue(2.5)}}})}}})},
      {"unset", AnyValue()},
  };
}

inline Span sample_span(std::uint8_t seed) {
  Span s;
  s.trace_id = trace_id_of(seed);
  s.span_id = span_id_of(seed);
  s.trace_state = "vendor=abc";
  s.parent_span_id = span_id_of(static_cast<std::uint8_t>(seed + 100));
  s.flags = 0x301;
  s.name = "GET /items/{id}";
  s.kind = static_cast<std::int32_t>(SpanKind::Server);
  s.start_time_unix_nano = 1'700'000'000'000'000'000ULL + seed;
  s.end_time_unix_nano = s.start_time_unix_nano + 1234;
  s.attributes = {{"http.request.method", AnyValue("GET")},
                  {"http.response.status_code", AnyValue(200)},
                  {"url.full", AnyValue("https://x/items/42?token=secret")}};
  s.dropped_attributes_count = 1;
  s.events = {SpanEvent{s.start_time_unix_nano + 5, "exception",
                        {{"exception.type", AnyValue("E")}, {"exception.message", AnyValue("bad input 42")}}, 2}};
  s.dropped_events_count = 3;
  s.links = {SpanLink{trace_id_of(7), span_id_of(9), "k=v", {{"link.kind", AnyValue("follows")}}, 4, 1}};
  s.dropped_links_count = 5;
  s.status = SpanStatus{"boom for user alice", static_cast<std::int32_t>(StatusCode::Error)};
  return s;
}

inline TraceBatch sample_trace_batch() {
  TraceBatch batch;
  ResourceSpans rs;
  rs.resource.attributes = {{"service.name", AnyValue("shop")}, {"process.command_line", AnyValue("shop --key=s3cret")}};
  rs.resource.dropped_attributes_count = 1;
  rs.schema_url = "https://opentelemetry.io/schemas/1.24.0";
  ScopeSpans ss;
  ss.scope = InstrumentationScope{"io.opentelemetry.http", "1.2.3", {{"scope.attr", AnyValue(7)}}, 1};
  ss.schema_url = "https://opentelemetry.io/schemas/1.21.0";
  ss.spans = {sample_span(1), sample_span(2)};
  Span everything = sample_span(3);
  everything.attributes = every_kind_of_value();
  ss.spans.push_back(everything);
  Span minimal;  // root span with only ids: parent id and status absent
  minimal.trace_id = trace_id_of(50);
  minimal.span_id = span_id_of(51);
  ss.spans.push_back(minimal);
  rs.scope_spans.push_back(ss);
  rs.scope_spans.push_back(ScopeSpans{});  // an empty scope group survives too
  batch.resource_spans.push_back(rs);
  ResourceSpans second;  // no resource at all
  second.scope_spans.push_back(ScopeSpans{InstrumentationScope{"other", "", {}, 0}, {sample_span(9)}, ""});
  batch.resource_spans.push_back(second);
  return batch;
}

inline LogRecord sample_log(std::uint8_t seed) {
  LogRecord r;
  r.time_unix_nano = 1'700'000'000'000'000'000ULL + seed;
  r.observed_time_unix_nano = r.time_unix_nano + 10;
  r.severity_number = 17;  // ERROR
  r.severity_text = "ERROR";
  r.body = AnyValue("payment failed for card 4111");
  r.attributes = {{"error.type", AnyValue("Timeout")}, {"card.number", AnyValue("4111")}};
  r.dropped_attributes_count = 1;
  r.flags = 1;
  r.trace_id = trace_id_of(seed);
  r.span_id = span_id_of(seed);
  r.event_name = "payment.failed";
  return r;
}

inline LogBatch sample_log_batch() {
  LogBatch batch;
  ResourceLogs rl;
  rl.resource.attributes = {{"service.name", AnyValue("shop")}};
  rl.schema_url = "s1";
  ScopeLogs sl;
  sl.scope = InstrumentationScope{"logger", "2", {}, 0};
  sl.log_records = {sample_log(1), sample_log(2)};
  LogRecord structured;
  structured.body = AnyValue(KeyValueList{{{"msg", AnyValue("hi")}, {"n", AnyValue(std::int64_t{3})}}});
  structured.attributes = every_kind_of_value();
  sl.log_records.push_back(structured);
  sl.log_records.push_back(LogRecord{});  // an empty record (no ids, no body)
  sl.schema_url = "s2";
  rl.scope_logs.push_back(sl);
  batch.resource_logs.push_back(rl);
  return batch;
}

}  // namespace porthole::telemetry::testing
