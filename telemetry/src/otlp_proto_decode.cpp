// Decoding of OTLP export requests/responses from protobuf. Field numbers are those of
// opentelemetry-proto v1 (common, resource, trace, logs, collector). A field whose wire type does
// not match the schema is treated as unknown and skipped, as protobuf parsers do.
#include <algorithm>
#include <bit>
#include <cstring>

#include "porthole/telemetry/otlp_proto.hpp"
#include "protobuf_wire.hpp"

namespace porthole::telemetry {
namespace {

using wire::Field;

struct Ctx {
  const OtlpDecodeLimits& limits;
  std::string& error;
  std::size_t depth = 0;
  std::size_t items = 0;
  std::size_t values = 0;
  bool path_started = false;

  bool count_value() {
    if (++values > limits.max_values) {
      error = "more than " + std::to_string(limits.max_values) + " messages";
      return false;
    }
    return true;
  }
  bool count_item(const char* what) {
    if (++items > limits.max_items) {
      error = std::string("more than ") + std::to_string(limits.max_items) + " " + what;
      return false;
    }
    return true;
  }
};

// Prefixes the error with the path of the field that failed, innermost first while unwinding:
// "resource_spans[0].scope_spans[0].spans[3].trace_id: must be 16 bytes, got 5".
bool fail_in(Ctx& ctx, std::string field) {
  ctx.error = field + (ctx.path_started ? "." : ": ") + ctx.error;
  ctx.path_started = true;
  return false;
}
bool fail_in(Ctx& ctx, const char* field, std::size_t index) {
  return fail_in(ctx, std::string(field) + "[" + std::to_string(index) + "]");
}

// Runs `on_field` for every field of `message`, inside one more level of nesting.
template <class OnField>
bool for_each_field(Ctx& ctx, std::string_view message, OnField&& on_field) {
  if (++ctx.depth > ctx.limits.max_depth) {
    ctx.error = "nested deeper than " + std::to_string(ctx.limits.max_depth) + " messages";
    return false;
  }
  if (!ctx.count_value()) return false;
  wire::Reader reader(message);
  Field field;
  while (!reader.at_end()) {
    if (!reader.next(field, ctx.error)) return false;
    if (!on_field(field)) return false;
  }
  --ctx.depth;
  return true;
}

bool is_len(const Field& f) { return f.type == wire::kLen; }

// How many length-delimited fields numbered `number` `message` holds at its top level (stops at
// the first malformed field: decoding reports that one).
std::size_t count_fields(std::string_view message, std::uint32_t number) {
  wire::Reader reader(message);
  Field field;
  std::string ignored;
  std::size_t n = 0;
  while (!reader.at_end() && reader.next(field, ignored)) n += field.number == number && is_len(field);
  return n;
}
bool is_varint(const Field& f) { return f.type == wire::kVarint; }
bool is_fixed64(const Field& f) { return f.type == wire::kFixed64; }
bool is_fixed32(const Field& f) { return f.type == wire::kFixed32; }

template <std::size_t N>
bool read_id(Ctx& ctx, const Field& f, std::array<std::uint8_t, N>& out, bool empty_ok, const char* name) {
  if (f.bytes.empty() && empty_ok) {
    out.fill(0);
    return true;
  }
  if (f.bytes.size() != N) {
    ctx.error = "must be " + std::to_string(N) + " bytes, got " + std::to_string(f.bytes.size());
    return fail_in(ctx, name);
  }
  std::memcpy(out.data(), f.bytes.data(), N);
  return true;
}

bool decode_key_value(Ctx& ctx, std::string_view message, KeyValue& out);

bool decode_any_value(Ctx& ctx, std::string_view message, AnyValue& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    switch (f.number) {
      case 1:
        if (is_len(f)) out.value.emplace<std::string>(f.bytes);
        return true;
      case 2:
        if (is_varint(f)) out.value = f.number_value != 0;
        return true;
      case 3:
        if (is_varint(f)) out.value = static_cast<std::int64_t>(f.number_value);
        return true;
      case 4:
        if (is_fixed64(f)) out.value = std::bit_cast<double>(f.number_value);
        return true;
      case 5:
        if (is_len(f)) {
          ArrayValue array;
          std::size_t i = 0;
          bool ok = for_each_field(ctx, f.bytes, [&](const Field& g) {
            if (g.number != 1 || !is_len(g)) return true;
            if (!decode_any_value(ctx, g.bytes, array.values.emplace_back())) return fail_in(ctx, "values", i);
            ++i;
            return true;
          });
          if (!ok) return fail_in(ctx, "array_value");
          out.value = std::move(array);
        }
        return true;
      case 6:
        if (is_len(f)) {
          KeyValueList list;
          std::size_t i = 0;
          bool ok = for_each_field(ctx, f.bytes, [&](const Field& g) {
            if (g.number != 1 || !is_len(g)) return true;
            if (!decode_key_value(ctx, g.bytes, list.values.emplace_back())) return fail_in(ctx, "values", i);
            ++i;
            return true;
          });
          if (!ok) return fail_in(ctx, "kvlist_value");
          out.value = std::move(list);
        }
        return true;
      case 7:
        if (is_len(f)) out.value.emplace<BytesValue>(BytesValue{std::string(f.bytes)});
        return true;
      default:
        return true;
    }
  });
}

