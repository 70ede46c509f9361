// OTLP/JSON decoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): the
// proto3 JSON mapping with OTLP's exceptions (hex ids, integer enums). `null` reads as absent.
#include <boost/json.hpp>

#include <cmath>
#include <limits>

#include "base64.hpp"
#include "porthole/telemetry/otlp_json.hpp"
#include "porthole/telemetry/trace_context.hpp"

namespace porthole::telemetry {
namespace {

namespace json = boost::json;

struct Ctx {
  const OtlpDecodeLimits& limits;
  std::string& error;
  std::size_t items = 0;
  std::size_t values = 0;
  bool path_started = false;

  bool fail(std::string message) {
    error = std::move(message);
    return false;
  }
  bool count_value() {
    if (++values > limits.max_values) return fail("more than " + std::to_string(limits.max_values) + " messages");
    return true;
  }
};

bool fail_in(Ctx& ctx, std::string field) {
  ctx.error = field + (ctx.path_started ? "." : ": ") + ctx.error;
  ctx.path_started = true;
  return false;
}
bool fail_in(Ctx& ctx, const char* field, std::size_t index) {
  return fail_in(ctx, std::string(field) + "[" + std::to_string(index) + "]");
}
bool fail_at(Ctx& ctx, std::string message, std::string field) {
  ctx.error = std::move(message);
  return fail_in(ctx, std::move(field));
}

// The member named `camel` or `snake` (the spec lets receivers accept both), or nullptr when
// absent or null.
const json::value* member(const json::object& o, std::string_view camel, std::string_view snake = {}) {
  auto it = o.find(camel);
  if (it == o.end() && !snake.empty()) it = o.find(snake);
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

bool as_object(Ctx& ctx, const json::value& v, const json::object*& out) {
  out = v.if_object();
  if (out == nullptr) return ctx.fail("expected an object");
  return ctx.count_value();
}

bool as_array(Ctx& ctx, const json::value& v, const json::array*& out) {
  out = v.if_array();
  if (out == nullptr) return ctx.fail("expected an array");
  return true;
}

bool read_string(Ctx& ctx, const json::object& o, std::string_view camel, std::string_view snake, std::string& out) {
  const json::value* v = member(o, camel, snake);
  if (v == nullptr) return true;
  const json::string* s = v->if_string();
  if (s == nullptr) {
    ctx.error = "expected a string";
    return fail_in(ctx, std::string(camel));
  }
  out.assign(s->data(), s->size());
  return true;
}

// Integers come as JSON numbers or as decimal strings (proto3 JSON writes 64-bit ones as strings).
bool to_int(const json::value& v, long double min, long double max, long double& out) {
  if (const auto* i = v.if_int64()) {
    out = static_cast<long double>(*i);
  } else if (const auto* u = v.if_uint64()) {
    out = static_cast<long double>(*u);
  } else if (const auto* d = v.if_double()) {
    if (!std::isfinite(*d) || std::floor(*d) != *d) return false;
    out = *d;
  } else if (const auto* s = v.if_string()) {
    if (s->empty() || s->size() > 24) return false;
    std::string text(s->data(), s->size());
    std::size_t i = (text[0] == '-') ? 1 : 0;
    if (i == text.size()) return false;
    for (std::size_t k = i; k < text.size(); ++k) {
      if (text[k] < '0' || text[k] > '9') return false;
    }
    out = std::strtold(text.c_str(), nullptr);
  } else {
    return false;
  }
  return out >= min && out <= max;
}

template <class T>
bool read_int(Ctx& ctx, const json::object& o, std::string_view camel, std::string_view snake, T& out) {
  const json::value* v = member(o, camel, snake);
  if (v == nullptr) return true;
  // Exact for every 64-bit value: go through the integer types rather than long double alone.
  if (const auto* s = v->if_string(); s != nullptr && !s->empty()) {
    long double approx = 0;
    if (!to_int(*v, static_cast<long double>(std::numeric_limits<T>::min()),
                static_cast<long double>(std::numeric_limits<T>::max()), approx)) {
      ctx.error = "expected an integer in range, got \"" + std::string(s->data(), std::min<std::size_t>(s->size(), 24)) + "\"";
      return fail_in(ctx, std::string(camel));
    }
    std::string text(s->data(), s->size());
    if constexpr (std::is_signed_v<T>) out = static_cast<T>(std::strtoll(text.c_str(), nullptr, 10));
    else out = static_cast<T>(std::strtoull(text.c_str(), nullptr, 10));
    return true;
  }
  if (const auto* i = v->if_int64()) {
    if (*i < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        (*i > 0 && static_cast<std::uint64_t>(*i) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))) {
      ctx.error = "integer out of range";
      return fail_in(ctx, std::string(camel));
    }
    out = static_cast<T>(*i);
    return true;
  }
  if (const auto* u = v->if_uint64()) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
      ctx.error = "integer out of range";
      return fail_in(ctx, std::string(camel));
    }
    out = static_cast<T>(*u);
    return true;
  }
  long double d = 0;
  if (!to_int(*v, static_cast<long double>(std::numeric_limits<T>::min()),
              static_cast<long double>(std::numeric_limits<T>::max()), d)) {
    ctx.error = "expected an integer";
    return fail_in(ctx, std::string(camel));
  }
  out = static_cast<T>(d);
  return true;
}

