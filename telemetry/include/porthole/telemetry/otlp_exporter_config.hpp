// Configuration of the sidecar's OTLP/HTTP exporter: where the collector is, how requests are
// encoded and compressed, and the bounds on retrying (buffer size, backoff, give-up time).
// Defaults follow the OpenTelemetry exporter conventions (10 s timeout, 1 s..30 s backoff,
// 5 min per request).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "porthole/common/config_reader.hpp"
#include "porthole/common/time.hpp"
#include "porthole/telemetry/otlp_signal.hpp"

namespace porthole::telemetry {

// An http:// URL split into what a client needs to connect and to write the request line.
struct HttpUrl {
  std::string host;         // without brackets for IPv6 literals
  std::uint16_t port = 80;
  std::string target = "/";  // path (and query), always starting with '/'
  bool ipv6_literal = false;

  std::string host_header() const;  // "host:port" (brackets for IPv6)
  bool operator==(const HttpUrl&) const = default;
};

// Parses "http://host[:port][/path]". Returns false with a message a person can act on
// ("https:// is not supported ...", "port must be 1..65535") in `error`.
bool parse_http_url(std::string_view text, HttpUrl& out, std::string& error);

// "" when `name: value` may be sent as a configured request header, else what is wrong with
// it. Never quotes the value (it may be a credential).
std::string header_problem(std::string_view name, std::string_view value);

struct OtlpExporterConfig {
  enum class Encoding { Protobuf, Json };
  enum class Compression { None, Gzip };

  // Base URL; each signal goes to endpoint + "/v1/<signal>". Empty: the exporter is off.
  std::string endpoint;
  // Per-signal URLs, used as they are (OTel convention); empty means "derive from endpoint".
  std::map<OtlpSignal, std::string> signal_endpoints;
  // Extra request headers (e.g. authorization). Values are secrets: never logged.
  std::map<std::string, std::string> headers;
  Encoding encoding = Encoding::Protobuf;
  Compression compression = Compression::None;
  Duration timeout = std::chrono::seconds(10);  // one attempt: connect + write + response
  std::uint64_t max_queue_bytes = 16u << 20;    // request bodies waiting or being retried
  std::uint64_t max_queue_requests = 1024;
  Duration initial_backoff = std::chrono::seconds(1);
  Duration max_backoff = std::chrono::seconds(30);
  Duration max_elapsed = std::chrono::minutes(5);  // per request, from its first attempt; 0 = no retries

  bool enabled() const;
  // The URL a signal is posted to, or "" when that signal has nowhere to go.
  std::string url_for(OtlpSignal signal) const;
  std::string_view content_type() const;
  bool operator==(const OtlpExporterConfig&) const = default;
};

// Reads an exporter section:
//   endpoint, traces_endpoint, logs_endpoint, metrics_endpoint, headers: {name: value},
//   encoding: protobuf|json, compression: none|gzip, timeout, max_queue_bytes,
//   max_queue_requests, initial_backoff, max_backoff, max_elapsed.
// Throws ConfigError naming the key and what to write instead.
OtlpExporterConfig read_otlp_exporter_config(ConfigNode node);

}  // namespace porthole::telemetry