bool decode_key_value(Ctx& ctx, std::string_view message, KeyValue& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    if (f.number == 1 && is_len(f)) {
      out.key.assign(f.bytes);
    } else if (f.number == 2 && is_len(f)) {
      if (!out.value.empty()) out.value = AnyValue{};  // a repeated field: the last one wins
      if (!decode_any_value(ctx, f.bytes, out.value)) return fail_in(ctx, "value");
    }
    return true;
  });
}

// Appends a KeyValue from `f` to `attributes`, naming the index on failure.
bool add_attribute(Ctx& ctx, const Field& f, Attributes& attributes, const char* name = "attributes") {
  const std::size_t index = attributes.size();
  // Spans carry a handful of attributes: one allocation instead of growing 1-2-4-8.
  if (attributes.capacity() == 0) attributes.reserve(8);
  if (!decode_key_value(ctx, f.bytes, attributes.emplace_back())) return fail_in(ctx, name, index);
  return true;
}

bool decode_resource(Ctx& ctx, std::string_view message, Resource& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    if (f.number == 1 && is_len(f)) return add_attribute(ctx, f, out.attributes);
    if (f.number == 2 && is_varint(f)) out.dropped_attributes_count = static_cast<std::uint32_t>(f.number_value);
    return true;
  });
}

bool decode_scope(Ctx& ctx, std::string_view message, InstrumentationScope& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    if (f.number == 1 && is_len(f)) out.name.assign(f.bytes);
    else if (f.number == 2 && is_len(f)) out.version.assign(f.bytes);
    else if (f.number == 3 && is_len(f)) return add_attribute(ctx, f, out.attributes);
    else if (f.number == 4 && is_varint(f)) out.dropped_attributes_count = static_cast<std::uint32_t>(f.number_value);
    return true;
  });
}

bool decode_event(Ctx& ctx, std::string_view message, SpanEvent& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    if (f.number == 1 && is_fixed64(f)) out.time_unix_nano = f.number_value;
    else if (f.number == 2 && is_len(f)) out.name.assign(f.bytes);
    else if (f.number == 3 && is_len(f)) return add_attribute(ctx, f, out.attributes);
    else if (f.number == 4 && is_varint(f)) out.dropped_attributes_count = static_cast<std::uint32_t>(f.number_value);
    return true;
  });
}

bool decode_link(Ctx& ctx, std::string_view message, SpanLink& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    if (f.number == 1 && is_len(f)) return read_id(ctx, f, out.trace_id.bytes, false, "trace_id");
    if (f.number == 2 && is_len(f)) return read_id(ctx, f, out.span_id.bytes, false, "span_id");
    if (f.number == 3 && is_len(f)) out.trace_state.assign(f.bytes);
    else if (f.number == 4 && is_len(f)) return add_attribute(ctx, f, out.attributes);
    else if (f.number == 5 && is_varint(f)) out.dropped_attributes_count = static_cast<std::uint32_t>(f.number_value);
    else if (f.number == 6 && is_fixed32(f)) out.flags = static_cast<std::uint32_t>(f.number_value);
    return true;
  });
}

bool decode_status(Ctx& ctx, std::string_view message, SpanStatus& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    if (f.number == 2 && is_len(f)) out.message.assign(f.bytes);
    else if (f.number == 3 && is_varint(f)) out.code = static_cast<std::int32_t>(f.number_value);
    return true;
  });
}