template <class Id>
bool read_id(Ctx& ctx, const json::object& o, std::string_view camel, std::string_view snake, Id& out) {
  const json::value* v = member(o, camel, snake);
  const json::string* s = v ? v->if_string() : nullptr;
  if (v != nullptr && s == nullptr) {
    ctx.error = "expected a hex string";
    return fail_in(ctx, std::string(camel));
  }
  if (s == nullptr || s->empty()) {
    out = Id{};
    return true;  // absent ids read as invalid (all zero), as in the protobuf decoder
  }
  bool ok;
  if constexpr (std::is_same_v<Id, TraceId>) ok = parse_trace_id_hex(std::string_view(s->data(), s->size()), out);
  else ok = parse_span_id_hex(std::string_view(s->data(), s->size()), out);
  if (!ok) {
    ctx.error = "must be " + std::to_string(2 * out.bytes.size()) + " hex digits, got " +
                std::to_string(std::min<std::size_t>(s->size(), 1000)) + " characters";
    return fail_in(ctx, std::string(camel));
  }
  return true;
}

bool decode_key_value(Ctx& ctx, const json::value& v, KeyValue& out, std::size_t depth);

bool decode_any_value(Ctx& ctx, const json::value& v, AnyValue& out, std::size_t depth) {
  if (depth > ctx.limits.max_depth) return ctx.fail("nested deeper than " + std::to_string(ctx.limits.max_depth) + " values");
  const json::object* o = nullptr;
  if (!as_object(ctx, v, o)) return false;
  out = AnyValue{};
  if (const auto* s = member(*o, "stringValue", "string_value")) {
    if (!s->is_string()) return fail_at(ctx, "expected a string", "stringValue");
    out.value = std::string(s->get_string());
  } else if (const auto* b = member(*o, "boolValue", "bool_value")) {
    if (!b->is_bool()) return fail_at(ctx, "expected true or false", "boolValue");
    out.value = b->get_bool();
  } else if (member(*o, "intValue", "int_value") != nullptr) {
    std::int64_t i = 0;
    if (!read_int(ctx, *o, "intValue", "int_value", i)) return false;
    out.value = i;
  } else if (const auto* d = member(*o, "doubleValue", "double_value")) {
    if (const auto* s = d->if_string()) {
      if (*s == "NaN") out.value = std::numeric_limits<double>::quiet_NaN();
      else if (*s == "Infinity") out.value = std::numeric_limits<double>::infinity();
      else if (*s == "-Infinity") out.value = -std::numeric_limits<double>::infinity();
      else {
        char* end = nullptr;
        std::string text(s->data(), s->size());
        const double parsed = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size()) {
          return fail_at(ctx, "expected a number", "doubleValue");
        }
        out.value = parsed;
      }
    } else if (d->is_number()) {
      out.value = d->to_number<double>();
    } else {
      return fail_at(ctx, "expected a number", "doubleValue");
    }
  } else if (const auto* a = member(*o, "arrayValue", "array_value")) {
    const json::object* ao = nullptr;
    if (!as_object(ctx, *a, ao)) return fail_in(ctx, "arrayValue");
    ArrayValue array;
    if (const auto* values = member(*ao, "values")) {
      const json::array* arr = nullptr;
      if (!as_array(ctx, *values, arr)) return fail_in(ctx, "arrayValue.values");
      array.values.reserve(std::min<std::size_t>(arr->size(), 1024));
      for (std::size_t i = 0; i < arr->size(); ++i) {
        if (!decode_any_value(ctx, (*arr)[i], array.values.emplace_back(), depth + 1)) {
          return fail_in(ctx, "arrayValue.values", i);
        }
      }
    }
    out.value = std::move(array);
  } else if (const auto* k = member(*o, "kvlistValue", "kvlist_value")) {
    const json::object* ko = nullptr;
    if (!as_object(ctx, *k, ko)) return fail_in(ctx, "kvlistValue");
    KeyValueList list;
    if (const auto* values = member(*ko, "values")) {
      const json::array* arr = nullptr;
      if (!as_array(ctx, *values, arr)) return fail_in(ctx, "kvlistValue.values");
      for (std::size_t i = 0; i < arr->size(); ++i) {
        if (!decode_key_value(ctx, (*arr)[i], list.values.emplace_back(), depth + 1)) {
          return fail_in(ctx, "kvlistValue.values", i);
        }
      }
    }
    out.value = std::move(list);
  } else if (const auto* by = member(*o, "bytesValue", "bytes_value")) {
    const json::string* s = by->if_string();
    std::string bytes;
    if (s == nullptr || !base64::decode(std::string_view(s->data(), s->size()), bytes)) {
      return fail_at(ctx, "expected base64", "bytesValue");
    }
    out.value = BytesValue{std::move(bytes)};
  }
  return true;
}

