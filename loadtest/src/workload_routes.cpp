#include "workload_routes.hpp"

#include <charconv>
#include <map>

#include <boost/asio/steady_timer.hpp>
#include <prometheus/text_serializer.h>

#include "egress_fetch.hpp"

namespace porthole::loadtest {

namespace http = boost::beast::http;

namespace {

constexpr std::uint64_t kMaxPayload = 64ull * 1024 * 1024;
constexpr std::uint64_t kMaxDelayMs = 60000;
constexpr const char* kRoutes[] = {"/health", "/echo", "/payload", "/egress", "/encrypt", "/metrics"};

Response text(unsigned status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body), {}, 0}; }
Response json(unsigned status, std::string body) { return {status, "application/json", std::move(body) + "\n", {}, 0}; }

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

std::map<std::string, std::string> query_of(std::string_view target) {
  std::map<std::string, std::string> out;
  const auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    out[percent_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
  }
  return out;
}

// A missing parameter is `fallback`; anything but a plain decimal number is an error.
bool number_param(const std::map<std::string, std::string>& query, const std::string& name, std::uint64_t fallback,
                  std::uint64_t& out) {
  const auto it = query.find(name);
  if (it == query.end()) {
    out = fallback;
    return true;
  }
  const auto& v = it->second;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size() && !v.empty();
}

bool valid_host_port(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  unsigned port = 0;
  auto [p, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
  return ec == std::errc() && p == s.data() + s.size() && port >= 1 && port <= 65535;
}

}  // namespace

std::optional<ProxyAddress> parse_proxy(std::string text) {
  if (auto scheme = text.find("://"); scheme != std::string::npos) text = text.substr(scheme + 3);
  if (auto at = text.rfind('@'); at != std::string::npos) text = text.substr(at + 1);
  if (auto slash = text.find('/'); slash != std::string::npos) text.resize(slash);
  if (!valid_host_port(text)) return std::nullopt;
  const auto colon = text.rfind(':');
  return ProxyAddress{text.substr(0, colon), text.substr(colon + 1)};
}

WorkloadRoutes::WorkloadRoutes(std::optional<ProxyAddress> proxy, FieldScheme scheme)
    : proxy_(std::move(proxy)),
      default_scheme_(scheme),
      requests_(prometheus::BuildCounter()
                    .Name("demo_requests_total")
                    .Help("Requests the demo workload answered, by path and status code.")
                    .Register(*registry_)),
      durations_(prometheus::BuildHistogram()
                     .Name("demo_request_duration_seconds")
                     .Help("Time from a request's last byte read to its response's last byte written.")
                     .Register(*registry_)),
      encrypted_(prometheus::BuildCounter()
                     .Name("demo_encrypted_documents_total")
                     .Help("Documents POST /encrypt sealed, by AEAD and key-agreement curve (none: static key).")
                     .Register(*registry_)) {}

std::string WorkloadRoutes::route_of(const Request& request) const {
  std::string_view path = request.target();
  path = path.substr(0, path.find('?'));
  for (const char* r : kRoutes) {
    if (path == r) return r;
  }
  return "other";
}

void WorkloadRoutes::observe(const std::string& route, unsigned status, double seconds) {
  static const prometheus::Histogram::BucketBoundaries buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                              0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                                              5,      10,      30,     60};
  requests_.Add({{"path", route}, {"code", std::to_string(status)}}).Increment();
  durations_.Add({{"path", route}}, buckets).Observe(seconds);
}

void WorkloadRoutes::handle(const Request& request, const boost::asio::any_io_executor& executor, Respond respond) {
  const auto route = route_of(request);
  const auto method = request.method();
  const bool get = method == http::verb::get;
  if (route == "other") {
    return respond(text(404, "not found; try /health, /echo, /payload, /egress, /encrypt or /metrics\n"));
  }
  if (route == "/encrypt") {
    if (method != http::verb::post) return respond(text(405, "only POST\n"));
    return encrypt(request, std::move(respond));
  }
  if (route == "/echo") {
    if (!get && method != http::verb::post) return respond(text(405, "only GET and POST\n"));
    Response r{200, "application/octet-stream", request.body(), {{"x-echo-method", std::string(request.method_string())}}, 0};
    if (auto ct = request.find(http::field::content_type); ct != request.end()) r.content_type = std::string(ct->value());
    return respond(std::move(r));
  }
  if (!get) return respond(text(405, "only GET\n"));
  if (route == "/health") return respond(text(200, "ok\n"));
  if (route == "/payload") return payload(request, executor, std::move(respond));
  if (route == "/egress") return egress(request, executor, std::move(respond));
  // /metrics
  respond({200, "text/plain; version=0.0.4; charset=utf-8", prometheus::TextSerializer().Serialize(registry_->Collect()),
           {}, 0});
}

