// Helpers of the OTLP data model: equality of the recursive AnyValue parts, ids, and converting
// between batches (grouped by resource and scope) and single queued items.
#include "porthole/telemetry/otlp_model.hpp"

#include <algorithm>
#include <unordered_map>

namespace porthole::telemetry {

bool ArrayValue::operator==(const ArrayValue& other) const { return values == other.values; }
bool KeyValueList::operator==(const KeyValueList& other) const { return values == other.values; }

const AnyValue* find_attribute(const Attributes& attributes, std::string_view key) {
  for (const auto& kv : attributes) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

namespace {

template <std::size_t N>
bool any_nonzero(const std::array<std::uint8_t, N>& bytes) {
  return std::any_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b != 0; });
}

template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (std::size_t i = 0; i < N; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
  }
  return out;
}

}  // namespace

bool TraceId::valid() const { return any_nonzero(bytes); }
std::string TraceId::hex() const { return to_hex(bytes); }
bool SpanId::valid() const { return any_nonzero(bytes); }
std::string SpanId::hex() const { return to_hex(bytes); }

std::size_t TraceBatch::span_count() const {
  std::size_t n = 0;
  for (const auto& rs : resource_spans) {
    for (const auto& ss : rs.scope_spans) n += ss.spans.size();
  }
  return n;
}

std::size_t LogBatch::log_record_count() const {
  std::size_t n = 0;
  for (const auto& rl : resource_logs) {
    for (const auto& sl : rl.scope_logs) n += sl.log_records.size();
  }
  return n;
}

namespace {

template <class Item, class Batch, class ResourceX, class ScopeX, class Record>
std::vector<Item> split(Batch&& batch, std::vector<ResourceX> Batch::*resources,
                        std::vector<ScopeX> ResourceX::*scopes, std::vector<Record> ScopeX::*records) {
  std::vector<Item> items;
  std::size_t count = 0;
  for (const auto& rx : batch.*resources) {
    for (const auto& sx : rx.*scopes) count += (sx.*records).size();
  }
  items.reserve(count);
  for (auto& rx : batch.*resources) {
    for (auto& sx : rx.*scopes) {
      auto origin = std::make_shared<const ItemOrigin>(
          ItemOrigin{rx.resource, rx.schema_url, std::move(sx.scope), std::move(sx.schema_url)});
      for (auto& record : sx.*records) items.push_back(Item{origin, std::move(record)});
    }
  }
  return items;
}

template <class Batch, class Item, class ResourceX, class ScopeX, class Record>
Batch group(std::vector<Item>&& items, std::vector<ResourceX> Batch::*resources,
            std::vector<ScopeX> ResourceX::*scopes, std::vector<Record> ScopeX::*records,
            Record Item::*record) {
  Batch batch;
  auto& rxs = batch.*resources;
  // Origin pointer -> (resource index, scope index); most batches have one or two origins.
  std::unordered_map<const ItemOrigin*, std::pair<std::size_t, std::size_t>> placed;
  for (auto& item : items) {
    const ItemOrigin* origin = item.origin.get();
    auto it = placed.find(origin);
    if (it == placed.end()) {
      std::size_t r = 0;
      while (r < rxs.size() &&
             !(rxs[r].resource == origin->resource && rxs[r].schema_url == origin->resource_schema_url)) {
        ++r;
      }
      if (r == rxs.size()) {
        rxs.emplace_back();
        rxs.back().resource = origin->resource;
        rxs.back().schema_url = origin->resource_schema_url;
      }
      auto& sxs = rxs[r].*scopes;
      std::size_t s = 0;
      while (s < sxs.size() &&
             !(sxs[s].scope == origin->scope && sxs[s].schema_url == origin->scope_schema_url)) {
        ++s;
      }
      if (s == sxs.size()) {
        sxs.emplace_back();
        sxs.back().scope = origin->scope;
        sxs.back().schema_url = origin->scope_schema_url;
      }
      it = placed.emplace(origin, std::make_pair(r, s)).first;
    }
    ((rxs[it->second.first].*scopes)[it->second.second].*records).push_back(std::move(item.*record));
  }
  items.clear();
  return batch;
}

}  // namespace

std::vector<SpanItem> split_batch(TraceBatch&& batch) {
  return split<SpanItem>(std::move(batch), &TraceBatch::resource_spans, &ResourceSpans::scope_spans,
                         &ScopeSpans::spans);
}
std::vector<LogItem> split_batch(LogBatch&& batch) {
  return split<LogItem>(std::move(batch), &LogBatch::resource_logs, &ResourceLogs::scope_logs,
                        &ScopeLogs::log_records);
}
TraceBatch group_items(std::vector<SpanItem>&& items) {
  return group<TraceBatch>(std::move(items), &TraceBatch::resource_spans, &ResourceSpans::scope_spans,
                           &ScopeSpans::spans, &SpanItem::span);
}
LogBatch group_items(std::vector<LogItem>&& items) {
  return group<LogBatch>(std::move(items), &LogBatch::resource_logs, &ResourceLogs::scope_logs,
                         &ScopeLogs::log_records, &LogItem::record);
}

std::size_t approx_bytes(const AnyValue& value) {
  std::size_t n = sizeof(AnyValue);
  if (const auto* s = std::get_if<std::string>(&value.value)) {
    n += s->size();
  } else if (const auto* b = std::get_if<BytesValue>(&value.value)) {
    n += b->bytes.size();
  } else if (const auto* a = std::get_if<ArrayValue>(&value.value)) {
    for (const auto& v : a->values) n += approx_bytes(v);
  } else if (const auto* kv = std::get_if<KeyValueList>(&value.value)) {
    n += approx_bytes(kv->values);
  }
  return n;
}

std::size_t approx_bytes(const Attributes& attributes) {
  std::size_t n = 0;
  for (const auto& kv : attributes) n += sizeof(std::string) + kv.key.size() + approx_bytes(kv.value);
  return n;
}

std::size_t approx_bytes(const SpanItem& item) {
  const Span& s = item.span;
  std::size_t n = sizeof(SpanItem) + s.name.size() + s.trace_state.size() + s.status.message.size() +
                  approx_bytes(s.attributes);
  for (const auto& e : s.events) n += sizeof(SpanEvent) + e.name.size() + approx_bytes(e.attributes);
  for (const auto& l : s.links) n += sizeof(SpanLink) + l.trace_state.size() + approx_bytes(l.attributes);
  return n;
}

std::size_t approx_bytes(const LogItem& item) {
  const LogRecord& r = item.record;
  return sizeof(LogItem) + r.severity_text.size() + r.event_name.size() + approx_bytes(r.body) +
         approx_bytes(r.attributes);
}

}  // namespace porthole::telemetry