bool decode_key_value(Ctx& ctx, const json::value& v, KeyValue& out, std::size_t depth) {
  const json::object* o = nullptr;
  if (!as_object(ctx, v, o)) return false;
  if (!read_string(ctx, *o, "key", {}, out.key)) return false;
  if (const auto* value = member(*o, "value")) {
    if (!decode_any_value(ctx, *value, out.value, depth)) return fail_in(ctx, "value");
  }
  return true;
}

// A list of objects under `camel`/`snake`, each decoded by `decode_one`.
template <class T, class DecodeOne>
bool read_list(Ctx& ctx, const json::object& o, std::string_view camel, std::string_view snake,
               std::vector<T>& out, DecodeOne&& decode_one) {
  const json::value* v = member(o, camel, snake);
  if (v == nullptr) return true;
  const json::array* arr = nullptr;
  if (!as_array(ctx, *v, arr)) return fail_in(ctx, std::string(camel));
  for (std::size_t i = 0; i < arr->size(); ++i) {
    if (!decode_one((*arr)[i], out.emplace_back())) return fail_in(ctx, std::string(camel).c_str(), i);
  }
  return true;
}

bool read_attributes(Ctx& ctx, const json::object& o, Attributes& out) {
  return read_list(ctx, o, "attributes", {}, out,
                   [&](const json::value& v, KeyValue& kv) { return decode_key_value(ctx, v, kv, 0); });
}

bool decode_resource(Ctx& ctx, const json::value& v, Resource& out) {
  const json::object* o = nullptr;
  if (!as_object(ctx, v, o)) return false;
  return read_attributes(ctx, *o, out.attributes) &&
         read_int(ctx, *o, "droppedAttributesCount", "dropped_attributes_count", out.dropped_attributes_count);
}

bool decode_scope(Ctx& ctx, const json::value& v, InstrumentationScope& out) {
  const json::object* o = nullptr;
  if (!as_object(ctx, v, o)) return false;
  return read_string(ctx, *o, "name", {}, out.name) && read_string(ctx, *o, "version", {}, out.version) &&
         read_attributes(ctx, *o, out.attributes) &&
         read_int(ctx, *o, "droppedAttributesCount", "dropped_attributes_count", out.dropped_attributes_count);
}

bool decode_event(Ctx& ctx, const json::value& v, SpanEvent& out) {
  const json::object* o = nullptr;
  if (!as_object(ctx, v, o)) return false;
  return read_int(ctx, *o, "timeUnixNano", "time_unix_nano", out.time_unix_nano) &&
         read_string(ctx, *o, "name", {}, out.name) && read_attributes(ctx, *o, out.attributes) &&
         read_int(ctx, *o, "droppedAttributesCount", "dropped_attributes_count", out.dropped_attributes_count);
}

