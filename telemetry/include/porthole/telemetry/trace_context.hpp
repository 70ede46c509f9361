// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header that the
// agent parses on ingress and forwards to the workload, and `tracestate`, which is passed through
// unchanged (we are not a vendor that adds entries).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "porthole/telemetry/otlp_model.hpp"

namespace porthole::telemetry {

// The propagated part of a span.
struct SpanContext {
  TraceId trace_id;
  SpanId span_id;
  std::uint8_t trace_flags = 0;  // bit 0: sampled
  std::string trace_state;       // the `tracestate` header, verbatim
  bool remote = false;           // came from a header rather than a local span

  bool valid() const { return trace_id.valid() && span_id.valid(); }
  bool sampled() const { return (trace_flags & 0x01) != 0; }
  bool operator==(const SpanContext&) const = default;
};

// Parses `traceparent` ("00-<32 hex>-<16 hex>-<2 hex>"). Accepts lowercase hex only, as the spec
// requires. Version 00 must be exactly 55 characters. A higher version (not ff) is parsed by its
// version-00 prefix and may carry more fields after a '-', per the spec's forward-compatibility
// rule. Rejects version ff, all-zero trace or span ids, and wrong lengths. On success sets
// trace_id, span_id, trace_flags and remote=true in `out` (trace_state is left alone);
// on failure returns false with a short reason in `error`.
bool parse_traceparent(std::string_view header, SpanContext& out, std::string& error);

// A valid `tracestate` is kept verbatim; an empty, oversized (> 512 chars, the spec's limit for
// propagation) or malformed one becomes "" — the spec says to discard it rather than fail.
std::string sanitize_tracestate(std::string_view header);

// "00-<trace id>-<span id>-<flags>" for a valid context; "" otherwise.
std::string format_traceparent(const SpanContext& context);

// Hex -> ids, for OTLP/JSON (either case accepted). Fails on wrong length or non-hex.
bool parse_trace_id_hex(std::string_view hex, TraceId& out);
bool parse_span_id_hex(std::string_view hex, SpanId& out);

}  // namespace porthole::telemetry
