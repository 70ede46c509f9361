#include "breakdown.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "porthole/telemetry/prom_text.hpp"

namespace porthole::loadtest {

namespace {

struct Series {
  std::vector<std::pair<double, double>> buckets;  // (upper bound, cumulative count)
  double count = 0;
  double sum = 0;
};

std::string component_of(const std::string& family, const std::map<std::string, std::string>& labels) {
  if (family == "demo_request_duration_seconds") return "workload";
  const auto side = labels.find("side");
  const std::string s = side == labels.end() ? "" : side->second;
  if (s == "enclave") return "agent (enclave)";
  return "sidecar relay (parent)";
}

bool known(const std::string& family) {
  return family == "porthole_relay_setup_duration_seconds" || family == "porthole_relay_connection_duration_seconds" ||
         family == "demo_request_duration_seconds";
}

std::map<std::string, std::pair<std::map<std::string, std::string>, Series>> histograms(const std::string& text,
                                                                                         const std::string& only) {
  std::map<std::string, std::pair<std::map<std::string, std::string>, Series>> out;
  auto parsed = telemetry::parse_prometheus_text(text);
  for (const auto& family : parsed.families) {
    if (family.name != only || family.type != prometheus::MetricType::Histogram) continue;
    for (const auto& m : family.metric) {
      std::map<std::string, std::string> labels;
      std::string key = family.name + "{";
      for (const auto& l : m.label) {
        labels[l.name] = l.value;
        key += l.name + "=\"" + l.value + "\",";
      }
      if (key.back() == ',') key.pop_back();
      key += "}";
      Series s;
      s.count = static_cast<double>(m.histogram.sample_count);
      s.sum = m.histogram.sample_sum;
      for (const auto& b : m.histogram.bucket) {
        s.buckets.emplace_back(b.upper_bound, static_cast<double>(b.cumulative_count));
      }
      out[key] = {std::move(labels), std::move(s)};
    }
  }
  return out;
}

// histogram_quantile: linear interpolation inside the bucket holding the rank.
double quantile(double q, const std::vector<std::pair<double, double>>& buckets) {
  if (buckets.empty()) return 0;
  const double total = buckets.back().second;
  if (total <= 0) return 0;
  const double rank = q * total;
  double prev_bound = 0, prev_count = 0;
  for (const auto& [bound, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(bound)) return prev_bound;
      const double in_bucket = count - prev_count;
      return in_bucket <= 0 ? bound : prev_bound + (bound - prev_bound) * (rank - prev_count) / in_bucket;
    }
    prev_bound = bound;
    prev_count = count;
  }
  return prev_bound;
}

}  // namespace

void add_breakdown(const std::string& before_text, const std::string& after_text, const std::string& source,
                   Breakdown& out) {
  for (const char* family : {"porthole_relay_setup_duration_seconds", "porthole_relay_connection_duration_seconds",
                             "demo_request_duration_seconds"}) {
    if (!known(family)) continue;
    const auto before = histograms(before_text, family);
    for (const auto& [key, entry] : histograms(after_text, family)) {
      const auto& [labels, after] = entry;
      Series delta = after;
      if (const auto it = before.find(key); it != before.end()) {
        delta.count -= it->second.second.count;
        delta.sum -= it->second.second.sum;
        for (auto& [bound, count] : delta.buckets) {
          for (const auto& [b0, c0] : it->second.second.buckets) {
            if (b0 == bound) count -= c0;
          }
        }
      }
      if (delta.count <= 0) continue;
      BreakdownEntry e;
      e.component = component_of(family, labels);
      e.metric = key;
      e.source = source;
      e.count = delta.count;
      e.mean_seconds = delta.sum / delta.count;
      e.p50_seconds = quantile(0.5, delta.buckets);
      e.p99_seconds = quantile(0.99, delta.buckets);
      out.entries.push_back(std::move(e));
    }
  }
}

FetchResult fetch_http(const std::string& url, std::chrono::milliseconds timeout) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) return {std::nullopt, "only http:// URLs can be scraped"};
  std::string rest = url.substr(prefix.size());
  const auto slash = rest.find('/');
  const std::string target = slash == std::string::npos ? "/metrics" : rest.substr(slash);
  const std::string hostport = rest.substr(0, slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return {std::nullopt, "want http://HOST:PORT/path"};
  std::string host = hostport.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return {std::nullopt, "the host must be a numeric IP address or localhost"};
  unsigned port = 0;
  try {
    port = static_cast<unsigned>(std::stoul(hostport.substr(colon + 1)));
  } catch (const std::exception&) {
    return {std::nullopt, "bad port"};
  }
  if (port == 0 || port > 65535) return {std::nullopt, "bad port"};

  asio::io_context io;
  boost::beast::tcp_stream stream(io);
  boost::beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, hostport);
  req.set(http::field::user_agent, "porthole-loadtest");
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 << 20);
  FetchResult result;
  stream.expires_after(timeout);
  stream.async_connect(asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port)),
                       [&](const boost::system::error_code& cec) {
    if (cec) {
      result.error = "connect: " + cec.message();
      return;
    }
    http::async_write(stream, req, [&](const boost::system::error_code& wec, std::size_t) {
      if (wec) {
        result.error = "write: " + wec.message();
        return;
      }
      http::async_read(stream, buffer, parser, [&](const boost::system::error_code& rec, std::size_t) {
        if (rec) {
          result.error = "read: " + rec.message();
          return;
        }
        if (parser.get().result_int() != 200) {
          result.error = "HTTP " + std::to_string(parser.get().result_int());
          return;
        }
        result.body = parser.get().body();
      });
    });
  });
  io.run();
  return result;
}

}  // namespace porthole::loadtest
