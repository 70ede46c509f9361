// OTLP/JSON encoding: lowerCamelCase keys, hex ids, integer enums, 64-bit integers as strings,
// bytes as base64, defaults left out (as the protobuf encoder does).
#include <boost/json.hpp>

#include <cmath>

#include "base64.hpp"
#include "porthole/telemetry/otlp_json.hpp"
#include "porthole/telemetry/otlp_metrics.hpp"

namespace porthole::telemetry {
namespace {

namespace json = boost::json;

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlongs, surrogates
// and code points past U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n;
  std::uint32_t cp;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// JSON text must be UTF-8, but protobuf input is not validated (and bytes-like strings happen):
// invalid sequences become U+FFFD, so one bad attribute cannot make the whole request invalid.
json::string text(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return json::string(s);
  std::string fixed(s.substr(0, i));
  while (i < s.size()) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      fixed += "\xEF\xBF\xBD";
      ++i;
    } else {
      fixed.append(s.substr(i, n));
      i += n;
    }
  }
  return json::string(fixed);
}

json::value any_value(const AnyValue& v);

json::object key_value(const KeyValue& kv) {
  json::object o;
  o["key"] = text(kv.key);
  o["value"] = any_value(kv.value);
  return o;
}

json::value any_value(const AnyValue& v) {
  json::object o;
  struct Visitor {
    json::object& o;
    void operator()(const std::monostate&) const {}
    void operator()(const std::string& s) const { o["stringValue"] = text(s); }
    void operator()(bool b) const { o["boolValue"] = b; }
    void operator()(std::int64_t i) const { o["intValue"] = std::to_string(i); }
    void operator()(double d) const {
      if (std::isnan(d)) o["doubleValue"] = "NaN";
      else if (std::isinf(d)) o["doubleValue"] = d > 0 ? "Infinity" : "-Infinity";
      else o["doubleValue"] = d;
    }
    void operator()(const BytesValue& b) const { o["bytesValue"] = base64::encode(b.bytes); }
    void operator()(const ArrayValue& a) const {
      json::array values;
      for (const auto& item : a.values) values.push_back(any_value(item));
      json::object inner;
      if (!values.empty()) inner["values"] = std::move(values);
      o["arrayValue"] = std::move(inner);
    }
    void operator()(const KeyValueList& l) const {
      json::array values;
      for (const auto& kv : l.values) values.push_back(key_value(kv));
      json::object inner;
      if (!values.empty()) inner["values"] = std::move(values);
      o["kvlistValue"] = std::move(inner);
    }
  };
  std::visit(Visitor{o}, v.value);
  return o;
}

void put_attributes(json::object& o, const Attributes& attributes, std::uint32_t dropped) {
  if (!attributes.empty()) {
    json::array a;
    for (const auto& kv : attributes) a.push_back(key_value(kv));
    o["attributes"] = std::move(a);
  }
  if (dropped != 0) o["droppedAttributesCount"] = dropped;
}

void put_string(json::object& o, std::string_view key, const std::string& v) {
  if (!v.empty()) o[key] = text(v);
}
void put_u64(json::object& o, std::string_view key, std::uint64_t v) {
  if (v != 0) o[key] = std::to_string(v);
}
void put_int(json::object& o, std::string_view key, std::int64_t v) {
  if (v != 0) o[key] = v;
}

json::object resource(const Resource& r) {
  json::object o;
  put_attributes(o, r.attributes, r.dropped_attributes_count);
  return o;
}

json::object scope(const InstrumentationScope& s) {
  json::object o;
  put_string(o, "name", s.name);
  put_string(o, "version", s.version);
  put_attributes(o, s.attributes, s.dropped_attributes_count);
  return o;
}