void WorkloadRoutes::payload(const Request& request, const boost::asio::any_io_executor& executor, Respond respond) {
  const auto query = query_of(request.target());
  std::uint64_t size = 0, delay_ms = 0;
  if (!number_param(query, "size", 0, size) || size > kMaxPayload) {
    return respond(text(400, "size must be a number of bytes <= 67108864\n"));
  }
  if (!number_param(query, "delay_ms", 0, delay_ms) || delay_ms > kMaxDelayMs) {
    return respond(text(400, "delay_ms must be a number <= 60000\n"));
  }
  Response r{200, "application/octet-stream", {}, {}, size};
  if (delay_ms == 0) return respond(std::move(r));
  auto timer = std::make_shared<boost::asio::steady_timer>(executor, std::chrono::milliseconds(delay_ms));
  timer->async_wait([timer, r = std::move(r), respond = std::move(respond)](const boost::system::error_code&) mutable {
    respond(std::move(r));
  });
}

// POST /encrypt[?cipher=aes-256-gcm|chacha20-poly1305][&curve=p-256|p-384|x25519|none] (defaults:
// --cipher, --curve): {"fields": {"name": "value", ...}} back with every field value sealed.
// Errors never echo the body.
void WorkloadRoutes::encrypt(const Request& request, Respond respond) {
  const auto query = query_of(request.target());
  auto scheme = default_scheme_;
  if (const auto it = query.find("cipher"); it != query.end()) {
    const auto parsed = parse_field_algorithm(it->second);
    if (!parsed) return respond(json(400, "{\"error\":\"cipher must be aes-256-gcm or chacha20-poly1305\"}"));
    scheme.cipher = *parsed;
  }
  if (const auto it = query.find("curve"); it != query.end()) {
    const auto parsed = parse_field_curve(it->second);
    if (!parsed) return respond(json(400, "{\"error\":\"curve must be p-256, p-384, x25519 or none\"}"));
    scheme.curve = *parsed;
  }
  std::string error;
  std::optional<std::string> body;
  try {
    body = cipher_.encrypt_document(scheme, request.body(), error);
  } catch (const std::exception&) {
    return respond(json(500, "{\"error\":\"encryption failed\"}"));  // OpenSSL itself failed
  }
  if (!body) return respond(json(400, "{\"error\":" + json_string(error) + "}"));
  encrypted_.Add({{"cipher", to_string(scheme.cipher)}, {"curve", to_string(scheme.curve)}}).Increment();
  respond(json(200, std::move(*body)));
}

void WorkloadRoutes::egress(const Request& request, const boost::asio::any_io_executor& executor, Respond respond) {
  auto query = query_of(request.target());
  const std::string target = query["target"];
  const std::string path = query.count("path") ? query["path"] : "/";
  if (!valid_host_port(target)) return respond(json(400, "{\"error\":\"target must be HOST:PORT\"}"));
  if (path.empty() || path[0] != '/') return respond(json(400, "{\"error\":\"path must start with /\"}"));
  if (!proxy_) return respond(json(502, "{\"error\":\"no egress proxy: pass --proxy or set HTTPS_PROXY\"}"));
  EgressRequest er{proxy_->host, proxy_->port, target, path, std::chrono::seconds(10)};
  fetch_through_proxy(executor, std::move(er), [target, respond = std::move(respond)](EgressResult r) {
    if (!r.ok) return respond(json(502, "{\"error\":" + json_string(r.error) + "}"));
    respond(json(200, "{\"target\":" + json_string(target) + ",\"status\":" + std::to_string(r.status) +
                          ",\"bytes\":" + std::to_string(r.bytes) + "}"));
  });
}

}  // namespace porthole::loadtest