bool decode_link(Ctx& ctx, const json::value& v, SpanLink& out) {
  const json::object* o = nullptr;
  if (!as_object(ctx, v, o)) return false;
  return read_id(ctx, *o, "traceId", "trace_id", out.trace_id) &&
         read_id(ctx, *o, "spanId", "span_id", out.span_id) &&
         read_string(ctx, *o, "traceState", "trace_state", out.trace_state) &&
         read_attributes(ctx, *o, out.attributes) &&
         read_int(ctx, *o, "droppedAttributesCount", "dropped_attributes_count", out.dropped_attributes_count) &&
         read_int(ctx, *o, "flags", {}, out.flags);
}

bool decode_span(Ctx& ctx, const json::value& v, Span& out) {
  const json::object* o = nullptr;
  if (!as_object(ctx, v, o)) return false;
  if (!read_id(ctx, *o, "traceId", "trace_id", out.trace_id) ||
      !read_id(ctx, *o, "spanId", "span_id", out.span_id) ||
      !read_string(ctx, *o, "traceState", "trace_state", out.trace_state) ||
      !read_id(ctx, *o, "parentSpanId", "parent_span_id", out.parent_span_id) ||
      !read_int(ctx, *o, "flags", {}, out.flags) || !read_string(ctx, *o, "name", {}, out.name) ||
      !read_int(ctx, *o, "kind", {}, out.kind) ||
      !read_int(ctx, *o, "startTimeUnixNano", "start_time_unix_nano", out.start_time_unix_nano) ||
      !read_int(ctx, *o, "endTimeUnixNano", "end_time_unix_nano", out.end_time_unix_nano) ||
      !read_attributes(ctx, *o, out.attributes) ||
      !read_int(ctx, *o, "droppedAttributesCount", "dropped_attributes_count", out.dropped_attributes_count) ||
      !read_list(ctx, *o, "events", {}, out.events,
                 [&](const json::value& e, SpanEvent& ev) { return decode_event(ctx, e, ev); }) ||
      !read_int(ctx, *o, "droppedEventsCount", "dropped_events_count", out.dropped_events_count) ||
      !read_list(ctx, *o, "links", {}, out.links,
                 [&](const json::value& l, SpanLink& link) { return decode_link(ctx, l, link); }) ||
      !read_int(ctx, *o, "droppedLinksCount", "dropped_links_count", out.dropped_links_count)) {
    return false;
  }
  if (const auto* status = member(*o, "status")) {
    const json::object* so = nullptr;
    if (!as_object(ctx, *status, so) || !read_string(ctx, *so, "message", {}, out.status.message) ||
        !read_int(ctx, *so, "code", {}, out.status.code)) {
      return fail_in(ctx, "status");
    }
  }
  return true;
}

bool decode_log_record(Ctx& ctx, const json::value& v, LogRecord& out) {
  const json::object* o = nullptr;
  if (!as_object(ctx, v, o)) return false;
  if (!read_int(ctx, *o, "timeUnixNano", "time_unix_nano", out.time_unix_nano) ||
      !read_int(ctx, *o, "observedTimeUnixNano", "observed_time_unix_nano", out.observed_time_unix_nano) ||
      !read_int(ctx, *o, "severityNumber", "severity_number", out.severity_number) ||
      !read_string(ctx, *o, "severityText", "severity_text", out.severity_text) ||
      !read_attributes(ctx, *o, out.attributes) ||
      !read_int(ctx, *o, "droppedAttributesCount", "dropped_attributes_count", out.dropped_attributes_count) ||
      !read_int(ctx, *o, "flags", {}, out.flags) || !read_id(ctx, *o, "traceId", "trace_id", out.trace_id) ||
      !read_id(ctx, *o, "spanId", "span_id", out.span_id) ||
      !read_string(ctx, *o, "eventName", "event_name", out.event_name)) {
    return false;
  }
  if (const auto* body = member(*o, "body")) {
    if (!decode_any_value(ctx, *body, out.body, 0)) return fail_in(ctx, "body");
  }
  return true;
}