json::object span(const Span& s) {
  json::object o;
  o["traceId"] = s.trace_id.hex();
  o["spanId"] = s.span_id.hex();
  put_string(o, "traceState", s.trace_state);
  if (s.parent_span_id.valid()) o["parentSpanId"] = s.parent_span_id.hex();
  put_int(o, "flags", s.flags);
  put_string(o, "name", s.name);
  put_int(o, "kind", s.kind);
  put_u64(o, "startTimeUnixNano", s.start_time_unix_nano);
  put_u64(o, "endTimeUnixNano", s.end_time_unix_nano);
  put_attributes(o, s.attributes, s.dropped_attributes_count);
  if (!s.events.empty()) {
    json::array events;
    for (const auto& e : s.events) {
      json::object eo;
      put_u64(eo, "timeUnixNano", e.time_unix_nano);
      put_string(eo, "name", e.name);
      put_attributes(eo, e.attributes, e.dropped_attributes_count);
      events.push_back(std::move(eo));
    }
    o["events"] = std::move(events);
  }
  put_int(o, "droppedEventsCount", s.dropped_events_count);
  if (!s.links.empty()) {
    json::array links;
    for (const auto& l : s.links) {
      json::object lo;
      lo["traceId"] = l.trace_id.hex();
      lo["spanId"] = l.span_id.hex();
      put_string(lo, "traceState", l.trace_state);
      put_attributes(lo, l.attributes, l.dropped_attributes_count);
      put_int(lo, "flags", l.flags);
      links.push_back(std::move(lo));
    }
    o["links"] = std::move(links);
  }
  put_int(o, "droppedLinksCount", s.dropped_links_count);
  if (s.status != SpanStatus{}) {
    json::object so;
    put_string(so, "message", s.status.message);
    put_int(so, "code", s.status.code);
    o["status"] = std::move(so);
  }
  return o;
}

json::object log_record(const LogRecord& r) {
  json::object o;
  put_u64(o, "timeUnixNano", r.time_unix_nano);
  put_u64(o, "observedTimeUnixNano", r.observed_time_unix_nano);
  put_int(o, "severityNumber", r.severity_number);
  put_string(o, "severityText", r.severity_text);
  if (!r.body.empty()) o["body"] = any_value(r.body);
  put_attributes(o, r.attributes, r.dropped_attributes_count);
  put_int(o, "flags", r.flags);
  if (r.trace_id.valid()) o["traceId"] = r.trace_id.hex();
  if (r.span_id.valid()) o["spanId"] = r.span_id.hex();
  put_string(o, "eventName", r.event_name);
  return o;
}

template <class ResourceX, class ScopeX, class Record, class Encode>
std::string encode_request(const std::vector<ResourceX>& resources, std::string_view resources_key,
                           std::string_view scopes_key, std::string_view records_key,
                           std::vector<ScopeX> ResourceX::*scopes, std::vector<Record> ScopeX::*records,
                           Encode&& encode_record) {
  json::array rxs;
  for (const auto& rx : resources) {
    json::object ro;
    if (rx.resource != Resource{}) ro["resource"] = resource(rx.resource);
    json::array sxs;
    for (const auto& sx : rx.*scopes) {
      json::object so;
      if (sx.scope != InstrumentationScope{}) so["scope"] = scope(sx.scope);
      json::array items;
      for (const auto& r : sx.*records) items.push_back(encode_record(r));
      if (!items.empty()) so[records_key] = std::move(items);
      put_string(so, "schemaUrl", sx.schema_url);
      sxs.push_back(std::move(so));
    }
    if (!sxs.empty()) ro[scopes_key] = std::move(sxs);
    put_string(ro, "schemaUrl", rx.schema_url);
    rxs.push_back(std::move(ro));
  }
  json::object root;
  if (!rxs.empty()) root[resources_key] = std::move(rxs);
  return json::serialize(root);
}

std::string encode_response(const OtlpPartialSuccess& partial, std::string_view rejected_key) {
  json::object root;
  if (!partial.full_success()) {
    json::object p;
    if (partial.rejected != 0) p[rejected_key] = std::to_string(partial.rejected);
    put_string(p, "errorMessage", partial.error_message);
    root["partialSuccess"] = std::move(p);
  }
  return json::serialize(root);
}

}  // namespace

std::string encode_trace_request_json(const TraceBatch& batch) {
  return encode_request(batch.resource_spans, "resourceSpans", "scopeSpans", "spans", &ResourceSpans::scope_spans,
                        &ScopeSpans::spans, [](const Span& s) { return span(s); });
}

std::string encode_logs_request_json(const LogBatch& batch) {
  return encode_request(batch.resource_logs, "resourceLogs", "scopeLogs", "logRecords", &ResourceLogs::scope_logs,
                        &ScopeLogs::log_records, [](const LogRecord& r) { return log_record(r); });
}

std::string encode_trace_response_json(const OtlpPartialSuccess& partial) {
  return encode_response(partial, "rejectedSpans");
}
std::string encode_logs_response_json(const OtlpPartialSuccess& partial) {
  return encode_response(partial, "rejectedLogRecords");
}
std::string encode_metrics_response_json(const OtlpPartialSuccess& partial) {
  return encode_response(partial, "rejectedDataPoints");
}

}  // namespace porthole::telemetry