bool decode_span(Ctx& ctx, std::string_view message, Span& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    switch (f.number) {
      case 1: if (is_len(f)) return read_id(ctx, f, out.trace_id.bytes, false, "trace_id"); break;
      case 2: if (is_len(f)) return read_id(ctx, f, out.span_id.bytes, false, "span_id"); break;
      case 3: if (is_len(f)) out.trace_state.assign(f.bytes); break;
      case 4: if (is_len(f)) return read_id(ctx, f, out.parent_span_id.bytes, true, "parent_span_id"); break;
      case 5: if (is_len(f)) out.name.assign(f.bytes); break;
      case 6: if (is_varint(f)) out.kind = static_cast<std::int32_t>(f.number_value); break;
      case 7: if (is_fixed64(f)) out.start_time_unix_nano = f.number_value; break;
      case 8: if (is_fixed64(f)) out.end_time_unix_nano = f.number_value; break;
      case 9: if (is_len(f)) return add_attribute(ctx, f, out.attributes); break;
      case 10: if (is_varint(f)) out.dropped_attributes_count = static_cast<std::uint32_t>(f.number_value); break;
      case 11:
        if (is_len(f)) {
          const std::size_t i = out.events.size();
          if (!decode_event(ctx, f.bytes, out.events.emplace_back())) return fail_in(ctx, "events", i);
        }
        break;
      case 12: if (is_varint(f)) out.dropped_events_count = static_cast<std::uint32_t>(f.number_value); break;
      case 13:
        if (is_len(f)) {
          const std::size_t i = out.links.size();
          if (!decode_link(ctx, f.bytes, out.links.emplace_back())) return fail_in(ctx, "links", i);
        }
        break;
      case 14: if (is_varint(f)) out.dropped_links_count = static_cast<std::uint32_t>(f.number_value); break;
      case 15:
        if (is_len(f)) {
          out.status = SpanStatus{};
          if (!decode_status(ctx, f.bytes, out.status)) return fail_in(ctx, "status");
        }
        break;
      case 16: if (is_fixed32(f)) out.flags = static_cast<std::uint32_t>(f.number_value); break;
      default: break;
    }
    return true;
  });
}

bool decode_log_record(Ctx& ctx, std::string_view message, LogRecord& out) {
  return for_each_field(ctx, message, [&](const Field& f) {
    switch (f.number) {
      case 1: if (is_fixed64(f)) out.time_unix_nano = f.number_value; break;
      case 2: if (is_varint(f)) out.severity_number = static_cast<std::int32_t>(f.number_value); break;
      case 3: if (is_len(f)) out.severity_text.assign(f.bytes); break;
      case 5:
        if (is_len(f)) {
          out.body = AnyValue{};
          if (!decode_any_value(ctx, f.bytes, out.body)) return fail_in(ctx, "body");
        }
        break;
      case 6: if (is_len(f)) return add_attribute(ctx, f, out.attributes); break;
      case 7: if (is_varint(f)) out.dropped_attributes_count = static_cast<std::uint32_t>(f.number_value); break;
      case 8: if (is_fixed32(f)) out.flags = static_cast<std::uint32_t>(f.number_value); break;
      case 9: if (is_len(f)) return read_id(ctx, f, out.trace_id.bytes, true, "trace_id"); break;
      case 10: if (is_len(f)) return read_id(ctx, f, out.span_id.bytes, true, "span_id"); break;
      case 11: if (is_fixed64(f)) out.observed_time_unix_nano = f.number_value; break;
      case 12: if (is_len(f)) out.event_name.assign(f.bytes); break;
      default: break;
    }
    return true;
  });
}

