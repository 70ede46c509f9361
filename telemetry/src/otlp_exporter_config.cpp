#include "porthole/telemetry/otlp_exporter_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace porthole::telemetry {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// RFC 9110 token characters: what a header name may contain.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

bool is_header_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Headers the exporter writes itself; letting configuration set them would corrupt framing.
bool is_reserved_header(std::string_view lowered) {
  for (std::string_view r : {"host", "content-type", "content-length", "content-encoding", "transfer-encoding",
                             "connection", "te", "upgrade", "keep-alive", "trailer"}) {
    if (lowered == r) return true;
  }
  return false;
}

std::string join_url(std::string_view base, std::string_view path) {
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  out += path;
  return out;
}

}  // namespace

std::string header_problem(std::string_view name, std::string_view value) {
  if (!is_token(name)) return "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)";
  if (is_reserved_header(lower(name))) return "is set by the exporter itself; remove it (use encoding/compression instead)";
  if (!is_header_value(value)) return "the value contains control characters (CR, LF, NUL ...)";
  return "";
}

std::string HttpUrl::host_header() const {
  std::string h = ipv6_literal ? "[" + host + "]" : host;
  return port == 80 ? h : h + ":" + std::to_string(port);
}

bool parse_http_url(std::string_view text, HttpUrl& out, std::string& error) {
  constexpr std::string_view kHttp = "http://";
  if (text.starts_with("https://")) {
    error = "'" + std::string(text) +
            "': https:// is not supported yet; send to a collector on http:// (e.g. a local OpenTelemetry "
            "Collector that forwards over TLS)";
    return false;
  }
  if (!text.starts_with(kHttp)) {
    error = "'" + std::string(text) + "' must start with http://, e.g. http://127.0.0.1:4318";
    return false;
  }
  std::string_view rest = text.substr(kHttp.size());
  const auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (target.find('#') != std::string_view::npos) {
    error = "'" + std::string(text) + "' must not contain a #fragment";
    return false;
  }
  if (authority.find('@') != std::string_view::npos) {
    error = "'" + std::string(text) + "': credentials in the URL are not supported; use headers (authorization)";
    return false;
  }
  HttpUrl url;
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "'" + std::string(text) + "': unterminated [IPv6] address";
      return false;
    }
    url.host = std::string(authority.substr(1, close - 1));
    url.ipv6_literal = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "'" + std::string(text) + "': expected ':port' after the IPv6 address";
        return false;
      }
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) {
    error = "'" + std::string(text) + "' has no host";
    return false;
  }
  if (!port_text.empty() || authority.ends_with(":")) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      error = "'" + std::string(text) + "': the port must be 1..65535";
      return false;
    }
    url.port = static_cast<std::uint16_t>(port);
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target.front() == '?') url.target.insert(url.target.begin(), '/');
  out = std::move(url);
  return true;
}

bool OtlpExporterConfig::enabled() const {
  if (!endpoint.empty()) return true;
  return std::any_of(signal_endpoints.begin(), signal_endpoints.end(), [](const auto& kv) { return !kv.second.empty(); });
}

std::string OtlpExporterConfig::url_for(OtlpSignal signal) const {
  if (auto it = signal_endpoints.find(signal); it != signal_endpoints.end() && !it->second.empty()) return it->second;
  if (endpoint.empty()) return "";
  return join_url(endpoint, "/v1/" + std::string(to_string(signal)));
}

std::string_view OtlpExporterConfig::content_type() const {
  return encoding == Encoding::Json ? "application/json" : "application/x-protobuf";
}

OtlpExporterConfig read_otlp_exporter_config(ConfigNode node) {
  OtlpExporterConfig c;
  auto check_url = [&node](const std::string& key, const std::string& value) {
    if (value.empty()) return;
    HttpUrl url;
    std::string error;
    if (!parse_http_url(value, url, error)) node.fail(key, error);
  };
  c.endpoint = node.string("endpoint", c.endpoint);
  check_url("endpoint", c.endpoint);
  for (auto signal : kOtlpSignals) {
    const std::string key = std::string(to_string(signal)) + "_endpoint";
    auto value = node.string(key, "");
    check_url(key, value);
    if (!value.empty()) c.signal_endpoints[signal] = value;
  }

  auto headers = node.map("headers");
  for (const auto& name : headers.keys()) {
    // The value may be a secret: the messages never quote it.
    auto value = headers.string(name, "");
    if (auto problem = header_problem(name, value); !problem.empty()) headers.fail(name, problem);
    for (const auto& [existing, _] : c.headers) {
      if (lower(existing) == lower(name)) headers.fail(name, "is given twice (header names are case-insensitive)");
    }
    c.headers[name] = value;
  }
  headers.reject_unknown_keys();

  const auto encoding = node.string("encoding", "protobuf");
  if (encoding == "protobuf") {
    c.encoding = OtlpExporterConfig::Encoding::Protobuf;
  } else if (encoding == "json") {
    c.encoding = OtlpExporterConfig::Encoding::Json;
  } else {
    node.fail("encoding", "'" + encoding + "' is not one of: protobuf, json");
  }
  const auto compression = node.string("compression", "none");
  if (compression == "none") {
    c.compression = OtlpExporterConfig::Compression::None;
  } else if (compression == "gzip") {
    c.compression = OtlpExporterConfig::Compression::Gzip;
  } else {
    node.fail("compression", "'" + compression + "' is not one of: none, gzip");
  }
  c.timeout = node.duration("timeout", c.timeout, milliseconds(10), std::chrono::minutes(10));
  c.max_queue_bytes = node.bytes("max_queue_bytes", c.max_queue_bytes, 64u << 10, 4ull << 30);
  c.max_queue_requests = node.integer("max_queue_requests", static_cast<std::int64_t>(c.max_queue_requests), 1, 1000000);
  c.initial_backoff = node.duration("initial_backoff", c.initial_backoff, milliseconds(1), std::chrono::minutes(10));
  c.max_backoff = node.duration("max_backoff", c.max_backoff, milliseconds(1), std::chrono::hours(1));
  if (c.max_backoff < c.initial_backoff) {
    node.fail("max_backoff", format_duration(c.max_backoff) + " is shorter than initial_backoff (" +
                                 format_duration(c.initial_backoff) + "); make it at least as long");
  }
  c.max_elapsed = node.duration("max_elapsed", c.max_elapsed, Duration(0), std::chrono::hours(24));
  node.reject_unknown_keys();
  return c;
}

}  // namespace porthole::telemetry