bool parse(std::string_view text, json::value& out, Ctx& ctx) {
  if (text.size() > ctx.limits.max_bytes) {
    return ctx.fail("request of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                    std::to_string(ctx.limits.max_bytes));
  }
  json::parse_options options;
  // JSON nesting per OTLP level is about 2 (object + array), plus a margin for the envelope.
  options.max_depth = 2 * ctx.limits.max_depth + 16;
  boost::system::error_code ec;
  out = json::parse(text, ec, {}, options);
  if (ec) return ctx.fail("invalid JSON: " + ec.message());
  if (!out.is_object()) return ctx.fail("expected a JSON object");
  return true;
}

template <class ResourceX, class ScopeX, class Record, class DecodeRecord>
bool decode_request(std::string_view text, std::vector<ResourceX>& out, std::string& error,
                    const OtlpDecodeLimits& limits, std::string_view resources_camel, std::string_view resources_snake,
                    std::string_view scopes_camel, std::string_view scopes_snake, std::string_view records_camel,
                    std::string_view records_snake, const char* items_name, std::vector<ScopeX> ResourceX::*scopes,
                    std::vector<Record> ScopeX::*records, DecodeRecord&& decode_record) {
  out.clear();
  error.clear();
  Ctx ctx{limits, error};
  json::value root;
  if (!parse(text, root, ctx)) return false;
  return read_list(ctx, root.get_object(), resources_camel, resources_snake, out, [&](const json::value& rv, ResourceX& rx) {
    const json::object* ro = nullptr;
    if (!as_object(ctx, rv, ro)) return false;
    if (const auto* resource = member(*ro, "resource")) {
      if (!decode_resource(ctx, *resource, rx.resource)) return fail_in(ctx, "resource");
    }
    if (!read_string(ctx, *ro, "schemaUrl", "schema_url", rx.schema_url)) return false;
    return read_list(ctx, *ro, scopes_camel, scopes_snake, rx.*scopes, [&](const json::value& sv, ScopeX& sx) {
      const json::object* so = nullptr;
      if (!as_object(ctx, sv, so)) return false;
      if (const auto* scope = member(*so, "scope")) {
        if (!decode_scope(ctx, *scope, sx.scope)) return fail_in(ctx, "scope");
      }
      if (!read_string(ctx, *so, "schemaUrl", "schema_url", sx.schema_url)) return false;
      return read_list(ctx, *so, records_camel, records_snake, sx.*records, [&](const json::value& v, Record& r) {
        if (++ctx.items > limits.max_items) {
          return ctx.fail("more than " + std::to_string(limits.max_items) + " " + items_name);
        }
        return decode_record(ctx, v, r);
      });
    });
  });
}

bool decode_response(std::string_view text, OtlpPartialSuccess& out, std::string& error, std::string_view rejected_camel,
                     std::string_view rejected_snake) {
  out = OtlpPartialSuccess{};
  error.clear();
  OtlpDecodeLimits limits;
  limits.max_bytes = 1u << 20;
  Ctx ctx{limits, error};
  json::value root;
  if (!parse(text, root, ctx)) return false;
  const json::value* partial = member(root.get_object(), "partialSuccess", "partial_success");
  if (partial == nullptr) return true;
  const json::object* po = nullptr;
  if (!as_object(ctx, *partial, po) || !read_int(ctx, *po, rejected_camel, rejected_snake, out.rejected) ||
      !read_string(ctx, *po, "errorMessage", "error_message", out.error_message)) {
    return fail_in(ctx, "partialSuccess");
  }
  return true;
}

}  // namespace

bool decode_trace_request_json(std::string_view text, TraceBatch& out, std::string& error,
                               const OtlpDecodeLimits& limits) {
  return decode_request(text, out.resource_spans, error, limits, "resourceSpans", "resource_spans", "scopeSpans",
                        "scope_spans", "spans", {}, "spans", &ResourceSpans::scope_spans, &ScopeSpans::spans,
                        [](Ctx& ctx, const json::value& v, Span& s) { return decode_span(ctx, v, s); });
}

bool decode_logs_request_json(std::string_view text, LogBatch& out, std::string& error,
                              const OtlpDecodeLimits& limits) {
  return decode_request(text, out.resource_logs, error, limits, "resourceLogs", "resource_logs", "scopeLogs",
                        "scope_logs", "logRecords", "log_records", "log records", &ResourceLogs::scope_logs,
                        &ScopeLogs::log_records,
                        [](Ctx& ctx, const json::value& v, LogRecord& r) { return decode_log_record(ctx, v, r); });
}

bool decode_trace_response_json(std::string_view text, OtlpPartialSuccess& out, std::string& error) {
  return decode_response(text, out, error, "rejectedSpans", "rejected_spans");
}

bool decode_logs_response_json(std::string_view text, OtlpPartialSuccess& out, std::string& error) {
  return decode_response(text, out, error, "rejectedLogRecords", "rejected_log_records");
}

}  // namespace porthole::telemetry
