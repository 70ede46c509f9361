// W3C traceparent / tracestate, per https://www.w3.org/TR/trace-context/ (level 1, with the
// version-forward rules of section "Versioning of traceparent").
#include "porthole/telemetry/trace_context.hpp"

namespace porthole::telemetry {
namespace {

int hex_value(char c, bool lowercase_only) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (!lowercase_only && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <std::size_t N>
bool parse_hex(std::string_view hex, std::array<std::uint8_t, N>& out, bool lowercase_only) {
  if (hex.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_value(hex[2 * i], lowercase_only);
    const int lo = hex_value(hex[2 * i + 1], lowercase_only);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

// tracestate list member key: lcalpha / digit followed by lcalpha / digit / _-*/ and an
// optional "@vendor" part; value: printable ASCII 0x20-0x7e except ',' and '=', not ending in
// a space. Checked loosely (character classes and lengths), which is what the spec asks of a
// participant that only passes the header on.
bool valid_list_member(std::string_view m) {
  while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
  while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
  if (m.empty()) return true;  // empty members are allowed and ignored
  const auto eq = m.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq > 256) return false;
  const std::string_view key = m.substr(0, eq);
  const std::string_view value = m.substr(eq + 1);
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                    c == '*' || c == '/' || c == '@';
    if (!ok) return false;
  }
  if (value.empty() || value.size() > 256) return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  }
  return true;
}

}  // namespace

bool parse_trace_id_hex(std::string_view hex, TraceId& out) { return parse_hex(hex, out.bytes, false); }
bool parse_span_id_hex(std::string_view hex, SpanId& out) { return parse_hex(hex, out.bytes, false); }

bool parse_traceparent(std::string_view header, SpanContext& out, std::string& error) {
  // Optional whitespace around the header value is not part of it.
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
  if (header.size() < 55) {
    error = "traceparent is " + std::to_string(header.size()) + " characters, expected 55";
    return false;
  }
  std::array<std::uint8_t, 1> version{};
  if (!parse_hex(header.substr(0, 2), version, true)) {
    error = "traceparent version is not two lowercase hex digits";
    return false;
  }
  if (version[0] == 0xff) {
    error = "traceparent version ff is invalid";
    return false;
  }
  if (version[0] == 0x00 && header.size() != 55) {
    error = "traceparent version 00 must be 55 characters, got " + std::to_string(header.size());
    return false;
  }
  // A future version: parse the version-00 fields, and require that anything after them starts
  // with '-' (the spec's rule for extending the header).
  if (version[0] != 0x00 && header.size() > 55 && header[55] != '-') {
    error = "traceparent of a future version has no '-' after the flags";
    return false;
  }
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') {
    error = "traceparent fields are not separated by '-' at positions 2, 35 and 52";
    return false;
  }
  TraceId trace_id;
  SpanId span_id;
  std::array<std::uint8_t, 1> flags{};
  if (!parse_hex(header.substr(3, 32), trace_id.bytes, true)) {
    error = "traceparent trace-id is not 32 lowercase hex digits";
    return false;
  }
  if (!parse_hex(header.substr(36, 16), span_id.bytes, true)) {
    error = "traceparent parent-id is not 16 lowercase hex digits";
    return false;
  }
  if (!parse_hex(header.substr(53, 2), flags, true)) {
    error = "traceparent trace-flags are not two lowercase hex digits";
    return false;
  }
  if (!trace_id.valid()) {
    error = "traceparent trace-id is all zeros";
    return false;
  }
  if (!span_id.valid()) {
    error = "traceparent parent-id is all zeros";
    return false;
  }
  out.trace_id = trace_id;
  out.span_id = span_id;
  // Version 00 defines only the sampled bit; other bits of a 00 header are passed on as
  // received (the spec says to ignore them, and a later hop may know them).
  out.trace_flags = flags[0];
  out.remote = true;
  return true;
}

std::string sanitize_tracestate(std::string_view header) {
  if (header.empty() || header.size() > 512) return {};
  std::size_t members = 0;
  std::size_t start = 0;
  while (start <= header.size()) {
    const auto comma = header.find(',', start);
    const auto end = comma == std::string_view::npos ? header.size() : comma;
    if (!valid_list_member(header.substr(start, end - start))) return {};
    if (++members > 32) return {};
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return std::string(header);
}

std::string format_traceparent(const SpanContext& context) {
  if (!context.valid()) return {};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "00-" + context.trace_id.hex() + "-" + context.span_id.hex() + "-";
  out.push_back(kDigits[context.trace_flags >> 4]);
  out.push_back(kDigits[context.trace_flags & 0x0f]);
  return out;
}

}  // namespace porthole::telemetry
