// OTLP protobuf wire format for the trace and logs export services, hand-written from the
// opentelemetry-proto field numbers (no protobuf library). Decoding is for untrusted input (the
// workload's OTLP/HTTP requests in the agent; the agent's batches in the sidecar): it is bounded
// in size, nesting depth and counts, skips unknown fields as protobuf requires, and on malformed
// input returns false with a message that names where it failed — it never throws or crashes.
//
// Encoding writes fields in field-number order and leaves out proto3 defaults (zero, empty), so
// decode(encode(x)) == x and encode(decode(encode(x))) == encode(x).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "porthole/telemetry/otlp_model.hpp"

namespace porthole::telemetry {

struct OtlpDecodeLimits {
  // Larger input is rejected before any parsing.
  std::size_t max_bytes = 4u << 20;
  // Message nesting depth. AnyValue array/kvlist nest; 8 levels of those is plenty for
  // real attributes while keeping recursion shallow.
  std::size_t max_depth = 32;
  // Spans (or log records) in one request.
  std::size_t max_items = 16384;
  // Messages of any kind (resource/scope groups, spans, attributes, events, links, AnyValues),
  // summed over the request: bounds the memory the decoded form takes, since a 2-byte empty
  // message on the wire becomes a struct of tens to hundreds of bytes.
  std::size_t max_values = 256u << 10;
};

// ExportTraceServiceRequest <-> TraceBatch. On failure `out` is left in an unspecified (valid)
// state and `error` says what and where, e.g. "resource_spans[0].scope_spans[1].spans[3]:
// trace_id must be 16 bytes, got 5".
bool decode_trace_request(std::string_view wire, TraceBatch& out, std::string& error,
                          const OtlpDecodeLimits& limits = {});
std::string encode_trace_request(const TraceBatch& batch);
void encode_trace_request(const TraceBatch& batch, std::string& out);  // appends

// ExportLogsServiceRequest <-> LogBatch.
bool decode_logs_request(std::string_view wire, LogBatch& out, std::string& error,
                         const OtlpDecodeLimits& limits = {});
std::string encode_logs_request(const LogBatch& batch);
void encode_logs_request(const LogBatch& batch, std::string& out);  // appends

// The export request for queued items, grouped as group_items() groups them (so the bytes equal
// encode_trace_request(group_items(items))) but encoded straight from the items, which stay
// untouched: an exporter can split an over-size batch and encode the halves without copying.
void encode_trace_request(std::span<const SpanItem> items, std::string& out);  // appends
void encode_logs_request(std::span<const LogItem> items, std::string& out);    // appends

// ExportTracePartialSuccess / ExportLogsPartialSuccess: `rejected` is rejected_spans or
// rejected_log_records. All zero/empty means full success, encoded as an empty response.
struct OtlpPartialSuccess {
  std::int64_t rejected = 0;
  std::string error_message;
  bool full_success() const { return rejected == 0 && error_message.empty(); }
  bool operator==(const OtlpPartialSuccess&) const = default;
};

// ExportTraceServiceResponse / ExportLogsServiceResponse. The two have the same wire shape; the
// separate names keep call sites honest about which one they handle.
std::string encode_trace_response(const OtlpPartialSuccess& partial);
bool decode_trace_response(std::string_view wire, OtlpPartialSuccess& out, std::string& error);
std::string encode_logs_response(const OtlpPartialSuccess& partial);
bool decode_logs_response(std::string_view wire, OtlpPartialSuccess& out, std::string& error);

}  // namespace porthole::telemetry