template <class Record, class ScopeX, class ResourceX, class DecodeRecord>
bool decode_request(std::string_view wire_bytes, std::vector<ResourceX>& out, std::string& error,
                    const OtlpDecodeLimits& limits, const char* resources_name, const char* scopes_name,
                    const char* records_name, const char* items_name,
                    std::vector<ScopeX> ResourceX::*scopes, std::vector<Record> ScopeX::*records,
                    DecodeRecord&& decode_record) {
  out.clear();
  error.clear();
  if (wire_bytes.size() > limits.max_bytes) {
    error = "request of " + std::to_string(wire_bytes.size()) + " bytes exceeds the limit of " +
            std::to_string(limits.max_bytes);
    return false;
  }
  Ctx ctx{limits, error};
  return for_each_field(ctx, wire_bytes, [&](const Field& f) {
    if (f.number != 1 || !is_len(f)) return true;
    const std::size_t ri = out.size();
    ResourceX& rx = out.emplace_back();
    bool ok = for_each_field(ctx, f.bytes, [&](const Field& g) {
      if (g.number == 1 && is_len(g)) {
        if (!decode_resource(ctx, g.bytes, rx.resource)) return fail_in(ctx, "resource");
      } else if (g.number == 2 && is_len(g)) {
        const std::size_t si = (rx.*scopes).size();
        ScopeX& sx = (rx.*scopes).emplace_back();
        // One allocation for the records instead of growing (and moving every span) 1-2-4-...-512
        // times; the count is bounded by max_items, so a hostile request cannot make this big.
        (sx.*records).reserve(std::min(count_fields(g.bytes, 2), limits.max_items));
        bool scope_ok = for_each_field(ctx, g.bytes, [&](const Field& h) {
          if (h.number == 1 && is_len(h)) {
            if (!decode_scope(ctx, h.bytes, sx.scope)) return fail_in(ctx, "scope");
          } else if (h.number == 2 && is_len(h)) {
            const std::size_t i = (sx.*records).size();
            if (!ctx.count_item(items_name)) return false;
            if (!decode_record(ctx, h.bytes, (sx.*records).emplace_back())) return fail_in(ctx, records_name, i);
          } else if (h.number == 3 && is_len(h)) {
            sx.schema_url.assign(h.bytes);
          }
          return true;
        });
        if (!scope_ok) return fail_in(ctx, scopes_name, si);
      } else if (g.number == 3 && is_len(g)) {
        rx.schema_url.assign(g.bytes);
      }
      return true;
    });
    if (!ok) return fail_in(ctx, resources_name, ri);
    return true;
  });
}

bool decode_response(std::string_view wire_bytes, OtlpPartialSuccess& out, std::string& error) {
  out = OtlpPartialSuccess{};
  error.clear();
  OtlpDecodeLimits limits;
  limits.max_bytes = 1u << 20;
  if (wire_bytes.size() > limits.max_bytes) {
    error = "response of " + std::to_string(wire_bytes.size()) + " bytes is too large";
    return false;
  }
  Ctx ctx{limits, error};
  return for_each_field(ctx, wire_bytes, [&](const Field& f) {
    if (f.number != 1 || !is_len(f)) return true;
    bool ok = for_each_field(ctx, f.bytes, [&](const Field& g) {
      if (g.number == 1 && is_varint(g)) out.rejected = static_cast<std::int64_t>(g.number_value);
      else if (g.number == 2 && is_len(g)) out.error_message.assign(g.bytes);
      return true;
    });
    return ok || fail_in(ctx, "partial_success");
  });
}

}  // namespace

bool decode_trace_request(std::string_view wire_bytes, TraceBatch& out, std::string& error,
                          const OtlpDecodeLimits& limits) {
  return decode_request(wire_bytes, out.resource_spans, error, limits, "resource_spans", "scope_spans",
                        "spans", "spans", &ResourceSpans::scope_spans, &ScopeSpans::spans,
                        [](Ctx& ctx, std::string_view m, Span& s) { return decode_span(ctx, m, s); });
}

bool decode_logs_request(std::string_view wire_bytes, LogBatch& out, std::string& error,
                         const OtlpDecodeLimits& limits) {
  return decode_request(wire_bytes, out.resource_logs, error, limits, "resource_logs", "scope_logs",
                        "log_records", "log records", &ResourceLogs::scope_logs, &ScopeLogs::log_records,
                        [](Ctx& ctx, std::string_view m, LogRecord& r) { return decode_log_record(ctx, m, r); });
}

bool decode_trace_response(std::string_view wire_bytes, OtlpPartialSuccess& out, std::string& error) {
  return decode_response(wire_bytes, out, error);
}
bool decode_logs_response(std::string_view wire_bytes, OtlpPartialSuccess& out, std::string& error) {
  return decode_response(wire_bytes, out, error);
}

}  // namespace porthole::telemetry
