// OTLP/JSON (the OTLP/HTTP JSON encoding) for the trace and logs export services, per the
// OTLP JSON mapping: lowerCamelCase keys (snake_case accepted on input, as the spec allows),
// trace/span ids as hex strings, enums as integers, 64-bit integers as decimal strings (numbers
// accepted on input), bytes as base64. Unknown keys are ignored, as the spec requires.
//
// Decoding is for untrusted input and shares OtlpDecodeLimits with the protobuf decoder; errors
// name the JSON path ("resourceSpans[0].scopeSpans[0].spans[2].spanId: ...").
#pragma once

#include <string>
#include <string_view>

#include "porthole/telemetry/otlp_model.hpp"
#include "porthole/telemetry/otlp_proto.hpp"

namespace porthole::telemetry {

bool decode_trace_request_json(std::string_view json, TraceBatch& out, std::string& error,
                               const OtlpDecodeLimits& limits = {});
bool decode_logs_request_json(std::string_view json, LogBatch& out, std::string& error,
                              const OtlpDecodeLimits& limits = {});

// For exporters configured with `encoding: json`. Writes lowerCamelCase keys, leaves out
// defaults, and writes int64/uint64/fixed64 as strings.
std::string encode_trace_request_json(const TraceBatch& batch);
std::string encode_logs_request_json(const LogBatch& batch);

// {"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}} (rejectedLogRecords for logs).
std::string encode_trace_response_json(const OtlpPartialSuccess& partial);
std::string encode_logs_response_json(const OtlpPartialSuccess& partial);
bool decode_trace_response_json(std::string_view json, OtlpPartialSuccess& out, std::string& error);
bool decode_logs_response_json(std::string_view json, OtlpPartialSuccess& out, std::string& error);

}  // namespace porthole::telemetry
