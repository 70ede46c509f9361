// The OTLP data model for spans and log records, as plain structs: what the OTLP receiver decodes
// from the workload, what the telemetry policy filters, what the batch processors queue and what
// the encoders write (to the sidecar over the 7001 channel, and by the sidecar to a collector).
//
// It mirrors opentelemetry-proto (trace/v1, logs/v1, common/v1, resource/v1) field for field, so
// that decode -> encode loses nothing OTLP carries except fields unknown to this version (which
// protobuf rules let us skip). Enum fields (span kind, status code, severity) are kept as the raw
// integer so that values from a newer producer survive a round trip.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace porthole::telemetry {

// ---- common/v1 ------------------------------------------------------------------------------

struct AnyValue;
struct KeyValue;

// Raw bytes (`bytes_value`); a distinct type so it is not confused with a string.
struct BytesValue {
  std::string bytes;
  bool operator==(const BytesValue&) const = default;
};
struct ArrayValue {
  std::vector<AnyValue> values;
  bool operator==(const ArrayValue&) const;
};
struct KeyValueList {
  std::vector<KeyValue> values;
  bool operator==(const KeyValueList&) const;
};

// common.v1.AnyValue. std::monostate is "no value set" (an empty AnyValue message), which OTLP
// allows and which must survive a round trip.
struct AnyValue {
  using Value = std::variant<std::monostate, std::string, bool, std::int64_t, double, BytesValue,
                             ArrayValue, KeyValueList>;
  Value value;

  // Implicit on purpose: set_attribute("k", 200) reads naturally. Defined below, once KeyValue
  // is complete (clang instantiates the variant's constructors eagerly).
  AnyValue() = default;
  AnyValue(std::string v);
  AnyValue(const char* v);
  AnyValue(std::string_view v);
  AnyValue(bool v);
  AnyValue(std::int64_t v);
  AnyValue(int v);
  AnyValue(double v);
  AnyValue(BytesValue v);
  AnyValue(ArrayValue v);
  AnyValue(KeyValueList v);

  bool empty() const { return std::holds_alternative<std::monostate>(value); }
  // Compares doubles by value (so NaN != NaN, as in C++).
  bool operator==(const AnyValue&) const = default;
};

struct KeyValue {
  std::string key;
  AnyValue value;
  bool operator==(const KeyValue&) const = default;
};

inline AnyValue::AnyValue(std::string v) : value(std::move(v)) {}
inline AnyValue::AnyValue(const char* v) : value(std::string(v)) {}
inline AnyValue::AnyValue(std::string_view v) : value(std::string(v)) {}
inline AnyValue::AnyValue(bool v) : value(v) {}
inline AnyValue::AnyValue(std::int64_t v) : value(v) {}
inline AnyValue::AnyValue(int v) : value(static_cast<std::int64_t>(v)) {}
inline AnyValue::AnyValue(double v) : value(v) {}
inline AnyValue::AnyValue(BytesValue v) : value(std::move(v)) {}
inline AnyValue::AnyValue(ArrayValue v) : value(std::move(v)) {}
inline AnyValue::AnyValue(KeyValueList v) : value(std::move(v)) {}

// A repeated KeyValue. OTLP keeps order and allows (but discourages) duplicate keys; so do we.
using Attributes = std::vector<KeyValue>;

// The first attribute with `key`, or nullptr.
const AnyValue* find_attribute(const Attributes& attributes, std::string_view key);

// resource.v1.Resource
struct Resource {
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  bool operator==(const Resource&) const = default;
};

// common.v1.InstrumentationScope
struct InstrumentationScope {
  std::string name;
  std::string version;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  bool operator==(const InstrumentationScope&) const = default;
};

// ---- ids ------------------------------------------------------------------------------------

// All-zero means "absent/invalid" (W3C and OTLP agree on that).
struct TraceId {
  std::array<std::uint8_t, 16> bytes{};
  bool valid() const;  // not all zero
  std::string hex() const;  // 32 lowercase hex digits
  bool operator==(const TraceId&) const = default;
};
struct SpanId {
  std::array<std::uint8_t, 8> bytes{};
  bool valid() const;
  std::string hex() const;  // 16 lowercase hex digits
  bool operator==(const SpanId&) const = default;
};

// ---- trace/v1 -------------------------------------------------------------------------------

// Span.SpanKind values (kept as int32 on the wire and in Span::kind).
enum class SpanKind : std::int32_t {
  Unspecified = 0,
  Internal = 1,
  Server = 2,
  Client = 3,
  Producer = 4,
  Consumer = 5,
};
// Status.StatusCode values.
enum class StatusCode : std::int32_t { Unset = 0, Ok = 1, Error = 2 };

