// Encoding of OTLP export requests/responses to protobuf, fields in number order, proto3
// defaults left out (except inside the AnyValue oneof, where presence is the value).
// Span and link ids are always written (they are required); optional ids only when valid.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include "porthole/telemetry/otlp_proto.hpp"
#include "protobuf_wire.hpp"

namespace porthole::telemetry {
namespace {

using namespace wire;

std::string_view id_bytes(const auto& id) {
  return {reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size()};
}

void put_key_value(std::string& out, std::uint32_t number, const KeyValue& kv);

void put_any_value_body(std::string& out, const AnyValue& value) {
  struct Visitor {
    std::string& out;
    void operator()(const std::monostate&) const {}
    void operator()(const std::string& v) const { put_bytes(out, 1, v); }
    void operator()(bool v) const { put_int(out, 2, v ? 1 : 0); }
    void operator()(std::int64_t v) const { put_int(out, 3, v); }
    void operator()(double v) const { put_fixed64(out, 4, std::bit_cast<std::uint64_t>(v)); }
    void operator()(const ArrayValue& v) const {
      put_message(out, 5, [&](std::string& o) {
        for (const auto& item : v.values) put_message(o, 1, [&](std::string& p) { put_any_value_body(p, item); });
      });
    }
    void operator()(const KeyValueList& v) const {
      put_message(out, 6, [&](std::string& o) {
        for (const auto& kv : v.values) put_key_value(o, 1, kv);
      });
    }
    void operator()(const BytesValue& v) const { put_bytes(out, 7, v.bytes); }
  };
  std::visit(Visitor{out}, value.value);
}

void put_key_value(std::string& out, std::uint32_t number, const KeyValue& kv) {
  put_message(out, number, [&](std::string& o) {
    put_bytes_if(o, 1, kv.key);
    // An empty AnyValue is still written: "value present but empty" decodes the same as absent,
    // and writing it keeps the encoding of a decoded message stable.
    put_message(o, 2, [&](std::string& p) { put_any_value_body(p, kv.value); });
  });
}

void put_attributes(std::string& out, std::uint32_t number, const Attributes& attributes) {
  for (const auto& kv : attributes) put_key_value(out, number, kv);
}

void put_resource(std::string& out, const Resource& resource) {
  if (resource == Resource{}) return;
  put_message(out, 1, [&](std::string& o) {
    put_attributes(o, 1, resource.attributes);
    put_int_if(o, 2, resource.dropped_attributes_count);
  });
}

void put_scope(std::string& out, const InstrumentationScope& scope) {
  if (scope == InstrumentationScope{}) return;
  put_message(out, 1, [&](std::string& o) {
    put_bytes_if(o, 1, scope.name);
    put_bytes_if(o, 2, scope.version);
    put_attributes(o, 3, scope.attributes);
    put_int_if(o, 4, scope.dropped_attributes_count);
  });
}

void put_span(std::string& out, const Span& span) {
  put_message(out, 2, [&](std::string& o) {
    put_bytes(o, 1, id_bytes(span.trace_id));
    put_bytes(o, 2, id_bytes(span.span_id));
    put_bytes_if(o, 3, span.trace_state);
    if (span.parent_span_id.valid()) put_bytes(o, 4, id_bytes(span.parent_span_id));
    put_bytes_if(o, 5, span.name);
    put_int_if(o, 6, span.kind);
    put_fixed64_if(o, 7, span.start_time_unix_nano);
    put_fixed64_if(o, 8, span.end_time_unix_nano);
    put_attributes(o, 9, span.attributes);
    put_int_if(o, 10, span.dropped_attributes_count);
    for (const auto& e : span.events) {
      put_message(o, 11, [&](std::string& p) {
        put_fixed64_if(p, 1, e.time_unix_nano);
        put_bytes_if(p, 2, e.name);
        put_attributes(p, 3, e.attributes);
        put_int_if(p, 4, e.dropped_attributes_count);
      });
    }
    put_int_if(o, 12, span.dropped_events_count);
    for (const auto& l : span.links) {
      put_message(o, 13, [&](std::string& p) {
        put_bytes(p, 1, id_bytes(l.trace_id));
        put_bytes(p, 2, id_bytes(l.span_id));
        put_bytes_if(p, 3, l.trace_state);
        put_attributes(p, 4, l.attributes);
        put_int_if(p, 5, l.dropped_attributes_count);
        put_fixed32_if(p, 6, l.flags);
      });
    }
    put_int_if(o, 14, span.dropped_links_count);
    if (span.status != SpanStatus{}) {
      put_message(o, 15, [&](std::string& p) {
        put_bytes_if(p, 2, span.status.message);
        put_int_if(p, 3, span.status.code);
      });
    }
    put_fixed32_if(o, 16, span.flags);
  });
}

void put_log_record(std::string& out, const LogRecord& r) {
  put_message(out, 2, [&](std::string& o) {
    put_fixed64_if(o, 1, r.time_unix_nano);
    put_int_if(o, 2, r.severity_number);
    put_bytes_if(o, 3, r.severity_text);
    if (!r.body.empty()) put_message(o, 5, [&](std::string& p) { put_any_value_body(p, r.body); });
    put_attributes(o, 6, r.attributes);
    put_int_if(o, 7, r.dropped_attributes_count);
    put_fixed32_if(o, 8, r.flags);
    if (r.trace_id.valid()) put_bytes(o, 9, id_bytes(r.trace_id));
    if (r.span_id.valid()) put_bytes(o, 10, id_bytes(r.span_id));
    put_fixed64_if(o, 11, r.observed_time_unix_nano);
    put_bytes_if(o, 12, r.event_name);
  });
}

// Encodes items under their origins' resources and scopes, grouped exactly as group_items() groups
// them (equal resources share a ResourceX, equal scopes within it a ScopeX, in order of first
// appearance), but straight from the items: the batch is neither copied nor moved.
template <class Item, class PutRecord>
void encode_items(std::span<const Item> items, std::string& out, PutRecord&& put_record) {
  struct ScopeGroup {
    const ItemOrigin* origin;
    std::vector<std::uint32_t> members;
  };
  struct ResourceGroup {
    const ItemOrigin* origin;
    std::vector<ScopeGroup> scopes;
  };
  std::vector<ResourceGroup> groups;
  // Origin pointer -> its group; a batch usually has one or two origins, so a short list.
  std::vector<std::pair<const ItemOrigin*, std::pair<std::size_t, std::size_t>>> placed;
  for (std::uint32_t i = 0; i < items.size(); ++i) {
    const ItemOrigin* origin = items[i].origin.get();
    auto it = std::find_if(placed.rbegin(), placed.rend(), [&](const auto& p) { return p.first == origin; });
    std::pair<std::size_t, std::size_t> at;
    if (it != placed.rend()) {
      at = it->second;
    } else {
      std::size_t r = 0;
      while (r < groups.size() && !(groups[r].origin->resource == origin->resource &&
                                    groups[r].origin->resource_schema_url == origin->resource_schema_url)) {
        ++r;
      }
      if (r == groups.size()) groups.push_back({origin, {}});
      auto& scopes = groups[r].scopes;
      std::size_t s = 0;
      while (s < scopes.size() && !(scopes[s].origin->scope == origin->scope &&
                                    scopes[s].origin->scope_schema_url == origin->scope_schema_url)) {
        ++s;
      }
      if (s == scopes.size()) scopes.push_back({origin, {}});
      at = {r, s};
      placed.emplace_back(origin, at);
    }
    groups[at.first].scopes[at.second].members.push_back(i);
  }
  for (const auto& group : groups) {
    put_message(out, 1, [&](std::string& o) {
      put_resource(o, group.origin->resource);
      for (const auto& scope : group.scopes) {
        put_message(o, 2, [&](std::string& p) {
          put_scope(p, scope.origin->scope);
          for (auto i : scope.members) put_record(p, items[i]);
          put_bytes_if(p, 3, scope.origin->scope_schema_url);
        });
      }
      put_bytes_if(o, 3, group.origin->resource_schema_url);
    });
  }
}

std::string encode_response(const OtlpPartialSuccess& partial) {
  std::string out;
  if (partial.full_success()) return out;
  put_message(out, 1, [&](std::string& o) {
    put_int_if(o, 1, partial.rejected);
    put_bytes_if(o, 2, partial.error_message);
  });
  return out;
}

}  // namespace

void encode_trace_request(const TraceBatch& batch, std::string& out) {
  for (const auto& rs : batch.resource_spans) {
    put_message(out, 1, [&](std::string& o) {
      put_resource(o, rs.resource);
      for (const auto& ss : rs.scope_spans) {
        put_message(o, 2, [&](std::string& p) {
          put_scope(p, ss.scope);
          for (const auto& span : ss.spans) put_span(p, span);
          put_bytes_if(p, 3, ss.schema_url);
        });
      }
      put_bytes_if(o, 3, rs.schema_url);
    });
  }
}

std::string encode_trace_request(const TraceBatch& batch) {
  std::string out;
  encode_trace_request(batch, out);
  return out;
}

void encode_logs_request(const LogBatch& batch, std::string& out) {
  for (const auto& rl : batch.resource_logs) {
    put_message(out, 1, [&](std::string& o) {
      put_resource(o, rl.resource);
      for (const auto& sl : rl.scope_logs) {
        put_message(o, 2, [&](std::string& p) {
          put_scope(p, sl.scope);
          for (const auto& r : sl.log_records) put_log_record(p, r);
          put_bytes_if(p, 3, sl.schema_url);
        });
      }
      put_bytes_if(o, 3, rl.schema_url);
    });
  }
}

std::string encode_logs_request(const LogBatch& batch) {
  std::string out;
  encode_logs_request(batch, out);
  return out;
}

void encode_trace_request(std::span<const SpanItem> items, std::string& out) {
  encode_items(items, out, [](std::string& o, const SpanItem& item) { put_span(o, item.span); });
}

void encode_logs_request(std::span<const LogItem> items, std::string& out) {
  encode_items(items, out, [](std::string& o, const LogItem& item) { put_log_record(o, item.record); });
}

std::string encode_trace_response(const OtlpPartialSuccess& partial) { return encode_response(partial); }
std::string encode_logs_response(const OtlpPartialSuccess& partial) { return encode_response(partial); }

}  // namespace porthole::telemetry