struct SpanEvent {
  std::uint64_t time_unix_nano = 0;
  std::string name;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  bool operator==(const SpanEvent&) const = default;
};

struct SpanLink {
  TraceId trace_id;
  SpanId span_id;
  std::string trace_state;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::uint32_t flags = 0;
  bool operator==(const SpanLink&) const = default;
};

struct SpanStatus {
  std::string message;
  std::int32_t code = 0;  // StatusCode
  bool operator==(const SpanStatus&) const = default;
};

struct Span {
  TraceId trace_id;
  SpanId span_id;
  std::string trace_state;
  SpanId parent_span_id;  // invalid (all zero) for a root span
  std::uint32_t flags = 0;  // W3C trace flags in bits 0-7, OTLP context flags in bits 8-9
  std::string name;
  std::int32_t kind = 0;  // SpanKind
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t end_time_unix_nano = 0;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::vector<SpanEvent> events;
  std::uint32_t dropped_events_count = 0;
  std::vector<SpanLink> links;
  std::uint32_t dropped_links_count = 0;
  SpanStatus status;
  bool operator==(const Span&) const = default;
};

struct ScopeSpans {
  InstrumentationScope scope;
  std::vector<Span> spans;
  std::string schema_url;
  bool operator==(const ScopeSpans&) const = default;
};

struct ResourceSpans {
  Resource resource;
  std::vector<ScopeSpans> scope_spans;
  std::string schema_url;
  bool operator==(const ResourceSpans&) const = default;
};

// collector.trace.v1.ExportTraceServiceRequest (same shape as trace.v1.TracesData).
struct TraceBatch {
  std::vector<ResourceSpans> resource_spans;
  std::size_t span_count() const;
  bool operator==(const TraceBatch&) const = default;
};

// ---- logs/v1 --------------------------------------------------------------------------------

struct LogRecord {
  std::uint64_t time_unix_nano = 0;
  std::uint64_t observed_time_unix_nano = 0;
  std::int32_t severity_number = 0;  // SeverityNumber, 0 = unspecified, 1..24 TRACE..FATAL4
  std::string severity_text;
  AnyValue body;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::uint32_t flags = 0;
  TraceId trace_id;  // invalid when the record is not tied to a span
  SpanId span_id;
  std::string event_name;
  bool operator==(const LogRecord&) const = default;
};

struct ScopeLogs {
  InstrumentationScope scope;
  std::vector<LogRecord> log_records;
  std::string schema_url;
  bool operator==(const ScopeLogs&) const = default;
};

struct ResourceLogs {
  Resource resource;
  std::vector<ScopeLogs> scope_logs;
  std::string schema_url;
  bool operator==(const ResourceLogs&) const = default;
};

// collector.logs.v1.ExportLogsServiceRequest (same shape as logs.v1.LogsData).
struct LogBatch {
  std::vector<ResourceLogs> resource_logs;
  std::size_t log_record_count() const;
  bool operator==(const LogBatch&) const = default;
};

// ---- single items, as queued by the batch processors ----------------------------------------

// Where a span or log record came from: its resource and scope, shared by every item of one
// request or one Tracer so that queueing an item does not copy them.
struct ItemOrigin {
  Resource resource;
  std::string resource_schema_url;
  InstrumentationScope scope;
  std::string scope_schema_url;
  bool operator==(const ItemOrigin&) const = default;
};

struct SpanItem {
  std::shared_ptr<const ItemOrigin> origin;  // never null
  Span span;
};

struct LogItem {
  std::shared_ptr<const ItemOrigin> origin;  // never null
  LogRecord record;
};

// Splits a batch into items (one ItemOrigin per ScopeSpans/ScopeLogs), and groups items back
// into a batch: consecutive items with the same origin pointer share one ResourceX/ScopeX, and
// items of equal (==) origins end up under one ResourceX/ScopeX too.
std::vector<SpanItem> split_batch(TraceBatch&& batch);
std::vector<LogItem> split_batch(LogBatch&& batch);
TraceBatch group_items(std::vector<SpanItem>&& items);
LogBatch group_items(std::vector<LogItem>&& items);

// Approximate heap + inline bytes an item holds, for the batch processor's memory bound.
std::size_t approx_bytes(const SpanItem& item);
std::size_t approx_bytes(const LogItem& item);
std::size_t approx_bytes(const AnyValue& value);
std::size_t approx_bytes(const Attributes& attributes);

}  // namespace porthole::telemetry
